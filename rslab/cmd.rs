// SPDX-License-Identifier: GPL-2.0

//! Parser for the commands written to `/sys/kernel/debug/rslab/control`.
//!
//! One command per write. Everything malformed is refused here, before any state is touched, so
//! a refused command changes nothing. This file has no `kernel::` imports: it is compiled on the
//! host too and fuzzed there with random bytes.

use crate::layout::{MAX_OBJECT_SIZE, MIN_OBJECT_SIZE};

/// Longest cache name accepted.
pub(crate) const NAME_MAX: usize = 32;
/// Most stress threads per CPU accepted.
pub(crate) const MAX_THREADS_PER_CPU: u32 = 8;
/// Largest stress batch accepted.
pub(crate) const MAX_BATCH: u32 = 4096;

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

/// Options of `stress start`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StressOpts {
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
    /// `Batch` on every online CPU at once.
    Concurrent,
    /// `n` objects allocated on one CPU and freed on another (on another node if there is one).
    Cross,
    /// Time to `flush_all` an rslab cache whose arrays hold objects on every CPU.
    FlushLatency,
    /// Random alloc/free mix leaving about 1 MiB live in each allocator; kept until release.
    Footprint,
}

/// Largest `n` of a benchmark.
pub(crate) const MAX_BENCH_N: u32 = 4096;
/// Most rounds of a benchmark.
pub(crate) const MAX_BENCH_ROUNDS: u32 = 1000;
/// Most operations (objects) per round of a benchmark.
pub(crate) const MAX_BENCH_OPS: u32 = 4096;

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
    /// `stress start <name> [threads_per_cpu=<n>] [batch=<n>] [remote=0|1]`
    StressStart(Name, StressOpts),
    /// `stress stop <name>`
    StressStop(Name),
    /// `bench <workload> <size> [n=<n>] [rounds=<n>] [ops=<n>]`
    Bench {
        /// What to measure.
        workload: Workload,
        /// Object size (alignment 8, as `kmem_cache_create` with no alignment).
        size: usize,
        /// Batch size (`batch`, `concurrent`, `cross`); ignored otherwise.
        n: u32,
        /// Measured rounds (after warm-up rounds).
        rounds: u32,
        /// Operations (objects) per round of `pair`, `batch`, `concurrent` and `flushlat`:
        /// `None` for the benchmark's own (2000 pairs, 4096 objects). A smoke test bounds its
        /// work with a small value.
        ops: Option<u32>,
    },
    /// `bench shrink`: shrink both allocators' footprint caches.
    BenchShrink,
    /// `bench release`: free the footprint objects and destroy its caches.
    BenchRelease,
}

fn number(s: &str) -> Result<u64, CmdError> {
    let (digits, radix) = match s.strip_prefix("0x") {
        Some(hex) => (hex, 16),
        None => (s, 10),
    };
    if digits.is_empty() || digits.len() > 16 {
        return Err(CmdError::BadNumber);
    }
    u64::from_str_radix(digits, radix).map_err(|_| CmdError::BadNumber)
}

fn bounded(s: &str, min: u64, max: u64) -> Result<u64, CmdError> {
    let n = number(s)?;
    if n < min || n > max {
        return Err(CmdError::BadNumber);
    }
    Ok(n)
}

fn no_more<'a>(
    words: &mut impl Iterator<Item = &'a str>,
    cmd: Command,
) -> Result<Command, CmdError> {
    match words.next() {
        Some(_) => Err(CmdError::TrailingInput),
        None => Ok(cmd),
    }
}

/// Parses one write to `control`, given the page size alignments are bounded by.
pub(crate) fn parse(input: &[u8], page_size: usize) -> Result<Command, CmdError> {
    let text = core::str::from_utf8(input).map_err(|_| CmdError::Malformed)?;
    // One trailing newline is what `echo` adds; anything else multi-line is refused.
    let text = text.strip_suffix('\n').unwrap_or(text);
    if text.contains(['\n', '\r', '\0']) {
        return Err(CmdError::Malformed);
    }
    let mut words = text.split([' ', '\t']).filter(|w| !w.is_empty());
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
        "stress" => match words.next().ok_or(CmdError::MissingArgument)? {
            "start" => {
                let name = Name::new(words.next().ok_or(CmdError::MissingArgument)?)?;
                let (mut t, mut b, mut r) = (None, None, None);
                for w in words.by_ref() {
                    let (key, value) = w.split_once('=').ok_or(CmdError::BadOption)?;
                    let slot = match key {
                        "threads_per_cpu" => (&mut t, 1, u64::from(MAX_THREADS_PER_CPU)),
                        "batch" => (&mut b, 1, u64::from(MAX_BATCH)),
                        "remote" => (&mut r, 0, 1),
                        _ => return Err(CmdError::BadOption),
                    };
                    if slot.0.is_some() {
                        return Err(CmdError::BadOption);
                    }
                    *slot.0 = Some(bounded(value, slot.1, slot.2)?);
                }
                Command::StressStart(
                    name,
                    StressOpts {
                        threads_per_cpu: t.unwrap_or(1) as u32,
                        batch: b.unwrap_or(64) as u32,
                        remote: r.unwrap_or(0) == 1,
                    },
                )
            }
            "stop" => {
                Command::StressStop(Name::new(words.next().ok_or(CmdError::MissingArgument)?)?)
            }
            _ => return Err(CmdError::UnknownCommand),
        },
        "bench" => {
            let workload = match words.next().ok_or(CmdError::MissingArgument)? {
                "pair" => Workload::Pair,
                "batch" => Workload::Batch,
                "concurrent" => Workload::Concurrent,
                "cross" => Workload::Cross,
                "flushlat" => Workload::FlushLatency,
                "footprint" => Workload::Footprint,
                "shrink" => return no_more(&mut words, Command::BenchShrink),
                "release" => return no_more(&mut words, Command::BenchRelease),
                _ => return Err(CmdError::UnknownCommand),
            };
            let size = number(words.next().ok_or(CmdError::MissingArgument)?)?;
            if size < 1 || size > MAX_OBJECT_SIZE as u64 {
                return Err(CmdError::BadSize);
            }
            let (mut n, mut rounds, mut ops) = (None, None, None);
            for w in words.by_ref() {
                let (key, value) = w.split_once('=').ok_or(CmdError::BadOption)?;
                let slot = match key {
                    "n" => (&mut n, u64::from(MAX_BENCH_N)),
                    "rounds" => (&mut rounds, u64::from(MAX_BENCH_ROUNDS)),
                    "ops" => (&mut ops, u64::from(MAX_BENCH_OPS)),
                    _ => return Err(CmdError::BadOption),
                };
                if slot.0.is_some() {
                    return Err(CmdError::BadOption);
                }
                *slot.0 = Some(bounded(value, 1, slot.1)? as u32);
            }
            Command::Bench {
                workload,
                size: size as usize,
                n: n.unwrap_or(16),
                rounds: rounds.unwrap_or(15),
                ops,
            }
        }
        _ => return Err(CmdError::UnknownCommand),
    };
    if words.next().is_some() {
        return Err(CmdError::TrailingInput);
    }
    Ok(cmd)
}
