// SPDX-License-Identifier: GPL-2.0

//! One measured round of a workload, on the CPU it runs on: the clock readings, the sink every
//! object is folded into, and the rounds of `pair`, `batch` and `bulk`.

use super::under_test::{
    free_held,
    Alloc, //
};
use crate::sys::clock;
use core::{
    ptr::NonNull,
    sync::atomic::{
        AtomicUsize,
        Ordering::Relaxed, //
    },
};
use kernel::prelude::*;

/// Every object's address is folded into it, so that no allocation can be optimised away.
///
/// A `core::sync::atomic` word on purpose, like rslab's per-CPU fast-path words: in 7.3 every
/// `kernel::sync::atomic` operation is an out-of-line C helper call, which would add a call per
/// object to both allocators' figures; this is one inline locked `xor`, as the benchmark has
/// always measured.
pub(super) static SINK: AtomicUsize = AtomicUsize::new(0);

/// Now: `ktime_get()` nanoseconds and the CPU's cycle counter.
pub(super) fn now() -> (u64, u64) {
    (clock::ktime_ns(), clock::cycles())
}

/// Uses a new object: writes its first byte (a volatile store) and folds its address into
/// [`SINK`].
pub(super) fn touch(p: NonNull<u8>) {
    // SAFETY: every caller passes an object just allocated, of at least one byte, that no one
    // else uses until it is freed.
    unsafe { core::ptr::write_volatile(p.as_ptr(), 0x5a) };
    SINK.fetch_xor(p.as_ptr() as usize, Relaxed);
}

/// Per-operation cost (of one round, or a median), in picoseconds and milli-cycles.
#[derive(Clone, Copy, Default)]
pub(crate) struct Cost {
    pub(crate) ps: u64,
    pub(crate) mcyc: u64,
}

/// The cost per operation of `ops` operations between readings `t0` and `t1` of [`now()`].
pub(super) fn cost(t0: (u64, u64), t1: (u64, u64), ops: u64) -> Cost {
    let ops = ops.max(1);
    // Saturating: a measurement that straddles two CPUs' counters must not wrap (or panic).
    Cost {
        ps: t1.0.saturating_sub(t0.0).saturating_mul(1000) / ops,
        mcyc: t1.1.saturating_sub(t0.1).saturating_mul(1000) / ops,
    }
}

/// One round of `pair`: alloc then free the same object, `ops` times.
pub(super) fn round_pair(a: &dyn Alloc, ops: u64) -> Option<Cost> {
    let t0 = now();
    for _ in 0..ops {
        let p = a.alloc()?;
        touch(p);
        // SAFETY: `p` was allocated by `a` just above and is freed once, here.
        unsafe { a.free(p) };
    }
    Some(cost(t0, now(), ops))
}

/// One round of `batch n`: n allocs then n frees, repeated up to `objects` objects.
/// `held` must have room for `n` objects. A failed allocation frees what the round holds.
pub(crate) fn round_batch(
    a: &dyn Alloc,
    held: &mut KVec<NonNull<u8>>,
    n: usize,
    objects: u64,
) -> Option<Cost> {
    // `checked_div`: no division-by-zero panic path (which objtool does not know as noreturn).
    let reps = objects.checked_div(n as u64).unwrap_or(0).max(1);
    let t0 = now();
    for _ in 0..reps {
        for _ in 0..n {
            let Some(p) = a.alloc() else {
                free_held(a, held);
                return None;
            };
            touch(p);
            if let Err(e) = held.push_within_capacity(p) {
                // SAFETY: `e.0` is `p`, allocated by `a` just above; it did not go into `held`,
                // so this is its only free.
                unsafe { a.free(e.0) };
                free_held(a, held);
                return None;
            }
        }
        free_held(a, held);
    }
    Some(cost(t0, now(), reps * n as u64))
}

/// One round of `bulk n`: one bulk allocation of `n` objects, then one bulk free, repeated up
/// to `objects` objects. `buf` must hold `n` entries.
pub(super) fn round_bulk(a: &dyn Alloc, buf: &mut [*mut u8], objects: u64) -> Option<Cost> {
    let n = buf.len().max(1);
    let reps = (objects / n as u64).max(1);
    let t0 = now();
    for _ in 0..reps {
        if !a.alloc_bulk(buf) {
            return None;
        }
        for &p in buf.iter() {
            if let Some(p) = NonNull::new(p) {
                touch(p);
            }
        }
        // SAFETY: `alloc_bulk` succeeded, so every entry of `buf` is a distinct object just
        // allocated by `a`; they are freed once, here, and overwritten by the next allocation.
        unsafe { a.free_bulk(buf) };
    }
    Some(cost(t0, now(), reps * n as u64))
}
