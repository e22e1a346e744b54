#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# rslab control interface: every command and each of its error codes, every size class and the
# alignment rules, random bytes, unload/reload with caches in between, rslab's own kmem caches in
# /proc/slabinfo; the stress and bench commands are gone from it (EINVAL). rslab_test's control:
# its errors, a stress run with remote frees whose cache (made through the API) rslab lists and
# may flush and shrink but not destroy (EPERM), a debug run with alignment, stop destroying the
# cache.
DIR=$(dirname "$(realpath "$0")")
. "$DIR/../kselftest/ktap_helpers.sh"
. "$DIR/rslab_lib.sh"

C=$RSLAB_DBG/control
TC=$RSLAB_TEST_DBG/control
LONG=012345678901234567890123456789012

BAD=(
	"" "frobnicate t1" "create" "create t1" "create bad 0" "create bad 16385" "create bad -4"
	"create bad 12abc" "create bad 64 align=3" "create bad 64 align=8192" "create bad 64 align=0"
	"create bad 64 colour=red" "create bad 64 debug debug" "create bad/x 64" "create b.d 64"
	"create $LONG 64" "destroy t1 extra" "shrink" "validate"
	# The stress workers and the benchmark moved to rslab_test.ko: rslab knows them no more.
	"stress start t1" "stress start t1 threads_per_cpu=2 batch=32 remote=1" "stress stop t1"
	"bench pair 64" "bench footprint 256" "bench shrink" "bench release"
)
TBAD=(
	"" "frobnicate t2" "stress" "stress start" "stress start t2" "stress start t2 64"
	"stress start t2 size=0" "stress start t2 size=16385" "stress start t2 size=12abc"
	"stress start t2 size=64 align=3" "stress start t2 size=64 align=8192"
	"stress start t2 size=64 remote=2" "stress start t2 size=64 debug=2"
	"stress start t2 size=64 batch=0" "stress start t2 size=64 batch=4097"
	"stress start t2 size=64 threads_per_cpu=9" "stress start t2 size=64 colour=red"
	"stress start t2 size=64 size=64" "stress start bad/x size=64" "stress start b.d size=64"
	"stress start $LONG size=64" "stress frob t2" "stress stop" "stress stop t2 extra"
	"create t2 64" "forget" "forget t2 extra" "bench" "bench frob 64" "bench pair" "bench pair 64 n=x"
	"bench pair 0"
)
SIZES=(8 16 24 64 96 128 192 256 512 1000 1024 2048 4096 8192 16384)
ALIGNS=(8 64 4096)
RANDOM_WRITES=${RSLAB_RANDOM_WRITES:-300}
KEYS=(iterations allocs frees handoffs alloc_failures pattern_errors threads)

state() { cat "$RSLAB_DBG/slabinfo"; ls "$RSLAB_TEST_DBG/stress"; }
has_keys() { local k; for k in "${KEYS[@]}"; do grep -q "^$k [0-9][0-9]*$" "$RSLAB_TEST_DBG/stress/$1" || return 1; done; }
gone() { ! in_slabinfo "$1" && ! test -e "$RSLAB_DBG/caches/$1" && ! test -e "$RSLAB_TEST_DBG/stress/$1"; }

ktap_print_header
ktap_set_plan $((44 + ${#BAD[@]} + ${#TBAD[@]} + ${#SIZES[@]}))

rslab_unload
check "rslab and rslab_test loaded" rslab_load

check "create t1" ctl create t1 64
check "t1 listed in slabinfo" in_slabinfo t1
check "t1 stats readable" grep -q '^allocs 0$' "$RSLAB_DBG/caches/t1/stats"
check "t1's stats have no stress counters any more" bash -c "! grep -q '^stress_' $RSLAB_DBG/caches/t1/stats"
check "rslab's bench file is gone" test ! -e "$RSLAB_DBG/bench"
check_err "duplicate create is EEXIST" "File exists" ctl create t1 128
before=$(state)
for b in "${BAD[@]}"; do
	check_err "refused with EINVAL: '$b'" "Invalid argument" ctl "$b"
done
for b in "${TBAD[@]}"; do
	check_err "rslab_test refuses with EINVAL: '$b'" "Invalid argument" tctl "$b"
done
check "refused commands changed nothing" test "$before" = "$(state)"
check_err "unknown cache is ENOENT" "No such file or directory" ctl destroy nosuch
check_err "stress stop of no run is ENOENT" "No such file or directory" tctl stress stop nosuch
check_err "stress stop of a cache that is no run is ENOENT" "No such file or directory" tctl stress stop t1
check_err "stress start on the name of a debugfs cache is EEXIST" "File exists" tctl stress start t1 size=64
check "the debugfs cache is untouched" bash -c "grep -q '^allocs 0$' $RSLAB_DBG/caches/t1/stats && echo destroy t1 >$C"

# Every size class with every alignment: geometry as reported, alignment honoured by layout.
for s in "${SIZES[@]}"; do
	ok=1
	for a in "${ALIGNS[@]}"; do
		n=c${s}_$a
		ctl create "$n" "$s" align=$a || { ok=0; break; }
		read -r _ _ _ objsize perslab pages _ _ stride align _ <<<"$(grep "^$n " "$RSLAB_DBG/slabinfo")"
		if [ "$objsize" != "$s" ] || [ "$perslab" -lt 1 ] || [ $((stride % a)) != 0 ] || [ "$align" -lt "$a" ]; then
			ktap_print_msg "$n: objsize=$objsize perslab=$perslab pages=$pages stride=$stride align=$align"
			ok=0
		fi
		ctl destroy "$n" || ok=0
	done
	check "size $s: geometry for alignments ${ALIGNS[*]}" test $ok = 1
done

# Stress on every CPU with remote frees: a cache made through the API, which rslab lists,
# flushes and shrinks, but refuses to destroy (EPERM: rslab_test owns it).
check "stress start with remote frees" tctl stress start st size=200 threads_per_cpu=2 batch=32 remote=1
check "the run's cache listed in rslab's slabinfo and caches/" bash -c "grep -q '^st .* 200 ' $RSLAB_DBG/slabinfo && test -r $RSLAB_DBG/caches/st/stats"
check "stress/st has every counter" has_keys st
check "two threads on every online CPU" test "$(stress_stat st threads)" = $((2 * $(cpus_online)))
check_err "second stress start of a name is EEXIST" "File exists" tctl stress start st size=200
check_err "create of the run's name on rslab's control is EEXIST" "File exists" ctl create st 64
# Handoffs need a second online CPU, cross-node frees a second node with CPUs: a guest with one
# CPU or one node (make soak's one-cpu boot) has neither, by design.
MULTI_CPU=0 MULTI_NODE=0
[ "$(cpus_online)" -gt 1 ] && MULTI_CPU=1
case "$(cat /sys/devices/system/node/has_cpu)" in *[,-]*) MULTI_NODE=1 ;; esac
# Wait (bounded) until the workers have done real work, including cross-CPU handoffs.
for ((i = 0; i < 600; i++)); do
	{ [ $MULTI_CPU = 0 ] || [ "$(stress_stat st handoffs)" -gt 2000 ]; } && [ "$(stress_stat st iterations)" -gt 400 ] && break
	sleep 0.1
done
ktap_print_msg "stress: $(tr '\n' ' ' <"$RSLAB_TEST_DBG/stress/st")remote_frees=$(stat_of st remote_frees)"
if [ $MULTI_CPU = 1 ]; then
	check "stress made progress with handoffs" test "$(stress_stat st handoffs)" -gt 2000
else
	ktap_test_skip "stress handoffs: one CPU online"
fi
check "rslab counts the run's allocations" test "$(stat_of st allocs)" -gt 0
check_err "destroy of a cache another module owns is EPERM" "Operation not permitted" ctl destroy st
check "the cache stays listed after the refused destroy" bash -c "grep -q '^st ' $RSLAB_DBG/slabinfo && test -r $RSLAB_DBG/caches/st/stats"
it=$(stress_stat st iterations)
check "stress goes on after the refused destroy" wait_until 60 stress_running st $((it + 100))
check "flush while stress runs" ctl flush st
check "shrink while stress runs" ctl shrink st
check "no object corrupted under stress" test "$(stress_stat st pattern_errors)" = 0
if [ $MULTI_NODE = 1 ]; then
	check "cross-node frees happened" test "$(stat_of st remote_frees)" -gt 0
else
	ktap_test_skip "cross-node frees: one node with CPUs"
fi
check "stress stop frees every object and destroys the cache" tctl stress stop st
check "the cache, caches/st and stress/st are gone" gone st
check_err "stress stop of a stopped run is ENOENT" "No such file or directory" tctl stress stop st
check "the name is free again for rslab's control" bash -c "echo create st 64 >$C && echo destroy st >$C"

# A debug run with an alignment: red zones and checks on every operation, no error found.
check "stress start of a debug cache with align=64" tctl stress start sd size=100 align=64 debug=1 batch=8
check "slabinfo shows the debug cache and its alignment" \
	test "$(slabinfo_col sd 12)" = 1 -a "$(slabinfo_col sd 10)" -ge 64 -a "$(slabinfo_col sd 4)" = 100
check "the debug run makes progress" wait_until 60 stress_running sd 200
check "no debug error under stress" test "$(stat_of sd debug_errors)" = 0
check "stress stop of the debug run" stress_end sd

# Random bytes to both control files: every write refused, nothing changed.
before=$(state)
accepted=0
for ((i = 0; i < RANDOM_WRITES; i++)); do
	len=$((1 + RANDOM % 64))
	f=$C
	[ $((i % 2)) = 1 ] && f=$TC
	# dd writes the block in one write(2) and fails if the write does.
	if dd if=/dev/urandom of="$f" bs="$len" count=1 2>/dev/null; then
		accepted=$((accepted + 1))
	fi
done
ktap_print_msg "random writes: $RANDOM_WRITES, accepted: $accepted"
check "$RANDOM_WRITES random writes all refused" test $accepted = 0
check "random writes changed nothing" test "$before" = "$(state)"

check "rslab's kmem caches in /proc/slabinfo" bash -c "grep -q '^rslab_cache ' /proc/slabinfo && grep -q '^rslab_node ' /proc/slabinfo"

# Unload with caches still created and a run still going: rslab_test's unload stops its run and
# destroys its cache, rslab's unload then destroys its own two. Reload: both start empty.
ctl create keep1 64 && ctl create keep2 4096 debug && tctl stress start keep3 size=128 batch=16
check "keep3 running before unload" wait_until 30 stress_running keep3 10
check "unload with caches created and a run going" rslab_unload
destroyed=$(dmesg | sed -n 's/.*rslab: unload: \([0-9]*\) caches destroyed.*/\1/p' | tail -n1)
ktap_print_msg "rslab's unload destroyed $destroyed caches"
check "rslab_test's unload destroyed its cache, rslab's unload the other two" test "$destroyed" = 2
check "reload starts empty" bash -c ". $DIR/rslab_lib.sh; rslab_load && ! grep -q '^keep' $RSLAB_DBG/slabinfo && test -z \"\$(ls $RSLAB_TEST_DBG/stress)\""
rslab_unload
ktap_finished
