#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# rslab's exported API as seen from outside (rslab_test.ko is the client):
#  - names are one namespace for caches of debugfs and of the API: each refuses a name the
#    other holds (EEXIST), and a name is free again once its cache is destroyed;
#  - an API cache shows in slabinfo and caches/<name>/, can be validated, flushed and shrunk
#    from debugfs, but not destroyed there (EPERM: the client holds a pointer to it);
#  - a client that unloads without destroying its cache leaves it to rslab, which reports it
#    at its own unload and destroys it; nothing is corrupted (the kernel-log gate).
DIR=$(dirname "$(realpath "$0")")
. "$DIR/../kselftest/ktap_helpers.sh"
. "$DIR/rslab_lib.sh"

ktap_print_header
ktap_set_plan 11

rslab_unload
check "load rslab and rslab_test" rslab_load
check "debugfs create of n1" ctl create n1 64
check_err "API create of n1 (stress start): EEXIST" "File exists" tctl stress start n1 size=64
check "API create of n2 (stress start)" tctl stress start n2 size=128 batch=8
check_err "debugfs create of n2: EEXIST" "File exists" ctl create n2 32
check "n2 is in slabinfo and caches/" sh -c "grep -q '^n2 ' $RSLAB_DBG/slabinfo && [ -r $RSLAB_DBG/caches/n2/stats ]"
check "flush and shrink of n2 from debugfs" sh -c "echo 'flush n2' >$RSLAB_DBG/control && echo 'shrink n2' >$RSLAB_DBG/control"
check_err "debugfs destroy of n2: EPERM" "Operation not permitted" ctl destroy n2
ok=1
tctl stress stop n2 || ok=0
ctl create n2 32 || ok=0
ctl destroy n2 || ok=0
ctl destroy n1 || ok=0
check "n2 free again after stress stop; n1 destroyed" test $ok = 1
# A client that forgets its cache: rslab reports it at its unload, and destroys it.
check "forget f1 (an API cache never destroyed)" tctl forget f1
dmesg -c >/dev/null
ok=1
rslab_test_unload || ok=0
rmmod rslab || ok=0
out=$(dmesg)
grep -q 'cache f1: created through the API and never destroyed' <<<"$out" || ok=0
grep -q 'unload: 1 caches destroyed' <<<"$out" || ok=0
[ $ok = 1 ] || printf '# %s\n' "$out"
check "rslab reports and destroys the forgotten cache at unload" test $ok = 1
ktap_finished
