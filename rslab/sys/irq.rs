// SPDX-License-Identifier: GPL-2.0

//! The local CPU, inline: interrupts off and back on, and the CPU number (x86-64).
//!
//! The allocation fast path needs both on every operation. The kernel's Rust exposes them only
//! as out-of-line helper calls (`local_interrupt_disable()`, which also keeps a nesting count in
//! the preempt count, and `raw_smp_processor_id()`); this file does what C's `local_irq_save()`,
//! `local_irq_restore()` and `raw_smp_processor_id()` compile to: `pushf; pop; cli`, `push;
//! popf`, and one `%gs:`-relative load of the per-CPU `cpu_number`. With
//! `CONFIG_TRACE_IRQFLAGS` (lockdep), the same tracing calls as C's macros are made, so lockdep's
//! view of the interrupt state stays exact. The kernel's own counting API stays compatible: a
//! `SpinLockIrq` taken inside finds interrupts off and restores them off.

use core::{arch::asm, marker::PhantomData};
#[cfg(CONFIG_TRACE_IRQFLAGS)]
use kernel::bindings;

/// `X86_EFLAGS_IF`: only the lockdep tracing needs to look at it.
#[cfg_attr(not(CONFIG_TRACE_IRQFLAGS), allow(dead_code))]
const EFLAGS_IF: usize = 1 << 9;

/// Proof that local interrupts are off, which pins the task to this CPU; dropping it restores
/// the previous state.
///
/// # Invariants
///
/// Local interrupts are disabled from `new` until `drop`, and `flags` are the flags before.
pub(crate) struct IrqOff {
    flags: usize,
    /// Not `Send`: the state belongs to this CPU.
    _cpu: PhantomData<*mut ()>,
}

impl IrqOff {
    /// `local_irq_save()`.
    #[inline(always)]
    pub(crate) fn new() -> Self {
        let flags: usize;
        // SAFETY: saving the flags and disabling interrupts has no memory effect the compiler
        // must know of beyond the stack slot the asm uses itself; it is what
        // `native_save_fl(); native_irq_disable()` do.
        unsafe { asm!("pushfq", "pop {0}", "cli", out(reg) flags) };
        #[cfg(CONFIG_TRACE_IRQFLAGS)]
        if flags & EFLAGS_IF != 0 {
            // SAFETY: interrupts were on and are now off, as `local_irq_save()` reports them.
            unsafe { bindings::trace_hardirqs_off() };
        }
        Self {
            flags,
            _cpu: PhantomData,
        }
    }

    /// The CPU this code runs on (`raw_smp_processor_id()`); stable while `self` lives.
    #[inline(always)]
    pub(crate) fn cpu(&self) -> u32 {
        let cpu: u32;
        // SAFETY: `cpu_number` is an exported per-CPU variable; a `%gs:`-relative load reads
        // this CPU's copy, exactly as `this_cpu_read(cpu_number)` does.
        unsafe {
            asm!(
                "mov {0:e}, dword ptr gs:[rip + {1}]",
                out(reg) cpu,
                sym kernel::bindings::cpu_number,
                options(nostack, readonly, preserves_flags)
            )
        };
        cpu
    }
}

impl Drop for IrqOff {
    #[inline(always)]
    fn drop(&mut self) {
        #[cfg(CONFIG_TRACE_IRQFLAGS)]
        if self.flags & EFLAGS_IF != 0 {
            // SAFETY: interrupts are about to come back on, as `local_irq_restore()` reports.
            unsafe { bindings::trace_hardirqs_on() };
        }
        // SAFETY: restores the flags saved in `new` (invariant), as `native_restore_fl()`.
        unsafe { asm!("push {0}", "popfq", in(reg) self.flags) };
    }
}
