#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Fault injection: rslab's own allocations fail, and the hotplug transitions it takes part in are
# made to fail, while stress runs (rslab_test's workers, and the sample client's single, bulk,
# node and GFP_ATOMIC allocations when it is built).
#  A. failslab and fail_page_alloc, restricted by their stack-trace filter to allocations made
#     from rslab.ko's code (its core's address range): first systematically, failing one
#     allocation of one command at a time (fail-nth: every seventh of a create on rslab's control,
#     every eleventh of a create through the API, rslab_test's stress start; every one, and a debug
#     create's, with RSLAB_SOAK=1); then at random while caches are created and destroyed on both
#     control files and shrunk, and CPUs go off and on.
#  B. The memory notifier error injector fails MEM_GOING_OFFLINE and MEM_GOING_ONLINE of a block
#     of the DIMM node (with RSLAB_SOAK=1 also of the node's last and first memory): rslab meets
#     the cancel events.
#  C. cpuhp's fail file fails rslab's own CPU hotplug states, and the states next to them, so a
#     CPU offline or online fails at rslab's callback or rolls back through it.
# Invariants: a create under injection succeeds whole (listed, its stats readable) or fails with
# ENOMEM and leaves no trace (the name is free again); users see failed allocations as NULL,
# never a corrupted object; after each phase, with injection off, every idle cache validates with
# allocs - frees == live == 0 and slabs allocated - freed == slabs on its node lists, stress stop
# destroys every run's cache (refused while an object is allocated), a failed CPU transition
# leaves rslab's callbacks balanced and every reaper on its own CPU, and kmemleak finds nothing
# new allocated from rslab's modules.
DIR=$(dirname "$(realpath "$0")")
. "$DIR/../kselftest/ktap_helpers.sh"
. "$DIR/rslab_lib.sh"

ITER=$(iters 6)
# With RSLAB_SOAK=1 the random part goes on past ITER rounds until this many failures were
# injected in all (make soak's target; at most 10 * ITER rounds).
FAULT_TARGET=0
[ "${RSLAB_SOAK:-0}" = 1 ] && FAULT_TARGET=${RSLAB_SOAK_FAULTS:-1000}
# Percent of the eligible allocations failed in the random part of phase A.
PROB=5
[ "${RSLAB_SOAK:-0}" = 1 ] && PROB=20
# Injections allowed (fault attributes' `times`): injected = TIMES - what is left.
TIMES=1000000
FS=/sys/kernel/debug/failslab
FPA=/sys/kernel/debug/fail_page_alloc
MEMINJ=/sys/kernel/debug/notifier-error-inject/memory/actions
STATES=/sys/devices/system/cpu/hotplug/states
ERR=/tmp/fi_err

# Helpers made of bash builtins: in the test guest (TCG, KASAN) a fork costs more than most of
# what the forked command does, and the checks below run many times.
# rd <var> <file>: <var> = the first line of <file>.
rd() { read -r "$1" <"$2"; }
# slurp <file>: LINES = the lines of <file>, read in one go. (A loop of `read` seeks back after
# each line, and a seq_file is rendered again at each seek: counters that change meanwhile would
# shift the lines under it.)
slurp() { mapfile -t LINES <"$1"; }
# kv <file> <key>: KV = the value of the line "<key> <value>" of <file>; fails if there is none.
kv() {
	local l
	KV=
	slurp "$1"
	for l in "${LINES[@]}"; do [[ "$l" == "$2 "* ]] && { KV=${l#* }; return 0; }; done
	return 1
}
# hp_load: HP[<key>] = each counter of rslab's hotplug file.
declare -A HP
hp_load() {
	local l
	HP=()
	slurp "$RSLAB_DBG/hotplug"
	for l in "${LINES[@]}"; do HP[${l%% *}]=${l#* }; done
}
# listed <cache>: rslab's slabinfo lists the cache.
listed() {
	local l
	slurp "$RSLAB_DBG/slabinfo"
	for l in "${LINES[@]}"; do [[ "$l" == "$1 "* ]] && return 0; done
	return 1
}
# has_err <text>: the last command's error output (in $ERR) says <text>.
has_err() {
	local e
	read -r -d '' e <"$ERR"
	[[ "$e" == *"$1"* ]]
}

# --- fault attributes ---------------------------------------------------------------------------
# Both attributes' settings are saved first and restored at exit, injection off first.
declare -A SAVED
fi_save() {
	local a f v
	for a in $FS $FPA; do
		for f in "$a"/*; do
			[ -f "$f" ] && [ -w "$f" ] && rd v "$f" && SAVED[$f]=$v
		done
	done
}
fi_restore() {
	local f
	fi_off
	for f in "${!SAVED[@]}"; do
		[[ "$f" == */probability ]] || echo "${SAVED[$f]}" >"$f"
	done
	for f in "${!SAVED[@]}"; do
		[[ "$f" != */probability ]] || echo "${SAVED[$f]}" >"$f"
	done
	echo 0 >/proc/self/fail-nth
}
fi_each() { local a; for a in $FS $FPA; do echo "$2" >"$a/$1" || return 1; done; }
fi_off() { fi_each probability 0; }
fi_on() { fi_each probability "$PROB"; }

# fi_arm <start> <end>: both attributes fail only allocations with a return address in
# [start, end) on the stack, whatever their gfp flags (the defaults would inject nothing into
# GFP_KERNEL, highmem-capable or order-0 allocations), silently (verbose=0: no stack dump per
# failure), at most TIMES times; still off (probability 0) until fi_on or fail-nth.
fi_arm() {
	fi_off &&
		fi_each verbose 0 && fi_each interval 1 && fi_each space 0 && fi_each task-filter N &&
		fi_each stacktrace-depth 32 && fi_each require-start "$1" && fi_each require-end "$2" &&
		fi_each reject-start 0 && fi_each reject-end 0 && fi_each ignore-gfp-wait N &&
		fi_each times "$TIMES" && echo N >"$FS/cache-filter" &&
		echo N >"$FPA/ignore-gfp-highmem" && echo 0 >"$FPA/min-order"
}
# fi_injected: FS_INJ, FPA_INJ = failures injected since fi_arm by each attribute, INJ both.
fi_injected() {
	local a b
	rd a "$FS/times" && rd b "$FPA/times"
	FS_INJ=$((TIMES - a)) FPA_INJ=$((TIMES - b)) INJ=$((2 * TIMES - a - b))
}

# rslab_core_range: "<start> <end>" (hex) of rslab.ko's core as the loader placed it: its text
# starts at the address /proc/modules gives, and nothing of it goes past that plus its size
# (text, then the rest of the core); cut at the next module's base, so that no other module's
# code is in the range (data never shows as a return address).
rslab_core_range() {
	local name size base start end
	read -r start size < <(awk '$1 == "rslab" { print $6, $2 }' /proc/modules)
	[ -n "$start" ] && [ $((start)) != 0 ] || return 1
	end=$((start + size))
	while read -r name size _ _ _ base _; do
		if [ "$name" != rslab ] && [ $((base)) -gt $((start)) ] && [ $((base)) -lt $end ]; then
			end=$((base))
		fi
	done </proc/modules
	printf '0x%x 0x%x\n' $((start)) "$end"
}

# --- cache checks -------------------------------------------------------------------------------
# whole <name>: the cache is listed and its stats readable; gone <name>: no trace of it in rslab's
# or rslab_test's debugfs.
whole() { listed "$1" && kv "$RSLAB_DBG/caches/$1/stats" live; }
gone() { ! listed "$1" && [ ! -e "$RSLAB_DBG/caches/$1" ] && [ ! -e "$RSLAB_TEST_DBG/stress/$1" ]; }
gone_msg() { if gone "$1"; then echo "gone: yes"; else echo "gone: no"; fi; }

runs_msg() {
	local r
	for r in "$@"; do ktap_print_msg "$r: $(tr '\n' ' ' <"$RSLAB_TEST_DBG/stress/$r")"; done
}

# leak_scan <phase>: with RSLAB_SOAK=1, kmemleak scans after the phase (the client paused: a
# scan while workers allocate takes minutes); LEAKS_MAX keeps the highest count seen. Without
# it, no scan here: one scan of a guest that ran the whole suite takes minutes under TCG, and the
# guest scans once anyway after the last test, whose report fails the run (scripts/verdict.py).
LEAKS_MAX=0
leak_scan() {
	local n
	[ -n "$LEAKS0" ] || return 0
	[ "${RSLAB_SOAK:-0}" = 1 ] || return 0
	[ $HAVE_CLIENT = 0 ] || [ "$1" = end ] || client_pause 1
	n=$(kmemleak_rslab) || n=
	[ $HAVE_CLIENT = 0 ] || [ "$1" = end ] || client_pause 0
	ktap_print_msg "kmemleak after $1: ${n:-scan failed} objects of rslab's modules listed (${LEAKS0} before the test)"
	[ -n "$n" ] || { LEAKS_MAX=-1; return 1; }
	[ "$LEAKS_MAX" -lt 0 ] || [ "$n" -le "$LEAKS_MAX" ] || LEAKS_MAX=$n
}
# no_new_leaks: no scan found more objects of rslab's modules than were listed at the start.
no_new_leaks() {
	[ -n "$LEAKS0" ] || { ktap_print_msg "no kmemleak: not checked"; return 0; }
	[ "$LEAKS_MAX" -ge 0 ] && [ "$LEAKS_MAX" -le "$LEAKS0" ] && return 0
	awk '/^unreferenced object/ { if (r) printf "%s", b; b = ""; r = 0 } { b = b "# " $0 "\n" }
		/\[rslab(_test|_client)?\]/ { r = 1 } END { if (r) printf "%s", b }' /sys/kernel/debug/kmemleak | head -n 60
	return 1
}

# --- phase A: systematic ------------------------------------------------------------------------
# sweep <stride> <ctl|tctl> <name> <words...>: runs <words> (a create of <name>) on that control
# file again and again, each time failing one allocation made from rslab.ko's code while it runs,
# the 1st, then the (1 + stride)-th, ... (fail-nth: this shell's own allocations, the write's
# included, and nothing another task does), until a run injects nothing. An odd stride: each
# allocation kmemleak tracks is followed by kmemleak's own, whose failure it absorbs. Every run
# must succeed whole, or fail with ENOMEM and leave no trace, the name free again. Sets SWEPT
# (injection points found), SWEEP_FAILED (runs that failed), SWEEP_ABSORBED (runs that succeeded
# all the same) and SWEEP_BAD. No command substitution between the fail-nth write and its read: a
# subshell is another task.
sweep() {
	local stride=$1 f=$2 name=$3 n left rc
	shift 3
	SWEEP_BAD=0 SWEEP_FAILED=0 SWEEP_ABSORBED=0
	for ((n = 1; n < 2000; n += stride)); do
		echo "$n" >/proc/self/fail-nth
		if "$f" "$@" 2>"$ERR"; then rc=0; else rc=1; fi
		read -r left </proc/self/fail-nth
		echo 0 >/proc/self/fail-nth
		if [ $rc = 0 ]; then
			[ "$left" != 0 ] || SWEEP_ABSORBED=$((SWEEP_ABSORBED + 1))
			if ! whole "$name"; then
				ktap_print_msg "fail-nth=$n: '$*' succeeded but $name is not whole"
				SWEEP_BAD=$((SWEEP_BAD + 1))
			fi
		elif [ "$left" != 0 ]; then
			ktap_print_msg "fail-nth=$n: nothing injected, yet '$*' failed: $(<"$ERR")"
			SWEEP_BAD=$((SWEEP_BAD + 1))
		elif ! has_err 'Cannot allocate memory' || ! gone "$name"; then
			ktap_print_msg "fail-nth=$n: '$*': $(<"$ERR"); $(gone_msg "$name")"
			SWEEP_BAD=$((SWEEP_BAD + 1))
		else
			SWEEP_FAILED=$((SWEEP_FAILED + 1))
			if ! "$f" "$@"; then
				ktap_print_msg "fail-nth=$n: $name not free again after the failed create"
				SWEEP_BAD=$((SWEEP_BAD + 1))
			fi
		fi
		if [ "$f" = tctl ]; then
			stress_end "$name" || SWEEP_BAD=$((SWEEP_BAD + 1))
		elif listed "$name"; then
			ctl destroy "$name" || SWEEP_BAD=$((SWEEP_BAD + 1))
		fi
		[ "$left" = 0 ] || break
	done
	SWEPT=$((n - 1))
}
sweep_msg() {
	ktap_print_msg "sweep '$2': about $SWEPT injection points, 1 in $1 failed: $SWEEP_FAILED runs failed (ENOMEM), $SWEEP_ABSORBED succeeded all the same, $SWEEP_BAD bad"
}

# --- phase C: CPU hotplug states ----------------------------------------------------------------
state_no() { awk -F': ' -v n="$1" '$2 == n { print $1 + 0 }' "$STATES"; }
cpu_fail() { echo "$2" >"/sys/devices/system/cpu/cpu$1/hotplug/fail"; }
# neighbour <cpu> <state> <up|down> <limit>: the nearest listed state above (up) or below (down)
# <state>, not beyond <limit>, that the fail file of <cpu> accepts (it refuses states without
# callbacks, and the ones that cannot fail); left armed.
neighbour() {
	local s order=-n
	[ "$3" = up ] || order=-rn
	for s in $(sed -n 's/^ *\([0-9]*\): .*/\1/p' "$STATES" | awk -v s="$2" -v l="$4" -v d="$3" \
		'(d == "up" && $1 > s && $1 <= l) || (d == "down" && $1 < s && $1 >= l)' | sort $order); do
		if cpu_fail "$1" "$s" 2>/dev/null; then echo "$s"; return 0; fi
	done
	return 1
}
state_name() { awk -F': ' -v s="$1" '$1 + 0 == s { print $2 }' "$STATES"; }
# reaper_of <cpu>: RUNS = how often that CPU's reaper ran (empty while it is offline).
reaper_of() {
	local l
	RUNS=
	slurp "$RSLAB_DBG/reaper"
	for l in "${LINES[@]}"; do
		if [[ "$l" == "cpu=$1 "* ]]; then l=${l#* runs=}; RUNS=${l%% *}; fi
	done
}
reaper_runs_on() { reaper_of "$1" && [ -n "$RUNS" ] && [ "$RUNS" -ge "$2" ]; }

# cleanup (at exit, whatever happened): injection off and its settings back, CPU C and the DIMM's
# blocks online.
cleanup() {
	local b
	touch /tmp/fi_stop
	fi_restore
	echo -1 >"/sys/devices/system/cpu/cpu$C/hotplug/fail"
	cpu_set "$C" 1 2>/dev/null
	if [ -n "${MEM_ERR:-}" ]; then
		echo 0 >"$MEMINJ/MEM_GOING_OFFLINE/error"
		echo 0 >"$MEMINJ/MEM_GOING_ONLINE/error"
		for b in "${BLOCKS[@]}"; do
			grep -q offline "$b/state" && block_set "$b" online_movable
		done
	fi
	wait
	rm -f /tmp/fi_stop /tmp/fi_hotplug "$ERR"
}

ktap_print_header
rslab_unload
# What earlier scans found (none of it may be this test's): no scan here, it costs 10 s or more.
LEAKS0=$(kmemleak_rslab 0) || LEAKS0=
# Before loading: a skipped test leaves nothing loaded.
for f in "$FS/require-start" "$FS/ignore-gfp-wait" "$FPA/require-start" "$FPA/min-order" /proc/self/fail-nth; do
	[ -e "$f" ] || { ktap_skip_all "no $f (FAILSLAB, FAIL_PAGE_ALLOC, FAULT_INJECTION_DEBUG_FS, FAULT_INJECTION_STACKTRACE_FILTER)"; exit "$KSFT_SKIP"; }
done
mapfile -t CPUS < <(hotplug_cpus)
[ ${#CPUS[@]} -gt 0 ] || { ktap_skip_all "no hot-pluggable CPU"; exit "$KSFT_SKIP"; }
C=${CPUS[-1]}
[ -w "/sys/devices/system/cpu/cpu$C/hotplug/fail" ] ||
	{ ktap_skip_all "no cpu$C/hotplug/fail (CPU_HOTPLUG_STATE_CONTROL)"; exit "$KSFT_SKIP"; }
fi_save
trap cleanup EXIT
ktap_set_plan 34
T0=$(date +%s) T=$T0
# phase_done <phase>: how long it took.
phase_done() {
	local now
	now=$(date +%s)
	ktap_print_msg "$1: seconds=$((now - T))"
	T=$now
}

rslab_load reap_interval_ms=100
ok=1
if [ $HAVE_CLIENT = 1 ]; then insmod "$CLIENT_KO" || ok=0; fi
read -r RS RE < <(rslab_core_range)
ktap_print_msg "rslab.ko core: $RS-$RE (.text at $(cat /sys/module/rslab/sections/.text))"
[ -n "$RE" ] && fi_arm "$RS" "$RE" || ok=0
check "rslab, rslab_test$([ $HAVE_CLIENT = 1 ] && echo ", rslab_client") loaded; injection armed on rslab.ko's range" test $ok = 1

# --- A. rslab's allocations fail ----------------------------------------------------------------
# Systematically, alone (the client paused): each sweep is one create per injection point.
[ $HAVE_CLIENT = 0 ] || client_pause 1
# Every seventh point of a create on the control file and every eleventh through the API; every
# point, and a debug create too, with RSLAB_SOAK=1.
S1=7 S2=11
[ "${RSLAB_SOAK:-0}" = 1 ] && S1=1 S2=1
sweep $S1 ctl fn create fn 256
sweep_msg $S1 "create fn 256"
bad=$SWEEP_BAD failed=$SWEEP_FAILED
if [ "${RSLAB_SOAK:-0}" = 1 ]; then
	sweep 1 ctl fnd create fnd 100 align=64 debug
	sweep_msg 1 "create fnd 100 align=64 debug"
	bad=$((bad + SWEEP_BAD)) failed=$((failed + SWEEP_FAILED))
fi
sweep $S2 tctl fns stress start fns size=1024 batch=8
sweep_msg $S2 "stress start fns size=1024 (rslab_cache_create())"
bad=$((bad + SWEEP_BAD)) failed=$((failed + SWEEP_FAILED))
fi_injected
SWEEP_INJECTED=$INJ
check "fail-nth on the allocations of a create (control, API): whole or ENOMEM, no trace, name free again" \
	test $bad = 0 -a $failed -gt 0
[ $HAVE_CLIENT = 0 ] || client_pause 0
phase_done "phase A, sweeps"

# The client's caches (small objects, a debug cache whose slab index grows under the node lock, a
# constructor; single, bulk, node and GFP_ATOMIC allocations), and a run of order-3 slabs
# (4096-byte objects) with remote frees.
RUNS_A="fa4k"
ok=1
tctl stress start fa4k size=4096 batch=16 remote=1 || ok=0
# Without the client, a debug cache too.
if [ $HAVE_CLIENT = 0 ]; then
	RUNS_A="fa4k fadbg"
	tctl stress start fadbg size=100 align=32 debug=1 batch=16 || ok=0
fi
for r in $RUNS_A; do wait_until 30 stress_running "$r" 10 || ok=0; done
check "phase A: stress runs started" test $ok = 1

# At random, everything at once.
rm -f /tmp/fi_stop /tmp/fi_hotplug
cpu_cycle_loop /tmp/fi_stop /tmp/fi_hotplug &
start=$(date +%s)
made=0 refused=0 bad=0 api=0 api_refused=0 other=0
FAILED=()
# judge_create <rc> <name> <made counter> <refused counter> <use>: a create under injection
# succeeded whole (then <use> <name> works with it and ends it), or failed with ENOMEM and left no
# trace (its name kept in FAILED); anything else counts in bad.
judge_create() {
	if [ "$1" = 0 ]; then
		eval "$3=\$(($3 + 1))"
		whole "$2" || { ktap_print_msg "$2: created but not whole"; bad=$((bad + 1)); }
		"$5" "$2" || bad=$((bad + 1))
	elif has_err 'Cannot allocate memory' && gone "$2"; then
		eval "$4=\$(($4 + 1))"
		FAILED+=("$2")
	else
		ktap_print_msg "create $2: $(<"$ERR"); $(gone_msg "$2")"
		bad=$((bad + 1))
	fi
}
# api_use <run>: the run's workers make progress, then it stops; ctl_use <cache>: destroyed.
api_use() {
	local ok=0
	wait_until 30 stress_running "$1" 5 || { ktap_print_msg "$1: no progress"; ok=1; }
	stress_end "$1" && return $ok
}
ctl_use() { ctl destroy "$1"; }
fi_on
for ((i = 0; i < ITER * 10; i++)); do
	fi_injected
	[ "$i" -lt "$ITER" ] || [ "$INJ" -lt "$FAULT_TARGET" ] || break
	[ $((i % 10)) != 9 ] || ktap_print_msg "random round $i: injected_faults=$INJ"
	n=fr$i
	size=$((16 << (i % 9)))
	debug=
	[ $((i % 3)) = 1 ] && debug=debug
	if [ $((i % 4)) = 3 ]; then
		tctl stress start "$n" size=$size batch=16 remote=1 debug=$((i / 3 % 2)) 2>"$ERR" && rc=0 || rc=1
		fi_off
		judge_create "$rc" "$n" api api_refused api_use
	else
		ctl create "$n" "$size" $debug 2>"$ERR" && rc=0 || rc=1
		fi_off
		judge_create "$rc" "$n" made refused ctl_use
	fi
	fi_on
	# Shrinking makes the runs grow new slabs, under injection. Its own failures (ENOMEM on
	# opening the control file) are allowed.
	for r in $RUNS_A; do ctl shrink "$r" 2>/dev/null || other=$((other + 1)); done
	[ $HAVE_CLIENT = 0 ] || ctl shrink rslab_client_debug 2>/dev/null || other=$((other + 1))
done
fi_off
touch /tmp/fi_stop
wait
read -r cpu_ops cpu_fails </tmp/fi_hotplug
fi_injected
INJECTED_A=$INJ
# For make soak's figures (scripts/soak.sh adds these lines up).
ktap_print_msg "soak-figures: injected_faults=$INJ"
ktap_print_msg "injected_faults=$INJ (fail-nth sweeps: $SWEEP_INJECTED, at random: $((INJ - SWEEP_INJECTED)); failslab: $FS_INJ, fail_page_alloc: $FPA_INJ)"
ktap_print_msg "random: rounds=$i creates=$made refused=$refused api_creates=$api api_refused=$api_refused shrink_flush_refused=$other cpu_ops=$cpu_ops cpu_failures=$cpu_fails seconds=$(($(date +%s) - start))"
runs_msg $RUNS_A
check "faults were injected into rslab's own allocations" test "$INJECTED_A" -gt 0
check "random injection: every create (control, API) whole, or ENOMEM with no trace" test $bad = 0
# One namespace for both: a control create proves an API name free too.
ok=1
for n in "${FAILED[@]}"; do ctl create "$n" 64 && ctl destroy "$n" || ok=0; done
check "injection off: the name of every failed create is free again" test $ok = 1
check "CPUs went off and on under injection, every transition done" test "$cpu_ops" -gt 0 -a "$cpu_fails" = 0
check "phase A: no object corrupted, the runs still make progress" runs_ok 20 $RUNS_A
ccheck "phase A: the client's caches validate, nothing allocated, slab pages accounted" client_sound
check "phase A: stress stop frees every object and destroys each run's cache" stress_end $RUNS_A
leak_scan "phase A"
phase_done "phase A"

# --- B. memory hotplug notifiers fail -----------------------------------------------------------
block_set() { timeout 120 sh -c "echo $2 >$1/state"; }
inject_mem() { echo "$2" >"$MEMINJ/$1/error"; }
NODE=$(dimm_node)
mapfile -t BLOCKS < <(movable_blocks "$NODE")
B_CHECKS=7
if [ ! -w "$MEMINJ/MEM_GOING_OFFLINE/error" ]; then
	for ((i = 0; i < B_CHECKS; i++)); do ktap_test_skip "phase B: no memory notifier error injector (MEMORY_NOTIFIER_ERROR_INJECT)"; done
elif [ ${#BLOCKS[@]} = 0 ]; then
	for ((i = 0; i < B_CHECKS; i++)); do ktap_test_skip "phase B: no removable memory block on node $NODE"; done
else
	MEM_ERR=1
	RUNS_B="fb1k"
	ok=1
	tctl stress start fb1k size=1024 batch=16 remote=1 || ok=0
	ktap_print_msg "node $NODE: ${#BLOCKS[@]} movable blocks: ${BLOCKS[*]##*/}"
	hp_load
	cancel0=${HP[mem_cancel]} node0=${HP[node_cancel]}
	first=${BLOCKS[0]}
	# refuse <event> <state>: with <event> failing, moving the first block to <state> fails with
	# ENOMEM; counts the refusals, and those that were the node's last or first memory.
	mem_ref=0 node_ref=0
	refuse() {
		local r=0
		inject_mem "$1" -12
		block_set "$first" "$2" 2>"$ERR" && { ktap_print_msg "$2 with $1 failing succeeded"; r=1; }
		has_err 'Cannot allocate memory' || { ktap_print_msg "$2: $(<"$ERR")"; r=1; }
		inject_mem "$1" 0
		mem_ref=$((mem_ref + 1))
		[ "$alone" = 0 ] || node_ref=$((node_ref + 1))
		return $r
	}
	# alone: the first block is the node's only memory online.
	alone=0
	[ ${#BLOCKS[@]} = 1 ] && alone=1
	refuse MEM_GOING_OFFLINE offline || ok=0
	grep -q online "$first/state" || { ktap_print_msg "${first##*/} offline after a refused offline"; ok=0; }
	# With RSLAB_SOAK=1 also the node's last memory, refused: rslab flushed and shrank for
	# NODE_REMOVING_LAST_MEMORY, then gets the cancel.
	others=()
	[ "${RSLAB_SOAK:-0}" = 1 ] && others=("${BLOCKS[@]:1}")
	if [ ${#others[@]} -gt 0 ]; then
		for b in "${others[@]}"; do block_set "$b" offline || ok=0; done
		alone=1
		refuse MEM_GOING_OFFLINE offline || ok=0
		node_has_memory "$NODE" || { ktap_print_msg "node $NODE lost its memory on a refused offline"; ok=0; }
	fi
	check "MEM_GOING_OFFLINE refused: the offline fails with ENOMEM, the block stays online" test $ok = 1
	ok=1
	block_set "$first" offline || ok=0
	refuse MEM_GOING_ONLINE online_movable || ok=0
	grep -q offline "$first/state" || { ktap_print_msg "${first##*/} online after a refused online"; ok=0; }
	[ "$alone" = 0 ] || ! node_has_memory "$NODE" || { ktap_print_msg "node $NODE has memory after a refused online"; ok=0; }
	check "MEM_GOING_ONLINE refused: the online fails with ENOMEM, the block stays offline" test $ok = 1
	ok=1
	for b in "$first" "${others[@]}"; do block_set "$b" online_movable || ok=0; done
	node_has_memory "$NODE" || ok=0
	check "injection off: every block online again" test $ok = 1
	ktap_print_msg "hotplug: $(tr '\n' ' ' <"$RSLAB_DBG/hotplug")"
	hp_load
	check "rslab saw every cancel: $mem_ref MEM_CANCEL_*, $node_ref NODE_CANCEL_*" \
		test $((HP[mem_cancel] - cancel0)) = $mem_ref -a $((HP[node_cancel] - node0)) = $node_ref
	check "phase B: no object corrupted, the runs still make progress" runs_ok 20 $RUNS_B
	ccheck "phase B: the client's caches validate, nothing allocated, slab pages accounted" client_sound
	check "phase B: stress stop frees every object and destroys each run's cache" stress_end $RUNS_B
	leak_scan "phase B"
fi
phase_done "phase B"

# --- C. CPU hotplug states fail -----------------------------------------------------------------
P=$(state_no mm/rslab:prepare) O=$(state_no mm/rslab:online)
AP=$(state_no ap:online) BRINGUP=$(state_no cpu:bringup) TOP=$(state_no online)
ktap_print_msg "states: mm/rslab:prepare=$P mm/rslab:online=$O (ap:online=$AP cpu:bringup=$BRINGUP online=$TOP); CPU $C"
check "rslab's two CPU hotplug states are listed" test -n "$P" -a -n "$O" -a -n "$AP" -a -n "$BRINGUP"
RUNS_C="fc512"
tctl stress start fc512 size=512 batch=16 remote=1
wait_until 30 threads_everywhere $RUNS_C

CPUD=/sys/devices/system/cpu/cpu$C
# transition <0|1> <state>: CPU C goes offline (0) or online (1) with <state> failing; it must fail
# with EAGAIN, the fail be consumed; HP0 and HP hold rslab's hotplug counters before and after,
# ST and ONLINE the CPU's state and online file after.
transition() {
	local ok=1 f
	hp_load
	HP0=(); for f in "${!HP[@]}"; do HP0[$f]=${HP[$f]}; done
	[ -n "$2" ] && cpu_fail "$C" "$2" || { ktap_print_msg "cannot fail state '$2'"; return 1; }
	cpu_set "$C" "$1" 2>"$ERR" && { ktap_print_msg "cpu $C: $1 with $2 failing succeeded"; ok=0; }
	has_err 'Resource temporarily unavailable' || { ktap_print_msg "cpu $C: $1 with $2 failing: $(<"$ERR")"; ok=0; }
	rd f "$CPUD/hotplug/fail"
	[ "$f" = -1 ] || { ktap_print_msg "fail $2 not consumed"; cpu_fail "$C" -1; ok=0; }
	rd ST "$CPUD/hotplug/state" && rd ONLINE "$CPUD/online"
	hp_load
	[ $ok = 1 ]
}
declare -A HP0
# ran <key>=<count>...: rslab's hotplug callbacks ran that often during the transition.
ran() {
	local a k ok=0
	for a in "$@"; do
		k=${a%=*}
		[ $((HP[$k] - HP0[$k])) = "${a#*=}" ] || ok=1
	done
	[ $ok = 0 ] && return 0
	ktap_print_msg "rslab's callbacks: prepare +$((HP[cpu_prepare] - HP0[cpu_prepare])) dead +$((HP[cpu_dead] - HP0[cpu_dead])) online +$((HP[cpu_online] - HP0[cpu_online])) offline +$((HP[cpu_offline] - HP0[cpu_offline])); expected $*"
	return 1
}
# offline_refused <state> <offline runs> <online runs>: CPU C's offline fails (EAGAIN) at
# <state> and rolls back: C is fully online again, rslab's offline and online callbacks ran that
# often, and C's reaper runs.
offline_refused() {
	local ok=1
	transition 0 "$1" || ok=0
	[ "$ST" = "$TOP" ] && [ "$ONLINE" = 1 ] || { ktap_print_msg "cpu $C: state $ST after a refused offline"; ok=0; }
	ran cpu_offline="$2" cpu_online="$3" || ok=0
	reaper_of "$C"
	wait_until 10 reaper_runs_on "$C" $((${RUNS:-0} + 3)) || { ktap_print_msg "cpu $C: its reaper does not run"; ok=0; }
	[ $ok = 1 ]
}
# online_refused <state> <prepare> <dead> <online> <offline>: CPU C's online fails (EAGAIN) at
# <state> and rolls back to offline (from an AP state too: the AP undoes its states, then the
# control CPU its own); rslab's callbacks ran that often.
online_refused() {
	local ok=1
	transition 1 "$1" || ok=0
	[ "$ST" = 0 ] && [ "$ONLINE" = 0 ] || { ktap_print_msg "cpu $C: state $ST after a refused online at $1"; ok=0; }
	ran cpu_prepare="$2" cpu_dead="$3" cpu_online="$4" cpu_offline="$5" || ok=0
	[ $ok = 1 ]
}
online_again() { cpu_set "$C" 1 && rd ST "$CPUD/hotplug/state" && [ "$ST" = "$TOP" ]; }

check "offline failing at mm/rslab:online: EAGAIN, rolled back, rslab's teardown never ran, reaper runs" \
	offline_refused "$O" 0 0
BELOW=$(neighbour "$C" "$O" down $((AP + 1)))
cpu_fail "$C" -1
ktap_print_msg "below mm/rslab:online: ${BELOW:-none} $(state_name "${BELOW:-x}")"
check "offline failing below mm/rslab:online rolls back through it: its offline, then online callback" \
	offline_refused "$BELOW" 1 1
check "CPU $C offline" cpu_set "$C" 0
check "online failing at mm/rslab:prepare: EAGAIN, stays offline, rslab's callbacks never ran" \
	online_refused "$P" 0 0 0 0
ABOVE_P=$(neighbour "$C" "$P" up "$BRINGUP")
cpu_fail "$C" -1
ktap_print_msg "above mm/rslab:prepare: ${ABOVE_P:-none} $(state_name "${ABOVE_P:-x}")"
check "online failing above mm/rslab:prepare rolls back through it: prepare, then dead callback" \
	online_refused "$ABOVE_P" 1 1 0 0
check "online failing at mm/rslab:online: EAGAIN, rolled back through prepare and dead, online never ran" \
	online_refused "$O" 1 1 0 0
ABOVE_O=$(neighbour "$C" "$O" up $((TOP - 1)))
cpu_fail "$C" -1
ktap_print_msg "above mm/rslab:online: ${ABOVE_O:-none} $(state_name "${ABOVE_O:-x}")"
check "online failing above mm/rslab:online rolls back through it: online then offline, prepare then dead" \
	online_refused "$ABOVE_O" 1 1 1 1
check "the CPU comes online after the rolled-back online" online_again
ktap_print_msg "hotplug: $(tr '\n' ' ' <"$RSLAB_DBG/hotplug")"
check "a thread of every run on every online CPU" wait_until 30 threads_everywhere $RUNS_C
check "every online CPU's reaper runs there, never elsewhere" wait_until 30 reapers_ran 3
check "phase C: no object corrupted, the runs still make progress" runs_ok 20 $RUNS_C
ccheck "phase C: the client's caches validate, nothing allocated, slab pages accounted" client_sound
check "phase C: stress stop frees every object and destroys each run's cache" stress_end $RUNS_C
leak_scan "phase C"
phase_done "phase C"

# --- the end ------------------------------------------------------------------------------------
if [ $HAVE_CLIENT = 1 ]; then
	echo "rslab_faults.sh: rmmod rslab_client" >/dev/kmsg
	rmmod rslab_client && ok=1 || ok=0
	# What the client said at removal: a cache it could not destroy is "leaked".
	said=$(dmesg | sed -n '/rslab_faults.sh: rmmod rslab_client/,$p' | grep 'rslab_client: ')
	printf '%s\n' "$said" | sed 's/^/# /'
	[[ "$said" != *"(the cache is leaked)"* ]] || ok=0
fi
ccheck "rmmod rslab_client: every cache destroyed" test "${ok:-0}" = 1
# Idle now: two scans (an object is reported by the second if older than 5 s by then, and the
# first takes longer than that).
if [ "${RSLAB_SOAK:-0}" = 1 ]; then
	leak_scan end
	check "kmemleak finds nothing new from rslab's modules" no_new_leaks
else
	ktap_test_skip "kmemleak scan here only with RSLAB_SOAK=1 (the guest's final scan gates this run)"
fi
check "unload" rslab_unload
phase_done "the end"
ktap_print_msg "seconds=$((T - T0))"
ktap_finished
