#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make bench's guest program (perf kernel). RSLAB_BENCH_ONLY=all|flushlat|trace.
# Prints every result as "# BENCHCSV <csv>" and KTAP for each step, so a broken run is seen.
# The benchmark is rslab_test.ko's (a client of rslab.ko's exported API); rslab's side of the
# footprint is read from rslab's slabinfo (cache rslab_test_fp), SLUB's from /proc/slabinfo.
DBG=/sys/kernel/debug/rslab
TDBG=/sys/kernel/debug/rslab_test
ROUNDS=${RSLAB_BENCH_ROUNDS:-15}
SIZES=${RSLAB_BENCH_SIZES:-16 64 256 1024 4096}
steps=()
ok() { steps+=("ok $*"); }
fail() { steps+=("not ok $*"); }
run() { local d=$1; shift; if "$@"; then ok "$d"; else fail "$d"; fi; }
tctl() { echo "$*" >"$TDBG/control"; }
slub_pages() { awk '$1 == "rslab_bench_slub" { print $15 * $6 }' /proc/slabinfo; }
slub_live() { awk '$1 == "rslab_bench_slub" { print $2 * $4 }' /proc/slabinfo; }
# rslab_fp: pages of the footprint run's rslab cache (slabs * pagesperslab: its slab metadata,
# like SLUB's, is in the struct page and costs nothing besides), and the objects the run holds
# live.
rslab_fp() {
	local pages live
	pages=$(awk '$1 == "rslab_test_fp" { print $13 * $6 }' "$DBG/slabinfo")
	live=$(sed -n 's/^# footprint rslab cache=rslab_test_fp size=[0-9]* live_objects=\([0-9]*\).*/\1/p' "$TDBG/bench")
	echo "${pages:-0} ${live:-0}"
}
blocks() {
	for m in /sys/devices/system/memory/memory[0-9]*; do
		if [ -e "$m/node$1" ] && grep -q Movable "$m/valid_zones"; then echo "$m"; fi
	done
}
ms_now() { local t=${EPOCHREALTIME/./}; echo $((t / 1000)); }

insmod /rslab/rslab.ko && insmod /rslab/rslab_test.ko ||
	{ echo "TAP version 13"; echo "1..1"; echo "not ok 1 insmod"; exit 0; }
echo "# BENCHMODE cpus=$(nproc) $(cat /proc/cmdline)"
case "${RSLAB_BENCH_ONLY:-all}" in
all)
	for s in $SIZES; do
		run "pair $s" tctl bench pair "$s" rounds="$ROUNDS"
		for n in 1 16 256 4096; do run "batch $s n=$n" tctl bench batch "$s" n=$n rounds="$ROUNDS"; done
		for n in 16 256; do run "bulk $s n=$n" tctl bench bulk "$s" n=$n rounds="$ROUNDS"; done
		for n in 16 256; do run "concurrent $s n=$n" tctl bench concurrent "$s" n=$n rounds="$ROUNDS"; done
		run "cross $s" tctl bench cross "$s" n=256 rounds="$ROUNDS"
		# Footprint: pages held per MiB of live objects after a random mix, then after shrink.
		if tctl bench footprint "$s"; then
			read -r rp rl <<<"$(rslab_fp)"
			run "footprint $s: rslab_test_fp in rslab's slabinfo, objects live" test "${rp%.*}" -gt 0 -a "$rl" -gt 0
			echo "# BENCHCSV footprint,$s,mix,rslab,$rp,$((rl * s)),,,1"
			echo "# BENCHCSV footprint,$s,mix,slub,$(slub_pages),$(slub_live),,,1"
			tctl bench shrink
			read -r rp rl <<<"$(rslab_fp)"
			echo "# BENCHCSV footprint,$s,shrunk,rslab,$rp,$((rl * s)),,,1"
			echo "# BENCHCSV footprint,$s,shrunk,slub,$(slub_pages),$(slub_live),,,1"
			run "footprint $s" tctl bench release
		else
			fail "footprint $s"
		fi
	done
	# Time to offline the DIMM's memory without, then with rslab holding objects.
	node=$(ls -d /sys/devices/system/node/node* | sed 's/.*node//' | sort -n | tail -1)
	mapfile -t B < <(blocks "$node")
	for state in idle holding; do
		if [ $state = holding ]; then
			tctl bench footprint 1024 && tctl stress start hold size=256 batch=256
		fi
		t0=$(ms_now)
		okb=1
		for b in "${B[@]}"; do echo offline >"$b/state" || okb=0; done
		t1=$(ms_now)
		for b in "${B[@]}"; do echo online_movable >"$b/state" || okb=0; done
		echo "# BENCHCSV dimm_offline,$((${#B[@]} * 128)),$state,rslab,$((t1 - t0)),,,,1"
		[ $okb = 1 ] && ok "dimm offline ($state)" || fail "dimm offline ($state)"
		if [ $state = holding ]; then tctl stress stop hold; tctl bench release; fi
	done
	;;
flushlat)
	run "flushlat" tctl bench flushlat 64 n=32 rounds="$ROUNDS"
	;;
trace)
	# The cost model's guest (scripts/costmodel/trace.sh): the addresses its debugger needs, then
	# every `bench trace`, each waiting for the debugger to arm the markers (a minute at most).
	awk 'BEGIN { n = split("RSLAB_TEST_TRACE_ARMED rslab_test_trace_begin rslab_test_trace_end rslab_alloc " \
			"rslab_free rslab_alloc_bulk rslab_free_bulk kmem_cache_alloc_noprof kmem_cache_free " \
			"kmem_cache_alloc_bulk_noprof kmem_cache_free_bulk", w); for (i = 1; i <= n; i++) want[w[i]] = 1 }
		want[$3] { print "# TRACESYM " $3 " " $1; delete want[$3] }' /proc/kallsyms
	echo "# TRACESYM end 0"
	for s in $SIZES; do
		run "trace pair $s" tctl bench trace pair "$s"
		for n in 16 256; do run "trace batch $s n=$n" tctl bench trace batch "$s" n=$n; done
		run "trace bulk $s n=16" tctl bench trace bulk "$s" n=16
		run "trace cross $s n=16" tctl bench trace cross "$s" n=16
	done
	;;
esac
sed -n '2,$p' "$TDBG/bench" | grep -v '^#' | sed 's/^/# BENCHCSV /'
run "rmmod rslab_test, then rslab" bash -c "rmmod rslab_test && rmmod rslab"
echo "TAP version 13"
echo "1..${#steps[@]}"
i=0
for s in "${steps[@]}"; do
	i=$((i + 1))
	case "$s" in "not ok "*) echo "not ok $i ${s#not ok }" ;; *) echo "ok $i ${s#ok }" ;; esac
done
