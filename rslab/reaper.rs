// SPDX-License-Identifier: GPL-2.0

//! The per-CPU reaper. SLAB's `cache_reap()` once re-armed itself with `schedule_delayed_work()`
//! (`WORK_CPU_UNBOUND`), so it could run on another CPU and touch that CPU's array cache or the
//! wrong node's lists; commit a9f2a846f050 ("mm, slab: reschedule cache_reap() on the same CPU")
//! pinned it. rslab's reaper can only be queued on its own CPU.
//!
//! One delayed work per CPU, which remembers its CPU and is re-armed every time with
//! `queue_delayed_work_on(<its cpu>, ...)` on rslab's per-CPU workqueue: never an unbound queue.
//! If it ever runs on another CPU it warns once, counts it and touches nothing. On its CPU it
//! only *tries* the slab mutex (and skips the round if it is taken), then gives back objects
//! that sat unused in that CPU's arrays and empty slabs of that CPU's node beyond one.
//! It is started by the CPU-online callback and stopped synchronously by the CPU-offline one,
//! which runs before the workqueue core unbinds the CPU's workers.

use crate::stats::Counter;
use crate::{
    registry,
    sys::cpu_work::{
        CpuDelayedWork,
        CpuWorkFn,
        Wq, //
    },
    sys::topology, //
};
use kernel::{
    prelude::*,
    sync::atomic::{
        Atomic,
        Relaxed, //
    },
};

/// State of one CPU's reaper.
#[derive(Default)]
pub(crate) struct ReapState {
    pub(crate) runs: Counter,
    pub(crate) wrong_cpu: Counter,
    /// Rounds skipped because the slab mutex was taken.
    pub(crate) skipped: Counter,
    /// Whether the work is enabled and queued (between online and offline).
    armed: ArmedFlag,
}

/// Whether a reaper is enabled and queued (between its CPU's online and offline callbacks).
struct ArmedFlag(Atomic<bool>);

impl Default for ArmedFlag {
    fn default() -> Self {
        Self(Atomic::new(false))
    }
}

impl CpuWorkFn for ReapState {
    fn run(&self, cpu: u32) {
        self.runs.inc();
        let Some(r) = registry::global() else { return };
        let here = topology::this_cpu();
        if here != cpu {
            self.wrong_cpu.inc();
            if self.wrong_cpu.get() == 1 {
                pr_warn!("reaper of CPU {} ran on CPU {}\n", cpu, here);
                kernel::warn_on!(true);
            }
        } else if let Some(caches) = r.try_lock_caches() {
            for e in caches.iter() {
                e.cache.reap_local();
            }
        } else {
            self.skipped.inc();
        }
        r.reapers.rearm(cpu, r.wq());
    }
}

/// Every CPU's reaper.
pub(crate) struct Reapers {
    works: KVec<Pin<KBox<CpuDelayedWork<ReapState>>>>,
    /// Interval in jiffies.
    interval: kernel::ffi::c_ulong,
}

impl Reapers {
    /// One reaper per possible CPU, all stopped, running every `interval_ms` once started.
    pub(crate) fn new(interval_ms: u32) -> Result<Self> {
        let n = topology::nr_cpu_ids();
        let mut works = KVec::with_capacity(n as usize, GFP_KERNEL)?;
        for cpu in 0..n {
            let w = KBox::pin_init(
                CpuDelayedWork::new(
                    cpu,
                    ReapState::default(),
                    c"rslab_reaper",
                    kernel::static_lock_class!(),
                    kernel::static_lock_class!(),
                ),
                GFP_KERNEL,
            )?;
            // Disabled until its CPU's online callback enables it.
            w.disable_sync();
            works.push(w, GFP_KERNEL)?;
        }
        let interval = kernel::time::msecs_to_jiffies(interval_ms);
        Ok(Self { works, interval })
    }

    /// Starts CPU `cpu`'s reaper (its online callback). Idempotent.
    pub(crate) fn start(&self, cpu: u32, wq: &Wq) {
        let Some(w) = self.works.get(cpu as usize) else {
            return;
        };
        if !w.data.armed.0.xchg(true, Relaxed) {
            w.enable();
            w.queue(wq, self.interval);
        }
    }

    /// Stops CPU `cpu`'s reaper and waits for a running round (its offline callback).
    /// Idempotent.
    pub(crate) fn stop(&self, cpu: u32) {
        let Some(w) = self.works.get(cpu as usize) else {
            return;
        };
        if w.data.armed.0.xchg(false, Relaxed) {
            w.disable_sync();
        }
    }

    /// Re-arms CPU `cpu`'s reaper, always on that CPU.
    fn rearm(&self, cpu: u32, wq: &Wq) {
        if let Some(w) = self.works.get(cpu as usize) {
            // A disabled work (its CPU going offline) is not queued.
            w.queue(wq, self.interval);
        }
    }

    /// `reaper` in debugfs: one line per online CPU.
    pub(crate) fn show(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        for w in self.works.iter() {
            if topology::cpu_online(w.cpu()) {
                let d = &w.data;
                writeln!(
                    f,
                    "cpu={} runs={} wrong_cpu={} skipped={}",
                    w.cpu(),
                    d.runs.get(),
                    d.wrong_cpu.get(),
                    d.skipped.get()
                )?;
            }
        }
        Ok(())
    }
}
