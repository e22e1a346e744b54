// SPDX-License-Identifier: GPL-2.0

//! rslab's own metadata lives in real kernel `kmem_cache`s (visible in `/proc/slabinfo`):
//! [`KmemCache<T>`] creates one for objects of type `T`, and [`KmemBox<T>`] owns one object of it.

use core::{
    marker::PhantomData,
    mem,
    ops::Deref,
    pin::Pin,
    ptr::NonNull, //
};
use kernel::{
    bindings,
    prelude::*,
    str::CStr, //
};

/// A kernel `kmem_cache` for objects of type `T`.
///
/// # Invariants
///
/// `ptr` is a live kmem cache for objects of `T`'s size and alignment, destroyed on drop.
pub(crate) struct KmemCache<T> {
    ptr: NonNull<bindings::kmem_cache>,
    _t: PhantomData<T>,
}

// SAFETY: a `kmem_cache` may be used from any thread.
unsafe impl<T> Send for KmemCache<T> {}
// SAFETY: a `kmem_cache` may be used from any thread concurrently.
unsafe impl<T> Sync for KmemCache<T> {}

impl<T> KmemCache<T> {
    /// Creates the cache `name`.
    pub(crate) fn new(name: &'static CStr) -> Result<Self> {
        // SAFETY: `kmem_cache_args` is a plain C struct for which all zeroes is the default.
        let mut args: bindings::kmem_cache_args = unsafe { mem::zeroed() };
        args.align = mem::align_of::<T>() as u32;
        // SAFETY: `name` is a static C string, `args` is valid for the call.
        let ptr = unsafe {
            bindings::__kmem_cache_create_args(
                name.as_char_ptr(),
                mem::size_of::<T>() as u32,
                &mut args,
                0,
            )
        };
        Ok(Self {
            ptr: NonNull::new(ptr).ok_or(ENOMEM)?,
            _t: PhantomData,
        })
    }

    fn alloc_raw(&self, nid: Option<u32>) -> Result<NonNull<T>> {
        let nid = nid.map_or(bindings::NUMA_NO_NODE, |n| n as i32);
        // SAFETY: `self.ptr` is a live cache (invariant).
        let p = unsafe {
            bindings::kmem_cache_alloc_node_noprof(self.ptr.as_ptr(), bindings::GFP_KERNEL, nid)
        };
        NonNull::new(p.cast::<T>()).ok_or(ENOMEM)
    }

    /// Allocates an object on node `nid` (or anywhere, if `nid` is `None`) and initialises it
    /// in place with `init`. May sleep.
    pub(crate) fn alloc<E>(
        &self,
        init: impl PinInit<T, E>,
        nid: Option<u32>,
    ) -> Result<Pin<KmemBox<T>>>
    where
        Error: From<E>,
    {
        let p = self.alloc_raw(nid)?;
        // SAFETY: `p` is fresh, suitably sized and aligned memory we own; it is never moved.
        if let Err(e) = unsafe { pin_init::raw_try_init(p.as_ptr(), init) } {
            // SAFETY: the object came from this cache and was not initialised.
            unsafe { bindings::kmem_cache_free(self.ptr.as_ptr(), p.as_ptr().cast()) };
            return Err(Error::from(e));
        }
        // SAFETY: `KmemBox` never moves its object out.
        Ok(unsafe {
            Pin::new_unchecked(KmemBox {
                ptr: p,
                cache: self.ptr,
            })
        })
    }

    /// Allocates an object holding `value`. May sleep.
    pub(crate) fn alloc_value(&self, value: T, nid: Option<u32>) -> Result<Pin<KmemBox<T>>> {
        let p = self.alloc_raw(nid)?;
        // SAFETY: `p` is fresh memory for a `T`.
        unsafe { p.as_ptr().write(value) };
        // SAFETY: `KmemBox` never moves its object out.
        Ok(unsafe {
            Pin::new_unchecked(KmemBox {
                ptr: p,
                cache: self.ptr,
            })
        })
    }
}

impl<T> Drop for KmemCache<T> {
    fn drop(&mut self) {
        // SAFETY: the cache is live; every `KmemBox` of it has been dropped by now (the module
        // drops its caches after all objects), else the kernel reports the leak loudly.
        unsafe { bindings::kmem_cache_destroy(self.ptr.as_ptr()) };
    }
}

/// One object of a [`KmemCache<T>`], dropped and freed with the box.
///
/// # Invariants
///
/// `ptr` is an initialised `T` allocated from `cache`, which outlives the box.
pub(crate) struct KmemBox<T> {
    ptr: NonNull<T>,
    cache: NonNull<bindings::kmem_cache>,
}

// SAFETY: a `KmemBox<T>` owns its `T` like a `KBox<T>` does.
unsafe impl<T: Send> Send for KmemBox<T> {}
// SAFETY: shared access to a `KmemBox<T>` gives only `&T`, which `T: Sync` allows to share.
unsafe impl<T: Sync> Sync for KmemBox<T> {}

impl<T> Deref for KmemBox<T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: `ptr` is an initialised `T` (invariant).
        unsafe { self.ptr.as_ref() }
    }
}

impl<T> Drop for KmemBox<T> {
    fn drop(&mut self) {
        // SAFETY: `ptr` is an initialised `T` from `cache` (invariant), dropped exactly once here.
        unsafe {
            core::ptr::drop_in_place(self.ptr.as_ptr());
            bindings::kmem_cache_free(self.cache.as_ptr(), self.ptr.as_ptr().cast());
        }
    }
}
