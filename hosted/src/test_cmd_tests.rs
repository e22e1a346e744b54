// SPDX-License-Identifier: GPL-2.0

//! Tests of the parser of rslab_test's control file, including random bytes.

use crate::cmd_tests::Rng;
use crate::test_cmd::*;
use crate::words::{CmdError, Name};

fn p(s: &str) -> Result<Command, CmdError> {
    parse(s.as_bytes())
}

fn name(s: &str) -> Name {
    Name::new(s).unwrap()
}

#[test]
fn accepts_every_command() {
    assert_eq!(
        p("stress start foo size=100 threads_per_cpu=2 batch=16 remote=1 debug=1 align=64"),
        Ok(Command::StressStart(
            name("foo"),
            StressOpts {
                size: 100,
                align: 64,
                debug: true,
                threads_per_cpu: 2,
                batch: 16,
                remote: true
            }
        ))
    );
    assert_eq!(
        p("stress start foo size=8\n"),
        Ok(Command::StressStart(
            name("foo"),
            StressOpts {
                size: 8,
                align: 0,
                debug: false,
                threads_per_cpu: 1,
                batch: 64,
                remote: false
            }
        ))
    );
    assert_eq!(p("stress stop foo"), Ok(Command::StressStop(name("foo"))));
    assert_eq!(
        p("bench batch 256 n=4096 rounds=7"),
        Ok(Command::Bench {
            workload: Workload::Batch,
            size: 256,
            n: 4096,
            rounds: 7,
            ops: None
        })
    );
    assert_eq!(
        p("bench bulk 64 ops=32 n=8 rounds=1"),
        Ok(Command::Bench {
            workload: Workload::Bulk,
            size: 64,
            n: 8,
            rounds: 1,
            ops: Some(32)
        })
    );
    assert_eq!(
        p("bench pair 16"),
        Ok(Command::Bench {
            workload: Workload::Pair,
            size: 16,
            n: 16,
            rounds: 15,
            ops: None
        })
    );
    assert_eq!(
        p("bench trace cross 256 n=32"),
        Ok(Command::Bench {
            workload: Workload::Trace(Traced::Cross),
            size: 256,
            n: 32,
            rounds: 15,
            ops: None
        })
    );
    assert_eq!(
        p("bench trace pair 64"),
        Ok(Command::Bench {
            workload: Workload::Trace(Traced::Pair),
            size: 64,
            n: 16,
            rounds: 15,
            ops: None
        })
    );
    assert_eq!(p("forget foo"), Ok(Command::Forget(name("foo"))));
    assert_eq!(
        p("churn c1 count=100"),
        Ok(Command::Churn {
            name: name("c1"),
            count: 100,
            size: 64
        })
    );
    assert_eq!(
        p("churn c1 size=4096 count=100000"),
        Ok(Command::Churn {
            name: name("c1"),
            count: 100_000,
            size: 4096
        })
    );
    assert_eq!(p("bench shrink"), Ok(Command::BenchShrink));
    assert_eq!(p("bench release\n"), Ok(Command::BenchRelease));
}

#[test]
fn refuses_malformed_input() {
    let cases: &[(&str, CmdError)] = &[
        ("", CmdError::Malformed),
        ("stress start foo size=8\nstress stop foo", CmdError::Malformed),
        ("create foo 64", CmdError::UnknownCommand),
        ("stress", CmdError::MissingArgument),
        ("stress start", CmdError::MissingArgument),
        ("stress start foo", CmdError::MissingArgument),
        ("stress start foo size=0", CmdError::BadNumber),
        ("stress start foo size=16385", CmdError::BadNumber),
        ("stress start foo/bar size=8", CmdError::BadName),
        ("stress start foo size=8 remote=2", CmdError::BadNumber),
        ("stress start foo size=8 debug=2", CmdError::BadNumber),
        ("stress start foo size=8 align=8192", CmdError::BadNumber),
        ("stress start foo size=8 threads_per_cpu=0", CmdError::BadNumber),
        ("stress start foo size=8 batch=4097", CmdError::BadNumber),
        ("stress start foo size=8 batch", CmdError::BadOption),
        ("stress start foo size=8 batch=1 batch=2", CmdError::BadOption),
        ("stress start foo size=8 colour=red", CmdError::BadOption),
        ("stress stop foo bar", CmdError::TrailingInput),
        ("forget", CmdError::MissingArgument),
        ("forget foo bar", CmdError::TrailingInput),
        ("churn", CmdError::MissingArgument),
        ("churn c1", CmdError::MissingArgument),
        ("churn c1 size=64", CmdError::MissingArgument),
        ("churn c1 count=0", CmdError::BadNumber),
        ("churn c1 count=100001", CmdError::BadNumber),
        ("churn c1 count=5 size=16385", CmdError::BadNumber),
        ("churn c1 count=5 count=6", CmdError::BadOption),
        ("churn c1 count=5 colour=red", CmdError::BadOption),
        ("stress pause foo", CmdError::UnknownCommand),
        ("bench", CmdError::MissingArgument),
        ("bench pair", CmdError::MissingArgument),
        ("bench sprint 64", CmdError::UnknownCommand),
        ("bench pair 0", CmdError::BadSize),
        ("bench pair 16385", CmdError::BadSize),
        ("bench batch 64 n=0", CmdError::BadNumber),
        ("bench batch 64 n=4097", CmdError::BadNumber),
        ("bench batch 64 rounds=1001", CmdError::BadNumber),
        ("bench batch 64 ops=0", CmdError::BadNumber),
        ("bench batch 64 ops=4097", CmdError::BadNumber),
        ("bench pair 64 ops=8 ops=8", CmdError::BadOption),
        ("bench batch 64 speed=9", CmdError::BadOption),
        ("bench shrink now", CmdError::TrailingInput),
        ("bench trace", CmdError::MissingArgument),
        ("bench trace pair", CmdError::MissingArgument),
        ("bench trace flushlat 64", CmdError::UnknownCommand),
        ("bench trace batch 0", CmdError::BadSize),
        ("bench trace batch 64 n=4097", CmdError::BadNumber),
    ];
    for (input, err) in cases {
        assert_eq!(p(input), Err(*err), "{input:?}");
    }
    assert_eq!(parse(b"stress stop \xff"), Err(CmdError::Malformed));
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng(7);
    let words = ["stress", "start", "stop", "bench", "pair", "size=8", "n=3", "x", "=", "0x10"];
    for _ in 0..20000 {
        let mut s = String::new();
        for _ in 0..(rng.next() % 6) {
            s.push_str(words[(rng.next() % words.len() as u64) as usize]);
            s.push(' ');
        }
        let _ = p(&s);
        let bytes: Vec<u8> = (0..(rng.next() % 24)).map(|_| rng.next() as u8).collect();
        let _ = parse(&bytes);
    }
}
