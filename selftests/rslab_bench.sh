#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# A smoke test of the benchmark's own code under the debug kernel (KASAN, lockdep): every
# workload once, with one round (one warm-up), must produce sane rows for both allocators;
# footprint/shrink/release work; bad input is refused; and benchmarks keep working while CPUs
# go offline and online (their per-CPU jobs run under the CPU hotplug lock). The work is small
# and bounded: SLUB under kmemleak is ~100x slower than usual, and a loaded host must not push
# any step past the hung-task timeout. (Numbers from a debug kernel mean nothing: `make bench`
# uses the perf one.)
DIR=$(dirname "$(realpath "$0")")
. "$DIR/../kselftest/ktap_helpers.sh"
. "$DIR/rslab_lib.sh"

B=$RSLAB_DBG/bench
rows() { grep -c "^$1,$2,[0-9]*,$3," "$B"; }
sane() { awk -F, -v w="$1" '$1 == w { if ($5 + 0 <= 0 || $9 + 0 < 1) bad = 1; n++ } END { exit (bad || n == 0) }' "$B" </dev/null; }
all_sane() { local w; for w in pair batch concurrent cross flushlat; do sane "$w" || return 1; done; }

ktap_print_header
ktap_set_plan 13
rslab_unload
rslab_load
check "bench pair" ctl bench pair 64 rounds=1 ops=64
check "bench batch" ctl bench batch 256 n=64 rounds=1 ops=64
check "bench concurrent" ctl bench concurrent 64 n=16 rounds=1 ops=64
check "bench cross" ctl bench cross 1024 n=64 rounds=1
check "bench flushlat" ctl bench flushlat 64 n=32 rounds=1 ops=64
check "every workload has an rslab and a slub row with sane figures" bash -c "
	for w in pair batch concurrent cross; do
		[ \$(grep -c \"^\$w,.*,rslab,\" $B) = 1 ] && [ \$(grep -c \"^\$w,.*,slub,\" $B) = 1 ] || exit 1
	done
	grep -q '^flushlat,64,32,rslab,' $B"
check "medians positive, rounds counted" all_sane
sed 's/^/# /' "$B"
check "bench footprint keeps ~1 MiB live in both" ctl bench footprint 256
check_err "a second footprint run is EBUSY" "Device or resource busy" ctl bench footprint 256
check "bench shrink and release" bash -c "echo bench shrink >$RSLAB_DBG/control && echo bench release >$RSLAB_DBG/control"
check_err "release with nothing kept is ESRCH" "No such process" ctl bench release
# Benchmarks while CPUs go offline and online: every command succeeds (a job that ran on
# another CPU than its own would fail it with EIO).
mapfile -t CPUS < <(hotplug_cpus)
rm -f /tmp/bench_hp_stop
hotplug_loop() {
	local n=0 cpu
	while [ ! -e /tmp/bench_hp_stop ]; do
		for cpu in "${CPUS[@]}"; do
			cpu_set "$cpu" 0 && cpu_set "$cpu" 1 && n=$((n + 1))
		done
	done
	echo "$n" >/tmp/bench_hp_ops
}
hotplug_loop &
hp=$!
ok=1 runs=0
for ((i = 0; i < $(iters 1); i++)); do
	for w in "pair 64" "concurrent 64 n=16" "cross 256 n=32" "flushlat 64 n=16"; do
		ctl bench $w rounds=1 ops=64 || { ktap_print_msg "bench $w failed under CPU hotplug"; ok=0; }
		runs=$((runs + 1))
	done
done
touch /tmp/bench_hp_stop
wait $hp
ktap_print_msg "benchmarks under hotplug: $runs runs, $(cat /tmp/bench_hp_ops) CPU off/on cycles"
check "benchmarks succeed while CPUs go offline and online" test $ok = 1 -a ${#CPUS[@]} -gt 0
ctl bench footprint 1024
check "unload with a footprint run still held" rslab_unload
ktap_finished
