#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""make bench's cost model, step 2: the recorded instruction streams through llvm-mca.

    scripts/costmodel/model.py <out dir>

Reads <out dir>/trace/streams.txt (scripts/costmodel/gdb_trace.py: every instruction executed
inside each allocator call of each traced region, in the deterministic guest) and writes
  <out dir>/trace/model.csv        model,workload,size,n,alloc,cycles,raw_cycles,insns,irq,popf,rep
                                   (per object: an alloc and a free; irq = cli+sti, popf = popf,
                                   rep = rep-prefixed string instructions)
  <out dir>/trace/calibration.csv  model,snippet,cycles,raw_cycles
  <out dir>/trace/<workload>-<size>[-<n>]-<alloc>[.raw].s   the assembly llvm-mca read (last model)
which scripts/bench_report.py turns into the cycles table and cycles.csv.

The stream of one workload row and one allocator is the concatenation of its regions' calls,
as straight-line code (branches, calls and returns included, taken or not: llvm-mca ignores the
program counter). gdb's AT&T text is cleaned up so that llvm-mc assembles it: the `# <address>`
annotation of rip-relative operands dropped, every nop form made `nop`, segment-override-only and
`notrack`/`bnd` prefixes dropped (absolute branch targets and rip-relative operands assemble as
they are). It runs `llvm-mca-19 -mcpu=<model> -iterations=<k> --call-latency=1` (k = 100, fewer
for long streams) per model; cycles per object = total cycles / k / objects traced.

Two figures per row. `raw_cycles` is llvm-mca as is. `cycles`, the estimate, corrects what the
models do not model: llvm-mca gives `cli` and `sti` (privileged, with no scheduling class) its
placeholder latency of 100 cycles; the estimate replaces each by a `nop` and adds IRQ_TOGGLE
cycles (Brouer's measured local_irq_disable/enable, 7 cycles a pair on an i7-4790K); likewise
`rep movs`/`rep stos` (memcpy, memset; unmodelled too), costed REP_START + bytes / REP_BYTES_PER_CYCLE
with the count gdb recorded (an assumption, not a measurement). Calls get a
latency of 1 (llvm-mca's default is 100: "calls are not modelled"). Pushes and pops of registers
and immediates become plain stores to and loads from the stack in the estimate: llvm-mca has no
stack engine and would otherwise serialise every prologue and epilogue through %rsp at load
latency (`stack_engine`). `popf` is modelled (about 5
cycles) far below what it costs (~40 cycles measured on the development machine); the rows count
it, none of the current fast paths executes it. The calibration runs the same pipeline on
hand-written snippets, for bench_report.py to print next to the measured figures.
"""
import csv
import os
import re
import subprocess
import sys

MCA = "llvm-mca-19"
MODELS = ("skylake", "icelake-server", "znver3", "znver4")
WORKLOADS = {1: "pair", 2: "batch", 3: "bulk", 4: "cross"}
ALLOCS = {0: "rslab", 1: "slub"}
# Cycles added per cli or sti in the estimate: half of a local_irq_disable/enable pair.
IRQ_TOGGLE = 3.5
# Cycles added per rep-prefixed string instruction (memcpy/memset by rep movs/stos), which
# llvm-mca does not model either: a start-up cost and a copy rate (fast strings), an assumption
# in the range of Intel's optimization manual, not a measurement.
REP_START = 20.0
REP_BYTES_PER_CYCLE = 32.0
REP_WIDTH = {"b": 1, "w": 2, "l": 4, "q": 8}
# Instructions llvm-mca assembles per run at most (iterations shrink for long streams).
MCA_BUDGET = 200000
# Calibration snippets: the x86 instructions of each primitive in a 7.3 kernel.
CALIBRATION = [
    ("local_irq_save/restore (popf)", ["pushfq", "pop %rax", "cli", "push %rax", "popfq"]),
    ("local_irq_save/restore (7.3: sti if IF)",
     ["pushfq", "pop %rax", "cli", "test $0x200,%eax", "je 0x0", "sti"]),
    ("local_irq_disable/enable", ["cli", "sti"]),
    ("preempt_disable/enable", ["incl %gs:0x10", "decl %gs:0x10", "je 0x0"]),
    ("this_cpu increment", ["incq %gs:0x10"]),
]
DROP_PREFIXES = {"cs", "ds", "es", "ss", "data16", "addr32", "notrack", "bnd", "rex", "rex.W"}


def parse_streams(text):
    """The regions of a streams.txt: a list of dicts (kind, size, n, which, objects, calls, cut),
    calls a list of (entry, [instruction text])."""
    regions, cur, last, skip = [], None, None, False
    for line in text.splitlines():
        tag, _, rest = line.partition(" ")
        if tag == "N" and skip:
            continue
        skip = False
        if tag == "I":
            # A rep string instruction single-steps one iteration at a time: each iteration
            # is recorded again at the same address (with %rcx one less). One instruction.
            addr, _, insn = rest.strip().partition(" ")
            if addr == last and insn.lstrip().startswith("rep"):
                skip = True
                continue
            last = addr
        elif tag != "N":
            last = None
        if tag == "R":
            kind, size, n, which, objects = (int(x) for x in rest.split())
            cur = {"kind": kind, "size": size, "n": n, "which": which, "objects": objects, "calls": [],
                   "cut": False}
        elif cur is None:
            continue
        elif tag == "C":
            cur["calls"].append((rest.strip(), []))
        elif tag == "I" and cur["calls"]:
            cur["calls"][-1][1].append(rest.split(None, 1)[1] if " " in rest.strip() else "")
        elif tag == "N" and cur["calls"] and cur["calls"][-1][1]:
            cur["calls"][-1][1][-1] += f" #rcx={int(rest)}"
        elif tag == "X":
            cur["cut"] = True
        elif tag == "E":
            regions.append(cur)
            cur = None
    return regions


def normalize(insn):
    """gdb's text of one instruction as llvm-mc assembles it, or None to leave it out."""
    insn = insn.split("#", 1)[0].strip()
    if not insn or "(bad)" in insn:
        return None
    words = insn.split()
    while words and words[0] in DROP_PREFIXES and len(words) > 1:
        words.pop(0)
    if any("nop" in w for w in words[:2]) or words[:2] == ["xchg", "%ax,%ax"]:
        return "nop"
    if words[0] in DROP_PREFIXES:
        return None
    return " ".join(words)


def unmodelled(a):
    """Whether an assembled line is one llvm-mca does not model (cli, sti, rep string ops)."""
    return a in ("cli", "sti") or a.startswith(("rep ", "repz ", "repnz "))


def rep_cycles(insn):
    """The estimate's cycles for a rep string instruction with its recorded count
    (`... #rcx=<n>`), from REP_START and REP_BYTES_PER_CYCLE."""
    m = re.search(r"#rcx=(\d+)", insn)
    op = (normalize(insn) or "").split(" ")[1:2]
    width = REP_WIDTH.get(op[0][-1:], 1) if op else 1
    return REP_START + (int(m.group(1)) * width if m else 0) / REP_BYTES_PER_CYCLE


def stack_engine(a):
    """`push`/`pop` of a register or an immediate as the CPU's stack engine executes them: a
    store to or a load from the stack that does not wait for the previous push or pop. llvm-mca
    does not model the stack engine: it chains every push and pop through %rsp at load or store
    latency (about 6 cycles each on skylake), which would make a function's prologue and
    epilogue the cost of a whole allocation. Other forms are left as they are."""
    words = a.split(" ", 1)
    if len(words) != 2 or not re.fullmatch(r"(push|pop)q?", words[0]):
        return a
    op = words[1].strip()
    if not re.fullmatch(r"%[a-z0-9]+|\$-?(0x)?[0-9a-f]+", op):
        return a
    if words[0].startswith("push"):
        return f"movq {op},(%rsp)"
    return a if op.startswith("$") else f"movq (%rsp),{op}"


def assembly(insns, adjust):
    """Lines for llvm-mca; with `adjust`, what llvm-mca does not model is a nop (its cost is
    added apart, by `extra_cycles`) and pushes and pops go through the stack engine
    (`stack_engine`)."""
    out = []
    for i in insns:
        a = normalize(i)
        if a is None:
            continue
        if adjust and unmodelled(a):
            a = "nop"
        elif adjust:
            a = stack_engine(a)
        out.append(a)
    return out


def extra_cycles(insns):
    """The estimate's cycles for the instructions `assembly` made nops."""
    total = 0.0
    for i in insns:
        a = normalize(i) or ""
        if a in ("cli", "sti"):
            total += IRQ_TOGGLE
        elif unmodelled(a):
            total += rep_cycles(i)
    return total


def count(insns, names):
    return sum(1 for i in insns if (normalize(i) or "").split(" ")[0] in names)


def parse_mca(text):
    """(iterations, total cycles) from llvm-mca's summary."""
    it = re.search(r"^Iterations:\s+(\d+)", text, re.M)
    cyc = re.search(r"^Total Cycles:\s+(\d+)", text, re.M)
    if not it or not cyc:
        raise ValueError("no llvm-mca summary")
    return int(it.group(1)), int(cyc.group(1))


def run_mca(lines, model, path):
    """Cycles per pass of `lines` under `model` (the assembly is kept in `path`)."""
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    k = max(5, min(100, MCA_BUDGET // max(1, len(lines))))
    p = subprocess.run([MCA, f"-mcpu={model}", f"-iterations={k}", "--call-latency=1", path],
                       capture_output=True, text=True)
    if p.returncode:
        raise RuntimeError(f"{MCA} -mcpu={model} {path}: {p.stderr.strip()[:400]}")
    it, cyc = parse_mca(p.stdout)
    return cyc / it


def estimate(insns, objects, model, base, mca=run_mca):
    """(estimated cycles, raw llvm-mca cycles) per object of one stream (assembly in
    `base`.s and `base`.raw.s)."""
    objects = max(1, objects)
    raw = mca(assembly(insns, False), model, base + ".raw.s") / objects
    est = (mca(assembly(insns, True), model, base + ".s") + extra_cycles(insns)) / objects
    return est, raw


def rows_of(regions):
    """{(workload, size, n, alloc): (instructions, objects)}, in trace order."""
    rows = {}
    for r in regions:
        if r["cut"]:
            continue
        key = (WORKLOADS.get(r["kind"], str(r["kind"])), r["size"], r["n"], ALLOCS.get(r["which"], str(r["which"])))
        insns, objects = rows.get(key, ([], 0))
        for _, body in r["calls"]:
            insns.extend(body)
        rows[key] = (insns, objects + r["objects"])
    return rows


def main(out, models=MODELS, mca=run_mca):
    d = os.path.join(out, "trace")
    with open(os.path.join(d, "streams.txt"), errors="replace") as f:
        rows = rows_of(parse_streams(f.read()))
    if not rows:
        print("cost model: no complete traced region in trace/streams.txt")
        return 1
    with open(os.path.join(d, "model.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["model", "workload", "size", "n", "alloc", "cycles", "raw_cycles", "insns", "irq", "popf",
                    "rep"])
        for model in models:
            for (wl, size, n, alloc), (insns, objects) in rows.items():
                path = os.path.join(d, f"{wl}-{size}{'' if wl == 'pair' else '-' + str(n)}-{alloc}")
                est, raw = estimate(insns, objects, model, path, mca)
                o = max(1, objects)
                w.writerow([model, wl, size, "" if wl == "pair" else n, alloc, f"{est:.1f}", f"{raw:.1f}",
                            f"{len(insns) / o:.1f}", f"{count(insns, ('cli', 'sti')) / o:.2f}",
                            f"{count(insns, ('popf', 'popfq')) / o:.2f}",
                            f"{sum(1 for i in insns if unmodelled(normalize(i) or '') and 'rep' in i) / o:.2f}"])
    with open(os.path.join(d, "calibration.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["model", "snippet", "cycles", "raw_cycles"])
        for model in models:
            for name, insns in CALIBRATION:
                path = os.path.join(d, "calibration")
                est, raw = estimate(insns, 1, model, path, mca)
                w.writerow([model, name, f"{est:.1f}", f"{raw:.1f}"])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
