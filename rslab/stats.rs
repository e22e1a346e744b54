// SPDX-License-Identifier: GPL-2.0

//! A cache's counters: per-CPU ones written only by their CPU (plain relaxed stores), shared
//! ones for slow-path events ([`Counter`]), and the sums the debugfs files print.
//!
//! The per-CPU counters are `core::sync::atomic` words on purpose: they are updated on every
//! allocation and free, where a relaxed load and store by their only writer compile to two
//! plain `mov`s, while `kernel::sync::atomic` (7.3) reaches every operation through an
//! out-of-line C helper call. Everything off the fast path uses `kernel::sync::atomic`.

use crate::cache::Cache;
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

/// Counters of one CPU. Written only by that CPU (relaxed stores), read by anyone.
#[derive(Default)]
#[repr(C)]
pub(crate) struct CpuStats {
    pub(crate) allocs: AtomicU64,
    pub(crate) frees: AtomicU64,
    pub(crate) refills: AtomicU64,
    pub(crate) flushes: AtomicU64,
    pub(crate) remote_frees: AtomicU64,
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
    /// Objects drained from offline CPUs' arrays.
    pub(crate) offline_drained: Counter,
}

impl Cache {
    /// Objects allocated and not freed, by the counters: the users' objects.
    pub(crate) fn live(&self) -> i64 {
        let (mut a, mut f) = (self.stats.node_allocs.get(), self.stats.node_frees.get());
        for (_, s) in self.cpus.iter() {
            a += s.stats.allocs.load(Relaxed);
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
            let st = &s.stats;
            for (i, c) in [
                &st.allocs,
                &st.frees,
                &st.refills,
                &st.flushes,
                &st.remote_frees,
            ]
            .iter()
            .enumerate()
            {
                t[i] += c.load(Relaxed);
            }
        }
        t
    }
}
