#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make run's guest program: load rslab, then its clients at work. rslab_test.ko (a client of
# rslab's exported API) runs its stress workers with remote frees on a cache of its own and a
# debug one for a moment; rslab lists, flushes and shrinks them but refuses to destroy them
# (EPERM: another module owns them) and refuses to unload while a client is loaded. Then the
# sample client rslab_client.ko (samples/rslab_client/, plain C against include/rslab.h), if it
# was built: its caches in slabinfo, its own report at rmmod. Clean up and unload. Prints KTAP
# so the host's verdict can tell a working demonstration from a broken one.
DBG=/sys/kernel/debug/rslab
TDBG=/sys/kernel/debug/rslab_test
CLIENT=/rslab/rslab_client.ko
step=0
ok() { step=$((step + 1)); echo "ok $step $*"; }
fail() { step=$((step + 1)); echo "not ok $step $*"; }
run() { local d=$1; shift; if "$@"; then ok "$d"; else fail "$d"; fi; }
skip() { step=$((step + 1)); echo "ok $step $* # SKIP rslab_client.ko was not built"; }
ctl() { echo "$*" >"$DBG/control"; }
tctl() { echo "$*" >"$TDBG/control"; }
show() { echo "# ---- $1"; sed 's/^/# /' "$1"; }
refused() { ! "$@" 2>/dev/null; }

echo "TAP version 13"
echo "1..16"
echo "# guest: $(nproc) CPUs online; nodes: $(ls -d /sys/devices/system/node/node* | sed 's|.*/||' | tr '\n' ' ')"
run "insmod rslab.ko" insmod /rslab/rslab.ko
run "insmod rslab_test.ko (its KUnit suite rslab_api runs now)" insmod /rslab/rslab_test.ko
run "create demo_own (512 bytes) on rslab's control" ctl create demo_own 512
run "rslab_test: stress demo64 (64 bytes) on every CPU, remote frees on; demo4k (4096 bytes, debug)" \
	bash -c "echo stress start demo64 size=64 threads_per_cpu=1 batch=64 remote=1 >$TDBG/control &&
		echo stress start demo4k size=4096 debug=1 batch=8 >$TDBG/control"
for ((i = 0; i < 100; i++)); do
	[ "$(sed -n 's/^iterations //p' $TDBG/stress/demo64)" -gt 200 ] && break
	sleep 0.1
done
show "$DBG/slabinfo"
show "$TDBG/stress/demo64"
show "$DBG/caches/demo64/stats"
run "rslab refuses to destroy demo64: rslab_test owns it (EPERM)" refused ctl destroy demo64
run "rslab flushes and shrinks demo64 while the stress runs" bash -c "echo flush demo64 >$DBG/control && echo shrink demo64 >$DBG/control"
run "rmmod rslab refused while rslab_test is loaded" refused rmmod rslab
run "rslab_test: stress stop (frees every object, destroys the caches)" \
	bash -c "echo stress stop demo64 >$TDBG/control && echo stress stop demo4k >$TDBG/control"
run "validate and destroy demo_own" bash -c "echo validate demo_own >$DBG/control && echo destroy demo_own >$DBG/control"
if [ -f "$CLIENT" ]; then
	run "insmod rslab_client.ko (the sample C client)" insmod "$CLIENT"
	sleep 1
	echo "# ---- rslab_client's caches in $DBG/slabinfo"
	grep '^rslab_client' "$DBG/slabinfo" | sed 's/^/# /'
	run "rslab_client's caches listed by rslab" grep -q '^rslab_client ' "$DBG/slabinfo"
	run "rmmod rslab_client" rmmod rslab_client
	dmesg | grep 'rslab_client: done:' | tail -n1 | sed 's/^/# /'
	run "rslab_client reported no error and left no cache" \
		bash -c "dmesg | grep 'rslab_client: done:' | tail -n1 | grep -q 'errors=0\$' && ! grep -q '^rslab_client' $DBG/slabinfo"
else
	skip "insmod rslab_client.ko (the sample C client)"
	skip "rslab_client's caches listed by rslab"
	skip "rmmod rslab_client"
	skip "rslab_client reported no error and left no cache"
fi
grep '^rslab' /proc/slabinfo | sed 's/^/# \/proc\/slabinfo: /'
run "rmmod rslab_test" rmmod rslab_test
run "rmmod rslab" rmmod rslab
run "debugfs directories gone" test ! -e "$DBG" -a ! -e "$TDBG"
