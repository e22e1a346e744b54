// SPDX-License-Identifier: GPL-2.0

//! `stress start|stop`: kernel threads bound to each online CPU that allocate and free objects
//! of one rslab cache, through rslab's exported API, in random batches; they fill every object
//! with a pattern derived from its address and check it before it is freed. With `remote=1` a
//! quarter of the objects is handed to a thread on another CPU (on another node where there is
//! one) to free. These workers are what the hotplug stress tests run under.
//!
//! A run is a client doing CPU hotplug right: rslab_test's own CPU hotplug callbacks stop a
//! CPU's threads before it goes offline and start them when it is back (see the crate root).

use crate::{
    cmd::StressOpts,
    rslab::{
        Gfp,
        RawCache, //
    },
    sys::{
        kthread::{
            self,
            CpuThread, //
        },
        topology, //
    },
};
use core::{
    fmt,
    ptr::NonNull, //
};
use kernel::{
    new_spinlock,
    prelude::*,
    sync::{
        atomic::{
            Atomic,
            Relaxed, //
        },
        Arc,
        SpinLock, //
    },
};

/// Objects a mailbox holds at most; a full mailbox makes the sender free the object itself.
const MAILBOX_CAP: usize = 256;

/// What a run counts, shown in `stress/<name>`.
pub(crate) struct Counters {
    iterations: Atomic<u64>,
    allocs: Atomic<u64>,
    frees: Atomic<u64>,
    handoffs: Atomic<u64>,
    alloc_failures: Atomic<u64>,
    pattern_errors: Atomic<u64>,
    threads: Atomic<u32>,
}

impl Default for Counters {
    /// Every count at zero.
    fn default() -> Self {
        Self {
            iterations: Atomic::new(0),
            allocs: Atomic::new(0),
            frees: Atomic::new(0),
            handoffs: Atomic::new(0),
            alloc_failures: Atomic::new(0),
            pattern_errors: Atomic::new(0),
            threads: Atomic::new(0),
        }
    }
}

impl crate::sys::dbgfs::Show for Arc<Counters> {
    fn show(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (k, v) in [
            ("iterations", &self.iterations),
            ("allocs", &self.allocs),
            ("frees", &self.frees),
            ("handoffs", &self.handoffs),
            ("alloc_failures", &self.alloc_failures),
            ("pattern_errors", &self.pattern_errors),
        ] {
            writeln!(f, "{} {}", k, v.load(Relaxed))?;
        }
        writeln!(f, "threads {}", self.threads.load(Relaxed))
    }
}

/// State shared by the threads of one run. Dropping it destroys the cache: the last reference
/// goes when every thread has stopped and every object is back.
pub(crate) struct Shared {
    cache: RawCache,
    opts: StressOpts,
    counters: Arc<Counters>,
    /// One mailbox per thread: objects other threads handed over for it to free.
    mailboxes: KVec<Pin<KBox<SpinLock<KVec<usize>>>>>,
    /// The CPU of each thread.
    cpus: KVec<u32>,
}

/// One thread's view.
struct Worker {
    shared: Arc<Shared>,
    index: usize,
    /// Mailbox this thread hands objects to.
    peer: usize,
}

/// A running stress run; dropping it stops the threads and returns every object.
///
/// It has `threads_per_cpu` slots for every *possible* CPU; a slot has a thread while its CPU
/// is online.
pub(crate) struct StressRun {
    threads: KVec<Option<CpuThread<Worker>>>,
    shared: Arc<Shared>,
}

fn tag(p: NonNull<u8>) -> u8 {
    let a = p.as_ptr() as usize;
    ((a >> 3) ^ (a >> 11) ^ 0x5a) as u8
}

impl Shared {
    /// The state of a run on `cache` (which it owns from now on) with `opts`.
    pub(crate) fn new(cache: RawCache, opts: StressOpts) -> Result<Arc<Self>> {
        let mut cpus = KVec::new();
        for cpu in 0..topology::nr_cpu_ids() {
            for _ in 0..opts.threads_per_cpu {
                cpus.push(cpu, GFP_KERNEL)?;
            }
        }
        let mut mailboxes = KVec::with_capacity(cpus.len(), GFP_KERNEL)?;
        for _ in 0..cpus.len() {
            let mut v = KVec::new();
            v.reserve(MAILBOX_CAP, GFP_KERNEL)?;
            mailboxes.push(
                KBox::pin_init(new_spinlock!(v, "rslab_stress_mailbox"), GFP_KERNEL)?,
                GFP_KERNEL,
            )?;
        }
        Ok(Arc::new(
            Self {
                cache,
                opts,
                counters: Arc::new(Counters::default(), GFP_KERNEL)?,
                mailboxes,
                cpus,
            },
            GFP_KERNEL,
        )?)
    }

    /// The run's counters.
    pub(crate) fn counters(&self) -> &Arc<Counters> {
        &self.counters
    }

    fn fill(&self, p: NonNull<u8>) {
        // SAFETY: `p` is a fresh object of `size()` bytes owned by this thread.
        unsafe { core::ptr::write_bytes(p.as_ptr(), tag(p), self.cache.size()) };
    }

    /// Checks the pattern and frees the object.
    fn check_and_free(&self, p: NonNull<u8>) {
        let size = self.cache.size();
        // SAFETY: `p` is an object of `size` bytes this run allocated and still owns.
        let bytes = unsafe { core::slice::from_raw_parts(p.as_ptr(), size) };
        let t = tag(p);
        if let Some(i) = bytes.iter().position(|&b| b != t) {
            if self.counters.pattern_errors.fetch_add(1, Relaxed) == 0 {
                pr_err!("stress: object {:p} corrupted at byte {}\n", p.as_ptr(), i);
            }
        }
        // SAFETY: allocated from this cache by this run, freed exactly once here.
        unsafe { self.cache.free(p) };
        self.counters.frees.fetch_add(1, Relaxed);
    }

    /// Frees the objects mailbox `index` holds on entry, and no more: other threads may go on
    /// handing objects to it meanwhile, and a drain until the mailbox is empty does not end while
    /// they keep it topped up. (It did not: on 6 vCPUs four threads kept a stopping thread's
    /// mailbox near full, and `stress stop` waited in `kthread_stop()` for over 240 s.) What
    /// arrives later waits for the next drain; once every thread is stopped, nothing arrives
    /// and the last drain (`StressRun::drop`) empties every mailbox.
    fn drain_mailbox(&self, index: usize) {
        let Some(mb) = self.mailboxes.get(index) else {
            return;
        };
        let held = mb.lock().len();
        for _ in 0..held {
            let Some(obj) = mb.lock().pop() else { break };
            if let Some(p) = NonNull::new(obj as *mut u8) {
                self.check_and_free(p);
            }
        }
    }
}

fn xorshift(s: &mut u64) -> u64 {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    *s
}

fn work(w: &Worker) {
    let sh = &*w.shared;
    let batch = sh.opts.batch as usize;
    let mut held = KVec::<NonNull<u8>>::new();
    if held.reserve(batch, GFP_KERNEL).is_err() {
        sh.counters.alloc_failures.fetch_add(1, Relaxed);
        return;
    }
    let mut rng = 0x9e37_79b9_7f4a_7c15u64 ^ ((w.index as u64 + 1) << 17);
    let mut iteration = 0u64;
    while !kthread::should_stop() {
        // `batch` is at least 1 (the parser checks); `checked_rem` just has no panic path.
        let n = 1
            + (xorshift(&mut rng) as usize)
                .checked_rem(batch)
                .unwrap_or(0);
        for _ in 0..n {
            match sh.cache.alloc(Gfp::KERNEL) {
                Some(p) => {
                    sh.fill(p);
                    // Capacity was reserved for `batch` objects.
                    let _ = held.push_within_capacity(p);
                    sh.counters.allocs.fetch_add(1, Relaxed);
                }
                None => {
                    sh.counters.alloc_failures.fetch_add(1, Relaxed);
                    break;
                }
            }
        }
        sh.drain_mailbox(w.index);
        while let Some(p) = held.pop() {
            if sh.opts.remote && w.peer != w.index && xorshift(&mut rng) % 4 == 0 {
                if let Some(mb) = sh.mailboxes.get(w.peer) {
                    let mut mb = mb.lock();
                    if mb.len() < MAILBOX_CAP
                        && mb.push_within_capacity(p.as_ptr() as usize).is_ok()
                    {
                        sh.counters.handoffs.fetch_add(1, Relaxed);
                        continue;
                    }
                }
            }
            sh.check_and_free(p);
        }
        iteration += 1;
        sh.counters.iterations.fetch_add(1, Relaxed);
        if iteration % 8 == 0 {
            kthread::sleep_ms(1);
        }
    }
    sh.drain_mailbox(w.index);
}

impl StressRun {
    /// Starts `threads_per_cpu` threads on every online CPU for the run of `shared`. The
    /// caller holds the CPU hotplug lock, so the set of online CPUs is stable meanwhile, and
    /// keeps its own reference to `shared`: if this fails, the cache is destroyed only when
    /// the caller drops it, outside that lock (destroying flushes under the lock itself).
    pub(crate) fn start(shared: Arc<Shared>) -> Result<Self> {
        let n = shared.cpus.len();
        let mut threads = KVec::with_capacity(n, GFP_KERNEL)?;
        for _ in 0..n {
            threads.push(None, GFP_KERNEL)?;
        }
        let mut run = Self { threads, shared };
        for cpu in 0..topology::nr_cpu_ids() {
            if topology::cpu_online(cpu) {
                // On failure `run` is dropped: the started threads are stopped.
                run.spawn_cpu(cpu)?;
            }
        }
        Ok(run)
    }

    /// Starts the threads of `cpu`'s slots that are not running.
    fn spawn_cpu(&mut self, cpu: u32) -> Result {
        let sh = &self.shared;
        let n = sh.cpus.len();
        for index in 0..n {
            if sh.cpus[index] != cpu || self.threads[index].is_some() {
                continue;
            }
            let node = topology::cpu_to_node(cpu);
            // Hand objects to the next slot on another node if there is one, else on another
            // CPU (that slot's thread may be offline: its mailbox waits for it, or for stop).
            let others = (1..n).map(|k| (index + k) % n);
            let peer = others
                .clone()
                .find(|&j| {
                    topology::cpu_to_node(sh.cpus[j]) != node && topology::cpu_online(sh.cpus[j])
                })
                .or_else(|| {
                    others
                        .clone()
                        .find(|&j| sh.cpus[j] != cpu && topology::cpu_online(sh.cpus[j]))
                })
                .unwrap_or(index);
            let w = Worker {
                shared: sh.clone(),
                index,
                peer,
            };
            self.threads[index] = Some(CpuThread::spawn(cpu, w, work)?);
            sh.counters.threads.fetch_add(1, Relaxed);
        }
        Ok(())
    }

    /// CPU `cpu` came online: start its threads.
    pub(crate) fn cpu_online(&mut self, cpu: u32) {
        if let Err(e) = self.spawn_cpu(cpu) {
            pr_warn!("stress: no threads on CPU {}: {:?}\n", cpu, e);
        }
    }

    /// CPU `cpu` is going offline: stop its threads (each frees what it holds).
    pub(crate) fn cpu_offline(&mut self, cpu: u32) {
        for (index, t) in self.threads.iter_mut().enumerate() {
            if self.shared.cpus.get(index) == Some(&cpu) && t.take().is_some() {
                self.shared.counters.threads.fetch_sub(1, Relaxed);
            }
        }
    }

    /// Number of running threads.
    pub(crate) fn threads(&self) -> usize {
        self.threads.iter().filter(|t| t.is_some()).count()
    }
}

impl Drop for StressRun {
    fn drop(&mut self) {
        // Stop every thread first (each frees what it holds), then free what is left in
        // mailboxes.
        self.threads.clear();
        self.shared.counters.threads.store(0, Relaxed);
        for i in 0..self.shared.mailboxes.len() {
            self.shared.drain_mailbox(i);
        }
    }
}
