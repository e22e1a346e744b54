// SPDX-License-Identifier: GPL-2.0

//! One slab: its header, its freelist, and the intrusive lists slabs are kept on.
//!
//! A slab is a naturally aligned block of `PAGE_SIZE << order` bytes, so the slab of an object
//! starts at `addr & !(slab_bytes - 1)` ([`slab_base`]). Its [`SlabHeader`] is not in the slab:
//! the kernel side keeps it in the owner's fields of the slab's first `struct page`, as SLUB's
//! `struct slab` overlays `struct page`, so a slab holds objects only and its metadata costs no
//! memory of its own. (An in-slab header cost one 64-byte line per slab: 4 of 256 16-byte
//! objects of a page, 1.6 % more pages than SLUB; an off-slab one 56 bytes per slab.) Free
//! objects form a singly linked list through their first word. Slabs are linked into a node's
//! partial, full or free list through [`SlabHeader::link`].
//!
//! This file has no `kernel::` imports: it is also compiled on the host, where the tests carve
//! slabs out of ordinary aligned allocations and keep their headers beside them.

use crate::layout::Layout;
use core::ptr::{
    self,
    null_mut, //
};

/// Marks a live slab header; xor-ed with the owning cache's id (its low 32 bits).
pub(crate) const SLAB_MAGIC: u32 = 0x726c_7362; // "rlsb"

/// The magic of a live slab of the cache with id `cache_id`.
pub(crate) const fn slab_magic(cache_id: u64) -> u32 {
    SLAB_MAGIC ^ cache_id as u32
}

/// Which list of its node a slab is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum ListKind {
    /// Some objects allocated, some free.
    Partial = 0,
    /// Every object allocated (or cached in a per-CPU array).
    Full = 1,
    /// No object allocated.
    Free = 2,
    /// On no list (being created or destroyed).
    None = 3,
}

/// The links of an intrusive doubly linked list of slabs.
#[repr(C)]
pub(crate) struct Links {
    prev: *mut SlabHeader,
    next: *mut SlabHeader,
}

/// The header of a slab: five words, laid out over the owner's fields of a `struct page`
/// (`lru`, `mapping`, `__folio_index`, `private`; the kernel side checks the match at build
/// time). Two rules come with that place: the word over `mapping` stays null, and bit 0 of the
/// first word (`PageTail()`) stays clear, which it does as it holds a pointer to a header or
/// null.
///
/// # Invariants
///
/// While the slab is owned by a cache: `magic == slab_magic(cache_id)`; `mapping` is 0; `free`
/// is null or points to a free object of this slab; the freelist holds exactly
/// `objects - inuse` objects; `list` names the list `link` is on.
#[repr(C)]
pub(crate) struct SlabHeader {
    /// Over `lru`.
    pub(crate) link: Links,
    /// Over `mapping`: always 0.
    mapping: usize,
    /// Head of the freelist (over `__folio_index`).
    pub(crate) free: *mut u8,
    /// Objects handed out of this slab (to users or to per-CPU arrays); `private` from here.
    /// Sixteen bits hold any count: `Layout::new` makes no slab of more than
    /// `layout::MAX_OBJECTS`.
    pub(crate) inuse: u16,
    /// Which list `link` is on.
    pub(crate) list: ListKind,
    pub(crate) magic: u32,
}

/// Where the word a header keeps null sits (the `struct page`'s `mapping`).
pub(crate) const HEADER_NULL_WORD: usize = core::mem::offset_of!(SlabHeader, mapping);

/// The start of the slab containing `addr`, by masking with the slab size of `layout`.
pub(crate) fn slab_base(addr: *const u8, layout: &Layout) -> usize {
    (addr as usize) & !(layout.slab_bytes() - 1)
}

/// Formats the slab at `base` as a slab of `layout`, with every object on the freelist, in
/// address order, and its header at `header`.
///
/// # Safety
///
/// `base` must be valid for writes of `layout.slab_bytes()` bytes, aligned to that size, and
/// not in use by anything else; `header` must be valid for writing a `SlabHeader` and not in use.
pub(crate) unsafe fn init_slab(
    base: *mut u8,
    header: *mut SlabHeader,
    layout: &Layout,
    cache_id: u64,
) -> *mut SlabHeader {
    let mut next: *mut u8 = null_mut();
    for i in (0..layout.objects).rev() {
        // SAFETY: `offset_of(i)` is inside the slab for `i < objects` (layout invariant), and the
        // caller gave us the whole slab for writing; objects are at least pointer-sized and
        // pointer-aligned.
        unsafe {
            let obj = base.add(layout.offset_of(i));
            obj.cast::<*mut u8>().write(next);
            next = obj;
        }
    }
    // SAFETY: the caller gave us `header` for writing.
    // INVARIANT: the magic of `cache_id`, `mapping` 0, every object on the freelist and none in
    // use; on no list yet.
    unsafe {
        header.write(SlabHeader {
            link: Links {
                prev: null_mut(),
                next: null_mut(),
            },
            mapping: 0,
            free: next,
            inuse: 0,
            list: ListKind::None,
            magic: slab_magic(cache_id),
        })
    };
    header
}

/// Clears the header of a slab whose pages go back: every field the page allocator and page
/// walkers may look at is as the page allocator left it (zero; `mapping` already is).
///
/// # Safety
///
/// `header` must be the header of a slab on no list, which nobody else uses any more.
pub(crate) unsafe fn clear_header(header: *mut SlabHeader) {
    // SAFETY: ours alone (contract); a header is plain data, all zeroes a valid value of it
    // (`ListKind::Partial`, null pointers).
    unsafe { ptr::write_bytes(header, 0, 1) };
}

impl SlabHeader {
    /// Takes one object off the freelist.
    ///
    /// # Safety
    ///
    /// `self` must be a slab initialised by [`init_slab`] whose freelist has not been corrupted,
    /// and the caller must own it exclusively (node lock held).
    pub(crate) unsafe fn pop(&mut self) -> Option<*mut u8> {
        if self.free.is_null() {
            return None;
        }
        let obj = self.free;
        // SAFETY: `obj` is a free object of this slab (invariant); its first word is the link.
        self.free = unsafe { obj.cast::<*mut u8>().read() };
        self.inuse += 1;
        Some(obj)
    }

    /// Puts `obj` back on the freelist.
    ///
    /// # Safety
    ///
    /// `obj` must be an object of this slab that is currently allocated, and the caller must own
    /// the slab exclusively.
    pub(crate) unsafe fn push(&mut self, obj: *mut u8) {
        // SAFETY: `obj` is an allocated object of this slab, now given back, at least
        // pointer-sized and aligned.
        unsafe { obj.cast::<*mut u8>().write(self.free) };
        self.free = obj;
        self.inuse -= 1;
    }

    /// Counts the freelist of the slab at `base`, stopping after `objects` entries (a corrupted
    /// list may loop); checks that each entry is an object start of this slab.
    ///
    /// # Safety
    ///
    /// `self` must be the header of the slab of `layout` at `base`, owned exclusively by the
    /// caller.
    pub(crate) unsafe fn count_free(&self, base: usize, layout: &Layout) -> Result<usize, *mut u8> {
        let mut n = 0;
        let mut p = self.free;
        while !p.is_null() {
            let off = (p as usize).wrapping_sub(base);
            if off >= layout.slab_bytes() || layout.index_of(off).is_none() || n >= layout.objects {
                return Err(p);
            }
            n += 1;
            // SAFETY: `p` was just checked to be an object start inside this slab.
            p = unsafe { p.cast::<*mut u8>().read() };
        }
        Ok(n)
    }
}

/// An intrusive doubly linked list of slabs, with its length.
///
/// # Invariants
///
/// Every slab on the list has `list == self.kind`, and `len` is the number of slabs on it.
pub(crate) struct SlabList {
    head: *mut SlabHeader,
    len: usize,
    kind: ListKind,
}

impl SlabList {
    /// An empty list of `kind`.
    pub(crate) const fn new(kind: ListKind) -> Self {
        Self {
            head: null_mut(),
            len: 0,
            kind,
        }
    }

    /// Number of slabs on the list.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The first slab, if any.
    pub(crate) fn first(&self) -> Option<*mut SlabHeader> {
        (!self.head.is_null()).then_some(self.head)
    }

    /// Adds `slab` at the front.
    ///
    /// # Safety
    ///
    /// `slab` must be a valid slab on no list, owned by the caller's node.
    pub(crate) unsafe fn push_front(&mut self, slab: *mut SlabHeader) {
        // SAFETY: the caller owns `slab` and this list (node lock); `head` is valid or null.
        unsafe {
            (*slab).link = Links {
                prev: null_mut(),
                next: self.head,
            };
            (*slab).list = self.kind;
            if !self.head.is_null() {
                (*self.head).link.prev = slab;
            }
        }
        self.head = slab;
        self.len += 1;
    }

    /// Unlinks `slab`.
    ///
    /// # Safety
    ///
    /// `slab` must be on this list.
    pub(crate) unsafe fn remove(&mut self, slab: *mut SlabHeader) {
        // SAFETY: `slab` is on this list, so its neighbours are valid slabs of it or null.
        unsafe {
            let Links { prev, next } = ptr::replace(
                &mut (*slab).link,
                Links {
                    prev: null_mut(),
                    next: null_mut(),
                },
            );
            if prev.is_null() {
                self.head = next;
            } else {
                (*prev).link.next = next;
            }
            if !next.is_null() {
                (*next).link.prev = prev;
            }
            (*slab).list = ListKind::None;
        }
        self.len -= 1;
    }

    /// Removes and returns the first slab.
    pub(crate) fn pop_front(&mut self) -> Option<*mut SlabHeader> {
        let slab = self.first()?;
        // SAFETY: `slab` is this list's head, so it is on this list.
        unsafe { self.remove(slab) };
        Some(slab)
    }

    /// Calls `f` on every slab, front to back; stops after `limit` slabs (returns `false` then).
    /// (The host tests' walk; the kernel walks in pieces with [`Self::for_each_from`].)
    #[cfg(test)]
    pub(crate) fn for_each(&self, limit: usize, f: impl FnMut(*mut SlabHeader)) -> bool {
        // SAFETY: starting at the head, which is on this list or null.
        unsafe { self.for_each_from(self.head, limit, f) }.is_none()
    }

    /// Calls `f` on at most `limit` slabs, front to back, starting at `start` (null: the list is
    /// done). Returns the slab to start from next time, or `None` once the end is reached: lets a
    /// walk of a long list drop its lock between pieces.
    ///
    /// # Safety
    ///
    /// `start` must be null or on this list.
    pub(crate) unsafe fn for_each_from(
        &self,
        start: *mut SlabHeader,
        limit: usize,
        mut f: impl FnMut(*mut SlabHeader),
    ) -> Option<*mut SlabHeader> {
        let mut p = start;
        let mut n = 0;
        while !p.is_null() {
            if n == limit {
                return Some(p);
            }
            f(p);
            n += 1;
            // SAFETY: `p` is on this list (`start` by contract, the rest by the list's links), so
            // it is a valid slab header.
            p = unsafe { (*p).link.next };
        }
        None
    }
}
