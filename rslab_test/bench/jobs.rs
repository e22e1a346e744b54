// SPDX-License-Identifier: GPL-2.0

//! Rounds run where they must: a [`Job`] runs a workload's rounds, for both allocators in turn,
//! in a work item bound to one CPU (every CPU at once for `concurrent`, behind a start
//! barrier); a [`Phase`] is one half of a `cross` round, allocating on one CPU or freeing on
//! another.

use super::{
    rounds::{
        cost,
        now,
        round_batch,
        round_bulk,
        round_pair,
        touch,
        Cost, //
    },
    trace::Mark,
    under_test::{
        erase,
        free_addrs,
        Alloc, //
    },
    BATCH_OBJECTS,
    PAIR_OPS,
    WARMUP, //
};
use crate::{
    cmd::Workload,
    sys::{
        cpu_work::{
            CpuWork,
            CpuWorkFn,
            Wq, //
        },
        topology, //
    },
};
use kernel::{
    prelude::*,
    sync::{
        atomic::{
            Acquire,
            Atomic,
            Full,
            Relaxed, //
        },
        Arc,
        SpinLock, //
    },
};

/// The job a bench work item runs on its CPU.
pub(super) struct Job {
    workload: Workload,
    allocs: [*const dyn Alloc; 2],
    n: usize,
    rounds: u32,
    /// Operations (pairs or objects) per round.
    ops: u64,
    /// Start barrier for `concurrent`: every CPU's job waits for all.
    pub(super) barrier: Option<Arc<Atomic<u32>>>,
    pub(super) parties: u32,
    /// Per allocator, per measured round.
    results: [KVec<Atomic<u64>>; 2],
    failed: Atomic<u32>,
    /// Set if the job ran on a CPU other than the one it was queued on.
    wrong_cpu: Atomic<u32>,
}

// SAFETY: the only fields that are not `Send` are the allocator pointers, and the allocators
// are `Sync` and outlive the job (its creator waits for it before dropping them).
unsafe impl Send for Job {}
// SAFETY: shared access reads the allocators (`Sync`, alive as for `Send`) and the atomics of
// the results; nothing else is written through `&Job`.
unsafe impl Sync for Job {}

impl Job {
    pub(super) fn new(
        workload: Workload,
        allocs: [&dyn Alloc; 2],
        n: usize,
        rounds: u32,
        ops: Option<u32>,
    ) -> Result<Self> {
        let ops = match (ops, workload) {
            (Some(o), _) => u64::from(o),
            (None, Workload::Pair) => PAIR_OPS,
            (None, _) => BATCH_OBJECTS,
        };
        let mut results = [KVec::new(), KVec::new()];
        for r in results.iter_mut() {
            for _ in 0..2 * rounds {
                r.push(Atomic::new(0), GFP_KERNEL)?;
            }
        }
        Ok(Self {
            workload,
            allocs: [erase(allocs[0]), erase(allocs[1])],
            n,
            rounds,
            ops,
            barrier: None,
            parties: 1,
            results,
            failed: Atomic::new(0),
            wrong_cpu: Atomic::new(0),
        })
    }

    /// The measured rounds' costs of allocator `which` (0: rslab, 1: SLUB).
    pub(super) fn costs(&self, which: usize) -> Result<KVec<Cost>> {
        let mut v = KVec::with_capacity(self.rounds as usize, GFP_KERNEL)?;
        for r in 0..self.rounds as usize {
            let ps = self.results[which][2 * r].load(Relaxed);
            let mcyc = self.results[which][2 * r + 1].load(Relaxed);
            v.push(Cost { ps, mcyc }, GFP_KERNEL)?;
        }
        Ok(v)
    }
}

impl CpuWorkFn for Job {
    fn run(&self, cpu: u32) {
        // Bound work runs on its CPU unless that CPU went offline after it was queued, which
        // `run` rules out by holding the CPU hotplug lock: a job found elsewhere fails the run.
        if topology::this_cpu() != cpu {
            self.wrong_cpu.store(1, Relaxed);
        }
        if let Some(b) = &self.barrier {
            b.fetch_add(1, Full);
            while b.load(Acquire) < self.parties {
                core::hint::spin_loop();
            }
        }
        let mut held = KVec::new();
        let mut buf = KVec::new();
        if held.reserve(self.n.max(1), GFP_KERNEL).is_err()
            || buf
                .extend_with(self.n.max(1), core::ptr::null_mut::<u8>(), GFP_KERNEL)
                .is_err()
        {
            self.failed.store(1, Relaxed);
            return;
        }
        let warmup = WARMUP.min(self.rounds);
        for round in 0..warmup + self.rounds {
            for (which, &a) in self.allocs.iter().enumerate() {
                // SAFETY: `a` comes from a `&dyn Alloc` whose allocator outlives the job (its
                // creator flushes the job before dropping it), and is only shared (`Sync`).
                let a = unsafe { &*a };
                let c = match self.workload {
                    Workload::Pair => round_pair(a, self.ops),
                    Workload::Bulk => round_bulk(a, &mut buf, self.ops),
                    _ => round_batch(a, &mut held, self.n.max(1), self.ops),
                };
                let Some(c) = c else {
                    self.failed.store(1, Relaxed);
                    return;
                };
                if round >= warmup {
                    let r = (round - warmup) as usize;
                    self.results[which][2 * r].store(c.ps, Relaxed);
                    self.results[which][2 * r + 1].store(c.mcyc, Relaxed);
                }
            }
        }
    }
}

/// A job for `cpu`, not queued yet: every job of a run is made before any is queued, so that a
/// failure halfway leaves no job spinning at a barrier the others will never reach.
pub(super) fn job_on(cpu: u32, job: Job) -> Result<Pin<KBox<CpuWork<Job>>>> {
    KBox::pin_init(
        CpuWork::new(cpu, job, c"rslab_bench", kernel::static_lock_class!()),
        GFP_KERNEL,
    )
}

/// Queues every job, waits for all, and fails if any failed or ran on a wrong CPU. The caller
/// holds the CPU hotplug lock, so no job's CPU goes away meanwhile.
pub(super) fn run_jobs(works: &[Pin<KBox<CpuWork<Job>>>], wq: &Wq) -> Result {
    for w in works {
        w.queue(wq);
    }
    let mut r = Ok(());
    for w in works {
        w.flush();
        if w.data.wrong_cpu.load(Relaxed) != 0 {
            r = Err(EIO);
        } else if w.data.failed.load(Relaxed) != 0 && r.is_ok() {
            r = Err(ENOMEM);
        }
    }
    r
}

/// A phase of `cross`: allocate `n` objects into `store`, or free them all, on one CPU.
struct Phase {
    alloc: *const dyn Alloc,
    store: *const SpinLock<KVec<usize>>,
    n: usize,
    free: bool,
    /// Markers around the phase's operations (`bench trace cross`).
    mark: Option<Mark>,
    ps: Atomic<u64>,
    mcyc: Atomic<u64>,
    failed: Atomic<u32>,
}

// SAFETY: the only fields that are not `Send` are the pointers, whose pointees (an allocator,
// `Sync`, and a spinlock) outlive the phase: its creator waits for it.
unsafe impl Send for Phase {}
// SAFETY: shared access uses the allocator (`Sync`), the store through its spinlock, and atomics.
unsafe impl Sync for Phase {}

impl Phase {
    /// The phase's operations: `n` objects of `a` allocated into `v`, or all of `v` freed.
    fn ops(&self, a: &dyn Alloc, v: &mut KVec<usize>) {
        if self.free {
            free_addrs(a, v);
        } else {
            for _ in 0..self.n {
                let Some(p) = a.alloc() else {
                    self.failed.store(1, Relaxed);
                    break;
                };
                touch(p);
                if v.push_within_capacity(p.as_ptr() as usize).is_err() {
                    // SAFETY: `p` was allocated by `a` just above and did not go into the
                    // store, so this is its only free.
                    unsafe { a.free(p) };
                    self.failed.store(1, Relaxed);
                    break;
                }
            }
        }
    }
}

impl CpuWorkFn for Phase {
    fn run(&self, cpu: u32) {
        // SAFETY: both pointers come from references whose pointees outlive the phase
        // (`cross_round` flushes it before returning), and both are only shared: the allocator
        // is `Sync`, the store is a spinlock.
        let (a, store) = unsafe { (&*self.alloc, &*self.store) };
        if topology::this_cpu() != cpu {
            self.failed.store(1, Relaxed);
            return;
        }
        let mut v = core::mem::take(&mut *store.lock());
        let t0 = now();
        match self.mark {
            Some(m) => m.around(|| self.ops(a, &mut v)),
            None => self.ops(a, &mut v),
        }
        let c = cost(t0, now(), self.n as u64);
        self.ps.store(c.ps, Relaxed);
        self.mcyc.store(c.mcyc, Relaxed);
        // Whatever was allocated stays in the store, even after a failure: the caller frees it.
        *store.lock() = v;
    }
}

/// The CPU a `cross` round frees on: one of another node than `first` if there is one, else
/// any other CPU of `cpus`.
pub(super) fn partner_cpu(cpus: &[u32], first: u32) -> Result<u32> {
    let node = topology::cpu_to_node(first);
    cpus.iter()
        .copied()
        .find(|&c| topology::cpu_to_node(c) != node)
        .or_else(|| cpus.iter().copied().find(|&c| c != first))
        .ok_or(EINVAL)
}

/// One round of `cross` for `a`: `n` objects allocated on `first`, freed on `second`. Whatever
/// happens, nothing allocated is left behind: a failed phase's objects are freed here.
pub(crate) fn cross_round(
    a: &dyn Alloc,
    n: usize,
    cpus: [u32; 2],
    store: &SpinLock<KVec<usize>>,
    wq: &Wq,
) -> Result<Cost> {
    cross_round_marked(a, n, cpus, store, wq, None)
}

/// [`cross_round`], each phase's operations between the trace markers if `mark` is given (the
/// free phase's region counts no objects: the alloc phase's counted them).
pub(super) fn cross_round_marked(
    a: &dyn Alloc,
    n: usize,
    cpus: [u32; 2],
    store: &SpinLock<KVec<usize>>,
    wq: &Wq,
    mark: Option<Mark>,
) -> Result<Cost> {
    let mut total = Cost::default();
    let mut r = Ok(());
    for (cpu, free) in [(cpus[0], false), (cpus[1], true)] {
        let phase = Phase {
            alloc: erase(a),
            store: core::ptr::from_ref(store),
            n,
            free,
            mark: mark.map(|m| if free { m.free_half() } else { m }),
            ps: Atomic::new(0),
            mcyc: Atomic::new(0),
            failed: Atomic::new(0),
        };
        let w = match KBox::pin_init(
            CpuWork::new(
                cpu,
                phase,
                c"rslab_bench_cross",
                kernel::static_lock_class!(),
            ),
            GFP_KERNEL,
        ) {
            Ok(w) => w,
            Err(e) => {
                r = Err(e);
                break;
            }
        };
        w.queue(wq);
        w.flush();
        if w.data.failed.load(Relaxed) != 0 {
            r = Err(ENOMEM);
            break;
        }
        total.ps += w.data.ps.load(Relaxed);
        total.mcyc += w.data.mcyc.load(Relaxed);
    }
    // Empty after a complete round; after a failure, the allocated objects are freed here.
    free_addrs(a, &mut store.lock());
    r.map(|()| total)
}
