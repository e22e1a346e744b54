#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Stress test (a): every non-boot CPU offline/online, one at a time and all at once, in loops,
# while stress with remote frees runs on several caches (rslab_test's workers, through rslab's
# API; they follow the CPUs: a thread on every online CPU, none on an offline one). Afterwards no
# object was corrupted, every object is freed (stress stop destroys each cache, which rslab
# refuses while one is allocated), dead CPUs' arrays were drained, and every reaper ran on its
# CPU.
DIR=$(dirname "$(realpath "$0")")
. "$DIR/../kselftest/ktap_helpers.sh"
. "$DIR/rslab_lib.sh"

ITER=$(iters 3)
CACHES="h64 h512 h4096"

ktap_print_header
rslab_unload
# Before loading: a skipped test leaves nothing loaded.
mapfile -t CPUS < <(hotplug_cpus)
[ ${#CPUS[@]} -gt 0 ] || { ktap_skip_all "no hot-pluggable CPU"; exit "$KSFT_SKIP"; }
rslab_load reap_interval_ms=200
ktap_set_plan 9

ok=1
for c in $CACHES; do
	tctl stress start "$c" size="${c#h}" threads_per_cpu=1 batch=32 remote=1 || ok=0
done
check "caches created, stress running on every CPU" test $ok = 1

# The workers follow the CPUs: none on a CPU gone offline, one on each CPU that came back.
threads_of() { # threads_of <n>: every run has n threads now
	local c
	for c in $CACHES; do [ "$(stress_stat "$c" threads)" = "$1" ] || return 1; done
}
threads_msg() { ktap_print_msg "$1: $(cpus_online) CPUs online, threads: $(for c in $CACHES; do stress_stat "$c" threads; done | tr '\n' ' ')"; }
ncpus=$(cpus_online)
ok=1
for cpu in "${CPUS[@]}"; do cpu_set "$cpu" 0 || ok=0; done
wait_until 10 threads_of $((ncpus - ${#CPUS[@]})) || { ok=0; threads_msg "hot-pluggable CPUs offline"; }
for cpu in "${CPUS[@]}"; do cpu_set "$cpu" 1 || ok=0; done
wait_until 10 threads_of "$ncpus" || { ok=0; threads_msg "CPUs back online"; }
check "workers stop on CPUs going offline and start on CPUs coming back" test $ok = 1

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
	ktap_print_msg "$c: stress_iterations=$(stress_stat $c iterations) handoffs=$(stress_stat $c handoffs) threads=$(stress_stat $c threads) offline_drained=$(stat_of $c offline_drained)"
done
ktap_print_msg "hotplug: cpu_dead=$(hp_stat cpu_dead) dead_drained_objects=$(hp_stat dead_drained_objects)"
check "dead callback ran for every offline" test "$(hp_stat cpu_dead)" -ge $((ops / 2))
check "dead CPUs' arrays were drained" test "$(hp_stat dead_drained_objects)" -gt 0

check "a thread on every online CPU after the loops" wait_until 30 threads_of "$(cpus_online)"
ok=1
for c in $CACHES; do [ "$(stress_stat "$c" pattern_errors)" = 0 ] || ok=0; done
check "no object corrupted under CPU hotplug" test $ok = 1
check "stress stopped: every object freed, caches destroyed" stress_end $CACHES
check "every online CPU's reaper runs there, after hotplug" wait_until 30 reapers_ran 1
rslab_unload
ktap_finished
