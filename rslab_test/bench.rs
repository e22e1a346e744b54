// SPDX-License-Identifier: GPL-2.0

//! `bench`: rslab against the kernel's own SLUB, in the same kernel, on the same CPU, with the
//! same workload, interleaved round by round.
//!
//! Both are called the way any module calls them: rslab through its exported API (`rslab_alloc()`
//! and friends, across the module boundary), SLUB through `kmem_cache_alloc()`; so the comparison
//! is fair. SLUB's side is a kernel `kmem_cache` of the same size (alignment 8, `SLAB_NO_MERGE` so
//! no other user shares it). Every measured round runs in a work item bound to one CPU (process
//! context, preemption and interrupts enabled, for both allocators alike); rounds alternate rslab,
//! SLUB, rslab, ... after warm-up rounds. Every object is written (a volatile store) and every
//! pointer folded into a sink, so no work can be optimised away. Times are `ktime_get()`
//! nanoseconds and TSC cycles per operation; a round's figure is its total over its operations,
//! kept in picoseconds / milli-cycles for precision.
//!
//! This file runs a benchmark command and keeps its report; the parts live in `bench/`:
//! `under_test.rs` (the two allocators behind one trait), `rounds.rs` (one timed round),
//! `jobs.rs` (rounds on chosen CPUs), `footprint.rs` (the held footprint run) and `trace.rs`
//! (`bench trace`: steady-state operations between markers, for make bench's cost model).

#[path = "bench/footprint.rs"]
mod footprint;
#[path = "bench/jobs.rs"]
mod jobs;
#[path = "bench/rounds.rs"]
mod rounds;
#[path = "bench/trace.rs"]
mod trace;
#[path = "bench/under_test.rs"]
mod under_test;

pub(crate) use footprint::Footprint;
pub(crate) use jobs::cross_round;
pub(crate) use rounds::round_batch;
pub(crate) use under_test::Alloc;

use crate::{
    cmd::Workload,
    rslab::{
        Args,
        RawCache, //
    },
    sys::{
        cpu_work::Wq,
        cpuhp::CpusReadGuard,
        topology, //
    },
};
use core::fmt;
use jobs::{
    job_on,
    partner_cpu,
    run_jobs,
    Job, //
};
use kernel::{
    prelude::*,
    sync::{
        atomic::Atomic,
        Arc, //
    },
};
use rounds::{
    cost,
    now,
    Cost,
    SINK, //
};
use under_test::slub;

/// rslab's cache for a benchmark (one at a time: the bench mutex).
const BENCH_CACHE: &CStr = c"rslab_test_bench";
/// rslab's cache of the footprint run, kept until `bench release`.
pub(crate) const FOOTPRINT_CACHE: &CStr = c"rslab_test_fp";

/// Rounds run before measuring (at most; never more than the measured rounds).
const WARMUP: u32 = 3;
/// Operations per `pair` round.
const PAIR_OPS: u64 = 2000;
/// Objects per `batch` round at least (small `n` repeats).
const BATCH_OBJECTS: u64 = 4096;

/// Summary of a set of per-round costs.
#[derive(Clone, Copy, Default)]
pub(crate) struct Stat {
    pub(crate) median: Cost,
    pub(crate) min_ps: u64,
    pub(crate) max_ps: u64,
    pub(crate) rounds: u32,
}

/// Insertion sort: rounds are few, and core's sort pulls in panic paths objtool cannot follow.
fn sort_by(v: &mut [Cost], key: impl Fn(&Cost) -> u64) {
    for i in 1..v.len() {
        let mut j = i;
        while j > 0 && key(&v[j - 1]) > key(&v[j]) {
            v.swap(j - 1, j);
            j -= 1;
        }
    }
}

fn summarize(v: &mut [Cost]) -> Stat {
    if v.is_empty() {
        return Stat::default();
    }
    let mid = v.len() / 2;
    sort_by(v, |c| c.mcyc);
    let mcyc = v.get(mid).map_or(0, |c| c.mcyc);
    sort_by(v, |c| c.ps);
    Stat {
        median: Cost {
            ps: v.get(mid).map_or(0, |c| c.ps),
            mcyc,
        },
        min_ps: v.first().map_or(0, |c| c.ps),
        max_ps: v.last().map_or(0, |c| c.ps),
        rounds: v.len() as u32,
    }
}

/// One result line.
pub(crate) struct Row {
    pub(crate) workload: &'static str,
    pub(crate) size: usize,
    pub(crate) n: u32,
    pub(crate) alloc: &'static str,
    pub(crate) stat: Stat,
}

impl Row {
    /// `workload,size,n,alloc,median_ns,min_ns,max_ns,median_cycles,rounds`
    pub(crate) fn write(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.stat;
        writeln!(
            f,
            "{},{},{},{},{}.{:03},{}.{:03},{}.{:03},{}.{:03},{}",
            self.workload,
            self.size,
            self.n,
            self.alloc,
            s.median.ps / 1000,
            s.median.ps % 1000,
            s.min_ps / 1000,
            s.min_ps % 1000,
            s.max_ps / 1000,
            s.max_ps % 1000,
            s.median.mcyc / 1000,
            s.median.mcyc % 1000,
            s.rounds
        )
    }
}

fn workload_name(w: Workload) -> &'static str {
    match w {
        Workload::Pair => "pair",
        Workload::Batch => "batch",
        Workload::Bulk => "bulk",
        Workload::Concurrent => "concurrent",
        Workload::Cross => "cross",
        Workload::FlushLatency => "flushlat",
        Workload::Footprint => "footprint",
        Workload::Trace(_) => "trace",
    }
}

fn online_cpus() -> Result<KVec<u32>> {
    let mut v = KVec::new();
    for cpu in 0..topology::nr_cpu_ids() {
        if topology::cpu_online(cpu) {
            v.push(cpu, GFP_KERNEL)?;
        }
    }
    Ok(v)
}

/// One benchmark command's parameters.
pub(crate) struct Spec {
    pub(crate) workload: Workload,
    pub(crate) size: usize,
    pub(crate) n: u32,
    pub(crate) rounds: u32,
    /// Operations per round, if not the benchmark's own.
    pub(crate) ops: Option<u32>,
}

/// What `bench` keeps between commands: result rows, and the footprint run's live objects.
#[derive(Default)]
pub(crate) struct Results {
    pub(crate) rows: KVec<Row>,
    pub(crate) footprint: Option<Footprint>,
}

/// Runs one benchmark command; appends its rows to `res.rows` (a footprint run is kept in
/// `res.footprint` until released).
///
/// Jobs bound to CPUs run under the CPU hotplug lock (`cpus_read_lock`): a CPU going offline
/// mid-round would move its job elsewhere, mixing two CPUs' clocks. The allocators are created
/// and destroyed outside it (`kmem_cache_create`/`destroy` take it themselves).
pub(crate) fn run(wq: &Wq, spec: Spec, res: &mut Results) -> Result {
    let Spec {
        workload,
        size,
        n,
        rounds,
        ops,
    } = spec;
    let out = &mut res.rows;
    let args = Args { align: 8, flags: 0 };
    let wname = workload_name(workload);
    let push = |out: &mut KVec<Row>, alloc: &'static str, stat: Stat| {
        out.push(
            Row {
                workload: wname,
                size,
                n,
                alloc,
                stat,
            },
            GFP_KERNEL,
        )
    };
    let warmup = WARMUP.min(rounds);
    match workload {
        Workload::Pair | Workload::Batch | Workload::Bulk | Workload::Concurrent => {
            let cache = RawCache::new(BENCH_CACHE, size, args)?;
            let slub = slub(size)?;
            let allocs: [&dyn Alloc; 2] = [&cache, &slub];
            let barrier = Arc::new(Atomic::new(0u32), GFP_KERNEL)?;
            let mut per = [KVec::<Cost>::new(), KVec::<Cost>::new()];
            {
                let _cpus = CpusReadGuard::lock();
                let cpus = online_cpus()?;
                let on: &[u32] = if workload == Workload::Concurrent {
                    &cpus
                } else {
                    cpus.get(..1).ok_or(EINVAL)?
                };
                let mut works = KVec::new();
                for &cpu in on {
                    let mut job = Job::new(workload, allocs, n as usize, rounds, ops)?;
                    if workload == Workload::Concurrent {
                        job.barrier = Some(barrier.clone());
                        job.parties = on.len() as u32;
                    }
                    works.push(job_on(cpu, job)?, GFP_KERNEL)?;
                }
                run_jobs(&works, wq)?;
                for w in works.iter() {
                    for (which, v) in per.iter_mut().enumerate() {
                        for c in w.data.costs(which)? {
                            v.push(c, GFP_KERNEL)?;
                        }
                    }
                }
            }
            for (which, v) in per.iter_mut().enumerate() {
                push(out, allocs[which].name(), summarize(v))?;
            }
        }
        Workload::Cross => {
            let cache = RawCache::new(BENCH_CACHE, size, args)?;
            let slub = slub(size)?;
            let allocs: [&dyn Alloc; 2] = [&cache, &slub];
            let mut v = KVec::new();
            v.reserve(n as usize, GFP_KERNEL)?;
            let store = KBox::pin_init(kernel::new_spinlock!(v, "rslab_bench_store"), GFP_KERNEL)?;
            let mut per = [KVec::<Cost>::new(), KVec::<Cost>::new()];
            {
                let _cpus = CpusReadGuard::lock();
                let cpus = online_cpus()?;
                let first = *cpus.first().ok_or(EINVAL)?;
                // Free on a CPU of another node if there is one, else on another CPU.
                let second = partner_cpu(&cpus, first)?;
                for round in 0..warmup + rounds {
                    for (which, &a) in allocs.iter().enumerate() {
                        let c = cross_round(a, n as usize, [first, second], &store, wq)?;
                        if round >= warmup {
                            per[which].push(c, GFP_KERNEL)?;
                        }
                    }
                }
            }
            for (which, v) in per.iter_mut().enumerate() {
                push(out, allocs[which].name(), summarize(v))?;
            }
        }
        Workload::FlushLatency => {
            // Every CPU caches objects of both allocators, then one shrink of each is timed:
            // rslab's (`flush_all`: a work item on every CPU drains its arrays, then the empty
            // slabs go back) and SLUB's `kmem_cache_shrink()` (its `flush_all()`: a work item on
            // every CPU with a CPU slab or sheaves, then its empty slabs). SLUB is the control:
            // what a flush of every CPU costs in this guest, whatever the allocator. The two go
            // in turn, first one then the other, so that neither always runs on the caches the
            // other has just warmed.
            let cache = RawCache::new(BENCH_CACHE, size, args)?;
            let slub = slub(size)?;
            let mut per = [KVec::<Cost>::new(), KVec::<Cost>::new()];
            for round in 0..warmup + rounds {
                {
                    let _cpus = CpusReadGuard::lock();
                    let cpus = online_cpus()?;
                    let mut works = KVec::new();
                    for &cpu in cpus.iter() {
                        let job = Job::new(Workload::Batch, [&cache, &slub], n as usize, 1, ops)?;
                        works.push(job_on(cpu, job)?, GFP_KERNEL)?;
                    }
                    run_jobs(&works, wq)?;
                }
                // Without the CPU hotplug lock: each shrink takes it itself.
                let order: [usize; 2] = if round % 2 == 0 { [0, 1] } else { [1, 0] };
                for which in order {
                    let t0 = now();
                    if which == 0 {
                        cache.shrink()?;
                    } else {
                        slub.shrink();
                    }
                    let c = cost(t0, now(), 1);
                    if round >= warmup {
                        per[which].push(c, GFP_KERNEL)?;
                    }
                }
            }
            let [r, s] = &mut per;
            push(out, "rslab", summarize(r))?;
            push(out, "slub", summarize(s))?;
        }
        Workload::Footprint => {
            if res.footprint.is_some() {
                return Err(EBUSY);
            }
            let mut fp = Footprint::new(RawCache::new(FOOTPRINT_CACHE, size, args)?, slub(size)?);
            // About 2 MiB allocated, a random half freed: about 1 MiB live, scattered. On
            // failure, dropping `fp` frees what was allocated.
            fp.fill((2 << 20) / size.max(8))?;
            res.footprint = Some(fp);
        }
        Workload::Trace(traced) => trace::run(wq, traced, size, n)?,
    }
    pr_info!(
        "bench {} {} n={}: done (sink {:x})\n",
        wname,
        size,
        n,
        SINK.load(core::sync::atomic::Ordering::Relaxed) & 0xf
    );
    Ok(())
}
