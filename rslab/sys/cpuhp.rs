// SPDX-License-Identifier: GPL-2.0

//! The CPU hotplug lock, as a guard.

use kernel::{bindings, str::CStrExt};

/// Holds `cpus_read_lock()`: no CPU goes online or offline until it is dropped.
pub(crate) struct CpusReadGuard(());

impl CpusReadGuard {
    /// Takes the CPU hotplug lock for reading. Lock order: first of all rslab's locks.
    pub(crate) fn lock() -> Self {
        // SAFETY: may sleep; callers are in process context and hold none of rslab's locks
        // (lock order in the crate root).
        unsafe { bindings::cpus_read_lock() };
        Self(())
    }
}

impl Drop for CpusReadGuard {
    fn drop(&mut self) {
        // SAFETY: taken in `lock`.
        unsafe { bindings::cpus_read_unlock() };
    }
}

/// Asserts (under lockdep) that the caller holds the CPU hotplug lock, as a hotplug callback,
/// a memory notifier or a [`CpusReadGuard`] holder does.
pub(crate) fn assert_cpus_held() {
    // SAFETY: only inspects lockdep state.
    unsafe { bindings::lockdep_assert_cpus_held() };
}

/// A CPU hotplug callback: `fn(cpu) -> 0 or -errno`.
pub(crate) type CpuhpFn = unsafe extern "C" fn(cpu: u32) -> i32;

/// A registered dynamic CPU hotplug state (`cpuhp_setup_state()`), removed on drop.
///
/// # Invariants
///
/// `state` was returned by a successful `__cpuhp_setup_state` for a dynamic state.
pub(crate) struct CpuhpState {
    state: bindings::cpuhp_state,
    /// Whether removal calls the teardown for every CPU that reached the state.
    invoke_on_remove: bool,
}

impl CpuhpState {
    /// Registers `startup`/`teardown` at the dynamic state `dyn_state` (`CPUHP_AP_ONLINE_DYN` or
    /// `CPUHP_BP_PREPARE_DYN`), calling `startup` now for every CPU already past it.
    /// `invoke_on_remove` says whether `teardown` runs for those CPUs at removal: a "dead"
    /// teardown must not (the CPUs are alive), an "offline" one must.
    pub(crate) fn setup(
        dyn_state: bindings::cpuhp_state,
        name: &'static kernel::str::CStr,
        startup: CpuhpFn,
        teardown: CpuhpFn,
        invoke_on_remove: bool,
    ) -> kernel::error::Result<Self> {
        // SAFETY: `name` is static; the callbacks are valid functions for the module's life
        // (the state is removed in `drop`, before the module text goes).
        let ret = unsafe {
            bindings::__cpuhp_setup_state(
                dyn_state,
                name.as_char_ptr(),
                true,
                Some(startup),
                Some(teardown),
                false,
            )
        };
        if ret < 0 {
            return Err(kernel::error::Error::from_errno(ret));
        }
        Ok(Self {
            state: ret as bindings::cpuhp_state,
            invoke_on_remove,
        })
    }
}

impl Drop for CpuhpState {
    fn drop(&mut self) {
        // SAFETY: registered in `setup` (invariant); removal waits for running callbacks.
        unsafe { bindings::__cpuhp_remove_state(self.state, self.invoke_on_remove) };
    }
}
