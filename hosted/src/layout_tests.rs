// SPDX-License-Identifier: GPL-2.0

//! Tests of the slab geometry over every size and alignment a cache accepts.

use crate::layout::*;

const PAGE: usize = 4096;
const HEADER: usize = 64;

#[test]
fn rejects_bad_requests() {
    assert_eq!(
        Layout::new(0, 8, SlotKind::Plain, HEADER, PAGE),
        Err(LayoutError::BadSize)
    );
    assert_eq!(
        Layout::new(MAX_OBJECT_SIZE + 1, 8, SlotKind::Plain, HEADER, PAGE),
        Err(LayoutError::BadSize)
    );
    assert_eq!(
        Layout::new(64, 3, SlotKind::Plain, HEADER, PAGE),
        Err(LayoutError::BadAlign)
    );
    assert_eq!(
        Layout::new(64, 0, SlotKind::Plain, HEADER, PAGE),
        Err(LayoutError::BadAlign)
    );
    assert_eq!(
        Layout::new(64, 2 * PAGE, SlotKind::Plain, HEADER, PAGE),
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
            let l = Layout::new(size, align, SlotKind::Plain, HEADER, PAGE).unwrap();
            assert!(l.objects >= 1, "{size}/{align}");
            assert!(l.stride >= size.max(8) && l.stride % l.align == 0);
            assert!(l.order <= MAX_ORDER);
            // Objects and header fit, and waste is what is left.
            assert_eq!(l.off_slab, size >= OFF_SLAB_MIN);
            assert!(l.off_slab || l.first_offset >= HEADER);
            assert_eq!(
                l.first_offset + l.objects * l.stride + l.waste,
                l.slab_bytes()
            );
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
        let l = Layout::new(size, 8, SlotKind::Plain, HEADER, PAGE).unwrap();
        assert!(l.waste * 4 <= l.slab_bytes(), "size {size}: {l:?}");
    }
    // Large objects lose nothing to the header: 8 objects of 4096 bytes per order-3 slab.
    let big = Layout::new(4096, 8, SlotKind::Plain, HEADER, PAGE).unwrap();
    assert!(big.off_slab && big.first_offset == 0);
    assert_eq!(big.objects << 12, big.slab_bytes());
    // Debug slots keep the header in the slab.
    assert!(!Layout::new(4096, 8, SlotKind::Debug, HEADER, PAGE).unwrap().off_slab);
    // Small objects stay in order-0 slabs.
    assert_eq!(Layout::new(64, 8, SlotKind::Plain, HEADER, PAGE).unwrap().order, 0);
    assert_eq!(Layout::new(64, 8, SlotKind::Plain, HEADER, PAGE).unwrap().objects, 63);
}

#[test]
fn index_of_rejects_interior_and_out_of_range_offsets() {
    let l = Layout::new(100, 8, SlotKind::Plain, HEADER, PAGE).unwrap();
    assert_eq!(l.index_of(0), None);
    assert_eq!(l.index_of(l.first_offset + 1), None);
    assert_eq!(l.index_of(l.offset_of(l.objects)), None);
    assert_eq!(l.index_of(l.offset_of(1)), Some(1));
}

#[test]
fn debug_slots_hold_link_state_and_red_zones() {
    for size in [1, 8, 24, 100, 4096, MAX_OBJECT_SIZE] {
        for align in [8, 64, 4096] {
            let l = Layout::new(size, align, SlotKind::Debug, HEADER, PAGE).unwrap();
            assert!(l.obj_offset >= DEBUG_LEAD && l.obj_offset % align == 0);
            assert!(l.obj_offset + size + REDZONE <= l.stride);
            let obj = l.offset_of(l.objects - 1) + l.obj_offset;
            assert_eq!(obj % align, 0);
            assert_eq!(l.object_index(obj), Some(l.objects - 1));
            assert_eq!(l.object_index(l.offset_of(0)), None);
        }
    }
    let plain = Layout::new(64, 8, SlotKind::Plain, HEADER, PAGE).unwrap();
    assert_eq!(plain.obj_offset, 0);
    assert_eq!(plain.object_index(plain.offset_of(2)), Some(2));
}

#[test]
fn constructor_slots_keep_the_link_out_of_the_object() {
    for size in [1, 8, 24, 100, 255, 256, 4096, MAX_OBJECT_SIZE] {
        for align in [8, 16, 64, 4096] {
            let l = Layout::new(size, align, SlotKind::LinkOutside, HEADER, PAGE).unwrap();
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
