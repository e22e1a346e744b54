#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Stress test (f): the kernel's own tools/testing/selftests/cpu-hotplug/cpu-on-off-test.sh -a
# (from the installed 7.3 source) while rslab_test's stress workers run on an rslab cache; then
# no object was corrupted and every object is freed (stress stop destroys the cache, which rslab
# refuses while one is allocated).
DIR=$(dirname "$(realpath "$0")")
. "$DIR/../kselftest/ktap_helpers.sh"
. "$DIR/rslab_lib.sh"

ktap_print_header
ktap_set_plan 3
rslab_unload
rslab_load
tctl stress start k256 size=256 threads_per_cpu=2 batch=64 remote=1
start=$(date +%s)
for ((i = 0; i < $(iters 1); i++)); do
	bash "$DIR/../cpu-hotplug/cpu-on-off-test.sh" -a 2>&1 | sed 's/^/# /'
	rc=${PIPESTATUS[0]}
	[ "$rc" = 0 ] || break
done
ktap_print_msg "cpu-on-off-test.sh -a: exit $rc, $(($(date +%s) - start)) s, stress iterations $(stress_stat k256 iterations)"
check "cpu-on-off-test.sh -a passes under rslab stress" test "$rc" = 0
check "no object corrupted" test "$(stress_stat k256 pattern_errors)" = 0
check "stress stops: every object freed, cache destroyed" stress_end k256
rslab_unload
ktap_finished
