// SPDX-License-Identifier: GPL-2.0

//! Memory and node hotplug notifiers.
//!
//! `linux/memory.h` is not reachable from the kernel's Rust bindings, so the two functions and
//! the event numbers rslab needs from it are declared here, matching the 7.3 header:
//! `register_memory_notifier()`, `unregister_memory_notifier()` and `enum memory_block_state`.
//! (rslab acts on every block event alike, so `struct memory_notify` is not needed.)
//! The node notifier (`linux/node.h`) is in the bindings.

use core::{ffi::c_void, marker::PhantomPinned, pin::Pin};
use kernel::{bindings, prelude::*, types::Opaque};

// `enum memory_block_state` and the node events of 7.3's headers.
pub(crate) const MEM_ONLINE: u64 = 0;
pub(crate) const MEM_GOING_OFFLINE: u64 = 1;
pub(crate) const MEM_OFFLINE: u64 = 2;
pub(crate) const MEM_GOING_ONLINE: u64 = 3;
pub(crate) const MEM_CANCEL_ONLINE: u64 = 4;
pub(crate) const MEM_CANCEL_OFFLINE: u64 = 5;
pub(crate) const NODE_ADDING_FIRST_MEMORY: u64 = 1 << 0;
pub(crate) const NODE_ADDED_FIRST_MEMORY: u64 = 1 << 1;
pub(crate) const NODE_CANCEL_ADDING_FIRST_MEMORY: u64 = 1 << 2;
pub(crate) const NODE_REMOVING_LAST_MEMORY: u64 = 1 << 3;
pub(crate) const NODE_REMOVED_LAST_MEMORY: u64 = 1 << 4;
pub(crate) const NODE_CANCEL_REMOVING_LAST_MEMORY: u64 = 1 << 5;

unsafe extern "C" {
    fn register_memory_notifier(nb: *mut bindings::notifier_block) -> i32;
    fn unregister_memory_notifier(nb: *mut bindings::notifier_block);
}

/// Which chain a [`Notifier`] is on.
#[derive(Clone, Copy)]
pub(crate) enum Chain {
    /// `register_memory_notifier`: per memory block; `data` is a `struct memory_notify`.
    Memory,
    /// `register_node_notifier`: per node's first/last memory; `data` is a `node_notify`.
    Node,
}

/// A notifier callback: `(action, data) -> NOTIFY_*`.
pub(crate) type NotifierFn =
    unsafe extern "C" fn(*mut bindings::notifier_block, kernel::ffi::c_ulong, *mut c_void) -> i32;

/// A registered notifier block, unregistered on drop.
///
/// # Invariants
///
/// If `registered`, `nb` is registered on `chain` until `self` is dropped; `nb` never moves
/// (pinned).
#[pin_data(PinnedDrop)]
pub(crate) struct Notifier {
    #[pin]
    nb: Opaque<bindings::notifier_block>,
    chain: Chain,
    registered: bool,
    #[pin]
    _pin: PhantomPinned,
}

// SAFETY: the notifier core synchronises use of the block; we only register and unregister it.
unsafe impl Send for Notifier {}
// SAFETY: shared references reach no field of the block; only the notifier core, under its
// own lock, reads or writes it.
unsafe impl Sync for Notifier {}

impl Notifier {
    /// Registers `f` on `chain` with `priority`.
    pub(crate) fn register(chain: Chain, f: NotifierFn, priority: i32) -> Result<Pin<KBox<Self>>> {
        let mut n = KBox::pin_init(
            pin_init!(Self {
                nb <- Opaque::new(bindings::notifier_block {
                    notifier_call: Some(f),
                    next: core::ptr::null_mut(),
                    priority,
                }),
                chain,
                registered: false,
                _pin: PhantomPinned,
            }),
            GFP_KERNEL,
        )?;
        // SAFETY: `nb` is pinned in `n` and stays registered no longer than `n` lives.
        let ret = unsafe {
            match chain {
                Chain::Memory => register_memory_notifier(n.nb.get()),
                Chain::Node => bindings::register_node_notifier(n.nb.get()),
            }
        };
        if ret != 0 {
            // Not registered: dropping `n` frees it without unregistering.
            return Err(Error::from_errno(ret));
        }
        // SAFETY: `registered` is not structurally pinned; writing it moves nothing.
        // INVARIANT: `nb` was just registered on `chain`.
        unsafe { n.as_mut().get_unchecked_mut().registered = true };
        Ok(n)
    }
}

#[pinned_drop]
impl PinnedDrop for Notifier {
    fn drop(self: Pin<&mut Self>) {
        if !self.registered {
            return;
        }
        // SAFETY: registered in `register` (invariant); unregistering waits for callers.
        unsafe {
            match self.chain {
                Chain::Memory => unregister_memory_notifier(self.nb.get()),
                Chain::Node => bindings::unregister_node_notifier(self.nb.get()),
            }
        }
    }
}
