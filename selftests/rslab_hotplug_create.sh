#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Stress test (c): cache create/destroy in a loop racing with a CPU offline/online loop: through
# rslab's control, and every third round through the API (rslab_test's stress start, a flush,
# stress stop; every other such run a debug cache). No command may fail for another reason than
# the documented ones, and no per-CPU structure may be missing (the kernel-log gate catches an
# oops).
DIR=$(dirname "$(realpath "$0")")
. "$DIR/../kselftest/ktap_helpers.sh"
. "$DIR/rslab_lib.sh"

ITER=$(iters 30)

ktap_print_header
rslab_unload
# Before loading: a skipped test leaves nothing loaded.
mapfile -t CPUS < <(hotplug_cpus)
[ ${#CPUS[@]} -gt 0 ] || { ktap_skip_all "no hot-pluggable CPU"; exit "$KSFT_SKIP"; }
rslab_load
ktap_set_plan 4

rm -f /tmp/create_done /tmp/hotplug_result
cpu_cycle_loop /tmp/create_done /tmp/hotplug_result &
start=$(date +%s)
fails=0
for ((i = 0; i < ITER; i++)); do
	n=cc$i
	size=$((16 << (i % 8)))
	if [ $((i % 3)) = 0 ]; then
		tctl stress start "$n" size=$size batch=16 remote=1 debug=$((i / 3 % 2)) ||
			{ fails=$((fails + 1)); continue; }
		ctl flush "$n" || fails=$((fails + 1))
		stress_end "$n" || fails=$((fails + 1))
	else
		ctl create "$n" $size || { fails=$((fails + 1)); continue; }
		ctl destroy "$n" || fails=$((fails + 1))
	fi
done
touch /tmp/create_done
wait
read -r cpu_ops cpu_fails </tmp/hotplug_result
ktap_print_msg "create/destroy iterations=$ITER failures=$fails cpu_ops=$cpu_ops cpu_failures=$cpu_fails seconds=$(($(date +%s) - start))"
check "create/destroy/stress never failed while CPUs came and went" test $fails = 0
check "CPUs went offline and online meanwhile" test "$cpu_ops" -gt 0
check "every CPU operation succeeded" test "$cpu_fails" = 0
check "no cache or run left behind" bash -c "[ \$(grep -c '^cc' $RSLAB_DBG/slabinfo) = 0 ] && [ -z \"\$(ls $RSLAB_TEST_DBG/stress)\" ]"
rslab_unload
ktap_finished
