// SPDX-License-Identifier: GPL-2.0

//! The per-CPU side of a cache: each CPU's object arrays, and what moves objects between them
//! and the node lists.
//!
//! A CPU's arrays are its own: touched only on that CPU by the holder of its local lock
//! ([`LocalGuard`]: preemption off and a mark in the slot, no atomic read-modify-write, interrupts
//! left on; a per-CPU `spinlock_t` with migration off on PREEMPT_RT), or, once it is offline, by
//! the holder of the proof of that ([`OfflineCpu`]). An interrupt that finds the lock taken (it
//! interrupted the holder) leaves the arrays alone and works on the node lists.
//!
//! Words used here: objects go from the node lists into an array by a *refill*; back from an
//! array to the node lists by a *flush* (its oldest batch when it is full, all of it in
//! `flush_all` and when its CPU died); the reaper's visit (*reap*) flushes what sat unused since
//! its last visit.

use crate::{
    cache::Cache,
    cpuarray::ObjArray,
    stats::{
        bump,
        bump_by,
        CpuSlowStats,
        CpuStats, //
    },
    sys::{
        cpuhp::OfflineCpu,
        local_lock::{
            LocalGuard,
            LocalLocked,
            LocalTrylock, //
        },
        percpu::PerCpu,
        topology, //
    },
};
use core::{
    cell::UnsafeCell,
    sync::atomic::{
        AtomicU32,
        AtomicU64,
        Ordering::Relaxed, //
    },
};
use kernel::{
    prelude::*,
    sync::atomic::Relaxed as LkmmRelaxed, //
};

/// Capacity of a per-CPU array (about what SLUB's two per-CPU sheaves hold for small objects,
/// so that a steady alloc/free batch of that many objects stays on the fast path).
pub(crate) const ARRAY_CAP: usize = 256;
/// Capacity of the per-CPU buffer of frees for other nodes.
pub(crate) const REMOTE_CAP: usize = 64;

/// A CPU's arrays: its object array and its buffer of frees bound for other nodes.
#[repr(C)]
pub(crate) struct CpuArrays {
    /// First: its count shares the slot's first cache line with the counters.
    pub(crate) objs: ObjArray<ARRAY_CAP>,
    pub(crate) remote: ObjArray<REMOTE_CAP>,
}

/// The per-CPU part of a cache, in per-CPU memory ([`PerCpu`], on each CPU's own node), one per
/// possible CPU, allocated when the cache is created (so a CPU that comes online later never
/// finds it missing, the race of "[PATCH - cpu hotplug] Fix races in kmem_cache_create and
/// kmem_cache_destroy", LKML 2004).
///
/// The fields an allocation or a free touches besides the array element itself (the lock, the
/// node, the hint, the free counter, the array's count) share the slot's first cache line:
/// `repr(C)` keeps them there, in this order, where the lock is one byte (no lockdep, no
/// PREEMPT_RT). Slow-path counters and the reaper's mark come after the arrays.
///
/// # Invariants
///
/// `cache` is accessed only by the holder of `lock` on this slot's CPU, or, while the CPU is
/// offline, by the holder of an [`OfflineCpu`] for it (which holds the CPU hotplug lock, so such
/// holders are serialised and the CPU cannot come back meanwhile; no lock holder is left on a
/// dead CPU: hotplug waits for preemption-off sections and for migration-disabled tasks).
#[repr(C, align(64))]
pub(crate) struct CpuSlot {
    /// First: the `__percpu` pointer of the slot is that of its lock ([`LocalLocked`]).
    lock: LocalTrylock,
    /// The node this CPU allocates from: its own if it has normal memory, else the first node
    /// that does (see `topology::mem_node`). Memory hotplug changes it ([`Cache::update_cpu_nodes`]):
    /// a node that gains or loses its normal memory must not leave its CPUs growing slabs
    /// elsewhere and sending every free down the remote path.
    pub(crate) node: AtomicU32,
    /// Objects held in `cache`, as last stored by the owner: lets `flush_all` skip idle CPUs,
    /// and derives the allocation count ([`CpuSlot::allocs`]).
    pub(crate) held: AtomicU32,
    pub(crate) stats: CpuStats,
    pub(crate) cache: UnsafeCell<CpuArrays>,
    pub(crate) slow: CpuSlowStats,
    /// Frees and allocations at the reaper's last visit, 32 bits each (written by the owner
    /// only): equal now means the CPU did neither since.
    pub(crate) reap_mark: AtomicU64,
}

// The hot fields above fit the first cache line with the array's count (the first word of
// `cache`: both are `repr(C)` with the count first), where the lock is its one byte.
#[cfg(not(any(CONFIG_PREEMPT_RT, CONFIG_DEBUG_LOCK_ALLOC)))]
const _: () = assert!(core::mem::offset_of!(CpuSlot, cache) + core::mem::size_of::<usize>() <= 64);

// SAFETY: `CpuSlot` is `repr(C)` with its `LocalTrylock` first.
unsafe impl LocalLocked for CpuSlot {}

// SAFETY: all zeroes is a valid, empty `CpuSlot`: a lock to be initialised by
// `PerCpu::new_locked()` (released, if it needs no initialisation), empty arrays (count 0, null
// pointers), node 0, no cached objects, and every counter 0 (atomics are plain integers).
unsafe impl Zeroable for CpuSlot {}

/// Sets each CPU's node from the nodes that have normal memory now.
pub(crate) fn set_cpu_nodes(cpus: &PerCpu<CpuSlot>) {
    for (cpu, slot) in cpus.iter() {
        let node = topology::mem_node(topology::cpu_to_node(cpu));
        slot.node.store(node, Relaxed);
    }
}

impl CpuSlot {
    /// The node this CPU allocates from.
    #[inline(always)]
    pub(crate) fn node(&self) -> u32 {
        self.node.load(Relaxed)
    }

    /// Stores the `held` hint exactly: what `cc`, this slot's arrays, hold. Both arrays count:
    /// `flush_all` skips CPUs whose hint is 0, and the remote buffer may hold objects while the
    /// object array is empty.
    #[inline(always)]
    pub(crate) fn sync_held(&self, cc: &CpuArrays) {
        self.held
            .store((cc.objs.len() + cc.remote.len()) as u32, Relaxed);
    }

    /// Moves the `held` hint by `delta` after a push (+1) or a pop (-1) of the object array
    /// alone, without a look at the remote buffer's count, which lives on another cache line.
    /// Exact if the hint was (`validate` checks it).
    #[inline(always)]
    pub(crate) fn step_held(&self, delta: i32) {
        self.held
            .store(self.held.load(Relaxed).wrapping_add_signed(delta), Relaxed);
    }
}

// SAFETY: see the invariant: the `UnsafeCell` is never accessed from two CPUs at once.
unsafe impl Sync for CpuSlot {}
// SAFETY: a slot holds raw object pointers owned by its cache; moving it between threads is fine.
unsafe impl Send for CpuSlot {}

/// This CPU's slot with its lock held: the way to the arrays of an online CPU.
pub(crate) struct HeldCpu<'a>(LocalGuard<'a, CpuSlot>);

impl HeldCpu<'_> {
    /// The slot and its arrays. The `&mut` out of a shared slot is the per-CPU discipline of
    /// [`CpuSlot`]: exclusive because this CPU's lock is held, and because it borrows `self`
    /// mutably: one guard hands out one `&mut CpuArrays` at a time.
    #[inline(always)]
    pub(crate) fn parts(&mut self) -> (&CpuSlot, &mut CpuArrays) {
        let slot: &CpuSlot = &self.0;
        // SAFETY: the guard holds this CPU's lock of `slot` (its type invariant), so no other
        // code touches `slot.cache` until it is dropped (type invariant of `CpuSlot`); `self`
        // stays mutably borrowed while the reference lives, so no second one exists.
        (slot, unsafe { &mut *slot.cache.get() })
    }
}

impl Cache {
    /// This CPU's slot, locked; `None` if its lock is taken (an interrupt handler that stopped
    /// the holder on this CPU; on PREEMPT_RT, also a task that preempted it, or a hard
    /// interrupt): the caller then works on the node lists instead.
    #[inline(always)]
    pub(crate) fn try_this_cpu(&self) -> Option<HeldCpu<'_>> {
        self.cpus.try_lock().map(HeldCpu)
    }

    /// This CPU's slot, locked, waiting if the lock is taken (only PREEMPT_RT can find it so in
    /// task context). Task context only: the reaper, `flush_all`'s work items, validate.
    pub(crate) fn lock_this_cpu(&self) -> HeldCpu<'_> {
        HeldCpu(self.cpus.lock())
    }

    /// Puts `obj` into this CPU's arrays (the remote buffer if its slab is on another node),
    /// giving a batch back first if the array is full. Does not count the free. With `STEP`,
    /// the `held` hint follows the push; without it, the caller syncs the hint when it is done
    /// (a bulk free: once per call, not three instructions per object), and until then the hint
    /// lags by the objects this call pushed. A reader on another CPU (`flush_all`) sees the
    /// count before the call, as it would had it read just before the call began.
    ///
    /// # Safety
    ///
    /// `obj` must be an allocated object of this non-debug cache, not freed since, and no
    /// longer used by the caller.
    #[inline(always)]
    pub(crate) unsafe fn free_one<const STEP: bool>(
        &self,
        slot: &CpuSlot,
        cc: &mut CpuArrays,
        obj: *mut u8,
    ) {
        // SAFETY: `obj` is an allocated object of this cache (contract).
        let onode = unsafe { self.slab_node_of(obj) };
        if onode != slot.node() {
            bump(&slot.slow.remote_frees);
            if let Err(obj) = cc.remote.push(obj) {
                self.flush_oldest(slot, &mut cc.remote, REMOTE_CAP, Some(obj));
            }
        } else if cc.objs.len() < self.limit {
            // Room (`limit <= ARRAY_CAP`): the push cannot fail.
            let _ = cc.objs.push(obj);
            if STEP {
                slot.step_held(1);
            }
            return;
        } else {
            // Full: the oldest batch goes back to the node lists; then there is room
            // (`batch >= 1`).
            self.flush_oldest(slot, &mut cc.objs, self.batch, None);
            bump(&slot.slow.flushes);
            let _ = cc.objs.push(obj);
        }
        slot.sync_held(cc);
    }

    /// Takes the `n` oldest objects of `arr` (one of `slot`'s arrays), plus `extra`, back to
    /// their slabs, and counts them out of the slot: every object that leaves a CPU's arrays
    /// for the slabs is counted here. Works on the array in place: no copy of it on the stack
    /// (this runs under this CPU's lock, preemption off).
    #[inline(never)]
    pub(crate) fn flush_oldest<const N: usize>(
        &self,
        slot: &CpuSlot,
        arr: &mut ObjArray<N>,
        n: usize,
        extra: Option<*mut u8>,
    ) {
        let n = n.min(arr.len());
        self.free_to_slabs(&arr.as_slice()[..n]);
        arr.drain_oldest(n, |_| {});
        bump_by(
            &slot.slow.objs_out,
            (n + usize::from(extra.is_some())) as u64,
        );
        if let Some(o) = extra {
            self.free_to_slabs(&[o]);
        }
    }

    /// The reaper's visit on this CPU: objects that sat unused in the array since the last
    /// visit go back (the oldest batch), so does the remote buffer, and empty slabs of this
    /// CPU's node beyond one go back to the page allocator. Returns the objects given back.
    pub(crate) fn reap_local(&self) -> usize {
        if self.reap_blocked.load(LkmmRelaxed) != 0 {
            return 0;
        }
        let mut cpu = self.lock_this_cpu();
        let (slot, cc) = cpu.parts();
        // Both counts, 32 bits each: neither frees nor allocations since the last visit.
        let activity = (slot.stats.frees.load(Relaxed) << 32) ^ (slot.allocs() & 0xffff_ffff);
        let idle = slot.reap_mark.load(Relaxed) == activity;
        slot.reap_mark.store(activity, Relaxed);
        let mut n = 0;
        if idle && !cc.objs.is_empty() {
            n += cc.objs.len().min(self.batch.max(1));
            self.flush_oldest(slot, &mut cc.objs, self.batch.max(1), None);
            bump(&slot.slow.flushes);
        }
        if !cc.remote.is_empty() {
            n += cc.remote.len();
            self.flush_oldest(slot, &mut cc.remote, REMOTE_CAP, None);
        }
        slot.sync_held(cc);
        let nid = slot.node();
        drop(cpu);
        if let Some(node) = self.node(nid) {
            let mut surplus = ObjArray::<8>::new();
            self.take_surplus(&mut node.lists.lock(), 1, &mut surplus);
            while let Some(s) = surplus.pop() {
                // SAFETY: taken off the free list: empty and unreachable.
                unsafe { self.discard_slab(s.cast()) };
            }
        }
        n
    }

    /// Objects this CPU's arrays hold now (the truth [`Self::held_hint`] must match).
    #[cfg_attr(not(CONFIG_KUNIT = "y"), allow(dead_code))]
    pub(crate) fn held_here(&self) -> usize {
        let mut cpu = self.lock_this_cpu();
        let (_, cc) = cpu.parts();
        cc.objs.len() + cc.remote.len()
    }

    /// Objects held in CPU `cpu`'s arrays, as last stored by that CPU.
    pub(crate) fn held_hint(&self, cpu: u32) -> u32 {
        self.cpus.get(cpu).map_or(0, |s| s.held.load(Relaxed))
    }

    /// Drains this CPU's arrays back to the node lists. Returns the number of objects.
    pub(crate) fn flush_local(&self) -> usize {
        let mut cpu = self.lock_this_cpu();
        let (slot, cc) = cpu.parts();
        let n = self.flush_arrays(slot, cc);
        slot.held.store(0, Relaxed);
        if n > 0 {
            bump(&slot.slow.flushes);
        }
        n
    }

    /// Drains the arrays of a CPU that is offline.
    pub(crate) fn flush_offline(&self, cpu: &OfflineCpu<'_>) -> usize {
        let Some(slot) = self.cpus.get(cpu.id()) else {
            return 0;
        };
        // SAFETY: `cpu` proves the CPU is offline and stays so while it lives: no code runs on
        // it to touch its slot, and other CPUs touch an offline CPU's slot only with such a
        // proof, under the hotplug lock, which serialises them (type invariant of `CpuSlot`).
        let cc = unsafe { &mut *slot.cache.get() };
        let n = self.flush_arrays(slot, cc);
        slot.held.store(0, Relaxed);
        self.stats.offline_drained.add(n as u64);
        n
    }

    /// Flushes all of `slot`'s arrays `cc`.
    pub(crate) fn flush_arrays(&self, slot: &CpuSlot, cc: &mut CpuArrays) -> usize {
        let n = cc.objs.len() + cc.remote.len();
        while !cc.objs.is_empty() {
            self.flush_oldest(slot, &mut cc.objs, ARRAY_CAP, None);
        }
        while !cc.remote.is_empty() {
            self.flush_oldest(slot, &mut cc.remote, REMOTE_CAP, None);
        }
        n
    }
}
