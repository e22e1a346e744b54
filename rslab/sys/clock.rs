// SPDX-License-Identifier: GPL-2.0

//! Clocks for timing code: `CLOCK_MONOTONIC` nanoseconds (`ktime_get()`, through
//! `kernel::time`) and the CPU's cycle counter.
//!
//! The cycle counter is x86-64's time-stamp counter (`rdtsc`), read without serialising: a
//! timed stretch of code is long enough (thousands of operations) for the few instructions
//! `rdtsc` may overtake not to matter. Other architectures, and any build with
//! `--cfg rslab_generic` (`make RSLAB_GENERIC=1`), have no cycle counter here: their [`cycles()`]
//! is 0, so figures in cycles read 0 there and only the nanoseconds count.

use kernel::time::{
    ClockSource,
    Monotonic, //
};

/// `CLOCK_MONOTONIC` now, in nanoseconds since boot (`ktime_get()`). Not for NMI context.
#[inline]
pub(crate) fn ktime_ns() -> u64 {
    // `ktime_get()` returns a value in `0..=KTIME_MAX` (`ClockSource`'s contract): the
    // conversion is lossless.
    Monotonic::ktime_get() as u64
}

/// The cycle counter of the CPU this runs on: its time-stamp counter (`rdtsc`).
///
/// Counters of two CPUs need not agree: compare readings taken on one CPU.
#[cfg(all(CONFIG_X86_64, not(rslab_generic)))]
#[inline]
pub(crate) fn cycles() -> u64 {
    // SAFETY: `rdtsc` reads a register and has no preconditions; the kernel never disables it
    // for itself (`CR4.TSD` only faults user mode).
    unsafe { core::arch::x86_64::_rdtsc() }
}

/// The cycle counter of the CPU this runs on: none outside x86-64 (or in a generic build), so
/// always 0.
#[cfg(any(not(CONFIG_X86_64), rslab_generic))]
#[inline]
pub(crate) fn cycles() -> u64 {
    0
}
