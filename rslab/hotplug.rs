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
//!   *dead* drains the dead CPU's arrays of every cache back to the node lists, so nothing it
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
    registry::{self, Registry},
    sys::cpuhp,
    sys::notifier,
};
use core::{ffi::c_void, sync::atomic::Ordering::Relaxed};
use kernel::bindings;
use kernel::ffi::c_ulong;

fn with_registry(f: impl FnOnce(&Registry)) {
    if let Some(r) = registry::global() {
        f(r);
    }
}

/// `CPUHP_BP_PREPARE_DYN` startup.
///
/// # Safety
///
/// Called by the CPU hotplug core only.
pub(crate) unsafe extern "C" fn cpu_prepare(_cpu: u32) -> i32 {
    with_registry(|r| {
        r.hotplug.cpu_prepare.fetch_add(1, Relaxed);
    });
    0
}

/// `CPUHP_BP_PREPARE_DYN` teardown: `cpu` is dead.
///
/// # Safety
///
/// Called by the CPU hotplug core only, after `cpu` stopped running.
pub(crate) unsafe extern "C" fn cpu_dead(cpu: u32) -> i32 {
    cpuhp::assert_cpus_held();
    with_registry(|r| {
        r.hotplug.cpu_dead.fetch_add(1, Relaxed);
        let caches = r.lock_caches();
        for e in caches.iter() {
            // SAFETY: `cpu` is dead and the hotplug core holds the hotplug lock for writing:
            // nothing else touches its slot until it is brought up again.
            let n = unsafe { e.cache.drain_offline(cpu) };
            r.hotplug.dead_drained.fetch_add(n as u64, Relaxed);
        }
    });
    0
}

/// `CPUHP_AP_ONLINE_DYN` startup, on `cpu`.
///
/// # Safety
///
/// Called by the CPU hotplug core only.
pub(crate) unsafe extern "C" fn cpu_online(cpu: u32) -> i32 {
    with_registry(|r| {
        r.hotplug.cpu_online.fetch_add(1, Relaxed);
        r.reapers.start(cpu, r.wq());
    });
    0
}

/// `CPUHP_AP_ONLINE_DYN` teardown, on `cpu`, while it goes offline.
///
/// # Safety
///
/// Called by the CPU hotplug core only.
pub(crate) unsafe extern "C" fn cpu_offline(cpu: u32) -> i32 {
    with_registry(|r| {
        r.hotplug.cpu_offline.fetch_add(1, Relaxed);
        r.reapers.stop(cpu);
    });
    0
}

/// Node notifier: a node gets its first memory or loses its last.
///
/// # Safety
///
/// Called by the node notifier chain only; `data` is a `struct node_notify`.
pub(crate) unsafe extern "C" fn node_event(
    _nb: *mut bindings::notifier_block,
    action: c_ulong,
    data: *mut c_void,
) -> i32 {
    // SAFETY: the chain passes a valid `struct node_notify`.
    let nid = unsafe { (*data.cast::<bindings::node_notify>()).nid };
    with_registry(|r| {
        let h = &r.hotplug;
        match action as u64 {
            notifier::NODE_ADDING_FIRST_MEMORY => {
                h.node_adding_first.fetch_add(1, Relaxed);
                let caches = r.lock_caches();
                for e in caches.iter() {
                    // Created with the cache for every possible node and never freed: reused.
                    if u32::try_from(nid).is_ok_and(|n| e.cache.has_node(n)) {
                        h.node_structs_reused.fetch_add(1, Relaxed);
                    }
                }
            }
            notifier::NODE_ADDED_FIRST_MEMORY => {
                h.node_added_first.fetch_add(1, Relaxed);
            }
            notifier::NODE_REMOVING_LAST_MEMORY => {
                h.node_removing_last.fetch_add(1, Relaxed);
                r.flush_and_shrink_all_cpus_locked();
            }
            notifier::NODE_REMOVED_LAST_MEMORY => {
                // Nothing is freed: lockless readers may still hold the node's structures.
                h.node_removed_last.fetch_add(1, Relaxed);
            }
            notifier::NODE_CANCEL_ADDING_FIRST_MEMORY
            | notifier::NODE_CANCEL_REMOVING_LAST_MEMORY => {
                h.node_cancel.fetch_add(1, Relaxed);
            }
            _ => {}
        }
    });
    bindings::NOTIFY_OK as i32
}

/// Memory notifier: one memory block changes state.
///
/// # Safety
///
/// Called by the memory notifier chain only. Its `struct memory_notify` is not needed: every
/// block going offline gets the same treatment.
pub(crate) unsafe extern "C" fn memory_event(
    _nb: *mut bindings::notifier_block,
    action: c_ulong,
    _data: *mut c_void,
) -> i32 {
    with_registry(|r| {
        let h = &r.hotplug;
        match action as u64 {
            notifier::MEM_GOING_OFFLINE => {
                h.mem_going_offline.fetch_add(1, Relaxed);
                r.flush_and_shrink_all_cpus_locked();
            }
            notifier::MEM_OFFLINE => {
                h.mem_offline.fetch_add(1, Relaxed);
                // The node may have lost its normal memory. `offline_pages()` has updated the
                // node states by now (and sent any node event before this one).
                r.update_cpu_nodes();
            }
            notifier::MEM_GOING_ONLINE => {
                h.mem_going_online.fetch_add(1, Relaxed);
            }
            notifier::MEM_ONLINE => {
                h.mem_online.fetch_add(1, Relaxed);
                // The node may have gained normal memory: as above, states are set by now.
                r.update_cpu_nodes();
            }
            notifier::MEM_CANCEL_ONLINE | notifier::MEM_CANCEL_OFFLINE => {
                h.mem_cancel.fetch_add(1, Relaxed);
            }
            _ => {}
        }
    });
    bindings::NOTIFY_OK as i32
}
