#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Turn make bench's guest logs into tables (stdout and table.txt), bench.csv and bench.png.

Reads <dir>/guest-<mode>/ktap.log ("# BENCHCSV workload,size,n,alloc,median_ns,min_ns,max_ns,
median_cycles,rounds") for every timing mode, and <dir>/guest-flush-<mode>-<cpus>/ktap.log for the
flush_all latency (rslab's and SLUB's, per timing mode and vCPU count). The rows come from
rslab_test.ko's bench file (scripts/guest/bench.sh), but for footprint and dimm_offline, which the
guest program measures itself: a footprint row carries pages in median_ns and live bytes in min_ns,
rslab's pages from rslab's slabinfo (slabs * pagesperslab of cache rslab_test_fp; older logs may
carry fractional pages, off-slab headers counted), SLUB's from /proc/slabinfo (rslab_bench_slub).
Exit status 1 if a figure is below the physical floor (an alloc+free pair under 5 ns, or 5
instructions in icount mode; an estimate under 5 cycles per object): a benchmark that measured
nothing.

The third table, estimated cycles, comes from the cost model (scripts/costmodel/): <dir>/trace/model.csv
("model,workload,size,n,alloc,cycles,raw_cycles,insns,irq,popf,rep", per object: one alloc and one free) and
<dir>/trace/calibration.csv ("model,snippet,cycles,raw_cycles"). The calibration is printed first, next to the
measured figures it should match; then one row per model and workload row, written to <dir>/cycles.csv
("model,workload,size,n,rslab_cycles,slub_cycles,ratio").
"""
import csv
import glob
import os
import re
import sys

MODES = {
    "tcg": "multi-threaded TCG, wall clock: ns are guest nanoseconds",
    "tcg-icount": "single-threaded TCG with -icount shift=0: 1 ns = 1 executed instruction, deterministic",
    "kvm": "KVM, wall clock",
    "cycles": "llvm-mca's estimate per model (scripts/costmodel/), cycles per object",
}
TARGETS = {"pair": 0.9, "batch": 1.0, "bulk": 1.0, "concurrent": 1.0, "cross": 1.0, "footprint": 1.0}
FLOOR_NS = 5.0
FLOOR_CYCLES = 5.0
# Measured figures the calibration is printed next to: Jesper Dangaard Brouer's, on an i7-4790K
# (Haswell), and this project's own popf measurement.
REFERENCE = {
    "local_irq_save/restore (popf)": "37 (Brouer, i7-4790K)",
    "local_irq_disable/enable": "7 (Brouer, i7-4790K)",
}
REFERENCE_NOTES = [
    "SLUB alloc+free pair: 42 cycles measured (Brouer, i7-4790K, the SLUB of 2015)",
    "popf: ~40 cycles measured on the development machine (pushfq;pop;push;popfq ~45 TSC ticks a round "
    "against ~5 for pushfq;pop, rdtscp); llvm-mca models it at ~5",
]
ROW = re.compile(r"^# BENCHCSV (.*)$")


def read_rows(path):
    rows = []
    with open(path, errors="replace") as f:
        for line in f:
            m = ROW.match(line.rstrip("\r\n"))
            if m:
                rows.append(next(csv.reader([m.group(1)])))
    return rows


def ratio(a, b):
    return a / b if b else float("nan")


def read_csv(path):
    """The rows of a CSV file with a header, as dicts; [] if it is missing."""
    try:
        with open(path, newline="") as f:
            return list(csv.DictReader(f))
    except FileNotFoundError:
        return []


def cycles_table(out, say, chart, bad):
    """The cost model's calibration and cycles table; writes cycles.csv. Returns its rows."""
    cal = read_csv(os.path.join(out, "trace", "calibration.csv"))
    model = read_csv(os.path.join(out, "trace", "model.csv"))
    if not cal and not model:
        return []
    models = list(dict.fromkeys(r["model"] for r in cal + model))
    say("== estimated cycles: llvm-mca on the instructions each allocator call executed in the tcg-icount guest "
        "(scripts/costmodel/)")
    say("calibration, cycles per round (estimate, with llvm-mca's raw figure in brackets: it models neither cli nor sti, "
        "giving each its placeholder 100 cycles; the estimate counts 3.5 each, and rep movs/stos 20 + bytes/32):")
    say(f"{'snippet':<42}" + "".join(f"{m:>20}" for m in models) + f"  {'measured':<24}")
    snippets = list(dict.fromkeys(r["snippet"] for r in cal))
    for sn in snippets:
        cells = []
        for m in models:
            r = next((r for r in cal if r["model"] == m and r["snippet"] == sn), None)
            cells.append(f"{float(r['cycles']):.1f} ({float(r['raw_cycles']):.0f})" if r else "-")
        say(f"{sn:<42}" + "".join(f"{c:>20}" for c in cells) + f"  {REFERENCE.get(sn, '-'):<24}")
    for note in REFERENCE_NOTES:
        say(f"  {note}")
    by = {}
    for r in model:
        by.setdefault((r["model"], r["workload"], r["size"], r["n"]), {})[r["alloc"]] = r
    say("cycles per object (one alloc and one free), estimate; raw llvm-mca, instructions, cli+sti, popf and rep "
        "string instructions (memcpy, memset) per object, rslab/slub:")
    say(f"{'model':<16}{'workload':<9}{'size':>6}{'n':>6} {'rslab cyc':>10} {'slub cyc':>9} {'ratio':>6} "
        f"{'rslab raw':>10} {'slub raw':>9} {'rslab ins':>10} {'slub ins':>9} {'cli+sti':>10} {'popf':>10} {'rep':>10}")
    rows = []
    for (m, w, size, n), d in by.items():
        r, s_ = d.get("rslab"), d.get("slub")
        if not r or not s_:
            continue
        rc, sc = float(r["cycles"]), float(s_["cycles"])
        q = ratio(rc, sc)
        say(f"{m:<16}{w:<9}{size:>6}{(n or '-'):>6} {rc:>10.1f} {sc:>9.1f} {q:>6.2f} {float(r['raw_cycles']):>10.1f} "
            f"{float(s_['raw_cycles']):>9.1f} {float(r['insns']):>10.1f} {float(s_['insns']):>9.1f} "
            f"{r['irq'] + '/' + s_['irq']:>10} {r['popf'] + '/' + s_['popf']:>10} "
            f"{r.get('rep', '-') + '/' + s_.get('rep', '-'):>10}")
        rows.append([m, w, size, n, f"{rc:.1f}", f"{sc:.1f}", f"{q:.3f}"])
        chart.setdefault("cycles", []).append((f"{m} {w}{'' if not n else ' n=' + n} {size}", q))
        for v in (rc, sc):
            if v < FLOOR_CYCLES:
                bad.append(f"cycles {m} {w} {size}: {v} cycles per object is below the {FLOOR_CYCLES} cycles floor")
    say()
    with open(os.path.join(out, "cycles.csv"), "w", newline="") as f:
        wr = csv.writer(f)
        wr.writerow(["model", "workload", "size", "n", "rslab_cycles", "slub_cycles", "ratio"])
        wr.writerows(rows)
    return rows

def flush_dirs(out):
    """(mode, vCPUs, ktap.log) of every flush_all latency guest: guest-flush-<mode>-<cpus>, or
    guest-flush-<cpus> (wall-clock TCG) as make bench wrote them before it had two modes."""
    found = []
    for path in sorted(glob.glob(os.path.join(out, "guest-flush-*", "ktap.log"))):
        name = os.path.basename(os.path.dirname(path))[len("guest-flush-"):]
        mode, _, cpus = name.rpartition("-")
        if cpus.isdigit():
            found.append((mode or "tcg", int(cpus), path))
    return found


def span(row):
    """A row's "(min..max)" in thousands (us, or k instructions), or "-" without the row."""
    return f"({float(row[5]) / 1000:.1f}..{float(row[6]) / 1000:.1f})" if row else "-"


def flush_table(out, say, csv_rows):
    """flush_all latency per timing mode and vCPU count, rslab's beside SLUB's, and how much each
    CPU added: linear in CPUs means the same cost for every CPU added."""
    by = {}
    for mode, cpus, path in flush_dirs(out):
        for r in read_rows(path):
            if r[0] == "flushlat":
                by.setdefault(mode, {}).setdefault(cpus, {})[r[3]] = r
    for mode, rows in by.items():
        unit = "instructions (k)" if mode == "tcg-icount" else "us"
        say(f"== flush_all latency, every CPU caching objects of both allocators: shrink of rslab (its flush_all) "
            f"against SLUB's kmem_cache_shrink (its flush_all); timing mode {mode}: {MODES.get(mode, mode)}")
        say(f"{'vCPUs':>6} {'rslab ' + unit:>22} {'(min..max)':>22} {'slub ' + unit:>22} {'(min..max)':>22} "
            f"{'ratio':>6} {'rslab per CPU':>14} {'slub per CPU':>13}")
        prev = None
        for cpus in sorted(rows):
            d = rows[cpus]
            r, s = d.get("rslab"), d.get("slub")
            if not r:
                continue
            rn = float(r[4])
            sn = float(s[4]) if s else float("nan")
            # The cost of each CPU added since the previous row: constant if linear.
            if prev:
                step_r = (rn - prev[1]) / (cpus - prev[0])
                step_s = (sn - prev[2]) / (cpus - prev[0])
                steps = f"{step_r / 1000:>14.1f} {step_s / 1000:>13.1f}"
            else:
                steps = f"{'-':>14} {'-':>13}"
            say(f"{cpus:>6} {rn / 1000:>22.1f} {span(r):>22} {sn / 1000:>22.1f} {span(s):>22} "
                f"{ratio(rn, sn):>6.2f} {steps}")
            csv_rows.append([mode, "flushlat", r[1], str(cpus), rn, r[5], r[6], "", sn if s else "",
                             s[5] if s else "", s[6] if s else "", "", f"{ratio(rn, sn):.3f}" if s else ""])
            prev = (cpus, rn, sn)
        say()


def main(out):
    lines, csv_rows, chart, bad = [], [], {}, []

    def say(s=""):
        print(s)
        lines.append(s)

    for path in sorted(glob.glob(os.path.join(out, "guest-*", "ktap.log"))):
        mode = os.path.basename(os.path.dirname(path))[len("guest-"):]
        if mode.startswith("flush-") or mode == "trace":
            continue
        rows = read_rows(path)
        by = {}
        for r in rows:
            w, size, n, alloc = r[0], r[1], r[2], r[3]
            by.setdefault((w, size, n), {})[alloc] = r
        say(f"== timing mode {mode}: {MODES.get(mode, mode)}")
        say(f"{'workload':<11}{'size':>6}{'n':>7} {'rslab ns':>10} {'(min..max)':>19} {'slub ns':>10} "
            f"{'(min..max)':>19} {'ratio':>6} {'target':>7} {'rslab cyc':>10} {'slub cyc':>10}")
        for (w, size, n), d in by.items():
            if w in ("footprint", "dimm_offline", "flushlat"):
                continue
            r, s = d.get("rslab"), d.get("slub")
            if not r or not s:
                continue
            rn, sn = float(r[4]), float(s[4])
            q = ratio(rn, sn)
            t = TARGETS.get(w)
            met = "ok" if t and q <= t else f">{t}"
            label = "pair" if w == "pair" else w
            say(f"{label:<11}{size:>6}{(n if w != 'pair' else '-'):>7} {rn:>10.1f} {'(' + r[5] + '..' + r[6] + ')':>19} "
                f"{sn:>10.1f} {'(' + s[5] + '..' + s[6] + ')':>19} {q:>6.2f} {met:>7} {float(r[7]):>10.1f} {float(s[7]):>10.1f}")
            csv_rows.append([mode, w, size, n if w != "pair" else "", rn, r[5], r[6], r[7], sn, s[5], s[6], s[7], f"{q:.3f}"])
            chart.setdefault(mode, []).append((f"{w}{'' if w == 'pair' else ' n=' + n} {size}", q))
            for v in (rn, sn):
                if w == "pair" and v < FLOOR_NS:
                    bad.append(f"{mode} {w} {size}: {v} ns per pair is below the {FLOOR_NS} ns floor")
        # rslab_alloc_bulk/rslab_free_bulk must cost less per object than as many single calls.
        bulk = [(size, n, float(d["rslab"][4]), float(by[("batch", size, n)]["rslab"][4]))
                 for (w, size, n), d in by.items()
                 if w == "bulk" and "rslab" in d and "rslab" in by.get(("batch", size, n), {})]
        if bulk:
            say("rslab bulk against single calls (batch), ns per object: " +
                ", ".join(f"{size}/{n}: {b:.1f} vs {s:.1f}{'' if b < s else ' (not cheaper)'}"
                          for size, n, b, s in bulk))
        fp = [(k, d) for k, d in by.items() if k[0] == "footprint"]
        if fp:
            say("footprint: pages held for the same ~1 MiB of live objects (random alloc/free mix), then after shrink")
            say("  (both keep their slab metadata in the struct page: a slab's pages are all it costs)")
            say(f"{'size':>6} {'phase':>7} {'rslab pages':>12} {'slub pages':>11} {'ratio':>6} {'target':>7}")
            for (w, size, phase), d in fp:
                rp, sp = float(d["rslab"][4]), int(d["slub"][4])
                q = ratio(rp, sp)
                say(f"{size:>6} {phase:>7} {rp:>12.1f} {sp:>11} {q:>6.3f} {'ok' if q <= 1.0 else '>1.0':>7}")
                csv_rows.append([mode, f"footprint-{phase}", size, "", rp, "", "", "", sp, "", "", "", f"{q:.3f}"])
                chart.setdefault(mode, []).append((f"footprint {phase} {size}", q))
        dimm = [(k, d) for k, d in by.items() if k[0] == "dimm_offline"]
        if dimm:
            say("time to offline the DIMM's memory (ms): " +
                ", ".join(f"rslab {k[2]}: {d['rslab'][4]}" for k, d in dimm))
            for k, d in dimm:
                csv_rows.append([mode, f"dimm_offline-{k[2]}", k[1], "", d["rslab"][4], "", "", "", "", "", "", "", ""])
        say()

    flush_table(out, say, csv_rows)

    cycles_table(out, say, chart, bad)

    for b in bad:
        say(f"SANITY FAILURE: {b}")
    with open(os.path.join(out, "table.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(os.path.join(out, "bench.csv"), "w", newline="") as f:
        wr = csv.writer(f)
        wr.writerow(["mode", "workload", "size", "n", "rslab_median_ns", "rslab_min_ns", "rslab_max_ns",
                     "rslab_median_cycles", "slub_median_ns", "slub_min_ns", "slub_max_ns", "slub_median_cycles",
                     "ratio_rslab_over_slub"])
        wr.writerows(csv_rows)
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        modes = list(chart)
        if modes:
            fig, axes = plt.subplots(len(modes), 1, figsize=(16, 5 * len(modes)), squeeze=False)
            for ax, mode in zip(axes[:, 0], modes):
                labels = [l for l, _ in chart[mode]]
                vals = [v for _, v in chart[mode]]
                colors = ["tab:green" if v <= 1.0 else "tab:red" for v in vals]
                ax.bar(range(len(vals)), vals, color=colors)
                ax.axhline(1.0, color="black", linewidth=1)
                ax.axhline(0.9, color="grey", linewidth=1, linestyle="--")
                ax.set_xticks(range(len(vals)))
                ax.set_xticklabels(labels, rotation=90, fontsize=7)
                ax.set_ylabel("rslab / SLUB (lower is better)")
                ax.set_title(f"rslab / SLUB per workload and size: {mode} ({MODES.get(mode, mode)})", fontsize=9)
            fig.tight_layout()
            fig.savefig(os.path.join(out, "bench.png"), dpi=90)
    except ImportError:
        print("matplotlib missing: no bench.png (make setup installs python3-matplotlib for make bench)")
        return 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
