#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# rslab module lifecycle: load, debugfs present, unload removes it, reload, repeated cycles.
DIR=$(dirname "$(realpath "$0")")
. "$DIR/../kselftest/ktap_helpers.sh"
. "$DIR/rslab_lib.sh"

CYCLES=${RSLAB_CYCLES:-10}

ktap_print_header
ktap_set_plan 6

rslab_unload
check "load" rslab_load
check "debugfs directory and info present" grep -q '^version ' "$RSLAB_DBG/info"
check "unload" rslab_unload
check "unload removes debugfs directory" test ! -e "$RSLAB_DBG"
check "reload" rslab_load
ok=1
for ((i = 0; i < CYCLES; i++)); do
	rslab_unload || { ok=0; break; }
	rslab_load || { ok=0; break; }
	[ -r "$RSLAB_DBG/info" ] || { ok=0; break; }
done
ktap_print_msg "load/unload cycles completed: $i of $CYCLES"
check "$CYCLES load/unload cycles" test $ok = 1
rslab_unload
ktap_finished
