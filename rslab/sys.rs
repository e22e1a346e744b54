// SPDX-License-Identifier: GPL-2.0

//! The kernel facilities rslab uses, each behind a thin wrapper that is safe at its edge.
//!
//! This is the only place of the crate where `kernel::bindings` and inline assembly appear: every
//! file here takes one facility of the C side (its types, its trampolines, its `unsafe` calls)
//! and offers safe types and functions to the allocator above, the way `rust/kernel/workqueue.rs`
//! does for workqueues. Arch-specific code is fenced by `cfg` inside these files, with a fallback
//! on the kernel's own helpers.
//!
//! `kthread.rs` (per-CPU kernel threads), `slub.rs` (the kernel's own kmem caches, untyped) and
//! `clock.rs` (ktime and the cycle counter) live here too: only `rslab_test.ko` uses them, for
//! its stress workers and its benchmark (`rslab_test/sys.rs` lists what it compiles).

#[path = "sys/cpu_work.rs"]
pub(crate) mod cpu_work;
#[path = "sys/cpuhp.rs"]
pub(crate) mod cpuhp;
#[path = "sys/dbgfs.rs"]
pub(crate) mod dbgfs;
#[path = "sys/kmem.rs"]
pub(crate) mod kmem;
#[path = "sys/local_lock.rs"]
pub(crate) mod local_lock;
#[path = "sys/lockdep.rs"]
pub(crate) mod lockdep;
#[path = "sys/notifier.rs"]
pub(crate) mod notifier;
#[path = "sys/pages.rs"]
pub(crate) mod pages;
#[path = "sys/percpu.rs"]
pub(crate) mod percpu;
#[path = "sys/topology.rs"]
pub(crate) mod topology;
