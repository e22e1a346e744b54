#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# In-guest kselftest runner. /kselftest is a kselftest install made by the kernel's own
# selftests Makefile (ksft_install in scripts/lib.sh): its kselftest-list.txt names the rslab
# tests ("rslab:<test>", in TEST_PROGS order), to which scripts/guest.sh appends the executables
# of $RSLAB_EXTRA_TESTS ("extra:<test>", copied to /kselftest/extra/). Each test is run by the
# kernel's kselftest/runner.sh (run_many): the collection's "settings" timeout, the test's output
# prefixed with "# " (often nested KTAP), one KTAP result line (exit 0 pass, 4 skip, else fail).
#
# What this script adds, and why it is not the kernel's run_kselftest.sh:
#  - RSLAB_TEST_FILTER, a bash regex on the test's file name (run_kselftest.sh -t takes exact
#    names only), applied to the rslab tests; the rslab tests run only in `check` mode (an
#    `extra` run is only $RSLAB_EXTRA_TESTS);
#  - after each test, "# <test>: guest_seconds=<s>": its run time in the guest (for the time
#    budget of make check), hence run_many called one test at a time;
#  - the extra tests have no settings file of their own: they get the selftests' timeout, not
#    kselftest's default of 45 s;
#  - exit status 2 (kselftest's XFAIL) is a failure (below).
# Not `set -u`: the kernel's runner.sh reads variables it may never set (kselftest_override_timeout).
# BASE_DIR is the install's root, as for the kernel's runner.sh (scripts/tests run this script on
# the host with another one).
BASE_DIR=${BASE_DIR:-/kselftest}
. "$BASE_DIR/kselftest/runner.sh"
# runner.sh sends the tests' output to $logfile, /dev/stdout, which not every /dev has (the
# guest's devtmpfs has none; a missing one would be created as a file and swallow it all). Either
# name reopens stdout, so it must be a tty (ttyS1 in the guest) or a pipe: a regular file not
# opened for append would have these lines overwritten by the result lines.
logfile=/proc/self/fd/1
# kselftest reads exit status 2 as XFAIL, an expected failure, and reports it "ok". No rslab test
# expects to fail, and 2 is also what bash exits with on a syntax error or a misused builtin,
# midway through a test whose results so far passed: here it fails, as any other status but 0 and 4.
ktap_test_xfail() { ktap_test_fail "$1 # exit=$KSFT_XFAIL"; }

t=$(sed -n 's/^timeout=//p' "$BASE_DIR/rslab/settings" 2>/dev/null)
kselftest_default_timeout=${t:-$kselftest_default_timeout}
# make soak's long tests: RSLAB_TEST_TIMEOUT overrides every timeout, the settings file's too.
kselftest_override_timeout=${RSLAB_TEST_TIMEOUT:-}

tests=()
while IFS=: read -r collection name; do
	[ -n "$name" ] || continue
	if [ "$collection" = rslab ]; then
		[ "$RSLAB_MODE" = check ] || continue
		if [ -n "${RSLAB_TEST_FILTER:-}" ] && ! [[ "$name" =~ $RSLAB_TEST_FILTER ]]; then
			continue
		fi
	fi
	tests+=("$collection:$name")
done <"$BASE_DIR/kselftest-list.txt"

ktap_print_header
ktap_set_plan "${#tests[@]}"
for t in "${tests[@]}"; do
	collection=${t%%:*} name=${t#*:}
	start=$(cut -d' ' -f1 /proc/uptime)
	# run_many takes the collection from the working directory, as run_kselftest.sh has it.
	cd "$BASE_DIR/$collection" && run_many "$name"
	end=$(cut -d' ' -f1 /proc/uptime)
	ktap_print_msg "$name: guest_seconds=$(awk -v a="$start" -v b="$end" 'BEGIN{printf "%.1f", b-a}')"
done
cd /
ktap_print_totals
[ "$KTAP_CNT_FAIL" = 0 ] || exit "$KSFT_FAIL"
exit "$KSFT_PASS"
