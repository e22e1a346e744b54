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
//! 0. the bench mutex (`bench` commands only; they flush under it, so it comes before all)
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

#[path = "rslab/bench.rs"]
mod bench;
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
#[path = "rslab/hotplug.rs"]
mod hotplug;
#[path = "rslab/info.rs"]
mod info;
#[path = "rslab/irq.rs"]
mod irq;
#[path = "rslab/kmem.rs"]
mod kmem;
#[path = "rslab/kthread.rs"]
mod kthread;
#[path = "rslab/kunit.rs"]
mod kunit;
#[path = "rslab/layout.rs"]
mod layout;
#[path = "rslab/notifier.rs"]
mod notifier;
#[path = "rslab/pages.rs"]
mod pages;
#[path = "rslab/reaper.rs"]
mod reaper;
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
    params: {
        reap_interval_ms: u32 {
            default: 1000,
            description: "Per-CPU reaper interval in milliseconds (10..=60000)",
        },
    },
}

/// Accepted range of `reap_interval_ms`.
const REAP_INTERVAL_MS: core::ops::RangeInclusive<u32> = 10..=60000;

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

/// rslab's hooks into CPU and memory hotplug, in the order they are removed.
struct Hooks {
    _memory: Pin<KBox<notifier::Notifier>>,
    _node: Pin<KBox<notifier::Notifier>>,
    /// Removal runs the offline callback on every online CPU: reapers and stress threads stop.
    _online: cpuhp::CpuhpState,
    /// Removal does not run the dead callback (every CPU is alive).
    _prepare: cpuhp::CpuhpState,
}

impl Hooks {
    fn register() -> Result<Self> {
        use kernel::bindings::{cpuhp_state_CPUHP_AP_ONLINE_DYN, cpuhp_state_CPUHP_BP_PREPARE_DYN};
        let prepare = cpuhp::CpuhpState::setup(
            cpuhp_state_CPUHP_BP_PREPARE_DYN,
            c"mm/rslab:prepare",
            hotplug::cpu_prepare,
            hotplug::cpu_dead,
            false,
        )?;
        let online = cpuhp::CpuhpState::setup(
            cpuhp_state_CPUHP_AP_ONLINE_DYN,
            c"mm/rslab:online",
            hotplug::cpu_online,
            hotplug::cpu_offline,
            true,
        )?;
        let node = notifier::Notifier::register(notifier::Chain::Node, hotplug::node_event, 0)?;
        let memory =
            notifier::Notifier::register(notifier::Chain::Memory, hotplug::memory_event, 0)?;
        Ok(Self {
            _memory: memory,
            _node: node,
            _online: online,
            _prepare: prepare,
        })
    }
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
    #[pin]
    _reaper: File<RegRef>,
    #[pin]
    _hotplug: File<RegRef>,
    #[pin]
    _bench: File<RegRef>,
    /// Taken (unregistered) first in `drop`.
    hooks: Option<Hooks>,
    registry: Pin<KBox<registry::Registry>>,
    _dir: Dir,
}

impl kernel::InPlaceModule for Rslab {
    fn init(_module: &'static ThisModule) -> impl PinInit<Self, Error> {
        let interval = module_parameters::reap_interval_ms.value();
        let dir = Dir::new(c"rslab");
        let registry = if REAP_INTERVAL_MS.contains(&interval) {
            KBox::pin_init(registry::Registry::new(&dir, interval), GFP_KERNEL)
        } else {
            pr_err!(
                "reap_interval_ms={} is outside {:?}\n",
                interval,
                REAP_INTERVAL_MS
            );
            Err(EINVAL)
        };
        let ptr = registry
            .as_ref()
            .map_or(core::ptr::null(), |r| core::ptr::from_ref(&**r));
        let hooks = registry.as_ref().map_err(|e| *e).and_then(|r| {
            // SAFETY: the registry lives until `Rslab` is dropped, whose `drop` unregisters
            // every hook and stops the reapers before `clear_global`; if registering the hooks
            // fails, none is registered and the global is cleared right away.
            unsafe { registry::set_global(r) };
            Hooks::register().inspect_err(|_| registry::clear_global())
        });
        pr_info!(
            "rslab {} loaded (reap_interval_ms={})\n",
            info::VERSION,
            interval
        );
        try_pin_init!(Self {
            // First, so that no file is created if they failed.
            registry: registry?,
            hooks: Some(hooks?),
            _info <- dir.read_only_file(c"info", info::Info),
            _control <- dir.write_callback_file(c"control", RegRef(ptr), &control_write),
            _slabinfo <- dir.read_callback_file(c"slabinfo", RegRef(ptr), &|r: &RegRef, f| r.get().slabinfo(f)),
            _reaper <- dir.read_callback_file(c"reaper", RegRef(ptr), &|r: &RegRef, f| r.get().reapers.show(f)),
            _hotplug <- dir.read_callback_file(c"hotplug", RegRef(ptr), &|r: &RegRef, f| r.get().show_hotplug(f)),
            _bench <- dir.read_callback_file(c"bench", RegRef(ptr), &|r: &RegRef, f| r.get().show_bench(f)),
            _dir: dir,
        })
    }
}

#[pinned_drop]
impl PinnedDrop for Rslab {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: `hooks` is not structurally pinned: taking it moves nothing pinned.
        let this = unsafe { self.get_unchecked_mut() };
        // Notifiers off, then every online CPU's offline callback (reapers and stress threads
        // stop), then the dead-callback state (not invoked: every CPU is alive).
        drop(this.hooks.take());
        this.registry.shutdown();
        registry::clear_global();
        pr_info!("unloaded\n");
    }
}
