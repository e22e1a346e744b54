// SPDX-License-Identifier: GPL-2.0

//! Kernel threads bound to one CPU (`kthread_create_on_cpu`), stopped and reaped on drop.

use core::{
    ffi::c_void,
    ptr::NonNull, //
};
use kernel::{
    bindings,
    prelude::*,
    sync::Arc, //
};

/// What a thread runs: a value and the function called on it.
type Payload<T> = (T, fn(&T));

/// A running kernel thread bound to one CPU, executing `f(&data)` until asked to stop.
///
/// # Invariants
///
/// `task` is a kthread created by `kthread_create_on_cpu`, started, with a task reference held
/// by us; its `data` pointer points into `data`, which we keep alive until it has exited.
pub(crate) struct CpuThread<T: Send + Sync + 'static> {
    task: NonNull<bindings::task_struct>,
    data: Arc<Payload<T>>,
}

// SAFETY: the handle only stops the thread and drops an `Arc` of `Send + Sync` data.
unsafe impl<T: Send + Sync> Send for CpuThread<T> {}
// SAFETY: `&CpuThread` gives access to nothing: every method takes `self` or `&mut self`.
unsafe impl<T: Send + Sync> Sync for CpuThread<T> {}

/// Whether the current kthread was asked to stop.
pub(crate) fn should_stop() -> bool {
    // SAFETY: called from a kthread (the only callers are thread functions started here).
    unsafe { bindings::kthread_should_stop() }
}

/// Sleeps for `ms` milliseconds.
pub(crate) fn sleep_ms(ms: u32) {
    // SAFETY: process context (a kthread).
    unsafe { bindings::msleep(ms) };
}

impl<T: Send + Sync + 'static> CpuThread<T> {
    /// The C thread function.
    ///
    /// # Safety
    ///
    /// `data` must point to a live `Payload<T>` that stays alive until this function returns.
    unsafe extern "C" fn trampoline(data: *mut c_void) -> i32 {
        // SAFETY: `data` is the `Arc` payload kept alive by the handle until the thread exits
        // (type invariant).
        let (value, f) = unsafe { &*data.cast::<Payload<T>>() };
        f(value);
        0
    }

    /// Starts a thread named `rslab_stress/<cpu>` bound to `cpu`, running `f(&value)`.
    pub(crate) fn spawn(cpu: u32, value: T, f: fn(&T)) -> Result<Self> {
        let data = Arc::new((value, f), GFP_KERNEL)?;
        let raw = core::ptr::from_ref::<Payload<T>>(&data)
            .cast_mut()
            .cast::<c_void>();
        // SAFETY: `trampoline` matches `raw`'s type; the name format takes the CPU number.
        let task = unsafe {
            bindings::kthread_create_on_cpu(
                Some(Self::trampoline),
                raw,
                cpu,
                c"rslab_stress/%u".as_char_ptr(),
            )
        };
        // `IS_ERR()`: the last page of the address space holds error codes.
        if task.is_null() || task as usize >= (-4095isize) as usize {
            return Err(ENOMEM);
        }
        // SAFETY: `task` is a valid new kthread: take a reference for `kthread_stop`, then let
        // it run.
        unsafe {
            bindings::get_task_struct(task);
            bindings::wake_up_process(task);
        }
        Ok(Self {
            task: NonNull::new(task).ok_or(ENOMEM)?,
            data,
        })
    }
}

impl<T: Send + Sync + 'static> Drop for CpuThread<T> {
    fn drop(&mut self) {
        // SAFETY: we hold a reference to the task (invariant); `kthread_stop` waits for it to
        // exit (or makes sure its function never runs), after which `data` is unused.
        unsafe {
            bindings::kthread_stop(self.task.as_ptr());
            bindings::put_task_struct(self.task.as_ptr());
        }
        let _ = &self.data;
    }
}
