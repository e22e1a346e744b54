#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make check: every test rslab has, failing on any failure.
#   1. host: cargo test of the kernel-independent allocator logic (hosted/), and the harness's
#      own unit tests (scripts/tests/);
#   2. the test kernel has every option selftests/config lists;
#      the modules: rustfmt check, then a CLIPPY=1 build that must be free of warnings; no stack
#      frame of 1 KiB or more in rslab.ko and rslab_test.ko; no benchmark or stress code left in
#      rslab.ko (`strings`); the source layering (scripts/layering.sh);
#   3. the guest: selftests/ (+ $RSLAB_EXTRA_TESTS) under the debug kernel, KTAP + kernel-log gate;
#      then the reaper and CPU-hotplug tests again in a guest booted with
#      workqueue.debug_force_rr_cpu=1 (the reproducer of commit a9f2a846f050's bug);
#      then the memory-node test in a guest whose DIMM node has CPUs;
#      then the same modules built with RSLAB_GENERIC=1 (the arch-independent fallbacks of
#      rslab/sys/) through the module, API and CPU-hotplug tests;
#   4. the gate's self-test: a guest whose only test makes the kernel WARN must fail the gate
#      (scripts/tests/gate/).
# The last line sums everything up as "check: N passed, N failed, N skipped".
set -euo pipefail
. "$(dirname "$0")/lib.sh"

P=0 F=0 S=0
finish() {
	echo "check: $P passed, $F failed, $S skipped"
	[ "$F" = 0 ] || exit 1
	exit 0
}

"$RSLAB_TOP/scripts/setup.sh"

step_start "host tests (cargo test in hosted/)"
out=$(cd "$RSLAB_TOP/hosted" && cargo test --quiet 2>&1) && rc=0 || rc=$?
printf '%s\n' "$out" | grep -v '^$' | tail -n 15
read -r hp hf < <(printf '%s\n' "$out" | awk '/^test result:/ { for (i = 1; i <= NF; i++) {
	if ($(i) ~ /^passed/) p += $(i-1); if ($(i) ~ /^failed/) f += $(i-1) } } END { print p+0, f+0 }')
[ "$rc" = 0 ] || [ "$hf" != 0 ] || hf=1
tally "$hp" "$hf" 0
step_done

step_start "harness unit tests (scripts/tests)"
out=$(cd "$RSLAB_TOP/scripts" && python3 -m unittest discover -s tests 2>&1) && rc=0 || rc=$?
printf '%s\n' "$out" | tail -n 4
n=$(printf '%s\n' "$out" | sed -n 's/^Ran \([0-9]*\) test.*/\1/p')
if [ "$rc" = 0 ]; then tally "${n:-0}" 0 0; else tally 0 "${n:-1}" 0; fi
step_done

KB=$("$RSLAB_TOP/scripts/kernel.sh")
use_kernel "$KB"

# selftests/config is the kselftest list of the options the selftests need: a test kernel
# without one of them would skip or fail tests for a reason that is not rslab's.
step_start "the test kernel has every option of selftests/config"
missing=$(grep '^CONFIG_' "$RSLAB_TOP/selftests/config" | grep -vxF -f "$KB/.config") || true
if [ -z "$missing" ]; then
	tally 1 0 0
else
	printf '%s\n' "$missing" | sed 's/^/  /'
	note "the test kernel ($KB/.config) lacks these options of selftests/config"
	tally 0 1 0
fi
step_done

step_start "rustfmt check"
if KDIR=$KB "$RSLAB_TOP/scripts/module.sh" fmt-check; then tally 1 0 0; else tally 0 1 0; fi
step_done

# clean_build <log> [VAR=value...]: a CLIPPY=1 build of the modules, tallied: it must build
# and print no warning. Returns 1 if it did not build at all.
clean_build() {
	local log=$1
	shift
	mkdir -p "$RSLAB_TOP/out"
	if ! env "$@" KDIR="$KB" CLIPPY=1 "$RSLAB_TOP/scripts/module.sh" >"$log" 2>&1; then
		cat "$log"
		tally 0 1 0
		return 1
	fi
	if grep -q 'warning:' "$log"; then
		grep -A8 'warning:' "$log" | head -n 60
		note "the CLIPPY=1 build${*:+ with $*} has warnings ($log)"
		tally 0 1 0
	else
		tally 1 0 0
	fi
}

if ! clean_build "$RSLAB_TOP/out/module-build.log"; then
	note "rslab.ko failed to build: no guest run"
	finish
fi

for ko in rslab.ko rslab_test.ko; do
	step_start "stack frames of $ko (none of 1 KiB or more)"
	if python3 "$RSLAB_TOP/scripts/stack_frames.py" "llvm-objdump$LLVM_SUFFIX" "$RSLAB_TOP/$ko" 1024; then
		tally 1 0 0
	else
		tally 0 1 0
	fi
	step_done
done

# The stress workers and the benchmark live in rslab_test.ko, a client of the exported API:
# none of their code, names or messages may be left in the allocator's module.
step_start "strings rslab.ko shows no benchmark (nor stress workers)"
STRINGS=strings
command -v strings >/dev/null || STRINGS=llvm-strings$LLVM_SUFFIX
found=$("$STRINGS" "$RSLAB_TOP/rslab.ko" | grep -i -E 'bench|stress' | head -n 10) || true
if [ -z "$found" ]; then
	tally 1 0 0
else
	printf '%s\n' "$found" | sed 's/^/  /'
	note "rslab.ko still carries benchmark or stress code (strings above)"
	tally 0 1 0
fi
step_done

# The source layering of Documentation/rslab.rst ("Source layout"): kernel bindings and asm only
# in rslab/sys/, no file over 700 lines, no SAFETY comment deferring to another, no popf in
# rslab.ko.
step_start "source layering (scripts/layering.sh)"
if "$RSLAB_TOP/scripts/layering.sh"; then tally 1 0 0; else tally 0 1 0; fi
step_done

guest_check "$RSLAB_TOP/out/guest-check.log"
# The reproducer of commit a9f2a846f050 ("mm, slab: reschedule cache_reap() on the same CPU"): with workqueue.debug_force_rr_cpu=1 unbound work wanders between
# CPUs, so a reaper re-armed through an unbound queue would run on the wrong CPU.
# The same run carries the harness's own RSLAB_EXTRA_TESTS case (scripts/tests/extra/: a test
# and a non-executable helper that sorts last, which must come along).
guest_check "$RSLAB_TOP/out/guest-force-rr.log" \
	RSLAB_CMDLINE="${RSLAB_CMDLINE:-} workqueue.debug_force_rr_cpu=1" RSLAB_TEST_FILTER='reaper|hotplug_cpu' \
	RSLAB_EXTRA_TESTS="$RSLAB_TOP/scripts/tests/extra"

# A node with CPUs and only hot-pluggable memory (its DIMM is onlined as kernel memory by the
# test): the node its CPUs allocate from must follow memory hotplug.
NO_SKIP=1 guest_check "$RSLAB_TOP/out/guest-mem-node.log" \
	RSLAB_DIMM_NODE_CPUS=1 RSLAB_TEST_FILTER='mem_node'

# The arch-independent fallbacks of rslab/sys/ (what every architecture but x86-64 runs),
# forced on x86-64 with RSLAB_GENERIC=1: built with clippy, warning-free, and run through the
# tests that use interrupts, the CPU number, per-CPU memory and page lookups the most (both
# KUnit suites, the API, CPU hotplug under stress).
step_start "generic fallbacks: RSLAB_GENERIC=1 CLIPPY=1 build"
if clean_build "$RSLAB_TOP/out/module-build-generic.log" RSLAB_GENERIC=1; then
	step_done
	guest_check "$RSLAB_TOP/out/guest-generic.log" \
		RSLAB_TEST_FILTER='rslab_module|rslab_api|rslab_hotplug_cpu'
fi

step_start "kernel-log gate self-test (a test that makes the kernel WARN must fail the run)"
set +e
RSLAB_EXTRA_TESTS=$RSLAB_TOP/scripts/tests/gate RSLAB_TEST_FILTER= \
	"$RSLAB_TOP/scripts/guest.sh" extra "$KB" >"$RSLAB_TOP/out/guest-gate.log" 2>&1
rc=$?
set -e
if [ "$rc" = 2 ] && grep -q '^  \[WARNING\]' "$RSLAB_TOP/out/guest-gate.log"; then
	note "gate tripped as it must: $(grep -m1 '^  \[WARNING\]' "$RSLAB_TOP/out/guest-gate.log")"
	tally 1 0 0
else
	tail -n 20 "$RSLAB_TOP/out/guest-gate.log"
	note "the kernel-log gate did NOT catch a WARNING (guest.sh exit $rc)"
	tally 0 1 0
fi
step_done
finish
