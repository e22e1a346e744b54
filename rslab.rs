// SPDX-License-Identifier: GPL-2.0

//! rslab: a slab allocator for Linux, in Rust, that is correct under CPU and memory hotplug by
//! construction.
//!
//! rslab registers its own object caches (create, alloc, free, shrink, destroy) with per-CPU
//! object caches, per-NUMA-node slab lists and slabs taken from the page allocator. Its control
//! interface lives in debugfs under `/sys/kernel/debug/rslab/`; see `Documentation/rslab.rst`.
//!
//! # Lock order
//!
//! Written once, here, and kept true by every path in the crate (as `mm/slub.c` does):
//!
//! 1. `cpus_read_lock` (the CPU hotplug lock; held by the caller in cpuhp callbacks and in
//!    memory/node notifiers)
//! 2. the flush mutex (serialises `flush_all`). **Never acquired while the slab mutex is held.**
//! 3. the slab mutex (the list of caches; create/destroy/notifiers/reaper)
//! 4. a per-node list lock (spinlock, interrupts disabled)
//!
//! The per-CPU object arrays take no lock: they are touched only by their own CPU with
//! interrupts off, or by a CPU hotplug callback after their CPU is dead.

use kernel::{debugfs::Dir, debugfs::File, prelude::*};

#[path = "rslab/info.rs"]
mod info;

module! {
    type: Rslab,
    name: "rslab",
    authors: ["The rslab developers"],
    description: "rslab: a hotplug-safe slab allocator in Rust",
    license: "GPL",
}

/// The module instance: owns the debugfs tree.
#[pin_data(PinnedDrop)]
struct Rslab {
    #[pin]
    _info: File<info::Info>,
    _dir: Dir,
}

impl kernel::InPlaceModule for Rslab {
    fn init(_module: &'static ThisModule) -> impl PinInit<Self, Error> {
        let dir = Dir::new(c"rslab");
        pr_info!("rslab {} loaded\n", info::VERSION);
        try_pin_init!(Self {
            _info <- dir.read_only_file(c"info", info::Info),
            _dir: dir,
        })
    }
}

#[pinned_drop]
impl PinnedDrop for Rslab {
    fn drop(self: Pin<&mut Self>) {
        pr_info!("rslab unloaded\n");
    }
}
