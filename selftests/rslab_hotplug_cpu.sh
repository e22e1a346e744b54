#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Stress test (a): every non-boot CPU offline/online, one at a time and all at once, in loops,
# while stress with remote frees runs on several caches. Afterwards every cache validates,
# allocs minus frees is zero, dead CPUs' arrays were drained, and every reaper ran on its CPU.
DIR=$(dirname "$(realpath "$0")")
. "$DIR/../kselftest/ktap_helpers.sh"
. "$DIR/rslab_lib.sh"

ITER=$(iters 3)
CACHES="h64 h512 h4096"

ktap_print_header
rslab_unload
rslab_load reap_interval_ms=200
mapfile -t CPUS < <(hotplug_cpus)
[ ${#CPUS[@]} -gt 0 ] || { ktap_skip_all "no hot-pluggable CPU"; exit "$KSFT_SKIP"; }
ktap_set_plan 8

ok=1
for c in $CACHES; do
	ctl create "$c" "${c#h}" && ctl stress start "$c" threads_per_cpu=1 batch=32 remote=1 || ok=0
done
check "caches created, stress running on every CPU" test $ok = 1

start=$(date +%s)
ops=0 fails=0
for ((i = 0; i < ITER; i++)); do
	for cpu in "${CPUS[@]}"; do
		cpu_set "$cpu" 0 && ops=$((ops + 1)) || fails=$((fails + 1))
		cpu_set "$cpu" 1 && ops=$((ops + 1)) || fails=$((fails + 1))
	done
	for cpu in "${CPUS[@]}"; do cpu_set "$cpu" 0 && ops=$((ops + 1)) || fails=$((fails + 1)); done
	for cpu in "${CPUS[@]}"; do cpu_set "$cpu" 1 && ops=$((ops + 1)) || fails=$((fails + 1)); done
done
ktap_print_msg "iterations=$ITER cpu_ops=$ops failed_ops=$fails seconds=$(($(date +%s) - start))"
check "every CPU offline/online succeeded" test $fails = 0

for c in $CACHES; do
	ktap_print_msg "$c: stress_iterations=$(stat_of $c stress_iterations) handoffs=$(stat_of $c stress_handoffs) offline_drained=$(stat_of $c offline_drained)"
done
ktap_print_msg "hotplug: cpu_dead=$(hp_stat cpu_dead) dead_drained_objects=$(hp_stat dead_drained_objects)"
check "dead callback ran for every offline" test "$(hp_stat cpu_dead)" -ge $((ops / 2))
check "dead CPUs' arrays were drained" test "$(hp_stat dead_drained_objects)" -gt 0

ok=1
for c in $CACHES; do ctl stress stop "$c" || ok=0; done
check "stress stopped" test $ok = 1
check "every cache validates, allocs - frees == 0" validate_all $CACHES
check "every online CPU's reaper runs there, after hotplug" wait_until 30 reapers_ran 1
ok=1
for c in $CACHES; do ctl destroy "$c" || ok=0; done
check "caches destroyed" test $ok = 1
rslab_unload
ktap_finished
