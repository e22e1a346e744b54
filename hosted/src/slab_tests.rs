// SPDX-License-Identifier: GPL-2.0

//! Tests of the slab freelist and lists, on slabs carved from host memory. Each host slab keeps
//! its header beside it, where the kernel keeps it in the slab's first `struct page`.

use crate::layout::{Layout, SlotKind};
use crate::slab::*;
use std::alloc::{alloc_zeroed, dealloc, Layout as AllocLayout};
use std::mem::MaybeUninit;

pub(crate) struct HostSlab {
    pub(crate) base: *mut u8,
    /// The header's storage: the stand-in for the slab's first `struct page`.
    pub(crate) header: *mut SlabHeader,
    al: AllocLayout,
}

impl HostSlab {
    pub(crate) fn new(l: &Layout) -> Self {
        let al = AllocLayout::from_size_align(l.slab_bytes(), l.slab_bytes()).unwrap();
        // SAFETY: non-zero size.
        let base = unsafe { alloc_zeroed(al) };
        assert!(!base.is_null());
        let header = Box::into_raw(Box::new(MaybeUninit::<SlabHeader>::zeroed())).cast();
        Self { base, header, al }
    }

    /// Formats the slab for cache `id`.
    fn init(&self, l: &Layout, id: u64) -> *mut SlabHeader {
        // SAFETY: `base` is a fresh slab of `l`, aligned to its size; `header` is ours.
        unsafe { init_slab(self.base, self.header, l, id) }
    }

    fn base(&self) -> usize {
        self.base as usize
    }
}

impl Drop for HostSlab {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with `al`; the header came from `Box::into_raw`.
        unsafe {
            dealloc(self.base, self.al);
            drop(Box::from_raw(self.header.cast::<MaybeUninit<SlabHeader>>()));
        }
    }
}

/// The header of the slab of `obj` among `slabs`: what the kernel's `Cache::header_of` does
/// through the `struct page` of `slab_base(obj)`.
fn header_of(slabs: &[HostSlab], obj: *const u8, l: &Layout) -> *mut SlabHeader {
    let base = slab_base(obj, l);
    slabs.iter().find(|m| m.base() == base).expect("object of no slab").header
}

fn layout(size: usize, align: usize) -> Layout {
    Layout::new(size, align, SlotKind::Plain, 4096).unwrap()
}

#[test]
fn header_describes_its_slab_and_leaves_the_page_word_null() {
    let l = layout(4096, 8);
    let mem = HostSlab::new(&l);
    // SAFETY: freshly formatted, exclusive.
    let slab = unsafe { &mut *mem.init(&l, 3) };
    assert_eq!(slab.magic, slab_magic(3));
    // The word over the `struct page`'s `mapping` is null.
    // SAFETY: a header is five words.
    assert_eq!(unsafe { mem.header.cast::<u8>().add(HEADER_NULL_WORD).cast::<usize>().read() }, 0);
    assert_eq!(std::mem::size_of::<SlabHeader>(), 40);
    let mut n = 0;
    // SAFETY: exclusive.
    while let Some(obj) = unsafe { slab.pop() } {
        assert_eq!((obj as usize - mem.base()) % 4096, 0);
        n += 1;
    }
    // The slab holds objects only: 8 of 4096 bytes in an order-3 slab.
    assert_eq!(n, 8);
    // SAFETY: exclusive.
    assert_eq!(unsafe { slab.count_free(mem.base(), &l) }, Ok(0));
    // SAFETY: on no list, unused from here on.
    unsafe { clear_header(mem.header) };
    // SAFETY: the header's storage lives as long as `mem`; reading a field.
    assert_eq!(unsafe { (*mem.header).magic }, 0);
}

#[test]
fn freelist_hands_out_every_object_once() {
    for (size, align) in [(8, 8), (24, 8), (100, 64), (4096, 4096), (3000, 8)] {
        let l = layout(size, align);
        let mem = HostSlab::new(&l);
        // SAFETY: freshly formatted, exclusive.
        let slab = unsafe { &mut *mem.init(&l, 7) };
        assert_eq!(slab.magic, slab_magic(7));
        let last = mem.base.wrapping_add(l.offset_of(l.objects - 1));
        assert_eq!(slab_base(last, &l), mem.base());
        let mut seen = std::collections::BTreeSet::new();
        // SAFETY: exclusive host slab.
        while let Some(obj) = unsafe { slab.pop() } {
            let off = obj as usize - mem.base as usize;
            assert_eq!(off % align, 0);
            assert!(l.index_of(off).is_some());
            assert!(seen.insert(off), "object handed out twice");
        }
        assert_eq!(seen.len(), l.objects);
        assert_eq!(slab.inuse as usize, l.objects);
        for off in &seen {
            // SAFETY: every object was allocated above.
            unsafe { slab.push(mem.base.add(*off)) };
        }
        assert_eq!(slab.inuse, 0);
        // SAFETY: exclusive host slab.
        assert_eq!(unsafe { slab.count_free(mem.base(), &l) }, Ok(l.objects));
    }
}

#[test]
fn count_free_detects_corruption() {
    let l = layout(64, 8);
    let mem = HostSlab::new(&l);
    // SAFETY: freshly formatted, exclusive.
    let slab = unsafe { &mut *mem.init(&l, 1) };
    // Point the second free object's link into the middle of an object.
    let second = mem.base.wrapping_add(l.offset_of(1));
    // SAFETY: the object lies inside the host slab.
    unsafe {
        second
            .cast::<*mut u8>()
            .write(mem.base.wrapping_add(l.offset_of(5) + 3))
    };
    // SAFETY: exclusive host slab.
    assert!(unsafe { slab.count_free(mem.base(), &l) }.is_err());
    // A loop is caught too.
    // SAFETY: as above.
    unsafe {
        second
            .cast::<*mut u8>()
            .write(mem.base.wrapping_add(l.offset_of(0)))
    };
    // SAFETY: exclusive host slab.
    assert!(unsafe { slab.count_free(mem.base(), &l) }.is_err());
}

#[test]
fn lists_link_and_unlink() {
    let l = layout(64, 8);
    let mems: Vec<_> = (0..5).map(|_| HostSlab::new(&l)).collect();
    let slabs: Vec<_> = mems.iter().map(|m| m.init(&l, 1)).collect();
    let mut partial = SlabList::new(ListKind::Partial);
    let mut free = SlabList::new(ListKind::Free);
    for &s in &slabs {
        // SAFETY: each slab is on no list.
        unsafe { partial.push_front(s) };
    }
    assert_eq!(partial.len(), 5);
    // Remove from the middle, the back and the front.
    for &s in &[slabs[2], slabs[0], slabs[4]] {
        // SAFETY: on `partial`.
        unsafe { partial.remove(s) };
        // SAFETY: now on no list.
        assert_eq!(unsafe { (*s).list }, ListKind::None);
        unsafe { free.push_front(s) };
    }
    let mut order = vec![];
    assert!(partial.for_each(10, |s| order.push(s)));
    assert_eq!(order, vec![slabs[3], slabs[1]]);
    assert_eq!(free.len(), 3);
    assert!(!free.for_each(2, |_| {}));
    while let Some(s) = free.pop_front() {
        // SAFETY: just popped.
        assert_eq!(unsafe { (*s).list }, ListKind::None);
    }
    assert_eq!(free.len(), 0);
}

/// Random alloc/free sequences on a set of slabs moved between partial/full/free lists as the
/// node code does, checked against a model (the set of objects handed out).
#[test]
fn random_sequences_match_a_model() {
    use crate::cmd_tests::Rng;
    use std::collections::BTreeSet;

    let l = layout(200, 8);
    let mems: Vec<_> = (0..4).map(|_| HostSlab::new(&l)).collect();
    let mut partial = SlabList::new(ListKind::Partial);
    let mut full = SlabList::new(ListKind::Full);
    let mut free = SlabList::new(ListKind::Free);
    for m in &mems {
        // SAFETY: fresh slabs, on no list.
        unsafe { free.push_front(m.init(&l, 9)) };
    }
    let place = |s: *mut SlabHeader, p: &mut SlabList, f: &mut SlabList, e: &mut SlabList| {
        // SAFETY: `s` is one of the test's slabs, on the list its tag names.
        unsafe {
            let want = match (*s).inuse as usize {
                0 => ListKind::Free,
                n if n == l.objects => ListKind::Full,
                _ => ListKind::Partial,
            };
            if (*s).list != want {
                match (*s).list {
                    ListKind::Partial => p.remove(s),
                    ListKind::Full => f.remove(s),
                    ListKind::Free => e.remove(s),
                    ListKind::None => {}
                }
                match want {
                    ListKind::Partial => p.push_front(s),
                    ListKind::Full => f.push_front(s),
                    _ => e.push_front(s),
                }
            }
        }
    };
    let mut rng = Rng(7);
    let mut model: BTreeSet<usize> = BTreeSet::new();
    let capacity = 4 * l.objects;
    for _ in 0..100_000 {
        if rng.next() % 2 == 0 {
            let Some(s) = partial.first().or_else(|| free.first()) else {
                assert_eq!(
                    model.len(),
                    capacity,
                    "no slab to allocate from, yet objects are free"
                );
                continue;
            };
            // SAFETY: `s` is on a list; exclusive host slabs.
            let obj = unsafe { (*s).pop() }.unwrap();
            assert!(model.insert(obj as usize), "object handed out twice");
            assert_eq!(header_of(&mems, obj, &l), s);
            place(s, &mut partial, &mut full, &mut free);
        } else if !model.is_empty() {
            let k = (rng.next() as usize) % model.len();
            let obj = *model.iter().nth(k).unwrap();
            model.remove(&obj);
            let s = header_of(&mems, obj as *const u8, &l);
            // SAFETY: `obj` is allocated from `s`.
            unsafe { (*s).push(obj as *mut u8) };
            place(s, &mut partial, &mut full, &mut free);
        }
        // Invariants: list lengths cover every slab; in-use counts add up to the model.
        assert_eq!(partial.len() + full.len() + free.len(), 4);
        let mut inuse = 0;
        for list in [&partial, &full, &free] {
            list.for_each(8, |s| {
                // SAFETY: on a list; exclusive host slabs.
                let h = unsafe { &*s };
                inuse += h.inuse as usize;
                let base = mems.iter().find(|m| m.header == s).unwrap().base();
                // SAFETY: as above.
                assert_eq!(
                    unsafe { h.count_free(base, &l) },
                    Ok(l.objects - h.inuse as usize)
                );
            });
        }
        assert_eq!(inuse, model.len());
    }
}

/// A list walked in pieces (as `validate` does, dropping its lock in between) visits every
/// slab once, in order, whatever the piece size.
#[test]
fn walking_in_pieces_visits_every_slab_once() {
    let l = layout(64, 8);
    let mems: Vec<_> = (0..23).map(|_| HostSlab::new(&l)).collect();
    let mut list = SlabList::new(ListKind::Partial);
    let mut slabs = vec![];
    for m in &mems {
        let s = m.init(&l, 1);
        // SAFETY: a fresh slab, then put on no other list.
        unsafe { list.push_front(s) };
        slabs.insert(0, s);
    }
    for piece in [1, 2, 5, 22, 23, 24, 100] {
        let mut seen = vec![];
        let mut start = list.first().unwrap_or(core::ptr::null_mut());
        let mut pieces = 0;
        loop {
            pieces += 1;
            // SAFETY: `start` is the head or where the last piece stopped; the list is unchanged.
            match unsafe { list.for_each_from(start, piece, |s| seen.push(s)) } {
                Some(next) => start = next,
                None => break,
            }
        }
        assert_eq!(seen, slabs, "piece {piece}");
        assert_eq!(pieces, slabs.len().div_ceil(piece), "piece {piece}");
    }
    // An empty list: one piece, nothing visited.
    let empty = SlabList::new(ListKind::Free);
    // SAFETY: null start: nothing to walk.
    assert!(unsafe { empty.for_each_from(core::ptr::null_mut(), 4, |_| panic!()) }.is_none());
}
