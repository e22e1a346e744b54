// SPDX-License-Identifier: GPL-2.0

//! `flush_all`: every CPU's arrays of a cache flushed (or checked) by a work item on that CPU,
//! under the flush mutex.
//!
//! Lock order (see the crate root): `cpus_read_lock` -> flush mutex. The work items are per-CPU
//! and queued with `queue_work_on()` to their own CPU only: an array is touched by its own CPU
//! alone, and a work item that finds itself elsewhere (the bug class of commit a9f2a846f050,
//! "mm, slab: reschedule cache_reap() on the same CPU") refuses, counts and warns. Online CPUs
//! that hold nothing are skipped; offline CPUs' arrays are flushed right here, under the hotplug
//! lock that keeps them offline, the way SLUB's `flush_all_cpus_locked()` leaves dead CPUs to
//! `slub_cpu_dead()`.

use crate::{
    cache::Cache,
    sys::{
        cpu_work::{
            CpuWork,
            CpuWorkFn,
            Wq, //
        },
        cpuhp::{
            self,
            CpusReadGuard, //
        },
        topology, //
    },
};
use core::{
    pin::Pin,
    ptr::null_mut, //
};
use kernel::{
    new_mutex,
    prelude::*,
    sync::{
        atomic::{
            Acquire,
            Atomic,
            Relaxed,
            Release, //
        },
        Mutex, //
    },
};

/// What a per-CPU work item does to one cache on its CPU.
#[derive(Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub(crate) enum CpuOp {
    Flush = 1,
    Validate = 2,
}

/// A request to one CPU, filled in under the flush mutex before the work is queued.
pub(crate) struct CpuRequest {
    cache: Atomic<*mut Cache>,
    op: Atomic<u32>,
    /// Objects found (validate) or drained (flush).
    objects: Atomic<usize>,
    failed: Atomic<u32>,
    /// Times this work ran on a CPU other than its own (must stay 0).
    pub(crate) wrong_cpu: Atomic<u32>,
}

impl Default for CpuRequest {
    fn default() -> Self {
        Self {
            cache: Atomic::new(null_mut()),
            op: Atomic::new(0),
            objects: Atomic::new(0),
            failed: Atomic::new(0),
            wrong_cpu: Atomic::new(0),
        }
    }
}

impl CpuWorkFn for CpuRequest {
    fn run(&self, cpu: u32) {
        let cache = self.cache.load(Acquire);
        if cache.is_null() {
            return;
        }
        // SAFETY: `flush_all` keeps the cache alive until this work has finished (it waits
        // for it before returning) and clears the pointer afterwards.
        let cache = unsafe { &*cache };
        if topology::this_cpu() != cpu {
            // Never touch another CPU's array (the bug class of commit a9f2a846f050, "mm, slab:
            // reschedule cache_reap() on the same CPU"): count it and refuse.
            self.wrong_cpu.fetch_add(1, Relaxed);
            self.failed.store(1, Relaxed);
            kernel::warn_on!(true);
            return;
        }
        match self.op.load(Relaxed) {
            x if x == CpuOp::Flush as u32 => {
                self.objects.store(cache.flush_local(), Relaxed);
            }
            _ => match cache.validate_local() {
                Ok(n) => self.objects.store(n, Relaxed),
                Err(f) => {
                    pr_err!("validate {:?}: cpu {}: {}\n", cache.name, cpu, f);
                    self.failed.store(1, Relaxed);
                }
            },
        }
    }
}

/// Flushes or checks every CPU's arrays of a cache through per-CPU work items.
#[pin_data]
pub(crate) struct Flusher {
    /// The flush mutex.
    #[pin]
    lock: Mutex<()>,
    works: KVec<Pin<KBox<CpuWork<CpuRequest>>>>,
    wq: Wq,
}

impl Flusher {
    /// One work item per possible CPU, on a new per-CPU workqueue `wq_name`.
    pub(crate) fn new(wq_name: &'static CStr) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            lock <- new_mutex!((), "rslab_flush_mutex"),
            works: {
                let n = topology::nr_cpu_ids();
                let mut v = KVec::with_capacity(n as usize, GFP_KERNEL)?;
                for cpu in 0..n {
                    let w = KBox::pin_init(
                        CpuWork::new(cpu, CpuRequest::default(), c"rslab_cpu_work", kernel::static_lock_class!()),
                        GFP_KERNEL,
                    )?;
                    v.push(w, GFP_KERNEL)?;
                }
                v
            },
            wq: Wq::new(wq_name)?,
        }? Error)
    }

    /// rslab's per-CPU workqueue.
    pub(crate) fn wq(&self) -> &Wq {
        &self.wq
    }

    /// `flush_all` for a caller that does not hold the CPU hotplug lock.
    pub(crate) fn run(&self, cache: &Cache, op: CpuOp) -> Result<usize> {
        let _cpus = CpusReadGuard::lock();
        self.run_cpus_locked(cache, op)
    }

    /// `flush_all` for a caller that holds the CPU hotplug lock (hotplug callbacks, memory
    /// notifiers). Queues work only to online CPUs that cache something, and waits for it;
    /// offline CPUs' arrays are handled here (they cannot come online: the lock is held).
    /// Returns the number of objects drained or found.
    pub(crate) fn run_cpus_locked(&self, cache: &Cache, op: CpuOp) -> Result<usize> {
        cpuhp::assert_cpus_held();
        let _flush = self.lock.lock();
        let mut total = 0;
        let mut failed = false;
        for (cpu, w) in self.works.iter().enumerate() {
            let cpu = cpu as u32;
            let offline = cpuhp::with_offline_cpu(cpu, |offline| match op {
                CpuOp::Flush => Ok(cache.flush_offline(offline)),
                CpuOp::Validate => cache.validate_offline(offline),
            });
            if let Some(r) = offline {
                match r {
                    Ok(n) => total += n,
                    Err(f) => {
                        pr_err!("validate {:?}: offline cpu {}: {}\n", cache.name, cpu, f);
                        failed = true;
                    }
                }
                continue;
            }
            if op == CpuOp::Flush && cache.held_hint(cpu) == 0 {
                continue;
            }
            let d = &w.data;
            d.objects.store(0, Relaxed);
            d.failed.store(0, Relaxed);
            d.op.store(op as u32, Relaxed);
            d.cache
                .store(core::ptr::from_ref(cache).cast_mut(), Release);
            w.queue(&self.wq);
        }
        for w in self.works.iter() {
            let d = &w.data;
            if d.cache.load(Relaxed).is_null() {
                continue;
            }
            w.flush();
            d.cache.store(null_mut(), Relaxed);
            total += d.objects.load(Relaxed);
            failed |= d.failed.load(Relaxed) != 0;
        }
        if failed {
            return Err(EUCLEAN);
        }
        Ok(total)
    }
}
