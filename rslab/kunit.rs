// SPDX-License-Identifier: GPL-2.0

//! KUnit suite: what needs a kernel to test (real slabs, NUMA nodes, per-CPU work, the debug
//! checks). KUnit runs it when the module goes live, after its init; the tests build their own
//! metadata caches and flusher, so that they neither disturb nor depend on the module's caches.
//! Only the test of the slab-mutex rule uses the module's registry, whose mutex it is about.

#[kernel::macros::kunit_tests(rslab_kunit)]
mod tests {
    use crate::{
        cache::{
            Cache,
            Meta, //
        },
        cmd::Name,
        debug::Fault,
        flush::{
            CpuOp,
            Flusher, //
        },
        registry,
        slab::{
            slab_magic,
            HEADER_NULL_WORD, //
        },
        sys::cpu_work::{
            CpuWork,
            CpuWorkFn, //
        },
        sys::pages::Gfp,
        sys::topology,
        validate::validate,
        validate::VALIDATE_PIECE, //
    };
    use core::ptr::NonNull;
    use kernel::{
        prelude::*,
        sync::atomic::{
            Acquire,
            Atomic,
            Full,
            Relaxed, //
        },
    };

    fn meta() -> Result<Meta> {
        Meta::new(c"rslab_kunit_cache", c"rslab_kunit_node")
    }

    fn name(s: &str) -> Result<Name> {
        Name::new(s).map_err(|_| EINVAL)
    }

    fn flusher() -> Result<Pin<KBox<Flusher>>> {
        KBox::pin_init(Flusher::new(c"rslab_kunit"), GFP_KERNEL)
    }

    fn alloc_many(c: &Cache, n: usize) -> Result<KVec<NonNull<u8>>> {
        let mut v = KVec::with_capacity(n, GFP_KERNEL)?;
        for _ in 0..n {
            v.push(c.alloc(Gfp::KERNEL)?, GFP_KERNEL)?;
        }
        Ok(v)
    }

    fn free_all(c: &Cache, v: KVec<NonNull<u8>>) {
        for p in v {
            // SAFETY: every pointer came from `c.alloc` and is freed once.
            unsafe { c.free(p) };
        }
    }

    #[test]
    fn every_size_and_alignment() -> Result {
        let meta = meta()?;
        let f = flusher()?;
        for &size in &[
            8usize, 16, 24, 64, 100, 256, 1000, 1024, 2048, 4096, 8192, 16384,
        ] {
            for &align in &[8usize, 64, 4096] {
                let c = Cache::new(&meta, name("k")?, size, align, false, None)?;
                let n = 3 * c.layout.objects + 5;
                let v = alloc_many(&c, n)?;
                for (i, p) in v.iter().enumerate() {
                    assert_eq!(p.as_ptr() as usize % align, 0);
                    // SAFETY: a fresh object of `size` bytes.
                    unsafe { core::ptr::write_bytes(p.as_ptr(), i as u8, size) };
                }
                for (i, p) in v.iter().enumerate() {
                    // SAFETY: a live object of `size` bytes this test allocated; nobody else wrote it.
                    let s = unsafe { core::slice::from_raw_parts(p.as_ptr(), size) };
                    assert!(s.iter().all(|&b| b == i as u8));
                }
                validate(&f, &c)?;
                free_all(&c, v);
                validate(&f, &c)?;
                f.run(&c, CpuOp::Flush)?;
                assert_eq!(c.inuse(), 0);
                assert!(c.shrink_nodes() > 0);
                assert_eq!(c.stats.slabs_allocated.get(), c.stats.slabs_freed.get());
            }
        }
        Ok(())
    }

    #[test]
    fn alloc_node_places_objects_on_each_node() -> Result {
        let meta = meta()?;
        let c = Cache::new(&meta, name("node")?, 128, 8, false, None)?;
        let mut tested = 0;
        for nid in 0..topology::nr_node_ids() {
            let p = c.alloc_node(Some(nid), Gfp::KERNEL)?;
            let got = c.node_of(p);
            if topology::node_has_normal_memory(nid) {
                // Placed exactly where asked.
                assert_eq!(got, nid);
                tested += 1;
            } else {
                // Memory-less or movable-only node: falls back to one slabs can live on.
                assert!(topology::node_has_normal_memory(got));
            }
            // SAFETY: from `c`, freed once.
            unsafe { c.free(p) };
        }
        assert!(tested >= 1);
        assert_eq!(
            c.alloc_node(Some(topology::nr_node_ids()), Gfp::KERNEL)
                .err(),
            Some(EINVAL)
        );
        Ok(())
    }

    #[test]
    fn a_slab_header_lives_in_its_first_struct_page_and_names_its_node() -> Result {
        // Every object size, plain and debug: the header is found from an object through its
        // slab's first `struct page`, carries the cache's magic there, leaves `mapping` null, and
        // the page's node is the node the object was placed on, for every node with memory.
        let meta = meta()?;
        for (size, debug) in [
            (16, false),
            (64, false),
            (256, false),
            (4096, false),
            (64, true),
        ] {
            let c = Cache::new(&meta, name("slab_node")?, size, 8, debug, None)?;
            for nid in 0..topology::nr_node_ids() {
                if !topology::node_has_normal_memory(nid) {
                    continue;
                }
                let p = c.alloc_node(Some(nid), Gfp::KERNEL)?;
                let h = c.header_of(p.as_ptr());
                let base = p.as_ptr() as usize & !(c.layout.slab_bytes() - 1);
                assert_eq!(c.base_of(h), base);
                // SAFETY: `p` is an allocated object of `c`, so its slab and header are live.
                let (magic, mapping, inuse, by_header, by_free_path) = unsafe {
                    (
                        (*h).magic,
                        h.cast::<u8>().add(HEADER_NULL_WORD).cast::<usize>().read(),
                        (*h).inuse,
                        c.node_of_header(h),
                        c.slab_node_of(p.as_ptr()),
                    )
                };
                assert_eq!(magic, slab_magic(c.id));
                assert_eq!(mapping, 0);
                assert!(inuse >= 1);
                assert_eq!(by_header, nid);
                assert_eq!(by_free_path, nid);
                // The header is not in the slab: the first object is at the slab's start.
                assert_eq!(c.layout.offset_of(0), 0);
                // SAFETY: from `c`, freed once.
                unsafe { c.free(p) };
            }
        }
        Ok(())
    }

    #[test]
    fn alloc_node_of_a_node_without_normal_memory_grows_no_extra_slabs() -> Result {
        let meta = meta()?;
        for nid in (0..topology::nr_node_ids()).filter(|&n| !topology::node_has_normal_memory(n)) {
            // A cache of its own for each such node: the slabs counted below are this node's
            // calls' alone (a guest may have several such nodes: a CPU-ful node whose memory is
            // movable, and a memoryless one).
            let c = Cache::new(&meta, name("nomem")?, 128, 8, false, None)?;
            let per_slab = c.layout.objects;
            // Objects held and objects freed right away: the slabs must be those the held
            // objects need, not one per call (each call once grew a slab on the fallback node
            // and then took its object from another slab there, leaving the new one empty).
            let mut held = KVec::new();
            for i in 0..4 * per_slab {
                let p = c.alloc_node(Some(nid), Gfp::KERNEL)?;
                if i % 2 == 0 {
                    held.push(p, GFP_KERNEL)?;
                } else {
                    // SAFETY: from `c`, freed once.
                    unsafe { c.free(p) };
                }
            }
            let slabs: usize = (0..topology::nr_node_ids())
                .filter_map(|n| c.node_counts(n))
                .map(|(lists, _)| lists.iter().sum::<usize>())
                .sum();
            // At most every object out of its slab (held, or cached by this CPU after its
            // free): 4 slabs' worth, plus one partial slab per node it spans.
            assert!(slabs <= 4 + 2);
            free_all(&c, held);
        }
        Ok(())
    }

    #[test]
    fn idle_cache_has_nothing_in_use_after_flush() -> Result {
        let meta = meta()?;
        let f = flusher()?;
        let c = Cache::new(&meta, name("busy")?, 64, 8, false, None)?;
        let v = alloc_many(&c, 1000)?;
        f.run(&c, CpuOp::Flush)?;
        assert_eq!(c.inuse(), 1000);
        free_all(&c, v);
        f.run(&c, CpuOp::Flush)?;
        assert_eq!(c.inuse(), 0);
        assert_eq!(c.live(), 0);
        Ok(())
    }

    /// Runs `job` on CPU `cpu` (a bound worker: no migration between its steps) and waits.
    fn on_cpu<T: CpuWorkFn>(f: &Flusher, cpu: u32, job: T) -> Result<Pin<KBox<CpuWork<T>>>> {
        let w = KBox::pin_init(
            CpuWork::new(cpu, job, c"rslab_kunit_job", kernel::static_lock_class!()),
            GFP_KERNEL,
        )?;
        w.queue(f.wq());
        w.flush();
        Ok(w)
    }

    /// A node with normal memory other than `nid`, if there is one.
    fn other_node(nid: u32) -> Option<u32> {
        (0..topology::nr_node_ids()).find(|&n| n != nid && topology::node_has_normal_memory(n))
    }

    /// Allocations, local frees and frees of objects of another node (the remote buffer), in
    /// a fixed mix on one CPU; after every step the CPU's "caches something" hint must equal
    /// what its arrays hold. `flush_all` skips CPUs whose hint is 0, so a hint that forgets
    /// the remote buffer strands objects there.
    struct HintJob {
        cache: *const Cache,
        other: u32,
        steps: Atomic<usize>,
        mismatches: Atomic<usize>,
        failed: Atomic<u32>,
    }

    // SAFETY: the cache outlives the job (the test waits for it); the rest is atomics.
    unsafe impl Send for HintJob {}
    // SAFETY: shared access reads the cache through `&Cache` (which is `Sync`) and the atomics.
    unsafe impl Sync for HintJob {}

    impl CpuWorkFn for HintJob {
        fn run(&self, cpu: u32) {
            // SAFETY: alive until the test returns, after waiting for this job.
            let c = unsafe { &*self.cache };
            let mut held = KVec::new();
            for i in 0..900usize {
                let r = match i % 6 {
                    // A cross-node free: into the remote buffer.
                    0 | 3 => c.alloc_node(Some(self.other), Gfp::KERNEL).map(|p| {
                        // SAFETY: just allocated from `c`, freed once.
                        unsafe { c.free(p) }
                    }),
                    // Local frees, half of what is held, every sixth step.
                    5 => {
                        for _ in 0..held.len() / 2 {
                            if let Some(p) = held.pop() {
                                // SAFETY: allocated from `c` below, freed once.
                                unsafe { c.free(p) };
                            }
                        }
                        Ok(())
                    }
                    _ => c
                        .alloc(Gfp::KERNEL)
                        .and_then(|p| held.push(p, GFP_KERNEL).map_err(Into::into)),
                };
                if r.is_err() {
                    self.failed.store(1, Relaxed);
                    break;
                }
                self.steps.fetch_add(1, Relaxed);
                if c.held_hint(cpu) as usize != c.held_here() {
                    self.mismatches.fetch_add(1, Relaxed);
                }
            }
            for p in held {
                // SAFETY: allocated from `c`, freed once.
                unsafe { c.free(p) };
            }
        }
    }

    #[test]
    fn flush_hint_counts_the_remote_buffer() -> Result {
        let meta = meta()?;
        let f = flusher()?;
        let c = Cache::new(&meta, name("hint")?, 64, 8, false, None)?;
        let cpu = topology::this_cpu();
        let Some(other) = other_node(c.cpu_node(cpu).ok_or(EINVAL)?) else {
            pr_info!("one node with memory: no remote frees to test\n");
            return Ok(());
        };
        let w = on_cpu(
            &f,
            cpu,
            HintJob {
                cache: &*c,
                other,
                steps: Atomic::<usize>::new(0),
                mismatches: Atomic::<usize>::new(0),
                failed: Atomic::<u32>::new(0),
            },
        )?;
        assert_eq!(w.data.failed.load(Relaxed), 0);
        assert_eq!(w.data.steps.load(Relaxed), 900);
        assert_eq!(w.data.mismatches.load(Relaxed), 0);
        // Everything was freed: one flush_all leaves nothing in use, remote buffers included.
        f.run(&c, CpuOp::Flush)?;
        assert_eq!(c.live(), 0);
        assert_eq!(c.inuse(), 0);
        validate(&f, &c)
    }

    /// One side of a double free: wait for the other, then free `obj`.
    struct FreeJob {
        cache: *const Cache,
        obj: Atomic<usize>,
        go: *const Atomic<u32>,
    }

    // SAFETY: the cache and the barrier outlive the job (the test waits for it).
    unsafe impl Send for FreeJob {}
    // SAFETY: shared access only reads atomics and calls `Cache::free`, which is thread-safe.
    unsafe impl Sync for FreeJob {}

    impl CpuWorkFn for FreeJob {
        fn run(&self, _cpu: u32) {
            // SAFETY: both outlive the job (the test flushes it before they go).
            let (c, go) = unsafe { (&*self.cache, &*self.go) };
            go.fetch_add(1, Full);
            while go.load(Acquire) < 2 {
                core::hint::spin_loop();
            }
            // One of the two frees is a double free: checked, reported, refused.
            let _ = c.free_checked(self.obj.load(Relaxed) as *mut u8);
        }
    }

    #[test]
    fn debug_double_free_of_a_slabs_last_object_on_two_cpus() -> Result {
        let meta = meta()?;
        let f = flusher()?;
        let c = Cache::new(&meta, name("dbl2")?, 1024, 8, true, None)?;
        let cpus: KVec<u32> = {
            let mut v = KVec::new();
            for cpu in 0..topology::nr_cpu_ids() {
                if topology::cpu_online(cpu) && v.len() < 2 {
                    v.push(cpu, GFP_KERNEL)?;
                }
            }
            v
        };
        if cpus.len() < 2 {
            pr_info!("one CPU: no concurrent double free to test\n");
            return Ok(());
        }
        let nid = topology::mem_node(topology::cpu_to_node(topology::this_cpu()));
        let per_slab = c.layout.objects;
        // Few per load: the suite runs at every `insmod`, dozens of times per test run.
        const ROUNDS: usize = 40;
        for _ in 0..ROUNDS {
            // Two slabs' worth plus one: two slabs fill up, one more holds only the last.
            let mut v = KVec::with_capacity(2 * per_slab + 1, GFP_KERNEL)?;
            for _ in 0..2 * per_slab + 1 {
                v.push(c.alloc_node(Some(nid), Gfp::KERNEL)?, GFP_KERNEL)?;
            }
            let last = v.pop().ok_or(EINVAL)?;
            for p in v {
                // SAFETY: from `c`, freed once.
                unsafe { c.free(p) };
            }
            // Two empty slabs are kept; freeing `last` empties a third, whose pages go back
            // to the page allocator while the second free of it may still be looking.
            let go = Atomic::<u32>::new(0);
            let mut works = KVec::new();
            for &cpu in cpus.iter() {
                let job = FreeJob {
                    cache: &*c,
                    obj: Atomic::<usize>::new(last.as_ptr() as usize),
                    go: &go,
                };
                works.push(
                    KBox::pin_init(
                        CpuWork::new(cpu, job, c"rslab_kunit_dbl", kernel::static_lock_class!()),
                        GFP_KERNEL,
                    )?,
                    GFP_KERNEL,
                )?;
            }
            for w in works.iter() {
                w.queue(f.wq());
            }
            for w in works.iter() {
                w.flush();
            }
        }
        // Exactly one of the two frees of each round was refused, and nothing was corrupted.
        assert_eq!(c.stats.debug_errors.get(), ROUNDS as u64);
        assert_eq!(c.live(), 0);
        validate(&f, &c)?;
        assert_eq!(c.inuse(), 0);
        Ok(())
    }

    #[test]
    fn validate_walks_many_slabs_in_pieces() -> Result {
        let meta = meta()?;
        let f = flusher()?;
        let c = Cache::new(&meta, name("many")?, 512, 8, false, None)?;
        // Enough slabs for several pieces on one node.
        let n = c.layout.objects * (2 * VALIDATE_PIECE + 5);
        let v = alloc_many(&c, n)?;
        validate(&f, &c)?;
        free_all(&c, v);
        validate(&f, &c)?;
        f.run(&c, CpuOp::Flush)?;
        assert_eq!(c.inuse(), 0);
        Ok(())
    }

    #[test]
    fn locked_slot_is_this_cpus_copy() -> Result {
        let meta = meta()?;
        let c = Cache::new(&meta, name("thiscpu")?, 64, 8, false, None)?;
        for _ in 0..100 {
            let mut cpu = c.lock_this_cpu();
            let (slot, _) = cpu.parts();
            // The slot the local lock hands out (inline `%gs:this_cpu_off` on x86-64) is the
            // one `per_cpu_ptr()` gives for the CPU we run on.
            let here = c.cpus.get(topology::this_cpu()).map(core::ptr::from_ref);
            assert_eq!(Some(core::ptr::from_ref(slot)), here);
        }
        Ok(())
    }

    /// What an interrupt handler meets when it stops the holder of its CPU's lock: every kind of
    /// allocation and free must leave the arrays alone and use the node lists, and nothing may
    /// be lost.
    #[test]
    fn taken_cpu_lock_sends_alloc_and_free_to_the_node_lists() -> Result {
        let meta = meta()?;
        let f = flusher()?;
        let c = Cache::new(&meta, name("contended")?, 64, 8, false, None)?;
        // Objects in this CPU's array, so that the fast path would serve if it were allowed.
        free_all(&c, alloc_many(&c, 8)?);
        // Summed over every CPU: the task may migrate during the test, and no other task uses
        // this cache, so the sum of the arrays' hints moves only if an entry point touched them.
        let held_all = || {
            (0..topology::nr_cpu_ids())
                .map(|cpu| c.held_hint(cpu))
                .sum::<u32>()
        };
        let held = held_all();
        assert!(held > 0);
        let (allocs, frees) = (c.stats.node_allocs.get(), c.stats.node_frees.get());
        {
            // Stands for the interrupted holder: the lock is taken on this CPU.
            let _holder = c.lock_this_cpu();
            let p = c.alloc(Gfp::ATOMIC)?;
            // SAFETY: `p` was just allocated from `c`, and is freed once.
            unsafe { c.free(p) };
            let mut objs = [core::ptr::null_mut(); 8];
            c.alloc_bulk(Gfp::ATOMIC, &mut objs)?;
            assert!(objs.iter().all(|p| !p.is_null()));
            // SAFETY: just allocated from `c`, each listed once.
            unsafe { c.free_bulk(&objs) };
        }
        assert_eq!(held_all(), held);
        assert_eq!(c.stats.node_allocs.get() - allocs, 9);
        assert_eq!(c.stats.node_frees.get() - frees, 9);
        // One for `alloc`, one for `free`, one for the bulk allocation, eight bulk frees.
        assert_eq!(c.stats.contended.get(), 11);
        assert_eq!(c.live(), 0);
        validate(&f, &c)?;
        f.run(&c, CpuOp::Flush)?;
        assert_eq!(c.inuse(), 0);
        Ok(())
    }

    #[test]
    fn debug_catches_double_free_and_keeps_working() -> Result {
        let meta = meta()?;
        let f = flusher()?;
        let c = Cache::new(&meta, name("dbl")?, 48, 8, true, None)?;
        let p = c.alloc(Gfp::KERNEL)?;
        assert!(c.free_checked(p.as_ptr()).is_ok());
        assert!(matches!(c.free_checked(p.as_ptr()), Err(Fault::DoubleFree)));
        assert_eq!(c.stats.debug_errors.get(), 1);
        let v = alloc_many(&c, 100)?;
        free_all(&c, v);
        assert_eq!(c.stats.debug_errors.get(), 1);
        validate(&f, &c)
    }

    #[test]
    fn debug_catches_red_zone_overwrite() -> Result {
        let meta = meta()?;
        let f = flusher()?;
        let c = Cache::new(&meta, name("rz")?, 40, 8, true, None)?;
        let p = c.alloc(Gfp::KERNEL)?;
        // SAFETY: one byte past the object is the right red zone, inside the slot.
        unsafe { p.as_ptr().add(40).write(0) };
        assert!(matches!(
            c.free_checked(p.as_ptr()),
            Err(Fault::RedZoneRight(0))
        ));
        assert_eq!(c.stats.debug_errors.get(), 1);
        assert_eq!(c.stats.quarantined.get(), 1);
        let q = c.alloc(Gfp::KERNEL)?;
        assert!(q != p);
        // SAFETY: from `c`.
        unsafe { q.as_ptr().sub(1).write(0) };
        assert!(matches!(
            c.free_checked(q.as_ptr()),
            Err(Fault::RedZoneLeft(1))
        ));
        assert_eq!(c.stats.quarantined.get(), 2);
        validate(&f, &c)
    }

    #[test]
    fn debug_catches_write_after_free() -> Result {
        let meta = meta()?;
        let f = flusher()?;
        let c = Cache::new(&meta, name("uaf")?, 64, 8, true, None)?;
        let nid = topology::mem_node(topology::cpu_to_node(topology::this_cpu()));
        let p = c.alloc_node(Some(nid), Gfp::KERNEL)?;
        assert!(c.free_checked(p.as_ptr()).is_ok());
        // SAFETY: the freed object stays mapped (its slab is kept); writing it is the bug the
        // debug cache must catch.
        unsafe { p.as_ptr().add(10).write(0x42) };
        // The freelist is LIFO: the next allocation on that node meets the damaged object.
        let q = c.alloc_node(Some(nid), Gfp::KERNEL)?;
        assert!(q != p);
        assert_eq!(c.stats.debug_errors.get(), 1);
        assert_eq!(c.stats.quarantined.get(), 1);
        // SAFETY: from `c`.
        unsafe { c.free(q) };
        validate(&f, &c)
    }

    #[test]
    fn debug_refuses_foreign_pointers() -> Result {
        let meta = meta()?;
        let f = flusher()?;
        let c = Cache::new(&meta, name("foreign")?, 64, 8, true, None)?;
        let other = Cache::new(&meta, name("other")?, 64, 8, true, None)?;
        let p = c.alloc(Gfp::KERNEL)?;
        let o = other.alloc(Gfp::KERNEL)?;
        let k = KBox::new([0u8; 64], GFP_KERNEL)?;
        let kp = NonNull::from(&*k).cast::<u8>();
        let inside = p.as_ptr().wrapping_add(8);
        assert!(matches!(
            c.free_checked(o.as_ptr()),
            Err(Fault::NotThisCache)
        ));
        // Wherever the kmalloc object sits in its page: refused, one way or the other.
        assert!(c.free_checked(kp.as_ptr()).is_err());
        assert!(matches!(c.free_checked(inside), Err(Fault::NotObjectStart)));
        let plain = Cache::new(&meta, name("plain")?, 64, 8, false, None)?;
        assert!(matches!(
            plain.free_checked(p.as_ptr()),
            Err(Fault::NotChecked)
        ));
        assert_eq!(c.stats.debug_errors.get(), 3);
        assert_eq!(c.stats.quarantined.get(), 0);
        assert!(c.free_checked(p.as_ptr()).is_ok());
        assert!(other.free_checked(o.as_ptr()).is_ok());
        validate(&f, &c)?;
        validate(&f, &other)
    }

    /// The flush mutex is never taken under the slab mutex: lockdep knows when the current task
    /// holds the slab mutex, and every flush asks it first.
    #[test]
    fn no_flush_under_the_slab_mutex() -> Result {
        let r = registry::global().ok_or(ENODEV)?;
        assert!(r.may_flush().is_ok());
        let caches = r.lock_caches();
        let refused = r.may_flush();
        drop(caches);
        #[cfg(CONFIG_DEBUG_LOCK_ALLOC)]
        assert_eq!(refused, Err(EDEADLK));
        #[cfg(not(CONFIG_DEBUG_LOCK_ALLOC))]
        assert!(refused.is_ok());
        assert!(r.may_flush().is_ok());
        Ok(())
    }
}
