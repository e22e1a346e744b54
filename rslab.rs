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
//!    memory/node notifiers) — [`sys::cpuhp::CpusReadGuard`]
//! 2. the flush mutex (serialises `flush_all`) — [`flush::Flusher`].
//!    **Never acquired while the slab mutex is held**: commands that flush do so before they
//!    take the slab mutex, holding only a reference to the cache; every flush asks lockdep
//!    first and refuses under the slab mutex ([`registry::Registry::may_flush`]).
//! 3. the slab mutex (the list of caches) — [`registry::Registry`]
//! 4. a CPU's local lock (`local_trylock_t` in its slot: preemption off, interrupts on; a
//!    per-CPU `spinlock_t` with migration off on PREEMPT_RT) — [`percpu::HeldCpu`]. Interrupt
//!    handlers only try it, and use the node lists when it is taken.
//! 5. a per-node list lock (spinlock, interrupts disabled) — [`node::NodeData`]
//! 6. a debug cache's slab index (spinlock, interrupts disabled): inside a node lock when a
//!    slab joins or leaves a node's lists, or alone to look a slab up
//!
//! Besides these: debugfs removals (a cache's directory) happen under the slab mutex; they wait
//! for readers of that cache's `stats`, which take only node locks. The exported API
//! (`include/rslab.h`, [`api`]) takes these locks in the same order: create and destroy as the
//! control file's commands do, allocation and free only node and index locks.
//!
//! The per-CPU object arrays are touched only by their own CPU under its local lock, or, while
//! their CPU is offline, by the holder of the proof of that ([`sys::cpuhp::OfflineCpu`], which
//! needs the CPU hotplug lock). Nothing in rslab disables interrupts but the spinlocks above. New
//! slabs (`grow`) are taken from the page allocator with no rslab lock held; empty slabs go
//! back to it outside the node locks (inside a local lock at most), except when a cache being
//! dropped finds no memory for its list of slabs and frees one under its node's lock.
//!
//! # Layers
//!
//! * `rslab/sys/`: the kernel facilities (local locks, per-CPU memory, topology, pages, kmem
//!   caches, per-CPU work, hotplug states, notifiers, debugfs, lockdep), each a thin wrapper,
//!   safe at its edge; the only place of `kernel::bindings` and inline assembly.
//! * The allocator, one concept per file: [`cache`] (the cache and its entry points),
//!   [`percpu`] (a CPU's arrays), [`node`] (a node's slab lists), [`slab`] and [`layout`] (slab
//!   format and geometry, host-tested), [`debug`], [`validate`], [`stats`].
//! * Around it: [`registry`] (the list of caches, create and destroy), [`flush`]
//!   (`flush_all`), [`reaper`], [`hotplug`], [`debugfs`] and [`cmd`] (the control file), and
//!   [`api`] (the exported C API, with `rslab/api.c`).
//!
//! # Words
//!
//! A *cache* is an rslab object cache and nothing else; the kernel's are *kmem caches*. A CPU
//! holds objects in its *arrays* (the object array and the remote-free buffer). Objects move
//! from a node's slabs into an array by a *refill*, and back by a *flush* (the oldest batch of a
//! full array, every array of a cache in `flush_all`, a dead CPU's arrays); the *reaper* flushes
//! what sat unused since its last visit. Objects return to their slabs by *free to slabs*; empty
//! slabs go back to the page allocator by *discard* (beyond a few per node) and *shrink* (all).

use kernel::{
    prelude::*,
    sync::Arc, //
};

#[path = "rslab/api.rs"]
mod api;
#[path = "rslab/cache.rs"]
mod cache;
#[path = "rslab/cmd.rs"]
mod cmd;
#[path = "rslab/cpuarray.rs"]
mod cpuarray;
#[path = "rslab/debug.rs"]
mod debug;
#[path = "rslab/debugfs.rs"]
mod debugfs;
#[path = "rslab/flush.rs"]
mod flush;
#[path = "rslab/hotplug.rs"]
mod hotplug;
#[path = "rslab/info.rs"]
mod info;
#[path = "rslab/kunit.rs"]
mod kunit;
#[path = "rslab/layout.rs"]
mod layout;
#[path = "rslab/node.rs"]
mod node;
#[path = "rslab/percpu.rs"]
mod percpu;
#[path = "rslab/reaper.rs"]
mod reaper;
#[path = "rslab/registry.rs"]
mod registry;
#[path = "rslab/slab.rs"]
mod slab;
#[path = "rslab/stats.rs"]
mod stats;
#[path = "rslab/sys.rs"]
mod sys;
#[path = "rslab/validate.rs"]
mod validate;
#[path = "rslab/words.rs"]
mod words;

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

/// rslab's hooks into CPU and memory hotplug, registered in the order of the initializer and
/// removed in the order of the fields.
#[pin_data]
struct Hooks {
    #[pin]
    _memory: sys::notifier::Notifier<hotplug::MemoryHotplug>,
    #[pin]
    _node: sys::notifier::Notifier<hotplug::NodeHotplug>,
    /// Removal runs the offline callback on every online CPU: the reapers stop.
    _online: sys::cpuhp::CpuhpState<hotplug::CpuOnline>,
    /// Removal does not run the dead callback (every CPU is alive).
    _prepare: sys::cpuhp::CpuhpState<hotplug::CpuPrepare>,
}

impl Hooks {
    fn register() -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            _prepare: sys::cpuhp::CpuhpState::setup()?,
            _online: sys::cpuhp::CpuhpState::setup()?,
            _node <- sys::notifier::Notifier::node(0),
            _memory <- sys::notifier::Notifier::memory(0),
        })
    }
}

/// The module instance: owns the registry, its hooks and the debugfs tree.
///
/// Teardown (`drop`) goes in the reverse order of what depends on what: the files first
/// (removal waits for a command in progress, and no new one can start), then the hooks, then
/// every cache (flushed, leaks reported), then the directory. No API call can be in progress:
/// a module that calls the API depends on rslab, so rslab is unloaded only after it.
#[pin_data(PinnedDrop)]
struct Rslab {
    files: Option<debugfs::Files>,
    hooks: Option<Pin<KBox<Hooks>>>,
    registry: Arc<registry::Registry>,
    /// Declared after `registry`: its `caches/` subdirectory goes first.
    _dir: sys::dbgfs::DbgDir,
}

impl kernel::InPlaceModule for Rslab {
    fn init(_module: &'static ThisModule) -> impl PinInit<Self, Error> {
        let init = || -> Result<Self> {
            let interval = module_parameters::reap_interval_ms.value();
            if !REAP_INTERVAL_MS.contains(&interval) {
                pr_err!(
                    "reap_interval_ms={} is outside {:?}\n",
                    interval,
                    REAP_INTERVAL_MS
                );
                return Err(EINVAL);
            }
            let dir = sys::dbgfs::DbgDir::new(c"rslab", None)?;
            let registry = Arc::pin_init(registry::Registry::new(&dir, interval), GFP_KERNEL)?;
            // SAFETY: the registry lives until `Rslab` is dropped, whose `drop` unregisters
            // every hook and stops the reapers before `clear_global`; if registering the hooks
            // fails, none is registered and the global is cleared right away.
            unsafe { registry::set_global(&registry) };
            let hooks = KBox::try_pin_init(Hooks::register(), GFP_KERNEL)
                .inspect_err(|_| registry::clear_global())?;
            let files = match debugfs::Files::new(&dir, &registry) {
                Ok(f) => f,
                Err(e) => {
                    drop(hooks);
                    registry::clear_global();
                    return Err(e);
                }
            };
            pr_info!(
                "rslab {} loaded (reap_interval_ms={})\n",
                info::VERSION,
                interval
            );
            Ok(Self {
                files: Some(files),
                hooks: Some(hooks),
                registry,
                _dir: dir,
            })
        };
        init()
    }
}

#[pinned_drop]
impl PinnedDrop for Rslab {
    fn drop(self: Pin<&mut Self>) {
        // `files` and `hooks` are not structurally pinned: the projection hands them out.
        let this = self.project();
        drop(this.files.take());
        // Notifiers off, then every online CPU's offline callback (reapers stop), then the
        // dead-callback state (not invoked: every CPU is alive).
        drop(this.hooks.take());
        this.registry.shutdown();
        registry::clear_global();
        pr_info!("unloaded\n");
    }
}
