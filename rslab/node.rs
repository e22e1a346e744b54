// SPDX-License-Identifier: GPL-2.0

//! The node side of a cache: each node's slab lists under its lock, and the moves of slabs and
//! objects through them.
//!
//! A *refill* takes a batch of objects off a node's slabs into a CPU's array; *grow* takes a new
//! slab from the page allocator; objects come back to their slabs by *free to slabs*; empty slabs
//! beyond a few go back to the page allocator (*discard*, as SLUB's `discard_slab()`), and all of
//! them on *shrink*. Per-node structures are created with the cache for every possible node and
//! never freed while it lives, whatever memory hotplug does.

use crate::{
    cache::Cache,
    cpuarray::ObjArray,
    debug::STATE_ALLOCATED,
    percpu::{
        CpuArrays,
        CpuSlot, //
    },
    slab::{
        init_slab,
        ListKind,
        SlabHeader,
        SlabList, //
    },
    stats::bump,
    sys::{
        pages,
        pages::Gfp,
        topology, //
    }, //
};
use core::{
    ptr::NonNull,
    sync::atomic::Ordering::Relaxed, //
};
use kernel::{
    new_spinlock_irq,
    prelude::*,
    sync::SpinLockIrq, //
};

/// Empty slabs a node keeps before giving pages back to the page allocator.
pub(crate) const MAX_FREE_SLABS: usize = 2;

/// The slab lists of one node, under the node's lock.
pub(crate) struct NodeLists {
    pub(crate) partial: SlabList,
    pub(crate) full: SlabList,
    pub(crate) free: SlabList,
    /// Objects in this node's slabs.
    pub(crate) total_objects: usize,
    /// Of those, objects on freelists.
    pub(crate) free_objects: usize,
    /// Bumped by every change of a slab's objects or list: lets `validate` walk the lists in
    /// pieces, dropping the lock in between, and notice if anything moved meanwhile.
    pub(crate) gen: u64,
}

// SAFETY: the raw slab pointers are owned by the cache and only dereferenced under the node lock.
unsafe impl Send for NodeLists {}

impl NodeLists {
    pub(crate) fn list(&mut self, kind: ListKind) -> Option<&mut SlabList> {
        match kind {
            ListKind::Partial => Some(&mut self.partial),
            ListKind::Full => Some(&mut self.full),
            ListKind::Free => Some(&mut self.free),
            ListKind::None => None,
        }
    }

    /// Moves `slab` to the list its `inuse` count calls for.
    ///
    /// # Safety
    ///
    /// `slab` must be a slab of this node, on one of its lists or on none.
    pub(crate) unsafe fn place(&mut self, slab: *mut SlabHeader, objects: usize) {
        self.gen = self.gen.wrapping_add(1);
        // SAFETY: the caller guarantees `slab` is ours; we hold the node lock (`&mut self`).
        let (inuse, cur) = unsafe { ((*slab).inuse as usize, (*slab).list) };
        let want = match inuse {
            0 => ListKind::Free,
            n if n == objects => ListKind::Full,
            _ => ListKind::Partial,
        };
        if cur == want {
            return;
        }
        if let Some(l) = self.list(cur) {
            // SAFETY: the slab is on `cur` (its tag).
            unsafe { l.remove(slab) };
        }
        if let Some(l) = self.list(want) {
            // SAFETY: the slab is now on no list.
            unsafe { l.push_front(slab) };
        }
    }

    /// Takes up to `MAX_FREE_SLABS`-surplus empty slabs off the free list into `out`.
    pub(crate) fn take_surplus(&mut self, keep: usize, objects: usize, out: &mut ObjArray<8>) {
        while self.free.len() > keep {
            let Some(slab) = self.free.first() else { break };
            if out.push(slab.cast()).is_err() {
                break;
            }
            // SAFETY: `slab` is the free list's head.
            unsafe { self.free.remove(slab) };
            self.total_objects -= objects;
            self.free_objects -= objects;
            self.gen = self.gen.wrapping_add(1);
        }
    }
}

/// Per-node part of a cache. Created for every possible node when the cache is created and
/// never freed while the cache lives: lockless readers may hold it (see "mm, slub: stop freeing
/// kmem_cache_node structures on node offline", 2021, for the use-after-free freeing caused).
#[pin_data]
pub(crate) struct NodeData {
    #[pin]
    pub(crate) lists: SpinLockIrq<NodeLists>,
}

impl NodeData {
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            lists <- new_spinlock_irq!(
                NodeLists {
                    partial: SlabList::new(ListKind::Partial),
                    full: SlabList::new(ListKind::Full),
                    free: SlabList::new(ListKind::Free),
                    total_objects: 0,
                    free_objects: 0,
                    gen: 0,
                },
                "rslab_node_lock"
            ),
        })
    }
}

impl Cache {
    /// Moves up to a batch of objects from node `nid`'s slabs into this CPU's array.
    #[inline(never)]
    pub(crate) fn refill(&self, slot: &CpuSlot, cc: &mut CpuArrays, nid: u32) -> usize {
        let Some(node) = self.node(nid) else { return 0 };
        let objects = self.layout.objects;
        let mut l = node.lists.lock();
        let mut got = 0;
        while got < self.batch {
            let Some(slab) = l.partial.first().or_else(|| l.free.first()) else {
                break;
            };
            let left = {
                // SAFETY: `slab` is on this node's lists and we hold the node lock. The
                // reference ends before `place` writes the header through the raw pointer.
                let s = unsafe { &mut *slab };
                while got < self.batch {
                    // SAFETY: `s` is this node's slab under its lock; its freelist is intact
                    // (cache invariant).
                    let Some(slot) = (unsafe { s.pop() }) else {
                        break;
                    };
                    if cc
                        .objs
                        .push(slot.wrapping_add(self.layout.obj_offset))
                        .is_err()
                    {
                        // SAFETY: `slot` was just taken from this slab.
                        unsafe { s.push(slot) };
                        break;
                    }
                    got += 1;
                }
                !s.free.is_null()
            };
            // SAFETY: `slab` belongs to this node.
            unsafe { l.place(slab, objects) };
            if left {
                break;
            }
        }
        l.free_objects -= got;
        drop(l);
        if got > 0 {
            slot.held
                .store((cc.objs.len() + cc.remote.len()) as u32, Relaxed);
            bump(&slot.stats.refills);
        }
        got
    }

    /// Takes a slab from the page allocator, on node `nid` if it can, else on another node
    /// with memory, and puts it on that node's free list. Returns the node.
    pub(crate) fn grow(&self, nid: u32, gfp: Gfp) -> Result<u32> {
        let order = self.layout.order;
        let first = core::iter::once(nid).filter(|&n| topology::node_has_normal_memory(n));
        let rest = (0..topology::nr_node_ids())
            .filter(|&n| n != nid && topology::node_has_normal_memory(n));
        for n in Iterator::chain(first, rest) {
            let Some(base) = pages::alloc_slab(n, order, gfp) else {
                continue;
            };
            let header = if self.layout.off_slab {
                let Some(h) = self.slab_headers.alloc(gfp.raw(), n) else {
                    // SAFETY: fresh and unused.
                    unsafe { pages::free_slab(base, order) };
                    return Err(ENOMEM);
                };
                // SAFETY: `base` is a live block of ours.
                unsafe { pages::set_slab_private(base, h.as_ptr() as usize) };
                h.as_ptr()
            } else {
                base.as_ptr().cast()
            };
            // SAFETY: `base` is a fresh block of `slab_bytes()`, aligned to its size; `header`
            // is `base` or a fresh header object.
            let slab = unsafe { init_slab(base.as_ptr(), header, &self.layout, self.id, n) };
            // Counted now: from here on, any failure goes through `free_slab`, which counts it
            // freed.
            self.stats.slabs_allocated.inc();
            if self.debug {
                // SAFETY: the slab was just formatted and is not shared yet.
                unsafe { self.debug_init_slab(slab) };
            }
            if let Some(ctor) = self.ctor {
                for i in 0..self.layout.objects {
                    let obj = slab
                        .cast::<u8>()
                        .wrapping_add(self.layout.offset_of(i) + self.layout.obj_offset);
                    // SAFETY: `obj` is an object of this new slab, which nobody else sees yet;
                    // the cache's creator vouched for `ctor` (see `Ctor`).
                    unsafe { ctor(obj.cast()) };
                }
            }
            let Some(node) = self.node(n) else {
                // SAFETY: the slab is on no list and unknown to anyone.
                unsafe { self.free_slab(slab) };
                return Err(EINVAL);
            };
            let mut l = node.lists.lock();
            // A debug slab enters the index and its node's lists together, under the node
            // lock: see `debug_index_has`.
            if self.debug && self.debug_index_insert(slab).is_err() {
                drop(l);
                // SAFETY: the slab is on no list and in no index.
                unsafe { self.free_slab(slab) };
                return Err(ENOMEM);
            }
            // SAFETY: a new slab, on no list.
            unsafe { l.free.push_front(slab) };
            l.total_objects += self.layout.objects;
            l.free_objects += self.layout.objects;
            l.gen = l.gen.wrapping_add(1);
            return Ok(n);
        }
        Err(ENOMEM)
    }

    /// Gives objects back to their slabs, batching lock acquisitions per node, and returns
    /// surplus empty slabs to the page allocator (outside the lock).
    pub(crate) fn free_to_slabs(&self, objs: &[*mut u8]) {
        let objects = self.layout.objects;
        let mut surplus = ObjArray::<8>::new();
        let mut i = 0;
        while i < objs.len() {
            // SAFETY: every object in a per-CPU array is an allocated object of this cache.
            let nid = unsafe { (*self.header_of(objs[i])).node };
            let Some(node) = self.node(nid) else { return };
            let mut l = node.lists.lock();
            while i < objs.len() {
                let slab = self.header_of(objs[i]);
                // SAFETY: the object is allocated from this cache, so its slab, and the header
                // read here, stay live while it is out.
                if unsafe { (*slab).node } != nid {
                    break;
                }
                // SAFETY: the object is allocated from `slab`, which is on this node's lists;
                // we hold the node lock. Its slot starts `obj_offset` bytes before it.
                unsafe {
                    (*slab).push(objs[i].wrapping_sub(self.layout.obj_offset));
                    l.place(slab, objects);
                }
                l.free_objects += 1;
                i += 1;
            }
            self.take_surplus(&mut l, MAX_FREE_SLABS, &mut surplus);
        }
        while let Some(slab) = surplus.pop() {
            // SAFETY: taken off the free list above: empty and unreachable now.
            unsafe { self.free_slab(slab.cast()) };
        }
    }

    /// Takes up to the surplus of empty slabs beyond `keep` off node list `l` into `out`; in a
    /// debug cache they leave the debug index too, while `l`'s lock is held.
    pub(crate) fn take_surplus(&self, l: &mut NodeLists, keep: usize, out: &mut ObjArray<8>) {
        // `out` may hold other nodes' slabs already (`release`): only the new ones leave here.
        let before = out.len();
        l.take_surplus(keep, self.layout.objects, out);
        if self.debug && out.len() > before {
            let mut index = self.debug_slabs.lock();
            for &slab in &out.as_slice()[before..] {
                if let Ok(i) = index.binary_search(&(slab as usize)) {
                    let _ = index.remove(i);
                }
            }
        }
    }

    /// Returns an empty slab's pages.
    ///
    /// # Safety
    ///
    /// `slab` must be a slab of this cache on no list (and, in a debug cache, not in the debug
    /// index), with no object in use.
    pub(crate) unsafe fn free_slab(&self, slab: *mut SlabHeader) {
        // SAFETY: per the contract the slab is ours alone; the magic is cleared so a stale
        // pointer into it is not taken for an object of this cache.
        let base = unsafe {
            (*slab).magic = 0;
            (*slab).base
        };
        let Some(base) = NonNull::new(base) else {
            return;
        };
        if self.layout.off_slab {
            // SAFETY: the block is ours until freed below; the header came from
            // `slab_headers` in `grow` and nothing refers to it any more.
            unsafe {
                pages::set_slab_private(base, 0);
                if let Some(h) = NonNull::new(slab) {
                    self.slab_headers.free(h);
                }
            }
        }
        // SAFETY: the block came from `pages::alloc_slab` with this order.
        unsafe { pages::free_slab(base, self.layout.order) };
        self.stats.slabs_freed.inc();
    }

    /// Takes one object off node `nid`'s slabs; in a debug cache checks it and quarantines it
    /// (and takes another) if it was written while free.
    pub(crate) fn take_from_node(&self, nid: u32) -> Option<*mut u8> {
        let node = self.node(nid)?;
        let objects = self.layout.objects;
        let mut l = node.lists.lock();
        loop {
            let slab = l.partial.first().or_else(|| l.free.first())?;
            // SAFETY: `slab` is on this node's lists; we hold the node lock.
            let slot = unsafe { (*slab).pop() }?;
            // SAFETY: `slab` is still on this node's lists and we still hold the node lock.
            unsafe { l.place(slab, objects) };
            l.free_objects -= 1;
            if !self.debug {
                return Some(slot.wrapping_add(self.layout.obj_offset));
            }
            // SAFETY: `slot` is a slot of this debug cache, just taken off its freelist.
            match unsafe { self.debug_check_free_slot(slot) } {
                Ok(()) => {
                    // SAFETY: a slot of this debug cache taken off its freelist: ours alone now.
                    unsafe { self.debug_mark(slot, STATE_ALLOCATED) };
                    return Some(slot.wrapping_add(self.layout.obj_offset));
                }
                Err(fault) => {
                    self.report(slot.wrapping_add(self.layout.obj_offset), &fault);
                    self.stats.quarantined.inc();
                }
            }
        }
    }

    /// Returns every empty slab of every node to the page allocator. Returns how many.
    pub(crate) fn shrink_nodes(&self) -> usize {
        let mut n = 0;
        for node in self.nodes.iter() {
            loop {
                let mut surplus = ObjArray::<8>::new();
                self.take_surplus(&mut node.lists.lock(), 0, &mut surplus);
                if surplus.is_empty() {
                    break;
                }
                while let Some(s) = surplus.pop() {
                    // SAFETY: taken off the free list: empty and unreachable.
                    unsafe { self.free_slab(s.cast()) };
                    n += 1;
                }
            }
        }
        n
    }
}
