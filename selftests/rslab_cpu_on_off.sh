#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Stress test (f): the kernel's own tools/testing/selftests/cpu-hotplug/cpu-on-off-test.sh -a
# (from the installed 7.3 source) while rslab's stress workers run; then every cache validates.
DIR=$(dirname "$(realpath "$0")")
. "$DIR/../kselftest/ktap_helpers.sh"
. "$DIR/rslab_lib.sh"

ktap_print_header
ktap_set_plan 3
rslab_unload
rslab_load
ctl create k256 256 && ctl stress start k256 threads_per_cpu=2 batch=64 remote=1
start=$(date +%s)
for ((i = 0; i < $(iters 1); i++)); do
	bash "$DIR/../cpu-hotplug/cpu-on-off-test.sh" -a 2>&1 | sed 's/^/# /'
	rc=${PIPESTATUS[0]}
	[ "$rc" = 0 ] || break
done
ktap_print_msg "cpu-on-off-test.sh -a: exit $rc, $(($(date +%s) - start)) s, stress iterations $(stat_of k256 stress_iterations)"
check "cpu-on-off-test.sh -a passes under rslab stress" test "$rc" = 0
check "stress stops" ctl stress stop k256
check "cache validates, allocs - frees == 0" validate_all k256
ctl destroy k256
rslab_unload
ktap_finished
