// SPDX-License-Identifier: GPL-2.0

//! Memory and node hotplug notifiers.
//!
//! `linux/memory.h` is not reachable from the kernel's Rust bindings, so the two functions and
//! the event numbers rslab needs from it are declared here, matching the 7.3 header:
//! `register_memory_notifier()`, `unregister_memory_notifier()` and `enum memory_block_state`.
//! (rslab acts on every block event alike, so `struct memory_notify` is not needed.)
//! The node notifier (`linux/node.h`) is in the bindings.
//!
//! A [`Notifier<T>`] owns its C trampoline: the user implements [`MemoryCallback`] or
//! [`NodeCallback`] and sees typed events ([`MemoryEvent`], [`NodeEvent`]), never a raw action
//! number or a `void *`. rslab never vetoes an event, so the trampolines always answer
//! `NOTIFY_OK`.

use core::{
    ffi::c_void,
    marker::PhantomData,
    marker::PhantomPinned,
    pin::Pin, //
};
use kernel::{
    bindings,
    ffi::c_ulong,
    prelude::*,
    types::Opaque, //
};

// `enum memory_block_state` and the node events of 7.3's headers.
const MEM_ONLINE: c_ulong = 0;
const MEM_GOING_OFFLINE: c_ulong = 1;
const MEM_OFFLINE: c_ulong = 2;
const MEM_GOING_ONLINE: c_ulong = 3;
const MEM_CANCEL_ONLINE: c_ulong = 4;
const MEM_CANCEL_OFFLINE: c_ulong = 5;
const NODE_ADDING_FIRST_MEMORY: c_ulong = 1 << 0;
const NODE_ADDED_FIRST_MEMORY: c_ulong = 1 << 1;
const NODE_CANCEL_ADDING_FIRST_MEMORY: c_ulong = 1 << 2;
const NODE_REMOVING_LAST_MEMORY: c_ulong = 1 << 3;
const NODE_REMOVED_LAST_MEMORY: c_ulong = 1 << 4;
const NODE_CANCEL_REMOVING_LAST_MEMORY: c_ulong = 1 << 5;

unsafe extern "C" {
    fn register_memory_notifier(nb: *mut bindings::notifier_block) -> i32;
    fn unregister_memory_notifier(nb: *mut bindings::notifier_block);
}

/// What happens to one memory block (`enum memory_block_state`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum MemoryEvent {
    GoingOnline,
    Online,
    CancelOnline,
    GoingOffline,
    Offline,
    CancelOffline,
}

impl MemoryEvent {
    fn from_raw(action: c_ulong) -> Option<Self> {
        Some(match action {
            MEM_GOING_ONLINE => Self::GoingOnline,
            MEM_ONLINE => Self::Online,
            MEM_CANCEL_ONLINE => Self::CancelOnline,
            MEM_GOING_OFFLINE => Self::GoingOffline,
            MEM_OFFLINE => Self::Offline,
            MEM_CANCEL_OFFLINE => Self::CancelOffline,
            _ => return None,
        })
    }
}

/// What happens to a node's memory as a whole (the node notifier's events).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum NodeEvent {
    AddingFirst,
    AddedFirst,
    CancelAddingFirst,
    RemovingLast,
    RemovedLast,
    CancelRemovingLast,
}

impl NodeEvent {
    fn from_raw(action: c_ulong) -> Option<Self> {
        Some(match action {
            NODE_ADDING_FIRST_MEMORY => Self::AddingFirst,
            NODE_ADDED_FIRST_MEMORY => Self::AddedFirst,
            NODE_CANCEL_ADDING_FIRST_MEMORY => Self::CancelAddingFirst,
            NODE_REMOVING_LAST_MEMORY => Self::RemovingLast,
            NODE_REMOVED_LAST_MEMORY => Self::RemovedLast,
            NODE_CANCEL_REMOVING_LAST_MEMORY => Self::CancelRemovingLast,
            _ => return None,
        })
    }
}

/// A memory-block notifier callback. Runs in process context with the CPU hotplug lock and the
/// memory hotplug lock held (the memory hotplug core takes both around the chain).
pub(crate) trait MemoryCallback {
    fn memory_event(event: MemoryEvent);
}

/// A node notifier callback, with the node the event is about. Same context as
/// [`MemoryCallback`].
pub(crate) trait NodeCallback {
    fn node_event(event: NodeEvent, nid: u32);
}

/// Which chain a [`Notifier`] is on.
#[derive(Clone, Copy)]
enum Chain {
    Memory,
    Node,
}

/// The C callback of a memory notifier with `T`'s callback.
///
/// # Safety
///
/// Called by the memory notifier chain only.
unsafe extern "C" fn memory_trampoline<T: MemoryCallback>(
    _nb: *mut bindings::notifier_block,
    action: c_ulong,
    _data: *mut c_void,
) -> i32 {
    if let Some(event) = MemoryEvent::from_raw(action) {
        T::memory_event(event);
    }
    bindings::NOTIFY_OK as i32
}

/// The C callback of a node notifier with `T`'s callback.
///
/// # Safety
///
/// Called by the node notifier chain only, whose `data` is a `struct node_notify`.
unsafe extern "C" fn node_trampoline<T: NodeCallback>(
    _nb: *mut bindings::notifier_block,
    action: c_ulong,
    data: *mut c_void,
) -> i32 {
    // SAFETY: the node chain passes a valid `struct node_notify` for the duration of the call.
    let nid = unsafe { (*data.cast::<bindings::node_notify>()).nid };
    if let (Some(event), Ok(nid)) = (NodeEvent::from_raw(action), u32::try_from(nid)) {
        T::node_event(event, nid);
    }
    bindings::NOTIFY_OK as i32
}

/// A registered notifier block whose callback is `T`'s, unregistered on drop.
///
/// # Invariants
///
/// `nb` is registered on `chain` from the end of its initializer until `self` is dropped; it
/// never moves (pinned).
#[pin_data(PinnedDrop)]
pub(crate) struct Notifier<T> {
    #[pin]
    nb: Opaque<bindings::notifier_block>,
    chain: Chain,
    #[pin]
    _pin: PhantomPinned,
    _callback: PhantomData<T>,
}

// SAFETY: the notifier core synchronises use of the block; `Notifier` itself only registers and
// unregisters it, and `T` is a marker (no value of it is stored).
unsafe impl<T> Send for Notifier<T> {}
// SAFETY: shared references reach no field of the block; only the notifier core, under its
// own lock, reads or writes it.
unsafe impl<T> Sync for Notifier<T> {}

impl<T> Notifier<T> {
    /// Initializes the block in place and registers it on `chain`: once registered, it must not
    /// move, so registration is part of the pin-initializer.
    fn new(
        chain: Chain,
        call: unsafe extern "C" fn(*mut bindings::notifier_block, c_ulong, *mut c_void) -> i32,
        priority: i32,
    ) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            // SAFETY: `slot` is the pinned, uninitialised block: it is written whole, then
            // registered, and it stays registered no longer than `Self` lives (`drop`
            // unregisters it). If registration fails, nothing refers to it.
            nb <- Opaque::try_ffi_init(|slot: *mut bindings::notifier_block| {
                // SAFETY: see above.
                unsafe {
                    slot.write(bindings::notifier_block {
                        notifier_call: Some(call),
                        next: core::ptr::null_mut(),
                        priority,
                    });
                    kernel::error::to_result(match chain {
                        Chain::Memory => register_memory_notifier(slot),
                        Chain::Node => bindings::register_node_notifier(slot),
                    })
                }
            }),
            chain,
            _pin: PhantomPinned,
            _callback: PhantomData,
        })
    }
}

impl<T: MemoryCallback> Notifier<T> {
    /// Registers `T` on the memory notifier chain (`register_memory_notifier()`).
    pub(crate) fn memory(priority: i32) -> impl PinInit<Self, Error> {
        Self::new(Chain::Memory, memory_trampoline::<T>, priority)
    }
}

impl<T: NodeCallback> Notifier<T> {
    /// Registers `T` on the node notifier chain (`register_node_notifier()`).
    pub(crate) fn node(priority: i32) -> impl PinInit<Self, Error> {
        Self::new(Chain::Node, node_trampoline::<T>, priority)
    }
}

#[pinned_drop]
impl<T> PinnedDrop for Notifier<T> {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: `nb` is registered on `chain` (invariant: a `Notifier` exists only after its
        // registration succeeded) and is unregistered once, here; unregistering waits for
        // callbacks in progress (the chain's rwsem/SRCU).
        unsafe {
            match self.chain {
                Chain::Memory => unregister_memory_notifier(self.nb.get()),
                Chain::Node => bindings::unregister_node_notifier(self.nb.get()),
            }
        }
    }
}
