// SPDX-License-Identifier: GPL-2.0

//! A cache's counters: per-CPU ones written only by their CPU (plain relaxed stores), shared
//! ones for slow-path events, and the sums the debugfs files print.

use crate::cache::Cache;
use core::sync::atomic::{AtomicU64, Ordering::Relaxed};

pub(crate) fn bump(counter: &AtomicU64) {
    bump_by(counter, 1);
}

pub(crate) fn bump_by(counter: &AtomicU64, n: u64) {
    // Only one writer (the owning CPU): a load and a store, no locked instruction.
    counter.store(counter.load(Relaxed) + n, Relaxed);
}

/// Counters of one CPU. Written only by that CPU (relaxed stores), read by anyone.
#[derive(Default)]
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
    pub(crate) slabs_allocated: AtomicU64,
    pub(crate) slabs_freed: AtomicU64,
    /// `alloc_node` and debug-cache allocations (they bypass the per-CPU counters).
    pub(crate) node_allocs: AtomicU64,
    pub(crate) node_frees: AtomicU64,
    pub(crate) debug_errors: AtomicU64,
    pub(crate) quarantined: AtomicU64,
    /// Objects drained from offline CPUs' arrays.
    pub(crate) offline_drained: AtomicU64,
}

impl Cache {
    /// Objects allocated and not freed, by the counters: the users' objects.
    pub(crate) fn live(&self) -> i64 {
        let (mut a, mut f) = (
            self.stats.node_allocs.load(Relaxed),
            self.stats.node_frees.load(Relaxed),
        );
        for s in self.cpus.iter() {
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
                let l = n.lists.lock();
                l.total_objects - l.free_objects
            })
            .sum()
    }

    /// Per-node `(partial, full, free)` slab counts and `(total, free)` objects.
    pub(crate) fn node_counts(&self, nid: u32) -> Option<([usize; 3], [usize; 2])> {
        let l = self.node(nid)?.lists.lock();
        Some((
            [l.partial.len(), l.full.len(), l.free.len()],
            [l.total_objects, l.free_objects],
        ))
    }

    /// Sums of the per-CPU counters: allocs, frees, refills, flushes, remote frees.
    pub(crate) fn cpu_totals(&self) -> [u64; 5] {
        let mut t = [0u64; 5];
        for s in self.cpus.iter() {
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
