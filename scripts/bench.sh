#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make bench: the perf-profile kernel (no KASAN, lockdep, kmemleak), rslab against SLUB in the
# same guest, in two timing modes, then flush_all latency at 2, 4 and 8 vCPUs (rslab's and SLUB's,
# in both modes), then the cost model (estimated cycles: the instructions of steady-state
# allocator calls, recorded through QEMU's gdbstub in the tcg-icount guest, through llvm-mca-19
# for several CPU models; see scripts/costmodel/); tables on stdout, CSV and PNG under
# out/bench/<time>/.
#   RSLAB_BENCH_MODES   timing modes (default "tcg tcg-icount"; "kvm" where KVM works)
#   RSLAB_BENCH_CPUS    vCPU counts for flush_all latency (default "2 4 8"; empty: none)
#   RSLAB_BENCH_FLUSH_MODES  timing modes of flush_all latency (default "tcg tcg-icount")
#   RSLAB_BENCH_ROUNDS  measured rounds per row (default 15)
#   RSLAB_BENCH_COSTMODEL  0: no cost model (default 1)
#   RSLAB_TRACE_SIZES   object sizes the cost model traces (default "64 256")
set -euo pipefail
. "$(dirname "$0")/lib.sh"

"$RSLAB_TOP/scripts/setup.sh" bench
KB=$(RSLAB_PROFILE=perf "$RSLAB_TOP/scripts/kernel.sh")
use_kernel "$KB"
KDIR=$KB "$RSLAB_TOP/scripts/module.sh"
OUT=$RSLAB_TOP/out/bench/$(date +%Y%m%d-%H%M%S)
mkdir -p "$OUT"
ln -sfn "$OUT" "$RSLAB_TOP/out/bench/latest"
rc=0
for mode in ${RSLAB_BENCH_MODES-tcg tcg-icount}; do
	step_start "bench, timing mode $mode"
	RSLAB_ACCEL=$mode RSLAB_BENCH_ONLY=all RSLAB_LOGDIR=$OUT/guest-$mode \
		"$RSLAB_TOP/scripts/guest.sh" bench "$KB" >"$OUT/guest-$mode.log" 2>&1 || rc=1
	tail -n 3 "$OUT/guest-$mode.log"
	step_done
done
# flush_all latency, rslab's beside SLUB's (the control), in both timing modes: wall-clock TCG
# puts up to 8 vCPU threads on the host's cores, so its figure carries the host's scheduling; under
# -icount one thread runs the vCPUs in turn and a flush costs what all CPUs executed for it.
for mode in ${RSLAB_BENCH_FLUSH_MODES-tcg tcg-icount}; do
	for cpus in ${RSLAB_BENCH_CPUS-2 4 8}; do
		step_start "flush_all latency, $cpus vCPUs, timing mode $mode"
		RSLAB_ACCEL=$mode RSLAB_CPUS=$cpus RSLAB_BENCH_ONLY=flushlat RSLAB_LOGDIR=$OUT/guest-flush-$mode-$cpus \
			"$RSLAB_TOP/scripts/guest.sh" bench "$KB" >"$OUT/guest-flush-$mode-$cpus.log" 2>&1 || rc=1
		tail -n 3 "$OUT/guest-flush-$mode-$cpus.log"
		step_done
	done
done
if [ "${RSLAB_BENCH_COSTMODEL:-1}" = 1 ]; then
	step_start "cost model: allocator calls traced through QEMU's gdbstub (tcg-icount), then llvm-mca"
	"$RSLAB_TOP/scripts/costmodel/trace.sh" "$OUT" "$KB" || rc=1
	/usr/bin/python3 "$RSLAB_TOP/scripts/costmodel/model.py" "$OUT" || rc=1
	step_done
fi
/usr/bin/python3 "$RSLAB_TOP/scripts/bench_report.py" "$OUT" || rc=1
note "results: $OUT (table.txt, bench.csv, cycles.csv, bench.png)"
exit $rc
