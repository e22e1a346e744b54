// SPDX-License-Identifier: GPL-2.0

//! Tests of the control-command parser, including random bytes.

use crate::cmd::*;
use crate::words::NAME_MAX;

const PAGE: usize = 4096;

fn p(s: &str) -> Result<Command, CmdError> {
    parse(s.as_bytes(), PAGE)
}

fn name(s: &str) -> Name {
    Name::new(s).unwrap()
}

#[test]
fn accepts_every_command() {
    assert_eq!(
        p("create foo 64\n"),
        Ok(Command::Create {
            name: name("foo"),
            size: 64,
            align: 8,
            debug: false
        })
    );
    assert_eq!(
        p("create a-B_9 8192 align=4096 debug"),
        Ok(Command::Create {
            name: name("a-B_9"),
            size: 8192,
            align: 4096,
            debug: true
        })
    );
    assert_eq!(p("destroy foo"), Ok(Command::Destroy(name("foo"))));
    assert_eq!(p("shrink foo"), Ok(Command::Shrink(name("foo"))));
    assert_eq!(p("flush foo"), Ok(Command::Flush(name("foo"))));
    assert_eq!(p("validate  foo "), Ok(Command::Validate(name("foo"))));
}

#[test]
fn refuses_malformed_input() {
    let cases: &[(&str, CmdError)] = &[
        ("", CmdError::Malformed),
        ("\n", CmdError::Malformed),
        ("create foo 64\ncreate bar 64", CmdError::Malformed),
        ("frobnicate foo", CmdError::UnknownCommand),
        ("CREATE foo 64", CmdError::UnknownCommand),
        ("create", CmdError::MissingArgument),
        ("create foo", CmdError::MissingArgument),
        ("create foo 0", CmdError::BadSize),
        ("create foo 16385", CmdError::BadSize),
        ("create foo -1", CmdError::BadNumber),
        ("create foo 12abc", CmdError::BadNumber),
        ("create foo 99999999999999999999", CmdError::BadNumber),
        ("create foo 64 align=3", CmdError::BadAlign),
        ("create foo 64 align=0", CmdError::BadAlign),
        ("create foo 64 align=8192", CmdError::BadAlign),
        ("create foo 64 align=8 align=8", CmdError::BadOption),
        ("create foo 64 debug debug", CmdError::BadOption),
        ("create foo 64 colour=red", CmdError::BadOption),
        ("create foo/bar 64", CmdError::BadName),
        ("create föö 64", CmdError::BadName),
        (
            "create 012345678901234567890123456789012 64",
            CmdError::BadName,
        ),
        ("destroy foo bar", CmdError::TrailingInput),
        ("stress start foo", CmdError::UnknownCommand),
        ("bench pair 64", CmdError::UnknownCommand),
    ];
    for (input, err) in cases {
        assert_eq!(p(input), Err(*err), "{input:?}");
    }
    assert_eq!(parse(b"create \xff 64", PAGE), Err(CmdError::Malformed));
    assert_eq!(parse(b"create foo\x00 64", PAGE), Err(CmdError::Malformed));
}

#[test]
fn names_up_to_32_bytes() {
    let n = "a".repeat(NAME_MAX);
    assert_eq!(p(&format!("destroy {n}")), Ok(Command::Destroy(name(&n))));
    assert_eq!(name(&n).as_str(), n);
}

/// xorshift64*: a fixed-seed generator, so a failure reproduces.
pub(crate) struct Rng(pub(crate) u64);
impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

#[test]
fn random_bytes_are_refused_or_well_formed() {
    let mut rng = Rng(0x5eed);
    let words = [
        "create", "destroy", "stress", "start", "x", "64", "align=8", " ", "\n", "debug",
    ];
    for _ in 0..200_000 {
        let len = (rng.next() % 48) as usize;
        let mut buf = Vec::with_capacity(len);
        while buf.len() < len {
            if rng.next() % 3 == 0 {
                buf.extend_from_slice(words[(rng.next() % words.len() as u64) as usize].as_bytes());
            } else {
                buf.push(rng.next() as u8);
            }
        }
        if let Ok(cmd) = parse(&buf, PAGE) {
            // Anything accepted is a well-formed command with valid fields.
            match cmd {
                Command::Create { size, align, .. } => {
                    assert!((1..=16384).contains(&size) && align.is_power_of_two() && align <= PAGE)
                }
                _ => {}
            }
            let text = core::str::from_utf8(&buf).unwrap();
            assert!(!text.trim_end_matches('\n').contains('\n'));
        }
    }
}
