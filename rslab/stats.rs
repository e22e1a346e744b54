// SPDX-License-Identifier: GPL-2.0

//! A cache's counters: per-CPU ones written only by their CPU (plain relaxed stores), shared
//! ones for slow-path events ([`Counter`]), and the sums the debugfs files print.
//!
//! The per-CPU counters are `core::sync::atomic` words on purpose: they are updated on every
//! allocation and free, where a relaxed load and store by their only writer compile to two
//! plain `mov`s, while `kernel::sync::atomic` (7.3) reaches every operation through an
//! out-of-line C helper call. Everything off the fast path uses `kernel::sync::atomic`.

use crate::{
    cache::Cache,
    percpu::CpuSlot, //
};
use core::sync::atomic::{
    AtomicU64,
    Ordering::Relaxed, //
};
use kernel::sync::atomic::{
    Atomic,
    Relaxed as LkmmRelaxed, //
};

/// An event counter shared by all CPUs: slow paths only (each update is an atomic
/// read-modify-write).
pub(crate) struct Counter(Atomic<u64>);

impl Default for Counter {
    fn default() -> Self {
        Self(Atomic::new(0))
    }
}

impl Counter {
    /// Adds `n` (`atomic64_add()`).
    pub(crate) fn add(&self, n: u64) {
        self.0.add(n, LkmmRelaxed);
    }

    /// Adds one.
    pub(crate) fn inc(&self) {
        self.add(1);
    }

    /// The count now.
    pub(crate) fn get(&self) -> u64 {
        self.0.load(LkmmRelaxed)
    }
}

pub(crate) fn bump(counter: &AtomicU64) {
    bump_by(counter, 1);
}

pub(crate) fn bump_by(counter: &AtomicU64, n: u64) {
    // Only one writer (the owning CPU): a load and a store, no locked instruction.
    counter.store(counter.load(Relaxed) + n, Relaxed);
}

/// The fast paths' counter of one CPU: written only by that CPU (relaxed stores), read by
/// anyone. Allocations are not counted: they are derived ([`CpuSlot::allocs`]), so that an
/// allocation stores nothing but the array's count and the `held` hint.
#[derive(Default)]
#[repr(C)]
pub(crate) struct CpuStats {
    /// Frees into this CPU's arrays.
    pub(crate) frees: AtomicU64,
}

/// Slow-path counters of one CPU: written only by that CPU (or, while it is offline, by the
/// holder of the proof of that), read by anyone. They sit after the arrays, off the slot's
/// first cache line.
#[derive(Default)]
#[repr(C)]
pub(crate) struct CpuSlowStats {
    /// Refills, and the objects they brought into the array.
    pub(crate) refills: AtomicU64,
    pub(crate) objs_in: AtomicU64,
    /// Flushes of the object array (oldest batch, or whole), and every object that left the
    /// arrays for the slabs (flushes, remote-buffer flushes, the reaper, a dead CPU's drain).
    pub(crate) flushes: AtomicU64,
    pub(crate) objs_out: AtomicU64,
    /// Frees of objects whose slab is on another node.
    pub(crate) remote_frees: AtomicU64,
}

impl CpuSlot {
    /// Allocations served by this CPU's arrays, derived: what came in (refills and frees) minus
    /// what left for the slabs and what is still held. Exact while the CPU is quiet; read during
    /// its activity it may be off by the operations in flight.
    pub(crate) fn allocs(&self) -> u64 {
        let (s, w) = (&self.stats, &self.slow);
        (s.frees.load(Relaxed) + w.objs_in.load(Relaxed))
            .wrapping_sub(w.objs_out.load(Relaxed))
            .wrapping_sub(u64::from(self.held.load(Relaxed)))
    }
}

/// Counters of slow-path events, shared by all CPUs.
#[derive(Default)]
pub(crate) struct CacheStats {
    pub(crate) slabs_allocated: Counter,
    pub(crate) slabs_freed: Counter,
    /// `alloc_node` and debug-cache allocations (they bypass the per-CPU counters).
    pub(crate) node_allocs: Counter,
    pub(crate) node_frees: Counter,
    pub(crate) debug_errors: Counter,
    pub(crate) quarantined: Counter,
    /// Allocations and frees that found this CPU's lock taken (an interrupt handler that
    /// stopped its holder) and went to the node lists instead (also counted in `node_allocs`
    /// and `node_frees`).
    pub(crate) contended: Counter,
    /// Objects drained from offline CPUs' arrays.
    pub(crate) offline_drained: Counter,
}

impl Cache {
    /// Objects allocated and not freed, by the counters: the users' objects.
    pub(crate) fn live(&self) -> i64 {
        let (mut a, mut f) = (self.stats.node_allocs.get(), self.stats.node_frees.get());
        for (_, s) in self.cpus.iter() {
            a = a.wrapping_add(s.allocs());
            f += s.stats.frees.load(Relaxed);
        }
        a as i64 - f as i64
    }

    /// Objects out of slab freelists on all nodes, by the node counters.
    pub(crate) fn inuse(&self) -> usize {
        self.nodes
            .iter()
            .map(|n| {
                let (_, [total, free]) = n.lists.lock().counts();
                total - free
            })
            .sum()
    }

    /// Per-node `(partial, full, free)` slab counts and `(total, free)` objects.
    pub(crate) fn node_counts(&self, nid: u32) -> Option<([usize; 3], [usize; 2])> {
        Some(self.node(nid)?.lists.lock().counts())
    }

    /// Sums of the per-CPU counters: allocs, frees, refills, flushes, remote frees.
    pub(crate) fn cpu_totals(&self) -> [u64; 5] {
        let mut t = [0u64; 5];
        for (_, s) in self.cpus.iter() {
            let w = &s.slow;
            t[0] = t[0].wrapping_add(s.allocs());
            for (i, c) in [&s.stats.frees, &w.refills, &w.flushes, &w.remote_frees]
                .iter()
                .enumerate()
            {
                t[i + 1] += c.load(Relaxed);
            }
        }
        t
    }
}
