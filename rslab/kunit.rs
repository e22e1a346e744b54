// SPDX-License-Identifier: GPL-2.0

//! KUnit suite: what needs a kernel to test (real slabs, NUMA nodes, per-CPU work, the debug
//! checks). It runs when the module is loaded, before its init, so it builds its own metadata
//! caches and flusher instead of using the module's.

#[kernel::macros::kunit_tests(rslab_kunit)]
mod tests {
    use crate::{
        cache::{Cache, Meta},
        cmd::Name,
        pages::Gfp,
        registry::{validate, CpuOp, Flusher},
        topology,
    };
    use core::{ptr::NonNull, sync::atomic::Ordering::Relaxed};
    use kernel::prelude::*;

    fn meta() -> Result<Meta> {
        Meta::new(
            c"rslab_kunit_cache",
            c"rslab_kunit_node",
            c"rslab_kunit_slab",
        )
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
                let c = Cache::new(&meta, name("k")?, size, align, false)?;
                let n = 3 * c.layout.objects + 5;
                let v = alloc_many(&c, n)?;
                for (i, p) in v.iter().enumerate() {
                    assert_eq!(p.as_ptr() as usize % align, 0);
                    // SAFETY: a fresh object of `size` bytes.
                    unsafe { core::ptr::write_bytes(p.as_ptr(), i as u8, size) };
                }
                for (i, p) in v.iter().enumerate() {
                    // SAFETY: as above; nobody else wrote it.
                    let s = unsafe { core::slice::from_raw_parts(p.as_ptr(), size) };
                    assert!(s.iter().all(|&b| b == i as u8));
                }
                validate(&f, &c)?;
                free_all(&c, v);
                validate(&f, &c)?;
                f.run(&c, CpuOp::Flush)?;
                assert_eq!(c.inuse(), 0);
                assert!(c.shrink_nodes() > 0);
                assert_eq!(
                    c.stats.slabs_allocated.load(Relaxed),
                    c.stats.slabs_freed.load(Relaxed)
                );
            }
        }
        Ok(())
    }

    #[test]
    fn alloc_node_places_objects_on_each_node() -> Result {
        let meta = meta()?;
        let c = Cache::new(&meta, name("node")?, 128, 8, false)?;
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
    fn idle_cache_has_nothing_in_use_after_flush() -> Result {
        let meta = meta()?;
        let f = flusher()?;
        let c = Cache::new(&meta, name("busy")?, 64, 8, false)?;
        let v = alloc_many(&c, 1000)?;
        f.run(&c, CpuOp::Flush)?;
        assert_eq!(c.inuse(), 1000);
        free_all(&c, v);
        f.run(&c, CpuOp::Flush)?;
        assert_eq!(c.inuse(), 0);
        assert_eq!(c.live(), 0);
        Ok(())
    }

    #[test]
    fn inline_cpu_number_matches_the_kernel() {
        for _ in 0..1000 {
            let irq = crate::irq::IrqOff::new();
            assert_eq!(irq.cpu(), topology::this_cpu());
        }
    }

    #[test]
    fn debug_catches_double_free_and_keeps_working() -> Result {
        let meta = meta()?;
        let f = flusher()?;
        let c = Cache::new(&meta, name("dbl")?, 48, 8, true)?;
        let p = c.alloc(Gfp::KERNEL)?;
        // SAFETY: debug cache: a double free is detected, not undefined.
        unsafe {
            c.free(p);
            c.free(p);
        }
        assert_eq!(c.stats.debug_errors.load(Relaxed), 1);
        let v = alloc_many(&c, 100)?;
        free_all(&c, v);
        assert_eq!(c.stats.debug_errors.load(Relaxed), 1);
        validate(&f, &c)
    }

    #[test]
    fn debug_catches_red_zone_overwrite() -> Result {
        let meta = meta()?;
        let f = flusher()?;
        let c = Cache::new(&meta, name("rz")?, 40, 8, true)?;
        let p = c.alloc(Gfp::KERNEL)?;
        // SAFETY: one byte past the object is the right red zone, inside the slot.
        unsafe { p.as_ptr().add(40).write(0) };
        // SAFETY: debug cache.
        unsafe { c.free(p) };
        assert_eq!(c.stats.debug_errors.load(Relaxed), 1);
        assert_eq!(c.stats.quarantined.load(Relaxed), 1);
        let q = c.alloc(Gfp::KERNEL)?;
        assert!(q != p);
        // SAFETY: from `c`.
        unsafe { q.as_ptr().sub(1).write(0) };
        // SAFETY: debug cache.
        unsafe { c.free(q) };
        assert_eq!(c.stats.quarantined.load(Relaxed), 2);
        validate(&f, &c)
    }

    #[test]
    fn debug_catches_write_after_free() -> Result {
        let meta = meta()?;
        let f = flusher()?;
        let c = Cache::new(&meta, name("uaf")?, 64, 8, true)?;
        let nid = topology::mem_node(topology::cpu_to_node(topology::this_cpu()));
        let p = c.alloc_node(Some(nid), Gfp::KERNEL)?;
        // SAFETY: debug cache.
        unsafe { c.free(p) };
        // SAFETY: the freed object stays mapped (its slab is kept); writing it is the bug the
        // debug cache must catch.
        unsafe { p.as_ptr().add(10).write(0x42) };
        // The freelist is LIFO: the next allocation on that node meets the damaged object.
        let q = c.alloc_node(Some(nid), Gfp::KERNEL)?;
        assert!(q != p);
        assert_eq!(c.stats.debug_errors.load(Relaxed), 1);
        assert_eq!(c.stats.quarantined.load(Relaxed), 1);
        // SAFETY: from `c`.
        unsafe { c.free(q) };
        validate(&f, &c)
    }

    #[test]
    fn debug_refuses_foreign_pointers() -> Result {
        let meta = meta()?;
        let f = flusher()?;
        let c = Cache::new(&meta, name("foreign")?, 64, 8, true)?;
        let other = Cache::new(&meta, name("other")?, 64, 8, true)?;
        let p = c.alloc(Gfp::KERNEL)?;
        let o = other.alloc(Gfp::KERNEL)?;
        let k = KBox::new([0u8; 64], GFP_KERNEL)?;
        let kp = NonNull::from(&*k).cast::<u8>();
        // SAFETY: debug caches check these and refuse them.
        unsafe {
            c.free(o);
            c.free(kp);
            c.free(NonNull::new_unchecked(p.as_ptr().add(8)));
        }
        assert_eq!(c.stats.debug_errors.load(Relaxed), 3);
        assert_eq!(c.stats.quarantined.load(Relaxed), 0);
        // SAFETY: genuine objects, freed once.
        unsafe {
            c.free(p);
            other.free(o);
        }
        validate(&f, &c)?;
        validate(&f, &other)
    }
}
