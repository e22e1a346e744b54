// SPDX-License-Identifier: GPL-2.0

//! The words of a control command: names, numbers, and how a write is split into words.
//! Shared by the parsers of rslab's control file and of its test module's.
//!
//! This file has no `kernel::` imports: it is compiled on the host too and tested there.

/// Longest cache name accepted.
pub(crate) const NAME_MAX: usize = 32;

/// Why a command was refused: always `EINVAL` to the writer; the variant says why in the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CmdError {
    /// Not UTF-8, empty, or more than one line.
    Malformed,
    /// The first word is not a command.
    UnknownCommand,
    /// A required argument is missing.
    MissingArgument,
    /// Name longer than [`NAME_MAX`] or not `[A-Za-z0-9_-]`.
    BadName,
    /// A number that does not parse or is out of range.
    BadNumber,
    /// Object size is 0 or larger than the largest size class.
    BadSize,
    /// Alignment not a power of two, or larger than a page.
    BadAlign,
    /// An option that this command does not take, or one given twice.
    BadOption,
    /// Words left over after the command.
    TrailingInput,
}

/// A validated cache name, stored inline.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Name {
    len: u8,
    bytes: [u8; NAME_MAX],
}

impl Name {
    /// Validates `s` as a cache name.
    pub(crate) fn new(s: &str) -> Result<Self, CmdError> {
        let ok = !s.is_empty()
            && s.len() <= NAME_MAX
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !ok {
            return Err(CmdError::BadName);
        }
        let mut bytes = [0u8; NAME_MAX];
        bytes[..s.len()].copy_from_slice(s.as_bytes());
        // `s.len() <= NAME_MAX` fits in a `u8`.
        Ok(Self {
            len: s.len() as u8,
            bytes,
        })
    }

    /// The name as a string slice.
    pub(crate) fn as_str(&self) -> &str {
        // Only ASCII bytes are ever stored (checked in `new`), so this cannot fail.
        core::str::from_utf8(&self.bytes[..self.len as usize]).unwrap_or("")
    }
}

impl core::fmt::Debug for Name {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

pub(crate) fn number(s: &str) -> Result<u64, CmdError> {
    let (digits, radix) = match s.strip_prefix("0x") {
        Some(hex) => (hex, 16),
        None => (s, 10),
    };
    if digits.is_empty() || digits.len() > 16 {
        return Err(CmdError::BadNumber);
    }
    u64::from_str_radix(digits, radix).map_err(|_| CmdError::BadNumber)
}

/// The words of one write: UTF-8, one line (one trailing newline, as `echo` adds, is
/// allowed), split at blanks.
pub(crate) fn words(input: &[u8]) -> Result<impl Iterator<Item = &str>, CmdError> {
    let text = core::str::from_utf8(input).map_err(|_| CmdError::Malformed)?;
    let text = text.strip_suffix('\n').unwrap_or(text);
    if text.contains(['\n', '\r', '\0']) {
        return Err(CmdError::Malformed);
    }
    Ok(text.split([' ', '\t']).filter(|w| !w.is_empty()))
}
