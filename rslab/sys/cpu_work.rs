// SPDX-License-Identifier: GPL-2.0

//! Work items bound to one CPU: rslab's only way of running code on a given CPU.
//!
//! `kernel::workqueue` queues on `WORK_CPU_UNBOUND`, which may run anywhere (SLAB's reaper did
//! that until commit a9f2a846f050, "mm, slab: reschedule cache_reap() on the same CPU"), so this
//! wrapper calls `queue_work_on(cpu, ...)` directly, on rslab's own per-CPU workqueue.

use core::{
    marker::PhantomPinned,
    pin::Pin,
    ptr::NonNull, //
};
use kernel::{
    bindings,
    prelude::*,
    str::CStr,
    sync::LockClassKey,
    types::Opaque, //
};

/// rslab's workqueue: per-CPU (`WQ_PERCPU`) and usable under memory reclaim (`WQ_MEM_RECLAIM`).
///
/// # Invariants
///
/// `ptr` is a live workqueue, destroyed (after draining) on drop.
pub(crate) struct Wq {
    ptr: NonNull<bindings::workqueue_struct>,
}

// SAFETY: workqueues may be used from any thread.
unsafe impl Send for Wq {}
// SAFETY: queueing is thread-safe.
unsafe impl Sync for Wq {}

impl Wq {
    /// Creates the workqueue `name`.
    pub(crate) fn new(name: &'static CStr) -> Result<Self> {
        let flags = bindings::wq_flags_WQ_PERCPU | bindings::wq_flags_WQ_MEM_RECLAIM;
        // SAFETY: `name` is a static C string used as the format, with no arguments.
        let ptr = unsafe { bindings::alloc_workqueue_noprof(name.as_char_ptr(), flags, 0) };
        Ok(Self {
            ptr: NonNull::new(ptr).ok_or(ENOMEM)?,
        })
    }
}

impl Drop for Wq {
    fn drop(&mut self) {
        // SAFETY: live workqueue (invariant); `destroy_workqueue` drains it first.
        unsafe { bindings::destroy_workqueue(self.ptr.as_ptr()) };
    }
}

/// What a [`CpuWork`] does when it runs.
pub(crate) trait CpuWorkFn: Send + Sync {
    /// Called on CPU `cpu`, from a worker bound to it.
    fn run(&self, cpu: u32);
}

/// A work item that only ever runs on CPU `cpu`.
///
/// # Invariants
///
/// `work` was initialised with [`Self::run_raw`] as its function and is only queued with
/// `queue_work_on(self.cpu, ...)`.
#[pin_data(PinnedDrop)]
pub(crate) struct CpuWork<T: CpuWorkFn> {
    #[pin]
    work: Opaque<bindings::work_struct>,
    cpu: u32,
    /// The work's state, shared with whoever queues it.
    pub(crate) data: T,
    #[pin]
    _pin: PhantomPinned,
}

// SAFETY: the `work_struct` is only handed to the workqueue core, which synchronises its use;
// `T` is `Send + Sync` (`CpuWorkFn` bound).
unsafe impl<T: CpuWorkFn> Send for CpuWork<T> {}
// SAFETY: shared access only queues or flushes the work (the workqueue core synchronises
// both) or reads `data`, which is `Sync`.
unsafe impl<T: CpuWorkFn> Sync for CpuWork<T> {}

impl<T: CpuWorkFn> CpuWork<T> {
    /// A work item for `cpu` carrying `data`.
    pub(crate) fn new(
        cpu: u32,
        data: T,
        name: &'static CStr,
        key: Pin<&'static LockClassKey>,
    ) -> impl PinInit<Self> {
        pin_init!(Self {
            work <- Opaque::ffi_init(|slot| {
                // SAFETY: `slot` is the work item's storage; `run_raw` expects exactly this
                // container, as the invariant records.
                unsafe {
                    bindings::init_work_with_key(slot, Some(Self::run_raw), false, name.as_char_ptr(), key.as_ptr())
                }
            }),
            cpu,
            data,
            _pin: PhantomPinned,
        })
    }

    /// The C work function.
    ///
    /// # Safety
    ///
    /// `work` must be the `work` field of a live, pinned `CpuWork<T>`: the workqueue core
    /// guarantees it, as the work was initialised with this function (type invariant).
    unsafe extern "C" fn run_raw(work: *mut bindings::work_struct) {
        // SAFETY: `work` is the `work` field of a pinned `CpuWork<T>` (invariant), alive while
        // queued because it is cancelled before it is dropped.
        let this = unsafe { &*kernel::container_of!(Opaque::cast_from(work), Self, work) };
        this.data.run(this.cpu);
    }

    /// Queues the work on its CPU, on `wq`. Returns `false` if it was already pending.
    pub(crate) fn queue(&self, wq: &Wq) -> bool {
        // SAFETY: `work` is initialised and pinned; `wq` is live.
        unsafe { bindings::queue_work_on(self.cpu as i32, wq.ptr.as_ptr(), self.work.get()) }
    }

    /// Waits until the last queued instance has finished running.
    pub(crate) fn flush(&self) {
        // SAFETY: `work` is initialised and pinned.
        unsafe { bindings::flush_work(self.work.get()) };
    }
}

#[pinned_drop]
impl<T: CpuWorkFn> PinnedDrop for CpuWork<T> {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: `work` is initialised; after this it is neither queued nor running.
        unsafe { bindings::cancel_work_sync(self.work.get()) };
    }
}

/// A delayed work item that only ever runs on CPU `cpu`: queued with
/// `queue_delayed_work_on(cpu, ...)` every time, including when it re-arms itself (see
/// commit a9f2a846f050, "mm, slab: reschedule cache_reap() on the same CPU").
///
/// # Invariants
///
/// `dwork` was initialised with [`Self::run_raw`] as its function and an irq-safe timer, and is
/// only queued with `queue_delayed_work_on(self.cpu, ...)`.
#[pin_data(PinnedDrop)]
pub(crate) struct CpuDelayedWork<T: CpuWorkFn> {
    #[pin]
    dwork: Opaque<bindings::delayed_work>,
    cpu: u32,
    /// The work's state.
    pub(crate) data: T,
    #[pin]
    _pin: PhantomPinned,
}

// SAFETY: as for `CpuWork`.
unsafe impl<T: CpuWorkFn> Send for CpuDelayedWork<T> {}
// SAFETY: as for `CpuWork`.
unsafe impl<T: CpuWorkFn> Sync for CpuDelayedWork<T> {}

impl<T: CpuWorkFn> CpuDelayedWork<T> {
    /// A delayed work item for `cpu` carrying `data`.
    pub(crate) fn new(
        cpu: u32,
        data: T,
        name: &'static CStr,
        key: Pin<&'static LockClassKey>,
        timer_key: Pin<&'static LockClassKey>,
    ) -> impl PinInit<Self> {
        pin_init!(Self {
            dwork <- Opaque::ffi_init(|slot: *mut bindings::delayed_work| {
                // SAFETY: `slot` is the delayed work's storage; `run_raw` expects exactly this
                // container; the timer is the one `delayed_work` requires (irq-safe, calling
                // `delayed_work_timer_fn`), as `kernel::workqueue::DelayedWork` sets it up.
                unsafe {
                    bindings::init_work_with_key(
                        core::ptr::addr_of_mut!((*slot).work),
                        Some(Self::run_raw),
                        false,
                        name.as_char_ptr(),
                        key.as_ptr(),
                    );
                    bindings::timer_init_key(
                        core::ptr::addr_of_mut!((*slot).timer),
                        Some(bindings::delayed_work_timer_fn),
                        bindings::TIMER_IRQSAFE,
                        name.as_char_ptr(),
                        timer_key.as_ptr(),
                    );
                }
            }),
            cpu,
            data,
            _pin: PhantomPinned,
        })
    }

    /// The C work function.
    ///
    /// # Safety
    ///
    /// `work` must be the `work` field of the `delayed_work` of a live, pinned
    /// `CpuDelayedWork<T>`, as the workqueue core guarantees for this function (type invariant).
    unsafe extern "C" fn run_raw(work: *mut bindings::work_struct) {
        // SAFETY: `work` is the first field of a `delayed_work` (`to_delayed_work()`), which is
        // the `dwork` field of a live `Self`.
        let this = unsafe {
            let dwork = kernel::container_of!(work, bindings::delayed_work, work);
            &*kernel::container_of!(Opaque::cast_from(dwork), Self, dwork)
        };
        this.data.run(this.cpu);
    }

    /// The CPU this work belongs to.
    pub(crate) fn cpu(&self) -> u32 {
        self.cpu
    }

    /// Queues the work on its own CPU after `delay` jiffies. Returns `false` if it was already
    /// pending or is disabled.
    pub(crate) fn queue(&self, wq: &Wq, delay: kernel::ffi::c_ulong) -> bool {
        // SAFETY: `dwork` is initialised and pinned; `wq` is live.
        unsafe {
            bindings::queue_delayed_work_on(
                self.cpu as i32,
                wq.ptr.as_ptr(),
                self.dwork.get(),
                delay,
            )
        }
    }

    /// Cancels the work, waits for a running instance, and keeps it from being queued again
    /// until [`Self::enable`].
    pub(crate) fn disable_sync(&self) {
        // SAFETY: `dwork` is initialised and pinned.
        unsafe { bindings::disable_delayed_work_sync(self.dwork.get()) };
    }

    /// Allows queueing again after [`Self::disable_sync`].
    pub(crate) fn enable(&self) {
        // SAFETY: `dwork` is initialised and pinned.
        unsafe { bindings::enable_delayed_work(self.dwork.get()) };
    }
}

#[pinned_drop]
impl<T: CpuWorkFn> PinnedDrop for CpuDelayedWork<T> {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: `dwork` is initialised; afterwards it is neither queued nor running.
        unsafe { bindings::disable_delayed_work_sync(self.dwork.get()) };
    }
}
