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
        clear_header,
        init_slab,
        ListKind,
        SlabHeader,
        SlabList, //
    },
    stats::{
        bump,
        bump_by, //
    },
    sys::{
        pages,
        pages::Gfp,
        topology, //
    },
};
use core::ptr::{
    null_mut,
    NonNull, //
};
use kernel::{
    new_spinlock_irq,
    prelude::*,
    sync::SpinLockIrq, //
};

/// Empty slabs a node keeps before giving pages back to the page allocator.
pub(crate) const MAX_FREE_SLABS: usize = 2;

/// The slab lists of one node, reached only through its lock's guard: every operation on a
/// node's slabs and their freelists is a method here.
///
/// # Invariants
///
/// Every slab on `partial`, `full` and `free` is a live slab of this node, formatted by
/// [`init_slab`] for a layout of `objects` objects per slab, with an intact freelist and on the
/// list its `inuse` count calls for; `total_objects` and `free_objects` count the objects of
/// those slabs and the free ones among them. Only the holder of the node lock (`&mut self`)
/// reads or writes their headers and freelists.
pub(crate) struct NodeLists {
    partial: SlabList,
    full: SlabList,
    free: SlabList,
    /// Objects per slab.
    objects: usize,
    /// Objects in this node's slabs.
    total_objects: usize,
    /// Of those, objects on freelists.
    free_objects: usize,
    /// Bumped by every change of a slab's objects or list: lets `validate` walk the lists in
    /// pieces, dropping the lock in between, and notice if anything moved meanwhile.
    gen: u64,
}

// SAFETY: the raw slab pointers are owned by the cache and only dereferenced under the node lock
// (type invariant), whichever thread holds it.
unsafe impl Send for NodeLists {}

/// Where a piecewise walk of a node's list stopped: valid only while the node's generation is
/// the one it was taken at.
pub(crate) struct Cursor {
    at: *mut SlabHeader,
    gen: u64,
}

/// A walk could not go on: the node changed since its cursor was taken.
#[derive(Debug)]
pub(crate) struct Moved;

impl NodeLists {
    fn new(objects: usize) -> Self {
        // INVARIANT: no slab, no object.
        Self {
            partial: SlabList::new(ListKind::Partial),
            full: SlabList::new(ListKind::Full),
            free: SlabList::new(ListKind::Free),
            objects,
            total_objects: 0,
            free_objects: 0,
            gen: 0,
        }
    }

    fn list(&mut self, kind: ListKind) -> Option<&mut SlabList> {
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
    /// `slab` must be a live slab of this node, on one of its lists or, being added, on none.
    unsafe fn place(&mut self, slab: *mut SlabHeader) {
        self.gen = self.gen.wrapping_add(1);
        // SAFETY: `slab` is a live slab of this node (contract) and we hold the node lock.
        let (inuse, cur) = unsafe { ((*slab).inuse as usize, (*slab).list) };
        let want = match inuse {
            0 => ListKind::Free,
            n if n == self.objects => ListKind::Full,
            _ => ListKind::Partial,
        };
        if cur == want {
            return;
        }
        if let Some(l) = self.list(cur) {
            // SAFETY: the slab is on `cur`: its tag names its list (`SlabList` invariant).
            unsafe { l.remove(slab) };
        }
        if let Some(l) = self.list(want) {
            // SAFETY: the slab is on no list now.
            unsafe { l.push_front(slab) };
        }
    }

    /// Takes up to `max` free slots off this node's slabs (partial ones first, then empty ones),
    /// handing each to `take`; a slot `take` refuses goes back and ends the batch. Returns how
    /// many were taken.
    pub(crate) fn take_slots(
        &mut self,
        max: usize,
        mut take: impl FnMut(*mut u8) -> bool,
    ) -> usize {
        let mut got = 0;
        while got < max {
            let Some(slab) = self.partial.first().or_else(|| self.free.first()) else {
                break;
            };
            let slab_left = {
                // SAFETY: `slab` is on this node's lists, so live and ours under the lock (type
                // invariant); the reference ends before `place` reads the header again.
                let s = unsafe { &mut *slab };
                let mut refused = false;
                while got < max {
                    // SAFETY: `s` is a slab of this node with an intact freelist (invariant).
                    let Some(slot) = (unsafe { s.pop() }) else {
                        break;
                    };
                    if !take(slot) {
                        // SAFETY: `slot` was just taken off this slab and is unused.
                        unsafe { s.push(slot) };
                        refused = true;
                        break;
                    }
                    got += 1;
                }
                refused || !s.free.is_null()
            };
            // SAFETY: `slab` is a slab of this node's lists.
            unsafe { self.place(slab) };
            if slab_left {
                break;
            }
        }
        // INVARIANT: `got` slots left the freelists; `place` put each slab on its list.
        self.free_objects -= got;
        got
    }

    /// Puts the allocated `slot` back on the freelist of its slab `slab`.
    ///
    /// # Safety
    ///
    /// `slab` must be a slab of this node, and `slot` an allocated slot of it (out of its
    /// freelist, used by nobody any more).
    pub(crate) unsafe fn return_slot(&mut self, slab: *mut SlabHeader, slot: *mut u8) {
        // SAFETY: `slab` is a live slab of this node and `slot` an allocated slot of it
        // (contract); we hold the node lock.
        unsafe {
            (*slab).push(slot);
            self.place(slab);
        }
        // INVARIANT: one more free object, on its slab's freelist.
        self.free_objects += 1;
    }

    /// Adds a slab just formatted for this node: all of its objects are free.
    ///
    /// # Safety
    ///
    /// `slab` must have been formatted by [`init_slab`] for this node's layout, be on no list
    /// and be known to nobody else.
    pub(crate) unsafe fn add_new_slab(&mut self, slab: *mut SlabHeader) {
        // SAFETY: a new slab of this node on no list (contract).
        unsafe { self.free.push_front(slab) };
        // INVARIANT: its objects are all free.
        self.total_objects += self.objects;
        self.free_objects += self.objects;
        self.gen = self.gen.wrapping_add(1);
    }

    /// Takes empty slabs beyond `keep` off the free list into `out` (as many as it holds): they
    /// leave this node, and their pages may go back to the page allocator.
    pub(crate) fn take_surplus(&mut self, keep: usize, out: &mut ObjArray<8>) {
        while self.free.len() > keep {
            let Some(slab) = self.free.first() else { break };
            if out.push(slab.cast()).is_err() {
                break;
            }
            // SAFETY: `slab` is the free list's head.
            unsafe { self.free.remove(slab) };
            // INVARIANT: an empty slab left: its objects were all free.
            self.total_objects -= self.objects;
            self.free_objects -= self.objects;
            self.gen = self.gen.wrapping_add(1);
        }
    }

    /// Takes one slab, whatever its list, off this node (emptying it at cache destruction).
    pub(crate) fn take_any_slab(&mut self) -> Option<*mut SlabHeader> {
        let slab = self
            .partial
            .pop_front()
            .or_else(|| self.full.pop_front())
            .or_else(|| self.free.pop_front())?;
        // INVARIANT: the slab and its objects left the node.
        self.total_objects -= self.objects;
        // SAFETY: the slab was on this node's lists (a live slab of ours) until just now.
        self.free_objects -= self.objects - unsafe { (*slab).inuse } as usize;
        self.gen = self.gen.wrapping_add(1);
        Some(slab)
    }

    /// Calls `f` on at most `limit` slabs of list `kind`, starting where `from` stopped (or at
    /// the front). Returns where to go on next time (`None`: the list is done), or `Moved` if the
    /// node changed since `from` was taken.
    pub(crate) fn walk(
        &self,
        kind: ListKind,
        from: Option<Cursor>,
        limit: usize,
        mut f: impl FnMut(&SlabHeader),
    ) -> Result<Option<Cursor>, Moved> {
        let list = match kind {
            ListKind::Partial => &self.partial,
            ListKind::Full => &self.full,
            ListKind::Free => &self.free,
            ListKind::None => return Ok(None),
        };
        let start = match from {
            Some(c) if c.gen != self.gen => return Err(Moved),
            Some(c) => c.at,
            None => list.first().unwrap_or(null_mut()),
        };
        // SAFETY: `start` is null, the list's head, or where the previous piece stopped, which is
        // still on this list because nothing changed since (same generation). Every slab on it
        // is live and ours under the lock (type invariant).
        let next = unsafe { list.for_each_from(start, limit, |p| f(&*p)) };
        Ok(next.map(|at| Cursor { at, gen: self.gen }))
    }

    /// `(partial, full, free)` slab counts and `(total, free)` object counts.
    pub(crate) fn counts(&self) -> ([usize; 3], [usize; 2]) {
        (
            [self.partial.len(), self.full.len(), self.free.len()],
            [self.total_objects, self.free_objects],
        )
    }

    /// The generation: changes with every change of the lists or of a slab's objects.
    pub(crate) fn generation(&self) -> u64 {
        self.gen
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
    /// The structure of one node for slabs of `objects` objects.
    pub(crate) fn new(objects: usize) -> impl PinInit<Self> {
        pin_init!(Self {
            lists <- new_spinlock_irq!(NodeLists::new(objects), "rslab_node_lock"),
        })
    }
}

impl Cache {
    /// Moves up to a batch of objects from node `nid`'s slabs into this CPU's array.
    #[inline(never)]
    pub(crate) fn refill(&self, slot: &CpuSlot, cc: &mut CpuArrays, nid: u32) -> usize {
        let Some(node) = self.node(nid) else { return 0 };
        let off = self.layout.obj_offset;
        let got = node
            .lists
            .lock()
            .take_slots(self.batch, |s| cc.objs.push(s.wrapping_add(off)).is_ok());
        if got > 0 {
            slot.sync_held(cc);
            bump(&slot.slow.refills);
            bump_by(&slot.slow.objs_in, got as u64);
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
            // SAFETY: `base` is a fresh block of ours from `alloc_slab`, of `slab_bytes()` and
            // aligned to its size; its header goes to its first page's owner fields, unused.
            let slab = unsafe {
                init_slab(
                    base.as_ptr(),
                    self.header_at(base.as_ptr() as usize),
                    &self.layout,
                    self.id,
                )
            };
            // Counted now: from here on, any failure goes through `discard_slab`, which counts it
            // freed.
            self.stats.slabs_allocated.inc();
            if self.debug {
                // SAFETY: the slab was just formatted and is not shared yet.
                unsafe { self.debug_init_slab(base.as_ptr()) };
            }
            if let Some(ctor) = self.ctor {
                for i in 0..self.layout.objects {
                    let obj = base
                        .as_ptr()
                        .wrapping_add(self.layout.offset_of(i) + self.layout.obj_offset);
                    // SAFETY: `obj` is an object of this new slab, which nobody else sees yet;
                    // the cache's creator vouched for `ctor` (see `Ctor`).
                    unsafe { ctor(obj.cast()) };
                }
            }
            let Some(node) = self.node(n) else {
                // SAFETY: the slab is on no list and unknown to anyone.
                unsafe { self.discard_slab(slab) };
                return Err(EINVAL);
            };
            let mut l = node.lists.lock();
            // A debug slab enters the index and its node's lists together, under the node
            // lock: see `debug_index_has`.
            if self.debug && self.debug_index_insert(base.as_ptr() as usize).is_err() {
                drop(l);
                // SAFETY: the slab is on no list and in no index.
                unsafe { self.discard_slab(slab) };
                return Err(ENOMEM);
            }
            // SAFETY: just formatted for node `n` with this cache's layout, on no list, and
            // known to nobody else (a debug slab's index entry is only looked up under this
            // node's lock, held).
            unsafe { l.add_new_slab(slab) };
            return Ok(n);
        }
        Err(ENOMEM)
    }

    /// Gives objects back to their slabs, batching lock acquisitions per node, and returns
    /// surplus empty slabs to the page allocator (outside the lock).
    pub(crate) fn free_to_slabs(&self, objs: &[*mut u8]) {
        let mut surplus = ObjArray::<8>::new();
        // The node of `objs[k]`, read once per object.
        let node_of = |k: usize| {
            objs.get(k).map(|&o| {
                // SAFETY: every object in a per-CPU array is an allocated object of this cache
                // (the caller's contract), whose slab stays live while it is out.
                unsafe { self.slab_node_of(o) }
            })
        };
        let mut i = 0;
        let mut next = node_of(0);
        while let Some(nid) = next {
            let Some(node) = self.node(nid) else { return };
            let mut l = node.lists.lock();
            while next == Some(nid) {
                let slab = self.header_of(objs[i]);
                // SAFETY: the object is allocated from `slab` (it is an allocated object of this
                // cache, caller's contract), a slab on node `nid`, whose lock we hold. Its slot
                // starts `obj_offset` bytes before it.
                unsafe { l.return_slot(slab, objs[i].wrapping_sub(self.layout.obj_offset)) };
                i += 1;
                next = node_of(i);
            }
            self.take_surplus(&mut l, MAX_FREE_SLABS, &mut surplus);
        }
        while let Some(slab) = surplus.pop() {
            // SAFETY: taken off the free list above: empty and unreachable now.
            unsafe { self.discard_slab(slab.cast()) };
        }
    }

    /// Takes up to the surplus of empty slabs beyond `keep` off node list `l` into `out`; in a
    /// debug cache they leave the debug index too, while `l`'s lock is held.
    pub(crate) fn take_surplus(&self, l: &mut NodeLists, keep: usize, out: &mut ObjArray<8>) {
        // `out` may hold other nodes' slabs already (`free_to_slabs`): only the new ones leave here.
        let before = out.len();
        l.take_surplus(keep, out);
        if self.debug && out.len() > before {
            let mut index = self.debug_slabs.lock();
            for &slab in &out.as_slice()[before..] {
                if let Ok(i) = index.binary_search(&self.base_of(slab.cast())) {
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
    pub(crate) unsafe fn discard_slab(&self, slab: *mut SlabHeader) {
        let base = self.base_of(slab);
        // SAFETY: per the contract the slab is ours alone. Its header is cleared: a stale
        // pointer into the slab is not taken for an object of this cache (no magic), and the
        // page goes back with its fields as the page allocator gave it.
        unsafe { clear_header(slab) };
        let Some(base) = NonNull::new(base as *mut u8) else {
            return;
        };
        // SAFETY: the block came from `pages::alloc_slab` with this order.
        unsafe { pages::free_slab(base, self.layout.order) };
        self.stats.slabs_freed.inc();
    }

    /// Takes one object off node `nid`'s slabs; in a debug cache checks it and quarantines it
    /// (and takes another) if it was written while free.
    pub(crate) fn take_from_node(&self, nid: u32) -> Option<*mut u8> {
        let node = self.node(nid)?;
        let mut l = node.lists.lock();
        loop {
            let mut slot = None;
            l.take_slots(1, |s| slot.replace(s).is_none());
            let slot = slot?;
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
                    unsafe { self.discard_slab(s.cast()) };
                    n += 1;
                }
            }
        }
        n
    }
}
