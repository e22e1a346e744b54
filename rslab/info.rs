// SPDX-License-Identifier: GPL-2.0

//! The `info` debugfs file: what this build of rslab is.

use crate::sys::dbgfs::Show;
use core::fmt;

/// rslab's version, as reported in debugfs and the kernel log.
pub(crate) const VERSION: &str = "0.1.0";

/// Contents of `/sys/kernel/debug/rslab/info`.
pub(crate) struct Info;

impl Show for Info {
    fn show(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "version {}", VERSION)?;
        writeln!(f, "page_size {}", kernel::page::PAGE_SIZE)
    }
}
