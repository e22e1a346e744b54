// SPDX-License-Identifier: GPL-2.0

//! A fixed-capacity stack of object pointers: the per-CPU object cache ("array cache" in SLAB,
//! "sheaf" in today's SLUB), and the per-CPU buffer of frees bound for other nodes.
//!
//! The most recently freed object is handed out first (it is cache-hot). Draining gives back the
//! oldest objects first (they are the coldest). No atomics and no locks: the owner guarantees
//! exclusive access (its own CPU under its local lock, or a dead CPU's hotplug callback).
//!
//! This file has no `kernel::` imports: it is also compiled on the host and tested against a model.

/// A stack of at most `N` objects. `repr(C)`: the count comes first, so that it shares a cache
/// line with whatever precedes the array (the per-CPU slot's counters).
#[repr(C)]
pub(crate) struct ObjArray<const N: usize> {
    count: usize,
    objs: [*mut u8; N],
}

impl<const N: usize> ObjArray<N> {
    /// An empty array.
    pub(crate) const fn new() -> Self {
        Self {
            count: 0,
            objs: [core::ptr::null_mut(); N],
        }
    }

    /// Objects held.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.count
    }

    /// Whether the array holds nothing.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Takes the most recently pushed object.
    #[inline]
    pub(crate) fn pop(&mut self) -> Option<*mut u8> {
        if self.count == 0 {
            return None;
        }
        self.count -= 1;
        Some(self.objs[self.count])
    }

    /// Pushes `obj` if there is room, else gives it back.
    #[inline]
    pub(crate) fn push(&mut self, obj: *mut u8) -> Result<(), *mut u8> {
        if self.count == N || self.count >= self.objs.len() {
            return Err(obj);
        }
        self.objs[self.count] = obj;
        self.count += 1;
        Ok(())
    }

    /// Removes the `n` oldest objects (all if fewer), passing each to `f`, and keeps the rest in
    /// order. Returns how many were removed.
    pub(crate) fn drain_oldest(&mut self, n: usize, mut f: impl FnMut(*mut u8)) -> usize {
        let n = n.min(self.count);
        for &obj in &self.objs[..n] {
            f(obj);
        }
        self.objs.copy_within(n..self.count, 0);
        self.count -= n;
        n
    }

    /// The objects held, oldest first.
    pub(crate) fn as_slice(&self) -> &[*mut u8] {
        &self.objs[..self.count]
    }
}
