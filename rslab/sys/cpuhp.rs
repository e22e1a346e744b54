// SPDX-License-Identifier: GPL-2.0

//! CPU hotplug: the hotplug lock as a guard, proofs that a CPU is offline, and dynamic hotplug
//! states whose callbacks are safe Rust.
//!
//! A [`CpuhpState<T>`] owns the C trampolines of its callbacks: the user implements
//! [`CpuhpCallbacks`] and never writes an `extern "C"` function. The teardown of a
//! [`Section::Prepare`] state runs after the CPU died; it is handed an [`OfflineCpu`], the proof
//! that lets it touch that CPU's per-CPU data, which its owner no longer can.

use core::marker::PhantomData;
use kernel::{
    bindings,
    error::{
        from_result,
        to_result,
        Result, //
    },
    str::{
        CStr,
        CStrExt, //
    },
};

/// Holds `cpus_read_lock()`: no CPU goes online or offline until it is dropped.
pub(crate) struct CpusReadGuard(());

impl CpusReadGuard {
    /// Takes the CPU hotplug lock for reading. Lock order: first of all rslab's locks.
    pub(crate) fn lock() -> Self {
        // SAFETY: `cpus_read_lock()` may sleep, and every caller is in process context holding
        // none of rslab's locks (they all come after this one in the crate's lock order); the
        // guard releases it exactly once, in `drop`.
        unsafe { bindings::cpus_read_lock() };
        Self(())
    }
}

impl Drop for CpusReadGuard {
    fn drop(&mut self) {
        // SAFETY: the guard exists only after `cpus_read_lock()` in `lock`, and this is its one
        // release.
        unsafe { bindings::cpus_read_unlock() };
    }
}

/// Asserts (under lockdep) that the caller holds the CPU hotplug lock, as a hotplug callback,
/// a memory notifier or a [`CpusReadGuard`] holder does.
pub(crate) fn assert_cpus_held() {
    // SAFETY: `lockdep_assert_cpus_held()` only reads lockdep's view of the current task's held
    // locks (and warns); it has no precondition.
    unsafe { bindings::lockdep_assert_cpus_held() };
}

/// Runs `f` with `cpu` as an [`OfflineCpu`] if it is a possible CPU that is offline now, for a
/// caller that holds the CPU hotplug lock in some form (a [`CpusReadGuard`], a hotplug callback,
/// a memory notifier): checked by lockdep. The proof cannot leave `f`, so it cannot outlive the
/// caller's hold of the lock.
pub(crate) fn with_offline_cpu<R>(cpu: u32, f: impl FnOnce(&OfflineCpu<'_>) -> R) -> Option<R> {
    assert_cpus_held();
    if !super::topology::cpu_possible(cpu) || super::topology::cpu_online(cpu) {
        return None;
    }
    // INVARIANT: `cpu` is possible and offline, and the caller holds the hotplug lock until it
    // returns, so the CPU cannot come online while `f` runs, the proof's only lifetime.
    Some(f(&OfflineCpu {
        cpu,
        _lock: PhantomData,
    }))
}

/// Proof that a CPU is offline and cannot come online while this lives: its per-CPU data may be
/// used by the holder, because no code runs on that CPU.
///
/// # Invariants
///
/// `cpu` is a possible CPU that is offline, and the CPU hotplug lock is held (for reading by
/// the holder of `'a`, or for writing by the hotplug core around a callback) for all of `'a`.
pub(crate) struct OfflineCpu<'a> {
    cpu: u32,
    _lock: PhantomData<&'a CpusReadGuard>,
}

impl OfflineCpu<'_> {
    /// The CPU's number.
    pub(crate) fn id(&self) -> u32 {
        self.cpu
    }
}

/// Which range of dynamic hotplug states a [`CpuhpState`] takes a state from.
#[derive(Clone, Copy)]
pub(crate) enum Section {
    /// `CPUHP_BP_PREPARE_DYN`: startup runs on a control CPU before the CPU boots; teardown
    /// after it died.
    Prepare,
    /// `CPUHP_AP_ONLINE_DYN`: startup and teardown run on the CPU itself, while it is online.
    Online,
}

/// The callbacks of a dynamic hotplug state.
pub(crate) trait CpuhpCallbacks {
    /// Where the state sits in the hotplug sequence.
    const SECTION: Section;
    /// Its name in `/sys/devices/system/cpu/hotplug/states`.
    const NAME: &'static CStr;
    /// Whether removing the state runs the teardown for every CPU that reached it: a "dead"
    /// teardown must not (those CPUs are alive), an "offline" one must.
    const TEARDOWN_ON_REMOVE: bool;

    /// `cpu` reaches the state (it comes up, or the state is registered while it is up).
    fn startup(cpu: u32) -> Result;

    /// `cpu` leaves the state. In a [`Section::Prepare`] state the CPU is dead: `offline`
    /// proves it. In a [`Section::Online`] state it is `None` (the CPU is still running, and
    /// the callback runs on it).
    fn teardown(cpu: u32, offline: Option<OfflineCpu<'_>>) -> Result;
}

/// A registered dynamic CPU hotplug state (`cpuhp_setup_state()`) with the callbacks of `T`,
/// removed on drop.
///
/// # Invariants
///
/// `state` was returned by a successful `__cpuhp_setup_state()` with `T`'s trampolines.
pub(crate) struct CpuhpState<T: CpuhpCallbacks> {
    state: bindings::cpuhp_state,
    _callbacks: PhantomData<T>,
}

/// The C startup callback of `T`.
///
/// # Safety
///
/// Called by the CPU hotplug core only, for a state registered by [`CpuhpState::<T>::setup`].
unsafe extern "C" fn startup_trampoline<T: CpuhpCallbacks>(cpu: u32) -> i32 {
    from_result(|| T::startup(cpu).map(|()| 0))
}

/// The C teardown callback of `T`.
///
/// # Safety
///
/// Called by the CPU hotplug core only, for a state registered by [`CpuhpState::<T>::setup`].
unsafe extern "C" fn teardown_trampoline<T: CpuhpCallbacks>(cpu: u32) -> i32 {
    let offline = match T::SECTION {
        Section::Online => None,
        // INVARIANT: a `CPUHP_BP_PREPARE_DYN` teardown runs on a control CPU after `cpu` died,
        // with the hotplug lock held for writing by the hotplug core until it returns; the
        // proof does not outlive this call.
        Section::Prepare => Some(OfflineCpu {
            cpu,
            _lock: PhantomData,
        }),
    };
    from_result(|| T::teardown(cpu, offline).map(|()| 0))
}

impl<T: CpuhpCallbacks> CpuhpState<T> {
    /// Registers `T`'s callbacks at a new dynamic state of `T::SECTION`, calling the startup
    /// now for every CPU already past it.
    pub(crate) fn setup() -> Result<Self> {
        let section = match T::SECTION {
            Section::Prepare => bindings::cpuhp_state_CPUHP_BP_PREPARE_DYN,
            Section::Online => bindings::cpuhp_state_CPUHP_AP_ONLINE_DYN,
        };
        // SAFETY: `T::NAME` is static; the trampolines live until `drop` removes the state, before
        // the module text goes; with `cpuslocked` false the call takes the hotplug lock itself,
        // and our callers hold none of rslab's locks (it comes first in the lock order).
        let ret = unsafe {
            bindings::__cpuhp_setup_state(
                section,
                T::NAME.as_char_ptr(),
                true,
                Some(startup_trampoline::<T>),
                Some(teardown_trampoline::<T>),
                false,
            )
        };
        to_result(ret)?;
        // INVARIANT: a dynamic state: the return value is the state allocated.
        Ok(Self {
            state: ret as bindings::cpuhp_state,
            _callbacks: PhantomData,
        })
    }
}

impl<T: CpuhpCallbacks> Drop for CpuhpState<T> {
    fn drop(&mut self) {
        // SAFETY: `state` was set up in `setup` (invariant) and is removed once, here;
        // `__cpuhp_remove_state()` waits for callbacks in progress.
        unsafe { bindings::__cpuhp_remove_state(self.state, T::TEARDOWN_ON_REMOVE) };
    }
}
