// SPDX-License-Identifier: GPL-2.0

//! An rslab object cache: per-CPU object arrays in front of per-node slab lists.
//!
//! # Fast paths
//!
//! `alloc` and `free` disable local interrupts, find this CPU's [`CpuSlot`] and pop or push one
//! pointer of its array: no atomic read-modify-write, no shared lock. Counters on the fast path
//! are plain relaxed stores by their only writer.
//!
//! # Slow paths
//!
//! An empty array is refilled with a batch from its node's partial (then free) slabs under the
//! node's lock; with no slab there, interrupts are enabled again and a slab is taken from the
//! page allocator. A full array (at its size-dependent limit) gives its oldest batch back. Frees
//! of objects whose slab is on another node collect in a per-CPU buffer that goes back to those
//! nodes in one batch.
//!
//! Debug caches (and `alloc_node`) bypass the arrays and work on the node lists directly, so
//! every allocation and free is checked: state word, red zones, poison, slab membership.

use crate::{
    cmd::Name,
    cpuarray::ObjArray,
    layout::{Layout, SlotKind},
    slab::{init_slab, slab_of, ListKind, SlabHeader, SlabList, HEADER_BYTES, SLAB_MAGIC},
    sys::cpuhp::OfflineCpu,
    sys::irq::IrqOff,
    sys::kmem::{KmemBox, KmemCache, RawKmem},
    sys::pages::{self, Gfp},
    sys::topology,
};
use core::{
    cell::UnsafeCell,
    ffi::c_void,
    fmt,
    pin::Pin,
    ptr::{null_mut, NonNull},
    sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed},
};
use kernel::{alloc::AllocError, new_spinlock_irq, page::PAGE_SIZE, prelude::*, sync::SpinLockIrq};

/// Capacity of a per-CPU array (about what SLUB's two per-CPU sheaves hold for small objects,
/// so that a steady alloc/free batch of that many objects stays on the fast path).
pub(crate) const ARRAY_CAP: usize = 256;
/// Capacity of the per-CPU buffer of frees for other nodes.
const REMOTE_CAP: usize = 64;
/// Empty slabs a node keeps before giving pages back to the page allocator.
const MAX_FREE_SLABS: usize = 2;
/// Slabs `validate` checks per hold of a node's lock.
pub(crate) const VALIDATE_PIECE: usize = 64;

/// Debug slot state: the object is handed out.
const STATE_ALLOCATED: u64 = 0xa110_c8ed_a110_c8ed;
/// Debug slot state: the object is free.
const STATE_FREE: u64 = 0xf4ee_f4ee_f4ee_f4ee;
/// Debug: left red zone byte.
const RED_LEFT: u8 = 0xbb;
/// Debug: right red zone byte.
const RED_RIGHT: u8 = 0xcc;
/// Debug: poison of a free object (as SLUB's `POISON_FREE`).
const POISON_FREE: u8 = 0x6b;

fn bump(counter: &AtomicU64) {
    bump_by(counter, 1);
}

fn bump_by(counter: &AtomicU64, n: u64) {
    // Only one writer (the owning CPU): a load and a store, no locked instruction.
    counter.store(counter.load(Relaxed) + n, Relaxed);
}

/// A constructor: run on every object of a slab when the slab is carved from new pages.
///
/// # Safety
///
/// Whoever creates a cache with a constructor guarantees that it may be called, from any
/// context the cache allocates in, with any object of the cache, for as long as anything
/// allocates from the cache (`rslab_cache_create()`'s contract).
pub(crate) type Ctor = unsafe extern "C" fn(*mut c_void);

/// The slab lists of one node, under the node's lock.
struct NodeLists {
    partial: SlabList,
    full: SlabList,
    free: SlabList,
    /// Objects in this node's slabs.
    total_objects: usize,
    /// Of those, objects on freelists.
    free_objects: usize,
    /// Bumped by every change of a slab's objects or list: lets `validate` walk the lists in
    /// pieces, dropping the lock in between, and notice if anything moved meanwhile.
    gen: u64,
}

// SAFETY: the raw slab pointers are owned by the cache and only dereferenced under the node lock.
unsafe impl Send for NodeLists {}

impl NodeLists {
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
    /// `slab` must be a slab of this node, on one of its lists or on none.
    unsafe fn place(&mut self, slab: *mut SlabHeader, objects: usize) {
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
    fn take_surplus(&mut self, keep: usize, objects: usize, out: &mut ObjArray<8>) {
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
    lists: SpinLockIrq<NodeLists>,
}

impl NodeData {
    fn new() -> impl PinInit<Self> {
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

/// Counters of one CPU. Written only by that CPU (relaxed stores), read by anyone.
#[derive(Default)]
pub(crate) struct CpuStats {
    pub(crate) allocs: AtomicU64,
    pub(crate) frees: AtomicU64,
    pub(crate) refills: AtomicU64,
    pub(crate) flushes: AtomicU64,
    pub(crate) remote_frees: AtomicU64,
}

struct CpuCache {
    objs: ObjArray<ARRAY_CAP>,
    remote: ObjArray<REMOTE_CAP>,
}

/// The per-CPU part of a cache, one per possible CPU, allocated when the cache is created (so a
/// CPU that comes online later never finds it missing, the race of "[PATCH - cpu hotplug] Fix
/// races in kmem_cache_create and kmem_cache_destroy", LKML 2004).
///
/// # Invariants
///
/// `cache` is accessed only by code running on this slot's CPU with local interrupts disabled,
/// or, while the CPU is offline, by the holder of an [`OfflineCpu`] for it (which holds the CPU
/// hotplug lock, so such holders are serialised and the CPU cannot come back meanwhile).
#[repr(align(64))]
pub(crate) struct CpuSlot {
    cache: UnsafeCell<CpuCache>,
    /// The node this CPU allocates from: its own if it has normal memory, else the first node
    /// that does (`numa_mem_id()`'s choice). Memory hotplug changes it ([`Cache::update_cpu_nodes`]):
    /// a node that gains or loses its normal memory must not leave its CPUs growing slabs
    /// elsewhere and sending every free down the remote path.
    node: AtomicU32,
    /// Objects held in `cache`, as last stored by the owner: lets `flush_all` skip idle CPUs.
    cached: AtomicU32,
    /// `allocs + frees` at the reaper's last visit (written by the owner only).
    reap_mark: AtomicU64,
    pub(crate) stats: CpuStats,
}

// SAFETY: all zeroes is a valid, empty `CpuSlot`: empty arrays (count 0, null pointers), node
// 0, no cached objects, and every counter 0 (atomics are plain integers in memory).
unsafe impl Zeroable for CpuSlot {}

/// Sets each slot's node (slot `i` is CPU `i`'s) from the nodes that have normal memory now.
fn set_cpu_nodes(cpus: &[CpuSlot]) {
    for (cpu, slot) in cpus.iter().enumerate() {
        let node = topology::mem_node(topology::cpu_to_node(cpu as u32));
        slot.node.store(node, Relaxed);
    }
}

impl CpuSlot {
    /// The node this CPU allocates from.
    #[inline(always)]
    fn node(&self) -> u32 {
        self.node.load(Relaxed)
    }
}

// SAFETY: see the invariant: the `UnsafeCell` is never accessed from two CPUs at once.
unsafe impl Sync for CpuSlot {}
// SAFETY: a slot holds raw object pointers owned by its cache; moving it between threads is fine.
unsafe impl Send for CpuSlot {}

/// Counters of slow-path events, shared by all CPUs.
#[derive(Default)]
pub(crate) struct CacheStats {
    pub(crate) slabs_allocated: AtomicU64,
    pub(crate) slabs_freed: AtomicU64,
    /// `alloc_node` and debug-cache allocations (they bypass the per-CPU counters).
    pub(crate) node_allocs: AtomicU64,
    pub(crate) node_frees: AtomicU64,
    pub(crate) debug_errors: AtomicU64,
    pub(crate) quarantined: AtomicU64,
    /// Objects drained from offline CPUs' arrays.
    pub(crate) offline_drained: AtomicU64,
}

/// The kernel kmem caches rslab's metadata comes from, and the source of cache ids.
pub(crate) struct Meta {
    caches: KmemCache<Cache>,
    nodes: KmemCache<NodeData>,
    /// Off-slab slab headers.
    slabs: KmemCache<SlabHeader>,
    next_id: AtomicU64,
}

impl Meta {
    /// Creates the metadata caches: cache descriptors, per-node structures, off-slab headers.
    pub(crate) fn new(
        caches: &'static CStr,
        nodes: &'static CStr,
        slabs: &'static CStr,
    ) -> Result<Self> {
        Ok(Self {
            caches: KmemCache::new(caches)?,
            nodes: KmemCache::new(nodes)?,
            slabs: KmemCache::new(slabs)?,
            next_id: AtomicU64::new(1),
        })
    }
}

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
        }
    }
}

/// What `validate` counted.
#[derive(Default, Debug)]
pub(crate) struct Census {
    pub(crate) slabs: usize,
    /// Objects out of slab freelists (with users, in arrays, or quarantined).
    pub(crate) inuse: usize,
}

/// An object cache.
///
/// # Invariants
///
/// Every slab on a node's lists was allocated by this cache with `layout`, carries
/// `SLAB_MAGIC ^ id`, and is accounted in that node's counters.
pub(crate) struct Cache {
    pub(crate) name: Name,
    pub(crate) id: u64,
    pub(crate) layout: Layout,
    pub(crate) debug: bool,
    /// Run on every object of a new slab; objects then stay in their constructed state while
    /// free (their link is outside them, and a debug cache does not poison them).
    ctor: Option<Ctor>,
    /// Array capacity used (at most `ARRAY_CAP`; smaller for large objects).
    limit: usize,
    /// Objects moved per refill or flush.
    batch: usize,
    nodes: KVec<Pin<KmemBox<NodeData>>>,
    cpus: KVec<CpuSlot>,
    /// Debug caches: the base address of every slab, sorted. A pointer handed to `free` is
    /// looked up here before anything is read through it: a foreign pointer is refused
    /// without touching memory that is not ours.
    debug_slabs: Pin<KBox<SpinLockIrq<KVec<usize>>>>,
    pub(crate) stats: CacheStats,
    /// Where off-slab headers come from (`Meta::slabs`; the `Meta` outlives the cache).
    slab_headers: RawKmem<SlabHeader>,
    /// Non-zero while `validate` needs the arrays to hold still: the reaper skips the cache.
    /// Raised under the slab mutex, which the reaper holds for a whole round.
    reap_blocked: AtomicU32,
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
        let layout = Layout::new(size, align, kind, HEADER_BYTES, PAGE_SIZE).map_err(|_| EINVAL)?;
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
            nodes.push(meta.nodes.alloc(NodeData::new(), on)?, GFP_KERNEL)?;
        }
        // Zeroed in place: a slot is 2.6 KiB, which must not be built on the stack and copied.
        let cpus = KVec::<CpuSlot>::zeroed(topology::nr_cpu_ids() as usize, GFP_KERNEL)?;
        set_cpu_nodes(&cpus);
        let id = meta.next_id.fetch_add(1, Relaxed);
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
            reap_blocked: AtomicU32::new(0),
            slab_headers: meta.slabs.raw(),
        };
        meta.caches.alloc_value(cache, None)
    }

    fn node(&self, nid: u32) -> Option<&NodeData> {
        self.nodes.get(nid as usize).map(|n| &**n)
    }

    /// This CPU's slot and cache. The `&mut` out of `&self` is the per-CPU discipline of
    /// [`CpuSlot`]: exclusive because interrupts are off on the one CPU that may touch it, and
    /// because it borrows `irq` mutably: one `IrqOff` hands out one `&mut CpuCache` at a time.
    #[inline(always)]
    fn this_cpu<'a>(&'a self, irq: &'a mut IrqOff) -> Option<(&'a CpuSlot, &'a mut CpuCache)> {
        let slot = self.cpus.get(irq.cpu() as usize)?;
        // SAFETY: interrupts are off, so we stay on this CPU and nothing else on it runs until
        // `irq` is dropped; other CPUs never touch an online CPU's slot (type invariant); and
        // `irq` stays mutably borrowed while the reference lives, so no second one exists.
        Some((slot, unsafe { &mut *slot.cache.get() }))
    }

    /// Recomputes the node every CPU allocates from, after memory hotplug changed which nodes
    /// have normal memory.
    pub(crate) fn update_cpu_nodes(&self) {
        set_cpu_nodes(&self.cpus);
    }

    /// The node CPU `cpu` allocates from.
    #[cfg_attr(not(CONFIG_KUNIT = "y"), allow(dead_code))]
    pub(crate) fn cpu_node(&self, cpu: u32) -> Option<u32> {
        self.cpus.get(cpu as usize).map(CpuSlot::node)
    }

    /// Allocates one object.
    #[inline]
    pub(crate) fn alloc(&self, gfp: Gfp) -> Result<NonNull<u8>> {
        if self.debug {
            return self.alloc_node(None, gfp);
        }
        let mut from = None;
        loop {
            let mut irq = IrqOff::new();
            let (slot, cc) = self.this_cpu(&mut irq).ok_or(EINVAL)?;
            if let Some(obj) = cc.objs.pop() {
                // Both arrays count: `flush_all` skips CPUs whose hint is 0, and the remote
                // buffer may hold objects while the array is empty.
                slot.cached
                    .store((cc.objs.len() + cc.remote.len()) as u32, Relaxed);
                bump(&slot.stats.allocs);
                // Objects are never null: they live in the direct map.
                return NonNull::new(obj).ok_or(EINVAL);
            }
            let nid = from.take().unwrap_or(slot.node());
            if self.refill(slot, cc, nid) == 0 {
                drop(irq);
                from = Some(self.grow(nid, gfp)?);
            }
        }
    }

    /// Moves up to a batch of objects from node `nid`'s slabs into this CPU's array.
    #[inline(never)]
    fn refill(&self, slot: &CpuSlot, cc: &mut CpuCache, nid: u32) -> usize {
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
            slot.cached
                .store((cc.objs.len() + cc.remote.len()) as u32, Relaxed);
            bump(&slot.stats.refills);
        }
        got
    }

    /// Takes a slab from the page allocator, on node `nid` if it can, else on another node
    /// with memory, and puts it on that node's free list. Returns the node.
    fn grow(&self, nid: u32, gfp: Gfp) -> Result<u32> {
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
            self.stats.slabs_allocated.fetch_add(1, Relaxed);
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

    /// Frees one object.
    ///
    /// # Safety
    ///
    /// For a cache without `debug`, `obj` must have come from [`Self::alloc`] or
    /// [`Self::alloc_node`] of this cache and not have been freed since. A debug cache checks
    /// its argument and reports (instead of corrupting anything) if it did not.
    #[inline]
    pub(crate) unsafe fn free(&self, obj: NonNull<u8>) {
        if self.debug {
            self.free_checked(obj.as_ptr());
            return;
        }
        let mut irq = IrqOff::new();
        let Some((slot, cc)) = self.this_cpu(&mut irq) else {
            return;
        };
        // SAFETY: the caller's contract is `free_one`'s.
        unsafe { self.free_one(slot, cc, obj.as_ptr()) };
        bump(&slot.stats.frees);
        slot.cached
            .store((cc.objs.len() + cc.remote.len()) as u32, Relaxed);
    }

    /// Puts `obj` into this CPU's arrays (the remote buffer if its slab is on another node),
    /// giving a batch back first if the array is full. Counts neither the free nor the hint.
    ///
    /// # Safety
    ///
    /// `obj` must be an allocated object of this non-debug cache, not freed since, and no
    /// longer used by the caller.
    #[inline(always)]
    unsafe fn free_one(&self, slot: &CpuSlot, cc: &mut CpuCache, obj: *mut u8) {
        let slab = self.header_of(obj);
        // SAFETY: `obj` is an object of this cache (contract), so its slab header is live.
        let onode = unsafe { (*slab).node };
        if onode != slot.node() {
            bump(&slot.stats.remote_frees);
            if let Err(obj) = cc.remote.push(obj) {
                self.give_back(&mut cc.remote, REMOTE_CAP, Some(obj));
            }
        } else {
            if cc.objs.len() >= self.limit {
                // Full: the oldest batch goes back to the node lists.
                self.give_back(&mut cc.objs, self.batch, None);
                bump(&slot.stats.flushes);
            }
            // There is room now (`limit <= ARRAY_CAP`, `batch >= 1`): the push cannot fail.
            let _ = cc.objs.push(obj);
        }
    }

    /// Allocates `objs.len()` objects into `objs`, all or nothing (`kmem_cache_alloc_bulk()`):
    /// on failure every object taken is freed again and the error returned.
    ///
    /// One interrupts-off section serves as many objects as this CPU's array holds, refilling it
    /// in place; interrupts come back on only to take new pages.
    pub(crate) fn alloc_bulk(&self, gfp: Gfp, objs: &mut [*mut u8]) -> Result {
        let mut done = 0;
        if self.debug {
            while done < objs.len() {
                match self.alloc_node(None, gfp) {
                    Ok(p) => objs[done] = p.as_ptr(),
                    Err(e) => {
                        // SAFETY: the first `done` objects were just allocated here.
                        unsafe { self.free_bulk(&objs[..done]) };
                        return Err(e);
                    }
                }
                done += 1;
            }
            return Ok(());
        }
        let mut from = None;
        while done < objs.len() {
            let mut irq = IrqOff::new();
            let Some((slot, cc)) = self.this_cpu(&mut irq) else {
                drop(irq);
                // SAFETY: the first `done` objects were just allocated here.
                unsafe { self.free_bulk(&objs[..done]) };
                return Err(EINVAL);
            };
            let start = done;
            while done < objs.len() {
                let Some(obj) = cc.objs.pop() else { break };
                objs[done] = obj;
                done += 1;
            }
            bump_by(&slot.stats.allocs, (done - start) as u64);
            slot.cached
                .store((cc.objs.len() + cc.remote.len()) as u32, Relaxed);
            if done == objs.len() {
                break;
            }
            let nid = from.take().unwrap_or(slot.node());
            if self.refill(slot, cc, nid) == 0 {
                drop(irq);
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

    /// Frees every object of `objs`, from any nodes, in one interrupts-off section (a debug
    /// cache checks each one instead). Null entries are skipped.
    ///
    /// # Safety
    ///
    /// As for [`Self::free`], for every non-null entry of `objs`; no object may appear twice.
    pub(crate) unsafe fn free_bulk(&self, objs: &[*mut u8]) {
        if self.debug {
            for &p in objs.iter().filter(|p| !p.is_null()) {
                self.free_checked(p);
            }
            return;
        }
        let mut irq = IrqOff::new();
        let Some((slot, cc)) = self.this_cpu(&mut irq) else {
            return;
        };
        let mut n = 0;
        for &p in objs.iter().filter(|p| !p.is_null()) {
            // SAFETY: the caller's contract.
            unsafe { self.free_one(slot, cc, p) };
            n += 1;
        }
        bump_by(&slot.stats.frees, n);
        slot.cached
            .store((cc.objs.len() + cc.remote.len()) as u32, Relaxed);
    }

    /// The header of the slab `obj` lives in: at the slab's start, or (off-slab) where the
    /// slab's first page points. O(1) either way.
    #[inline(always)]
    fn header_of(&self, obj: *mut u8) -> *mut SlabHeader {
        if !self.layout.off_slab {
            return slab_of(obj, &self.layout);
        }
        let base = (obj as usize) & !(self.layout.slab_bytes() - 1);
        // SAFETY: `obj` is an object of this cache (every caller's contract), so `base` is a
        // live slab of ours, whose first page's `private` holds its header.
        unsafe { pages::slab_private(base) as *mut SlabHeader }
    }

    /// The node of the slab of `obj`, an object of this cache.
    #[cfg_attr(not(CONFIG_KUNIT = "y"), allow(dead_code))]
    pub(crate) fn node_of(&self, obj: NonNull<u8>) -> u32 {
        // SAFETY: `obj` is an object of this cache, so its header is live.
        unsafe { (*self.header_of(obj.as_ptr())).node }
    }

    /// Takes the `n` oldest objects of `arr`, plus `extra`, back to their slabs. Works on the
    /// array in place: no copy of it on the stack (this runs with interrupts off).
    #[inline(never)]
    fn give_back<const N: usize>(&self, arr: &mut ObjArray<N>, n: usize, extra: Option<*mut u8>) {
        let n = n.min(arr.len());
        self.release(&arr.as_slice()[..n]);
        arr.drain_oldest(n, |_| {});
        if let Some(o) = extra {
            self.release(&[o]);
        }
    }

    /// Gives objects back to their slabs, batching lock acquisitions per node, and returns
    /// surplus empty slabs to the page allocator (outside the lock).
    fn release(&self, objs: &[*mut u8]) {
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
    fn take_surplus(&self, l: &mut NodeLists, keep: usize, out: &mut ObjArray<8>) {
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

    /// Adds a new debug slab to the index. The caller holds the lock of the node whose lists
    /// the slab is about to join.
    fn debug_index_insert(&self, slab: *mut SlabHeader) -> Result<(), AllocError> {
        let mut index = self.debug_slabs.lock();
        let at = index.binary_search(&(slab as usize)).unwrap_or_else(|i| i);
        if index.insert_within_capacity(at, slab as usize).is_ok() {
            return Ok(());
        }
        index.reserve(1, GFP_ATOMIC)?;
        index
            .insert_within_capacity(at, slab as usize)
            .map_err(|_| AllocError)
    }

    /// Whether `slab` is in the debug index and on node `nid`.
    ///
    /// The index holds exactly the debug slabs that are on their node's lists: a slab joins
    /// both together and leaves both together, under its node's lock, and its pages are freed
    /// only after that. So while the index lock is held, a slab found in it is live and its
    /// header may be read; and once its node's lock is held too, it stays live until that lock
    /// is dropped.
    fn debug_index_has(&self, slab: *mut SlabHeader, nid: Option<u32>) -> Option<u32> {
        let index = self.debug_slabs.lock();
        index.binary_search(&(slab as usize)).ok()?;
        // SAFETY: in the index, so live while we hold the index lock (see above).
        let (magic, node) = unsafe {
            (
                core::ptr::read_volatile(&raw const (*slab).magic),
                (*slab).node,
            )
        };
        (magic == SLAB_MAGIC ^ self.id && nid.is_none_or(|n| n == node)).then_some(node)
    }

    /// Returns an empty slab's pages.
    ///
    /// # Safety
    ///
    /// `slab` must be a slab of this cache on no list (and, in a debug cache, not in the debug
    /// index), with no object in use.
    unsafe fn free_slab(&self, slab: *mut SlabHeader) {
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
        self.stats.slabs_freed.fetch_add(1, Relaxed);
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
                self.stats.node_allocs.fetch_add(1, Relaxed);
                return NonNull::new(obj).ok_or(EINVAL);
            }
            from = self.grow(want, gfp)?;
        }
    }

    /// Takes one object off node `nid`'s slabs; in a debug cache checks it and quarantines it
    /// (and takes another) if it was written while free.
    fn take_from_node(&self, nid: u32) -> Option<*mut u8> {
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
                    self.stats.quarantined.fetch_add(1, Relaxed);
                }
            }
        }
    }

    fn report(&self, obj: *mut u8, fault: &Fault) {
        self.stats.debug_errors.fetch_add(1, Relaxed);
        pr_err!(
            "cache {:?}: object {:p}: {}; object quarantined\n",
            self.name,
            obj,
            fault
        );
    }

    /// Formats every slot of a new debug slab: state free, red zones, poison.
    ///
    /// # Safety
    ///
    /// `slab` must be a freshly initialised slab of this cache not yet visible to anyone else.
    unsafe fn debug_init_slab(&self, slab: *mut SlabHeader) {
        for i in 0..self.layout.objects {
            let slot = slab.cast::<u8>().wrapping_add(self.layout.offset_of(i));
            // SAFETY: the slot lies inside the slab, which the caller owns.
            unsafe {
                let l = &self.layout;
                core::ptr::write_bytes(slot.add(16), RED_LEFT, l.obj_offset - 16);
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
    unsafe fn debug_mark(&self, slot: *mut u8, state: u64) {
        // SAFETY: the state word is the slot's second word (debug layout).
        unsafe { slot.add(8).cast::<u64>().write(state) };
    }

    /// Checks red zones of a debug slot; returns the first bad one.
    ///
    /// # Safety
    ///
    /// `slot` must be a slot of this debug cache.
    unsafe fn debug_check_redzones(&self, slot: *mut u8) -> Result<(), Fault> {
        let l = &self.layout;
        // SAFETY: the red zones lie inside the slot.
        let (left, right) = unsafe {
            let tail = l.obj_offset + l.object_size;
            (
                core::slice::from_raw_parts(slot.add(16), l.obj_offset - 16),
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
    unsafe fn debug_check_free_slot(&self, slot: *mut u8) -> Result<(), Fault> {
        // SAFETY: the state word lies inside the slot.
        let state = unsafe { slot.add(8).cast::<u64>().read() };
        if state != STATE_FREE {
            return Err(Fault::BadState(state));
        }
        // SAFETY: the caller's contract.
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

    /// Frees `p` with every debug check; reports and quarantines instead of corrupting.
    fn free_checked(&self, p: *mut u8) {
        match self.free_checked_inner(p) {
            Ok(()) => {
                self.stats.node_frees.fetch_add(1, Relaxed);
            }
            Err(fault) => {
                self.report(p, &fault);
                // A corrupted object the user gave back: freed as far as the user is
                // concerned, but kept out of circulation.
                if matches!(
                    fault,
                    Fault::RedZoneLeft(_) | Fault::RedZoneRight(_) | Fault::BadState(_)
                ) {
                    self.stats.node_frees.fetch_add(1, Relaxed);
                    self.stats.quarantined.fetch_add(1, Relaxed);
                }
            }
        }
    }

    fn free_checked_inner(&self, p: *mut u8) -> Result<(), Fault> {
        let addr = p as usize;
        if !pages::in_direct_map(addr) {
            return Err(Fault::NotInDirectMap);
        }
        let slab = slab_of(p, &self.layout);
        let index = self
            .layout
            .object_index(addr - slab as usize)
            .ok_or(Fault::NotObjectStart)?;
        let slot = slab.cast::<u8>().wrapping_add(self.layout.offset_of(index));
        // Which node's lock guards the slab: read under the index lock, where the slab cannot
        // be freed (see `debug_index_has`).
        let nid = self
            .debug_index_has(slab, None)
            .ok_or(Fault::NotThisCache)?;
        let node = self.node(nid).ok_or(Fault::Counters)?;
        let mut l = node.lists.lock();
        // Again under the node lock: between the two, a concurrent free of the slab's last
        // object may have emptied it and given its pages back (and a new slab may even sit at
        // the same address on another node). Found now, it stays until `l` is dropped.
        if self.debug_index_has(slab, Some(nid)).is_none() {
            return Err(Fault::NotThisCache);
        }
        // SAFETY: `slot` is a slot of this cache's live slab; the node lock serialises frees
        // of it.
        let state = unsafe { slot.add(8).cast::<u64>().read() };
        match state {
            STATE_ALLOCATED => {}
            STATE_FREE => return Err(Fault::DoubleFree),
            other => return Err(Fault::BadState(other)),
        }
        // SAFETY: `slot` is a slot of this cache's live slab (found in the index under the node
        // lock, which we hold).
        unsafe { self.debug_check_redzones(slot)? };
        // SAFETY: the object is allocated and given back; we hold the node lock.
        unsafe {
            if self.ctor.is_none() {
                core::ptr::write_bytes(p, POISON_FREE, self.layout.object_size);
            }
            self.debug_mark(slot, STATE_FREE);
            (*slab).push(slot);
            l.place(slab, self.layout.objects);
        }
        l.free_objects += 1;
        let mut surplus = ObjArray::<8>::new();
        self.take_surplus(&mut l, MAX_FREE_SLABS, &mut surplus);
        drop(l);
        while let Some(s) = surplus.pop() {
            // SAFETY: taken off the free list: empty and unreachable.
            unsafe { self.free_slab(s.cast()) };
        }
        Ok(())
    }

    /// Keeps the reaper away from this cache until [`Self::unblock_reap`]. The caller holds
    /// the slab mutex, so no reaper round is running meanwhile.
    pub(crate) fn block_reap(&self) {
        self.reap_blocked.fetch_add(1, Relaxed);
    }

    /// Undoes [`Self::block_reap`].
    pub(crate) fn unblock_reap(&self) {
        self.reap_blocked.fetch_sub(1, Relaxed);
    }

    /// Whether the cache has a structure for node `nid` (always, for a possible node: they are
    /// created with the cache and never freed).
    pub(crate) fn has_node(&self, nid: u32) -> bool {
        self.node(nid).is_some()
    }

    /// The reaper's visit on this CPU: objects that sat unused in the array since the last
    /// visit go back (the oldest batch), so does the remote buffer, and empty slabs of this
    /// CPU's node beyond one go back to the page allocator. Returns the objects given back.
    pub(crate) fn reap_local(&self, irq: &mut IrqOff) -> usize {
        if self.reap_blocked.load(Relaxed) != 0 {
            return 0;
        }
        let Some((slot, cc)) = self.this_cpu(irq) else {
            return 0;
        };
        let st = &slot.stats;
        let activity = st.allocs.load(Relaxed) + st.frees.load(Relaxed);
        let idle = slot.reap_mark.load(Relaxed) == activity;
        slot.reap_mark.store(activity, Relaxed);
        let mut n = 0;
        if idle && !cc.objs.is_empty() {
            n += cc.objs.len().min(self.batch.max(1));
            self.give_back(&mut cc.objs, self.batch.max(1), None);
            bump(&st.flushes);
        }
        if !cc.remote.is_empty() {
            n += cc.remote.len();
            self.give_back(&mut cc.remote, REMOTE_CAP, None);
        }
        slot.cached
            .store((cc.objs.len() + cc.remote.len()) as u32, Relaxed);
        if let Some(node) = self.node(slot.node()) {
            let mut surplus = ObjArray::<8>::new();
            self.take_surplus(&mut node.lists.lock(), 1, &mut surplus);
            while let Some(s) = surplus.pop() {
                // SAFETY: taken off the free list: empty and unreachable.
                unsafe { self.free_slab(s.cast()) };
            }
        }
        n
    }

    /// Objects this CPU's arrays hold now (the truth [`Self::cached_hint`] must match).
    #[cfg_attr(not(CONFIG_KUNIT = "y"), allow(dead_code))]
    pub(crate) fn cached_here(&self) -> usize {
        let mut irq = IrqOff::new();
        self.this_cpu(&mut irq)
            .map_or(0, |(_, cc)| cc.objs.len() + cc.remote.len())
    }

    /// Objects held in CPU `cpu`'s arrays, as last stored by that CPU.
    pub(crate) fn cached_hint(&self, cpu: u32) -> u32 {
        self.cpus
            .get(cpu as usize)
            .map_or(0, |s| s.cached.load(Relaxed))
    }

    /// Drains this CPU's arrays back to the node lists. Returns the number of objects.
    pub(crate) fn drain_local(&self, irq: &mut IrqOff) -> usize {
        let Some((slot, cc)) = self.this_cpu(irq) else {
            return 0;
        };
        let n = self.drain(cc);
        slot.cached.store(0, Relaxed);
        if n > 0 {
            bump(&slot.stats.flushes);
        }
        n
    }

    /// Drains the arrays of a CPU that is offline.
    pub(crate) fn drain_offline(&self, cpu: &OfflineCpu<'_>) -> usize {
        let Some(slot) = self.cpus.get(cpu.id() as usize) else {
            return 0;
        };
        // SAFETY: `cpu` proves the CPU is offline and stays so while it lives: no code runs on
        // it to touch its slot, and other CPUs touch an offline CPU's slot only with such a
        // proof, under the hotplug lock, which serialises them (type invariant of `CpuSlot`).
        let cc = unsafe { &mut *slot.cache.get() };
        let n = self.drain(cc);
        slot.cached.store(0, Relaxed);
        self.stats.offline_drained.fetch_add(n as u64, Relaxed);
        n
    }

    fn drain(&self, cc: &mut CpuCache) -> usize {
        let n = cc.objs.len() + cc.remote.len();
        while !cc.objs.is_empty() {
            self.give_back(&mut cc.objs, ARRAY_CAP, None);
        }
        while !cc.remote.is_empty() {
            self.give_back(&mut cc.remote, REMOTE_CAP, None);
        }
        n
    }

    /// Checks this CPU's arrays: every object must be a slot of one of this cache's slabs.
    /// Returns the number of objects held.
    pub(crate) fn validate_local(&self, irq: &mut IrqOff) -> Result<usize, Fault> {
        let Some((_, cc)) = self.this_cpu(irq) else {
            return Ok(0);
        };
        self.validate_array(cc)
    }

    /// As [`Self::validate_local`], for a CPU that is offline.
    pub(crate) fn validate_offline(&self, cpu: &OfflineCpu<'_>) -> Result<usize, Fault> {
        let Some(slot) = self.cpus.get(cpu.id() as usize) else {
            return Ok(0);
        };
        // SAFETY: `cpu` proves the CPU is offline and stays so while it lives, so its slot is
        // not written by its owner; writers from other CPUs need the same proof under the
        // hotplug lock, which the holder of `cpu` has (type invariant of `CpuSlot`).
        self.validate_array(unsafe { &*slot.cache.get() })
    }

    fn validate_array(&self, cc: &CpuCache) -> Result<usize, Fault> {
        for &obj in Iterator::chain(cc.objs.as_slice().iter(), cc.remote.as_slice()) {
            let slab = self.header_of(obj);
            // SAFETY: objects in an array came from this cache's slabs, which stay allocated
            // while they have objects in use; we only read the header.
            let magic = unsafe { (*slab).magic };
            if magic != SLAB_MAGIC ^ self.id {
                return Err(Fault::NotThisCache);
            }
            if self
                .layout
                // SAFETY: the header of a slab with an object in an array is live; read only.
                .object_index((obj as usize).wrapping_sub(unsafe { (*slab).base } as usize))
                .is_none()
            {
                return Err(Fault::NotObjectStart);
            }
        }
        Ok(cc.objs.len() + cc.remote.len())
    }

    /// Walks every slab of every node: magic, node, list, freelist and counters.
    ///
    /// The lists are walked [`VALIDATE_PIECE`] slabs at a time, with the node's lock (and so
    /// interrupts) dropped in between: a large cache must not keep a CPU's interrupts off for
    /// the whole walk (a soft lockup). The node's generation must not change across the pieces;
    /// if it does, the cache was in use and the walk fails with [`Fault::Busy`].
    pub(crate) fn validate_nodes(&self) -> Result<Census, (u32, Fault)> {
        let mut census = Census::default();
        let objects = self.layout.objects;
        for (nid, node) in self.nodes.iter().enumerate() {
            let nid = nid as u32;
            let (mut slabs, mut free, mut inuse) = (0usize, 0usize, 0usize);
            let mut fault = None;
            let mut gen = None;
            let mut pieces = 0usize;
            for kind in [ListKind::Partial, ListKind::Full, ListKind::Free] {
                let mut cursor = None;
                loop {
                    let mut l = node.lists.lock();
                    match gen {
                        None => gen = Some(l.gen),
                        Some(g) if g != l.gen => return Err((nid, Fault::Busy)),
                        Some(_) => {}
                    }
                    // A corrupted (cyclic) list must not keep us here: no more pieces than the
                    // node's slabs can fill.
                    if pieces > l.total_objects / objects.max(1) / VALIDATE_PIECE + 3 {
                        return Err((nid, Fault::WrongList));
                    }
                    pieces += 1;
                    let Some(list) = l.list(kind) else { break };
                    let start = cursor.unwrap_or_else(|| list.first().unwrap_or(null_mut()));
                    let visit = |slab: *mut SlabHeader| {
                        if fault.is_some() {
                            return;
                        }
                        // SAFETY: `slab` is on this node's list; we hold the node lock.
                        let s = unsafe { &*slab };
                        if s.magic != SLAB_MAGIC ^ self.id || s.node != nid {
                            fault = Some(Fault::NotThisCache);
                            return;
                        }
                        let n = s.inuse as usize;
                        let right = match kind {
                            ListKind::Partial => n > 0 && n < objects,
                            ListKind::Full => n == objects,
                            _ => n == 0,
                        };
                        if s.list != kind || !right {
                            fault = Some(Fault::WrongList);
                            return;
                        }
                        // SAFETY: `s` is a slab of this cache's layout, on this node's list,
                        // and we hold the node lock: nobody else walks or changes it.
                        match unsafe { s.count_free(&self.layout) } {
                            Ok(f) if f == objects - n => free += f,
                            _ => fault = Some(Fault::Freelist),
                        }
                        slabs += 1;
                        inuse += n;
                    };
                    // SAFETY: `start` is the list's head, or where the previous piece stopped,
                    // which is still on this list: the generation has not changed since.
                    let next = unsafe { list.for_each_from(start, VALIDATE_PIECE, visit) };
                    drop(l);
                    if let Some(f) = fault {
                        return Err((nid, f));
                    }
                    match next {
                        Some(s) => cursor = Some(s),
                        None => break,
                    }
                }
            }
            let l = node.lists.lock();
            if gen != Some(l.gen) {
                return Err((nid, Fault::Busy));
            }
            if l.free_objects != free || l.total_objects != slabs * objects {
                return Err((nid, Fault::Counters));
            }
            census.slabs += slabs;
            census.inuse += inuse;
        }
        Ok(census)
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

    /// Objects allocated and not freed, by the counters: the users' objects.
    pub(crate) fn live(&self) -> i64 {
        let (mut a, mut f) = (
            self.stats.node_allocs.load(Relaxed),
            self.stats.node_frees.load(Relaxed),
        );
        for s in self.cpus.iter() {
            a += s.stats.allocs.load(Relaxed);
            f += s.stats.frees.load(Relaxed);
        }
        a as i64 - f as i64
    }

    /// Objects out of slab freelists on all nodes, by the node counters.
    pub(crate) fn inuse(&self) -> usize {
        self.nodes
            .iter()
            .map(|n| {
                let l = n.lists.lock();
                l.total_objects - l.free_objects
            })
            .sum()
    }

    /// Per-node `(partial, full, free)` slab counts and `(total, free)` objects.
    pub(crate) fn node_counts(&self, nid: u32) -> Option<([usize; 3], [usize; 2])> {
        let l = self.node(nid)?.lists.lock();
        Some((
            [l.partial.len(), l.full.len(), l.free.len()],
            [l.total_objects, l.free_objects],
        ))
    }

    /// Sums of the per-CPU counters: allocs, frees, refills, flushes, remote frees.
    pub(crate) fn cpu_totals(&self) -> [u64; 5] {
        let mut t = [0u64; 5];
        for s in self.cpus.iter() {
            let st = &s.stats;
            for (i, c) in [
                &st.allocs,
                &st.frees,
                &st.refills,
                &st.flushes,
                &st.remote_frees,
            ]
            .iter()
            .enumerate()
            {
                t[i] += c.load(Relaxed);
            }
        }
        t
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
            for kind in [ListKind::Partial, ListKind::Full, ListKind::Free] {
                let Some(list) = l.list(kind) else { continue };
                while let Some(slab) = list.pop_front() {
                    if slabs.push(slab as usize, GFP_ATOMIC).is_err() {
                        // Out of memory for the list: free this one now, under the lock.
                        // SAFETY: off every list; nothing uses it any more.
                        unsafe { self.free_slab(slab) };
                    }
                }
            }
            l.total_objects = 0;
            l.free_objects = 0;
            drop(l);
            for slab in slabs {
                // SAFETY: taken off every list above; nothing uses the slab any more.
                unsafe { self.free_slab(slab as *mut SlabHeader) };
            }
        }
    }
}
