// SPDX-License-Identifier: GPL-2.0

//! Per-CPU memory (`alloc_percpu()`): one `T` per possible CPU, each in that CPU's unit of the
//! per-CPU area, which the kernel places on the CPU's own node where it can (the first chunk is
//! NUMA-aware on x86-64, and later chunks take each CPU's pages from its node). A CPU reaches
//! its own copy with one `%gs:`-relative load of `this_cpu_off` on x86-64, as `this_cpu_ptr()`
//! compiles to there; every other configuration, and `--cfg rslab_generic`, asks the kernel's
//! `raw_cpu_ptr()` and `per_cpu_ptr()` through `helpers.c`.

use super::topology;
use core::{
    ffi::c_void,
    marker::PhantomData,
    ptr::NonNull, //
};
use kernel::{
    bindings,
    prelude::*, //
};

#[cfg(all(CONFIG_X86_64, not(rslab_generic)))]
mod arch {
    use core::arch::asm;
    use kernel::bindings;

    /// `this_cpu_ptr(p)`: `p` plus this CPU's per-CPU offset (`this_cpu_off`).
    #[inline(always)]
    pub(super) fn this_cpu_ptr(p: usize) -> usize {
        let off: usize;
        // SAFETY: `this_cpu_off` is an exported per-CPU variable holding this CPU's per-CPU
        // offset; a `%gs:`-relative load reads this CPU's copy, as `this_cpu_read(this_cpu_off)`
        // does.
        unsafe {
            asm!(
                "mov {0}, qword ptr gs:[rip + {1}]",
                out(reg) off,
                sym bindings::this_cpu_off,
                options(nostack, readonly, preserves_flags)
            )
        };
        p.wrapping_add(off)
    }

    /// `per_cpu_ptr(p, cpu)` for a possible `cpu`.
    #[inline]
    pub(super) fn per_cpu_ptr(p: usize, cpu: u32) -> usize {
        // SAFETY: `cpu` is a possible CPU (the caller checked), so its entry of
        // `__per_cpu_offset`, set once at boot, is the offset of its per-CPU area.
        let off = unsafe { bindings::__per_cpu_offset[cpu as usize] };
        p.wrapping_add(off)
    }
}

#[cfg(not(all(CONFIG_X86_64, not(rslab_generic))))]
mod arch {
    use core::ffi::c_void;

    unsafe extern "C" {
        fn rslab_helper_this_cpu_ptr(p: *mut c_void) -> *mut c_void;
        fn rslab_helper_per_cpu_ptr(p: *mut c_void, cpu: u32) -> *mut c_void;
    }

    /// `this_cpu_ptr(p)`.
    #[inline(always)]
    pub(super) fn this_cpu_ptr(p: usize) -> usize {
        // SAFETY: `raw_cpu_ptr()` only adds this CPU's per-CPU offset to `p`.
        unsafe { rslab_helper_this_cpu_ptr(p as *mut c_void) as usize }
    }

    /// `per_cpu_ptr(p, cpu)` for a possible `cpu`.
    #[inline]
    pub(super) fn per_cpu_ptr(p: usize, cpu: u32) -> usize {
        // SAFETY: `per_cpu_ptr()` only adds the per-CPU offset of `cpu`, a possible CPU (the
        // caller checked), to `p`.
        unsafe { rslab_helper_per_cpu_ptr(p as *mut c_void, cpu) as usize }
    }
}

/// A `T` for every possible CPU in per-CPU memory, zeroed at allocation, freed on drop (without
/// dropping the `T`s: `T` holds no resources of its own to release).
///
/// # Invariants
///
/// `ptr` is a `__percpu` pointer from `pcpu_alloc_noprof()` for `size_of::<T>()` bytes aligned
/// to `align_of::<T>()`; every possible CPU's copy is a valid `T` (all zeroes, which `T:
/// Zeroable` makes one, until a user writes it through the shared references handed out).
pub(crate) struct PerCpu<T: Zeroable> {
    ptr: NonNull<c_void>,
    _t: PhantomData<T>,
}

// SAFETY: the copies are only reached through `&T`, so sending the owner to another thread is
// sending shared access to `T`s: fine when `T` is `Sync`.
unsafe impl<T: Zeroable + Sync> Send for PerCpu<T> {}
// SAFETY: shared access to the owner gives shared access to the `T`s.
unsafe impl<T: Zeroable + Sync> Sync for PerCpu<T> {}

impl<T: Zeroable> PerCpu<T> {
    /// Allocates a zeroed `T` for every possible CPU.
    pub(crate) fn new() -> Result<Self> {
        // SAFETY: any size and alignment may be asked for (the allocator refuses what it cannot
        // serve); the result is null or a `__percpu` pointer we own, zeroed for every CPU.
        let p = unsafe {
            bindings::pcpu_alloc_noprof(
                core::mem::size_of::<T>(),
                core::mem::align_of::<T>(),
                false,
                bindings::GFP_KERNEL,
            )
        };
        // INVARIANT: allocated for `T`'s size and alignment, all zeroes.
        Ok(Self {
            ptr: NonNull::new(p).ok_or(ENOMEM)?,
            _t: PhantomData,
        })
    }

    /// The `__percpu` pointer, for the per-CPU facilities beside this file.
    pub(super) fn as_percpu_ptr(&self) -> *mut c_void {
        self.ptr.as_ptr()
    }

    /// This CPU's copy, as a pointer: valid as long as `self`, and this CPU's only while the
    /// caller keeps the task on it.
    #[inline(always)]
    pub(super) fn this_cpu_ptr(&self) -> *const T {
        arch::this_cpu_ptr(self.ptr.as_ptr() as usize) as *const T
    }

    /// CPU `cpu`'s copy, as a pointer, if `cpu` is a possible CPU.
    pub(super) fn copy_ptr(&self, cpu: u32) -> Option<*const T> {
        if !topology::cpu_possible(cpu) {
            return None;
        }
        Some(arch::per_cpu_ptr(self.ptr.as_ptr() as usize, cpu) as *const T)
    }

    /// CPU `cpu`'s `T`, if `cpu` is a possible CPU.
    pub(crate) fn get(&self, cpu: u32) -> Option<&T> {
        let p = self.copy_ptr(cpu)?;
        // SAFETY: every possible CPU's copy is a valid `T` (type invariant), alive as long as
        // `self`.
        Some(unsafe { &*p })
    }

    /// Every possible CPU with its `T`.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u32, &T)> + '_ {
        (0..topology::nr_cpu_ids()).filter_map(move |cpu| Some((cpu, self.get(cpu)?)))
    }
}

impl<T: Zeroable> Drop for PerCpu<T> {
    fn drop(&mut self) {
        // SAFETY: `ptr` came from `pcpu_alloc_noprof()` (invariant) and is freed once, here; the
        // references handed out borrow `self`, so none is left.
        unsafe { bindings::free_percpu(self.ptr.as_ptr()) };
    }
}
