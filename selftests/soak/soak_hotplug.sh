#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make soak, its hotplug test: three phases, one after the other, each under stress the whole
# time.
#  - stress: rslab_test's workers on every online CPU, on two caches (64 and 1024 bytes: order-0
#    and order-2 slabs), a quarter of their objects freed by a thread on another CPU (another
#    node where there is one); the sample client's workers too when it is built;
#  - phase "mem": every movable block of the DIMM node offline (the node emptied), then online
#    again (refilled), round after round;
#  - phase "create": caches created and destroyed through the API (rslab_test's `churn`, 50 at a
#    time) and through rslab's debugfs control, racing the CPU loop, paced (CPU_PAUSE below: a
#    pause after each transition);
#  - phase "cpu": the CPU loop alone, not paced.
# The CPU loop takes the hot-pluggable CPUs offline and online, round after round, each round
# one of three patterns: one CPU at a time in order, all at once, or a random CPU toggled at
# random.
# Why phases, and why a paced CPU loop while caches are created: CPU hotplug, memory offline and
# cache creation all take cpu_hotplug_lock. All at once, a CPU transition took 1.5 s. Back-to-back
# transitions starve the creates (each create and destroy is a reader that waits for the writer
# queued before it): a run with the CPU loop unpaced beside them made ~1 create/destroy cycle a
# second. Alone, beside the stress (2 vCPUs, the debug kernel, an idle host), a transition takes
# 0.125 s.
# Each phase has a share of the time budget: memory up to a quarter, creates up to half of what
# is left, the CPU loop the rest.
# Targets (transitions, block cycles, create/destroy cycles) and the time budget come from make
# soak (RSLAB_SOAK_CPU, RSLAB_SOAK_MEM, RSLAB_SOAK_CREATE, RSLAB_SOAK_SECONDS); a loop stops at
# its target, a phase when its loops stopped or its time is spent. A progress line every 30 s.
# After each phase, with its stress stopped: no transition, create or destroy failed, no object
# corrupted, every stress cache destroyed with nothing allocated, the client's caches validate
# with allocs - frees == live == 0 and their slab pages accounted, no reaper ran on a CPU not its
# own, and kmemleak finds nothing new from rslab's modules. At the end: every target reached, the
# node emptied every round, every online CPU's reaper runs there, the client unloads. The figures
# go to the host as a line "soak-figures: ...", which scripts/soak.sh adds up over its guest runs.
DIR=$(dirname "$(realpath "$0")")
. "$DIR/../kselftest/ktap_helpers.sh"
. "$DIR/../rslab/rslab_lib.sh"

CPU_TARGET=${RSLAB_SOAK_CPU:-200}
MEM_TARGET=${RSLAB_SOAK_MEM:-40}
CREATE_TARGET=${RSLAB_SOAK_CREATE:-400}
BUDGET=${RSLAB_SOAK_SECONDS:-600}
RUNS="s64 s1024"
CHURN=50
# The CPU loop's pause after each transition while caches are created (seconds).
CPU_PAUSE=1
S=/tmp/soak
STOP=$S/stop

# count_into <variable> <file>: the file's number into the variable (0 before a loop wrote one),
# without a fork.
count_into() { local -n v=$1; v=0; [ -f "$2" ] && read -r v <"$2"; v=${v:-0}; }
# count <file>: its number, for the progress lines.
count() { local n; count_into n "$1"; echo "$n"; }

# urgent: this loop's shell at nice -20. Most of a transition's work runs in the task that writes
# the sysfs file; at nice 0 it shares a vCPU with three or more stress workers and a transition
# took 350 ms instead of 270 (2 vCPUs). The stress still runs on every CPU all the time.
urgent() { renice -n -20 -p "$BASHPID" >/dev/null || ktap_print_msg "renice failed: loops at nice 0"; }

# Each loop writes "<done>" to $S/<loop> after every step and "<failures>" to $S/<loop>.fail,
# going on from what an earlier phase's loop of the same kind left there.
# cpu_loop [pause]: with a pause (seconds), it sleeps that long after each transition.
# The loops fork nothing per step (no $(...), no cat): on this kernel under TCG a fork costs as
# much as a transition, and a loop that forked for its target test and for each CPU's state
# took 0.2 s per transition where the transition itself takes 0.1.
cpu_loop() {
	local n f round=0 cpu i on pause=${1:-}
	count_into n $S/cpu
	count_into f $S/cpu.fail
	urgent
	# step <cpu> <0|1>: one transition, counted.
	step() {
		if cpu_set "$1" "$2"; then n=$((n + 1)); else f=$((f + 1)); fi
		[ -z "$pause" ] || sleep "$pause"
	}
	until [ -e "$STOP" ] || [ "$n" -ge "$CPU_TARGET" ]; do
		case $((round % 3)) in
		0) for cpu in "${CPUS[@]}"; do step "$cpu" 0; step "$cpu" 1; done ;;
		1) for cpu in "${CPUS[@]}"; do step "$cpu" 0; done
		   for cpu in "${CPUS[@]}"; do step "$cpu" 1; done ;;
		2) # A random CPU toggled, 2 * CPUs times; then every CPU online again.
		   for ((i = 0; i < 2 * ${#CPUS[@]}; i++)); do
			cpu=${CPUS[RANDOM % ${#CPUS[@]}]}
			read -r on <"/sys/devices/system/cpu/cpu$cpu/online"
			step "$cpu" $((1 - on))
		   done
		   for cpu in "${CPUS[@]}"; do
			read -r on <"/sys/devices/system/cpu/cpu$cpu/online"
			[ "$on" = 1 ] || step "$cpu" 1
		   done ;;
		esac
		round=$((round + 1))
		echo $n >$S/cpu
		echo $f >$S/cpu.fail
	done
}

mem_loop() {
	local n f emptied b
	count_into n $S/mem
	count_into f $S/mem.fail
	count_into emptied $S/emptied
	urgent
	until [ -e "$STOP" ] || [ "$n" -ge "$MEM_TARGET" ]; do
		for b in "${BLOCKS[@]}"; do echo offline >"$b/state" || f=$((f + 1)); done
		node_has_memory "$NODE" || emptied=$((emptied + 1))
		for b in "${BLOCKS[@]}"; do
			if echo online_movable >"$b/state"; then n=$((n + 1)); else f=$((f + 1)); fi
		done
		node_has_memory "$NODE" || f=$((f + 1))
		echo $n >$S/mem
		echo $f >$S/mem.fail
		echo $emptied >$S/emptied
	done
}

# create_loop <loop> <target> <per step> <command>: <command> <cycles so far> creates and destroys
# <per step> caches, again and again until <target> cycles. The API's come in batches of $CHURN
# (one write each, rslab_test's churn), debugfs's one at a time.
create_loop() {
	local n f
	count_into n "$S/$1"
	count_into f "$S/$1.fail"
	until [ -e "$STOP" ] || [ "$n" -ge "$2" ]; do
		if "$4" "$n"; then n=$((n + $3)); else f=$((f + 1)); fi
		echo $n >"$S/$1"
		echo $f >"$S/$1.fail"
	done
}
api_churn() { tctl churn sa count=$CHURN size=$((16 << ($1 / CHURN % 9))); }
ctl_cycle() { ctl create sd$(($1 % 4)) $((8 << ($1 % 10))) && ctl destroy sd$(($1 % 4)); }
# The percentage of the cycles made through debugfs (RSLAB_SOAK_CTL); the API makes the rest. A
# debugfs cycle costs two writes parsed and a cache's debugfs directory made and removed by
# itself; the API's churn makes 50 per write, several times faster.
CTL_SHARE=${RSLAB_SOAK_CTL:-50}
case $CTL_SHARE in
''|*[!0-9]*) ktap_exit_fail_msg "RSLAB_SOAK_CTL must be a percentage, not '$CTL_SHARE'" ;;
esac
[ "$CTL_SHARE" -le 100 ] || ktap_exit_fail_msg "RSLAB_SOAK_CTL must be at most 100, not $CTL_SHARE"
CTL_TARGET=$((CREATE_TARGET * CTL_SHARE / 100))
API_TARGET=$((CREATE_TARGET - CTL_TARGET))

progress() {
	ktap_print_msg "soak $(($(date +%s) - START))s, phase $PHASE: cpu_transitions=$(count $S/cpu)/$CPU_TARGET" \
		"mem_block_cycles=$(count $S/mem)/$MEM_TARGET node_emptied=$(count $S/emptied)" \
		"create_destroy=$(($(count $S/api) + $(count $S/ctl)))/$CREATE_TARGET (api $(count $S/api), ctl $(count $S/ctl))" \
		"failures=$(($(count $S/cpu.fail) + $(count $S/mem.fail) + $(count $S/api.fail) + $(count $S/ctl.fail)))" \
		"stress_iterations=$(for r in $RUNS; do stress_stat "$r" iterations; done | tr '\n' ' ')"
}

# stress_begin: the stress of a phase, on every online CPU (the client resumed).
stress_begin() {
	local ok=1
	if [ $HAVE_CLIENT = 1 ]; then client_pause 0 || ok=0; fi
	tctl stress start s64 size=64 batch=32 remote=1 || ok=0
	tctl stress start s1024 size=1024 batch=16 remote=1 || ok=0
	[ $ok = 1 ]
}

# running <pid...>: one of them still runs.
running() { local p; for p; do kill -0 "$p" 2>/dev/null && return 0; done; return 1; }

# phase <name> <seconds> <loop...>: the phase's stress, its loops ("cpu", "mem", "api", "ctl") in
# the background until each reached its target or <seconds> passed, then its checks with the
# stress stopped and the client paused. "paced-cpu" is the CPU
# loop with a pause after each transition, which does not hold the phase open: it races the
# other loops and stops with them.
phase() {
	local name=$1 until=$(($(date +%s) + $2)) loop i fails leaks
	local -a lead=()
	shift 2
	PHASE=$name
	check "$name: stress on every CPU: two rslab_test runs with remote frees$([ $HAVE_CLIENT = 1 ] && echo ", the sample client")" stress_begin
	rm -f "$STOP"
	for loop in "$@"; do
		case $loop in
		cpu) cpu_loop & lead+=($!) ;;
		paced-cpu) cpu_loop "$CPU_PAUSE" & ;;
		mem) mem_loop & lead+=($!) ;;
		api) create_loop api $API_TARGET "$CHURN" api_churn & lead+=($!) ;;
		ctl) create_loop ctl $CTL_TARGET 1 ctl_cycle & lead+=($!) ;;
		esac
	done
	while running "${lead[@]}"; do
		[ "$(date +%s)" -lt "$until" ] || { ktap_print_msg "$name: its time is spent"; break; }
		for ((i = 0; i < 30; i++)); do
			running "${lead[@]}" || break
			sleep 1
		done
		progress
	done
	touch "$STOP"
	wait
	progress
	fails=
	for loop in "$@"; do fails+=" ${loop#paced-}=$(count "$S/${loop#paced-}.fail")"; done
	for r in $RUNS; do ktap_print_msg "$r: $(tr '\n' ' ' <"$RSLAB_TEST_DBG/stress/$r")"; done
	check "$name: no transition, create or destroy failed ($fails )" none_failed "$fails"
	check "$name: a thread of every run on every online CPU" wait_until 30 threads_everywhere $RUNS
	check "$name: no object corrupted, the workers still make progress" runs_ok 20 $RUNS
	check "$name: stress stop frees every object and destroys each run's cache" stress_end $RUNS
	if [ $HAVE_CLIENT = 1 ]; then client_pause 1 || ktap_print_msg "rslab_client: pause failed"; fi
	ccheck "$name: the client's caches validate, nothing allocated, slab pages accounted" sound $CLIENT_CACHES
	WRONG=$(reaper_wrong)
	check "$name: no reaper ran on a CPU not its own (wrong_cpu=$WRONG)" test "$WRONG" = 0
	# Idle now: two scans (an object is reported by the second once older than 5 s).
	leaks=$(kmemleak_rslab) || leaks=
	ktap_print_msg "$name: kmemleak: ${leaks:-no scan} objects of rslab's modules listed (${LEAKS0:-none} before)"
	check "$name: kmemleak finds nothing new from rslab's modules" no_new "$leaks"
}
# none_failed "<loop>=<failures>...": every loop's failures are 0.
none_failed() { [[ "$1" != *=[1-9]* ]]; }
# no_new <count>: kmemleak lists no more of rslab's objects than before the test (or has none).
no_new() { [ -z "$LEAKS0" ] || { [ -n "$1" ] && [ "$1" -le "$LEAKS0" ]; }; }

cleanup() {
	local c b
	touch "$STOP"
	wait
	for c in "${CPUS[@]}"; do cpu_set "$c" 1 2>/dev/null; done
	for b in "${BLOCKS[@]}"; do grep -q offline "$b/state" && echo online_movable >"$b/state"; done
}

ktap_print_header
rslab_unload
mapfile -t CPUS < <(hotplug_cpus)
[ ${#CPUS[@]} -gt 0 ] || { ktap_skip_all "no hot-pluggable CPU"; exit "$KSFT_SKIP"; }
NODE=$(dimm_node)
mapfile -t BLOCKS < <(movable_blocks "$NODE")
[ ${#BLOCKS[@]} -gt 0 ] || { ktap_skip_all "no movable memory block on node $NODE"; exit "$KSFT_SKIP"; }
ktap_set_plan 29
rm -rf $S && mkdir -p $S
trap cleanup EXIT
LEAKS0=$(kmemleak_rslab 0) || LEAKS0=

rslab_load reap_interval_ms=100
ok=1
if [ $HAVE_CLIENT = 1 ]; then insmod "$CLIENT_KO" || ok=0; fi
check "rslab loaded$([ $HAVE_CLIENT = 1 ] && echo ", the sample client too")" test $ok = 1
ktap_print_msg "CPUs ${CPUS[*]} hot-pluggable; node $NODE: blocks ${BLOCKS[*]##*/}; targets: cpu_transitions=$CPU_TARGET mem_block_cycles=$MEM_TARGET create_destroy=$CREATE_TARGET in ${BUDGET}s"

START=$(date +%s)
# left: the seconds of the budget not spent yet.
left() { echo $((START + BUDGET - $(date +%s))); }
phase mem $((BUDGET / 4)) mem
phase create $(($(left) / 2)) api ctl paced-cpu
phase cpu "$(left)" cpu
SECONDS_TAKEN=$(($(date +%s) - START))
CPU_N=$(count $S/cpu) MEM_N=$(count $S/mem) EMPTIED=$(count $S/emptied)
CREATE_N=$(($(count $S/api) + $(count $S/ctl)))
ktap_print_msg "hotplug: $(tr '\n' ' ' <"$RSLAB_DBG/hotplug")"

check "targets reached: cpu_transitions=$CPU_N/$CPU_TARGET mem_block_cycles=$MEM_N/$MEM_TARGET create_destroy=$CREATE_N/$CREATE_TARGET" \
	test "$CPU_N" -ge "$CPU_TARGET" -a "$MEM_N" -ge "$MEM_TARGET" -a "$CREATE_N" -ge "$CREATE_TARGET"
check "node $NODE emptied and refilled $EMPTIED times" test "$EMPTIED" -ge $((MEM_N / ${#BLOCKS[@]}))
check "every online CPU's reaper runs there" wait_until 30 reapers_ran 3
if [ $HAVE_CLIENT = 1 ]; then rmmod rslab_client && ok=1 || ok=0; else ok=1; fi
check "the client unloads, its caches destroyed" test $ok = 1
rslab_unload
ktap_print_msg "soak-figures: cpu_transitions=$CPU_N mem_block_cycles=$MEM_N node_emptied=$EMPTIED create_destroy=$CREATE_N wrong_cpu=$WRONG seconds=$SECONDS_TAKEN"
ktap_finished
