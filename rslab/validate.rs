// SPDX-License-Identifier: GPL-2.0

//! `validate`: a cache's per-CPU arrays, slabs, lists and counters checked against each other.
//!
//! Meaningful when nothing else uses the cache. The arrays are checked on their own CPUs (or,
//! for an offline CPU, by the holder of the proof that it is offline), then each node's lists in
//! pieces, so that a large cache never keeps a CPU's interrupts off for the whole walk.

use crate::{
    cache::Cache,
    debug::Fault,
    flush::{
        CpuOp,
        Flusher, //
    },
    percpu::{
        CpuArrays,
        CpuSlot, //
    },
    slab::{
        slab_magic,
        ListKind,
        SlabHeader, //
    },
    sys::cpuhp::{
        CpusReadGuard,
        OfflineCpu, //
    },
};
use core::sync::atomic::Ordering::Relaxed;
use kernel::prelude::*;

/// Slabs `validate` checks per hold of a node's lock.
pub(crate) const VALIDATE_PIECE: usize = 64;

/// What `validate` counted.
#[derive(Default, Debug)]
pub(crate) struct Census {
    pub(crate) slabs: usize,
    /// Objects out of slab freelists (with users, in arrays, or quarantined).
    pub(crate) inuse: usize,
}

impl Cache {
    /// Checks this CPU's arrays: every object must be a slot of one of this cache's slabs, and
    /// the `held` hint (from which allocations are derived) must count them. Returns the number
    /// of objects held.
    pub(crate) fn validate_local(&self) -> Result<usize, Fault> {
        let mut cpu = self.lock_this_cpu();
        let (slot, cc) = cpu.parts();
        self.validate_array(slot, cc)
    }

    /// As [`Self::validate_local`], for a CPU that is offline.
    pub(crate) fn validate_offline(&self, cpu: &OfflineCpu<'_>) -> Result<usize, Fault> {
        let Some(slot) = self.cpus.get(cpu.id()) else {
            return Ok(0);
        };
        // SAFETY: `cpu` proves the CPU is offline and stays so while it lives, so its slot is
        // not written by its owner; writers from other CPUs need the same proof under the
        // hotplug lock, which the holder of `cpu` has (type invariant of `CpuSlot`).
        self.validate_array(slot, unsafe { &*slot.cache.get() })
    }

    /// Checks `slot`'s arrays `cc`.
    pub(crate) fn validate_array(&self, slot: &CpuSlot, cc: &CpuArrays) -> Result<usize, Fault> {
        for &obj in Iterator::chain(cc.objs.as_slice().iter(), cc.remote.as_slice()) {
            let slab = self.header_of(obj);
            // SAFETY: objects in an array came from this cache's slabs, which stay allocated
            // while they have objects in use; we only read the header.
            let magic = unsafe { (*slab).magic };
            if magic != slab_magic(self.id) {
                return Err(Fault::NotThisCache);
            }
            if self
                .layout
                .object_index((obj as usize).wrapping_sub(self.base_of(slab)))
                .is_none()
            {
                return Err(Fault::NotObjectStart);
            }
        }
        let held = cc.objs.len() + cc.remote.len();
        if slot.held.load(Relaxed) as usize != held {
            return Err(Fault::Counters);
        }
        Ok(held)
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
                    let l = node.lists.lock();
                    let (_, [total, _]) = l.counts();
                    match gen {
                        None => gen = Some(l.generation()),
                        Some(g) if g != l.generation() => return Err((nid, Fault::Busy)),
                        Some(_) => {}
                    }
                    // A corrupted (cyclic) list must not keep us here: no more pieces than the
                    // node's slabs can fill.
                    if pieces > total / objects.max(1) / VALIDATE_PIECE + 3 {
                        return Err((nid, Fault::WrongList));
                    }
                    pieces += 1;
                    let visit = |s: &SlabHeader| {
                        if fault.is_some() {
                            return;
                        }
                        // SAFETY: `s` is on one of this node's lists: a live slab of ours.
                        let node = unsafe { self.node_of_header(s) };
                        if s.magic != slab_magic(self.id) || node != nid {
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
                        // SAFETY: `s` is on one of this node's lists, so a slab formatted with
                        // this cache's layout (cache invariant), and we hold the node lock:
                        // nobody else walks or changes its freelist.
                        match unsafe { s.count_free(self.base_of(s), &self.layout) } {
                            Ok(f) if f == objects - n => free += f,
                            _ => fault = Some(Fault::Freelist),
                        }
                        slabs += 1;
                        inuse += n;
                    };
                    let next = l.walk(kind, cursor.take(), VALIDATE_PIECE, visit);
                    drop(l);
                    if let Some(f) = fault {
                        return Err((nid, f));
                    }
                    match next {
                        Err(_) => return Err((nid, Fault::Busy)),
                        Ok(Some(c)) => cursor = Some(c),
                        Ok(None) => break,
                    }
                }
            }
            let l = node.lists.lock();
            let (_, [total, free_now]) = l.counts();
            let now = l.generation();
            drop(l);
            if gen != Some(now) {
                return Err((nid, Fault::Busy));
            }
            if free_now != free || total != slabs * objects {
                return Err((nid, Fault::Counters));
            }
            census.slabs += slabs;
            census.inuse += inuse;
        }
        Ok(census)
    }
}

/// Walks every per-CPU array (on its CPU), slab and list of `cache`, and checks the counters
/// against what was found: objects out of slab freelists must equal live objects plus objects
/// cached in per-CPU arrays plus quarantined ones. Meaningful when nothing else uses the cache.
pub(crate) fn validate(flusher: &Flusher, cache: &Cache) -> Result {
    // No CPU may die between the per-CPU and the per-node phase (its arrays would be drained
    // in between): hold the hotplug lock across both.
    let _cpus = CpusReadGuard::lock();
    let cached = flusher.run_cpus_locked(cache, CpuOp::Validate)?;
    let census: Census = cache.validate_nodes().map_err(|(nid, f): (u32, Fault)| {
        if matches!(f, Fault::Busy) {
            pr_info!("validate {:?}: node {}: {}\n", cache.name, nid, f);
            return EBUSY;
        }
        pr_err!("validate {:?}: node {}: {}\n", cache.name, nid, f);
        EUCLEAN
    })?;
    let live = cache.live();
    let quarantined = cache.stats.quarantined.get() as i64;
    let expect = live + quarantined + cached as i64;
    if census.inuse as i64 != expect {
        pr_err!(
            "validate {:?}: {} objects in use in slabs, but counters say {} live + {} cached + {} quarantined\n",
            cache.name,
            census.inuse,
            live,
            cached,
            quarantined
        );
        return Err(EUCLEAN);
    }
    pr_info!(
        "validate {:?}: ok: {} slabs, {} objects in use ({} cached)\n",
        cache.name,
        census.slabs,
        census.inuse,
        cached
    );
    Ok(())
}
