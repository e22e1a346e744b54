#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Stress test (d): every online CPU's reaper runs, and only on its own CPU (wrong_cpu stays 0),
# also after CPUs went off and on. Run it in a guest booted with
# workqueue.debug_force_rr_cpu=1 too (make check does): unbound work then wanders between CPUs,
# so a reaper re-armed with an unbound queue would be caught. Also: a bad module parameter is
# refused and loads nothing. The stress load comes from rslab_test.ko, through rslab's API.
DIR=$(dirname "$(realpath "$0")")
. "$DIR/../kselftest/ktap_helpers.sh"
. "$DIR/rslab_lib.sh"

ktap_print_header
ktap_set_plan 6
rslab_unload
ktap_print_msg "cmdline: $(cat /proc/cmdline)"
check_err "reap_interval_ms=5 refused with EINVAL" "Invalid argument" insmod "$RSLAB_KO" reap_interval_ms=5
check "nothing loaded after a refused parameter" bash -c "! test -d /sys/module/rslab"
rslab_load reap_interval_ms=100
tctl stress start r1 size=64 batch=8
check "every online CPU's reaper ran 5 times on its CPU" wait_until 60 reapers_ran 5
sed 's/^/# /' "$RSLAB_DBG/reaper"
mapfile -t CPUS < <(hotplug_cpus)
fails=0
for ((i = 0; i < $(iters 2); i++)); do
	for cpu in "${CPUS[@]}"; do cpu_set "$cpu" 0 || fails=$((fails + 1)); done
	for cpu in "${CPUS[@]}"; do cpu_set "$cpu" 1 || fails=$((fails + 1)); done
done
check "CPUs went off and on" test $fails = 0
base=$(awk '{ split($2, r, "="); if (min == "" || r[2] < min) min = r[2] } END { print min }' "$RSLAB_DBG/reaper")
check "after hotplug every reaper runs on its own CPU again" wait_until 60 reapers_ran $((base + 5))
sed 's/^/# /' "$RSLAB_DBG/reaper"
check "no reaper ever ran on a wrong CPU" bash -c "! grep -q 'wrong_cpu=[1-9]' $RSLAB_DBG/reaper"
tctl stress stop r1
rslab_unload
ktap_finished
