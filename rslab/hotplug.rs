// SPDX-License-Identifier: GPL-2.0

//! What rslab does when CPUs and memory come and go.
//!
//! CPU hotplug, two dynamic states:
//!
//! * `CPUHP_BP_PREPARE_DYN` (on a control CPU): *prepare* has nothing to allocate, because
//!   every cache has a per-CPU slot for every possible CPU from its creation (so the races of
//!   "[PATCH - cpu hotplug] Fix races in kmem_cache_create and kmem_cache_destroy", LKML
//!   2004-03-23, where hotplug callbacks met caches whose per-CPU parts were not set up yet,
//!   cannot happen);
//!   *dead* flushes the dead CPU's arrays of every cache back to the node lists, so nothing it
//!   cached is stranded. It holds the CPU hotplug lock (asserted) and takes the slab mutex:
//!   `cpus -> slab`, the crate's order.
//! * `CPUHP_AP_ONLINE_DYN` (on the CPU itself): *online* starts its reaper; *offline* stops
//!   it, synchronously, before the workqueue core
//!   unbinds that CPU's workers (its state is lower than ours, so it is torn down after us).
//!
//! Callbacks are idempotent and the teardowns never fail.
//!
//! Memory hotplug: before a node gets its first memory, every cache must have that node's
//! structure; rslab's caches were created with one for every possible node, so it is always
//! there and is reused (counted). While memory goes offline (a block, or a node's last memory)
//! every cache is flushed and shrunk, with the `_cpus_locked` flush: the memory hotplug core
//! holds the CPU hotplug lock, and the slab mutex is not held while flushing. Nothing per-node
//! is ever freed: lockless readers may hold it (the use-after-free fixed by "mm, slub: stop
//! freeing kmem_cache_node structures on node offline", Vlastimil Babka, 2021). Cancel events need no undo and are only counted. After memory
//! comes or goes (`MEM_ONLINE`, `MEM_OFFLINE`: they follow every node event, and a node can gain
//! its first *normal* memory without one), every cache recomputes the node each CPU allocates
//! from: a CPU of a node that just gained (or lost) normal memory must allocate there (or
//! elsewhere) from now on.

use crate::{
    registry::{
        self,
        Registry, //
    },
    sys::{
        cpuhp::{
            self,
            CpuhpCallbacks,
            OfflineCpu,
            Section, //
        },
        notifier::{
            MemoryCallback,
            MemoryEvent,
            NodeCallback,
            NodeEvent, //
        },
    },
};
use kernel::prelude::*;

fn with_registry(f: impl FnOnce(&Registry)) {
    if let Some(r) = registry::global() {
        f(r);
    }
}

/// The `CPUHP_BP_PREPARE_DYN` state: *prepare* and *dead*.
pub(crate) struct CpuPrepare;

impl CpuhpCallbacks for CpuPrepare {
    const SECTION: Section = Section::Prepare;
    const NAME: &'static CStr = c"mm/rslab:prepare";
    // Removal must not drain: every CPU that reached the state is alive.
    const TEARDOWN_ON_REMOVE: bool = false;

    fn startup(_cpu: u32) -> Result {
        with_registry(|r| {
            r.hotplug.cpu_prepare.inc();
        });
        Ok(())
    }

    /// `cpu` is dead: its arrays go back to the node lists.
    fn teardown(_cpu: u32, offline: Option<OfflineCpu<'_>>) -> Result {
        cpuhp::assert_cpus_held();
        let Some(dead) = offline else {
            return Ok(());
        };
        with_registry(|r| {
            r.hotplug.cpu_dead.inc();
            let caches = r.lock_caches();
            for e in caches.iter() {
                let n = e.cache.flush_offline(&dead);
                r.hotplug.dead_drained.add(n as u64);
            }
        });
        Ok(())
    }
}

/// The `CPUHP_AP_ONLINE_DYN` state: *online* starts the CPU's reaper, *offline* stops it.
pub(crate) struct CpuOnline;

impl CpuhpCallbacks for CpuOnline {
    const SECTION: Section = Section::Online;
    const NAME: &'static CStr = c"mm/rslab:online";
    // Removal stops the reaper of every online CPU.
    const TEARDOWN_ON_REMOVE: bool = true;

    fn startup(cpu: u32) -> Result {
        with_registry(|r| {
            r.hotplug.cpu_online.inc();
            r.reapers.start(cpu, r.wq());
        });
        Ok(())
    }

    fn teardown(cpu: u32, _offline: Option<OfflineCpu<'_>>) -> Result {
        with_registry(|r| {
            r.hotplug.cpu_offline.inc();
            r.reapers.stop(cpu);
        });
        Ok(())
    }
}

/// The node notifier: a node gets its first memory or loses its last.
pub(crate) struct NodeHotplug;

impl NodeCallback for NodeHotplug {
    fn node_event(event: NodeEvent, nid: u32) {
        with_registry(|r| {
            let h = &r.hotplug;
            match event {
                NodeEvent::AddingFirst => {
                    h.node_adding_first.inc();
                    let caches = r.lock_caches();
                    for e in caches.iter() {
                        // Created with the cache for every possible node and never freed:
                        // reused.
                        if e.cache.has_node(nid) {
                            h.node_structs_reused.inc();
                        }
                    }
                }
                NodeEvent::AddedFirst => {
                    h.node_added_first.inc();
                }
                NodeEvent::RemovingLast => {
                    h.node_removing_last.inc();
                    r.flush_and_shrink_all_cpus_locked();
                }
                NodeEvent::RemovedLast => {
                    // Nothing is freed: lockless readers may still hold the node's structures.
                    h.node_removed_last.inc();
                }
                NodeEvent::CancelAddingFirst | NodeEvent::CancelRemovingLast => {
                    h.node_cancel.inc();
                }
            }
        });
    }
}

/// The memory notifier: one memory block changes state. Every block going offline gets the
/// same treatment, so which block it is does not matter.
pub(crate) struct MemoryHotplug;

impl MemoryCallback for MemoryHotplug {
    fn memory_event(event: MemoryEvent) {
        with_registry(|r| {
            let h = &r.hotplug;
            match event {
                MemoryEvent::GoingOffline => {
                    h.mem_going_offline.inc();
                    r.flush_and_shrink_all_cpus_locked();
                }
                MemoryEvent::Offline => {
                    h.mem_offline.inc();
                    // The node may have lost its normal memory. `offline_pages()` has updated
                    // the node states by now (and sent any node event before this one).
                    r.update_cpu_nodes();
                }
                MemoryEvent::GoingOnline => {
                    h.mem_going_online.inc();
                }
                MemoryEvent::Online => {
                    h.mem_online.inc();
                    // The node may have gained normal memory: as above, states are set by now.
                    r.update_cpu_nodes();
                }
                MemoryEvent::CancelOnline | MemoryEvent::CancelOffline => {
                    h.mem_cancel.inc();
                }
            }
        });
    }
}
