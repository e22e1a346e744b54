// SPDX-License-Identifier: GPL-2.0

//! The local CPU: interrupts off and back on, and the CPU number.
//!
//! The allocation fast path needs both on every operation. On x86-64 this file does inline what
//! C's `local_irq_save()`, `local_irq_restore()` and `raw_smp_processor_id()` compile to:
//! `pushf; pop; cli`, then `if (flags & X86_EFLAGS_IF) sti` (`native_irq_enable()` only when
//! interrupts were on before, as `arch_local_irq_restore()` does: no `popf`), and one
//! `%gs:`-relative load of the per-CPU `cpu_number`. With `CONFIG_TRACE_IRQFLAGS` (lockdep), the
//! same tracing calls as C's macros are made, so lockdep's view of the interrupt state stays
//! exact. The kernel's own counting API stays compatible: a `SpinLockIrq` taken inside finds
//! interrupts off and restores them off.
//!
//! Every other configuration, and any build with `--cfg rslab_generic` (`make
//! RSLAB_GENERIC=1`, which tests this fallback on x86-64), calls the kernel's own
//! `local_irq_save()`/`local_irq_restore()` through the helpers of `helpers.c`, and
//! `raw_smp_processor_id()` through the kernel crate.

use core::marker::PhantomData;

#[cfg(all(CONFIG_X86_64, not(rslab_generic)))]
mod arch {
    use core::arch::asm;
    #[cfg(CONFIG_TRACE_IRQFLAGS)]
    use kernel::bindings;

    /// `X86_EFLAGS_IF`.
    const EFLAGS_IF: usize = 1 << 9;

    /// `local_irq_save()`: returns the flags before.
    #[inline(always)]
    pub(super) fn save() -> usize {
        let flags: usize;
        // SAFETY: saving the flags and disabling interrupts touches no memory the compiler must
        // know of beyond the stack slot the asm uses itself; it is what `native_save_fl();
        // native_irq_disable()` do.
        unsafe { asm!("pushfq", "pop {0}", "cli", out(reg) flags) };
        #[cfg(CONFIG_TRACE_IRQFLAGS)]
        if flags & EFLAGS_IF != 0 {
            // SAFETY: interrupts were on and are now off, as `local_irq_save()` reports them.
            unsafe { bindings::trace_hardirqs_off() };
        }
        flags
    }

    /// `local_irq_restore(flags)`, for `flags` from [`save`] on this CPU.
    #[inline(always)]
    pub(super) fn restore(flags: usize) {
        if flags & EFLAGS_IF == 0 {
            return;
        }
        #[cfg(CONFIG_TRACE_IRQFLAGS)]
        // SAFETY: interrupts are about to come back on, as `local_irq_restore()` reports.
        unsafe {
            bindings::trace_hardirqs_on()
        };
        // SAFETY: interrupts were on before `save`, so `sti` restores that state, as
        // `arch_local_irq_restore()` does; no `nomem`: like C's `"memory"` clobber, it keeps
        // every access to the per-CPU arrays before the `sti`.
        unsafe { asm!("sti", options(nostack)) };
    }

    /// The CPU this code runs on (`raw_smp_processor_id()`).
    #[inline(always)]
    pub(super) fn cpu() -> u32 {
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

#[cfg(any(not(CONFIG_X86_64), rslab_generic))]
mod arch {
    unsafe extern "C" {
        fn rslab_helper_local_irq_save() -> usize;
        fn rslab_helper_local_irq_restore(flags: usize);
    }

    /// `local_irq_save()`: returns the flags before.
    #[inline(always)]
    pub(super) fn save() -> usize {
        // SAFETY: `local_irq_save()` may be called in any context; the helper returns the
        // flags, which only `restore` consumes.
        unsafe { rslab_helper_local_irq_save() }
    }

    /// `local_irq_restore(flags)`, for `flags` from [`save`] on this CPU.
    #[inline(always)]
    pub(super) fn restore(flags: usize) {
        // SAFETY: `flags` came from `save` on this CPU (the caller's `IrqOff` invariant), which
        // is what `local_irq_restore()` requires.
        unsafe { rslab_helper_local_irq_restore(flags) }
    }

    /// The CPU this code runs on (`raw_smp_processor_id()`).
    #[inline(always)]
    pub(super) fn cpu() -> u32 {
        kernel::cpu::CpuId::current().as_u32()
    }
}

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
        // INVARIANT: `save` disabled interrupts and returned the flags before.
        Self {
            flags: arch::save(),
            _cpu: PhantomData,
        }
    }

    /// The CPU this code runs on (`raw_smp_processor_id()`); stable while `self` lives.
    #[inline(always)]
    pub(crate) fn cpu(&self) -> u32 {
        arch::cpu()
    }
}

impl Drop for IrqOff {
    #[inline(always)]
    fn drop(&mut self) {
        arch::restore(self.flags);
    }
}
