#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The benchmark's own code under the debug kernel (KASAN, lockdep): every workload once, with
# few rounds, must produce sane rows for both allocators; footprint/shrink/release work; bad
# input is refused. (Numbers from a debug kernel mean nothing: `make bench` uses the perf one.)
DIR=$(dirname "$(realpath "$0")")
. "$DIR/../kselftest/ktap_helpers.sh"
. "$DIR/rslab_lib.sh"

B=$RSLAB_DBG/bench
rows() { grep -c "^$1,$2,[0-9]*,$3," "$B"; }
sane() { awk -F, -v w="$1" '$1 == w { if ($5 + 0 <= 0 || $9 + 0 < 1) bad = 1; n++ } END { exit (bad || n == 0) }' "$B" </dev/null; }
all_sane() { local w; for w in pair batch concurrent cross flushlat; do sane "$w" || return 1; done; }

ktap_print_header
ktap_set_plan 12
rslab_unload
rslab_load
check "bench pair" ctl bench pair 64 rounds=3
check "bench batch" ctl bench batch 256 n=64 rounds=3
check "bench concurrent" ctl bench concurrent 64 n=16 rounds=3
check "bench cross" ctl bench cross 1024 n=64 rounds=3
check "bench flushlat" ctl bench flushlat 64 n=32 rounds=3
check "every workload has an rslab and a slub row with sane figures" bash -c "
	for w in pair batch concurrent cross; do
		[ \$(grep -c \"^\$w,.*,rslab,\" $B) = 1 ] && [ \$(grep -c \"^\$w,.*,slub,\" $B) = 1 ] || exit 1
	done
	grep -q '^flushlat,64,32,rslab,' $B"
check "medians positive, rounds counted" all_sane
sed 's/^/# /' "$B"
check "bench footprint keeps ~1 MiB live in both" ctl bench footprint 256
check_err "a second footprint run is EBUSY" "Device or resource busy" ctl bench footprint 256
check "bench shrink and release" bash -c "echo bench shrink >$RSLAB_DBG/control && echo bench release >$RSLAB_DBG/control"
check_err "release with nothing kept is ESRCH" "No such process" ctl bench release
ctl bench footprint 1024
check "unload with a footprint run still held" rslab_unload
ktap_finished
