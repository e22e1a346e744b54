// SPDX-License-Identifier: GPL-2.0

//! Parser for the commands written to `/sys/kernel/debug/rslab_test/control`.
//!
//! One command per write; everything malformed is refused here (`EINVAL`), before any state is
//! touched. The cache name is checked here with rslab's own rules ([`Name`]) and again by
//! rslab when the cache is created. This file has no `kernel::` imports: it is compiled on the
//! host too and tested there.

use crate::words::{
    number,
    words,
    CmdError,
    Name, //
};

/// Largest object size a benchmark or stress run asks for (rslab's largest).
pub(crate) const MAX_SIZE: u64 = 16384;
/// Largest alignment accepted (rslab refuses more than a page itself).
pub(crate) const MAX_ALIGN: u64 = 4096;
/// Most stress threads per CPU accepted.
pub(crate) const MAX_THREADS_PER_CPU: u32 = 8;
/// Largest stress batch accepted.
pub(crate) const MAX_BATCH: u32 = 4096;
/// Largest `n` of a benchmark.
pub(crate) const MAX_BENCH_N: u32 = 4096;
/// Most rounds of a benchmark.
pub(crate) const MAX_BENCH_ROUNDS: u32 = 1000;
/// Most operations (objects) per round of a benchmark.
pub(crate) const MAX_BENCH_OPS: u32 = 4096;
/// Most create/destroy cycles of one `churn` command.
pub(crate) const MAX_CHURN: u32 = 100_000;

/// Options of `stress start`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StressOpts {
    /// Object size of the cache the run creates.
    pub(crate) size: u32,
    /// Its alignment (0: word alignment).
    pub(crate) align: u32,
    /// Whether it is a debug cache.
    pub(crate) debug: bool,
    /// Threads per online CPU.
    pub(crate) threads_per_cpu: u32,
    /// Most objects a thread holds at once.
    pub(crate) batch: u32,
    /// Hand a share of objects to a thread on another CPU to free.
    pub(crate) remote: bool,
}

/// A benchmark workload (`bench <workload> ...`), run for rslab and SLUB alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Workload {
    /// Alloc then free the same object, repeated.
    Pair,
    /// `n` allocs then `n` frees, on one CPU.
    Batch,
    /// `n` objects by one bulk allocation, then one bulk free, on one CPU.
    Bulk,
    /// `Batch` on every online CPU at once.
    Concurrent,
    /// `n` objects allocated on one CPU and freed on another (on another node if there is one).
    Cross,
    /// Time to shrink an rslab cache whose arrays hold objects on every CPU (its `flush_all`).
    FlushLatency,
    /// Random alloc/free mix leaving about 1 MiB live in each allocator; kept until release.
    Footprint,
    /// `bench trace <workload> <size> [n=<n>]`: the workload warmed up, then a few steady-state
    /// operations of each allocator between the trace markers, for make bench's cost model
    /// (scripts/costmodel/); not timed, no result row.
    Trace(Traced),
}

/// A workload whose instructions `bench trace` brackets with its markers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Traced {
    /// Alloc then free the same object.
    Pair,
    /// `n` allocs then `n` frees.
    Batch,
    /// One bulk allocation of `n` objects, then one bulk free.
    Bulk,
    /// `n` allocs on one CPU, `n` frees on another.
    Cross,
}

/// A parsed command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Command {
    /// `stress start <name> size=<bytes> [align=<n>] [threads_per_cpu=<n>] [batch=<n>]
    /// [remote=0|1] [debug=0|1]`
    StressStart(Name, StressOpts),
    /// `stress stop <name>`
    StressStop(Name),
    /// `bench <workload> <size> [n=<n>] [rounds=<n>] [ops=<n>]`, or
    /// `bench trace <workload> <size> [n=<n>]` (`pair`, `batch`, `bulk` or `cross`)
    Bench {
        /// What to measure.
        workload: Workload,
        /// Object size (alignment 8, as `kmem_cache_create` with no alignment).
        size: usize,
        /// Batch size (`batch`, `bulk`, `concurrent`, `cross`); ignored otherwise.
        n: u32,
        /// Measured rounds (after warm-up rounds).
        rounds: u32,
        /// Operations (objects) per round of `pair`, `batch`, `bulk`, `concurrent` and
        /// `flushlat`: `None` for the benchmark's own (2000 pairs, 4096 objects). A smoke test
        /// bounds its work with a small value.
        ops: Option<u32>,
    },
    /// `forget <name>`: create cache `<name>` through the API, use it, and drop the handle
    /// without destroying it: what a client that forgets its cache does, for rslab's report at
    /// unload to be tested.
    Forget(Name),
    /// `churn <name> count=<n> [size=<bytes>]`: `count` times, create cache `<name>` through the
    /// API, allocate and free a few objects of it, destroy it. The soak runs it while CPUs go
    /// offline and online: creation and destruction racing CPU hotplug.
    Churn {
        /// The caches' name (each is destroyed before the next is created under it).
        name: Name,
        /// Create/destroy cycles.
        count: u32,
        /// Object size (default 64).
        size: u32,
    },
    /// `bench shrink`: shrink both allocators' footprint caches.
    BenchShrink,
    /// `bench release`: free the footprint objects and destroy its caches.
    BenchRelease,
}

fn bounded(s: &str, min: u64, max: u64) -> Result<u64, CmdError> {
    let n = number(s)?;
    if n < min || n > max {
        return Err(CmdError::BadNumber);
    }
    Ok(n)
}

/// Options `key=value`, each at most once, each in its range: `spec` lists
/// `(key, min, max)`; returns the values found, in `spec`'s order.
fn options<'a, const N: usize>(
    words: impl Iterator<Item = &'a str>,
    spec: [(&str, u64, u64); N],
) -> Result<[Option<u64>; N], CmdError> {
    let mut out = [None; N];
    for w in words {
        let (key, value) = w.split_once('=').ok_or(CmdError::BadOption)?;
        let i = spec
            .iter()
            .position(|(k, _, _)| *k == key)
            .ok_or(CmdError::BadOption)?;
        if out[i].is_some() {
            return Err(CmdError::BadOption);
        }
        let (_, min, max) = spec[i];
        out[i] = Some(bounded(value, min, max)?);
    }
    Ok(out)
}

/// Parses one write to `control`.
pub(crate) fn parse(input: &[u8]) -> Result<Command, CmdError> {
    let mut words = words(input)?;
    let verb = words.next().ok_or(CmdError::Malformed)?;
    let mut next = || words.next().ok_or(CmdError::MissingArgument);
    match verb {
        "stress" => match next()? {
            "start" => {
                let name = Name::new(next()?)?;
                let [size, align, t, b, r, d] = options(
                    words,
                    [
                        ("size", 1, MAX_SIZE),
                        ("align", 0, MAX_ALIGN),
                        ("threads_per_cpu", 1, u64::from(MAX_THREADS_PER_CPU)),
                        ("batch", 1, u64::from(MAX_BATCH)),
                        ("remote", 0, 1),
                        ("debug", 0, 1),
                    ],
                )?;
                Ok(Command::StressStart(
                    name,
                    StressOpts {
                        size: size.ok_or(CmdError::MissingArgument)? as u32,
                        align: align.unwrap_or(0) as u32,
                        debug: d == Some(1),
                        threads_per_cpu: t.unwrap_or(1) as u32,
                        batch: b.unwrap_or(64) as u32,
                        remote: r == Some(1),
                    },
                ))
            }
            "stop" => {
                let name = Name::new(next()?)?;
                match words.next() {
                    Some(_) => Err(CmdError::TrailingInput),
                    None => Ok(Command::StressStop(name)),
                }
            }
            _ => Err(CmdError::UnknownCommand),
        },
        "churn" => {
            let name = Name::new(next()?)?;
            let [count, size] = options(
                words,
                [("count", 1, u64::from(MAX_CHURN)), ("size", 1, MAX_SIZE)],
            )?;
            Ok(Command::Churn {
                name,
                count: count.ok_or(CmdError::MissingArgument)? as u32,
                size: size.unwrap_or(64) as u32,
            })
        }
        "forget" => {
            let name = Name::new(next()?)?;
            match words.next() {
                Some(_) => Err(CmdError::TrailingInput),
                None => Ok(Command::Forget(name)),
            }
        }
        "bench" => {
            let workload = match next()? {
                "pair" => Workload::Pair,
                "batch" => Workload::Batch,
                "bulk" => Workload::Bulk,
                "concurrent" => Workload::Concurrent,
                "cross" => Workload::Cross,
                "flushlat" => Workload::FlushLatency,
                "footprint" => Workload::Footprint,
                "trace" => Workload::Trace(match next()? {
                    "pair" => Traced::Pair,
                    "batch" => Traced::Batch,
                    "bulk" => Traced::Bulk,
                    "cross" => Traced::Cross,
                    _ => return Err(CmdError::UnknownCommand),
                }),
                w @ ("shrink" | "release") => {
                    if words.next().is_some() {
                        return Err(CmdError::TrailingInput);
                    }
                    return Ok(if w == "shrink" {
                        Command::BenchShrink
                    } else {
                        Command::BenchRelease
                    });
                }
                _ => return Err(CmdError::UnknownCommand),
            };
            let size = number(next()?)?;
            if !(1..=MAX_SIZE).contains(&size) {
                return Err(CmdError::BadSize);
            }
            let [n, rounds, ops] = options(
                words,
                [
                    ("n", 1, u64::from(MAX_BENCH_N)),
                    ("rounds", 1, u64::from(MAX_BENCH_ROUNDS)),
                    ("ops", 1, u64::from(MAX_BENCH_OPS)),
                ],
            )?;
            Ok(Command::Bench {
                workload,
                size: size as usize,
                n: n.unwrap_or(16) as u32,
                rounds: rounds.unwrap_or(15) as u32,
                ops: ops.map(|o| o as u32),
            })
        }
        _ => Err(CmdError::UnknownCommand),
    }
}
