#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Lifetimes of rslab's and rslab_test's debugfs files, cache names and the modules themselves,
# provoked with loops:
#  - an open debugfs file pins its module: rmmod is refused until it is closed (closing a file
#    after rmmod once oopsed in full_proxy_release: its fops had no owner); rslab's files pin
#    rslab, rslab_test's pin rslab_test;
#  - a file whose cache was destroyed while open reads EIO, and closing it is harmless; the
#    same for a stress run's files across `stress stop`;
#  - destroy (a stress run's stop, through the API) racing re-create of the same name (through
#    debugfs or the API), with other commands holding the old cache: every created cache has
#    its caches/<name>/ directory;
#  - unload racing commands: rslab_test's unload racing `stress start` destroys every cache it
#    created; rslab's unload racing `create` destroys every cache created; nothing leaks;
#  - a client that forgets to destroy its cache: the cache outlives it, sound, and rslab reports
#    it at unload.
DIR=$(dirname "$(realpath "$0")")
. "$DIR/../kselftest/ktap_helpers.sh"
. "$DIR/rslab_lib.sh"

REUSE=$(iters 40)
UNLOADS=$(iters 5)
FILES=(info control slabinfo reaper hotplug caches/pin/stats)
TFILES=(control bench stress/tp)

# pinned <module> <dir> <file...>: each file, open, keeps rmmod of the module refused.
pinned() {
	local m=$1 d=$2 f refused
	shift 2
	for f in "$@"; do
		if [ "$f" = control ]; then exec 3>"$d/$f"; else exec 3<"$d/$f"; fi
		refused=0
		rmmod "$m" 2>/dev/null || refused=1
		exec 3>&-
		if [ $refused = 1 ] && [ -d "/sys/module/$m" ]; then
			ktap_test_pass "rmmod $m refused while $f is open"
		else
			ktap_test_fail "rmmod $m refused while $f is open"
			if [ "$m" = rslab ]; then
				rslab_load_core && ctl create pin 64
			else
				rslab_load && tctl stress start tp size=64 batch=8
			fi
		fi
	done
}

ktap_print_header
ktap_set_plan $((${#FILES[@]} + ${#TFILES[@]} + 12))
rslab_unload
# rslab alone first: a loaded client would keep rmmod refused whatever the files do.
rslab_load_core
ctl create pin 64
pinned rslab "$RSLAB_DBG" "${FILES[@]}"
rslab_load
tctl stress start tp size=64 batch=8
pinned rslab_test "$RSLAB_TEST_DBG" "${TFILES[@]}"
tctl stress stop tp

# A per-cache file open across its cache's destroy: reads fail, closing is harmless.
exec 3<"$RSLAB_DBG/caches/pin/stats"
ctl destroy pin
read_failed=0
cat <&3 >/dev/null 2>&1 || read_failed=1
exec 3<&-
check "stats of a destroyed cache read through an open fd: refused" test $read_failed = 1
# The same for a stress run's counters and its cache's stats across `stress stop`.
tctl stress start tq size=64 batch=8
exec 3<"$RSLAB_TEST_DBG/stress/tq" 4<"$RSLAB_DBG/caches/tq/stats"
tctl stress stop tq
read_failed=0
cat <&3 >/dev/null 2>&1 || read_failed=$((read_failed + 1))
cat <&4 >/dev/null 2>&1 || read_failed=$((read_failed + 1))
exec 3<&- 4<&-
check "stress/tq and caches/tq/stats of a stopped run read through open fds: refused" test $read_failed = 2
check "unload after closing every file" rslab_unload
rslab_load

# Destroy racing re-create of one name, while other commands (flush, shrink: each holds the
# cache for a flush on every CPU) hold the cache being destroyed. The cache is a stress run's:
# its CPUs' arrays hold objects, so the destroy of `stress stop` queues work on those CPUs, and
# the commands started meanwhile find the cache and wait for the flush mutex behind it. The
# name is re-created through debugfs or through the API (a new run) in turn. Once the old cache
# is let go, the re-created one must still have its directory.
tctl stress start r size=64 batch=8
created=0 missing=0
for ((i = 0; i < REUSE; i++)); do
	pids=()
	rm -f /tmp/reuse_started_*
	for c in flush shrink flush; do
		(touch "/tmp/reuse_started_${#pids[@]}"; ctl $c r 2>/dev/null) &
		pids+=($!)
	done
	until [ -e /tmp/reuse_started_0 ] && [ -e /tmp/reuse_started_1 ] && [ -e /tmp/reuse_started_2 ]; do :; done
	tctl stress stop r 2>/dev/null
	ok=0
	if [ $((i % 2)) = 0 ]; then
		ctl create r 64 2>/dev/null && ok=1
	else
		tctl stress start r size=64 batch=8 2>/dev/null && ok=1
	fi
	wait "${pids[@]}"
	if [ $ok = 1 ]; then
		created=$((created + 1))
		[ -e "$RSLAB_DBG/caches/r/stats" ] || missing=$((missing + 1))
	fi
	# Start the next round from a known state: a run named r (a cache without its directory
	# is still listed).
	if [ ! -e "$RSLAB_TEST_DBG/stress/r" ]; then
		! in_slabinfo r || ctl destroy r 2>/dev/null
		tctl stress start r size=64 batch=8 2>/dev/null
	fi
done
ktap_print_msg "name reuse: $REUSE rounds, $created re-created, $missing without caches/r/"
check "re-created name always has its directory" test $missing = 0 -a $created -gt $((REUSE / 2))
check "the re-created name works" bash -c ". $DIR/../kselftest/ktap_helpers.sh; . $DIR/rslab_lib.sh
	wait_until 30 stress_running r 10 && stress_end r && ctl create r 64 && validate_all r && ctl destroy r"

# Unload racing commands. Each round: a writer starts (and stops) stress runs on rslab_test's
# control until rslab_test goes away; then a writer creates caches on rslab's control until rslab
# goes away.
twriter() { # twriter <round>: starts runs until rslab_test's control is gone
	local i=0 n=0
	while { echo "stress start ws${1}_$i size=64 batch=8" >"$RSLAB_TEST_DBG/control"; } 2>/dev/null; do
		n=$((n + 1))
		# At most three runs at once (each has a thread per CPU): stop the oldest one, a
		# command the unload may race as well.
		if [ $i -ge 2 ]; then
			{ echo "stress stop ws${1}_$((i - 2))" >"$RSLAB_TEST_DBG/control"; } 2>/dev/null
		fi
		i=$((i + 1))
	done
	echo $n >"/tmp/started_$1"
}
writer() { # writer <round>: creates caches until rslab's control is gone
	local i=0 n=0
	# Names are unique: a create fails only once control is gone (or refuses opens while the
	# module is going), and then the writer stops.
	while { echo "create w${1}_$i 64" >"$RSLAB_DBG/control"; } 2>/dev/null; do
		n=$((n + 1)) i=$((i + 1))
	done
	echo $n >"/tmp/created_$1"
}
# unload_racing <module> <writer> <round>: rmmod is refused while the writer has a control
# file open, so it is retried until it gets in between two commands.
unload_racing() {
	local t=0 w
	"$2" "$3" &
	w=$!
	sleep 0.$((RANDOM % 5))
	until rmmod "$1" 2>/dev/null; do
		t=$((t + 1))
		[ $t -lt 5000 ] || { kill $w; wait $w; return 1; }
	done
	tries=$((tries + t))
	wait $w
}
ok=1 tok=1 tries=0 runs=0
for ((u = 0; u < UNLOADS; u++)); do
	rslab_load || { ok=0; break; }
	unload_racing rslab_test twriter "$u" || { tok=0; break; }
	left=$(grep -c "^ws${u}_" "$RSLAB_DBG/slabinfo")
	runs=$((runs + $(cat "/tmp/started_$u")))
	if [ "$left" != 0 ]; then
		ktap_print_msg "round $u: $(cat "/tmp/started_$u") runs started, $left of their caches left after rslab_test's unload"
		tok=0
	fi
	unload_racing rslab writer "$u" || { ok=0; break; }
	created=$(cat "/tmp/created_$u")
	destroyed=$(dmesg | sed -n 's/.*rslab: unload: \([0-9]*\) caches destroyed.*/\1/p' | tail -n1)
	if [ "$created" != "$destroyed" ]; then
		ktap_print_msg "round $u: $created caches created, $destroyed destroyed at unload"
		ok=0
	fi
done
ktap_print_msg "unload races: $UNLOADS rounds, $runs runs started, $tries refused rmmod attempts"
check "rslab_test's unload stops every run and destroys every cache it made" test $tok = 1 -a $runs -gt 0
check "every cache created before rslab's unload is destroyed by it" test $ok = 1
check "modules unloaded" bash -c "! test -d /sys/module/rslab && ! test -d /sys/module/rslab_test"

# A client that forgets its cache (rslab_test's `forget`: create it through the API, use it,
# drop the handle without destroying it): the cache outlives the client, stays sound, and
# rslab's unload reports it.
rslab_load
tctl forget fg
rslab_test_unload
check "a forgotten cache outlives its client" in_slabinfo fg
check "the forgotten cache validates, nothing allocated" validate_all fg
rslab_unload
check "rslab's unload reports the forgotten cache" \
	bash -c "dmesg | grep -qE 'rslab: cache \"?fg\"?: created through the API and never destroyed'"

# A failed load says nothing about being loaded.
before=$(dmesg | grep -c 'rslab: rslab .* loaded')
insmod "$RSLAB_KO" reap_interval_ms=5 2>/dev/null && rmmod rslab
after=$(dmesg | grep -c 'rslab: rslab .* loaded')
check "a refused load (reap_interval_ms=5) prints no 'loaded'" test "$before" = "$after"
ktap_finished
