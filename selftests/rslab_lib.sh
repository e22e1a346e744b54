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
