#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make bench's guest program (perf kernel). RSLAB_BENCH_ONLY=all|flushlat.
# Prints every result as "# BENCHCSV <csv>" and KTAP for each step, so a broken run is seen.
DBG=/sys/kernel/debug/rslab
ROUNDS=${RSLAB_BENCH_ROUNDS:-15}
SIZES=${RSLAB_BENCH_SIZES:-16 64 256 1024 4096}
steps=()
ok() { steps+=("ok $*"); }
fail() { steps+=("not ok $*"); }
run() { local d=$1; shift; if "$@"; then ok "$d"; else fail "$d"; fi; }
ctl() { echo "$*" >"$DBG/control"; }
slub_pages() { awk '$1 == "rslab_bench_slub" { print $15 * $6 }' /proc/slabinfo; }
slub_live() { awk '$1 == "rslab_bench_slub" { print $2 * $4 }' /proc/slabinfo; }
rslab_fp() { sed -n "s/^# footprint rslab size=\([0-9]*\) pages=\([0-9]*\) live_objects=\([0-9]*\).*/\2 \3/p" "$DBG/bench"; }
blocks() {
	for m in /sys/devices/system/memory/memory[0-9]*; do
		if [ -e "$m/node$1" ] && grep -q Movable "$m/valid_zones"; then echo "$m"; fi
	done
}
ms_now() { local t=${EPOCHREALTIME/./}; echo $((t / 1000)); }

insmod /rslab/rslab.ko || { echo "TAP version 13"; echo "1..1"; echo "not ok 1 insmod"; exit 0; }
echo "# BENCHMODE cpus=$(nproc) $(cat /proc/cmdline)"
case "${RSLAB_BENCH_ONLY:-all}" in
all)
	for s in $SIZES; do
		run "pair $s" ctl bench pair "$s" rounds="$ROUNDS"
		for n in 1 16 256 4096; do run "batch $s n=$n" ctl bench batch "$s" n=$n rounds="$ROUNDS"; done
		for n in 16 256; do run "concurrent $s n=$n" ctl bench concurrent "$s" n=$n rounds="$ROUNDS"; done
		run "cross $s" ctl bench cross "$s" n=256 rounds="$ROUNDS"
		# Footprint: pages held per MiB of live objects after a random mix, then after shrink.
		if ctl bench footprint "$s"; then
			read -r rp rl <<<"$(rslab_fp)"
			echo "# BENCHCSV footprint,$s,mix,rslab,$rp,$((rl * s)),,,1"
			echo "# BENCHCSV footprint,$s,mix,slub,$(slub_pages),$(slub_live),,,1"
			ctl bench shrink
			read -r rp rl <<<"$(rslab_fp)"
			echo "# BENCHCSV footprint,$s,shrunk,rslab,$rp,$((rl * s)),,,1"
			echo "# BENCHCSV footprint,$s,shrunk,slub,$(slub_pages),$(slub_live),,,1"
			run "footprint $s" ctl bench release
		else
			fail "footprint $s"
		fi
	done
	# Time to offline the DIMM's memory without, then with rslab holding objects.
	node=$(ls -d /sys/devices/system/node/node* | sed 's/.*node//' | sort -n | tail -1)
	mapfile -t B < <(blocks "$node")
	for state in idle holding; do
		if [ $state = holding ]; then
			ctl create hold 256 && ctl bench footprint 1024 && ctl stress start hold batch=256
		fi
		t0=$(ms_now)
		okb=1
		for b in "${B[@]}"; do echo offline >"$b/state" || okb=0; done
		t1=$(ms_now)
		for b in "${B[@]}"; do echo online_movable >"$b/state" || okb=0; done
		echo "# BENCHCSV dimm_offline,$((${#B[@]} * 128)),$state,rslab,$((t1 - t0)),,,,1"
		[ $okb = 1 ] && ok "dimm offline ($state)" || fail "dimm offline ($state)"
		if [ $state = holding ]; then ctl stress stop hold; ctl bench release; ctl destroy hold; fi
	done
	;;
flushlat)
	run "flushlat" ctl bench flushlat 64 n=32 rounds="$ROUNDS"
	;;
esac
sed -n '2,$p' "$DBG/bench" | grep -v '^#' | sed 's/^/# BENCHCSV /'
run "rmmod" rmmod rslab
echo "TAP version 13"
echo "1..${#steps[@]}"
i=0
for s in "${steps[@]}"; do
	i=$((i + 1))
	case "$s" in "not ok "*) echo "not ok $i ${s#not ok }" ;; *) echo "ok $i ${s#ok }" ;; esac
done
