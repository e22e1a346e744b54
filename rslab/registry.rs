// SPDX-License-Identifier: GPL-2.0

//! The list of caches (under the slab mutex), `flush_all` (under the flush mutex), and the
//! commands of the control file.
//!
//! Lock order (see the crate root): `cpus_read_lock` -> flush mutex; the flush mutex is never
//! taken while the slab mutex is held. Commands that flush do it first, without the slab
//! mutex, then take the slab mutex for what needs the list.

use crate::{
    cache::{Cache, Ctor, Meta},
    cmd::{Command, Name},
    debug::Fault,
    reaper::Reapers,
    sys::cpu_work::{CpuWork, CpuWorkFn, Wq},
    sys::cpuhp::{self, CpusReadGuard},
    sys::dbgfs::{DbgDir, DbgFile, Show},
    sys::kmem::KmemBox,
    sys::topology,
    validate::Census,
};
use core::{
    ops::{Deref, DerefMut},
    pin::Pin,
    ptr::null_mut,
    sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering::*},
};
use kernel::{
    new_mutex,
    prelude::*,
    str::CString,
    sync::{lock::mutex::MutexBackend, lock::Guard, Arc, Mutex},
    task::Task,
};

/// What a per-CPU work item does to one cache on its CPU.
#[derive(Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub(crate) enum CpuOp {
    Flush = 1,
    Validate = 2,
}

/// A request to one CPU, filled in under the flush mutex before the work is queued.
#[derive(Default)]
pub(crate) struct CpuRequest {
    cache: AtomicPtr<Cache>,
    op: AtomicU32,
    /// Objects found (validate) or drained (flush).
    objects: AtomicUsize,
    failed: AtomicU32,
    /// Times this work ran on a CPU other than its own (must stay 0).
    pub(crate) wrong_cpu: AtomicU32,
}

impl CpuWorkFn for CpuRequest {
    fn run(&self, cpu: u32) {
        let cache = self.cache.load(Acquire);
        if cache.is_null() {
            return;
        }
        // SAFETY: `flush_all` keeps the cache alive until this work has finished (it waits
        // for it before returning) and clears the pointer afterwards.
        let cache = unsafe { &*cache };
        let mut irq = crate::sys::irq::IrqOff::new();
        if topology::this_cpu() != cpu {
            // Never touch another CPU's array (the bug class of commit a9f2a846f050, "mm, slab:
            // reschedule cache_reap() on the same CPU"): count it and refuse.
            self.wrong_cpu.fetch_add(1, Relaxed);
            self.failed.store(1, Relaxed);
            kernel::warn_on!(true);
            return;
        }
        match self.op.load(Relaxed) {
            x if x == CpuOp::Flush as u32 => {
                self.objects.store(cache.flush_local(&mut irq), Relaxed);
            }
            _ => match cache.validate_local(&mut irq) {
                Ok(n) => self.objects.store(n, Relaxed),
                Err(f) => {
                    pr_err!("validate {:?}: cpu {}: {}\n", cache.name, cpu, f);
                    self.failed.store(1, Relaxed);
                }
            },
        }
    }
}

/// Drains or checks every CPU's arrays of a cache through per-CPU work items.
#[pin_data]
pub(crate) struct Flusher {
    /// The flush mutex.
    #[pin]
    lock: Mutex<()>,
    works: KVec<Pin<KBox<CpuWork<CpuRequest>>>>,
    wq: Wq,
}

impl Flusher {
    /// One work item per possible CPU, on a new per-CPU workqueue `wq_name`.
    pub(crate) fn new(wq_name: &'static CStr) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            lock <- new_mutex!((), "rslab_flush_mutex"),
            works: {
                let n = topology::nr_cpu_ids();
                let mut v = KVec::with_capacity(n as usize, GFP_KERNEL)?;
                for cpu in 0..n {
                    let w = KBox::pin_init(
                        CpuWork::new(cpu, CpuRequest::default(), c"rslab_cpu_work", kernel::static_lock_class!()),
                        GFP_KERNEL,
                    )?;
                    v.push(w, GFP_KERNEL)?;
                }
                v
            },
            wq: Wq::new(wq_name)?,
        }? Error)
    }

    /// rslab's per-CPU workqueue.
    pub(crate) fn wq(&self) -> &Wq {
        &self.wq
    }

    /// `flush_all` for a caller that does not hold the CPU hotplug lock.
    pub(crate) fn run(&self, cache: &Cache, op: CpuOp) -> Result<usize> {
        let _cpus = CpusReadGuard::lock();
        self.run_cpus_locked(cache, op)
    }

    /// `flush_all` for a caller that holds the CPU hotplug lock (hotplug callbacks, memory
    /// notifiers). Queues work only to online CPUs that cache something, and waits for it;
    /// offline CPUs' arrays are handled here (they cannot come online: the lock is held).
    /// Returns the number of objects drained or found.
    pub(crate) fn run_cpus_locked(&self, cache: &Cache, op: CpuOp) -> Result<usize> {
        cpuhp::assert_cpus_held();
        // Never the flush mutex under the slab mutex: with `cpus_read_lock` taken inside the
        // flush and the slab mutex inside the memory notifier, that closed a lockdep cycle
        // (flush_lock -> cpu_hotplug_lock -> memory_chain -> slab_mutex -> flush_lock; Qian
        // Cai's report on "[PATCH v4 29/35] mm: slub: Move flush_cpu_slab() invocations
        // __free_slab() invocations out of IRQ context", 2021-08-09).
        if slab_mutex_held_by_current() {
            kernel::warn_on!(true);
            return Err(EDEADLK);
        }
        let _flush = self.lock.lock();
        let mut total = 0;
        let mut failed = false;
        for (cpu, w) in self.works.iter().enumerate() {
            let cpu = cpu as u32;
            if let Some(offline) = cpuhp::offline_cpu_locked(cpu) {
                let r = match op {
                    CpuOp::Flush => Ok(cache.flush_offline(&offline)),
                    CpuOp::Validate => cache.validate_offline(&offline),
                };
                match r {
                    Ok(n) => total += n,
                    Err(f) => {
                        pr_err!("validate {:?}: offline cpu {}: {}\n", cache.name, cpu, f);
                        failed = true;
                    }
                }
                continue;
            }
            if op == CpuOp::Flush && cache.held_hint(cpu) == 0 {
                continue;
            }
            let d = &w.data;
            d.objects.store(0, Relaxed);
            d.failed.store(0, Relaxed);
            d.op.store(op as u32, Relaxed);
            d.cache
                .store(core::ptr::from_ref(cache).cast_mut(), Release);
            w.queue(&self.wq);
        }
        for w in self.works.iter() {
            let d = &w.data;
            if d.cache.load(Relaxed).is_null() {
                continue;
            }
            w.flush();
            d.cache.store(null_mut(), Relaxed);
            total += d.objects.load(Relaxed);
            failed |= d.failed.load(Relaxed) != 0;
        }
        if failed {
            return Err(EUCLEAN);
        }
        Ok(total)
    }
}

/// The task holding the slab mutex, if any: lets `flush_all` assert that it is never called
/// with the slab mutex held, which lockdep alone would only notice once a cycle closes.
static SLAB_MUTEX_OWNER: AtomicPtr<kernel::bindings::task_struct> = AtomicPtr::new(null_mut());

fn slab_mutex_held_by_current() -> bool {
    SLAB_MUTEX_OWNER.load(Relaxed) == Task::current_raw()
}

/// A cache on the list of caches: the entry, and its debugfs directory with the `stats` file.
/// The files live here, under the slab mutex, so that taking a cache off the list removes them
/// at once: the name is free again only when `caches/<name>/` is gone, whoever still holds a
/// reference to the entry.
pub(crate) struct Listed {
    /// First: removed (waiting for readers) before the reference to the cache goes.
    _stats: Pin<KBox<DbgFile<CacheRef>>>,
    _dir: DbgDir,
    pub(crate) entry: Arc<Entry>,
}

impl Deref for Listed {
    type Target = Entry;
    fn deref(&self) -> &Entry {
        &self.entry
    }
}

/// The slab mutex, held; records its owner for [`slab_mutex_held_by_current`].
pub(crate) struct SlabGuard<'a>(Guard<'a, KVec<Listed>, MutexBackend>);

impl<'a> SlabGuard<'a> {
    fn new(g: Guard<'a, KVec<Listed>, MutexBackend>) -> Self {
        SLAB_MUTEX_OWNER.store(Task::current_raw(), Relaxed);
        Self(g)
    }
}

impl Drop for SlabGuard<'_> {
    fn drop(&mut self) {
        SLAB_MUTEX_OWNER.store(null_mut(), Relaxed);
    }
}

impl Deref for SlabGuard<'_> {
    type Target = KVec<Listed>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl DerefMut for SlabGuard<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

/// The registry, for hotplug callbacks, notifiers and the reaper (C entry points with no
/// other way to reach it).
///
/// # Invariants
///
/// Null, or a registry that stays alive until it is set back to null: the module sets it after
/// creating the registry and clears it only after every callback, notifier and reaper that
/// reads it is gone.
static REGISTRY: AtomicPtr<Registry> = AtomicPtr::new(null_mut());

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
    pub(crate) cpu_prepare: AtomicU64,
    pub(crate) cpu_dead: AtomicU64,
    pub(crate) cpu_online: AtomicU64,
    pub(crate) cpu_offline: AtomicU64,
    pub(crate) dead_drained: AtomicU64,
    pub(crate) node_adding_first: AtomicU64,
    pub(crate) node_added_first: AtomicU64,
    pub(crate) node_removing_last: AtomicU64,
    pub(crate) node_removed_last: AtomicU64,
    pub(crate) node_cancel: AtomicU64,
    pub(crate) node_structs_reused: AtomicU64,
    pub(crate) mem_going_offline: AtomicU64,
    pub(crate) mem_offline: AtomicU64,
    pub(crate) mem_going_online: AtomicU64,
    pub(crate) mem_online: AtomicU64,
    pub(crate) mem_cancel: AtomicU64,
    pub(crate) flushed_for_offline: AtomicU64,
    pub(crate) shrunk_for_offline: AtomicU64,
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

/// A pointer to a cache for its debugfs file.
///
/// # Invariants
///
/// The cache outlives the file: the file is dropped first (field order of [`Listed`], which
/// holds a reference to the entry owning the cache), and debugfs waits for readers when a
/// file is removed.
pub(crate) struct CacheRef(*const Cache);

// SAFETY: `Cache` is `Sync`; the pointer is only dereferenced for reads while alive (invariant).
unsafe impl Send for CacheRef {}
// SAFETY: shared access only hands out `&Cache`, and `Cache` is `Sync`.
unsafe impl Sync for CacheRef {}

impl CacheRef {
    /// A reference to `cache`.
    ///
    /// # Safety
    ///
    /// `cache` must outlive the returned value and everything it is moved into.
    pub(crate) unsafe fn new(cache: &Cache) -> Self {
        Self(core::ptr::from_ref(cache))
    }

    /// The cache.
    pub(crate) fn get(&self) -> &Cache {
        // SAFETY: the cache outlives this reference (type invariant: the file holding it goes
        // first, and its removal waits for readers).
        unsafe { &*self.0 }
    }
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
            meta: Meta::new(c"rslab_cache", c"rslab_node", c"rslab_slab")?,
            reapers: Reapers::new(reap_interval_ms)?,
            hotplug: HotplugStats::default(),
        }? Error)
    }

    /// Takes the slab mutex.
    pub(crate) fn lock_caches(&self) -> SlabGuard<'_> {
        SlabGuard::new(self.caches.lock())
    }

    /// Tries the slab mutex (the reaper never waits for it).
    pub(crate) fn try_lock_caches(&self) -> Option<SlabGuard<'_>> {
        self.caches.try_lock().map(SlabGuard::new)
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
            if let Ok(n) = self.flusher.run_cpus_locked(&e.cache, CpuOp::Flush) {
                self.hotplug
                    .flushed_for_offline
                    .fetch_add(n as u64, Relaxed);
            }
            let n = e.cache.shrink_nodes();
            self.hotplug.shrunk_for_offline.fetch_add(n as u64, Relaxed);
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
                .flusher
                .run(&self.find(&name)?.cache, CpuOp::Flush)
                .map(|_| ()),
            Command::Validate(name) => self.validate(&self.find(&name)?.cache),
        }
    }

    /// Drains every CPU's arrays of `cache`, then returns its empty slabs. Returns how many.
    pub(crate) fn shrink(&self, cache: &Cache) -> Result<usize> {
        self.flusher.run(cache, CpuOp::Flush)?;
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
        // SAFETY: `Listed` drops the file before its reference to the entry owning the cache.
        let stats = DbgFile::read_only(c"stats", &dir, unsafe { CacheRef::new(&entry.cache) })?;
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
            self.flusher.run_cpus_locked(&e.cache, CpuOp::Flush)?;
        }
        let mut caches = self.lock_caches();
        let pos = caches
            .iter()
            .position(|l| Arc::ptr_eq(&l.entry, &e))
            .ok_or(ENOENT)?;
        let inuse = e.cache.inuse();
        let quarantined = e.cache.stats.quarantined.load(Relaxed) as usize;
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
        let r = validate(&self.flusher, cache);
        cache.unblock_reap();
        r
    }

    /// Writes `hotplug`: the hotplug events seen and what rslab did about them.
    pub(crate) fn show_hotplug(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let h = &self.hotplug;
        for (k, v) in [
            ("cpu_prepare", &h.cpu_prepare),
            ("cpu_dead", &h.cpu_dead),
            ("cpu_online", &h.cpu_online),
            ("cpu_offline", &h.cpu_offline),
            ("dead_drained_objects", &h.dead_drained),
            ("node_adding_first_memory", &h.node_adding_first),
            ("node_added_first_memory", &h.node_added_first),
            ("node_removing_last_memory", &h.node_removing_last),
            ("node_removed_last_memory", &h.node_removed_last),
            ("node_cancel", &h.node_cancel),
            ("node_structs_reused", &h.node_structs_reused),
            ("mem_going_offline", &h.mem_going_offline),
            ("mem_offline", &h.mem_offline),
            ("mem_going_online", &h.mem_going_online),
            ("mem_online", &h.mem_online),
            ("mem_cancel", &h.mem_cancel),
            ("flushed_for_offline", &h.flushed_for_offline),
            ("shrunk_for_offline", &h.shrunk_for_offline),
        ] {
            writeln!(f, "{} {}", k, v.load(Relaxed))?;
        }
        Ok(())
    }

    /// Writes `slabinfo`: `/proc/slabinfo` 2.1's first six columns, then rslab's own.
    pub(crate) fn slabinfo(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        writeln!(f, "slabinfo - version: 2.1 (rslab)")?;
        writeln!(
            f,
            "# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : rslab <stride> <align> <waste_per_slab> <debug> <slabs> <live>"
        )?;
        let caches = self.lock_caches();
        for l in caches.iter() {
            let c = &l.entry.cache;
            let l = &c.layout;
            let (mut total, mut free, mut slabs) = (0usize, 0usize, 0usize);
            for nid in 0..topology::nr_node_ids() {
                if let Some((lists, [t, fr])) = c.node_counts(nid) {
                    total += t;
                    free += fr;
                    slabs += lists.iter().sum::<usize>();
                }
            }
            writeln!(
                f,
                "{:<17} {:>13} {:>10} {:>9} {:>12} {:>14} : rslab {} {} {} {} {} {}",
                c.name.as_str(),
                total - free,
                total,
                l.object_size,
                l.objects,
                1usize << l.order,
                l.stride,
                l.align,
                l.waste,
                u8::from(c.debug),
                slabs,
                c.live()
            )?;
        }
        Ok(())
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
            let _ = self.flusher.run_cpus_locked(&e.cache, CpuOp::Flush);
            let inuse = e.cache.inuse();
            let q = e.cache.stats.quarantined.load(Relaxed) as usize;
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
    let quarantined = cache.stats.quarantined.load(Relaxed) as i64;
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

impl Show for CacheRef {
    fn show(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write_stats(self.get(), f)
    }
}

fn write_stats(c: &Cache, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
    let [allocs, frees, refills, flushes, remote] = c.cpu_totals();
    let s = &c.stats;
    writeln!(f, "allocs {}", allocs + s.node_allocs.load(Relaxed))?;
    writeln!(f, "frees {}", frees + s.node_frees.load(Relaxed))?;
    writeln!(f, "cpu_refills {}", refills)?;
    writeln!(f, "cpu_flushes {}", flushes)?;
    writeln!(f, "remote_frees {}", remote)?;
    writeln!(f, "slabs_allocated {}", s.slabs_allocated.load(Relaxed))?;
    writeln!(f, "slabs_freed {}", s.slabs_freed.load(Relaxed))?;
    writeln!(f, "debug_errors {}", s.debug_errors.load(Relaxed))?;
    writeln!(f, "quarantined {}", s.quarantined.load(Relaxed))?;
    writeln!(f, "offline_drained {}", s.offline_drained.load(Relaxed))?;
    writeln!(f, "live {}", c.live())?;
    for nid in 0..topology::nr_node_ids() {
        if let Some(([p, fu, fr], [tot, free])) = c.node_counts(nid) {
            writeln!(f, "node{}_partial {}", nid, p)?;
            writeln!(f, "node{}_full {}", nid, fu)?;
            writeln!(f, "node{}_free {}", nid, fr)?;
            writeln!(f, "node{}_objects {}", nid, tot)?;
            writeln!(f, "node{}_free_objects {}", nid, free)?;
        }
    }
    Ok(())
}
