// SPDX-License-Identifier: GPL-2.0

//! The allocators under test: one trait, [`Alloc`], for what a workload does with an allocator,
//! and its two implementations, rslab's cache through rslab's exported API ([`RawCache`]) and
//! the kernel's own SLUB ([`SlubCache`]), each called exactly as a client module calls it.

use crate::{
    rslab::{
        Gfp,
        RawCache, //
    },
    sys::slub::SlubCache, //
};
use core::ptr::NonNull;
use kernel::prelude::*;

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
                    // SAFETY: the first `i` entries were allocated by `self` in this loop and
                    // not handed out, each once.
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
                // SAFETY: every entry of `objs` is a live object of `self` (this function's
                // contract), and this loop frees each once.
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
        // SAFETY: `p` came from this cache's `alloc` and was not freed since (`Alloc::free`'s
        // contract), which is `RawCache::free`'s contract.
        unsafe { RawCache::free(self, p) }
    }
    fn name(&self) -> &'static str {
        "rslab"
    }
    fn alloc_bulk(&self, objs: &mut [*mut u8]) -> bool {
        RawCache::alloc_bulk(self, Gfp::KERNEL, objs).is_ok()
    }
    unsafe fn free_bulk(&self, objs: &mut [*mut u8]) {
        // SAFETY: every entry is a live object of this cache, none twice (`Alloc::free_bulk`'s
        // contract), which is `RawCache::free_bulk`'s contract.
        unsafe { RawCache::free_bulk(self, objs) }
    }
}

/// SLUB's side of a benchmark: a kernel kmem cache of `size`-byte objects, alignment 8, not
/// merged with any other (`rslab_bench_slub` in `/proc/slabinfo`).
pub(super) fn slub(size: usize) -> Result<SlubCache> {
    SlubCache::new(c"rslab_bench_slub", size, 8)
}

impl Alloc for SlubCache {
    #[inline]
    fn alloc(&self) -> Option<NonNull<u8>> {
        SlubCache::alloc(self)
    }
    #[inline]
    unsafe fn free(&self, p: NonNull<u8>) {
        // SAFETY: `p` came from this cache's `alloc` and was not freed since (`Alloc::free`'s
        // contract), which is `SlubCache::free`'s contract.
        unsafe { SlubCache::free(self, p) }
    }
    fn name(&self) -> &'static str {
        "slub"
    }
    fn alloc_bulk(&self, objs: &mut [*mut u8]) -> bool {
        SlubCache::alloc_bulk(self, objs)
    }
    unsafe fn free_bulk(&self, objs: &mut [*mut u8]) {
        // SAFETY: every entry is a live object of this cache, none twice (`Alloc::free_bulk`'s
        // contract), which is `SlubCache::free_bulk`'s contract.
        unsafe { SlubCache::free_bulk(self, objs) }
    }
}

/// A raw pointer to an allocator, for a job that runs on another CPU while the caller waits.
pub(super) fn erase(a: &dyn Alloc) -> *const dyn Alloc {
    let p: *const (dyn Alloc + '_) = a;
    // SAFETY: only the lifetime bound of a raw pointer changes (same layout, same vtable);
    // every job or phase holding it is waited for (flushed) before the allocator it points to
    // is dropped.
    unsafe { core::mem::transmute::<*const (dyn Alloc + '_), *const (dyn Alloc + 'static)>(p) }
}

/// Frees every object of `held` (allocated by `a`).
pub(super) fn free_held(a: &dyn Alloc, held: &mut KVec<NonNull<u8>>) {
    while let Some(p) = held.pop() {
        // SAFETY: `held` holds only objects of `a` (every caller fills it from `a` alone), and
        // each is popped before it is freed, so freed once.
        unsafe { a.free(p) };
    }
}

/// Frees every object in `v` (addresses of objects of `a`).
pub(super) fn free_addrs(a: &dyn Alloc, v: &mut KVec<usize>) {
    while let Some(p) = v.pop() {
        if let Some(p) = NonNull::new(p as *mut u8) {
            // SAFETY: `v` holds only addresses of live objects of `a` (every caller fills it from
            // `a` alone), and each is popped before it is freed, so freed once.
            unsafe { a.free(p) };
        }
    }
}
