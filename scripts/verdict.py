#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Judge one rslab guest run from its two serial logs.

* KTAP results from the tests' channel (ttyS1): top-level kselftest lines and the nested KTAP of
  each test program (one level, prefixed "# "), plus rslab's KUnit suites from the kernel log
  (ttyS0): rslab_kunit (rslab.ko's internals) and rslab_api (rslab_test.ko's API conformance).
  A program's nested results are its leaves; a program with none counts as one leaf; a program that
  failed although none of its leaves did counts as one more failure.
* The kernel-log gate: any WARNING, BUG, Oops, lockdep, KASAN, kmemleak, RCU stall, soft lockup,
  hung task or rslab leak-at-unload report fails the run, whatever the tests said.

Exit status: 0 pass, 1 a test failed or was missing, 2 the kernel-log gate tripped, 3 no verdict
(the guest never reached its end marker: hang, timeout or panic without a report).
"""
import argparse
import re
import sys

TIMESTAMP = re.compile(r"^\[\s*\d+\.\d+\]\s?")
RESULT = re.compile(r"^(not )?ok (\d+)\s*-?\s*(.*?)(?:\s+#\s*(.*))?$")
PLAN = re.compile(r"^1\.\.(\d+)$")

# Each pattern names one class of kernel report; the first line that matches is shown.
GATE = [
    ("WARNING", re.compile(r"WARNING:")),
    ("BUG", re.compile(r"\bBUG:")),
    ("Oops", re.compile(r"\bOops\b|general protection fault|Kernel panic")),
    ("lockdep", re.compile(r"possible (circular|recursive) locking|inconsistent lock state|"
                           r"suspicious RCU usage|lock held when returning|"
                           r"possible irq lock inversion|bad unlock balance")),
    ("KASAN", re.compile(r"KASAN:")),
    ("kmemleak", re.compile(r"unreferenced object 0x|kmemleak: \d+ new suspected memory leak")),
    ("RCU stall", re.compile(r"rcu: INFO: .*detected stall|rcu_(sched|preempt) (self-)?detected stall")),
    ("soft lockup", re.compile(r"soft lockup")),
    ("hung task", re.compile(r"INFO: task .* blocked for more than")),
    ("UBSAN", re.compile(r"UBSAN:")),
    ("ODEBUG", re.compile(r"ODEBUG:")),
    ("list corruption", re.compile(r"list_(add|del) corruption")),
    ("panic", re.compile(r"Rust panic|panicked at")),
    # rslab's own leak report at unload (objects a user never freed), as SLUB's
    # "Objects remaining ... on __kmem_cache_shutdown()".
    ("rslab leak", re.compile(r"rslab: .*objects remaining at unload")),
]


def clean(line):
    return line.rstrip("\r\n").replace("\r", "")


def gate(console_lines, ktap_lines):
    """Return [(class, line)] for every kernel report found."""
    hits = []
    for line in console_lines:
        for name, pat in GATE:
            if pat.search(line):
                hits.append((name, line))
                break
    # kmemleak's report is read from debugfs onto the tests' channel.
    for line in ktap_lines:
        if GATE[5][1].search(line):
            hits.append(("kmemleak", line))
    return hits


class Tally:
    def __init__(self):
        self.passed = self.failed = self.skipped = 0
        self.failures = []

    def add(self, ok, directive, name):
        if directive and directive.upper().startswith("SKIP"):
            self.skipped += 1
        elif ok:
            self.passed += 1
        else:
            self.failed += 1
            self.failures.append(name)


def parse_ktap(lines, tally):
    """Parse the kselftest channel. Returns (planned, seen, finished)."""
    planned = None
    seen = 0
    finished = False
    leaves = []  # nested results of the program being run
    current = None
    for raw in lines:
        line = clean(raw)
        if line.startswith("rslab-guest: done"):
            finished = True
            continue
        if line.startswith("# selftests: "):
            current = line[len("# selftests: "):]
            leaves = []
            continue
        if line.startswith("# "):
            m = RESULT.match(line[2:].strip())
            if m and current is not None and not line[2:].startswith(" " * 4):
                leaves.append((m.group(1) is None, m.group(4), f"{current}: {m.group(3)}"))
            continue
        m = PLAN.match(line)
        if m and planned is None:
            planned = int(m.group(1))
            continue
        m = RESULT.match(line)
        if m:
            seen += 1
            ok = m.group(1) is None
            name = m.group(3)
            for leaf in leaves:
                tally.add(*leaf)
            if not leaves:
                tally.add(ok, m.group(4), name)
            elif not ok and all(l[0] for l in leaves):
                tally.add(False, None, f"{name} ({m.group(4) or 'failed'})")
            leaves = []
            current = None
    return planned, seen, finished


def parse_kunit(console_lines, tally):
    """KUnit prints KTAP to the kernel log: count the per-case results of rslab's suites, those
    of rslab.ko and of its client rslab_test.ko (the kernel's own built-in suites also run at
    boot; they are not ours to count)."""
    suites = 0
    suite = None
    # A suite runs at every load of its module: count each case of each suite once, failed if
    # any run failed. Two suites may have cases of the same name: they are kept apart.
    cases = {}
    for raw in console_lines:
        line = TIMESTAMP.sub("", clean(raw))
        if "# Subtest:" in line:
            name = line.split("# Subtest:", 1)[1].strip()
            suite = name if name.startswith("rslab") else None
            suites += suite is not None
            continue
        if suite and line.startswith("    ") and not line.startswith("        "):
            m = RESULT.match(line.strip())
            if m:
                ok, directive = m.group(1) is None, m.group(4)
                key = (suite, m.group(3))
                prev = cases.get(key)
                if prev is None or (prev[0] and not ok):
                    cases[key] = (ok, directive)
    for (suite_name, name), (ok, directive) in cases.items():
        tally.add(ok, directive, f"kunit: {suite_name}: {name}")
    return suites


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--console", required=True)
    ap.add_argument("--ktap", required=True)
    ap.add_argument("--qemu-status", type=int, default=0)
    args = ap.parse_args(argv)
    with open(args.console, errors="replace") as f:
        console = f.readlines()
    with open(args.ktap, errors="replace") as f:
        ktap = f.readlines()

    tally = Tally()
    planned, seen, finished = parse_ktap(ktap, tally)
    parse_kunit(console, tally)
    if planned is not None and seen < planned:
        tally.failed += planned - seen
        tally.failures.append(f"{planned - seen} planned test(s) never reported a result")

    for name in tally.failures:
        print(f"FAIL: {name}")
    print(f"{tally.passed} passed, {tally.failed} failed, {tally.skipped} skipped")

    hits = gate(console, ktap)
    if hits:
        print(f"kernel-log gate: {len(hits)} report line(s); the first of each class:")
        shown = set()
        for name, line in hits:
            if name not in shown:
                shown.add(name)
                print(f"  [{name}] {clean(line)}")
        return 2
    print("kernel-log gate: clean")
    if not finished:
        print(f"no verdict: the guest never finished (qemu status {args.qemu_status})")
        return 3
    if tally.failed or tally.passed + tally.skipped == 0:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
