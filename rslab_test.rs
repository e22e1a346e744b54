// SPDX-License-Identifier: GPL-2.0

//! rslab_test: the stress workers, the benchmark against SLUB and the KUnit suite of rslab's
//! exported API, in a module of their own that reaches rslab only through that API
//! (`include/rslab.h`, through the Rust handle `include/rslab.rs`), the way rcutorture and
//! locktorture reach what they test. None of this code ships in `rslab.ko`.
//!
//! Its control file is `/sys/kernel/debug/rslab_test/control`; see `Documentation/rslab.rst`.
//!
//! # Lock order
//!
//! 1. the bench mutex (`bench` commands; benchmarks take `cpus_read_lock` under it)
//! 2. `cpus_read_lock` (held by the caller in the CPU hotplug callbacks)
//! 3. the runs mutex (the list of stress runs)
//! 4. a run's mailbox spinlocks, taken last with nothing nested inside
//!
//! rslab's API is called with none of these held where it may take `cpus_read_lock` itself
//! (`rslab_cache_destroy()`, `rslab_cache_shrink()`): a stress run's cache is destroyed when
//! the run is dropped, which happens outside the runs mutex and the CPU hotplug lock.

use kernel::{
    prelude::*,
    str::CString,
    sync::{
        atomic::{
            Acquire,
            Atomic,
            Release, //
        },
        Arc,
        Mutex, //
    },
    uaccess::UserSliceReader, //
};

#[path = "rslab_test/bench.rs"]
mod bench;
#[path = "rslab_test/cmd.rs"]
mod cmd;
#[path = "rslab_test/kunit.rs"]
mod kunit;
#[path = "include/rslab.rs"]
mod rslab;
#[path = "rslab_test/stress.rs"]
mod stress;
#[path = "rslab_test/sys.rs"]
mod sys;
#[expect(
    dead_code,
    reason = "shared with rslab.ko's parser, whose errors include more kinds"
)]
#[path = "rslab/words.rs"]
mod words;

use core::{
    fmt,
    ptr::null_mut, //
};
use stress::{
    Counters,
    Shared,
    StressRun, //
};
use sys::{
    cpuhp::{
        CpuhpCallbacks,
        CpuhpState,
        CpusReadGuard,
        OfflineCpu,
        Section, //
    },
    dbgfs::{
        DbgDir,
        DbgFile, //
    },
};
use words::Name;

module! {
    type: RslabTest,
    name: "rslab_test",
    authors: ["The rslab developers"],
    description: "rslab_test: stress, benchmark and API tests of rslab, as a client of its API",
    license: "GPL",
}

/// One stress run and its counters file. Field order is drop order: the file, then the
/// threads, then the last reference to the run's state, which destroys its cache.
struct Run {
    name: Name,
    _file: Pin<KBox<DbgFile<Arc<Counters>>>>,
    _run: StressRun,
    _shared: Arc<Shared>,
}

/// The stress runs.
#[pin_data]
struct Runs {
    /// The runs mutex.
    #[pin]
    list: Mutex<KVec<Run>>,
    dir: DbgDir,
}

/// The runs, for the CPU hotplug callbacks.
///
/// # Invariants
///
/// Null, or the runs of the loaded module: set once they exist, cleared before they go and
/// before the callbacks are removed (which waits for callbacks in progress).
static RUNS: Atomic<*mut Runs> = Atomic::new(null_mut());

fn with_runs(f: impl FnOnce(&mut KVec<Run>)) {
    let p = RUNS.load(Acquire);
    if p.is_null() {
        return;
    }
    // SAFETY: non-null, so the runs are alive (invariant) for as long as the callback runs:
    // the module clears the pointer and removes the callbacks (waiting for this one) before
    // dropping them.
    let runs = unsafe { &*p };
    f(&mut runs.list.lock());
}

/// The `CPUHP_AP_ONLINE_DYN` state of the stress workers: a CPU's threads start when it comes
/// online and stop before it goes offline.
struct StressHotplug;

impl CpuhpCallbacks for StressHotplug {
    const SECTION: Section = Section::Online;
    const NAME: &'static CStr = c"rslab_test:online";
    const TEARDOWN_ON_REMOVE: bool = true;

    fn startup(cpu: u32) -> Result {
        with_runs(|list| {
            for r in list.iter_mut() {
                r._run.cpu_online(cpu);
            }
        });
        Ok(())
    }

    fn teardown(cpu: u32, _offline: Option<OfflineCpu<'_>>) -> Result {
        with_runs(|list| {
            for r in list.iter_mut() {
                r._run.cpu_offline(cpu);
            }
        });
        Ok(())
    }
}

/// Benchmark results and the footprint run's live objects (the bench mutex).
type BenchState = Mutex<bench::Results>;

/// What the `control` file and the `bench` file work on.
///
/// # Invariants
///
/// The pointees are boxed parts of [`RslabTest`] (they stay put when it moves), which drops
/// the files holding a `Ctx` before any of them.
struct Ctx {
    runs: *const Runs,
    bench: *const BenchState,
    wq: *const sys::cpu_work::Wq,
}

// SAFETY: the pointees are `Sync` and outlive the files holding a `Ctx` (invariant; removing a
// file waits for callers in progress).
unsafe impl Send for Ctx {}
// SAFETY: only shared references are handed out.
unsafe impl Sync for Ctx {}

impl Ctx {
    fn runs(&self) -> &Runs {
        // SAFETY: alive while the file exists (see the `Sync` impl).
        unsafe { &*self.runs }
    }
    fn bench(&self) -> &BenchState {
        // SAFETY: alive while the file exists (see the `Sync` impl).
        unsafe { &*self.bench }
    }
    fn wq(&self) -> &sys::cpu_work::Wq {
        // SAFETY: alive while the file exists (see the `Sync` impl).
        unsafe { &*self.wq }
    }

    fn execute(&self, cmd: cmd::Command) -> Result {
        use cmd::Command::*;
        match cmd {
            StressStart(name, opts) => {
                let cname = CString::try_from_fmt(fmt!("{}", name.as_str()))?;
                let args = rslab::Args {
                    align: opts.align,
                    flags: if opts.debug { rslab::RSLAB_DEBUG } else { 0 },
                };
                let cache = rslab::RawCache::new(&cname, opts.size as usize, args)?;
                // From here on, a failure drops `shared` (and so destroys the cache) after
                // every lock below is released.
                let shared = Shared::new(cache, opts)?;
                let file = DbgFile::read_only(&cname, &self.runs().dir, shared.counters().clone())?;
                let _cpus = CpusReadGuard::lock();
                let mut list = self.runs().list.lock();
                list.reserve(1, GFP_KERNEL)?;
                let run = StressRun::start(shared.clone())?;
                pr_info!("stress {:?}: {} threads started\n", name, run.threads());
                list.push(
                    Run {
                        name,
                        _file: file,
                        _run: run,
                        _shared: shared,
                    },
                    GFP_KERNEL,
                )?;
                Ok(())
            }
            StressStop(name) => {
                let run = {
                    let mut list = self.runs().list.lock();
                    let pos = list.iter().position(|r| r.name == name).ok_or(ENOENT)?;
                    list.remove(pos)?
                };
                // Outside the runs mutex: stops the threads, frees every object, destroys
                // the cache.
                drop(run);
                pr_info!("stress {:?}: stopped\n", name);
                Ok(())
            }
            Forget(name) => {
                let cname = CString::try_from_fmt(fmt!("{}", name.as_str()))?;
                let cache = rslab::RawCache::new(&cname, 64, rslab::Args::default())?;
                let p = cache.alloc(rslab::Gfp::KERNEL).ok_or(ENOMEM)?;
                // SAFETY: allocated just now, freed once.
                unsafe { cache.free(p) };
                // Deliberately not destroyed: rslab must report it at its unload.
                core::mem::forget(cache);
                pr_info!("forget {:?}: cache left to rslab\n", name);
                Ok(())
            }
            Churn { name, count, size } => {
                let cname = CString::try_from_fmt(fmt!("{}", name.as_str()))?;
                for _ in 0..count {
                    let cache =
                        rslab::RawCache::new(&cname, size as usize, rslab::Args::default())?;
                    let mut objs = [None; CHURN_OBJECTS];
                    for o in objs.iter_mut() {
                        *o = cache.alloc(rslab::Gfp::KERNEL);
                    }
                    for p in objs.into_iter().flatten() {
                        // SAFETY: allocated from `cache` above, freed once.
                        unsafe { cache.free(p) };
                    }
                    // Dropping the handle destroys the cache: nothing of it is allocated.
                    drop(cache);
                }
                Ok(())
            }
            Bench {
                workload,
                size,
                n,
                rounds,
                ops,
            } => {
                let spec = bench::Spec {
                    workload,
                    size,
                    n,
                    rounds,
                    ops,
                };
                bench::run(self.wq(), spec, &mut self.bench().lock())
            }
            BenchShrink => match &self.bench().lock().footprint {
                Some(fp) => fp.shrink(),
                None => Err(ESRCH),
            },
            BenchRelease => self.bench().lock().footprint.take().map(drop).ok_or(ESRCH),
        }
    }
}

/// Objects a `churn` cycle allocates and frees before destroying its cache.
const CHURN_OBJECTS: usize = 8;

/// The `control` file.
struct Control(Ctx);

impl sys::dbgfs::Store for Control {
    fn store(&self, reader: &mut UserSliceReader) -> Result {
        let input = sys::dbgfs::Command::read(reader)?;
        let cmd = cmd::parse(input.bytes()).map_err(|e| {
            pr_debug!("control: refused ({:?})\n", e);
            EINVAL
        })?;
        self.0.execute(cmd)
    }
}

/// The `bench` file: one CSV line per result, then the footprint run, if one is held.
struct BenchFile(Ctx);

impl sys::dbgfs::Show for BenchFile {
    fn show(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0.bench().lock();
        writeln!(
            f,
            "workload,size,n,alloc,median_ns,min_ns,max_ns,median_cycles,rounds"
        )?;
        for r in b.rows.iter() {
            r.write(f)?;
        }
        if let Some(fp) = &b.footprint {
            // rslab's pages are in rslab's own `slabinfo`, under this cache's name.
            writeln!(
                f,
                "# footprint rslab cache={} size={} live_objects={}",
                bench::FOOTPRINT_CACHE.to_str().unwrap_or(""),
                fp.rslab.size(),
                fp.live()
            )?;
        }
        Ok(())
    }
}

/// The module's files: `control` (last created, first removed) and `bench`.
struct Files {
    _control: Pin<KBox<DbgFile<Control>>>,
    _bench: Pin<KBox<DbgFile<BenchFile>>>,
}

/// The module instance. Teardown order: the files (no command in progress or to come), the
/// stress runs (threads stopped, caches destroyed), the CPU hotplug callbacks, the benchmark
/// state (a footprint run's caches destroyed), the workqueue, the directory.
#[pin_data(PinnedDrop)]
struct RslabTest {
    files: Option<Files>,
    hotplug: Option<CpuhpState<StressHotplug>>,
    runs: Pin<KBox<Runs>>,
    bench: Pin<KBox<BenchState>>,
    /// Boxed, as the runs and the bench state are: the files point to all three, and `Self`
    /// moves when `init` returns it.
    wq: KBox<sys::cpu_work::Wq>,
    /// Last: the files and the runs' directory live in it.
    _dir: DbgDir,
}

impl kernel::InPlaceModule for RslabTest {
    fn init(_module: &'static ThisModule) -> impl PinInit<Self, Error> {
        let init = || -> Result<Self> {
            let dir = DbgDir::new(c"rslab_test", None)?;
            let stress_dir = DbgDir::new(c"stress", Some(&dir))?;
            let runs = KBox::pin_init(
                try_pin_init!(Runs {
                    list <- kernel::new_mutex!(KVec::new(), "rslab_test_runs"),
                    dir: stress_dir,
                }? Error),
                GFP_KERNEL,
            )?;
            let bench = KBox::pin_init(
                kernel::new_mutex!(bench::Results::default(), "rslab_test_bench"),
                GFP_KERNEL,
            )?;
            let wq = KBox::new(sys::cpu_work::Wq::new(c"rslab_test")?, GFP_KERNEL)?;
            // INVARIANT: the runs are boxed, so they stay where they are until `drop`, which
            // clears the pointer first.
            RUNS.store(core::ptr::from_ref(&*runs).cast_mut(), Release);
            let hotplug = CpuhpState::setup().inspect_err(|_| RUNS.store(null_mut(), Release))?;
            let mut this = Self {
                files: None,
                hotplug: Some(hotplug),
                runs,
                bench,
                wq,
                _dir: dir,
            };
            let ctx = || Ctx {
                runs: core::ptr::from_ref(&*this.runs),
                bench: core::ptr::from_ref(&*this.bench),
                wq: core::ptr::from_ref(&*this.wq),
            };
            // On failure `this` is dropped: hooks removed, runs (none) and directory gone.
            let files = Files {
                _bench: DbgFile::read_only(c"bench", &this._dir, BenchFile(ctx()))?,
                // Last: no command can arrive before everything else is there.
                _control: DbgFile::write_only(c"control", &this._dir, Control(ctx()))?,
            };
            this.files = Some(files);
            pr_info!("loaded\n");
            Ok(this)
        };
        init()
    }
}

#[pinned_drop]
impl PinnedDrop for RslabTest {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: nothing of `Self` is structurally pinned (its pinned parts are boxed):
        // taking fields out moves nothing pinned.
        let this = unsafe { self.get_unchecked_mut() };
        drop(this.files.take());
        let runs = core::mem::take(&mut *this.runs.list.lock());
        // Outside the runs mutex: threads stop, caches are destroyed.
        drop(runs);
        // The callbacks find no runs from here on; removing them waits for any in progress.
        RUNS.store(null_mut(), Release);
        drop(this.hotplug.take());
        drop(this.bench.lock().footprint.take());
        pr_info!("unloaded\n");
    }
}
