#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make soak: the long run, not part of make check. The debug kernel, several guest boots:
#   hotplug   2 vCPUs on 2 nodes + the DIMM node: selftests/soak/soak_hotplug.sh with the bulk
#             of the targets (memory block cycles, then CPU transitions with cache create/destroy
#             racing them, a quarter through debugfs and the rest through the API, under
#             stress): 2 vCPUs on 2 host cores is where a transition is cheapest
#   hotplug6  6 vCPUs on 3 nodes, workqueue.debug_force_rr_cpu=1: the same test with the rest of
#             the targets (more CPUs to take offline at once, unbound work pushed to the wrong
#             CPU), then the reaper and CPU-hotplug (flush) selftests at make check's iteration
#             counts (RSLAB_SOAK_FACTOR=1: the point of this boot is force_rr on 6 vCPUs, not
#             more iterations, which make check runs on 2)
#   faults    4 vCPUs: the fault-injection selftest, long (RSLAB_SOAK=1: every injection point of
#             a create, a random phase until 1,000 failures were injected, kmemleak after every
#             phase), and the kernel's own cpu-on-off-test.sh and mem-on-off-test.sh under
#             rslab's stress
#   topologies, one short run each of the selftests a topology changes (not rslab_module.sh,
#             which make check runs): 1 node with 1 CPU; 4 nodes with 8 vCPUs; 4 vCPUs on 2
#             nodes, a DIMM node with a CPU (no normal memory until its DIMM is onlined as kernel
#             memory) and a memoryless node with a CPU (selftests/soak/soak_memless.sh)
# Every boot ends with the kernel-log gate (scripts/verdict.py). The guests print progress as
# they go. The end: one line
#   soak: cpu_transitions=<n> mem_block_cycles=<n> create_destroy=<n> injected_faults=<n> wrong_cpu=<n>
# summed over the boots, then "soak: N passed, N failed"; exit 1 on any failure, a tripped gate,
# or a figure under its target. Targets and budgets: RSLAB_SOAK_* (README.md); RSLAB_SOAK_BOOTS
# (names, blank-separated) runs only those boots.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

CPU_TARGET=${RSLAB_SOAK_CPU:-10000}
MEM_TARGET=${RSLAB_SOAK_MEM:-1000}
CREATE_TARGET=${RSLAB_SOAK_CREATE:-10000}
FAULT_TARGET=${RSLAB_SOAK_FAULTS:-1000}
# The hotplug6 boot's share of the CPU transitions and creates (the rest go to hotplug).
SHARE6=${RSLAB_SOAK_SHARE6:-2}
# The share of the creates made through debugfs, in percent (the API's churn makes the rest).
CTL_SHARE=${RSLAB_SOAK_CTL:-25}
for v in CPU_TARGET MEM_TARGET CREATE_TARGET FAULT_TARGET SHARE6 CTL_SHARE; do
	case "${!v}" in ''|*[!0-9]*) die "$v must be a number, not '${!v}'" ;; esac
done
[ "$SHARE6" -le 100 ] || die "SHARE6 is a percentage, not $SHARE6"
[ "$CTL_SHARE" -le 100 ] || die "CTL_SHARE is a percentage, not $CTL_SHARE"
# Each boot's time budget for soak_hotplug.sh, and the guests' timeout.
BUDGET=${RSLAB_SOAK_SECONDS:-4800}

P=0 F=0 S=0
T0=$(date +%s)
"$RSLAB_TOP/scripts/setup.sh"
KB=$("$RSLAB_TOP/scripts/kernel.sh")
use_kernel "$KB"
mkdir -p "$RSLAB_TOP/out"
KDIR=$KB "$RSLAB_TOP/scripts/module.sh" >"$RSLAB_TOP/out/soak-module-build.log" 2>&1 ||
	{ tail -n 30 "$RSLAB_TOP/out/soak-module-build.log"; die "module build failed"; }
# tests_dir <test>: a directory holding that one test of selftests/soak/, for RSLAB_EXTRA_TESTS.
tests_dir() {
	local d=$RSLAB_TOP/out/soak-tests/${1%.sh}
	rm -rf "$d" && mkdir -p "$d" && cp "$RSLAB_TOP/selftests/soak/$1" "$d/" && echo "$d"
}
HOTPLUG_TESTS=$(tests_dir soak_hotplug.sh)
MEMLESS_TESTS=$(tests_dir soak_memless.sh)
# The guests' own timeout: the budget plus the time to boot, stop and scan.
export RSLAB_TIMEOUT=$((BUDGET + 1800)) RSLAB_TEST_TIMEOUT=$((BUDGET + 900))

# boot <name> [VAR=value...]: one guest run of the selftests that RSLAB_TEST_FILTER selects (none
# by default), then of selftests/soak/soak_hotplug.sh (another RSLAB_EXTRA_TESTS, or none),
# tallied; its log is out/soak-<name>.log.
boot() {
	local name=$1
	shift
	if [ -n "${RSLAB_SOAK_BOOTS:-}" ] && [[ " $RSLAB_SOAK_BOOTS " != *" $name "* ]]; then
		note "soak: $name not in RSLAB_SOAK_BOOTS: not run"
		rm -f "$RSLAB_TOP/out/soak-$name.log" "$RSLAB_TOP/out/soak-$name.log.qemu-abort"
		return 0
	fi
	step_start "soak: $name"
	local log=$RSLAB_TOP/out/soak-$name.log p0=$P f0=$F s0=$S
	rm -f "$log.qemu-abort"
	guest_check "$log" RSLAB_TEST_FILTER='^$' RSLAB_EXTRA_TESTS="$HOTPLUG_TESTS" "$@"
	# QEMU itself aborted (status 134: one of its assertions, e.g. TCG's iotlb_to_section() while
	# a 6-vCPU guest enumerated PCI) before the guest reported anything: a failure of the host's
	# emulator, not of rslab. The boot runs once more, and the first log is kept beside it.
	if grep -q "qemu status 134" "$log" && grep -q "^0 passed, 0 failed, 0 skipped$" "$log"; then
		note "soak: $name: QEMU aborted before any result ($(grep -m1 -o "Assertion.*" "$log" || echo "status 134")): booting it again; the first log is $log.qemu-abort"
		mv "$log" "$log.qemu-abort"
		P=$p0 F=$f0 S=$s0
		guest_check "$log" RSLAB_TEST_FILTER='^$' RSLAB_EXTRA_TESTS="$HOTPLUG_TESTS" "$@"
	fi
	step_done
	note "after $name: $P passed, $F failed ($(( $(date +%s) - T0 ))s)"
}

cpu6=$((CPU_TARGET * SHARE6 / 100)) create6=$((CREATE_TARGET * SHARE6 / 100))
boot hotplug RSLAB_CPUS=2 RSLAB_NODES=2 RSLAB_SOAK=1 RSLAB_SOAK_SECONDS="$BUDGET" \
	RSLAB_SOAK_CPU=$((CPU_TARGET - cpu6)) RSLAB_SOAK_MEM="$MEM_TARGET" \
	RSLAB_SOAK_CREATE=$((CREATE_TARGET - create6)) RSLAB_SOAK_CTL="$CTL_SHARE"
boot hotplug6 RSLAB_CPUS=6 RSLAB_NODES=3 RSLAB_SOAK=1 RSLAB_SOAK_FACTOR=1 RSLAB_SOAK_SECONDS="$BUDGET" \
	RSLAB_CMDLINE="${RSLAB_CMDLINE:-} workqueue.debug_force_rr_cpu=1" \
	RSLAB_SOAK_CPU="$cpu6" RSLAB_SOAK_MEM=8 RSLAB_SOAK_CREATE="$create6" RSLAB_SOAK_CTL="$CTL_SHARE" \
	RSLAB_TEST_FILTER='reaper|hotplug_cpu'
boot faults RSLAB_SOAK=1 RSLAB_EXTRA_TESTS= RSLAB_TEST_FILTER='faults|cpu_on_off|mem_on_off'
boot one-cpu RSLAB_CPUS=1 RSLAB_NODES=1 RSLAB_EXTRA_TESTS= RSLAB_TEST_FILTER='api|control|hotplug_mem'
boot four-nodes RSLAB_CPUS=8 RSLAB_NODES=4 RSLAB_EXTRA_TESTS= RSLAB_TEST_FILTER='api|hotplug_cpu|client'
NO_SKIP=1 boot memoryless RSLAB_CPUS=2 RSLAB_NODES=2 RSLAB_DIMM_NODE_CPUS=1 RSLAB_MEMLESS_NODE=1 \
	RSLAB_EXTRA_TESTS="$MEMLESS_TESTS" RSLAB_TEST_FILTER='api|mem_node|hotplug_cpu'

# The figures: soak_hotplug.sh's lines, and the fault-injection test's count.
sum() { # sum <key>: the key's values over every boot's "soak-figures:" lines
	cat "$RSLAB_TOP"/out/soak-*.log | sed -n "s/.*soak-figures:.* $1=\([0-9]*\).*/\1/p; s/.*soak-figures: $1=\([0-9]*\).*/\1/p" |
		awk '{ n += $1 } END { print n + 0 }'
}
cpu=$(sum cpu_transitions) mem=$(sum mem_block_cycles) create=$(sum create_destroy)
faults=$(sum injected_faults) wrong=$(sum wrong_cpu) emptied=$(sum node_emptied)
echo "soak: cpu_transitions=$cpu mem_block_cycles=$mem create_destroy=$create injected_faults=$faults wrong_cpu=$wrong"
note "node emptied and refilled $emptied times; $(( $(date +%s) - T0 ))s in all"
figure() { # figure <description> <ok>
	if [ "$2" = 1 ]; then tally 1 0 0; else tally 0 1 0; note "figure under target: $1"; fi
}
figure "cpu_transitions >= $CPU_TARGET" "$([ "$cpu" -ge "$CPU_TARGET" ] && echo 1)"
figure "mem_block_cycles >= $MEM_TARGET" "$([ "$mem" -ge "$MEM_TARGET" ] && echo 1)"
figure "node emptied >= $((MEM_TARGET / 10)) times" "$([ "$emptied" -ge $((MEM_TARGET / 10)) ] && echo 1)"
figure "create_destroy >= $CREATE_TARGET" "$([ "$create" -ge "$CREATE_TARGET" ] && echo 1)"
figure "injected_faults >= $FAULT_TARGET" "$([ "$faults" -ge "$FAULT_TARGET" ] && echo 1)"
figure "wrong_cpu == 0" "$([ "$wrong" = 0 ] && echo 1)"
echo "soak: $P passed, $F failed"
[ "$F" = 0 ]
