// SPDX-License-Identifier: GPL-2.0

//! `bench footprint`: the same random alloc/free mix in both allocators, leaving about 1 MiB of
//! live objects scattered over their slabs, held until `bench release` so that the pages each
//! allocator keeps for them can be read (rslab's `slabinfo`, SLUB's `/proc/slabinfo`), before
//! and after `bench shrink`.

use super::{
    rounds::touch,
    under_test::{
        free_addrs,
        Alloc, //
    },
};
use crate::{
    rslab::RawCache,
    sys::slub::SlubCache, //
};
use core::ptr::NonNull;
use kernel::prelude::*;

/// The live objects of `bench footprint`, kept until `bench release`. Dropping it frees every
/// object it holds, in both allocators, before the allocators themselves go.
pub(crate) struct Footprint {
    objs: [KVec<usize>; 2],
    /// rslab's side: cache [`super::FOOTPRINT_CACHE`], whose pages rslab's `slabinfo` shows.
    pub(crate) rslab: RawCache,
    pub(crate) slub: SlubCache,
}

impl Footprint {
    /// A run on `rslab` and `slub`, holding no object yet.
    pub(super) fn new(rslab: RawCache, slub: SlubCache) -> Self {
        Self {
            objs: [KVec::new(), KVec::new()],
            rslab,
            slub,
        }
    }

    /// Shrinks both allocators (rslab: flush every CPU, then return empty slabs).
    pub(crate) fn shrink(&self) -> Result {
        self.rslab.shrink()?;
        self.slub.shrink();
        Ok(())
    }

    /// Objects the run holds in rslab.
    pub(crate) fn live(&self) -> usize {
        self.objs[0].len()
    }

    /// Allocates `count` objects in each allocator, then frees a random half of them.
    pub(super) fn fill(&mut self, count: usize) -> Result {
        let allocs: [&dyn Alloc; 2] = [&self.rslab, &self.slub];
        fill(allocs, &mut self.objs, count)
    }
}

/// The footprint pattern on `allocs`: `count` objects each, a random half freed; `objs` keeps
/// the live ones. On failure, what was allocated stays in `objs` for the caller to free. `objs`
/// must hold only objects of `allocs` (they start empty: [`Footprint::fill`] runs once).
fn fill(allocs: [&dyn Alloc; 2], objs: &mut [KVec<usize>; 2], count: usize) -> Result {
    for (v, a) in objs.iter_mut().zip(allocs) {
        v.reserve(count, GFP_KERNEL)?;
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..count {
            let p = a.alloc().ok_or(ENOMEM)?;
            touch(p);
            if v.push_within_capacity(p.as_ptr() as usize).is_err() {
                // SAFETY: `p` was allocated by `a` just above and did not go into `v`, so this
                // is its only free.
                unsafe { a.free(p) };
                return Err(ENOMEM);
            }
        }
        let mut i = 0;
        while i < v.len() {
            if xorshift(&mut rng) & 1 == 0 {
                let last = v.len() - 1;
                v.swap(i, last);
                let p = v.pop().unwrap_or(0);
                if let Some(p) = NonNull::new(p as *mut u8) {
                    // SAFETY: every entry of `v` is a live object of `a` (allocated above, or
                    // before the call: this function's precondition); popped, so freed once.
                    unsafe { a.free(p) };
                }
            } else {
                i += 1;
            }
        }
    }
    Ok(())
}

impl Drop for Footprint {
    fn drop(&mut self) {
        let allocs: [&dyn Alloc; 2] = [&self.rslab, &self.slub];
        for (v, a) in self.objs.iter_mut().zip(allocs) {
            free_addrs(a, v);
        }
    }
}

fn xorshift(s: &mut u64) -> u64 {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    *s
}
