// SPDX-License-Identifier: GPL-2.0

//! The exported interface (`include/rslab.h`): what other modules call.
//!
//! The functions are defined here under the header's names and exported by the C shim
//! `rslab/api.c` (`EXPORT_SYMBOL_GPL`), which also implements `rslab_cache_create()` on top of
//! [`rslab_rs_cache_create`]: it reads the C argument structure and encodes errors as
//! `ERR_PTR`. A `struct rslab_cache *` is a [`Cache`] on the list of caches, created with
//! [`Owner::Api`]; only the module holding it destroys it (debugfs gets `EPERM`).
//!
//! Allocation and free trust their cache argument as `kmem_cache_alloc()` and
//! `kmem_cache_free()` do: they are the hot path. Creation, destruction and shrinking look the
//! pointer up on the list first, and refuse one that is not an API cache (`EINVAL`).

use crate::{
    cache::{
        Cache,
        Ctor, //
    },
    layout::MIN_OBJECT_SIZE,
    registry::{
        self,
        Entry,
        Owner,
        Registry, //
    },
    sys::pages::Gfp,
    sys::topology,
    words::Name, //
};
use core::ptr::{
    null_mut,
    NonNull, //
};
use kernel::{
    error::from_result,
    ffi::{
        c_char,
        c_int,
        c_uint,
        c_void, //
    },
    prelude::*,
    sync::Arc, //
};

/// `RSLAB_DEBUG`.
const RSLAB_DEBUG: c_uint = 1 << 0;
/// `NUMA_NO_NODE`.
const NUMA_NO_NODE: c_int = -1;

/// The cache behind a `struct rslab_cache *`.
///
/// # Safety
///
/// `cache` must be null or come from `rslab_cache_create()` and not be destroyed.
unsafe fn cache_ref<'a>(cache: *const c_void) -> Option<&'a Cache> {
    // SAFETY: per the contract, a non-null `cache` points to a live `Cache` (it stays on the
    // list, and so alive, until its creator destroys it).
    unsafe { cache.cast::<Cache>().as_ref() }
}

/// Zeroes `obj` if `gfp` asks for it.
fn zero_if_asked(cache: &Cache, gfp: Gfp, obj: NonNull<u8>) {
    if gfp.zeroing() {
        // SAFETY: `obj` is an object of `cache` just allocated: `object_size` bytes are ours.
        unsafe { core::ptr::write_bytes(obj.as_ptr(), 0, cache.layout.object_size) };
    }
}

/// What `rslab_alloc()` and `rslab_alloc_node()` return for an allocation of `cache`: the
/// object (zeroed if `gfp` asks for it), or NULL.
fn handed_out(cache: &Cache, gfp: Gfp, r: Result<NonNull<u8>>) -> *mut c_void {
    match r {
        Ok(p) => {
            zero_if_asked(cache, gfp, p);
            p.as_ptr().cast()
        }
        Err(_) => null_mut(),
    }
}

/// The registry and the list entry of API cache `cache`, for the calls that take the list's
/// locks anyway: `ENODEV` before rslab is up, `EINVAL` for a pointer that is no API cache (it
/// is only compared with the caches on the list, never dereferenced).
fn api_entry(cache: *mut c_void) -> Result<(&'static Registry, Arc<Entry>)> {
    let reg = registry::global().ok_or(ENODEV)?;
    let e = reg
        .find_cache(cache.cast_const().cast(), Owner::Api)
        .ok_or(EINVAL)?;
    Ok((reg, e))
}

/// Creates an API cache; the C half of `rslab_cache_create()` has read its arguments.
/// Returns 0 and stores the cache in `*out`, or a negative error code.
///
/// # Safety
///
/// `name` must be null or a NUL-terminated string; `out` must be valid for a write; `ctor`
/// must satisfy [`Ctor`]'s contract.
#[no_mangle]
pub(crate) unsafe extern "C" fn rslab_rs_cache_create(
    name: *const c_char,
    size: c_uint,
    align: c_uint,
    flags: c_uint,
    ctor: Option<Ctor>,
    out: *mut *mut c_void,
) -> c_int {
    let r = (|| -> Result<*mut c_void> {
        let reg = registry::global().ok_or(ENODEV)?;
        if name.is_null() || flags & !RSLAB_DEBUG != 0 {
            return Err(EINVAL);
        }
        // SAFETY: a NUL-terminated string (contract).
        let name = unsafe { CStr::from_char_ptr(name) };
        let name = name
            .to_str()
            .ok()
            .and_then(|s| Name::new(s).ok())
            .ok_or(EINVAL)?;
        let align = match align {
            0 => MIN_OBJECT_SIZE,
            a => a as usize,
        };
        let debug = flags & RSLAB_DEBUG != 0;
        let e = reg.create(name, size as usize, align, debug, ctor, Owner::Api)?;
        Ok(core::ptr::from_ref::<Cache>(&e.cache).cast_mut().cast())
    })();
    match r {
        Ok(p) => {
            // SAFETY: `out` is valid for a write (contract).
            unsafe { out.write(p) };
            0
        }
        Err(e) => e.to_errno(),
    }
}

/// `rslab_cache_destroy()`.
///
/// # Safety
///
/// `cache` must not be used after this returns 0. It is only compared with the caches on the
/// list, never dereferenced before it is found there.
#[no_mangle]
pub(crate) unsafe extern "C" fn rslab_cache_destroy(cache: *mut c_void) -> c_int {
    from_result(|| {
        let (reg, e) = api_entry(cache)?;
        reg.destroy(e).map(|()| 0)
    })
}

/// `rslab_cache_shrink()`.
///
/// # Safety
///
/// None beyond the header's: `cache` is looked up before it is used.
#[no_mangle]
pub(crate) unsafe extern "C" fn rslab_cache_shrink(cache: *mut c_void) -> c_int {
    from_result(|| {
        let (reg, e) = api_entry(cache)?;
        reg.shrink(&e.cache).map(|_| 0)
    })
}

/// `rslab_alloc()`.
///
/// # Safety
///
/// `cache` must be null or a live cache of `rslab_cache_create()`.
#[no_mangle]
pub(crate) unsafe extern "C" fn rslab_alloc(cache: *mut c_void, gfp: u32) -> *mut c_void {
    // SAFETY: `cache` is null or a live cache of `rslab_cache_create()` (this function's
    // contract), which is all `cache_ref` asks.
    let Some(c) = (unsafe { cache_ref(cache) }) else {
        return null_mut();
    };
    let gfp = Gfp::from_raw(gfp);
    handed_out(c, gfp, c.alloc(gfp))
}

/// `rslab_alloc_node()`.
///
/// # Safety
///
/// As for [`rslab_alloc`].
#[no_mangle]
pub(crate) unsafe extern "C" fn rslab_alloc_node(
    cache: *mut c_void,
    gfp: u32,
    node: c_int,
) -> *mut c_void {
    if node == NUMA_NO_NODE {
        // SAFETY: `cache` is null or a live cache (this function's contract), as
        // `rslab_alloc` requires.
        return unsafe { rslab_alloc(cache, gfp) };
    }
    // SAFETY: `cache` is null or a live cache of `rslab_cache_create()` (this function's
    // contract), which is all `cache_ref` asks.
    let Some(c) = (unsafe { cache_ref(cache) }) else {
        return null_mut();
    };
    let Ok(nid) = u32::try_from(node) else {
        return null_mut();
    };
    if nid >= topology::nr_node_ids() {
        return null_mut();
    }
    let gfp = Gfp::from_raw(gfp);
    handed_out(c, gfp, c.alloc_node(Some(nid), gfp))
}

/// `rslab_free()`.
///
/// # Safety
///
/// `cache` must be a live cache of `rslab_cache_create()`; `obj` null or an object allocated
/// from it and not freed since (a debug cache checks, and reports instead of corrupting).
#[no_mangle]
pub(crate) unsafe extern "C" fn rslab_free(cache: *mut c_void, obj: *mut c_void) {
    let Some(obj) = NonNull::new(obj.cast::<u8>()) else {
        return;
    };
    // SAFETY: `cache` is a live cache of `rslab_cache_create()` (this function's contract),
    // which is all `cache_ref` asks.
    if let Some(c) = unsafe { cache_ref(cache) } {
        // SAFETY: `obj` is an object of `c`, not freed since (contract).
        unsafe { c.free(obj) };
    }
}

/// `rslab_alloc_bulk()`: `nr` objects into `objs`, or none. Returns `nr` or 0.
///
/// # Safety
///
/// As for [`rslab_alloc`]; `objs` must be valid for writing `nr` pointers.
#[no_mangle]
pub(crate) unsafe extern "C" fn rslab_alloc_bulk(
    cache: *mut c_void,
    gfp: u32,
    nr: usize,
    objs: *mut *mut c_void,
) -> c_int {
    // SAFETY: `cache` is null or a live cache of `rslab_cache_create()` (this function's
    // contract), which is all `cache_ref` asks.
    let Some(c) = (unsafe { cache_ref(cache) }) else {
        return 0;
    };
    let Ok(ret) = c_int::try_from(nr) else {
        return 0;
    };
    if nr == 0 || objs.is_null() {
        return 0;
    }
    // SAFETY: `objs` is valid for `nr` pointers (contract); nothing else uses it meanwhile.
    let objs = unsafe { core::slice::from_raw_parts_mut(objs.cast::<*mut u8>(), nr) };
    let gfp = Gfp::from_raw(gfp);
    if c.alloc_bulk(gfp, objs).is_err() {
        return 0;
    }
    for &p in objs.iter() {
        if let Some(p) = NonNull::new(p) {
            zero_if_asked(c, gfp, p);
        }
    }
    ret
}

/// `rslab_free_bulk()`.
///
/// # Safety
///
/// `cache` must be a live cache of `rslab_cache_create()`; `objs` must be valid for reading
/// `nr` pointers, each null or an object of `cache` not freed since, none twice.
#[no_mangle]
pub(crate) unsafe extern "C" fn rslab_free_bulk(
    cache: *mut c_void,
    nr: usize,
    objs: *mut *mut c_void,
) {
    if nr == 0 || objs.is_null() {
        return;
    }
    // SAFETY: `cache` is null or a live cache of `rslab_cache_create()` (this function's
    // contract), which is all `cache_ref` asks.
    let Some(c) = (unsafe { cache_ref(cache) }) else {
        return;
    };
    // SAFETY: `objs` is valid for `nr` pointers (contract).
    let objs = unsafe { core::slice::from_raw_parts(objs.cast::<*mut u8>(), nr) };
    // SAFETY: every non-null entry is an object of `c`, freed once (contract).
    unsafe { c.free_bulk(objs) };
}
