#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Lifetimes of rslab's debugfs files, cache names and the module itself, provoked with loops:
#  - an open debugfs file pins the module: rmmod is refused until it is closed (closing a file
#    after rmmod once oopsed in full_proxy_release: its fops had no owner);
#  - a file whose cache was destroyed while open reads EIO, and closing it is harmless;
#  - destroy racing re-create of the same name, with other commands holding the old cache:
#    every created cache has its caches/<name>/ directory;
#  - unload racing commands that create caches and start stress: every cache created is
#    destroyed at unload, and nothing leaks.
DIR=$(dirname "$(realpath "$0")")
. "$DIR/../kselftest/ktap_helpers.sh"
. "$DIR/rslab_lib.sh"

REUSE=$(iters 40)
UNLOADS=$(iters 5)
FILES=(info control slabinfo reaper hotplug bench caches/pin/stats)
in_slabinfo() { grep -q "^$1 " "$RSLAB_DBG/slabinfo"; }

ktap_print_header
ktap_set_plan $((${#FILES[@]} + 7))
rslab_unload
rslab_load
ctl create pin 64

# An open file pins the module. Busybox rmmod asks with O_NONBLOCK: refused at once.
for f in "${FILES[@]}"; do
	if [ "$f" = control ]; then exec 3>"$RSLAB_DBG/$f"; else exec 3<"$RSLAB_DBG/$f"; fi
	refused=0
	rmmod rslab 2>/dev/null || refused=1
	exec 3>&-
	if [ $refused = 1 ] && rslab_loaded; then
		ktap_test_pass "rmmod refused while $f is open"
	else
		ktap_test_fail "rmmod refused while $f is open"
		rslab_load && ctl create pin 64
	fi
done

# A per-cache file open across its cache's destroy: reads fail, closing is harmless.
exec 3<"$RSLAB_DBG/caches/pin/stats"
ctl destroy pin
read_failed=0
cat <&3 >/dev/null 2>&1 || read_failed=1
exec 3<&-
check "stats of a destroyed cache read through an open fd: refused" test $read_failed = 1
check "unload after closing every file" rslab_unload
rslab_load

# Destroy racing re-create of one name, while other commands (validate, flush: each holds the
# cache for a flush on every CPU) hold the cache being destroyed. Once they have let go, the
# re-created cache must still have its directory.
ctl create r 64
created=0 missing=0
for ((i = 0; i < REUSE; i++)); do
	# Objects in per-CPU arrays: destroy's flush then queues work on those CPUs, and the
	# validates started meanwhile find the cache and wait for the flush mutex behind it.
	ctl stress start r batch=8 && ctl stress stop r
	pids=()
	rm -f /tmp/reuse_started_*
	for ((j = 0; j < 3; j++)); do
		(touch "/tmp/reuse_started_$j"; ctl validate r 2>/dev/null) &
		pids+=($!)
	done
	until [ -e /tmp/reuse_started_0 ] && [ -e /tmp/reuse_started_1 ] && [ -e /tmp/reuse_started_2 ]; do :; done
	ctl destroy r 2>/dev/null
	ok=0
	ctl create r 64 2>/dev/null && ok=1
	wait "${pids[@]}"
	if [ $ok = 1 ]; then
		created=$((created + 1))
		[ -e "$RSLAB_DBG/caches/r/stats" ] || missing=$((missing + 1))
	fi
	# Start the next round from a known state: a cache without its directory is still listed.
	in_slabinfo r || ctl create r 64 2>/dev/null
done
ktap_print_msg "name reuse: $REUSE rounds, $created re-created, $missing without caches/r/"
check "re-created name always has its directory" test $missing = 0 -a $created -gt $((REUSE / 2))
check "the re-created cache works" bash -c ". $DIR/rslab_lib.sh; ctl stress start r batch=8 && ctl stress stop r && validate_all r && ctl destroy r"

# Unload racing commands that create caches and start stress on them.
writer() { # writer <round>: creates and stresses caches until the module goes away
	local i=0 n=0
	# Names are unique: a create fails only once control is gone (or refuses opens while the
	# module is going), and then the writer stops.
	while { echo "create w${1}_$i 64" >"$RSLAB_DBG/control"; } 2>/dev/null; do
		n=$((n + 1))
		{ echo "stress start w${1}_$i batch=8" >"$RSLAB_DBG/control"; } 2>/dev/null
		i=$((i + 1))
	done
	echo $n >"/tmp/created_$1"
}
ok=1 tries=0
for ((u = 0; u < UNLOADS; u++)); do
	rslab_loaded || rslab_load || { ok=0; break; }
	writer "$u" &
	w=$!
	# Let some commands through, then unload: rmmod is refused while the writer has
	# control open, so it is retried until it gets in between two commands.
	sleep 0.$((RANDOM % 5))
	t=0
	until rmmod rslab 2>/dev/null; do
		t=$((t + 1))
		[ $t -lt 5000 ] || { ok=0; break; }
	done
	tries=$((tries + t))
	wait $w
	created=$(cat "/tmp/created_$u")
	destroyed=$(dmesg | sed -n 's/.*rslab: unload: \([0-9]*\) caches destroyed.*/\1/p' | tail -n1)
	if [ "$created" != "$destroyed" ]; then
		ktap_print_msg "round $u: $created caches created, $destroyed destroyed at unload"
		ok=0
	fi
done
ktap_print_msg "unload races: $UNLOADS rounds, $tries refused rmmod attempts"
check "every cache created before unload is destroyed by it" test $ok = 1
check "module unloaded" bash -c "! test -d /sys/module/rslab"

# A failed load says nothing about being loaded.
before=$(dmesg | grep -c 'rslab: rslab .* loaded')
insmod "$RSLAB_KO" reap_interval_ms=5 2>/dev/null && rmmod rslab
after=$(dmesg | grep -c 'rslab: rslab .* loaded')
check "a refused load (reap_interval_ms=5) prints no 'loaded'" test "$before" = "$after"
ktap_finished
