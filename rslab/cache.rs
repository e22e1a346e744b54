// SPDX-License-Identifier: GPL-2.0

//! An rslab object cache: per-CPU object arrays in front of per-node slab lists.
//!
//! # Fast paths
//!
//! `alloc` and `free` take this CPU's [`CpuSlot`] with its local lock (preemption off and a
//! mark in the slot; interrupts stay on) and pop or push one pointer of its array: no atomic
//! read-modify-write, no shared lock, no interrupt flags. Counters on the fast path are plain
//! relaxed stores by their only writer. An interrupt handler that finds the lock taken (it
//! stopped the holder on this CPU) allocates from, or frees to, the node lists directly.
//!
//! # Slow paths
//!
//! An empty array is refilled with a batch from its node's partial (then free) slabs under the
//! node's lock; with no slab there, the local lock is released and a slab is taken from the
//! page allocator. A full array (at its size-dependent limit) flushes its oldest batch. Frees
//! of objects whose slab is on another node collect in a per-CPU buffer that goes back to those
//! nodes in one batch.
//!
//! Debug caches (and `alloc_node`) bypass the arrays and work on the node lists directly, so
//! every allocation and free is checked: state word, red zones, poison, slab membership.

use crate::{
    layout::{
        Layout,
        SlotKind, //
    },
    node::NodeData,
    percpu::{
        set_cpu_nodes,
        CpuSlot,
        HeldCpu,
        ARRAY_CAP, //
    },
    slab::{
        slab_base,
        SlabHeader,
        HEADER_NULL_WORD, //
    },
    stats::{
        bump,
        bump_by,
        CacheStats, //
    },
    sys::{
        kmem::{
            KmemBox,
            KmemCache, //
        },
        pages::{
            self,
            Gfp, //
        },
        percpu::PerCpu,
        topology, //
    },
    words::Name, //
};
use core::{
    ffi::c_void,
    pin::Pin,
    ptr::NonNull, //
};
use kernel::{
    new_spinlock_irq,
    page::PAGE_SIZE,
    prelude::*,
    sync::{
        atomic::{
            Atomic,
            Relaxed as LkmmRelaxed, //
        },
        SpinLockIrq, //
    },
};

/// A constructor: run on every object of a slab when the slab is carved from new pages.
///
/// # Safety
///
/// Whoever creates a cache with a constructor guarantees that it may be called, from any
/// context the cache allocates in, with any object of the cache, for as long as anything
/// allocates from the cache (`rslab_cache_create()`'s contract).
pub(crate) type Ctor = unsafe extern "C" fn(*mut c_void);

/// The kernel kmem caches rslab's metadata comes from, and the source of cache ids. (Slab
/// headers need none: they live in their slabs' `struct page`s.)
pub(crate) struct Meta {
    pub(crate) caches: KmemCache<Cache>,
    pub(crate) nodes: KmemCache<NodeData>,
    pub(crate) next_id: Atomic<u64>,
}

impl Meta {
    /// Creates the metadata caches: cache descriptors and per-node structures.
    pub(crate) fn new(caches: &'static CStr, nodes: &'static CStr) -> Result<Self> {
        Ok(Self {
            caches: KmemCache::new(caches)?,
            nodes: KmemCache::new(nodes)?,
            next_id: Atomic::new(1),
        })
    }
}

// A slab's header lives in the owner's fields of its first `struct page` (`slab.rs`): it must
// fit there, keep `mapping` null where the page keeps it, and need no more than word alignment.
const _: () = assert!(
    core::mem::size_of::<SlabHeader>() <= pages::SLAB_META_BYTES
        && HEADER_NULL_WORD == pages::SLAB_META_MAPPING
        && core::mem::align_of::<SlabHeader>() <= core::mem::align_of::<usize>()
);

/// An object cache.
///
/// # Invariants
///
/// Every slab on a node's lists was allocated by this cache with `layout`, carries
/// `slab_magic(id)` in its header (in its first `struct page`), and is accounted in that node's
/// counters.
pub(crate) struct Cache {
    pub(crate) name: Name,
    pub(crate) id: u64,
    pub(crate) layout: Layout,
    pub(crate) debug: bool,
    /// Run on every object of a new slab; objects then stay in their constructed state while
    /// free (their link is outside them, and a debug cache does not poison them).
    pub(crate) ctor: Option<Ctor>,
    /// Array capacity used (at most `ARRAY_CAP`; smaller for large objects).
    pub(crate) limit: usize,
    /// Objects moved per refill or flush.
    pub(crate) batch: usize,
    pub(crate) nodes: KVec<Pin<KmemBox<NodeData>>>,
    pub(crate) cpus: PerCpu<CpuSlot>,
    /// Debug caches: the base address of every slab, sorted. A pointer handed to `free` is
    /// looked up here before anything is read through it: a foreign pointer is refused
    /// without touching memory that is not ours.
    pub(crate) debug_slabs: Pin<KBox<SpinLockIrq<KVec<usize>>>>,
    pub(crate) stats: CacheStats,
    /// Non-zero while `validate` needs the arrays to hold still: the reaper skips the cache.
    /// Raised under the slab mutex, which the reaper holds for a whole round.
    pub(crate) reap_blocked: Atomic<u32>,
}

impl Cache {
    /// Creates a cache of `size`-byte objects aligned to `align`, with its node structures for
    /// every possible node and its per-CPU slots for every possible CPU.
    pub(crate) fn new(
        meta: &Meta,
        name: Name,
        size: usize,
        align: usize,
        debug: bool,
        ctor: Option<Ctor>,
    ) -> Result<Pin<KmemBox<Cache>>> {
        let kind = match (debug, ctor.is_some()) {
            (true, _) => SlotKind::Debug,
            (false, true) => SlotKind::LinkOutside,
            (false, false) => SlotKind::Plain,
        };
        let layout = Layout::new(size, align, kind, PAGE_SIZE).map_err(|_| EINVAL)?;
        let limit = match layout.stride {
            0..=256 => ARRAY_CAP,
            257..=1024 => 128,
            1025..=4096 => 64,
            _ => 16,
        };
        let nr_nodes = topology::nr_node_ids();
        let mut nodes = KVec::with_capacity(nr_nodes as usize, GFP_KERNEL)?;
        for nid in 0..nr_nodes {
            let on = topology::node_has_normal_memory(nid).then_some(nid);
            nodes.push(
                meta.nodes.alloc(NodeData::new(layout.objects), on)?,
                GFP_KERNEL,
            )?;
        }
        // Zeroed in per-CPU memory: a slot is 2.6 KiB, which must not be built on the stack.
        let cpus = PerCpu::<CpuSlot>::new_locked()?;
        set_cpu_nodes(&cpus);
        let id = meta.next_id.fetch_add(1, LkmmRelaxed);
        let cache = Cache {
            name,
            id,
            layout,
            debug,
            ctor,
            limit,
            batch: limit / 2,
            nodes,
            cpus,
            debug_slabs: KBox::pin_init(
                new_spinlock_irq!(KVec::new(), "rslab_debug_slabs"),
                GFP_KERNEL,
            )?,
            stats: CacheStats::default(),
            reap_blocked: Atomic::new(0),
        };
        meta.caches.alloc_value(cache, None)
    }

    pub(crate) fn node(&self, nid: u32) -> Option<&NodeData> {
        self.nodes.get(nid as usize).map(|n| &**n)
    }

    /// Recomputes the node every CPU allocates from, after memory hotplug changed which nodes
    /// have normal memory.
    pub(crate) fn update_cpu_nodes(&self) {
        set_cpu_nodes(&self.cpus);
    }

    /// The node CPU `cpu` allocates from.
    #[cfg_attr(not(CONFIG_KUNIT = "y"), allow(dead_code))]
    pub(crate) fn cpu_node(&self, cpu: u32) -> Option<u32> {
        self.cpus.get(cpu).map(CpuSlot::node)
    }

    /// Allocates one object.
    ///
    /// The fast path (this CPU's array has an object) is inlined into the caller, the exported
    /// `rslab_alloc()`: one call level and one prologue fewer on every allocation. Everything
    /// else is [`Self::alloc_slow`].
    #[inline(always)]
    pub(crate) fn alloc(&self, gfp: Gfp) -> Result<NonNull<u8>> {
        if !self.debug {
            let Some(mut cpu) = self.try_this_cpu() else {
                return self.alloc_slow(gfp);
            };
            if let Some(obj) = Self::pop_local(&mut cpu) {
                return Ok(obj);
            }
        }
        self.alloc_slow(gfp)
    }

    /// Pops an object of this CPU's array, if it has one: the one step the fast and the slow
    /// path share.
    #[inline(always)]
    fn pop_local(cpu: &mut HeldCpu<'_>) -> Option<NonNull<u8>> {
        let (slot, cc) = cpu.parts();
        let obj = cc.objs.pop()?;
        slot.step_held(-1);
        // Objects are never null (they live in the direct map): `None` is unreachable here.
        NonNull::new(obj)
    }

    /// [`Self::alloc`] when this CPU's array is empty or its lock taken, and every allocation
    /// of a debug cache: refill the array from the node lists, growing a slab if they are empty
    /// too.
    #[cold]
    #[inline(never)]
    fn alloc_slow(&self, gfp: Gfp) -> Result<NonNull<u8>> {
        if self.debug {
            return self.alloc_node(None, gfp);
        }
        let mut from = None;
        loop {
            let Some(mut cpu) = self.try_this_cpu() else {
                // We interrupted the holder of this CPU's arrays: the node lists serve us.
                self.stats.contended.inc();
                return self.alloc_node(None, gfp);
            };
            if let Some(obj) = Self::pop_local(&mut cpu) {
                return Ok(obj);
            }
            let (slot, cc) = cpu.parts();
            let nid = from.take().unwrap_or(slot.node());
            if self.refill(slot, cc, nid) == 0 {
                // The page allocator may sleep (or take sleeping locks on PREEMPT_RT).
                drop(cpu);
                from = Some(self.grow(nid, gfp)?);
            }
        }
    }

    /// Frees one object.
    ///
    /// # Safety
    ///
    /// `obj` must have come from an allocation of this cache ([`Self::alloc`],
    /// [`Self::alloc_node`], [`Self::alloc_bulk`]) and not have been freed since. (A debug cache
    /// checks it all the same, and reports a violation instead of corrupting anything; to free
    /// a pointer that may be bad, use the safe [`Self::free_checked`].)
    #[inline]
    pub(crate) unsafe fn free(&self, obj: NonNull<u8>) {
        if self.debug {
            // Reported and counted there; the caller has nothing to do about it.
            let _ = self.free_checked(obj.as_ptr());
            return;
        }
        let Some(mut cpu) = self.try_this_cpu() else {
            // SAFETY: `obj` is an allocated object of this cache, not freed since (this
            // function's contract), and the cache is not a debug cache (checked above): what
            // `free_contended` needs.
            unsafe { self.free_contended(obj.as_ptr()) };
            return;
        };
        let (slot, cc) = cpu.parts();
        // SAFETY: `obj` is an allocated object of this cache, not freed since (this function's
        // contract), and the cache is not a debug cache (checked above): what `free_one` needs.
        unsafe { self.free_one::<true>(slot, cc, obj.as_ptr()) };
        bump(&slot.stats.frees);
    }

    /// Allocates `objs.len()` objects into `objs`, all or nothing (`kmem_cache_alloc_bulk()`):
    /// on failure every object taken is freed again and the error returned.
    ///
    /// One hold of this CPU's lock serves as many objects as this CPU's array holds, refilling it
    /// in place; the lock is released only to take new pages.
    pub(crate) fn alloc_bulk(&self, gfp: Gfp, objs: &mut [*mut u8]) -> Result {
        let mut done = 0;
        if self.debug {
            return self.alloc_bulk_from_nodes(gfp, objs, 0);
        }
        let mut from = None;
        while done < objs.len() {
            let Some(mut cpu) = self.try_this_cpu() else {
                // We interrupted the holder of this CPU's arrays: the node lists serve us.
                self.stats.contended.inc();
                return self.alloc_bulk_from_nodes(gfp, objs, done);
            };
            let (slot, cc) = cpu.parts();
            while done < objs.len() {
                let Some(obj) = cc.objs.pop() else { break };
                objs[done] = obj;
                done += 1;
            }
            slot.sync_held(cc);
            if done == objs.len() {
                break;
            }
            let nid = from.take().unwrap_or(slot.node());
            if self.refill(slot, cc, nid) == 0 {
                drop(cpu);
                match self.grow(nid, gfp) {
                    Ok(n) => from = Some(n),
                    Err(e) => {
                        // SAFETY: the first `done` objects were just allocated here.
                        unsafe { self.free_bulk(&objs[..done]) };
                        return Err(e);
                    }
                }
            }
        }
        Ok(())
    }

    /// Fills `objs[done..]` from the node lists one by one (`alloc_node`), for a debug cache or
    /// an allocation that found this CPU's lock taken; the first `done` entries are already
    /// allocated. All or nothing, as [`Self::alloc_bulk`].
    fn alloc_bulk_from_nodes(&self, gfp: Gfp, objs: &mut [*mut u8], done: usize) -> Result {
        for i in done..objs.len() {
            match self.alloc_node(None, gfp) {
                Ok(p) => objs[i] = p.as_ptr(),
                Err(e) => {
                    // SAFETY: the first `i` objects were allocated by this call or before it,
                    // by `alloc_bulk`, and are not in use yet.
                    unsafe { self.free_bulk(&objs[..i]) };
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// Frees every object of `objs`, from any nodes, in one hold of this CPU's lock (a debug
    /// cache checks each one instead). Null entries are skipped.
    ///
    /// # Safety
    ///
    /// As for [`Self::free`], for every non-null entry of `objs`; no object may appear twice.
    pub(crate) unsafe fn free_bulk(&self, objs: &[*mut u8]) {
        if self.debug {
            for &p in objs.iter().filter(|p| !p.is_null()) {
                // Reported and counted there.
                let _ = self.free_checked(p);
            }
            return;
        }
        let Some(mut cpu) = self.try_this_cpu() else {
            for &p in objs.iter().filter(|p| !p.is_null()) {
                // SAFETY: every non-null entry is an allocated object of this cache, not freed
                // since and not listed twice (this function's contract).
                unsafe { self.free_contended(p) };
            }
            return;
        };
        let (slot, cc) = cpu.parts();
        let mut n = 0;
        for &p in objs.iter().filter(|p| !p.is_null()) {
            // SAFETY: every non-null entry is an allocated object of this cache, not freed
            // since and not listed twice (this function's contract); not a debug cache
            // (checked above): what `free_one` needs.
            unsafe { self.free_one::<false>(slot, cc, p) };
            n += 1;
        }
        // Once for the whole call (`free_one::<false>` left it to us).
        slot.sync_held(cc);
        bump_by(&slot.stats.frees, n);
    }

    /// Frees `obj` straight to its slab, for a free that found this CPU's lock taken (it
    /// interrupted the holder): the arrays are not ours to touch.
    ///
    /// # Safety
    ///
    /// As for [`Self::free`]; the cache is not a debug cache.
    #[cold]
    unsafe fn free_contended(&self, obj: *mut u8) {
        self.stats.contended.inc();
        self.stats.node_frees.inc();
        self.free_to_slabs(&[obj]);
    }

    /// Allocates one object from node `nid`'s slabs (or this CPU's node), bypassing the per-CPU
    /// array: `alloc_node`, and every allocation of a debug cache, which is checked here.
    pub(crate) fn alloc_node(&self, nid: Option<u32>, gfp: Gfp) -> Result<NonNull<u8>> {
        // A node without normal memory has no slabs: its objects come from the node its CPUs
        // allocate from. Asking `grow` for the node itself would put a new slab on that other
        // node on every call, while the object came from an older slab there.
        let want = match nid {
            Some(n) if n >= topology::nr_node_ids() => return Err(EINVAL),
            Some(n) => topology::mem_node(n),
            None => topology::mem_node(topology::cpu_to_node(topology::this_cpu())),
        };
        let mut from = want;
        loop {
            if let Some(obj) = self.take_from_node(from) {
                self.stats.node_allocs.inc();
                return NonNull::new(obj).ok_or(EINVAL);
            }
            from = self.grow(want, gfp)?;
        }
    }

    /// The header of the slab at `base`: in the slab's first `struct page`. O(1).
    ///
    /// # Safety
    ///
    /// `base` must be the start of a live slab of this cache.
    #[inline(always)]
    pub(crate) unsafe fn header_at(&self, base: usize) -> *mut SlabHeader {
        // SAFETY: a live slab of ours (contract) is a live block from `alloc_slab`, whose first
        // page's owner fields hold its header (see `grow`).
        unsafe { pages::slab_meta(base) }.cast()
    }

    /// The header of the slab `obj` lives in.
    #[inline(always)]
    pub(crate) fn header_of(&self, obj: *mut u8) -> *mut SlabHeader {
        // SAFETY: `obj` is an object of this cache (every caller's contract), so its slab is a
        // live slab of ours.
        unsafe { self.header_at(slab_base(obj, &self.layout)) }
    }

    /// The start of the slab whose header is `slab`.
    pub(crate) fn base_of(&self, slab: *const SlabHeader) -> usize {
        pages::slab_meta_base(slab.cast())
    }

    /// The node of the slab whose header is `slab`: the node field of its `struct page`.
    ///
    /// # Safety
    ///
    /// `slab` must be the header of a live slab of this cache.
    pub(crate) unsafe fn node_of_header(&self, slab: *const SlabHeader) -> u32 {
        // SAFETY: the header of a live slab of ours (contract) is its first page's metadata.
        unsafe { pages::slab_meta_nid(slab.cast()) }
    }

    /// The node of the slab `obj` lives in, whose lists the slab is on: the node field of the
    /// slab's first `struct page` (`page_to_nid()`), which is where [`pages::alloc_slab`] took it
    /// (it never falls back to another node) and so whose lists `grow` put it on.
    ///
    /// # Safety
    ///
    /// `obj` must be an allocated object of this cache.
    #[inline(always)]
    pub(crate) unsafe fn slab_node_of(&self, obj: *mut u8) -> u32 {
        // SAFETY: `obj` is an object of this cache (contract), so its slab is a live block of
        // ours, from `alloc_slab`.
        unsafe { pages::slab_nid(slab_base(obj, &self.layout)) }
    }

    /// The node of the slab of `obj`, an object of this cache.
    #[cfg_attr(not(CONFIG_KUNIT = "y"), allow(dead_code))]
    pub(crate) fn node_of(&self, obj: NonNull<u8>) -> u32 {
        // SAFETY: `obj` is an object of this cache (every caller's contract, as for
        // `header_of`).
        unsafe { self.slab_node_of(obj.as_ptr()) }
    }

    /// Keeps the reaper away from this cache until [`Self::unblock_reap`]. The caller holds
    /// the slab mutex, so no reaper round is running meanwhile.
    pub(crate) fn block_reap(&self) {
        self.reap_blocked.fetch_add(1, LkmmRelaxed);
    }

    /// Undoes [`Self::block_reap`].
    pub(crate) fn unblock_reap(&self) {
        self.reap_blocked.fetch_sub(1, LkmmRelaxed);
    }

    /// Whether the cache has a structure for node `nid` (always, for a possible node: they are
    /// created with the cache and never freed).
    pub(crate) fn has_node(&self, nid: u32) -> bool {
        self.node(nid).is_some()
    }
}

impl Drop for Cache {
    fn drop(&mut self) {
        // Every slab goes back, whatever list it is on: a cache is dropped only after its
        // per-CPU arrays were drained and it was found idle, or at module unload (leaks were
        // reported by then). `&mut self`: nobody else can reach the cache any more.
        for node in self.nodes.iter() {
            let mut l = node.lists.lock();
            let mut slabs = KVec::<usize>::new();
            while let Some(slab) = l.take_any_slab() {
                if slabs.push(slab as usize, GFP_ATOMIC).is_err() {
                    // Out of memory for the list: free this one now, under the lock.
                    // SAFETY: off every list; nothing uses it any more.
                    unsafe { self.discard_slab(slab) };
                }
            }
            drop(l);
            for slab in slabs {
                // SAFETY: taken off every list above; nothing uses the slab any more.
                unsafe { self.discard_slab(slab as *mut SlabHeader) };
            }
        }
    }
}
