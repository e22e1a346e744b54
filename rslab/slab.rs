// SPDX-License-Identifier: GPL-2.0

//! One slab: its header, its freelist, and the intrusive lists slabs are kept on.
//!
//! A slab is a naturally aligned block of `PAGE_SIZE << order` bytes, so the slab of an object is
//! `addr & !(slab_bytes - 1)` (see [`Layout`]). [`SlabHeader`] sits at that address, or, for
//! `Layout::off_slab` layouts, in separate memory the caller finds (the kernel side keeps a
//! pointer to it in the slab's first `struct page`). Free objects form a singly linked list
//! through their first word. Slabs are linked into a node's partial, full or free list through
//! [`SlabHeader::link`].
//!
//! This file has no `kernel::` imports: it is also compiled on the host, where the tests carve
//! slabs out of ordinary aligned allocations.

use crate::layout::Layout;
use core::ptr::{
    self,
    null_mut, //
};

/// Marks a live slab header; xor-ed with the owning cache's id.
pub(crate) const SLAB_MAGIC: u64 = 0x7273_6c61_625f_7362; // "rslab_sb"

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

/// The header at the start of every slab.
///
/// # Invariants
///
/// While the slab is owned by a cache: `magic == SLAB_MAGIC ^ cache_id`; `free` is null or points
/// to a free object of this slab; the freelist holds exactly `objects - inuse` objects; `list`
/// names the list `link` is on.
#[repr(C)]
pub(crate) struct SlabHeader {
    pub(crate) magic: u64,
    /// Start of the slab's memory (the header itself, unless the header is off-slab).
    pub(crate) base: *mut u8,
    /// Head of the freelist.
    pub(crate) free: *mut u8,
    /// Objects handed out of this slab (to users or to per-CPU arrays).
    pub(crate) inuse: u32,
    /// NUMA node the slab's pages are on.
    pub(crate) node: u32,
    /// Which list `link` is on.
    pub(crate) list: ListKind,
    pub(crate) link: Links,
}

/// Bytes reserved for the header at the start of a slab (one cache line or more).
pub(crate) const HEADER_BYTES: usize = (core::mem::size_of::<SlabHeader>() + 63) & !63;

/// The slab containing `addr`, by masking with the slab size of `layout`: its header, for a
/// layout whose header is in the slab (see `Cache::header_of` for the general case).
pub(crate) fn slab_of(addr: *mut u8, layout: &Layout) -> *mut SlabHeader {
    ((addr as usize) & !(layout.slab_bytes() - 1)) as *mut SlabHeader
}

/// Formats the slab at `base` as a slab of `layout`, with every object on the freelist, in
/// address order, and its header at `header` (`base` itself unless `layout.off_slab`).
///
/// # Safety
///
/// `base` must be valid for writes of `layout.slab_bytes()` bytes, aligned to that size, and
/// not in use by anything else; `header` must be `base`, or (off-slab) valid for writing a
/// `SlabHeader` and not in use.
pub(crate) unsafe fn init_slab(
    base: *mut u8,
    header: *mut SlabHeader,
    layout: &Layout,
    cache_id: u64,
    node: u32,
) -> *mut SlabHeader {
    let slab = header;
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
    // SAFETY: in-slab, the header fits before the first object (`first_offset >=
    // HEADER_BYTES`); off-slab, the caller gave us `header` for writing.
    unsafe {
        slab.write(SlabHeader {
            magic: SLAB_MAGIC ^ cache_id,
            base,
            free: next,
            inuse: 0,
            node,
            list: ListKind::None,
            link: Links {
                prev: null_mut(),
                next: null_mut(),
            },
        })
    };
    slab
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

    /// Counts the freelist, stopping after `limit` entries (a corrupted list may loop); checks
    /// that each entry is an object start of this slab.
    ///
    /// # Safety
    ///
    /// `self` must be a slab of `layout`, owned exclusively by the caller.
    pub(crate) unsafe fn count_free(&self, layout: &Layout) -> Result<usize, *mut u8> {
        let base = self.base as usize;
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
