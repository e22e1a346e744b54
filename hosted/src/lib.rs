// SPDX-License-Identifier: GPL-2.0

//! Host build of the parts of rslab that do not depend on the kernel. The module sources are
//! compiled here unchanged (`#[path]`), so `cargo test` checks the very code `rslab.ko` runs.

#![allow(dead_code)]

#[path = "../../rslab/layout.rs"]
pub mod layout;

#[cfg(test)]
mod layout_tests;
