// SPDX-License-Identifier: GPL-2.0

//! Lockdep's knowledge of which locks the current task holds, for the assertions of rules that
//! lockdep itself would report only once a cycle closes.

#[cfg(CONFIG_DEBUG_LOCK_ALLOC)]
use kernel::bindings;
use kernel::sync::Mutex;

/// Whether the current task holds `m`, as lockdep knows it (`lockdep_is_held()`): `Some(held)`
/// while lockdep tracks locks, `None` when it does not (no `CONFIG_DEBUG_LOCK_ALLOC`, or lockdep
/// turned itself off after a report), as `lockdep_assert_not_held()` then checks nothing.
pub(crate) fn mutex_held<T: ?Sized>(m: &Mutex<T>) -> Option<bool> {
    #[cfg(CONFIG_DEBUG_LOCK_ALLOC)]
    {
        let raw = core::ptr::from_ref(m).cast::<bindings::mutex>();
        // SAFETY: `debug_locks` is a plain global flag that lockdep clears once, after a report;
        // a racy read only makes this answer `None` a little early or late.
        if unsafe { bindings::debug_locks } == 0 {
            return None;
        }
        // SAFETY: `Lock` is `repr(C)` with the C lock first (as `Lock::from_raw()` relies on), so
        // `raw` is `m`'s initialised `struct mutex`, alive for the borrow; the call only compares
        // its `dep_map` with the current task's held locks (`read == -1`: either mode).
        match unsafe { bindings::lock_is_held_type(&raw const (*raw).dep_map, -1) } {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        }
    }
    #[cfg(not(CONFIG_DEBUG_LOCK_ALLOC))]
    {
        let _ = m;
        None
    }
}
