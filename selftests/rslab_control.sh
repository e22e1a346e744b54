#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# rslab control interface: every command and each of its error codes, every size class and the
# alignment rules, stress with remote frees then validate, destroy while busy, random bytes,
# unload/reload with caches in between, rslab's own kmem caches in /proc/slabinfo.
DIR=$(dirname "$(realpath "$0")")
. "$DIR/../kselftest/ktap_helpers.sh"
. "$DIR/rslab_lib.sh"

C=$RSLAB_DBG/control


in_slabinfo() { grep -q "^$1 " "$RSLAB_DBG/slabinfo"; }

BAD=(
	"" "frobnicate t1" "create" "create t1" "create bad 0" "create bad 16385" "create bad -4"
	"create bad 12abc" "create bad 64 align=3" "create bad 64 align=8192" "create bad 64 align=0"
	"create bad 64 colour=red" "create bad 64 debug debug" "create bad/x 64" "create b.d 64"
	"create 012345678901234567890123456789012 64" "destroy t1 extra" "stress start t1 remote=2"
	"stress start t1 batch=0" "stress start t1 batch=4097" "stress start t1 threads_per_cpu=9"
	"stress frob t1" "shrink" "validate"
)
SIZES=(8 16 24 64 96 128 192 256 512 1000 1024 2048 4096 8192 16384)
ALIGNS=(8 64 4096)
RANDOM_WRITES=${RSLAB_RANDOM_WRITES:-300}

ktap_print_header
ktap_set_plan $((25 + ${#BAD[@]} + ${#SIZES[@]}))

rslab_unload
rslab_load

check "create t1" ctl create t1 64
check "t1 listed in slabinfo" in_slabinfo t1
check "t1 stats readable" grep -q '^allocs 0$' "$RSLAB_DBG/caches/t1/stats"
check_err "duplicate create is EEXIST" "File exists" ctl create t1 128
before=$(cat "$RSLAB_DBG/slabinfo")
for b in "${BAD[@]}"; do
	check_err "refused with EINVAL: '$b'" "Invalid argument" ctl "$b"
done
check "refused commands changed nothing" test "$before" = "$(cat "$RSLAB_DBG/slabinfo")"
check_err "unknown cache is ENOENT" "No such file or directory" ctl destroy nosuch
check_err "stress stop when not running is ESRCH" "No such process" ctl stress stop t1

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

# Stress on every CPU with remote frees, then validate.
ctl create st 200
check "stress start with remote frees" ctl stress start st threads_per_cpu=2 batch=32 remote=1
check_err "second stress start is EBUSY" "Device or resource busy" ctl stress start st
# Wait (bounded) until the workers have done real work, including cross-CPU handoffs.
for ((i = 0; i < 600; i++)); do
	[ "$(stat_of st stress_handoffs)" -gt 2000 ] && [ "$(stat_of st stress_iterations)" -gt 400 ] && break
	sleep 0.1
done
ktap_print_msg "stress: iterations=$(stat_of st stress_iterations) allocs=$(stat_of st stress_allocs) handoffs=$(stat_of st stress_handoffs) remote_frees=$(stat_of st remote_frees)"
check "stress made progress with handoffs" test "$(stat_of st stress_handoffs)" -gt 2000
check_err "destroy while stress runs is EBUSY" "Device or resource busy" ctl destroy st
check "flush while stress runs" ctl flush st
check "stress stop" ctl stress stop st
check "no object corrupted under stress" test "$(stat_of st stress_pattern_errors)" = 0
check "cross-node frees happened" test "$(stat_of st remote_frees)" -gt 0
check "validate after stress" ctl validate st
check "allocs minus frees is zero" test "$(stat_of st live)" = 0
check "shrink returns empty slabs" ctl shrink st
check "destroy after stress" ctl destroy st
check "destroyed cache gone" bash -c "! grep -q '^st ' $RSLAB_DBG/slabinfo && ! test -e $RSLAB_DBG/caches/st"

# Random bytes: every write refused, nothing changed.
before=$(cat "$RSLAB_DBG/slabinfo")
accepted=0
for ((i = 0; i < RANDOM_WRITES; i++)); do
	len=$((1 + RANDOM % 64))
	# dd writes the block in one write(2) and fails if the write does.
	if dd if=/dev/urandom of="$C" bs="$len" count=1 2>/dev/null; then
		accepted=$((accepted + 1))
	fi
done
ktap_print_msg "random writes: $RANDOM_WRITES, accepted: $accepted"
check "$RANDOM_WRITES random writes all refused" test $accepted = 0
check "random writes changed nothing" test "$before" = "$(cat "$RSLAB_DBG/slabinfo")"

check "rslab's kmem caches in /proc/slabinfo" bash -c "grep -q '^rslab_cache ' /proc/slabinfo && grep -q '^rslab_node ' /proc/slabinfo"

# Unload with caches still created, reload: a fresh, empty rslab.
ctl create keep1 64 && ctl create keep2 4096 debug
check "unload with caches created" rslab_unload
check "reload starts empty" bash -c "rslab_load() { insmod $RSLAB_KO; }; rslab_load && ! grep -q '^keep1 ' $RSLAB_DBG/slabinfo"
rslab_unload
ktap_finished
