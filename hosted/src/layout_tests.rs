// SPDX-License-Identifier: GPL-2.0

//! Tests of the slab geometry over every size and alignment a cache accepts.

use crate::layout::*;

const PAGE: usize = 4096;

#[test]
fn rejects_bad_requests() {
    assert_eq!(
        Layout::new(0, 8, SlotKind::Plain, PAGE),
        Err(LayoutError::BadSize)
    );
    assert_eq!(
        Layout::new(MAX_OBJECT_SIZE + 1, 8, SlotKind::Plain, PAGE),
        Err(LayoutError::BadSize)
    );
    assert_eq!(
        Layout::new(64, 3, SlotKind::Plain, PAGE),
        Err(LayoutError::BadAlign)
    );
    assert_eq!(
        Layout::new(64, 0, SlotKind::Plain, PAGE),
        Err(LayoutError::BadAlign)
    );
    assert_eq!(
        Layout::new(64, 2 * PAGE, SlotKind::Plain, PAGE),
        Err(LayoutError::BadAlign)
    );
}

#[test]
fn every_size_and_alignment_is_sound() {
    for size in (1..=MAX_OBJECT_SIZE)
        .step_by(7)
        .chain([8, 16, 4096, 8192, MAX_OBJECT_SIZE])
    {
        for shift in 0..=12 {
            let align = 1usize << shift;
            let l = Layout::new(size, align, SlotKind::Plain, PAGE).unwrap();
            assert!(l.objects >= 1, "{size}/{align}");
            assert!(l.stride >= size.max(8) && l.stride % l.align == 0);
            assert!(l.order <= MAX_ORDER);
            // Objects fit from the slab's first byte, and waste is what is left.
            assert!(l.objects <= MAX_OBJECTS);
            assert_eq!(l.offset_of(0), 0);
            assert_eq!(l.objects * l.stride + l.waste, l.slab_bytes());
            for i in [0, l.objects - 1] {
                let off = l.offset_of(i);
                assert_eq!(off % align, 0, "object {i} of {size}/{align} misaligned");
                assert!(off + size <= l.slab_bytes());
                assert_eq!(l.index_of(off), Some(i));
            }
        }
    }
}

#[test]
fn waste_is_bounded_like_slub() {
    // Within 1/4 of the slab for every size up to a page with natural alignment.
    for size in 8..=PAGE {
        let l = Layout::new(size, 8, SlotKind::Plain, PAGE).unwrap();
        assert!(l.waste * 4 <= l.slab_bytes(), "size {size}: {l:?}");
    }
    // The header is not in the slab: power-of-two objects fill it whole, as in SLUB (256
    // 16-byte objects a page, not 252 beside a 64-byte header; 8 of 4096 bytes an order-3 slab).
    for size in [8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192] {
        let l = Layout::new(size, 8, SlotKind::Plain, PAGE).unwrap();
        assert_eq!((l.waste, l.objects * size), (0, l.slab_bytes()), "size {size}");
    }
    // Small objects stay in order-0 slabs.
    assert_eq!(Layout::new(16, 8, SlotKind::Plain, PAGE).unwrap().order, 0);
    assert_eq!(Layout::new(64, 8, SlotKind::Plain, PAGE).unwrap().objects, 64);
}

#[test]
fn no_slab_holds_more_objects_than_its_header_counts() {
    // 64 KiB pages (arm64, powerpc) and 8-byte objects: 8192 a page; no order goes past
    // MAX_OBJECTS, whose count is 16 bits in the header.
    for page in [4096, 16384, 65536] {
        for size in [8, 16, 24] {
            let l = Layout::new(size, 8, SlotKind::Plain, page).unwrap();
            assert!(l.objects <= MAX_OBJECTS, "{size} on {page}: {l:?}");
        }
    }
}

#[test]
fn index_of_rejects_interior_and_out_of_range_offsets() {
    let l = Layout::new(100, 8, SlotKind::Plain, PAGE).unwrap();
    assert_eq!(l.index_of(0), Some(0));
    assert_eq!(l.index_of(1), None);
    assert_eq!(l.index_of(l.stride - 8), None);
    assert_eq!(l.index_of(l.offset_of(l.objects)), None);
    assert_eq!(l.index_of(l.offset_of(1)), Some(1));
}

#[test]
fn debug_slots_hold_link_state_and_red_zones() {
    for size in [1, 8, 24, 100, 4096, MAX_OBJECT_SIZE] {
        for align in [8, 64, 4096] {
            let l = Layout::new(size, align, SlotKind::Debug, PAGE).unwrap();
            assert!(l.obj_offset >= DEBUG_LEAD && l.obj_offset % align == 0);
            assert!(l.obj_offset + size + REDZONE <= l.stride);
            let obj = l.offset_of(l.objects - 1) + l.obj_offset;
            assert_eq!(obj % align, 0);
            assert_eq!(l.object_index(obj), Some(l.objects - 1));
            assert_eq!(l.object_index(l.offset_of(0)), None);
        }
    }
    let plain = Layout::new(64, 8, SlotKind::Plain, PAGE).unwrap();
    assert_eq!(plain.obj_offset, 0);
    assert_eq!(plain.object_index(plain.offset_of(2)), Some(2));
}

#[test]
fn constructor_slots_keep_the_link_out_of_the_object() {
    for size in [1, 8, 24, 100, 255, 256, 4096, MAX_OBJECT_SIZE] {
        for align in [8, 16, 64, 4096] {
            let l = Layout::new(size, align, SlotKind::LinkOutside, PAGE).unwrap();
            // The link is the slot's first word; the object starts after it, aligned, and
            // ends within the slot.
            assert!(l.obj_offset >= LINK_BYTES && l.obj_offset % align == 0);
            assert!(l.obj_offset + size <= l.stride);
            for i in [0, l.objects - 1] {
                let obj = l.offset_of(i) + l.obj_offset;
                assert_eq!(obj % align, 0);
                assert_eq!(l.object_index(obj), Some(i));
                assert!(obj + size <= l.slab_bytes());
            }
            assert_eq!(l.object_index(l.offset_of(0)), None);
        }
    }
}
