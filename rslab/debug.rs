// SPDX-License-Identifier: GPL-2.0

//! Debug caches: every allocation and free checked (state word, red zones, poison, slab
//! membership), faults reported and the object quarantined instead of anything corrupted.
//!
//! A pointer handed to a debug cache's free is looked up in the cache's index of its slabs
//! before anything is read through it, so a foreign or stale pointer is refused without touching
//! memory that is not the cache's.

use crate::{
    cache::Cache,
    cpuarray::ObjArray,
    layout::{
        DEBUG_REDZONE_OFFSET,
        DEBUG_STATE_OFFSET, //
    },
    node::MAX_FREE_SLABS,
    slab::{
        slab_base,
        slab_magic, //
    },
    sys::pages, //
};
use core::fmt;
use kernel::{
    alloc::AllocError,
    prelude::*, //
};

/// Debug slot state: the object is handed out.
pub(crate) const STATE_ALLOCATED: u64 = 0xa110_c8ed_a110_c8ed;
/// Debug slot state: the object is free.
pub(crate) const STATE_FREE: u64 = 0xf4ee_f4ee_f4ee_f4ee;
/// Debug: left red zone byte.
pub(crate) const RED_LEFT: u8 = 0xbb;
/// Debug: right red zone byte.
pub(crate) const RED_RIGHT: u8 = 0xcc;
/// Debug: poison of a free object (as SLUB's `POISON_FREE`).
pub(crate) const POISON_FREE: u8 = 0x6b;

/// What went wrong, as found by a debug check or by `validate`.
#[derive(Debug)]
pub(crate) enum Fault {
    NotInDirectMap,
    NotThisCache,
    NotObjectStart,
    DoubleFree,
    BadState(u64),
    RedZoneLeft(usize),
    RedZoneRight(usize),
    WriteAfterFree(usize),
    Freelist,
    Counters,
    WrongList,
    /// The cache changed while `validate` walked it: it was in use.
    Busy,
    /// A checked free on a cache without debugging, which cannot check.
    NotChecked,
}

impl kernel::fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::NotInDirectMap => write!(f, "not a slab object (outside the direct map)"),
            Fault::NotThisCache => write!(f, "not an object of this cache"),
            Fault::NotObjectStart => write!(f, "not the start of an object"),
            Fault::DoubleFree => write!(f, "double free"),
            Fault::BadState(s) => write!(f, "object state word corrupted ({s:#x})"),
            Fault::RedZoneLeft(o) => write!(f, "left red zone overwritten at byte {o}"),
            Fault::RedZoneRight(o) => {
                write!(f, "right red zone overwritten at byte {o} past the object")
            }
            Fault::WriteAfterFree(o) => write!(f, "written after free at byte {o}"),
            Fault::Freelist => write!(f, "freelist corrupted"),
            Fault::Counters => write!(f, "slab counters inconsistent"),
            Fault::WrongList => write!(f, "slab on the wrong list"),
            Fault::Busy => write!(f, "the cache changed during the walk (in use)"),
            Fault::NotChecked => write!(f, "not a debug cache: frees cannot be checked"),
        }
    }
}

impl Cache {
    /// Adds the new debug slab at `base` to the index. The caller holds the lock of the node
    /// whose lists the slab is about to join.
    pub(crate) fn debug_index_insert(&self, base: usize) -> Result<(), AllocError> {
        let mut index = self.debug_slabs.lock();
        let at = index.binary_search(&base).unwrap_or_else(|i| i);
        if index.insert_within_capacity(at, base).is_ok() {
            return Ok(());
        }
        index.reserve(1, GFP_ATOMIC)?;
        index
            .insert_within_capacity(at, base)
            .map_err(|_| AllocError)
    }

    /// Whether the slab at `base` is in the debug index and on node `nid`; its node if so.
    ///
    /// The index holds exactly the debug slabs that are on their node's lists: a slab joins
    /// both together and leaves both together, under its node's lock, and its pages are freed
    /// only after that. So while the index lock is held, a slab found in it is live and its
    /// header may be read; and once its node's lock is held too, it stays live until that lock
    /// is dropped.
    pub(crate) fn debug_index_has(&self, base: usize, nid: Option<u32>) -> Option<u32> {
        let index = self.debug_slabs.lock();
        index.binary_search(&base).ok()?;
        // SAFETY: in the index, so a live slab of ours while we hold the index lock (see above).
        let (magic, node) = unsafe {
            let slab = self.header_at(base);
            (
                core::ptr::read_volatile(&raw const (*slab).magic),
                self.node_of_header(slab),
            )
        };
        (magic == slab_magic(self.id) && nid.is_none_or(|n| n == node)).then_some(node)
    }

    pub(crate) fn report(&self, obj: *mut u8, fault: &Fault) {
        self.stats.debug_errors.inc();
        pr_err!(
            "cache {:?}: object {:p}: {}; object quarantined\n",
            self.name,
            obj,
            fault
        );
    }

    /// Formats every slot of the new debug slab at `base`: state free, red zones, poison.
    ///
    /// # Safety
    ///
    /// `base` must be a freshly initialised slab of this cache not yet visible to anyone else.
    pub(crate) unsafe fn debug_init_slab(&self, base: *mut u8) {
        for i in 0..self.layout.objects {
            let slot = base.wrapping_add(self.layout.offset_of(i));
            // SAFETY: the slot lies inside the slab, which the caller owns.
            unsafe {
                let l = &self.layout;
                core::ptr::write_bytes(
                    slot.add(DEBUG_REDZONE_OFFSET),
                    RED_LEFT,
                    l.obj_offset - DEBUG_REDZONE_OFFSET,
                );
                if self.ctor.is_none() {
                    core::ptr::write_bytes(slot.add(l.obj_offset), POISON_FREE, l.object_size);
                }
                let tail = l.obj_offset + l.object_size;
                core::ptr::write_bytes(slot.add(tail), RED_RIGHT, l.stride - tail);
                self.debug_mark(slot, STATE_FREE);
            }
        }
    }

    /// Writes a debug slot's state word.
    ///
    /// # Safety
    ///
    /// `slot` must be a slot of this debug cache owned by the caller.
    pub(crate) unsafe fn debug_mark(&self, slot: *mut u8, state: u64) {
        // SAFETY: the state word is the slot's second word (debug layout).
        unsafe { slot.add(DEBUG_STATE_OFFSET).cast::<u64>().write(state) };
    }

    /// Checks red zones of a debug slot; returns the first bad one.
    ///
    /// # Safety
    ///
    /// `slot` must be a slot of this debug cache.
    pub(crate) unsafe fn debug_check_redzones(&self, slot: *mut u8) -> Result<(), Fault> {
        let l = &self.layout;
        // SAFETY: the red zones lie inside the slot.
        let (left, right) = unsafe {
            let tail = l.obj_offset + l.object_size;
            (
                core::slice::from_raw_parts(
                    slot.add(DEBUG_REDZONE_OFFSET),
                    l.obj_offset - DEBUG_REDZONE_OFFSET,
                ),
                core::slice::from_raw_parts(slot.add(tail), l.stride - tail),
            )
        };
        if let Some(i) = left.iter().rposition(|&b| b != RED_LEFT) {
            return Err(Fault::RedZoneLeft(left.len() - i));
        }
        if let Some(i) = right.iter().position(|&b| b != RED_RIGHT) {
            return Err(Fault::RedZoneRight(i));
        }
        Ok(())
    }

    /// Checks a free debug slot before it is handed out: state, red zones, poison.
    ///
    /// # Safety
    ///
    /// `slot` must be a slot of this debug cache just taken off a freelist.
    pub(crate) unsafe fn debug_check_free_slot(&self, slot: *mut u8) -> Result<(), Fault> {
        // SAFETY: the state word lies inside the slot.
        let state = unsafe { slot.add(DEBUG_STATE_OFFSET).cast::<u64>().read() };
        if state != STATE_FREE {
            return Err(Fault::BadState(state));
        }
        // SAFETY: `slot` is a slot of this debug cache (this function's contract), which is what
        // `debug_check_redzones` reads.
        unsafe { self.debug_check_redzones(slot)? };
        if self.ctor.is_some() {
            // Constructed objects are not poisoned.
            return Ok(());
        }
        // SAFETY: the object lies inside the slot.
        let obj = unsafe {
            core::slice::from_raw_parts(slot.add(self.layout.obj_offset), self.layout.object_size)
        };
        match obj.iter().position(|&b| b != POISON_FREE) {
            Some(i) => Err(Fault::WriteAfterFree(i)),
            None => Ok(()),
        }
    }

    /// Frees `p`, which may be any pointer at all, with every check of a debug cache: a pointer
    /// that is not an allocated object of this cache is reported and refused without being
    /// read through, an object whose red zones or state were overwritten is reported and
    /// quarantined (freed as far as its user is concerned, kept out of circulation).
    ///
    /// Only a debug cache can check: any other cache refuses every pointer
    /// ([`Fault::NotChecked`]) and frees nothing.
    pub(crate) fn free_checked(&self, p: *mut u8) -> Result<(), Fault> {
        if !self.debug {
            return Err(Fault::NotChecked);
        }
        let fault = match self.free_checked_inner(p) {
            Ok(()) => {
                self.stats.node_frees.inc();
                return Ok(());
            }
            Err(fault) => fault,
        };
        self.report(p, &fault);
        if matches!(
            fault,
            Fault::RedZoneLeft(_) | Fault::RedZoneRight(_) | Fault::BadState(_)
        ) {
            self.stats.node_frees.inc();
            self.stats.quarantined.inc();
        }
        Err(fault)
    }

    fn free_checked_inner(&self, p: *mut u8) -> Result<(), Fault> {
        let addr = p as usize;
        if !pages::in_direct_map(addr) {
            return Err(Fault::NotInDirectMap);
        }
        let base = slab_base(p, &self.layout);
        let index = self
            .layout
            .object_index(addr - base)
            .ok_or(Fault::NotObjectStart)?;
        let slot = p
            .wrapping_sub(addr - base)
            .wrapping_add(self.layout.offset_of(index));
        // Which node's lock guards the slab: read under the index lock, where the slab cannot
        // be freed (see `debug_index_has`).
        let nid = self
            .debug_index_has(base, None)
            .ok_or(Fault::NotThisCache)?;
        let node = self.node(nid).ok_or(Fault::Counters)?;
        let mut l = node.lists.lock();
        // Again under the node lock: between the two, a concurrent free of the slab's last
        // object may have emptied it and given its pages back (and a new slab may even sit at
        // the same address on another node). Found now, it stays until `l` is dropped.
        if self.debug_index_has(base, Some(nid)).is_none() {
            return Err(Fault::NotThisCache);
        }
        // SAFETY: found in the index under the node lock: a live slab of ours.
        let slab = unsafe { self.header_at(base) };
        // SAFETY: `slot` is a slot of this cache's live slab; the node lock serialises frees
        // of it.
        let state = unsafe { slot.add(DEBUG_STATE_OFFSET).cast::<u64>().read() };
        match state {
            STATE_ALLOCATED => {}
            STATE_FREE => return Err(Fault::DoubleFree),
            other => return Err(Fault::BadState(other)),
        }
        // SAFETY: `slot` is a slot of this cache's live slab (found in the index under the node
        // lock, which we hold).
        unsafe { self.debug_check_redzones(slot)? };
        // SAFETY: the object is allocated (state word checked above under the node lock, which
        // serialises its frees) and given back: ours to poison and mark; `slot` is an allocated
        // slot of `slab`, a slab of node `nid` (found in the index under that node's lock).
        unsafe {
            if self.ctor.is_none() {
                core::ptr::write_bytes(p, POISON_FREE, self.layout.object_size);
            }
            self.debug_mark(slot, STATE_FREE);
            l.return_slot(slab, slot);
        }
        let mut surplus = ObjArray::<8>::new();
        self.take_surplus(&mut l, MAX_FREE_SLABS, &mut surplus);
        drop(l);
        while let Some(s) = surplus.pop() {
            // SAFETY: taken off the free list: empty and unreachable.
            unsafe { self.discard_slab(s.cast()) };
        }
        Ok(())
    }
}
