// SPDX-License-Identifier: GPL-2.0

//! KUnit suite `rslab_api`: every function of rslab's exported interface and the semantics
//! `include/rslab.h` promises, called as a client module calls them. It runs when the module is
//! loaded (rslab is loaded first: this module depends on it).

#[kernel::macros::kunit_tests(rslab_api)]
mod tests {
    use crate::{
        bench::{
            self,
            Alloc, //
        },
        rslab::{
            ffi,
            Args,
            Cache,
            Ctor,
            Gfp,
            RawCache,
            RSLAB_DEBUG, //
        },
        sys::{
            cpu_work::Wq,
            cpuhp::CpusReadGuard,
            pages::node_of_address,
            topology, //
        },
    };
    use core::{
        ffi::c_void,
        ptr::{
            null,
            null_mut,
            NonNull, //
        },
    };
    use kernel::{
        error::from_err_ptr,
        impl_has_hr_timer,
        prelude::*,
        sync::{
            atomic::{
                Atomic,
                Relaxed, //
            },
            completion::Completion,
            Arc,
            ArcBorrow, //
        },
        time::{
            hrtimer::{
                HrTimer,
                HrTimerCallback,
                HrTimerCallbackContext,
                HrTimerPointer,
                HrTimerRestart,
                RelativeMode,
                RelativeSoftMode, //
            },
            Delta,
            Monotonic, //
        },
    };

    fn plain() -> Args {
        Args::default()
    }

    fn debug() -> Args {
        Args {
            align: 0,
            flags: RSLAB_DEBUG,
        }
    }

    /// Destroys `c`, which must have no object allocated.
    fn destroy(c: RawCache) -> Result {
        c.destroy().map_err(|(_, e)| e)
    }

    #[test]
    fn create_refuses_bad_arguments() -> Result {
        let bad: [(&CStr, usize, Args); 9] = [
            (c"api_bad", 0, plain()),
            (c"api_bad", 16385, plain()),
            (c"api_bad", 64, Args { align: 3, flags: 0 }),
            (
                c"api_bad",
                64,
                Args {
                    align: 8192,
                    flags: 0,
                },
            ),
            (c"api_bad", 64, Args { align: 0, flags: 2 }),
            (c"a b", 64, plain()),
            (c"", 64, plain()),
            (c"api/bad", 64, plain()),
            (c"a12345678901234567890123456789012", 64, plain()),
        ];
        for (name, size, args) in bad {
            assert!(matches!(RawCache::new(name, size, args), Err(e) if e == EINVAL));
        }
        let c = RawCache::new(c"api_dup", 64, plain())?;
        // Names are unique: another size, another flag, make no difference.
        assert!(matches!(RawCache::new(c"api_dup", 32, debug()), Err(e) if e == EEXIST));
        destroy(c)?;
        // Free again once destroyed.
        destroy(RawCache::new(c"api_dup", 32, debug())?)?;
        // NULL arguments: the defaults.
        // SAFETY: a valid name; NULL `args` is allowed.
        let p = from_err_ptr(unsafe {
            ffi::rslab_cache_create(c"api_null_args".as_char_ptr(), 24, null())
        })?;
        // SAFETY: `p` was just created, nothing is allocated from it.
        assert_eq!(unsafe { ffi::rslab_cache_destroy(p) }, 0);
        // SAFETY: a pointer that is no cache is only looked up, never used.
        let not_a_cache = unsafe { ffi::rslab_cache_destroy(p) };
        assert_eq!(not_a_cache, EINVAL.to_errno());
        Ok(())
    }

    #[test]
    fn alloc_free_zero_and_null() -> Result {
        for args in [plain(), debug()] {
            let c = RawCache::new(c"api_basic", 100, args)?;
            let p = c.alloc(Gfp::KERNEL).ok_or(ENOMEM)?;
            // SAFETY: `p` is a fresh object of `c`, whose objects are 100 bytes, and ours alone.
            unsafe { core::ptr::write_bytes(p.as_ptr(), 0xa5, 100) };
            // SAFETY: `p` was allocated from `c` above and is freed once, here.
            unsafe { c.free(p) };
            // `__GFP_ZERO`: the object comes zeroed, even one just dirtied and freed.
            let z = c.alloc(Gfp::KERNEL | Gfp::ZERO).ok_or(ENOMEM)?;
            // SAFETY: `z` is a fresh object of `c` (100 bytes), initialised (zeroed) by rslab,
            // and not written while the slice lives.
            let bytes = unsafe { core::slice::from_raw_parts(z.as_ptr(), 100) };
            assert!(bytes.iter().all(|&b| b == 0));
            // SAFETY: `z` was allocated from `c` above and is freed once, here.
            unsafe { c.free(z) };
            // Freeing NULL does nothing.
            // SAFETY: `c.as_ptr()` is a live cache (`c` owns it); a NULL object is allowed and
            // does nothing (`include/rslab.h`).
            unsafe { ffi::rslab_free(c.as_ptr(), null_mut()) };
            destroy(c)?;
        }
        Ok(())
    }

    #[test]
    fn destroy_while_busy_keeps_the_cache_usable() -> Result {
        for args in [plain(), debug()] {
            let c = RawCache::new(c"api_busy", 64, args)?;
            let p = c.alloc(Gfp::KERNEL).ok_or(ENOMEM)?;
            let c = match c.destroy() {
                Ok(()) => return Err(EINVAL),
                Err((c, e)) => {
                    assert!(e == EBUSY);
                    c
                }
            };
            // Still intact and usable: its object is still ours, and new ones come.
            // SAFETY: `p` is still a live object of `c` (64 bytes), ours alone: the refused
            // destroy left the cache and its objects intact.
            unsafe { core::ptr::write_bytes(p.as_ptr(), 1, 64) };
            let q = c.alloc(Gfp::KERNEL).ok_or(ENOMEM)?;
            // SAFETY: `p` and `q` were allocated from `c` above, and each is freed once, here.
            unsafe {
                c.free(q);
                c.free(p);
            }
            c.shrink()?;
            destroy(c)?;
        }
        Ok(())
    }

    #[test]
    fn alloc_node_honours_the_node() -> Result {
        let c = RawCache::new(c"api_node", 256, plain())?;
        for nid in 0..topology::nr_node_ids() {
            if !topology::node_has_normal_memory(nid) {
                continue;
            }
            for _ in 0..100 {
                let p = c.alloc_node(Gfp::KERNEL, Some(nid)).ok_or(ENOMEM)?;
                assert_eq!(node_of_address(p), Some(nid));
                // SAFETY: `p` was allocated from `c` just above and is freed once, here.
                unsafe { c.free(p) };
            }
        }
        // `NUMA_NO_NODE`: any node.
        let p = c.alloc_node(Gfp::KERNEL, None).ok_or(ENOMEM)?;
        // SAFETY: `p` was allocated from `c` just above and is freed once, here.
        unsafe { c.free(p) };
        // Not a possible node: NULL, nothing allocated.
        assert!(c
            .alloc_node(Gfp::KERNEL, Some(topology::nr_node_ids()))
            .is_none());
        // SAFETY: `c.as_ptr()` is a live cache (`c` owns it); rslab checks the node, and -2
        // is none, so nothing is allocated.
        assert!(unsafe { ffi::rslab_alloc_node(c.as_ptr(), Gfp::KERNEL.as_raw(), -2) }.is_null());
        destroy(c)
    }

    #[test]
    fn bulk_is_all_or_nothing_and_frees_any_node() -> Result {
        for args in [plain(), debug()] {
            let c = RawCache::new(c"api_bulk", 48, args)?;
            let mut objs = KVec::new();
            objs.extend_with(1000, null_mut::<u8>(), GFP_KERNEL)?;
            c.alloc_bulk(Gfp::KERNEL, &mut objs)?;
            for &p in objs.iter() {
                let p = NonNull::new(p).ok_or(EINVAL)?;
                // SAFETY: every entry is a fresh object of `c` (48 bytes) from the bulk
                // allocation, ours alone.
                unsafe { core::ptr::write_bytes(p.as_ptr(), 0x3c, 48) };
            }
            // Objects of every node with memory, and NULL entries, in one bulk free.
            let mut i = 0;
            for nid in 0..topology::nr_node_ids() {
                if topology::node_has_normal_memory(nid) && i < objs.len() {
                    // SAFETY: `objs[i]` is a live object of `c` from the bulk allocation; it is
                    // freed once, here, and its entry replaced by a new object of node `nid`.
                    unsafe { c.free(NonNull::new(objs[i]).ok_or(EINVAL)?) };
                    objs[i] = c.alloc_node(Gfp::KERNEL, Some(nid)).ok_or(ENOMEM)?.as_ptr();
                    i += 1;
                }
            }
            objs.push(null_mut(), GFP_KERNEL)?;
            // SAFETY: every non-null entry of `objs` is a live object of `c` (from the bulk
            // allocation or `alloc_node` above), each in one entry only.
            unsafe { c.free_bulk(&mut objs) };
            // A count that does not fit the return value: refused before `objs` is read.
            // SAFETY: `c.as_ptr()` is a live cache (`c` owns it); a count above `INT_MAX` is
            // refused before the array is touched (`include/rslab.h`).
            let n = unsafe {
                ffi::rslab_alloc_bulk(
                    c.as_ptr(),
                    Gfp::KERNEL.as_raw(),
                    i32::MAX as usize + 1,
                    objs.as_mut_ptr().cast(),
                )
            };
            assert_eq!(n, 0);
            // Nothing is left allocated: the cache can go.
            destroy(c)?;
        }
        Ok(())
    }

    const CTOR_SIZE: usize = 40;
    const CTOR_BYTE: u8 = 0xc7;
    static CONSTRUCTED: Atomic<usize> = Atomic::new(0);

    /// A constructor: fills the object with [`CTOR_BYTE`] and counts.
    ///
    /// # Safety
    ///
    /// `obj` must be an object of [`CTOR_SIZE`] bytes owned by the caller.
    unsafe extern "C" fn ctor(obj: *mut c_void) {
        // SAFETY: `obj` is an object of `CTOR_SIZE` bytes the caller owns (this function's
        // contract, which rslab keeps: `api_ctor`'s objects are `CTOR_SIZE` bytes).
        unsafe { core::ptr::write_bytes(obj.cast::<u8>(), CTOR_BYTE, CTOR_SIZE) };
        CONSTRUCTED.fetch_add(1, Relaxed);
    }

    #[test]
    fn constructor_runs_on_new_slabs_and_objects_stay_constructed() -> Result {
        for args in [plain(), debug()] {
            CONSTRUCTED.store(0, Relaxed);
            // SAFETY: `ctor` writes only its object and lives as long as this module, which
            // destroys the cache before it goes.
            let c =
                unsafe { RawCache::with_ctor(c"api_ctor", CTOR_SIZE, args, Some(ctor as Ctor)) }?;
            let mut objs = KVec::new();
            for _round in 0..2 {
                for _ in 0..300 {
                    let p = c.alloc(Gfp::KERNEL).ok_or(ENOMEM)?;
                    // SAFETY: `p` is a live object of `c` (`CTOR_SIZE` bytes), initialised by the
                    // constructor, not written while the slice lives.
                    let bytes = unsafe { core::slice::from_raw_parts(p.as_ptr(), CTOR_SIZE) };
                    // Constructed on the first round; still so when it comes back (the
                    // freelist link is not in the object, a debug cache does not poison it).
                    assert!(bytes.iter().all(|&b| b == CTOR_BYTE));
                    objs.push(p, GFP_KERNEL)?;
                }
                while let Some(p) = objs.pop() {
                    // SAFETY: `p` was allocated from `c` above and popped from `objs`, so it is
                    // freed once; it goes back in its constructed state.
                    unsafe { c.free(p) };
                }
            }
            // Run once per object of every slab carved, and never again on reuse.
            let n = CONSTRUCTED.load(Relaxed);
            assert!(n >= 300);
            c.shrink()?;
            destroy(c)?;
        }
        Ok(())
    }

    #[test]
    fn typed_objects_free_themselves() -> Result {
        #[derive(Clone, Copy, PartialEq, Eq)]
        struct Thing {
            a: u64,
            b: [u32; 5],
        }
        let cache = Cache::<Thing>::new(c"api_typed", true)?;
        let mut objs = KVec::new();
        for i in 0..100u64 {
            let o = cache.alloc(
                Thing {
                    a: i,
                    b: [i as u32; 5],
                },
                Gfp::KERNEL,
            )?;
            objs.push(o, GFP_KERNEL)?;
        }
        for (i, o) in objs.iter_mut().enumerate() {
            assert!(o.a == i as u64 && o.b == [i as u32; 5]);
            o.a += 1;
        }
        drop(objs);
        // Every object went back: shrinking and destroying (on drop) find nothing in use.
        cache.raw().shrink()?;
        Ok(())
    }

    /// Allocations from interrupt context: one timer fires `left` times, allocating and
    /// freeing with `Gfp::ATOMIC` each time (single and bulk), then wakes the test. Meanwhile
    /// the test allocates and frees on the same cache without pause, so that interrupts land
    /// inside its fast-path sections and find the CPU's local lock taken: rslab must then serve
    /// them from the node lists, and lose nothing (the cache is shrunk and destroyed empty).
    macro_rules! irq_alloc_test {
        ($name:ident, $mode:ty) => {
            #[pin_data]
            struct $name {
                #[pin]
                timer: HrTimer<Self>,
                #[pin]
                done: Completion,
                cache: RawCache,
                left: Atomic<u32>,
                ok: Atomic<u32>,
            }

            impl HrTimerCallback for $name {
                type Pointer<'a> = Arc<Self>;

                fn run(
                    this: ArcBorrow<'_, Self>,
                    mut ctx: HrTimerCallbackContext<'_, Self>,
                ) -> HrTimerRestart {
                    let mut objs = [null_mut::<u8>(); 8];
                    if let Some(p) = this.cache.alloc(Gfp::ATOMIC) {
                        // SAFETY: `p` was allocated from `this.cache` just now and is freed once.
                        unsafe { this.cache.free(p) };
                        if this.cache.alloc_bulk(Gfp::NOWAIT, &mut objs).is_ok() {
                            // SAFETY: the bulk allocation just filled every entry with a distinct
                            // object of `this.cache`; each is freed once.
                            unsafe { this.cache.free_bulk(&mut objs) };
                            this.ok.fetch_add(1, Relaxed);
                        }
                    }
                    if this.left.fetch_sub(1, Relaxed) > 1 {
                        ctx.forward_now(Delta::from_micros(50));
                        HrTimerRestart::Restart
                    } else {
                        this.done.complete_all();
                        HrTimerRestart::NoRestart
                    }
                }
            }

            impl_has_hr_timer! {
                impl HasHrTimer<Self> for $name {
                    mode: $mode, field: self.timer
                }
            }

            impl $name {
                fn run_test(name: &CStr, times: u32) -> Result {
                    let t = Arc::pin_init(
                        try_pin_init!(Self {
                            timer <- HrTimer::new(),
                            done <- Completion::new(),
                            cache: RawCache::new(name, 64, plain())?,
                            left: Atomic::new(times),
                            ok: Atomic::new(0),
                        }? Error),
                        GFP_KERNEL,
                    )?;
                    let handle = t.clone().start(Delta::from_micros(50));
                    let mut objs = [null_mut::<u8>(); 4];
                    while t.left.load(Relaxed) > 0 {
                        if let Some(p) = t.cache.alloc(Gfp::KERNEL) {
                            // SAFETY: `p` was allocated from `t.cache` just now and is freed
                            // once.
                            unsafe { t.cache.free(p) };
                        }
                        if t.cache.alloc_bulk(Gfp::KERNEL, &mut objs).is_ok() {
                            // SAFETY: the bulk allocation just filled every entry with a
                            // distinct object of `t.cache`; each is freed once.
                            unsafe { t.cache.free_bulk(&mut objs) };
                        }
                    }
                    t.done.wait_for_completion();
                    drop(handle);
                    assert_eq!(t.ok.load(Relaxed), times);
                    Ok(())
                }
            }
        };
    }

    // A plain hrtimer expires in hard-interrupt context on a kernel without PREEMPT_RT, as a
    // device's interrupt handler runs (both are threaded on PREEMPT_RT, and lockdep checks
    // them as such). A `_HARD` timer stays in hard-interrupt context even on PREEMPT_RT, where
    // sleeping spinlocks (rslab's node locks, the page allocator's zone lock) may not be taken:
    // it must not allocate at all, from rslab or from SLUB.
    irq_alloc_test!(HardIrqAlloc, RelativeMode<Monotonic>);
    irq_alloc_test!(SoftIrqAlloc, RelativeSoftMode<Monotonic>);

    #[test]
    fn alloc_and_free_from_hard_and_soft_interrupts() -> Result {
        HardIrqAlloc::run_test(c"api_hardirq", 200)?;
        SoftIrqAlloc::run_test(c"api_softirq", 200)
    }

    /// An allocator that fails from its `left`-th allocation on.
    struct FailAfter<'a> {
        cache: &'a RawCache,
        left: Atomic<u32>,
    }

    impl Alloc for FailAfter<'_> {
        fn alloc(&self) -> Option<NonNull<u8>> {
            let left = self.left.load(Relaxed);
            if left == 0 {
                return None;
            }
            self.left.store(left - 1, Relaxed);
            self.cache.alloc(Gfp::KERNEL)
        }
        unsafe fn free(&self, p: NonNull<u8>) {
            // SAFETY: `p` came from `self.alloc()`, that is from `self.cache`, and was not
            // freed since (`Alloc::free`'s contract).
            unsafe { self.cache.free(p) }
        }
        fn name(&self) -> &'static str {
            "fail_after"
        }
    }

    #[test]
    fn bench_failures_leave_nothing_allocated() -> Result {
        // A batch round whose 11th allocation fails.
        let c = RawCache::new(c"api_bfail", 64, plain())?;
        let a = FailAfter {
            cache: &c,
            left: Atomic::new(10),
        };
        let mut held = KVec::with_capacity(64, GFP_KERNEL)?;
        assert!(bench::round_batch(&a, &mut held, 64, 4096).is_none());
        assert!(held.is_empty());
        // Nothing left allocated: the cache can be destroyed.
        destroy(c)?;
        // A cross round whose allocating phase fails halfway.
        let c = RawCache::new(c"api_bfail", 64, plain())?;
        let wq = Wq::new(c"rslab_api_kunit")?;
        let a = FailAfter {
            cache: &c,
            left: Atomic::new(20),
        };
        let store = KBox::pin_init(
            kernel::new_spinlock!(KVec::with_capacity(64, GFP_KERNEL)?, "rslab_kunit_store"),
            GFP_KERNEL,
        )?;
        {
            let _cpus = CpusReadGuard::lock();
            let cpu = topology::this_cpu();
            let other = (0..topology::nr_cpu_ids())
                .find(|&x| x != cpu && topology::cpu_online(x))
                .unwrap_or(cpu);
            assert!(bench::cross_round(&a, 64, [cpu, other], &store, &wq).is_err());
        }
        assert!(store.lock().is_empty());
        destroy(c)
    }
}
