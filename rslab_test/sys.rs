// SPDX-License-Identifier: GPL-2.0

//! The kernel facilities rslab_test uses: rslab's own wrappers (`rslab/sys/`), compiled again
//! here, so that this crate too has no `kernel::bindings` outside them.

#[path = "../rslab/sys/clock.rs"]
pub(crate) mod clock;
#[expect(
    dead_code,
    reason = "rslab's delayed per-CPU work (its reaper) is not used here"
)]
#[path = "../rslab/sys/cpu_work.rs"]
pub(crate) mod cpu_work;
#[expect(dead_code, reason = "no hotplug-lock assertion is needed here")]
#[path = "../rslab/sys/cpuhp.rs"]
pub(crate) mod cpuhp;
#[path = "../rslab/sys/dbgfs.rs"]
pub(crate) mod dbgfs;
#[path = "../rslab/sys/kthread.rs"]
pub(crate) mod kthread;
#[expect(
    dead_code,
    reason = "only the KUnit suite's page->node lookup is used here, not rslab's slab pages"
)]
#[path = "../rslab/sys/pages.rs"]
pub(crate) mod pages;
#[path = "../rslab/sys/slub.rs"]
pub(crate) mod slub;
#[expect(dead_code, reason = "the node-with-memory fallback is rslab's alone")]
#[path = "../rslab/sys/topology.rs"]
pub(crate) mod topology;
