// SPDX-License-Identifier: GPL-2.0

//! Per-CPU local locks (`local_trylock_t`, `include/linux/local_lock.h`): what protects a CPU's
//! object arrays, as `cpu_sheaves->lock` protects SLUB's sheaves.
//!
//! On a kernel without `CONFIG_PREEMPT_RT` a local lock disables preemption and marks itself
//! taken; interrupts stay on. An interrupt handler that finds the lock of its CPU taken (it
//! interrupted the holder) gets `None` from [`PerCpu::try_lock`] and must take a path that does
//! not need the per-CPU data. No atomic read-modify-write and no interrupt flags: the cost of
//! `local_irq_save()`/`local_irq_restore()` (a `popf`, microcoded, tens of cycles; see
//! Documentation/rslab.rst, "Cost model") is gone from the fast path. On `CONFIG_PREEMPT_RT` the
//! lock is a per-CPU `spinlock_t` taken with migration disabled: its sections stay preemptible
//! and may take other `spinlock_t`s, which are sleeping locks there; `local_trylock()` fails in
//! hard interrupt context.
//!
//! On x86-64 without lockdep, `CONFIG_DEBUG_PREEMPT` or preempt tracing (and without `--cfg
//! rslab_generic`), this file does inline what `local_trylock()` and `local_unlock()` compile to
//! there: a `%gs:`-relative increment and decrement of `__preempt_count` (with the call to
//! `preempt_schedule()` when the decrement says a reschedule is due) and plain stores of the
//! `acquired` byte. Every other configuration calls the kernel's own macros through `helpers.c`,
//! so lockdep sees every acquisition, and `PREEMPT_RT` gets its real lock.

use super::percpu::PerCpu;
use core::{
    ffi::c_void,
    marker::PhantomData,
    ops::Deref, //
};
use kernel::{
    bindings,
    prelude::*,
    types::Opaque, //
};

/// A `local_trylock_t`, as a field of a per-CPU structure.
#[repr(transparent)]
pub(crate) struct LocalTrylock(Opaque<bindings::local_trylock_t>);

// SAFETY: all zeroes is a released `local_trylock_t` without lockdep (`acquired == 0`); with
// lockdep, or on PREEMPT_RT, [`PerCpu::new_locked`] runs `local_trylock_init()` on every copy
// before any use.
unsafe impl Zeroable for LocalTrylock {}

/// A per-CPU type whose copies each carry their [`LocalTrylock`].
///
/// # Safety
///
/// Implementers are `repr(C)` with a [`LocalTrylock`] as their first field (offset 0): the
/// `__percpu` pointer of the structure is then the `__percpu` pointer of its lock, which is what
/// the kernel's macros take.
pub(crate) unsafe trait LocalLocked: Zeroable + Sync {}

#[cfg(all(
    CONFIG_X86_64,
    not(rslab_generic),
    not(CONFIG_PREEMPT_RT),
    not(CONFIG_DEBUG_LOCK_ALLOC),
    not(CONFIG_DEBUG_PREEMPT),
    not(CONFIG_TRACE_PREEMPT_TOGGLE)
))]
mod arch {
    use core::{
        arch::asm,
        ffi::c_void,
        sync::atomic::{
            compiler_fence,
            Ordering::SeqCst, //
        },
    };
    use kernel::bindings;

    // In this configuration a `local_trylock_t` is its `acquired` byte alone.
    const _: () = assert!(core::mem::size_of::<bindings::local_trylock_t>() == 1);

    /// `preempt_disable()`: `__preempt_count` is a per-CPU `unsigned long` on x86-64.
    #[inline(always)]
    fn preempt_disable() {
        #[cfg(CONFIG_PREEMPT_COUNT)]
        // SAFETY: `__preempt_count` is an exported per-CPU variable; a `%gs:`-relative increment
        // changes this CPU's copy in one instruction, as `__preempt_count_add(1)` does. No
        // `nomem`: like C's `barrier()` after it, no access moves above it.
        unsafe {
            asm!(
                "inc qword ptr gs:[rip + {pc}]",
                pc = sym bindings::__preempt_count,
                options(nostack)
            )
        };
    }

    /// `preempt_enable()`: decrement, and reschedule if that reached zero with the folded
    /// need-resched bit clear (`__preempt_count_dec_and_test()`).
    #[inline(always)]
    fn preempt_enable() {
        #[cfg(CONFIG_PREEMPT_COUNT)]
        {
            let zero: u8;
            // SAFETY: as in `preempt_disable`, the matching decrement of this CPU's count; no
            // `nomem`: no access of the section moves below it.
            unsafe {
                asm!(
                    "dec qword ptr gs:[rip + {pc}]",
                    "setz {z}",
                    pc = sym bindings::__preempt_count,
                    z = out(reg_byte) zero,
                    options(nostack)
                )
            };
            #[cfg(CONFIG_PREEMPTION)]
            if zero != 0 {
                resched();
            }
            #[cfg(not(CONFIG_PREEMPTION))]
            let _ = zero;
        }
    }

    #[cold]
    #[inline(never)]
    #[cfg(all(CONFIG_PREEMPT_COUNT, CONFIG_PREEMPTION))]
    fn resched() {
        // SAFETY: the preemption count just dropped to zero with a reschedule pending, which
        // is when `preempt_enable()` calls `preempt_schedule()`; it may be called from any
        // context where the count is zero.
        unsafe { bindings::preempt_schedule() };
    }

    /// The `acquired` byte of the lock at `this` (this CPU's copy).
    #[inline(always)]
    fn acquired(this: *mut c_void) -> *mut u8 {
        this.cast()
    }

    /// `local_trylock()`: `this_cpu` maps the `__percpu` pointer to this CPU's copy once
    /// preemption is off. Returns this CPU's lock on success.
    #[inline(always)]
    pub(super) fn try_lock(
        pcpu: *mut c_void,
        this_cpu: impl Fn() -> *mut c_void,
    ) -> Option<*mut c_void> {
        preempt_disable();
        let this = this_cpu();
        // SAFETY: `this` is this CPU's initialised lock (caller), and preemption is off: only an
        // interrupt on this CPU may touch it meanwhile, and such an interrupt leaves it as it
        // found it before we resume.
        if unsafe { acquired(this).read_volatile() } != 0 {
            preempt_enable();
            return None;
        }
        // SAFETY: as above.
        unsafe { acquired(this).write_volatile(1) };
        // The section's accesses stay after the mark, in program order, which is all an
        // interrupt on this CPU can observe.
        compiler_fence(SeqCst);
        let _ = pcpu;
        Some(this)
    }

    /// `local_lock()`, in task context: no other task runs on this CPU while a holder has
    /// preemption off, and interrupts release what they take before returning.
    #[inline(always)]
    pub(super) fn lock(pcpu: *mut c_void, this_cpu: impl Fn() -> *mut c_void) -> *mut c_void {
        preempt_disable();
        let this = this_cpu();
        // SAFETY: as in `try_lock`.
        unsafe { acquired(this).write_volatile(1) };
        compiler_fence(SeqCst);
        let _ = pcpu;
        this
    }

    /// `local_unlock()` of the lock `this` returned by [`try_lock`] or [`lock`].
    #[inline(always)]
    pub(super) fn unlock(_pcpu: *mut c_void, this: *mut c_void) {
        compiler_fence(SeqCst);
        // SAFETY: `this` is this CPU's lock, held by us; preemption is still off.
        unsafe { acquired(this).write_volatile(0) };
        preempt_enable();
    }

    /// Nothing to initialise: a zeroed lock is released.
    pub(super) fn init(_this: *mut c_void) {}
}

#[cfg(not(all(
    CONFIG_X86_64,
    not(rslab_generic),
    not(CONFIG_PREEMPT_RT),
    not(CONFIG_DEBUG_LOCK_ALLOC),
    not(CONFIG_DEBUG_PREEMPT),
    not(CONFIG_TRACE_PREEMPT_TOGGLE)
)))]
mod arch {
    use core::ffi::c_void;

    unsafe extern "C" {
        fn rslab_helper_local_trylock(pcpu: *mut c_void) -> bool;
        fn rslab_helper_local_lock(pcpu: *mut c_void);
        fn rslab_helper_local_unlock(pcpu: *mut c_void);
        fn rslab_helper_local_trylock_init(this: *mut c_void);
    }

    /// `local_trylock()`; on success, `this_cpu` maps the `__percpu` pointer to this CPU's copy
    /// (preemption or migration is off by then).
    #[inline(always)]
    pub(super) fn try_lock(
        pcpu: *mut c_void,
        this_cpu: impl Fn() -> *mut c_void,
    ) -> Option<*mut c_void> {
        // SAFETY: `pcpu` is the `__percpu` pointer of an initialised `local_trylock_t` (caller);
        // `local_trylock()` may be called in any context but NMI.
        unsafe { rslab_helper_local_trylock(pcpu) }.then(this_cpu)
    }

    /// `local_lock()`, in task context.
    #[inline(always)]
    pub(super) fn lock(pcpu: *mut c_void, this_cpu: impl Fn() -> *mut c_void) -> *mut c_void {
        // SAFETY: as in `try_lock`; the caller is a task (it may wait, on PREEMPT_RT).
        unsafe { rslab_helper_local_lock(pcpu) };
        this_cpu()
    }

    /// `local_unlock()` of the lock taken on this CPU.
    #[inline(always)]
    pub(super) fn unlock(pcpu: *mut c_void, _this: *mut c_void) {
        // SAFETY: the caller holds this CPU's copy of the lock at `pcpu`, taken by `try_lock` or
        // `lock` on this CPU, which it has not left since.
        unsafe { rslab_helper_local_unlock(pcpu) };
    }

    /// `local_trylock_init()` of one CPU's copy.
    pub(super) fn init(this: *mut c_void) {
        // SAFETY: `this` is one CPU's zeroed copy, not yet in use (caller).
        unsafe { rslab_helper_local_trylock_init(this) };
    }
}

impl<T: LocalLocked> PerCpu<T> {
    /// Allocates a zeroed `T` for every possible CPU and initialises each copy's lock.
    pub(crate) fn new_locked() -> Result<Self> {
        let this = Self::new()?;
        for cpu in 0..super::topology::nr_cpu_ids() {
            if let Some(p) = this.copy_ptr(cpu) {
                // INVARIANT: every possible CPU's lock is initialised before `this` is shared.
                arch::init(p.cast_mut().cast());
            }
        }
        Ok(this)
    }

    /// This CPU's copy with its lock held, or `None` if the lock is taken already: the caller
    /// interrupted the holder on this CPU (or, on PREEMPT_RT, preempted it, or runs in hard
    /// interrupt context).
    #[inline(always)]
    pub(crate) fn try_lock(&self) -> Option<LocalGuard<'_, T>> {
        let this = arch::try_lock(self.as_percpu_ptr(), || {
            self.this_cpu_ptr().cast_mut().cast()
        })?;
        // INVARIANT: we hold this CPU's lock, at `this`.
        Some(LocalGuard {
            owner: self,
            this: this.cast::<T>(),
            _not_send: PhantomData,
        })
    }

    /// This CPU's copy with its lock held, waiting for it if it must (PREEMPT_RT). Task context
    /// only: an interrupt handler uses [`Self::try_lock`].
    pub(crate) fn lock(&self) -> LocalGuard<'_, T> {
        let this = arch::lock(self.as_percpu_ptr(), || {
            self.this_cpu_ptr().cast_mut().cast()
        });
        // INVARIANT: we hold this CPU's lock, at `this`.
        LocalGuard {
            owner: self,
            this: this.cast::<T>(),
            _not_send: PhantomData,
        }
    }
}

/// This CPU's copy of a [`PerCpu`], with its local lock held: the task stays on this CPU, and no
/// other holder of the lock runs until the guard is dropped.
///
/// # Invariants
///
/// `this` is this CPU's copy in `owner`, whose lock the guard holds.
pub(crate) struct LocalGuard<'a, T: LocalLocked> {
    owner: &'a PerCpu<T>,
    this: *const T,
    /// The lock belongs to this CPU: the guard may not move to another thread.
    _not_send: PhantomData<*mut ()>,
}

impl<T: LocalLocked> Deref for LocalGuard<'_, T> {
    type Target = T;

    #[inline(always)]
    fn deref(&self) -> &T {
        // SAFETY: `this` is a copy in `owner` (type invariant), alive and valid as long as
        // `owner` is borrowed.
        unsafe { &*self.this }
    }
}

impl<T: LocalLocked> Drop for LocalGuard<'_, T> {
    #[inline(always)]
    fn drop(&mut self) {
        arch::unlock(
            self.owner.as_percpu_ptr(),
            self.this.cast_mut().cast::<c_void>(),
        );
    }
}
