#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# A smoke test of the benchmark's own code (rslab_test.ko, calling rslab through its exported
# API) under the debug kernel (KASAN, lockdep): every workload once, with one round (one
# warm-up), must produce sane rows for both allocators; footprint/shrink/release work, and the
# footprint run's rslab cache (rslab_test_fp) is an API cache: listed in rslab's slabinfo,
# validated while held, not destroyable from rslab's control (EPERM); bad input is refused; and
# benchmarks keep working while CPUs go offline and online (their per-CPU jobs run under the CPU
# hotplug lock). The work is small and bounded: SLUB under kmemleak is ~100x slower than usual,
# and a loaded host must not push any step past the hung-task timeout. (Numbers from a debug
# kernel mean nothing: `make bench` uses the perf one.)
DIR=$(dirname "$(realpath "$0")")
. "$DIR/../kselftest/ktap_helpers.sh"
. "$DIR/rslab_lib.sh"

B=$RSLAB_TEST_DBG/bench
FP=rslab_test_fp
sane() { awk -F, -v w="$1" '$1 == w { if ($5 + 0 <= 0 || $9 + 0 < 1) bad = 1; n++ } END { exit (bad || n == 0) }' "$B" </dev/null; }
all_sane() { local w; for w in pair batch bulk concurrent cross flushlat; do sane "$w" || return 1; done; }
# fp_line <size>: the bench file names the held footprint run, with its live objects.
fp_line() { grep -q "^# footprint rslab cache=$FP size=$1 live_objects=[1-9][0-9]*$" "$B"; }
# fp_pages: pages of the footprint run's rslab cache, from rslab's slabinfo (slabs * pagesperslab).
fp_pages() { awk -v n=$FP '$1 == n { print $13 * $6 }' "$RSLAB_DBG/slabinfo"; }

ktap_print_header
ktap_set_plan 23
rslab_unload
rslab_load
check "bench pair" tctl bench pair 64 rounds=1 ops=64
check "bench batch" tctl bench batch 256 n=64 rounds=1 ops=64
check "bench bulk" tctl bench bulk 256 n=64 rounds=1 ops=64
check "bench concurrent" tctl bench concurrent 64 n=16 rounds=1 ops=64
check "bench cross" tctl bench cross 1024 n=64 rounds=1
check "bench flushlat" tctl bench flushlat 64 n=32 rounds=1 ops=64
check "bench file starts with its CSV header" test "$(head -n1 "$B")" = "workload,size,n,alloc,median_ns,min_ns,max_ns,median_cycles,rounds"
check "every workload has an rslab and a slub row with sane figures" bash -c "
	for w in pair batch bulk concurrent cross flushlat; do
		[ \$(grep -c \"^\$w,.*,rslab,\" $B) = 1 ] && [ \$(grep -c \"^\$w,.*,slub,\" $B) = 1 ] || exit 1
	done"
check "medians positive, rounds counted" all_sane
sed 's/^/# /' "$B"
check "no benchmark cache left in rslab after the runs" bash -c "! grep -q '^rslab_test_bench ' $RSLAB_DBG/slabinfo"
check_err "rslab's control has no bench command any more" "Invalid argument" ctl bench pair 64 rounds=1 ops=64

check "bench footprint keeps ~1 MiB live in both" tctl bench footprint 256
grep '^# footprint' "$B" | sed 's/^/# /'
ktap_print_msg "$FP: $(grep "^$FP " "$RSLAB_DBG/slabinfo")"
check "the bench file names the held run's rslab cache" fp_line 256
check "rslab's slabinfo lists it with its pages" test "$(fp_pages)" -gt 0
check "SLUB's side is in /proc/slabinfo" grep -q '^rslab_bench_slub ' /proc/slabinfo
check_err "a second footprint run is EBUSY" "Device or resource busy" tctl bench footprint 256
# The held cache is an idle API cache: rslab validates it, and refuses to destroy it.
check "rslab validates the held cache" ctl validate $FP
check_err "rslab's destroy of the held cache is EPERM" "Operation not permitted" ctl destroy $FP
check "bench shrink, the cache still held and valid" bash -c ". $DIR/rslab_lib.sh; tctl bench shrink && ctl validate $FP && grep -q '^# footprint rslab cache=$FP ' $B"
check "bench release destroys the held cache" bash -c ". $DIR/rslab_lib.sh; tctl bench release && ! in_slabinfo $FP && ! grep -q '^# footprint' $B"
check_err "release with nothing kept is ESRCH" "No such process" tctl bench release
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
# cross needs two online CPUs: with one hot-pluggable CPU (2 vCPUs), the loop leaves only one
# online at times, and cross is refused then (EINVAL, nothing run): it runs here only if at least
# two CPUs stay online whatever the loop does, else only above.
WL=("pair 64" "bulk 64 n=16" "concurrent 64 n=16" "flushlat 64 n=16")
[ ${#CPUS[@]} -lt 2 ] || WL+=("cross 256 n=32")
for ((i = 0; i < $(iters 1); i++)); do
	for w in "${WL[@]}"; do
		tctl bench $w rounds=1 ops=64 || { ktap_print_msg "bench $w failed under CPU hotplug"; ok=0; }
		runs=$((runs + 1))
	done
done
touch /tmp/bench_hp_stop
wait $hp
ktap_print_msg "benchmarks under hotplug: $runs runs, $(cat /tmp/bench_hp_ops) CPU off/on cycles"
check "benchmarks succeed while CPUs go offline and online" test $ok = 1 -a ${#CPUS[@]} -gt 0
tctl bench footprint 1024
check "unload with a footprint run still held" rslab_unload
ktap_finished
