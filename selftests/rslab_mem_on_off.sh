#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The kernel's own tools/testing/selftests/memory-hotplug/mem-on-off-test.sh (from the installed
# 7.3 source), -r 100, while rslab_test's stress workers run with remote frees: memory blocks
# offline and online, then the same with the memory notifier error injector failing
# MEM_GOING_ONLINE and MEM_GOING_OFFLINE, so rslab's notifier gets MEM_CANCEL_ONLINE and
# MEM_CANCEL_OFFLINE from the kernel's own test.
#
# The script offers every block whose `removable` reads 1, which since v5.x is every block
# (commit 53cdc1cb29e8, "drivers/base/memory.c: indicate all memory blocks as removable"), and
# starts with the lowest: boot memory, whose offlining migrates pages for minutes, or retries
# busy ones until a signal arrives. It finds memory through the first sysfs that `mount -t sysfs`
# lists, so it runs in a mount namespace of its own, whose only sysfs shows in
# devices/system/memory (a tmpfs over the real directory) bind mounts of the inner movable
# blocks of the DIMM node, with debugfs at kernel/debug as usual. The outer two stay online: the node's movable zone keeps spanning
# the inner ones, so the script's plain `online` puts them back in ZONE_MOVABLE (a block
# outside every zone's span goes to a kernel zone by default), and every later test finds the
# node as it was.
# Afterwards: the script passed; rslab got exactly the cancels its -r 100 injects (one
# MEM_CANCEL_ONLINE and one MEM_CANCEL_OFFLINE per block shown); every block of the node is
# online and movable; no object corrupted; stress stop frees everything.
DIR=$(dirname "$(realpath "$0")")
. "$DIR/../kselftest/ktap_helpers.sh"
. "$DIR/rslab_lib.sh"

SCRIPT=$DIR/../memory-hotplug/mem-on-off-test.sh
MEMINJ=/sys/kernel/debug/notifier-error-inject/memory/actions
FAKE=/tmp/rslab-mem-on-off-sysfs

# hp <key>: one counter of rslab's hotplug file.
hp() { awk -v k="$1" '$1 == k { print $2 }' "$RSLAB_DBG/hotplug"; }
# movable_online <block...>: each block is online and ZONE_MOVABLE is still valid for it.
movable_online() {
	local b
	for b in "$@"; do
		grep -q online "$b/state" && grep -q Movable "$b/valid_zones" ||
			{ ktap_print_msg "${b##*/}: $(<"$b/state"), zones $(<"$b/valid_zones")"; return 1; }
	done
}
# in_namespace <block...>: run the kernel's script where sysfs shows only these memory blocks.
in_namespace() {
	unshare -m --propagation private bash -c '
		set -e
		fake=$1 script=$2
		shift 2
		mkdir -p "$fake"
		mount -t sysfs sysfs "$fake"
		mount -t tmpfs tmpfs "$fake/devices/system/memory"
		for b in "$@"; do
			mkdir "$fake/devices/system/memory/${b##*/}"
			mount --bind "$b" "$fake/devices/system/memory/${b##*/}"
		done
		# Its error injection half finds the injector through the first debugfs mounted, and
		# calls /sbin/modprobe (the injector is built in: the load is a no-op that must not
		# fail for want of the command; busybox installs its applets in /bin here).
		mount -t debugfs debugfs "$fake/kernel/debug"
		umount -l /sys
		if [ ! -e /sbin/modprobe ]; then
			mkdir -p /sbin
			mount -t tmpfs tmpfs /sbin
			ln -s "$(command -v modprobe)" /sbin/modprobe
		fi
		set +e
		bash "$script" -r 100
	' rslab_mem_on_off "$FAKE" "$SCRIPT" "$@"
}

ktap_print_header
NODE=$(dimm_node)
mapfile -t BLOCKS < <(movable_blocks "$NODE")
if [ ${#BLOCKS[@]} -lt 3 ]; then
	ktap_skip_all "node $NODE has ${#BLOCKS[@]} movable memory blocks: 3 or more needed"
	exit "$KSFT_SKIP"
fi
if [ ! -w "$MEMINJ/MEM_GOING_ONLINE/error" ]; then
	ktap_skip_all "no memory notifier error injector (MEMORY_NOTIFIER_ERROR_INJECT)"
	exit "$KSFT_SKIP"
fi
SHOWN=("${BLOCKS[@]:1:${#BLOCKS[@]}-2}")
ktap_set_plan 6
rslab_unload
rslab_load
tctl stress start m256 size=256 threads_per_cpu=2 batch=64 remote=1
cancel0=$(hp mem_cancel) offline0=$(hp mem_offline)
start=$(date +%s)
in_namespace "${SHOWN[@]}" 2>&1 | sed 's/^/# /'
rc=${PIPESTATUS[0]}
ktap_print_msg "mem-on-off-test.sh -r 100 on ${SHOWN[*]##*/} of node $NODE: exit $rc, $(($(date +%s) - start)) s, stress iterations $(stress_stat m256 iterations)"
ktap_print_msg "hotplug: $(tr '\n' ' ' <"$RSLAB_DBG/hotplug")"
check "mem-on-off-test.sh -r 100 passes under rslab stress" test "$rc" = 0
cancels=$(($(hp mem_cancel) - cancel0)) offlines=$(($(hp mem_offline) - offline0))
check "rslab got one MEM_CANCEL_ONLINE and one MEM_CANCEL_OFFLINE per block shown ($cancels)" \
	test "$cancels" = $((2 * ${#SHOWN[@]}))
check "rslab saw the blocks go offline ($offlines MEM_OFFLINE)" test "$offlines" -ge ${#SHOWN[@]}
check "every block of node $NODE online and movable again" movable_online "${BLOCKS[@]}"
check "no object corrupted" test "$(stress_stat m256 pattern_errors)" = 0
check "stress stops: every object freed, cache destroyed" stress_end m256
rslab_unload
ktap_finished
