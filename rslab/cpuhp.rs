// SPDX-License-Identifier: GPL-2.0

//! The CPU hotplug lock, as a guard.

use kernel::bindings;

/// Holds `cpus_read_lock()`: no CPU goes online or offline until it is dropped.
pub(crate) struct CpusReadGuard(());

impl CpusReadGuard {
    /// Takes the CPU hotplug lock for reading. Lock order: first of all rslab's locks.
    pub(crate) fn lock() -> Self {
        // SAFETY: may sleep; callers are in process context and hold none of rslab's locks
        // (lock order in the crate root).
        unsafe { bindings::cpus_read_lock() };
        Self(())
    }
}

impl Drop for CpusReadGuard {
    fn drop(&mut self) {
        // SAFETY: taken in `lock`.
        unsafe { bindings::cpus_read_unlock() };
    }
}

/// Asserts (under lockdep) that the caller holds the CPU hotplug lock, as a hotplug callback,
/// a memory notifier or a [`CpusReadGuard`] holder does.
pub(crate) fn assert_cpus_held() {
    // SAFETY: only inspects lockdep state.
    unsafe { bindings::lockdep_assert_cpus_held() };
}
