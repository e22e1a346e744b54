// SPDX-License-Identifier: GPL-2.0

//! The list of caches (under the slab mutex): create, destroy, shrink, the commands of the
//! control file, and the way every one of them reaches `flush_all` (`flush.rs`).
//!
//! Lock order (see the crate root): `cpus_read_lock` -> flush mutex; the flush mutex is never
//! taken while the slab mutex is held. Commands that flush do it first, without the slab
//! mutex, then take the slab mutex for what needs the list.

use crate::{
    cache::{
        Cache,
        Ctor,
        Meta, //
    },
    cmd::{
        Command,
        Name, //
    },
    debugfs::CacheStats,
    flush::{
        CpuOp,
        Flusher, //
    },
    reaper::Reapers,
    stats::Counter,
    sys::{
        cpu_work::Wq,
        cpuhp::{
            self,
            CpusReadGuard, //
        },
        dbgfs::{
            DbgDir,
            DbgFile, //
        },
        kmem::KmemBox,
        lockdep, //
    },
    validate, //
};
use core::{
    ops::Deref,
    pin::Pin,
    ptr::null_mut, //
};
use kernel::{
    new_mutex,
    prelude::*,
    str::CString,
    sync::{
        atomic::{
            Acquire,
            Atomic,
            Release, //
        },
        lock::{
            mutex::MutexBackend,
            Guard, //
        },
        Arc,
        Mutex, //
    },
};

/// A cache on the list of caches: the entry, and its debugfs directory with the `stats` file.
/// The files live here, under the slab mutex, so that taking a cache off the list removes them
/// at once: the name is free again only when `caches/<name>/` is gone, whoever still holds a
/// reference to the entry.
pub(crate) struct Listed {
    /// First: removed (waiting for readers) before the reference to the cache goes.
    _stats: Pin<KBox<DbgFile<CacheStats>>>,
    _dir: DbgDir,
    pub(crate) entry: Arc<Entry>,
}

impl Deref for Listed {
    type Target = Entry;
    fn deref(&self) -> &Entry {
        &self.entry
    }
}

/// The slab mutex, held.
pub(crate) type SlabGuard<'a> = Guard<'a, KVec<Listed>, MutexBackend>;

/// The registry, for hotplug callbacks, notifiers and the reaper (C entry points with no
/// other way to reach it).
///
/// # Invariants
///
/// Null, or a registry that stays alive until it is set back to null: the module sets it after
/// creating the registry and clears it only after every callback, notifier and reaper that
/// reads it is gone.
static REGISTRY: Atomic<*mut Registry> = Atomic::new(null_mut());

/// The registry, if the module is up.
pub(crate) fn global() -> Option<&'static Registry> {
    let p = REGISTRY.load(Acquire);
    // SAFETY: null or alive for as long as any caller can run (invariant).
    (!p.is_null()).then(|| unsafe { &*p })
}

/// Publishes `r` to the C entry points.
///
/// # Safety
///
/// `r` must stay alive until [`clear_global`] is called, and [`clear_global`] must be called
/// only after every hotplug callback, notifier and reaper is unregistered or stopped.
pub(crate) unsafe fn set_global(r: &Registry) {
    REGISTRY.store(core::ptr::from_ref(r).cast_mut(), Release);
}

/// Withdraws the registry from the C entry points.
pub(crate) fn clear_global() {
    REGISTRY.store(null_mut(), Release);
}

/// Counters of hotplug events seen, for the `hotplug` debugfs file.
#[derive(Default)]
pub(crate) struct HotplugStats {
    pub(crate) cpu_prepare: Counter,
    pub(crate) cpu_dead: Counter,
    pub(crate) cpu_online: Counter,
    pub(crate) cpu_offline: Counter,
    pub(crate) dead_drained: Counter,
    pub(crate) node_adding_first: Counter,
    pub(crate) node_added_first: Counter,
    pub(crate) node_removing_last: Counter,
    pub(crate) node_removed_last: Counter,
    pub(crate) node_cancel: Counter,
    pub(crate) node_structs_reused: Counter,
    pub(crate) mem_going_offline: Counter,
    pub(crate) mem_offline: Counter,
    pub(crate) mem_going_online: Counter,
    pub(crate) mem_online: Counter,
    pub(crate) mem_cancel: Counter,
    pub(crate) flushed_for_offline: Counter,
    pub(crate) shrunk_for_offline: Counter,
}

/// Who created a cache, and so who may destroy it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Owner {
    /// A `create` command of the control file.
    Control,
    /// Another module, through the exported API: only it destroys the cache (it holds a
    /// pointer to it that debugfs knows nothing of).
    Api,
}

/// A cache on the list. Shared (`Arc`) so that a command can use a cache after dropping the
/// slab mutex: flushing must not happen under it.
pub(crate) struct Entry {
    pub(crate) owner: Owner,
    pub(crate) cache: Pin<KmemBox<Cache>>,
}

/// rslab's global state.
#[pin_data]
pub(crate) struct Registry {
    /// The slab mutex: the list of caches.
    #[pin]
    caches: Mutex<KVec<Listed>>,
    #[pin]
    pub(crate) flusher: Flusher,
    /// After `caches`: the caches' directories go before it.
    caches_dir: DbgDir,
    meta: Meta,
    pub(crate) reapers: Reapers,
    pub(crate) hotplug: HotplugStats,
}

fn cstring(name: &Name) -> Result<CString> {
    CString::try_from_fmt(fmt!("{}", name.as_str()))
}

impl Registry {
    /// Creates the registry; per-cache directories go under `dir/caches/`.
    pub(crate) fn new(dir: &DbgDir, reap_interval_ms: u32) -> impl PinInit<Self, Error> + '_ {
        try_pin_init!(Self {
            caches <- new_mutex!(KVec::new(), "rslab_slab_mutex"),
            flusher <- Flusher::new(c"rslab"),
            caches_dir: DbgDir::new(c"caches", Some(dir))?,
            meta: Meta::new(c"rslab_cache", c"rslab_node")?,
            reapers: Reapers::new(reap_interval_ms)?,
            hotplug: HotplugStats::default(),
        }? Error)
    }

    /// Takes the slab mutex.
    pub(crate) fn lock_caches(&self) -> SlabGuard<'_> {
        self.caches.lock()
    }

    /// Tries the slab mutex (the reaper never waits for it).
    pub(crate) fn try_lock_caches(&self) -> Option<SlabGuard<'_>> {
        self.caches.try_lock()
    }

    /// `Ok` unless the current task holds the slab mutex, in which case it must not flush:
    /// `EDEADLK`.
    ///
    /// The flush mutex is never taken under the slab mutex. With `cpus_read_lock` taken inside
    /// a flush and the slab mutex inside the memory notifier, that closed a lockdep cycle
    /// (`flush_lock -> cpu_hotplug_lock -> memory_chain -> slab_mutex -> flush_lock`; Qian Cai's
    /// report on "[PATCH v4 29/35] mm: slub: Move flush_cpu_slab() invocations
    /// __free_slab() invocations out of IRQ context", 2021-08-09). Lockdep reports such a cycle
    /// only once both orders have happened; asking it whether the slab mutex is held catches the
    /// wrong order the first time it is taken. Without lockdep the check is off, as
    /// `lockdep_assert_not_held()` is.
    pub(crate) fn may_flush(&self) -> Result {
        if lockdep::mutex_held(&self.caches) == Some(true) {
            return Err(EDEADLK);
        }
        Ok(())
    }

    /// [`Self::may_flush`] for a path about to flush: a refusal is a bug of that path, so it
    /// warns as well.
    fn flush_allowed(&self) -> Result {
        self.may_flush().inspect_err(|_| {
            kernel::warn_on!(true);
        })
    }

    /// `flush_all` (or a validation of every CPU's arrays) for a caller that holds the CPU
    /// hotplug lock; warns and refuses under the slab mutex ([`Self::may_flush`]).
    fn flush_cpus_locked(&self, cache: &Cache, op: CpuOp) -> Result<usize> {
        self.flush_allowed()?;
        self.flusher.run_cpus_locked(cache, op)
    }

    /// As [`Self::flush_cpus_locked`], taking the CPU hotplug lock.
    fn flush(&self, cache: &Cache, op: CpuOp) -> Result<usize> {
        let _cpus = CpusReadGuard::lock();
        self.flush_cpus_locked(cache, op)
    }

    /// rslab's per-CPU workqueue.
    pub(crate) fn wq(&self) -> &Wq {
        self.flusher.wq()
    }

    /// Every cache, referenced, so that the slab mutex need not be held while using them.
    fn snapshot(&self) -> Result<KVec<Arc<Entry>>> {
        let caches = self.lock_caches();
        let mut v = KVec::with_capacity(caches.len(), GFP_KERNEL)?;
        for l in caches.iter() {
            v.push(l.entry.clone(), GFP_KERNEL)?;
        }
        Ok(v)
    }

    /// Flushes every CPU's arrays of every cache and returns empty slabs: memory going offline
    /// must not be kept busy by rslab. The caller (a memory or node notifier) holds the CPU
    /// hotplug lock; the slab mutex is *not* held while flushing (lock order).
    pub(crate) fn flush_and_shrink_all_cpus_locked(&self) {
        cpuhp::assert_cpus_held();
        let Ok(caches) = self.snapshot() else { return };
        for e in caches.iter() {
            if let Ok(n) = self.flush_cpus_locked(&e.cache, CpuOp::Flush) {
                self.hotplug.flushed_for_offline.add(n as u64);
            }
            let n = e.cache.shrink_nodes();
            self.hotplug.shrunk_for_offline.add(n as u64);
        }
    }

    /// Recomputes, in every cache, the node each CPU allocates from (after memory hotplug).
    pub(crate) fn update_cpu_nodes(&self) {
        for l in self.lock_caches().iter() {
            l.cache.update_cpu_nodes();
        }
    }

    /// Runs one control command.
    pub(crate) fn execute(&self, cmd: Command) -> Result {
        match cmd {
            Command::Create {
                name,
                size,
                align,
                debug,
            } => self
                .create(name, size, align, debug, None, Owner::Control)
                .map(|_| ()),
            Command::Destroy(name) => {
                let e = self.find(&name)?;
                if e.owner != Owner::Control {
                    // Another module holds a pointer to it: only that module may destroy it.
                    pr_info!("destroy {:?}: created by another module\n", name);
                    return Err(EPERM);
                }
                self.destroy(e)
            }
            Command::Shrink(name) => {
                let n = self.shrink(&self.find(&name)?.cache)?;
                pr_info!("shrink {:?}: {} empty slabs returned\n", name, n);
                Ok(())
            }
            Command::Flush(name) => self
                .flush(&self.find(&name)?.cache, CpuOp::Flush)
                .map(|_| ()),
            Command::Validate(name) => self.validate(&self.find(&name)?.cache),
        }
    }

    /// Drains every CPU's arrays of `cache`, then returns its empty slabs. Returns how many.
    pub(crate) fn shrink(&self, cache: &Cache) -> Result<usize> {
        self.flush(cache, CpuOp::Flush)?;
        Ok(cache.shrink_nodes())
    }

    /// The cache `name`, kept alive by the returned reference after the slab mutex is dropped.
    fn find(&self, name: &Name) -> Result<Arc<Entry>> {
        let caches = self.lock_caches();
        caches
            .iter()
            .find(|l| l.entry.cache.name == *name)
            .map(|l| l.entry.clone())
            .ok_or(ENOENT)
    }

    /// The entry of `cache`, if it is on the list and `owner` created it.
    pub(crate) fn find_cache(&self, cache: *const Cache, owner: Owner) -> Option<Arc<Entry>> {
        let caches = self.lock_caches();
        caches
            .iter()
            .find(|l| core::ptr::eq(&*l.entry.cache, cache) && l.entry.owner == owner)
            .map(|l| l.entry.clone())
    }

    /// Creates a cache and puts it on the list, with its directory. Returns its entry.
    pub(crate) fn create(
        &self,
        name: Name,
        size: usize,
        align: usize,
        debug: bool,
        ctor: Option<Ctor>,
        owner: Owner,
    ) -> Result<Arc<Entry>> {
        let mut caches = self.lock_caches();
        if caches.iter().any(|l| l.entry.cache.name == name) {
            return Err(EEXIST);
        }
        caches.reserve(1, GFP_KERNEL)?;
        let cache = Cache::new(&self.meta, name, size, align, debug, ctor)?;
        let entry = Arc::new(Entry { owner, cache }, GFP_KERNEL)?;
        // A name on the list always has its directory: creating it fails (EEXIST) only if a
        // directory of that name outlived its cache, which taking a cache off the list rules out.
        let dir = DbgDir::new(&cstring(&name)?, Some(&self.caches_dir))?;
        let stats = DbgFile::read_only(c"stats", &dir, CacheStats(entry.clone()))?;
        caches.push(
            Listed {
                _stats: stats,
                _dir: dir,
                entry: entry.clone(),
            },
            GFP_KERNEL,
        )?;
        Ok(entry)
    }

    /// Destroys the cache of `e` if no object of it is in use. Flushes first (CPU hotplug lock,
    /// then the flush mutex), and only then takes the slab mutex: never the other way round.
    /// A cache still in use stays on the list, intact: `EBUSY`.
    pub(crate) fn destroy(&self, e: Arc<Entry>) -> Result {
        let name = e.cache.name;
        {
            let _cpus = CpusReadGuard::lock();
            self.flush_cpus_locked(&e.cache, CpuOp::Flush)?;
        }
        let mut caches = self.lock_caches();
        let pos = caches
            .iter()
            .position(|l| Arc::ptr_eq(&l.entry, &e))
            .ok_or(ENOENT)?;
        let inuse = e.cache.inuse();
        let quarantined = e.cache.stats.quarantined.get() as usize;
        if inuse > quarantined {
            pr_info!(
                "destroy {:?}: {} objects still allocated\n",
                name,
                inuse - quarantined
            );
            return Err(EBUSY);
        }
        // Its directory goes now, under the slab mutex; the last reference to the entry frees
        // the cache when it goes.
        drop(caches.remove(pos)?);
        Ok(())
    }

    /// Walks every per-CPU array (on its CPU), slab and list of `cache`, and checks the
    /// counters against what was found.
    pub(crate) fn validate(&self, cache: &Cache) -> Result {
        // The reaper holds the slab mutex for a whole round: once the flag is up under it, no
        // round is running and none will touch this cache until it is down again.
        {
            let _slab = self.lock_caches();
            cache.block_reap();
        }
        let r = self
            .flush_allowed()
            .and_then(|()| validate::validate(&self.flusher, cache));
        cache.unblock_reap();
        r
    }

    /// Destroys every cache at module unload, reporting any still in use (their objects are
    /// freed with them: nothing can use them once the module is gone).
    pub(crate) fn shutdown(&self) {
        let mut n = 0usize;
        loop {
            let Some(Listed { entry: e, .. }) = self.lock_caches().pop() else {
                break;
            };
            n += 1;
            if e.owner == Owner::Api {
                // Its module is gone (it depended on rslab), without destroying its cache.
                pr_err!(
                    "cache {:?}: created through the API and never destroyed\n",
                    e.cache.name
                );
            }
            let _cpus = CpusReadGuard::lock();
            let _ = self.flush_cpus_locked(&e.cache, CpuOp::Flush);
            let inuse = e.cache.inuse();
            let q = e.cache.stats.quarantined.get() as usize;
            if inuse > q {
                // A leak of a user's, reported as SLUB reports objects remaining at
                // `kmem_cache_destroy()`; the kernel-log gate fails a run that shows it.
                pr_err!(
                    "cache {:?}: {} objects remaining at unload; freed with the cache\n",
                    e.cache.name,
                    inuse - q
                );
            }
        }
        pr_info!("unload: {} caches destroyed\n", n);
    }
}
