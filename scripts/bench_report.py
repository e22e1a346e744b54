#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Turn make bench's guest logs into tables (stdout and table.txt), bench.csv and bench.png.

Reads <dir>/guest-<mode>/ktap.log ("# BENCHCSV workload,size,n,alloc,median_ns,min_ns,max_ns,
median_cycles,rounds") for every timing mode, and <dir>/guest-flush-<cpus>/ktap.log for the
flush_all latency. The rows come from rslab_test.ko's bench file (scripts/guest/bench.sh), but
for footprint and dimm_offline, which the guest program measures itself: a footprint row
carries pages in median_ns and live bytes in min_ns, rslab's pages from rslab's slabinfo
(slabs * pagesperslab of cache rslab_test_fp), SLUB's from /proc/slabinfo (rslab_bench_slub). Exit status 1 if a figure is below the physical floor (an alloc+free pair
under 5 ns, or 5 instructions in icount mode): a benchmark that measured nothing.
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
}
TARGETS = {"pair": 0.9, "batch": 1.0, "bulk": 1.0, "concurrent": 1.0, "cross": 1.0, "footprint": 1.0}
FLOOR_NS = 5.0
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


def main(out):
    lines, csv_rows, chart, bad = [], [], {}, []

    def say(s=""):
        print(s)
        lines.append(s)

    for path in sorted(glob.glob(os.path.join(out, "guest-*", "ktap.log"))):
        mode = os.path.basename(os.path.dirname(path))[len("guest-"):]
        if mode.startswith("flush-"):
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
            say(f"{'size':>6} {'phase':>7} {'rslab pages':>12} {'slub pages':>11} {'ratio':>6} {'target':>7}")
            for (w, size, phase), d in fp:
                rp, sp = int(d["rslab"][4]), int(d["slub"][4])
                q = ratio(rp, sp)
                say(f"{size:>6} {phase:>7} {rp:>12} {sp:>11} {q:>6.2f} {'ok' if q <= 1.0 else '>1.0':>7}")
                csv_rows.append([mode, f"footprint-{phase}", size, "", rp, "", "", "", sp, "", "", "", f"{q:.3f}"])
                chart.setdefault(mode, []).append((f"footprint {phase} {size}", q))
        dimm = [(k, d) for k, d in by.items() if k[0] == "dimm_offline"]
        if dimm:
            say("time to offline the DIMM's memory (ms): " +
                ", ".join(f"rslab {k[2]}: {d['rslab'][4]}" for k, d in dimm))
            for k, d in dimm:
                csv_rows.append([mode, f"dimm_offline-{k[2]}", k[1], "", d["rslab"][4], "", "", "", "", "", "", "", ""])
        say()

    flush = []
    for path in sorted(glob.glob(os.path.join(out, "guest-flush-*", "ktap.log"))):
        cpus = int(os.path.basename(os.path.dirname(path)).split("-")[-1])
        for r in read_rows(path):
            if r[0] == "flushlat":
                flush.append((cpus, float(r[4]), r[5], r[6]))
    if flush:
        say("== flush_all latency (rslab, every CPU caching objects; tcg wall clock)")
        say(f"{'vCPUs':>6} {'median us':>10} {'(min..max us)':>24}")
        for cpus, med, lo, hi in sorted(flush):
            say(f"{cpus:>6} {med / 1000:>10.1f} {'(' + f'{float(lo) / 1000:.1f}..{float(hi) / 1000:.1f}' + ')':>24}")
            csv_rows.append(["tcg", "flushlat", "64", str(cpus), med, lo, hi, "", "", "", "", "", ""])
        say()

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
