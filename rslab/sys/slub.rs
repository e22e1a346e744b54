// SPDX-License-Identifier: GPL-2.0

//! The kernel's own slab allocator (SLUB), as any module uses it: an untyped `kmem_cache` of
//! one object size, not merged with another cache (`SLAB_NO_MERGE`), so that its pages and its
//! per-CPU state are its own.
//!
//! rslab_test's benchmark runs every workload against one of these next to an rslab cache of the
//! same size. (rslab's own metadata caches are typed: `kmem.rs`.)

use core::ptr::NonNull;
use kernel::{
    bindings,
    prelude::*, //
};

/// A kernel `kmem_cache` of untyped objects, created with `SLAB_NO_MERGE`.
///
/// Objects are allocated with `GFP_KERNEL`: every allocating method may sleep.
///
/// # Invariants
///
/// `ptr` is a live kmem cache, created by [`SlubCache::new`] and destroyed only on drop.
pub(crate) struct SlubCache {
    ptr: NonNull<bindings::kmem_cache>,
}

// SAFETY: a `kmem_cache` has no thread affinity: it may be used and destroyed from any thread.
unsafe impl Send for SlubCache {}
// SAFETY: every `kmem_cache` operation offered here (allocating, freeing, shrinking) may run on
// several threads at once.
unsafe impl Sync for SlubCache {}

impl SlubCache {
    /// Creates the cache `name` (listed under that name in `/proc/slabinfo`) of `size`-byte
    /// objects aligned to `align` (0: the kernel's default, a word), never merged with another.
    pub(crate) fn new(name: &'static CStr, size: usize, align: u32) -> Result<Self> {
        let size = u32::try_from(size).map_err(|_| EINVAL)?;
        // SAFETY: `kmem_cache_args` is a plain C struct for which all zeroes is the default.
        let mut args: bindings::kmem_cache_args = unsafe { core::mem::zeroed() };
        args.align = align;
        let flags = 1 << bindings::_slab_flag_bits__SLAB_NO_MERGE;
        // SAFETY: `name` is a static C string (the cache keeps the pointer, not a copy) and
        // `args` is valid for the call, which copies what it keeps.
        let ptr = unsafe {
            bindings::__kmem_cache_create_args(name.as_char_ptr(), size, &mut args, flags)
        };
        // INVARIANT: a cache just created (the call returns null on failure).
        Ok(Self {
            ptr: NonNull::new(ptr).ok_or(ENOMEM)?,
        })
    }

    /// Allocates one object (`kmem_cache_alloc(GFP_KERNEL)`), or `None`.
    #[inline]
    pub(crate) fn alloc(&self) -> Option<NonNull<u8>> {
        // SAFETY: `ptr` is live (invariant); `GFP_KERNEL` is valid in the process context every
        // caller of an allocating method runs in (documented on the type).
        let p =
            unsafe { bindings::kmem_cache_alloc_noprof(self.ptr.as_ptr(), bindings::GFP_KERNEL) };
        NonNull::new(p.cast())
    }

    /// Frees `p` (`kmem_cache_free()`).
    ///
    /// # Safety
    ///
    /// `p` must come from [`Self::alloc`] or [`Self::alloc_bulk`] of this cache, not be freed
    /// since, and not be used after.
    #[inline]
    pub(crate) unsafe fn free(&self, p: NonNull<u8>) {
        // SAFETY: `ptr` is live (invariant); `p` is a live object of it (the caller's contract).
        unsafe { bindings::kmem_cache_free(self.ptr.as_ptr(), p.as_ptr().cast()) };
    }

    /// Fills every entry of `objs` with a new object and returns `true`, or allocates nothing
    /// and returns `false` (`kmem_cache_alloc_bulk()`, all or nothing: a `bool` in 7.3).
    pub(crate) fn alloc_bulk(&self, objs: &mut [*mut u8]) -> bool {
        // SAFETY: `ptr` is live (invariant); `objs` is valid for `objs.len()` writes of a
        // pointer, and `GFP_KERNEL` is valid here (documented on the type).
        unsafe {
            bindings::kmem_cache_alloc_bulk_noprof(
                self.ptr.as_ptr(),
                bindings::GFP_KERNEL,
                objs.len(),
                objs.as_mut_ptr().cast(),
            )
        }
    }

    /// Frees every entry of `objs` (`kmem_cache_free_bulk()`).
    ///
    /// # Safety
    ///
    /// Every entry must be an object of this cache as for [`Self::free`], none twice.
    pub(crate) unsafe fn free_bulk(&self, objs: &mut [*mut u8]) {
        // SAFETY: `ptr` is live (invariant); `objs` holds `objs.len()` live objects of it, each
        // once (the caller's contract).
        unsafe {
            bindings::kmem_cache_free_bulk(self.ptr.as_ptr(), objs.len(), objs.as_mut_ptr().cast())
        };
    }

    /// Gives the cache's empty slabs back to the page allocator (`kmem_cache_shrink()`).
    pub(crate) fn shrink(&self) {
        // SAFETY: `ptr` is live (invariant).
        unsafe { bindings::kmem_cache_shrink(self.ptr.as_ptr()) };
    }
}

impl Drop for SlubCache {
    /// Destroys the cache. Objects still allocated are a bug of the owner, which the kernel
    /// reports (`kmem_cache_destroy()` warns and leaves the cache in place).
    fn drop(&mut self) {
        // SAFETY: `ptr` is live (invariant) and not used after this.
        unsafe { bindings::kmem_cache_destroy(self.ptr.as_ptr()) };
    }
}
