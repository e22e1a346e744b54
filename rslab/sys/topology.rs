// SPDX-License-Identifier: GPL-2.0

//! CPU and NUMA-node facts, read from the kernel's own masks and maps.
//!
//! Thin wrappers over `kernel::bindings`; the helpers the C side has as inline functions
//! (`cpu_to_node`, `node_state`, `cpu_online`) are rebuilt here from their exported data, the
//! same on every architecture.

use kernel::bindings;

/// Number of possible CPU ids (`nr_cpu_ids`).
pub(crate) fn nr_cpu_ids() -> u32 {
    kernel::cpu::nr_cpu_ids()
}

/// Number of possible node ids (`nr_node_ids`).
pub(crate) fn nr_node_ids() -> u32 {
    // SAFETY: `nr_node_ids` is set during early boot and only read afterwards.
    unsafe { bindings::nr_node_ids }
}

/// Whether `cpu` is in `cpu_online_mask`.
pub(crate) fn cpu_online(cpu: u32) -> bool {
    if cpu >= nr_cpu_ids() {
        return false;
    }
    // SAFETY: the online mask is a static kernel object; `cpumask_test_cpu` reads one bit of it
    // with `test_bit`, which is safe against concurrent updates.
    unsafe { bindings::cpumask_test_cpu(cpu as i32, &raw mut bindings::__cpu_online_mask) }
}

/// Whether `cpu` is in `cpu_possible_mask`: it has per-CPU data, whether or not it is online.
pub(crate) fn cpu_possible(cpu: u32) -> bool {
    if cpu >= nr_cpu_ids() {
        return false;
    }
    // SAFETY: the possible mask is a static kernel object, set at boot; `cpumask_test_cpu` reads
    // one bit of it.
    unsafe { bindings::cpumask_test_cpu(cpu as i32, &raw mut bindings::__cpu_possible_mask) }
}

/// The CPU this code runs on. Stable only while migration is impossible (interrupts off,
/// or a task bound to one CPU).
pub(crate) fn this_cpu() -> u32 {
    kernel::cpu::CpuId::current().as_u32()
}

/// The node of `cpu` (`cpu_to_node()`): with `CONFIG_USE_PERCPU_NUMA_NODE_ID`, which every
/// NUMA architecture Rust builds for selects, that is `per_cpu(numa_node, cpu)`, set by
/// `set_cpu_numa_node()` for every possible CPU at boot; without NUMA it is node 0.
#[cfg(CONFIG_USE_PERCPU_NUMA_NODE_ID)]
pub(crate) fn cpu_to_node(cpu: u32) -> u32 {
    // Only a possible CPU has a per-CPU area: the offset of any other is not set up.
    if !cpu_possible(cpu) {
        return 0;
    }
    // SAFETY: `cpu` is possible (checked above), so `__per_cpu_offset[cpu]` offsets the per-CPU
    // variable `numa_node` to its copy (`per_cpu_ptr()`), written only at boot and NUMA setup;
    // a volatile read, as `per_cpu()` is a plain load.
    let nid = unsafe {
        let base = (&raw const bindings::numa_node) as usize;
        let off = bindings::__per_cpu_offset[cpu as usize];
        core::ptr::read_volatile(base.wrapping_add(off) as *const i32)
    };
    u32::try_from(nid).unwrap_or(0)
}

/// The node of `cpu` without NUMA: node 0, as `cpu_to_node()` is then.
#[cfg(not(CONFIG_NUMA))]
pub(crate) fn cpu_to_node(_cpu: u32) -> u32 {
    0
}

#[cfg(all(CONFIG_NUMA, not(CONFIG_USE_PERCPU_NUMA_NODE_ID)))]
compile_error!(
    "rslab needs CONFIG_USE_PERCPU_NUMA_NODE_ID with NUMA (cpu_to_node() is not per-CPU data)"
);

fn node_state(nid: u32, state: bindings::node_states) -> bool {
    if nid >= nr_node_ids() {
        return false;
    }
    let bits_per_word = usize::BITS as usize;
    let nid = nid as usize;
    // SAFETY: `node_states` is a static kernel array; one word of one mask is read volatile,
    // as `test_bit` does, because memory hotplug may change it concurrently.
    let word = unsafe {
        let mask = &raw const bindings::node_states[state as usize];
        core::ptr::read_volatile(
            (&raw const (*mask).bits)
                .cast::<usize>()
                .add(nid / bits_per_word),
        )
    };
    word & (1 << (nid % bits_per_word)) != 0
}

/// Whether node `nid` has memory the kernel can allocate from (`N_NORMAL_MEMORY`): slabs can
/// only live there. A node whose memory is all `ZONE_MOVABLE` (a DIMM onlined movable) has
/// none, as for SLUB.
pub(crate) fn node_has_normal_memory(nid: u32) -> bool {
    node_state(nid, bindings::node_states_N_NORMAL_MEMORY)
}

/// The node to take slabs from for a CPU on node `nid`: `nid` if it has normal memory, else
/// the first node (by number) that does. (The kernel's `numa_mem_id()` would give the nearest
/// node with memory, by distance; rslab keeps the simpler choice, which only matters on a
/// machine with memoryless nodes and more than two nodes with memory.)
pub(crate) fn mem_node(nid: u32) -> u32 {
    if node_has_normal_memory(nid) {
        return nid;
    }
    (0..nr_node_ids())
        .find(|&n| node_has_normal_memory(n))
        .unwrap_or(0)
}
