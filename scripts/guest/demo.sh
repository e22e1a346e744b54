#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make run's guest program: load rslab, create two caches, run the stress workers with remote
# frees for a moment, show what rslab reports, clean up and unload. Prints KTAP so the host's
# verdict can tell a working demonstration from a broken one.
DBG=/sys/kernel/debug/rslab
step=0
ok() { step=$((step + 1)); echo "ok $step $*"; }
fail() { step=$((step + 1)); echo "not ok $step $*"; }
run() { local d=$1; shift; if "$@"; then ok "$d"; else fail "$d"; fi; }
ctl() { echo "$*" >"$DBG/control"; }
show() { echo "# ---- $1"; sed 's/^/# /' "$1"; }

echo "TAP version 13"
echo "1..9"
echo "# guest: $(nproc) CPUs online; nodes: $(ls -d /sys/devices/system/node/node* | sed 's|.*/||' | tr '\n' ' ')"
run "insmod rslab.ko" insmod /rslab/rslab.ko
run "create demo64 (64 bytes) and demo4k (4096 bytes, debug)" bash -c "echo create demo64 64 >$DBG/control && echo create demo4k 4096 debug >$DBG/control"
run "stress demo64 on every CPU, remote frees on" ctl stress start demo64 threads_per_cpu=1 batch=64 remote=1
for ((i = 0; i < 100; i++)); do
	[ "$(sed -n 's/^stress_iterations //p' $DBG/caches/demo64/stats)" -gt 200 ] && break
	sleep 0.1
done
show "$DBG/slabinfo"
run "stress stop" ctl stress stop demo64
run "validate demo64" ctl validate demo64
show "$DBG/caches/demo64/stats"
run "shrink demo64" ctl shrink demo64
run "destroy both caches" bash -c "echo destroy demo64 >$DBG/control && echo destroy demo4k >$DBG/control"
grep '^rslab' /proc/slabinfo | sed 's/^/# \/proc\/slabinfo: /'
run "rmmod rslab" rmmod rslab
run "debugfs directory gone" test ! -e "$DBG"
