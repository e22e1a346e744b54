// SPDX-License-Identifier: GPL-2.0

//! rslab for Rust modules: a safe handle on the exported interface of `rslab.ko`
//! (`include/rslab.h`, which documents every function).
//!
//! A Rust module includes this file and links against rslab's exports:
//!
//! ```text
//! // my_driver.rs
//! #[path = "<rslab tree>/include/rslab.rs"]
//! mod rslab;
//!
//! # Kbuild
//! KBUILD_EXTRA_SYMBOLS := <rslab tree>/Module.symvers
//! ```
//!
//! [`Cache<T>`] is a typed cache whose objects ([`Obj`]) drop their value and free themselves
//! when dropped, and borrow the cache, so a cache cannot be destroyed while one of its objects
//! lives. [`RawCache`] is the untyped cache of the C interface, for callers that manage object
//! lifetimes themselves (its frees are `unsafe`).

use core::{
    marker::PhantomData,
    mem::ManuallyDrop,
    ops::{
        Deref,
        DerefMut, //
    },
    ptr::NonNull, //
};
use kernel::{
    bindings,
    error::from_err_ptr,
    ffi::{
        c_char,
        c_int,
        c_uint,
        c_void, //
    },
    prelude::*, //
};

/// The C declarations of `include/rslab.h`.
pub(crate) mod ffi {
    use super::*;

    /// `struct rslab_cache`, opaque.
    #[repr(C)]
    pub(crate) struct RslabCache {
        _opaque: [u8; 0],
    }

    /// `struct rslab_cache_args`.
    #[repr(C)]
    pub(crate) struct RslabCacheArgs {
        pub(crate) align: c_uint,
        pub(crate) flags: c_uint,
        pub(crate) ctor: Option<unsafe extern "C" fn(*mut c_void)>,
    }

    extern "C" {
        pub(crate) fn rslab_cache_create(
            name: *const c_char,
            size: c_uint,
            args: *const RslabCacheArgs,
        ) -> *mut RslabCache;
        pub(crate) fn rslab_cache_destroy(cache: *mut RslabCache) -> c_int;
        pub(crate) fn rslab_alloc(cache: *mut RslabCache, gfp: u32) -> *mut c_void;
        pub(crate) fn rslab_alloc_node(
            cache: *mut RslabCache,
            gfp: u32,
            node: c_int,
        ) -> *mut c_void;
        pub(crate) fn rslab_free(cache: *mut RslabCache, obj: *mut c_void);
        pub(crate) fn rslab_alloc_bulk(
            cache: *mut RslabCache,
            gfp: u32,
            nr: usize,
            objs: *mut *mut c_void,
        ) -> c_int;
        pub(crate) fn rslab_free_bulk(cache: *mut RslabCache, nr: usize, objs: *mut *mut c_void);
        pub(crate) fn rslab_cache_shrink(cache: *mut RslabCache) -> c_int;
    }
}

/// Allocation flags (`gfp_t`) for rslab's calls.
///
/// `kernel::alloc::Flags` cannot be used: its raw value is private to the `kernel` crate in
/// 7.3, and an allocator outside it needs the `gfp_t` to pass on.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Gfp(u32);

impl Gfp {
    /// `GFP_KERNEL`: may sleep.
    pub(crate) const KERNEL: Gfp = Gfp(bindings::GFP_KERNEL);
    /// `GFP_ATOMIC`: never sleeps, may use reserves; any context.
    pub(crate) const ATOMIC: Gfp = Gfp(bindings::GFP_ATOMIC);
    /// `GFP_NOWAIT`: never sleeps; any context.
    pub(crate) const NOWAIT: Gfp = Gfp(bindings::GFP_NOWAIT);
    /// `__GFP_ZERO`: the object comes zeroed.
    pub(crate) const ZERO: Gfp = Gfp(bindings::__GFP_ZERO);

    /// The raw `gfp_t`.
    pub(crate) const fn as_raw(self) -> u32 {
        self.0
    }
}

impl core::ops::BitOr for Gfp {
    type Output = Gfp;
    fn bitor(self, rhs: Gfp) -> Gfp {
        Gfp(self.0 | rhs.0)
    }
}

/// `RSLAB_DEBUG`: red zones, poisoning and checked frees.
pub(crate) const RSLAB_DEBUG: u32 = 1 << 0;

/// A constructor (`rslab_cache_args.ctor`).
pub(crate) type Ctor = unsafe extern "C" fn(*mut c_void);

/// Optional parameters of a cache (`struct rslab_cache_args`).
#[derive(Clone, Copy, Default)]
pub(crate) struct Args {
    /// Object alignment: 0 for word alignment, else a power of two up to `PAGE_SIZE`.
    pub(crate) align: u32,
    /// `RSLAB_DEBUG` or 0.
    pub(crate) flags: u32,
}

/// An rslab cache of the C interface: untyped objects of a size fixed at creation.
///
/// # Invariants
///
/// `ptr` is a live cache returned by `rslab_cache_create()`, destroyed only by
/// [`RawCache::destroy`] (which consumes the handle) or on drop.
pub(crate) struct RawCache {
    ptr: NonNull<ffi::RslabCache>,
    size: usize,
}

// SAFETY: rslab's caches may be used from any thread: the interface has no thread affinity.
unsafe impl Send for RawCache {}
// SAFETY: every function of the interface may be called concurrently on one cache.
unsafe impl Sync for RawCache {}

impl RawCache {
    /// Creates a cache of `size`-byte objects named `name`.
    pub(crate) fn new(name: &CStr, size: usize, args: Args) -> Result<Self> {
        // SAFETY: `with_ctor`'s contract is about the constructor, and there is none.
        unsafe { Self::with_ctor(name, size, args, None) }
    }

    /// Creates a cache whose objects are constructed by `ctor` when their slab is carved.
    ///
    /// # Safety
    ///
    /// `ctor` must be callable with any object of the cache from any context the cache is
    /// allocated from, until the cache is destroyed (it must not live in code unloaded before).
    pub(crate) unsafe fn with_ctor(
        name: &CStr,
        size: usize,
        args: Args,
        ctor: Option<Ctor>,
    ) -> Result<Self> {
        let c_args = ffi::RslabCacheArgs {
            align: args.align,
            flags: args.flags,
            ctor,
        };
        let size_c = c_uint::try_from(size).map_err(|_| EINVAL)?;
        // SAFETY: `name` is NUL-terminated and `c_args` lives across the call, which copies
        // what it keeps; `ctor` is vouched for by the caller.
        let p =
            from_err_ptr(unsafe { ffi::rslab_cache_create(name.as_char_ptr(), size_c, &c_args) })?;
        // INVARIANT: a cache just created, not an error pointer (checked above).
        Ok(Self {
            ptr: NonNull::new(p).ok_or(ENOMEM)?,
            size,
        })
    }

    /// The cache as the C interface knows it, for calls this handle does not offer.
    pub(crate) fn as_ptr(&self) -> *mut ffi::RslabCache {
        self.ptr.as_ptr()
    }

    /// The object size the cache was created with.
    pub(crate) fn size(&self) -> usize {
        self.size
    }

    /// Allocates one object (`rslab_alloc()`).
    #[inline]
    pub(crate) fn alloc(&self, flags: Gfp) -> Option<NonNull<u8>> {
        // SAFETY: `ptr` is live (invariant); any flags are accepted.
        NonNull::new(unsafe { ffi::rslab_alloc(self.ptr.as_ptr(), flags.as_raw()) }.cast())
    }

    /// Allocates one object on node `node`, or anywhere for `None` (`rslab_alloc_node()`).
    pub(crate) fn alloc_node(&self, flags: Gfp, node: Option<u32>) -> Option<NonNull<u8>> {
        let node = match node {
            None => -1,
            Some(n) => c_int::try_from(n).ok()?,
        };
        // SAFETY: `ptr` is live (invariant); rslab checks `node`.
        NonNull::new(
            unsafe { ffi::rslab_alloc_node(self.ptr.as_ptr(), flags.as_raw(), node) }.cast(),
        )
    }

    /// Frees `obj` (`rslab_free()`).
    ///
    /// # Safety
    ///
    /// `obj` must come from this cache and not be freed since, nor used after.
    #[inline]
    pub(crate) unsafe fn free(&self, obj: NonNull<u8>) {
        // SAFETY: `ptr` is live (invariant); `obj` is ours to free (contract).
        unsafe { ffi::rslab_free(self.ptr.as_ptr(), obj.as_ptr().cast()) };
    }

    /// Fills every entry of `objs` with a new object, or allocates nothing (`ENOMEM`).
    pub(crate) fn alloc_bulk(&self, flags: Gfp, objs: &mut [*mut u8]) -> Result {
        if objs.is_empty() {
            return Ok(());
        }
        // SAFETY: `ptr` is live (invariant); `objs` is valid for `objs.len()` writes.
        let n = unsafe {
            ffi::rslab_alloc_bulk(
                self.ptr.as_ptr(),
                flags.as_raw(),
                objs.len(),
                objs.as_mut_ptr().cast(),
            )
        };
        if n as usize == objs.len() {
            Ok(())
        } else {
            Err(ENOMEM)
        }
    }

    /// Frees every non-null entry of `objs` (`rslab_free_bulk()`).
    ///
    /// # Safety
    ///
    /// Every non-null entry must be an object of this cache, not freed since, nor used after;
    /// none may appear twice.
    pub(crate) unsafe fn free_bulk(&self, objs: &mut [*mut u8]) {
        // SAFETY: `ptr` is live (invariant); the entries are ours to free (contract).
        unsafe { ffi::rslab_free_bulk(self.ptr.as_ptr(), objs.len(), objs.as_mut_ptr().cast()) };
    }

    /// Returns cached objects and empty slabs (`rslab_cache_shrink()`).
    pub(crate) fn shrink(&self) -> Result {
        // SAFETY: `ptr` is live (invariant).
        kernel::error::to_result(unsafe { ffi::rslab_cache_shrink(self.ptr.as_ptr()) })
    }

    /// Destroys the cache. If objects are still allocated the cache is intact and comes back
    /// with the error (`EBUSY`).
    pub(crate) fn destroy(self) -> core::result::Result<(), (Self, Error)> {
        let this = ManuallyDrop::new(self);
        // SAFETY: `ptr` is live (invariant); on success it is never used again (`this` is not
        // dropped), on failure the cache is intact and handed back.
        match kernel::error::to_result(unsafe { ffi::rslab_cache_destroy(this.ptr.as_ptr()) }) {
            Ok(()) => Ok(()),
            Err(e) => Err((ManuallyDrop::into_inner(this), e)),
        }
    }
}

impl Drop for RawCache {
    fn drop(&mut self) {
        // SAFETY: `ptr` is live (invariant) and is not used after this.
        let r = unsafe { ffi::rslab_cache_destroy(self.ptr.as_ptr()) };
        // Objects still allocated: the cache stays in rslab, which reports it at its unload.
        // Like `kmem_cache_destroy()` of a cache in use, a bug of the caller: warn.
        kernel::warn_on!(r != 0);
    }
}

/// A typed cache of `T`s.
pub(crate) struct Cache<T> {
    raw: RawCache,
    _type: PhantomData<T>,
}

impl<T> Cache<T> {
    /// Creates a cache of `T`s (with `T`'s size and alignment) named `name`.
    pub(crate) fn new(name: &CStr, debug: bool) -> Result<Self> {
        let args = Args {
            align: u32::try_from(core::mem::align_of::<T>()).map_err(|_| EINVAL)?,
            flags: if debug { RSLAB_DEBUG } else { 0 },
        };
        Ok(Self {
            raw: RawCache::new(name, core::mem::size_of::<T>(), args)?,
            _type: PhantomData,
        })
    }

    /// Allocates an object holding `value`.
    pub(crate) fn alloc(&self, value: T, flags: Gfp) -> Result<Obj<'_, T>> {
        let p = self.raw.alloc(flags).ok_or(ENOMEM)?.cast::<T>();
        // SAFETY: a fresh object of `size_of::<T>()` bytes, aligned for `T` (the cache was
        // created with `T`'s alignment), owned by us.
        unsafe { p.as_ptr().write(value) };
        // INVARIANT: `p` holds a `T` and is owned by the new `Obj` alone.
        Ok(Obj { cache: self, p })
    }

    /// The untyped cache, e.g. to shrink it.
    pub(crate) fn raw(&self) -> &RawCache {
        &self.raw
    }
}

/// An object of a [`Cache<T>`], holding a `T`; dropping it drops the `T` and frees the object.
///
/// # Invariants
///
/// `p` is an object of `cache`, holds an initialised `T`, and is owned by this `Obj` alone.
pub(crate) struct Obj<'a, T> {
    cache: &'a Cache<T>,
    p: NonNull<T>,
}

// SAFETY: an `Obj` owns its `T` (invariant); moving it to another thread moves the `T`, and
// the cache may be used from any thread.
unsafe impl<T: Send> Send for Obj<'_, T> {}
// SAFETY: sharing an `Obj` shares only `&T`.
unsafe impl<T: Sync> Sync for Obj<'_, T> {}

impl<T> Deref for Obj<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: `p` holds an initialised `T` (invariant).
        unsafe { self.p.as_ref() }
    }
}

impl<T> DerefMut for Obj<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: `p` holds an initialised `T` owned by `self` alone (invariant).
        unsafe { self.p.as_mut() }
    }
}

impl<T> Drop for Obj<'_, T> {
    fn drop(&mut self) {
        // SAFETY: `p` holds a `T` owned by us (invariant); it is dropped once, then its memory
        // is freed once, to the cache it came from.
        unsafe {
            core::ptr::drop_in_place(self.p.as_ptr());
            self.cache.raw.free(self.p.cast());
        }
    }
}
