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

use crate::{
    cmd::Workload,
    rslab::{Args, Gfp, RawCache},
    sys::cpu_work::{CpuWork, CpuWorkFn, Wq},
    sys::cpuhp::CpusReadGuard,
    sys::topology,
};
use core::{
    fmt,
    ptr::NonNull,
    sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering::*},
};
use kernel::{bindings, prelude::*, sync::Arc};

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

static SINK: AtomicUsize = AtomicUsize::new(0);

fn now() -> (u64, u64) {
    // SAFETY: `ktime_get` may be called from any context; `rdtsc` has no preconditions.
    unsafe { (bindings::ktime_get() as u64, core::arch::x86_64::_rdtsc()) }
}

/// One allocator under test.
pub(crate) trait Alloc: Sync {
    fn alloc(&self) -> Option<NonNull<u8>>;
    /// # Safety
    ///
    /// `p` must come from `self.alloc()` and not be freed since.
    unsafe fn free(&self, p: NonNull<u8>);
    fn name(&self) -> &'static str;
    /// Fills `objs` with new objects, all or none.
    fn alloc_bulk(&self, objs: &mut [*mut u8]) -> bool {
        for i in 0..objs.len() {
            match self.alloc() {
                Some(p) => objs[i] = p.as_ptr(),
                None => {
                    // SAFETY: the first `i` entries were just allocated.
                    unsafe { self.free_bulk(&mut objs[..i]) };
                    return false;
                }
            }
        }
        true
    }
    /// # Safety
    ///
    /// Every entry of `objs` must come from `self` and not be freed since.
    unsafe fn free_bulk(&self, objs: &mut [*mut u8]) {
        for &p in objs.iter() {
            if let Some(p) = NonNull::new(p) {
                // SAFETY: the caller's contract.
                unsafe { self.free(p) };
            }
        }
    }
}

impl Alloc for RawCache {
    #[inline]
    fn alloc(&self) -> Option<NonNull<u8>> {
        RawCache::alloc(self, Gfp::KERNEL)
    }
    #[inline]
    unsafe fn free(&self, p: NonNull<u8>) {
        // SAFETY: the caller's contract is `RawCache::free`'s.
        unsafe { RawCache::free(self, p) }
    }
    fn name(&self) -> &'static str {
        "rslab"
    }
    fn alloc_bulk(&self, objs: &mut [*mut u8]) -> bool {
        RawCache::alloc_bulk(self, Gfp::KERNEL, objs).is_ok()
    }
    unsafe fn free_bulk(&self, objs: &mut [*mut u8]) {
        // SAFETY: the caller's contract is `RawCache::free_bulk`'s.
        unsafe { RawCache::free_bulk(self, objs) }
    }
}

/// SLUB's side: a kernel kmem cache of the same size, not merged with any other.
///
/// # Invariants
///
/// `ptr` is a live kmem cache, destroyed on drop after every object was freed.
pub(crate) struct Slub {
    ptr: NonNull<bindings::kmem_cache>,
}

// SAFETY: kmem caches are thread-safe.
unsafe impl Send for Slub {}
// SAFETY: every `kmem_cache` operation may run on several threads at once.
unsafe impl Sync for Slub {}

impl Slub {
    pub(crate) fn new(size: usize) -> Result<Self> {
        // SAFETY: all zeroes is the default `kmem_cache_args`.
        let mut args: bindings::kmem_cache_args = unsafe { core::mem::zeroed() };
        args.align = 8;
        let flags = 1 << bindings::_slab_flag_bits__SLAB_NO_MERGE;
        // SAFETY: static name, valid arguments.
        let p = unsafe {
            bindings::__kmem_cache_create_args(
                c"rslab_bench_slub".as_char_ptr(),
                size as u32,
                &mut args,
                flags,
            )
        };
        Ok(Self {
            ptr: NonNull::new(p).ok_or(ENOMEM)?,
        })
    }

    pub(crate) fn shrink(&self) {
        // SAFETY: live cache (invariant).
        unsafe { bindings::kmem_cache_shrink(self.ptr.as_ptr()) };
    }
}

impl Drop for Slub {
    fn drop(&mut self) {
        // SAFETY: live cache, no objects left (benchmarks free everything they allocate).
        unsafe { bindings::kmem_cache_destroy(self.ptr.as_ptr()) };
    }
}

impl Alloc for Slub {
    fn alloc(&self) -> Option<NonNull<u8>> {
        // SAFETY: live cache.
        NonNull::new(
            unsafe { bindings::kmem_cache_alloc_noprof(self.ptr.as_ptr(), bindings::GFP_KERNEL) }
                .cast(),
        )
    }
    unsafe fn free(&self, p: NonNull<u8>) {
        // SAFETY: `p` came from this cache (caller's contract).
        unsafe { bindings::kmem_cache_free(self.ptr.as_ptr(), p.as_ptr().cast()) };
    }
    fn name(&self) -> &'static str {
        "slub"
    }
    fn alloc_bulk(&self, objs: &mut [*mut u8]) -> bool {
        // SAFETY: live cache; `objs` is valid for `objs.len()` writes. All or nothing: 7.3's
        // `kmem_cache_alloc_bulk()` says which with a `bool`.
        unsafe {
            bindings::kmem_cache_alloc_bulk_noprof(
                self.ptr.as_ptr(),
                bindings::GFP_KERNEL,
                objs.len(),
                objs.as_mut_ptr().cast(),
            )
        }
    }
    unsafe fn free_bulk(&self, objs: &mut [*mut u8]) {
        // SAFETY: the objects came from this cache (caller's contract).
        unsafe {
            bindings::kmem_cache_free_bulk(self.ptr.as_ptr(), objs.len(), objs.as_mut_ptr().cast())
        };
    }
}

/// A raw pointer to an allocator, for a job that runs on another CPU while the caller waits.
fn erase(a: &dyn Alloc) -> *const dyn Alloc {
    let p: *const (dyn Alloc + '_) = a;
    // SAFETY: only the lifetime bound of a raw pointer changes; every job or phase holding it
    // is waited for (flushed) before the allocator it points to is dropped.
    unsafe { core::mem::transmute::<*const (dyn Alloc + '_), *const (dyn Alloc + 'static)>(p) }
}

fn touch(p: NonNull<u8>) {
    // SAFETY: `p` is a live object of at least one byte.
    unsafe { core::ptr::write_volatile(p.as_ptr(), 0x5a) };
    SINK.fetch_xor(p.as_ptr() as usize, Relaxed);
}

/// Per-operation cost (of one round, or a median), in picoseconds and milli-cycles.
#[derive(Clone, Copy, Default)]
pub(crate) struct Cost {
    pub(crate) ps: u64,
    pub(crate) mcyc: u64,
}

fn cost(t0: (u64, u64), t1: (u64, u64), ops: u64) -> Cost {
    let ops = ops.max(1);
    // Saturating: a measurement that straddles two CPUs' counters must not wrap (or panic).
    Cost {
        ps: t1.0.saturating_sub(t0.0).saturating_mul(1000) / ops,
        mcyc: t1.1.saturating_sub(t0.1).saturating_mul(1000) / ops,
    }
}

/// One round of `pair`: alloc then free the same object, `ops` times.
fn round_pair(a: &dyn Alloc, ops: u64) -> Option<Cost> {
    let t0 = now();
    for _ in 0..ops {
        let p = a.alloc()?;
        touch(p);
        // SAFETY: just allocated.
        unsafe { a.free(p) };
    }
    Some(cost(t0, now(), ops))
}

/// Frees every object of `held` (allocated by `a`).
fn free_held(a: &dyn Alloc, held: &mut KVec<NonNull<u8>>) {
    while let Some(p) = held.pop() {
        // SAFETY: every object in `held` was allocated by `a` and is freed once.
        unsafe { a.free(p) };
    }
}

/// One round of `batch n`: n allocs then n frees, repeated up to `objects` objects.
/// `held` must have room for `n` objects. A failed allocation frees what the round holds.
pub(crate) fn round_batch(
    a: &dyn Alloc,
    held: &mut KVec<NonNull<u8>>,
    n: usize,
    objects: u64,
) -> Option<Cost> {
    let reps = (objects / n as u64).max(1);
    let t0 = now();
    for _ in 0..reps {
        for _ in 0..n {
            let Some(p) = a.alloc() else {
                free_held(a, held);
                return None;
            };
            touch(p);
            if let Err(e) = held.push_within_capacity(p) {
                // SAFETY: just allocated by `a`, never handed out.
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
pub(crate) fn round_bulk(a: &dyn Alloc, buf: &mut [*mut u8], objects: u64) -> Option<Cost> {
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
        // SAFETY: every entry was just allocated by `a`, and is freed once.
        unsafe { a.free_bulk(buf) };
    }
    Some(cost(t0, now(), reps * n as u64))
}

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

/// The job a bench work item runs on its CPU.
struct Job {
    workload: Workload,
    allocs: [*const dyn Alloc; 2],
    n: usize,
    rounds: u32,
    /// Operations (pairs or objects) per round.
    ops: u64,
    /// Start barrier for `concurrent`: every CPU's job waits for all.
    barrier: Option<Arc<AtomicU32>>,
    parties: u32,
    /// Per allocator, per measured round.
    results: [KVec<AtomicU64>; 2],
    failed: AtomicU32,
    /// Set if the job ran on a CPU other than the one it was queued on.
    wrong_cpu: AtomicU32,
}

// SAFETY: the allocators are `Sync` and outlive the job (the caller waits for it).
unsafe impl Send for Job {}
// SAFETY: shared access reads the allocators (`Sync`) and the atomics of the results.
unsafe impl Sync for Job {}

impl Job {
    fn new(
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
                r.push(AtomicU64::new(0), GFP_KERNEL)?;
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
            failed: AtomicU32::new(0),
            wrong_cpu: AtomicU32::new(0),
        })
    }

    fn costs(&self, which: usize) -> Result<KVec<Cost>> {
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
            b.fetch_add(1, AcqRel);
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
                // SAFETY: alive while the job runs (type invariant).
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

/// A job for `cpu`, not queued yet: every job of a run is made before any is queued, so that a
/// failure halfway leaves no job spinning at a barrier the others will never reach.
fn job_on(cpu: u32, job: Job) -> Result<Pin<KBox<CpuWork<Job>>>> {
    KBox::pin_init(
        CpuWork::new(cpu, job, c"rslab_bench", kernel::static_lock_class!()),
        GFP_KERNEL,
    )
}

/// Queues every job, waits for all, and fails if any failed or ran on a wrong CPU. The caller
/// holds the CPU hotplug lock, so no job's CPU goes away meanwhile.
fn run_jobs(works: &[Pin<KBox<CpuWork<Job>>>], wq: &Wq) -> Result {
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
    store: *const kernel::sync::SpinLock<KVec<usize>>,
    n: usize,
    free: bool,
    ps: AtomicU64,
    mcyc: AtomicU64,
    failed: AtomicU32,
}

// SAFETY: the pointees outlive the phase (the caller waits for it).
unsafe impl Send for Phase {}
// SAFETY: shared access uses the allocator (`Sync`), the store through its spinlock, and atomics.
unsafe impl Sync for Phase {}

/// Frees every object in `v` (addresses of objects of `a`).
fn free_addrs(a: &dyn Alloc, v: &mut KVec<usize>) {
    while let Some(p) = v.pop() {
        if let Some(p) = NonNull::new(p as *mut u8) {
            // SAFETY: every address in `v` is an object allocated by `a`, freed once.
            unsafe { a.free(p) };
        }
    }
}

impl CpuWorkFn for Phase {
    fn run(&self, cpu: u32) {
        // SAFETY: alive while the phase runs (type invariant).
        let (a, store) = unsafe { (&*self.alloc, &*self.store) };
        if topology::this_cpu() != cpu {
            self.failed.store(1, Relaxed);
            return;
        }
        let mut v = core::mem::take(&mut *store.lock());
        let t0 = now();
        if self.free {
            free_addrs(a, &mut v);
        } else {
            for _ in 0..self.n {
                let Some(p) = a.alloc() else {
                    self.failed.store(1, Relaxed);
                    break;
                };
                touch(p);
                if v.push_within_capacity(p.as_ptr() as usize).is_err() {
                    // SAFETY: just allocated by `a`, never handed out.
                    unsafe { a.free(p) };
                    self.failed.store(1, Relaxed);
                    break;
                }
            }
        }
        let c = cost(t0, now(), self.n as u64);
        self.ps.store(c.ps, Relaxed);
        self.mcyc.store(c.mcyc, Relaxed);
        // Whatever was allocated stays in the store, even after a failure: the caller frees it.
        *store.lock() = v;
    }
}

/// One round of `cross` for `a`: `n` objects allocated on `first`, freed on `second`. Whatever
/// happens, nothing allocated is left behind: a failed phase's objects are freed here.
pub(crate) fn cross_round(
    a: &dyn Alloc,
    n: usize,
    cpus: [u32; 2],
    store: &kernel::sync::SpinLock<KVec<usize>>,
    wq: &Wq,
) -> Result<Cost> {
    let mut total = Cost::default();
    let mut r = Ok(());
    for (cpu, free) in [(cpus[0], false), (cpus[1], true)] {
        let phase = Phase {
            alloc: erase(a),
            store: core::ptr::from_ref(store),
            n,
            free,
            ps: AtomicU64::new(0),
            mcyc: AtomicU64::new(0),
            failed: AtomicU32::new(0),
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

/// The live objects of `bench footprint`, kept until `bench release`. Dropping it frees every
/// object it holds, in both allocators, before the allocators themselves go.
pub(crate) struct Footprint {
    objs: [KVec<usize>; 2],
    /// rslab's side: cache [`FOOTPRINT_CACHE`], whose pages rslab's `slabinfo` shows.
    pub(crate) rslab: RawCache,
    pub(crate) slub: Slub,
}

impl Footprint {
    /// Shrinks both allocators (rslab: flush every CPU, then return empty slabs).
    pub(crate) fn shrink(&self) -> Result {
        self.rslab.shrink()?;
        self.slub.shrink();
        Ok(())
    }

    /// Objects the run holds in rslab.
    pub(crate) fn live(&self) -> usize {
        self.objs[0].len()
    }

    /// Allocates `count` objects in each allocator, then frees a random half of them.
    fn fill(&mut self, count: usize) -> Result {
        let allocs: [&dyn Alloc; 2] = [&self.rslab, &self.slub];
        fill(allocs, &mut self.objs, count)
    }
}

/// The footprint pattern on `allocs`: `count` objects each, a random half freed; `objs` keeps
/// the live ones. On failure, what was allocated stays in `objs` for the caller to free.
pub(crate) fn fill(allocs: [&dyn Alloc; 2], objs: &mut [KVec<usize>; 2], count: usize) -> Result {
    for (v, a) in objs.iter_mut().zip(allocs) {
        v.reserve(count, GFP_KERNEL)?;
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..count {
            let p = a.alloc().ok_or(ENOMEM)?;
            touch(p);
            if v.push_within_capacity(p.as_ptr() as usize).is_err() {
                // SAFETY: just allocated by `a`, never handed out.
                unsafe { a.free(p) };
                return Err(ENOMEM);
            }
        }
        let mut i = 0;
        while i < v.len() {
            if xorshift(&mut rng) & 1 == 0 {
                let last = v.len() - 1;
                v.swap(i, last);
                let p = v.pop().unwrap_or(0);
                if let Some(p) = NonNull::new(p as *mut u8) {
                    // SAFETY: allocated above, freed once.
                    unsafe { a.free(p) };
                }
            } else {
                i += 1;
            }
        }
    }
    Ok(())
}

impl Drop for Footprint {
    fn drop(&mut self) {
        let allocs: [&dyn Alloc; 2] = [&self.rslab, &self.slub];
        for (v, a) in self.objs.iter_mut().zip(allocs) {
            free_addrs(a, v);
        }
    }
}

fn xorshift(s: &mut u64) -> u64 {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    *s
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
            let slub = Slub::new(size)?;
            let allocs: [&dyn Alloc; 2] = [&cache, &slub];
            let barrier = Arc::new(AtomicU32::new(0), GFP_KERNEL)?;
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
            let slub = Slub::new(size)?;
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
                let node = topology::cpu_to_node(first);
                let second = cpus
                    .iter()
                    .copied()
                    .find(|&c| topology::cpu_to_node(c) != node)
                    .or_else(|| cpus.iter().copied().find(|&c| c != first))
                    .ok_or(EINVAL)?;
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
            // Every CPU caches objects, then one shrink (rslab's `flush_all` of every CPU's
            // arrays, then empty slabs back) is timed. rslab only.
            let cache = RawCache::new(BENCH_CACHE, size, args)?;
            let mut per = KVec::<Cost>::new();
            for round in 0..warmup + rounds {
                let slub = Slub::new(size)?;
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
                // Without the CPU hotplug lock: shrinking takes it itself.
                let t0 = now();
                cache.shrink()?;
                if round >= warmup {
                    per.push(cost(t0, now(), 1), GFP_KERNEL)?;
                }
            }
            push(out, "rslab", summarize(&mut per))?;
        }
        Workload::Footprint => {
            if res.footprint.is_some() {
                return Err(EBUSY);
            }
            let mut fp = Footprint {
                objs: [KVec::new(), KVec::new()],
                rslab: RawCache::new(FOOTPRINT_CACHE, size, args)?,
                slub: Slub::new(size)?,
            };
            // About 2 MiB allocated, a random half freed: about 1 MiB live, scattered. On
            // failure, dropping `fp` frees what was allocated.
            fp.fill((2 << 20) / size.max(8))?;
            res.footprint = Some(fp);
        }
    }
    pr_info!(
        "bench {} {} n={}: done (sink {:x})\n",
        wname,
        size,
        n,
        SINK.load(Relaxed) & 0xf
    );
    Ok(())
}
