#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make soak, its hotplug phase: everything at once, for as long as it takes to reach the targets.
#  - stress: rslab_test's workers on every online CPU, on two caches (64 and 1024 bytes: in-slab
#    and off-slab headers), a quarter of their objects freed by a thread on another CPU (another
#    node where there is one); the sample client's workers too when it is built;
#  - CPUs: the hot-pluggable CPUs offline and online, round after round, each round one of three
#    patterns: one CPU at a time in order, all at once, or a random CPU toggled at random;
#  - memory: every movable block of the DIMM node offline (the node emptied), then online again
#    (refilled), round after round;
#  - caches created and destroyed: through the API (rslab_test's `churn`, 200 at a time) and
#    through rslab's debugfs control, racing the CPU and memory transitions.
# Targets (transitions, block cycles, create/destroy cycles) and a time budget come from make
# soak (RSLAB_SOAK_CPU, RSLAB_SOAK_MEM, RSLAB_SOAK_CREATE, RSLAB_SOAK_SECONDS); a loop stops at
# its target, all of them at the budget. A progress line every 30 s.
# Afterwards: every target reached, no transition failed, no object corrupted, the client's
# caches validate with allocs - frees == live == 0 and their slab pages accounted, every stress
# cache destroyed with nothing allocated, no reaper ran on a CPU not its own, and kmemleak finds
# nothing new from rslab's modules. The figures go to the host as a line "soak-figures: ...",
# which scripts/soak.sh adds up over its guest runs.
DIR=$(dirname "$(realpath "$0")")
. "$DIR/../kselftest/ktap_helpers.sh"
. "$DIR/../rslab/rslab_lib.sh"

CPU_TARGET=${RSLAB_SOAK_CPU:-200}
MEM_TARGET=${RSLAB_SOAK_MEM:-40}
CREATE_TARGET=${RSLAB_SOAK_CREATE:-400}
BUDGET=${RSLAB_SOAK_SECONDS:-600}
RUNS="s64 s1024"
CHURN=200
S=/tmp/soak
STOP=$S/stop

# count <file>: its number (0 before the loop wrote one).
count() { local n=0; [ -f "$1" ] && read -r n <"$1"; echo "${n:-0}"; }
# done_or_stopped <file> <target>: the loop reached its target, or the test ends.
done_or_stopped() { [ -e "$STOP" ] || [ "$(count "$1")" -ge "$2" ]; }

# Each loop writes "<done>" to $S/<loop> after every step and "<failures>" to $S/<loop>.fail.
cpu_loop() {
	local n=0 f=0 round=0 cpu i
	local -a order
	until done_or_stopped $S/cpu "$CPU_TARGET"; do
		case $((round % 3)) in
		0) for cpu in "${CPUS[@]}"; do
			cpu_set "$cpu" 0 && n=$((n + 1)) || f=$((f + 1))
			cpu_set "$cpu" 1 && n=$((n + 1)) || f=$((f + 1))
		done ;;
		1) for cpu in "${CPUS[@]}"; do cpu_set "$cpu" 0 && n=$((n + 1)) || f=$((f + 1)); done
		   for cpu in "${CPUS[@]}"; do cpu_set "$cpu" 1 && n=$((n + 1)) || f=$((f + 1)); done ;;
		2) # A random CPU toggled, 2 * CPUs times; then every CPU online again.
		   for ((i = 0; i < 2 * ${#CPUS[@]}; i++)); do
			cpu=${CPUS[RANDOM % ${#CPUS[@]}]}
			if [ "$(cat "/sys/devices/system/cpu/cpu$cpu/online")" = 1 ]; then
				cpu_set "$cpu" 0 && n=$((n + 1)) || f=$((f + 1))
			else
				cpu_set "$cpu" 1 && n=$((n + 1)) || f=$((f + 1))
			fi
		   done
		   for cpu in "${CPUS[@]}"; do
			[ "$(cat "/sys/devices/system/cpu/cpu$cpu/online")" = 1 ] ||
				{ cpu_set "$cpu" 1 && n=$((n + 1)) || f=$((f + 1)); }
		   done ;;
		esac
		round=$((round + 1))
		echo $n >$S/cpu
		echo $f >$S/cpu.fail
	done
}

mem_loop() {
	local n=0 f=0 emptied=0 b
	until done_or_stopped $S/mem "$MEM_TARGET"; do
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
	local n=0 f=0
	until done_or_stopped "$S/$1" "$2"; do
		if "$4" "$n"; then n=$((n + $3)); else f=$((f + 1)); fi
		echo $n >"$S/$1"
		echo $f >"$S/$1.fail"
	done
}
api_churn() { tctl churn sa count=$CHURN size=$((16 << ($1 / CHURN % 9))); }
ctl_cycle() { ctl create sd$(($1 % 4)) $((8 << ($1 % 10))) && ctl destroy sd$(($1 % 4)); }

progress() {
	ktap_print_msg "soak $(($(date +%s) - START))s: cpu_transitions=$(count $S/cpu)/$CPU_TARGET" \
		"mem_block_cycles=$(count $S/mem)/$MEM_TARGET node_emptied=$(count $S/emptied)" \
		"create_destroy=$(($(count $S/api) + $(count $S/ctl)))/$CREATE_TARGET" \
		"failures=$(($(count $S/cpu.fail) + $(count $S/mem.fail) + $(count $S/api.fail) + $(count $S/ctl.fail)))" \
		"stress_iterations=$(for r in $RUNS; do stress_stat "$r" iterations; done | tr '\n' ' ')"
}

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
ktap_set_plan 12
rm -rf $S && mkdir -p $S
trap cleanup EXIT
LEAKS0=$(kmemleak_rslab 0) || LEAKS0=

rslab_load reap_interval_ms=100
ok=1
if [ $HAVE_CLIENT = 1 ]; then insmod "$CLIENT_KO" || ok=0; fi
tctl stress start s64 size=64 batch=32 remote=1 || ok=0
tctl stress start s1024 size=1024 batch=16 remote=1 || ok=0
check "stress on every CPU: two rslab_test runs with remote frees$([ $HAVE_CLIENT = 1 ] && echo ", the sample client")" test $ok = 1
ktap_print_msg "CPUs ${CPUS[*]} hot-pluggable; node $NODE: blocks ${BLOCKS[*]##*/}; targets: cpu_transitions=$CPU_TARGET mem_block_cycles=$MEM_TARGET create_destroy=$CREATE_TARGET in ${BUDGET}s"

START=$(date +%s)
cpu_loop &
mem_loop &
create_loop api $((CREATE_TARGET / 2)) "$CHURN" api_churn &
create_loop ctl $((CREATE_TARGET - CREATE_TARGET / 2)) 1 ctl_cycle &
while :; do
	done_or_stopped $S/cpu "$CPU_TARGET" && done_or_stopped $S/mem "$MEM_TARGET" &&
		done_or_stopped $S/api $((CREATE_TARGET / 2)) &&
		done_or_stopped $S/ctl $((CREATE_TARGET - CREATE_TARGET / 2)) && break
	[ $(($(date +%s) - START)) -lt "$BUDGET" ] || { ktap_print_msg "time budget of ${BUDGET}s spent"; break; }
	for ((i = 0; i < 30; i++)); do
		[ "$(jobs -r | wc -l)" -gt 0 ] || break
		sleep 1
	done
	progress
done
touch "$STOP"
wait
progress
SECONDS_TAKEN=$(($(date +%s) - START))
CPU_N=$(count $S/cpu) MEM_N=$(count $S/mem) EMPTIED=$(count $S/emptied)
CREATE_N=$(($(count $S/api) + $(count $S/ctl)))
FAILS="cpu=$(count $S/cpu.fail) mem=$(count $S/mem.fail) api=$(count $S/api.fail) ctl=$(count $S/ctl.fail)"
for r in $RUNS; do ktap_print_msg "$r: $(tr '\n' ' ' <"$RSLAB_TEST_DBG/stress/$r")"; done
ktap_print_msg "hotplug: $(tr '\n' ' ' <"$RSLAB_DBG/hotplug")"

check "targets reached: cpu_transitions=$CPU_N/$CPU_TARGET mem_block_cycles=$MEM_N/$MEM_TARGET create_destroy=$CREATE_N/$CREATE_TARGET" \
	test "$CPU_N" -ge "$CPU_TARGET" -a "$MEM_N" -ge "$MEM_TARGET" -a "$CREATE_N" -ge "$CREATE_TARGET"
check "no transition, create or destroy failed ($FAILS)" test "$FAILS" = "cpu=0 mem=0 api=0 ctl=0"
check "node $NODE emptied and refilled $EMPTIED times" test "$EMPTIED" -ge $((MEM_N / ${#BLOCKS[@]}))
check "a thread of every run on every online CPU" wait_until 30 threads_everywhere $RUNS
check "no object corrupted, the workers still make progress" runs_ok 20 $RUNS
ccheck "the client's caches validate, nothing allocated, slab pages accounted" client_sound
WRONG=$(reaper_wrong)
check "no reaper ran on a CPU not its own (wrong_cpu=$WRONG)" test "$WRONG" = 0
check "every online CPU's reaper runs there" wait_until 30 reapers_ran 3
check "stress stop frees every object and destroys each run's cache" stress_end $RUNS
if [ $HAVE_CLIENT = 1 ]; then rmmod rslab_client && ok=1 || ok=0; else ok=1; fi
check "the client unloads, its caches destroyed" test $ok = 1
# Idle now: two scans (an object is reported by the second once older than 5 s).
LEAKS=$(kmemleak_rslab) || LEAKS=
ktap_print_msg "kmemleak: ${LEAKS:-no scan} objects of rslab's modules listed (${LEAKS0:-none} before)"
no_new() { [ -z "$LEAKS0" ] || { [ -n "$LEAKS" ] && [ "$LEAKS" -le "$LEAKS0" ]; }; }
check "kmemleak finds nothing new from rslab's modules" no_new
rslab_unload
ktap_print_msg "soak-figures: cpu_transitions=$CPU_N mem_block_cycles=$MEM_N node_emptied=$EMPTIED create_destroy=$CREATE_N wrong_cpu=$WRONG seconds=$SECONDS_TAKEN"
ktap_finished
