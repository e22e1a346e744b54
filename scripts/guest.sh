#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Boot the test kernel in QEMU with rslab.ko (and its clients rslab_test.ko, rslab_client.ko)
# and run a guest program, then judge the run.
#   scripts/guest.sh <mode> <kernel build dir>
# mode: run   the demonstration workload (scripts/guest/demo.sh)
#       check the selftests (selftests/, installed by the kernel's kselftest install into
#             /kselftest), then $RSLAB_EXTRA_TESTS, through scripts/guest/runner.sh
#       extra only $RSLAB_EXTRA_TESTS (used by the gate's self-test)
# Two serial ports: ttyS0 carries the console (the kernel log), ttyS1 the guest programs' output
# (KTAP), so test output and printk never interleave. Both are kept in $RSLAB_LOGDIR.
# Exit status: that of scripts/verdict.py (0 pass; 1 test failure; 2 kernel-log gate; 3 no verdict).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

MODE=${1:?mode}
KBUILD=${2:?kernel build dir}
CPUS=${RSLAB_CPUS:-4}
NODES=${RSLAB_NODES:-2}
TIMEOUT=${RSLAB_TIMEOUT:-3600}
ACCEL=${RSLAB_ACCEL:-tcg}
MEM_PER_NODE_MB=${RSLAB_MEM_PER_NODE_MB:-1024}
DIMM_MB=${RSLAB_DIMM_MB:-512}

case "$CPUS$NODES" in *[!0-9]*) die "RSLAB_CPUS and RSLAB_NODES must be numbers" ;; esac
[ "$NODES" -ge 1 ] && [ "$CPUS" -ge "$NODES" ] && [ $((CPUS % NODES)) = 0 ] ||
	die "RSLAB_CPUS ($CPUS) must be a multiple of RSLAB_NODES ($NODES), both >= 1"
case "$TIMEOUT" in ''|*[!0-9]*) die "RSLAB_TIMEOUT must be seconds" ;; esac

RUN_ID=$(date +%Y%m%d-%H%M%S)-$MODE-$$
RSLAB_LOGDIR=${RSLAB_LOGDIR:-$RSLAB_TOP/out/logs/$RUN_ID}
mkdir -p "$RSLAB_LOGDIR" "$RSLAB_TOP/out/logs"
ln -sfn "$RSLAB_LOGDIR" "$RSLAB_TOP/out/logs/latest-$MODE"
WORK=$RSLAB_LOGDIR/initramfs
rm -rf "$WORK"
mkdir -p "$WORK"/{bin,dev,proc,sys,tmp,etc,rslab,usr/bin}

# --- initramfs --------------------------------------------------------------------------------
step_start "initramfs ($MODE)"
cp /bin/busybox "$WORK/bin/busybox"
cp /bin/bash-static "$WORK/bin/bash"
ln -s bash "$WORK/bin/sh.bash"
# rslab.ko and its test client rslab_test.ko (one Kbuild builds both); the sample C client
# when scripts/module.sh built it (samples/rslab_client/), for the demo and its selftest.
cp "$RSLAB_TOP/rslab.ko" "$RSLAB_TOP/rslab_test.ko" "$WORK/rslab/"
if [ -f "$RSLAB_TOP/samples/rslab_client/rslab_client.ko" ]; then
	cp "$RSLAB_TOP/samples/rslab_client/rslab_client.ko" "$WORK/rslab/"
fi
cp "$RSLAB_TOP/scripts/guest/init" "$WORK/init"
cp "$RSLAB_TOP/scripts/guest/runner.sh" "$RSLAB_TOP/scripts/guest/demo.sh" "$RSLAB_TOP/scripts/guest/bench.sh" \
	"$WORK/rslab/"
chmod +x "$WORK/init" "$WORK/rslab/"*.sh
case "$MODE" in
check|extra)
	# The runner's /kselftest: the selftests with the kernel's runner.sh, ktap_helpers.sh and
	# cpu-hotplug test (also in an `extra` run: the runner and the timeout come from there).
	ksft_install "$(ksrc_dir)" "$WORK/kselftest" >"$RSLAB_LOGDIR/kselftest-install.log" ||
		{ cat "$RSLAB_LOGDIR/kselftest-install.log"; die "kselftest install of selftests/ failed"; }
	install -m 0755 "$RSLAB_TOP/scripts/guest/timeout" "$WORK/usr/bin/timeout"
	if [ -n "${RSLAB_EXTRA_TESTS:-}" ]; then
		[ -d "$RSLAB_EXTRA_TESTS" ] || die "RSLAB_EXTRA_TESTS=$RSLAB_EXTRA_TESTS is not a directory"
		mkdir -p "$WORK/kselftest/extra"
		cp -r "$RSLAB_EXTRA_TESTS"/. "$WORK/kselftest/extra/"
		# A collection of its own: executables are tests; other files (helpers they source)
		# only come along.
		list_executables "$RSLAB_EXTRA_TESTS" | sed 's/^/extra:/' >>"$WORK/kselftest/kselftest-list.txt"
	fi
	;;
esac
printf 'RSLAB_MODE=%q\nRSLAB_SOAK=%q\nRSLAB_TEST_FILTER=%q\nRSLAB_BENCH_ONLY=%q\nRSLAB_BENCH_ROUNDS=%q\nRSLAB_BENCH_SIZES=%q\n' \
	"$MODE" "${RSLAB_SOAK:-0}" "${RSLAB_TEST_FILTER:-}" "${RSLAB_BENCH_ONLY:-all}" "${RSLAB_BENCH_ROUNDS:-15}" \
	"${RSLAB_BENCH_SIZES:-16 64 256 1024 4096}" >"$WORK/etc/rslab.env"
# make soak's targets and budgets (RSLAB_SOAK_*), and RSLAB_TEST_TIMEOUT (each test's timeout,
# instead of the selftests' settings), go into the guest too.
for v in $(compgen -v | grep -E '^(RSLAB_SOAK_(CPU|MEM|CREATE|CTL|FAULTS|SECONDS|FACTOR)|RSLAB_TEST_TIMEOUT)$'); do
	case "${!v}" in
	''|*[!0-9]*) die "$v must be a number, not '${!v}'" ;;
	esac
	printf '%s=%q\n' "$v" "${!v}" >>"$WORK/etc/rslab.env"
done
(cd "$WORK" && find . -path ./initramfs -prune -o -print | cpio -o -H newc --quiet | gzip -1) \
	>"$RSLAB_LOGDIR/initramfs.cpio.gz"
step_done

# --- QEMU -------------------------------------------------------------------------------------
# `la57=off`: TCG's `max` model offers 5-level paging, and a 7.3 KASAN kernel booted with it
# can report a false "KASAN: wild-memory-access in do_raw_spin_lock" from an early timer
# interrupt. identify_cpu() clears boot_cpu_data.x86_capability (arch/x86/kernel/cpu/common.c)
# and sets it again from CPUID a little later. Interrupts are already on by then, and
# alternatives are not patched yet, so pgtable_l5_enabled() reads the cleared LA57 bit.
# KASAN_SHADOW_START (through __VIRTUAL_MASK_SHIFT) then gives kasan_check_range() a 4-level
# bound, and the 5-level direct-map address of the interrupt's irq_desc lock falls below it.
# The window is a few microseconds on hardware; under a loaded TCG host the pending tick lands
# in it (1 boot in 3 seen). Guests run with 4-level paging instead: rslab does not depend on
# the paging depth, and `no5lvl` would do the same only where the decompressor parses it.
qemu=(qemu-system-x86_64 -machine q35 -cpu max,la57=off -display none -monitor none -no-reboot)
case "$ACCEL" in
tcg) qemu+=(-accel tcg,thread=multi) ;;
tcg-icount) qemu+=(-accel tcg,thread=single -icount shift=0) ;;
kvm) qemu+=(-accel kvm) ;;
*) die "RSLAB_ACCEL must be tcg, tcg-icount or kvm, not '$ACCEL'" ;;
esac
cores=$((CPUS / NODES))
total_mb=$((MEM_PER_NODE_MB * NODES))
# RSLAB_DIMM_NODE_CPUS=1: the DIMM's node gets a socket of CPUs too (as many as the others), so
# it is a node with CPUs and no normal memory until its DIMM is onlined as kernel memory.
sockets=$NODES dimm_cpus=
if [ "${RSLAB_DIMM_NODE_CPUS:-0}" = 1 ]; then
	sockets=$((NODES + 1)) dimm_cpus=",cpus=$CPUS-$((CPUS + cores - 1))"
fi
# RSLAB_MEMLESS_NODE=1: one more node, after the DIMM's, with a socket of CPUs and no memory at
# all (a memoryless node: its CPUs allocate from the nearest node with memory).
memless=()
if [ "${RSLAB_MEMLESS_NODE:-0}" = 1 ]; then
	first=$((sockets * cores))
	memless=(-numa "node,nodeid=$((NODES + 1)),cpus=$first-$((first + cores - 1))")
	sockets=$((sockets + 1))
fi
qemu+=(-smp "$((sockets * cores)),sockets=$sockets,cores=$cores,threads=1" -m "${total_mb}M,slots=4,maxmem=16G")
for ((n = 0; n < NODES; n++)); do
	qemu+=(-object "memory-backend-ram,id=m$n,size=${MEM_PER_NODE_MB}M"
	       -numa "node,nodeid=$n,memdev=m$n,cpus=$((n * cores))-$((n * cores + cores - 1))")
done
# A node whose memory is a hot-pluggable DIMM, onlined movable (memory-only unless
# RSLAB_DIMM_NODE_CPUS=1).
qemu+=(-numa "node,nodeid=$NODES$dimm_cpus"
       -object "memory-backend-ram,id=dimm0m,size=${DIMM_MB}M"
       -device "pc-dimm,id=dimm0,memdev=dimm0m,node=$NODES" "${memless[@]}")
cmdline="console=ttyS0 panic=-1 memhp_default_state=online_movable loglevel=7"
# On PREEMPT_RT, 7.3's own Rust KUnit suite rust_spinlock_irq_condvar (rust/kernel/sync/lock/
# spinlock.rs, built in whenever KUNIT is) asserts that a SpinLockIrq turned hard interrupts off,
# which it does not on RT (spinlock_t is a sleeping lock there): it WARNs at boot, before rslab is
# loaded. The kernel's test is wrong, not rslab; on RT only rslab's suites run (the filter also
# applies to the suites of modules loaded later: rslab_kunit, rslab_api).
if grep -qx CONFIG_PREEMPT_RT=y "$KBUILD/.config"; then cmdline+=" kunit.filter_glob=rslab*"; fi
cmdline+=" ${RSLAB_CMDLINE:-}"
qemu+=(-kernel "$KBUILD/arch/x86/boot/bzImage" -initrd "$RSLAB_LOGDIR/initramfs.cpio.gz"
       -append "$cmdline"
       -chardev "file,id=con,path=$RSLAB_LOGDIR/console.log" -serial chardev:con
       -chardev "file,id=ktap,path=$RSLAB_LOGDIR/ktap.log" -serial chardev:ktap)
# RSLAB_QEMU_ARGS: more QEMU arguments, split at blanks (make bench's cost model: its gdbstub).
read -ra extra <<<"${RSLAB_QEMU_ARGS:-}" && qemu+=("${extra[@]}")
printf '%q ' "${qemu[@]}" >"$RSLAB_LOGDIR/qemu.cmd"; echo >>"$RSLAB_LOGDIR/qemu.cmd"

step_start "boot $((sockets * cores)) vCPUs / $NODES+1 nodes ($ACCEL, timeout ${TIMEOUT}s), logs in $RSLAB_LOGDIR"
: >"$RSLAB_LOGDIR/ktap.log"
set +e
timeout --foreground -k 10 "$TIMEOUT" "${qemu[@]}" &
qpid=$!
tail -n +1 -s 1 -f --pid=$qpid "$RSLAB_LOGDIR/ktap.log" | sed -u 's/\r$//; s/^/  | /'
wait $qpid
qrc=$?
set -e
if [ $qrc = 124 ]; then note "QEMU timed out after ${TIMEOUT}s"; fi
step_done

set +e
python3 "$RSLAB_TOP/scripts/verdict.py" --console "$RSLAB_LOGDIR/console.log" \
	--ktap "$RSLAB_LOGDIR/ktap.log" --qemu-status "$qrc"
rc=$?
set -e
note "serial logs: $RSLAB_LOGDIR/console.log (kernel) and $RSLAB_LOGDIR/ktap.log (tests)"
exit $rc
