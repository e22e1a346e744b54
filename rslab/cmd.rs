// SPDX-License-Identifier: GPL-2.0

//! Parser for the commands written to `/sys/kernel/debug/rslab/control`.
//!
//! One command per write. Everything malformed is refused here, before any state is touched, so
//! a refused command changes nothing. This file has no `kernel::` imports: it is compiled on the
//! host too and fuzzed there with random bytes.

use crate::layout::{
    MAX_OBJECT_SIZE,
    MIN_OBJECT_SIZE, //
};
use crate::words::{
    number,
    words, //
};
pub(crate) use crate::words::{
    CmdError,
    Name, //
};

/// A parsed control command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Command {
    /// `create <name> <size> [align=<bytes>] [debug]`
    Create {
        /// Cache name.
        name: Name,
        /// Object size in bytes.
        size: usize,
        /// Object alignment in bytes.
        align: usize,
        /// Red zones, poisoning and free checks.
        debug: bool,
    },
    /// `destroy <name>`
    Destroy(Name),
    /// `shrink <name>`
    Shrink(Name),
    /// `flush <name>`
    Flush(Name),
    /// `validate <name>`
    Validate(Name),
}

/// Parses one write to `control`, given the page size alignments are bounded by.
pub(crate) fn parse(input: &[u8], page_size: usize) -> Result<Command, CmdError> {
    let mut words = words(input)?;
    let verb = words.next().ok_or(CmdError::Malformed)?;
    let mut name =
        || -> Result<Name, CmdError> { Name::new(words.next().ok_or(CmdError::MissingArgument)?) };
    let cmd = match verb {
        "create" => {
            let name = name()?;
            let size = words.next().ok_or(CmdError::MissingArgument)?;
            let size = number(size)?;
            if size < 1 || size > MAX_OBJECT_SIZE as u64 {
                return Err(CmdError::BadSize);
            }
            let (mut align, mut debug) = (None, false);
            for w in words.by_ref() {
                if let Some(a) = w.strip_prefix("align=") {
                    let a = number(a)?;
                    if align.is_some() {
                        return Err(CmdError::BadOption);
                    }
                    if a == 0 || !a.is_power_of_two() || a > page_size as u64 {
                        return Err(CmdError::BadAlign);
                    }
                    align = Some(a as usize);
                } else if w == "debug" && !debug {
                    debug = true;
                } else {
                    return Err(CmdError::BadOption);
                }
            }
            Command::Create {
                name,
                size: size as usize,
                align: align.unwrap_or(MIN_OBJECT_SIZE),
                debug,
            }
        }
        "destroy" => Command::Destroy(name()?),
        "shrink" => Command::Shrink(name()?),
        "flush" => Command::Flush(name()?),
        "validate" => Command::Validate(name()?),
        _ => return Err(CmdError::UnknownCommand),
    };
    if words.next().is_some() {
        return Err(CmdError::TrailingInput);
    }
    Ok(cmd)
}
