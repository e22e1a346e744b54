// SPDX-License-Identifier: GPL-2.0

//! rslab: a slab allocator for Linux, in Rust, that is correct under CPU and memory hotplug by
//! construction.
//!
//! rslab registers its own object caches (create, alloc, free, shrink, destroy) with per-CPU
//! object arrays, per-NUMA-node slab lists and slabs taken from the page allocator; its own
//! metadata comes from kernel kmem caches. Its control interface lives in debugfs under
//! `/sys/kernel/debug/rslab/`; see `Documentation/rslab.rst`.
//!
//! # Lock order
//!
//! Written once, here, and kept true by every path in the crate (as `mm/slub.c` does):
//!
//! 1. `cpus_read_lock` (the CPU hotplug lock; held by the caller in cpuhp callbacks and in
//!    memory/node notifiers) — [`cpuhp::CpusReadGuard`]
//! 2. the flush mutex (serialises `flush_all`) — [`registry::Flusher`].
//!    **Never acquired while the slab mutex is held**: commands that flush do so before they
//!    take the slab mutex, holding only a reference to the cache.
//! 3. the slab mutex (the list of caches) — [`registry::Registry`]
//! 4. a per-node list lock (spinlock, interrupts disabled) — `cache::NodeData`
//!
//! Besides these: a cache's stress mutex is taken with at most `cpus_read_lock` held (or, in
//! hotplug callbacks, after the slab mutex); the debug slab index and the stress mailboxes are
//! spinlocks taken last, with nothing nested inside.
//!
//! The per-CPU object arrays take no lock: they are touched only by their own CPU with
//! interrupts off, or, while their CPU is offline, by a holder of the CPU hotplug lock.

use kernel::{
    debugfs::{Dir, File},
    page::PAGE_SIZE,
    prelude::*,
    uaccess::UserSliceReader,
};

#[path = "rslab/cache.rs"]
mod cache;
#[path = "rslab/cmd.rs"]
mod cmd;
#[path = "rslab/cpu_work.rs"]
mod cpu_work;
#[path = "rslab/cpuarray.rs"]
mod cpuarray;
#[path = "rslab/cpuhp.rs"]
mod cpuhp;
#[path = "rslab/info.rs"]
mod info;
#[path = "rslab/kmem.rs"]
mod kmem;
#[path = "rslab/kthread.rs"]
mod kthread;
#[path = "rslab/kunit.rs"]
mod kunit;
#[path = "rslab/layout.rs"]
mod layout;
#[path = "rslab/pages.rs"]
mod pages;
#[path = "rslab/registry.rs"]
mod registry;
#[path = "rslab/slab.rs"]
mod slab;
#[path = "rslab/stress.rs"]
mod stress;
#[path = "rslab/topology.rs"]
mod topology;

module! {
    type: Rslab,
    name: "rslab",
    authors: ["The rslab developers"],
    description: "rslab: a hotplug-safe slab allocator in Rust",
    license: "GPL",
}

/// A pointer to the registry for the debugfs files.
///
/// # Invariants
///
/// The registry outlives the files: [`Rslab`] drops its files before its registry.
struct RegRef(*const registry::Registry);

// SAFETY: `Registry` is `Sync`; the pointer is only used for shared access (invariant).
unsafe impl Send for RegRef {}
// SAFETY: as above.
unsafe impl Sync for RegRef {}

impl RegRef {
    fn get(&self) -> &registry::Registry {
        // SAFETY: type invariant.
        unsafe { &*self.0 }
    }
}

/// Longest command accepted by `control`.
const CONTROL_MAX: usize = 256;

fn control_write(r: &RegRef, reader: &mut UserSliceReader) -> Result {
    let len = reader.len();
    if len == 0 || len > CONTROL_MAX {
        return Err(EINVAL);
    }
    let mut buf = [0u8; CONTROL_MAX];
    reader.read_slice(&mut buf[..len])?;
    let cmd = cmd::parse(&buf[..len], PAGE_SIZE).map_err(|e| {
        pr_debug!("control: refused ({:?})\n", e);
        EINVAL
    })?;
    r.get().execute(cmd)
}

/// The module instance: owns the registry and the debugfs tree.
#[pin_data(PinnedDrop)]
struct Rslab {
    // Files first: they are dropped (and removed, waiting for readers) before the registry.
    #[pin]
    _info: File<info::Info>,
    #[pin]
    _control: File<RegRef>,
    #[pin]
    _slabinfo: File<RegRef>,
    registry: Pin<KBox<registry::Registry>>,
    _dir: Dir,
}

impl kernel::InPlaceModule for Rslab {
    fn init(_module: &'static ThisModule) -> impl PinInit<Self, Error> {
        let dir = Dir::new(c"rslab");
        let registry = KBox::pin_init(registry::Registry::new(&dir), GFP_KERNEL);
        let ptr = registry
            .as_ref()
            .map_or(core::ptr::null(), |r| core::ptr::from_ref(&**r));
        pr_info!("rslab {} loaded\n", info::VERSION);
        try_pin_init!(Self {
            // First, so that no file is created if it failed.
            registry: registry?,
            _info <- dir.read_only_file(c"info", info::Info),
            _control <- dir.write_callback_file(c"control", RegRef(ptr), &control_write),
            _slabinfo <- dir.read_callback_file(c"slabinfo", RegRef(ptr), &|r: &RegRef, f| r.get().slabinfo(f)),
            _dir: dir,
        })
    }
}

#[pinned_drop]
impl PinnedDrop for Rslab {
    fn drop(self: Pin<&mut Self>) {
        self.registry.shutdown();
        pr_info!("rslab unloaded\n");
    }
}
