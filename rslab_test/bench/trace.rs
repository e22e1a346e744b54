// SPDX-License-Identifier: GPL-2.0

//! `bench trace <workload> <size> [n=<n>]`: a few steady-state operations of each allocator
//! between two marker functions, for make bench's cost model (`scripts/costmodel/`).
//!
//! Nothing is timed here. A debugger attached to the guest (QEMU's gdbstub) finds the markers
//! and the flag below in `/proc/kallsyms`, sets the flag, and at each
//! [`rslab_test_trace_begin`] records the instructions executed inside every call into an
//! allocator (`rslab_alloc()`, `kmem_cache_alloc_noprof()`, ...) until
//! [`rslab_test_trace_end`]. The command first waits (at most a minute) for that flag, then
//! warms both allocators up with the benchmark's own rounds on the same CPU, so that the traced
//! operations find the state a measured round finds.

use super::{
    jobs::{
        cross_round_marked,
        partner_cpu, //
    },
    rounds::{
        round_batch,
        round_bulk,
        round_pair, //
    },
    under_test::{
        erase,
        slub,
        Alloc, //
    },
    BATCH_OBJECTS,
    BENCH_CACHE,
    PAIR_OPS, //
};
use crate::{
    cmd::Traced,
    rslab::{
        Args,
        RawCache, //
    },
    sys::{
        cpu_work::{
            CpuWork,
            CpuWorkFn,
            Wq, //
        },
        cpuhp::CpusReadGuard,
        topology, //
    },
};
use core::sync::atomic::{
    AtomicU32,
    AtomicU64,
    Ordering, //
};
use kernel::{
    prelude::*,
    time::{
        delay::fsleep,
        Delta, //
    },
};

/// Set to 1 by the debugger once its breakpoints are in place; `bench trace` waits for it.
#[no_mangle]
static RSLAB_TEST_TRACE_ARMED: AtomicU32 = AtomicU32::new(0);

/// Written by the markers: a side effect, so that no call to them is optimised away.
static MARKS: AtomicU64 = AtomicU64::new(0);

/// Pairs traced per allocator by `bench trace pair`.
const TRACE_PAIRS: u64 = 8;
/// Warm-up rounds of each allocator before the traced operations.
const TRACE_WARMUP: u32 = 3;
/// Polls of [`RSLAB_TEST_TRACE_ARMED`], 10 ms apart: a minute.
const ARM_POLLS: u32 = 6000;

/// Start of a traced region, for the debugger: `kind` (1 pair, 2 batch, 3 bulk, 4 cross),
/// object `size`, `n`, `which` allocator (0 rslab, 1 SLUB), and the `objects` whose alloc and
/// free the region counts (the free half of `cross` counts none: its alloc half counted them).
#[no_mangle]
#[inline(never)]
extern "C" fn rslab_test_trace_begin(kind: u64, size: u64, n: u64, which: u64, objects: u64) {
    MARKS.fetch_add(kind ^ size ^ n ^ which ^ objects, Ordering::Relaxed);
}

/// End of a traced region.
#[no_mangle]
#[inline(never)]
extern "C" fn rslab_test_trace_end() {
    MARKS.fetch_add(1, Ordering::Relaxed);
}

/// The arguments of [`rslab_test_trace_begin`] for one region.
#[derive(Clone, Copy)]
pub(super) struct Mark {
    kind: u64,
    size: u64,
    n: u64,
    which: u64,
    objects: u64,
}

impl Mark {
    /// The same region, counting no objects (the free half of `cross`).
    pub(super) fn free_half(self) -> Self {
        Self { objects: 0, ..self }
    }

    /// Runs `f` between the two markers.
    pub(super) fn around<R>(&self, f: impl FnOnce() -> R) -> R {
        rslab_test_trace_begin(self.kind, self.size, self.n, self.which, self.objects);
        let r = f();
        rslab_test_trace_end();
        r
    }
}

fn kind(t: Traced) -> u64 {
    match t {
        Traced::Pair => 1,
        Traced::Batch => 2,
        Traced::Bulk => 3,
        Traced::Cross => 4,
    }
}

/// The job of `pair`, `batch` and `bulk`: warm-up rounds, then the traced operations, on one
/// CPU.
struct TraceJob {
    traced: Traced,
    allocs: [*const dyn Alloc; 2],
    size: usize,
    n: usize,
    failed: AtomicU32,
}

// SAFETY: the only fields that are not `Send` are the allocator pointers, and the allocators
// are `Sync` and outlive the job (`run` flushes it before dropping them).
unsafe impl Send for TraceJob {}
// SAFETY: shared access reads the allocators (`Sync`, alive as for `Send`) and an atomic.
unsafe impl Sync for TraceJob {}

impl TraceJob {
    /// One round of the workload on `a`, of `objects` objects (pairs for `pair`).
    fn round(
        &self,
        a: &dyn Alloc,
        held: &mut KVec<core::ptr::NonNull<u8>>,
        buf: &mut [*mut u8],
        objects: u64,
    ) -> bool {
        match self.traced {
            Traced::Pair => round_pair(a, objects).is_some(),
            Traced::Bulk => round_bulk(a, buf, objects).is_some(),
            _ => round_batch(a, held, self.n, objects).is_some(),
        }
    }
}

impl CpuWorkFn for TraceJob {
    fn run(&self, _cpu: u32) {
        let n = self.n.max(1);
        let mut held = KVec::new();
        let mut buf = KVec::new();
        if held.reserve(n, GFP_KERNEL).is_err()
            || buf
                .extend_with(n, core::ptr::null_mut::<u8>(), GFP_KERNEL)
                .is_err()
        {
            self.failed.store(1, Ordering::Relaxed);
            return;
        }
        let warm = if self.traced == Traced::Pair {
            PAIR_OPS
        } else {
            BATCH_OBJECTS
        };
        let traced = if self.traced == Traced::Pair {
            TRACE_PAIRS
        } else {
            n as u64
        };
        for _ in 0..TRACE_WARMUP {
            for &a in self.allocs.iter() {
                // SAFETY: `a` comes from a `&dyn Alloc` whose allocator outlives the job (`run`
                // flushes it before dropping the allocators), and is only shared (`Sync`).
                if !self.round(unsafe { &*a }, &mut held, &mut buf, warm) {
                    self.failed.store(1, Ordering::Relaxed);
                    return;
                }
            }
        }
        for (which, &a) in self.allocs.iter().enumerate() {
            let mark = Mark {
                kind: kind(self.traced),
                size: self.size as u64,
                n: n as u64,
                which: which as u64,
                objects: traced,
            };
            // SAFETY: `a` comes from a `&dyn Alloc` whose allocator outlives the job (`run`
            // flushes it before dropping the allocators), and is only shared (`Sync`).
            let a = unsafe { &*a };
            if !mark.around(|| self.round(a, &mut held, &mut buf, traced)) {
                self.failed.store(1, Ordering::Relaxed);
                return;
            }
        }
    }
}

/// Waits for the debugger to set [`RSLAB_TEST_TRACE_ARMED`].
fn wait_armed() -> Result {
    for _ in 0..ARM_POLLS {
        if RSLAB_TEST_TRACE_ARMED.load(Ordering::Acquire) != 0 {
            return Ok(());
        }
        fsleep(Delta::from_millis(10));
    }
    Err(ETIMEDOUT)
}

/// Runs `bench trace`: waits for the debugger, then traces `traced` for both allocators.
pub(super) fn run(wq: &Wq, traced: Traced, size: usize, n: u32) -> Result {
    let cache = RawCache::new(BENCH_CACHE, size, Args { align: 8, flags: 0 })?;
    let slub = slub(size)?;
    let allocs: [&dyn Alloc; 2] = [&cache, &slub];
    wait_armed()?;
    let _cpus = CpusReadGuard::lock();
    let mut cpus = KVec::new();
    for cpu in 0..topology::nr_cpu_ids() {
        if topology::cpu_online(cpu) {
            cpus.push(cpu, GFP_KERNEL)?;
        }
    }
    let first = *cpus.first().ok_or(EINVAL)?;
    if traced != Traced::Cross {
        let job = TraceJob {
            traced,
            allocs: [erase(allocs[0]), erase(allocs[1])],
            size,
            n: n as usize,
            failed: AtomicU32::new(0),
        };
        let w = KBox::pin_init(
            CpuWork::new(
                first,
                job,
                c"rslab_bench_trace",
                kernel::static_lock_class!(),
            ),
            GFP_KERNEL,
        )?;
        w.queue(wq);
        w.flush();
        return if w.data.failed.load(Ordering::Relaxed) != 0 {
            Err(ENOMEM)
        } else {
            Ok(())
        };
    }
    // `cross`: allocated on the first CPU, freed on one of another node if there is one.
    let second = partner_cpu(&cpus, first)?;
    let n = n as usize;
    let mut v = KVec::new();
    v.reserve(n, GFP_KERNEL)?;
    let store = KBox::pin_init(kernel::new_spinlock!(v, "rslab_trace_store"), GFP_KERNEL)?;
    for _ in 0..TRACE_WARMUP {
        for &a in allocs.iter() {
            cross_round_marked(a, n, [first, second], &store, wq, None)?;
        }
    }
    for (which, &a) in allocs.iter().enumerate() {
        let mark = Mark {
            kind: kind(traced),
            size: size as u64,
            n: n as u64,
            which: which as u64,
            objects: n as u64,
        };
        cross_round_marked(a, n, [first, second], &store, wq, Some(mark))?;
    }
    Ok(())
}
