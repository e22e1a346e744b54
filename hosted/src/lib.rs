// SPDX-License-Identifier: GPL-2.0

//! Host build of the parts of rslab that do not depend on the kernel. The module sources are
//! compiled here unchanged (`#[path]`), so `cargo test` checks the very code `rslab.ko` runs.

#![allow(dead_code)]

#[path = "../../rslab/layout.rs"]
pub mod layout;

#[path = "../../rslab/words.rs"]
pub mod words;

#[path = "../../rslab/cmd.rs"]
pub mod cmd;

#[path = "../../rslab_test/cmd.rs"]
pub mod test_cmd;

#[path = "../../rslab/slab.rs"]
pub mod slab;

#[path = "../../rslab/cpuarray.rs"]
pub mod cpuarray;

#[cfg(test)]
mod cmd_tests;
#[cfg(test)]
mod cpuarray_tests;
#[cfg(test)]
mod layout_tests;
#[cfg(test)]
mod slab_tests;
#[cfg(test)]
mod test_cmd_tests;
