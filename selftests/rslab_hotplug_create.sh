#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Stress test (c): cache create/destroy (with stress start/stop in between) in a loop racing
# with a CPU offline/online loop. No command may fail for another reason than the documented
# ones, and no per-CPU structure may be missing (the kernel-log gate catches an oops).
DIR=$(dirname "$(realpath "$0")")
. "$DIR/../kselftest/ktap_helpers.sh"
. "$DIR/rslab_lib.sh"

ITER=$(iters 30)

ktap_print_header
rslab_unload
rslab_load
mapfile -t CPUS < <(hotplug_cpus)
[ ${#CPUS[@]} -gt 0 ] || { ktap_skip_all "no hot-pluggable CPU"; exit "$KSFT_SKIP"; }
ktap_set_plan 4

hotplug_loop() {
	local n=0 f=0 cpu
	while [ ! -e /tmp/create_done ]; do
		for cpu in "${CPUS[@]}"; do
			cpu_set "$cpu" 0 && n=$((n + 1)) || f=$((f + 1))
			cpu_set "$cpu" 1 && n=$((n + 1)) || f=$((f + 1))
		done
	done
	echo "$n $f" >/tmp/hotplug_result
}
rm -f /tmp/create_done /tmp/hotplug_result
hotplug_loop &
start=$(date +%s)
fails=0
for ((i = 0; i < ITER; i++)); do
	n=cc$i
	ctl create "$n" $((16 << (i % 8))) || { fails=$((fails + 1)); continue; }
	if [ $((i % 3)) = 0 ]; then
		ctl stress start "$n" batch=16 remote=1 || fails=$((fails + 1))
		ctl flush "$n" || fails=$((fails + 1))
		ctl stress stop "$n" || fails=$((fails + 1))
		validate_all "$n" || fails=$((fails + 1))
	fi
	ctl destroy "$n" || fails=$((fails + 1))
done
touch /tmp/create_done
wait
read -r cpu_ops cpu_fails </tmp/hotplug_result
ktap_print_msg "create/destroy iterations=$ITER failures=$fails cpu_ops=$cpu_ops cpu_failures=$cpu_fails seconds=$(($(date +%s) - start))"
check "create/destroy/stress never failed while CPUs came and went" test $fails = 0
check "CPUs went offline and online meanwhile" test "$cpu_ops" -gt 0
check "every CPU operation succeeded" test "$cpu_fails" = 0
check "no cache left behind" bash -c "[ \$(grep -c '^cc' $RSLAB_DBG/slabinfo) = 0 ]"
rslab_unload
ktap_finished
