#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Helpers shared by the rslab selftests. Sourced after ktap_helpers.sh.

RSLAB_KO=${RSLAB_KO:-/rslab/rslab.ko}
RSLAB_DBG=/sys/kernel/debug/rslab

rslab_loaded() { [ -d /sys/module/rslab ]; }

rslab_load() {
	rslab_loaded || insmod "$RSLAB_KO" "$@"
}

rslab_unload() {
	! rslab_loaded || rmmod rslab
}

# check <description> <command...>: one KTAP result for one command's success.
check() {
	local desc=$1
	shift
	if "$@"; then
		ktap_test_pass "$desc"
	else
		ktap_test_fail "$desc"
	fi
}

# check_err <description> <errno name> <command...>: the command must fail with that error,
# as reported by a shell redirection ("Invalid argument" for EINVAL and so on).
check_err() {
	local desc=$1 want=$2 out
	shift 2
	if out=$("$@" 2>&1); then
		ktap_print_msg "$desc: succeeded, expected $want"
		ktap_test_fail "$desc"
	elif [[ "$out" == *"$want"* ]]; then
		ktap_test_pass "$desc"
	else
		ktap_print_msg "$desc: got '$out', expected $want"
		ktap_test_fail "$desc"
	fi
}

ctl() { echo "$*" >"$RSLAB_DBG/control"; }

# stat_of <cache> <key>: one value from caches/<cache>/stats.
stat_of() { sed -n "s/^$2 //p" "$RSLAB_DBG/caches/$1/stats"; }

# hp_stat <key>: one value from the hotplug file.
hp_stat() { sed -n "s/^$1 //p" "$RSLAB_DBG/hotplug"; }

# Iterations: default scaled by RSLAB_SOAK (RSLAB_SOAK=1 multiplies by 10).
iters() { if [ "${RSLAB_SOAK:-0}" = 1 ]; then echo $(($1 * 10)); else echo "$1"; fi; }

# CPUs that can go offline (all but the boot CPU).
hotplug_cpus() {
	local c
	for c in /sys/devices/system/cpu/cpu[0-9]*; do
		if [ -w "$c/online" ]; then echo "${c##*cpu}"; fi
	done
}

# in_list <n> <list>: whether n is in a kernel list such as "0-2,4" (cpulist/nodelist format).
in_list() {
	local r lo hi
	local IFS=,
	for r in $2; do
		lo=${r%-*} hi=${r#*-}
		if [ -n "$r" ] && [ "$1" -ge "$lo" ] && [ "$1" -le "$hi" ]; then return 0; fi
	done
	return 1
}

# cpu_set <cpu> <0|1>: fails if the kernel refuses.
cpu_set() { echo "$2" >"/sys/devices/system/cpu/cpu$1/online"; }

# wait_until <seconds> <command...>: poll a condition (bounded); fails on timeout.
wait_until() {
	local deadline=$(($(date +%s) + $1))
	shift
	until "$@"; do
		[ "$(date +%s)" -ge "$deadline" ] && return 1
		sleep 0.2
	done
}

# validate_all <cache...>: validate each and check allocs - frees == 0.
validate_all() {
	local c
	for c in "$@"; do
		ctl validate "$c" || { ktap_print_msg "validate $c failed"; return 1; }
		[ "$(stat_of "$c" live)" = 0 ] || { ktap_print_msg "$c: live=$(stat_of "$c" live)"; return 1; }
		[ "$(stat_of "$c" stress_pattern_errors)" = 0 ] || { ktap_print_msg "$c: pattern errors"; return 1; }
	done
}

# reapers_ran <min runs>: every online CPU's reaper ran at least that often, never elsewhere.
reapers_ran() {
	awk -v min="$1" '{ split($2, r, "="); split($3, w, "="); if (r[2] < min || w[2] != 0) bad = 1; n++ }
		END { exit (bad || n == 0) }' "$RSLAB_DBG/reaper"
}
