#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make bench's cost model, step 1: record the instructions of steady-state allocator calls.
#   scripts/costmodel/trace.sh <out dir> <perf kernel build dir>
# Boots the perf guest in the deterministic mode (single-threaded TCG, -icount shift=0, 2 vCPUs
# on 2 nodes) with QEMU's gdbstub on a free local port (RSLAB_QEMU_ARGS, scripts/guest.sh) and
# runs scripts/guest/bench.sh's `trace` step: for each size of RSLAB_TRACE_SIZES (default
# "64 256"), `bench trace pair|batch n=16|batch n=256|bulk n=16|cross n=16` (rslab_test/bench/
# trace.rs: warm-up rounds, then a few operations of each allocator between two markers).
# gdb (scripts/costmodel/gdb_trace.py) single-steps every call into rslab_alloc()/rslab_free()/
# kmem_cache_alloc_noprof()/kmem_cache_free() (and the bulk ones) inside the markers, from the
# call to its return, into <out dir>/trace/streams.txt. Guest logs: <out dir>/guest-trace/.
# scripts/costmodel/model.py turns the streams into cycles.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

OUT=$(realpath -m "${1:?out dir}")
KB=${2:?kernel build dir}
LOG=$OUT/guest-trace
command -v gdb >/dev/null || die "the cost model needs gdb (apt-get install gdb)"
mkdir -p "$OUT/trace"
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
RSLAB_ACCEL=tcg-icount RSLAB_CPUS=2 RSLAB_NODES=2 RSLAB_BENCH_ONLY=trace \
	RSLAB_BENCH_SIZES="${RSLAB_TRACE_SIZES:-64 256}" RSLAB_LOGDIR=$LOG RSLAB_TIMEOUT=${RSLAB_TRACE_TIMEOUT:-2400} \
	RSLAB_QEMU_ARGS="-gdb tcp:127.0.0.1:$PORT" \
	"$RSLAB_TOP/scripts/guest.sh" bench "$KB" >"$OUT/guest-trace.log" 2>&1 &
gpid=$!
gdbpid=
# On any exit: no gdb and no QEMU of this run left behind (QEMU found by this run's own log path).
cleanup() {
	[ -z "$gdbpid" ] || kill "$gdbpid" 2>/dev/null || true
	if kill -0 "$gpid" 2>/dev/null; then
		for p in $(pgrep -f -- "^qemu-system-x86_64 .*$LOG/initramfs.cpio.gz" || true); do kill "$p" 2>/dev/null || true; done
	fi
}
trap cleanup EXIT
# The guest prints the addresses gdb needs ("# TRACESYM end" last) before its first trace.
for ((i = 0; i < 900; i++)); do
	grep -q '^# TRACESYM end' "$LOG/ktap.log" 2>/dev/null && break
	kill -0 "$gpid" 2>/dev/null || break
	sleep 1
done
grep -q '^# TRACESYM end' "$LOG/ktap.log" 2>/dev/null || { tail -n 20 "$OUT/guest-trace.log"; die "trace guest: no addresses"; }
TRACE_PORT=$PORT TRACE_SYMS=$LOG/ktap.log TRACE_OUT=$OUT/trace/streams.txt \
	timeout -k 10 "${RSLAB_TRACE_TIMEOUT:-2400}" gdb -nx -batch -x "$RSLAB_TOP/scripts/costmodel/gdb_trace.py" \
	>"$OUT/trace/gdb.log" 2>&1 &
gdbpid=$!
rc=0
wait "$gdbpid" || rc=$?
gdbpid=
wait "$gpid" || rc=$?
tail -n 2 "$OUT/trace/gdb.log"
exit $rc
