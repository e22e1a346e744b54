// SPDX-License-Identifier: GPL-2.0

//! Slab geometry: object stride, slab order and objects per slab, chosen the way SLUB's
//! `calculate_order()` does (smallest order whose waste is within a bound, relaxing the bound
//! step by step).
//!
//! A slab is a naturally aligned block of `PAGE_SIZE << order` bytes from the page allocator.
//! The slab of any object is found in O(1) by masking the object's address with the slab size.
//! It holds objects only (its header is in its first `struct page`, see `slab.rs`): slots start
//! at its first byte, one every `stride` bytes; `stride` is a multiple of the alignment, so no
//! object straddles what its alignment forbids.
//!
//! A slot's first word is the freelist link while the slot is free. Without debugging the object
//! is the slot (`obj_offset == 0`). With debugging a slot is laid out as
//!
//! ```text
//! | link (8) | state (8) | left red zone (>= 8) | object (size) | right red zone (>= 8) |
//! ^ slot                                        ^ slot + obj_offset
//! ```
//!
//! so the link never overlaps the object, which is poisoned whole while free.
//!
//! A cache with a constructor keeps its objects in their constructed state while they are free,
//! so the link cannot live in the object either: its slots are `| link (8) | object (size) |`,
//! with the object at the first multiple of the alignment after the link (SLUB, likewise, moves
//! its free pointer out of the object of a cache with a constructor).
//!
//! This file has no `kernel::` imports: it is also compiled on the host and tested there.

/// Smallest object size a cache accepts.
pub(crate) const MIN_OBJECT_SIZE: usize = 8;
/// Largest object size a cache accepts.
pub(crate) const MAX_OBJECT_SIZE: usize = 16384;
/// Highest slab order used (`PAGE_ALLOC_COSTLY_ORDER`, as SLUB).
pub(crate) const MAX_ORDER: u32 = 3;
/// Objects a slab should hold at least, where the order allows it (SLUB's
/// `4 * (fls(nr_cpus) + 1)` for the 4-CPU test guest: fewer, larger slabs per batch).
pub(crate) const MIN_OBJECTS: usize = 16;
/// Bytes of the freelist link.
pub(crate) const LINK_BYTES: usize = 8;
/// Debug slots: where the state word is (after the link).
pub(crate) const DEBUG_STATE_OFFSET: usize = LINK_BYTES;
/// Debug slots: where the left red zone starts (after the state word); it runs up to the object.
pub(crate) const DEBUG_REDZONE_OFFSET: usize = DEBUG_STATE_OFFSET + 8;
/// Debug slots: bytes before the object for the link, the state word and the left red zone.
pub(crate) const DEBUG_LEAD: usize = DEBUG_REDZONE_OFFSET + 8;
/// Debug slots: least bytes of right red zone after the object.
pub(crate) const REDZONE: usize = 8;
/// Most objects a slab holds (its header counts them in 16 bits).
pub(crate) const MAX_OBJECTS: usize = u16::MAX as usize;

/// Why a geometry request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LayoutError {
    /// Size is 0, below [`MIN_OBJECT_SIZE`] after rounding, or above [`MAX_OBJECT_SIZE`].
    BadSize,
    /// Alignment is not a power of two, or is larger than a page.
    BadAlign,
}

/// What a slot holds besides the object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SlotKind {
    /// The object alone; its first word is the freelist link while it is free.
    Plain,
    /// The link before the object: the object is never written by the allocator (constructor).
    LinkOutside,
    /// The link, the state word and red zones around the object (debugging).
    Debug,
}

/// The geometry of every slab of one cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Layout {
    /// Bytes the user asked for.
    pub(crate) object_size: usize,
    /// Alignment of each object's first byte.
    pub(crate) align: usize,
    /// Distance between two slots.
    pub(crate) stride: usize,
    /// Offset of the user's object inside its slot (0 for [`SlotKind::Plain`]).
    pub(crate) obj_offset: usize,
    /// Slab size is `page_size << order`.
    pub(crate) order: u32,
    /// Objects per slab: at least 1, at most [`MAX_OBJECTS`].
    pub(crate) objects: usize,
    /// Bytes at a slab's end that hold no object.
    pub(crate) waste: usize,
    /// The page size the layout was computed for.
    pub(crate) page_size: usize,
}

const fn round_up(x: usize, align: usize) -> usize {
    (x + align - 1) & !(align - 1)
}

impl Layout {
    /// Computes the geometry for objects of `size` bytes aligned to `align`, in slabs of pages of
    /// `page_size` bytes. Each slot also holds what `kind` says (none of which counts as waste).
    pub(crate) fn new(
        size: usize,
        align: usize,
        kind: SlotKind,
        page_size: usize,
    ) -> Result<Self, LayoutError> {
        if size == 0 || size > MAX_OBJECT_SIZE {
            return Err(LayoutError::BadSize);
        }
        if !align.is_power_of_two() || align > page_size {
            return Err(LayoutError::BadAlign);
        }
        // A free object holds the freelist link, so it is at least pointer-sized.
        let align = align.max(MIN_OBJECT_SIZE);
        let (obj_offset, stride) = match kind {
            SlotKind::Debug => {
                let lead = round_up(DEBUG_LEAD, align);
                (lead, round_up(lead + size + REDZONE, align))
            }
            SlotKind::LinkOutside => {
                let lead = round_up(LINK_BYTES, align);
                (lead, round_up(lead + size, align))
            }
            SlotKind::Plain => (0, round_up(size.max(MIN_OBJECT_SIZE), align)),
        };
        let fits = |order: u32| -> Option<(usize, usize)> {
            let slab = page_size << order;
            // `checked_div`: no division-by-zero panic path for objtool to trip over (7.3's
            // objtool does not know `panic_const_div_by_zero` never returns).
            let objects = slab.checked_div(stride)?;
            (objects > 0 && objects <= MAX_OBJECTS).then(|| (objects, slab - objects * stride))
        };
        // SLUB's loop: accept the smallest order within 1/16 waste holding MIN_OBJECTS, then
        // relax the waste bound to 1/8 and 1/4; finally take whatever holds one object.
        let acceptable = |fraction: usize, order: u32, objects: usize, waste: usize| {
            let enough = objects >= MIN_OBJECTS || order == MAX_ORDER;
            fraction == 0 || (enough && waste * fraction <= page_size << order)
        };
        for fraction in [16, 8, 4, 0] {
            for order in 0..=MAX_ORDER {
                if let Some((objects, waste)) = fits(order) {
                    if acceptable(fraction, order, objects, waste) {
                        return Ok(Self {
                            object_size: size,
                            align,
                            stride,
                            obj_offset,
                            order,
                            objects,
                            waste,
                            page_size,
                        });
                    }
                }
            }
        }
        Err(LayoutError::BadSize)
    }

    /// Bytes in one slab.
    pub(crate) const fn slab_bytes(&self) -> usize {
        self.page_size << self.order
    }

    /// Offset of slot `index` from the slab's start.
    pub(crate) const fn offset_of(&self, index: usize) -> usize {
        index * self.stride
    }

    /// The slot index of a user object at `offset` from the slab's start, if `offset` is exactly
    /// where a user object of this slab starts.
    pub(crate) const fn object_index(&self, offset: usize) -> Option<usize> {
        if offset < self.obj_offset {
            return None;
        }
        self.index_of(offset - self.obj_offset)
    }

    /// The slot index at `offset` from the slab's start, if `offset` is exactly the start of a
    /// slot of this slab.
    pub(crate) const fn index_of(&self, offset: usize) -> Option<usize> {
        // `stride` is never 0 (it is at least MIN_OBJECT_SIZE); checked operations say so
        // without a panic path.
        match (
            offset.checked_rem(self.stride),
            offset.checked_div(self.stride),
        ) {
            (Some(0), Some(i)) if i < self.objects => Some(i),
            _ => None,
        }
    }
}
