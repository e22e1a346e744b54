#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Module lifecycle of rslab.ko and of its client rslab_test.ko: load, debugfs present, each
# module's KUnit suite passed at load (rslab_kunit, rslab_api), rslab_test cannot load without
# rslab, rslab cannot be unloaded while rslab_test is loaded (and stays fully usable after the
# refused rmmod), unload in order removes both directories, reload, repeated cycles.
DIR=$(dirname "$(realpath "$0")")
. "$DIR/../kselftest/ktap_helpers.sh"
. "$DIR/rslab_lib.sh"

CYCLES=${RSLAB_CYCLES:-10}

# rslab_usable: every command of rslab's control works on a cache of its own, and a client's
# cache (a stress run of rslab_test) can be made, used and destroyed.
rslab_usable() {
	ctl create u1 64 && ctl flush u1 && ctl shrink u1 && ctl validate u1 && ctl destroy u1 &&
		grep -q '^version ' "$RSLAB_DBG/info" && tctl stress start u2 size=64 batch=8 &&
		wait_until 30 stress_running u2 10 && ctl flush u2 && stress_end u2
}

ktap_print_header
ktap_set_plan 15

rslab_unload
check_err "rslab_test.ko refused while rslab.ko is not loaded" "unknown symbol" insmod "$RSLAB_TEST_KO"
check "load rslab.ko" rslab_load_core
check "debugfs directory and info present" grep -q '^version ' "$RSLAB_DBG/info"
check "rslab's KUnit suite rslab_kunit passed at load" kunit_passed rslab_kunit
check "load rslab_test.ko" rslab_load
check "rslab_test's debugfs directory present" test -w "$RSLAB_TEST_DBG/control" -a -r "$RSLAB_TEST_DBG/bench"
check "rslab_test's KUnit suite rslab_api passed at load" kunit_passed rslab_api
check "rslab_test holds rslab (it uses rslab's exported API)" test -e /sys/module/rslab/holders/rslab_test
refused=0
rmmod rslab 2>/dev/null || refused=1
check "rmmod rslab refused while rslab_test is loaded" test $refused = 1 -a -d /sys/module/rslab -a -d /sys/module/rslab_test
check "rslab fully usable after the refused rmmod" rslab_usable
check "unload (rslab_test, then rslab)" rslab_unload
check "unload removes both debugfs directories" test ! -e "$RSLAB_DBG" -a ! -e "$RSLAB_TEST_DBG"
check "reload" rslab_load
ok=1
for ((i = 0; i < CYCLES; i++)); do
	rslab_unload || { ok=0; break; }
	rslab_load || { ok=0; break; }
	[ -r "$RSLAB_DBG/info" ] && [ -w "$RSLAB_TEST_DBG/control" ] || { ok=0; break; }
done
ktap_print_msg "load/unload cycles completed: $i of $CYCLES"
check "$CYCLES load/unload cycles of both modules" test $ok = 1
check "rslab_api passed at the last load too" kunit_passed rslab_api
rslab_unload
ktap_finished
