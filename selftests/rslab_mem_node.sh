#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The node a CPU allocates from follows memory hotplug. A node with CPUs but no normal memory
# (its memory is a DIMM onlined movable) has its CPUs allocate from another node; once its
# DIMM is onlined as kernel memory, those CPUs must grow slabs on their own node, not keep the
# node chosen when the cache was created. The cache is a stress run's (rslab_test.ko, through
# rslab's API), running across the memory events. Needs that topology (scripts/guest.sh with
# RSLAB_DIMM_NODE_CPUS=1); skipped elsewhere.
DIR=$(dirname "$(realpath "$0")")
. "$DIR/../kselftest/ktap_helpers.sh"
. "$DIR/rslab_lib.sh"

ND=/sys/devices/system/node
cpuful_movable_node() {
	local n id
	for n in "$ND"/node[0-9]*; do
		id=${n##*node}
		[ -n "$(cat "$n/cpulist")" ] || continue
		if in_list "$id" "$(cat "$ND/has_normal_memory")"; then continue; fi
		ls -d "$n"/memory[0-9]* >/dev/null 2>&1 || continue
		echo "$id"
		return 0
	done
	return 1
}

ktap_print_header
NODE=$(cpuful_movable_node) || { ktap_skip_all "no node with CPUs and only hot-pluggable memory"; exit "$KSFT_SKIP"; }
ktap_set_plan 6
rslab_unload
rslab_load
mapfile -t BLOCKS < <(ls -d "$ND/node$NODE"/memory[0-9]* | xargs -n1 readlink -f)
check "stress on every CPU, node $NODE without normal memory" tctl stress start mn size=256 threads_per_cpu=1 batch=64
wait_until 30 stress_running mn 100
ktap_print_msg "before: node${NODE}_objects=$(stat_of mn node${NODE}_objects)"
# The stress keeps running: the cache that existed before the node got normal memory must
# follow it.
ok=1
for b in "${BLOCKS[@]}"; do echo offline >"$b/state" || ok=0; done
for b in "${BLOCKS[@]}"; do echo online_kernel >"$b/state" || ok=0; done
check "node $NODE's DIMM onlined as kernel memory" test $ok = 1
check "node $NODE has normal memory now" in_list "$NODE" "$(cat "$ND/has_normal_memory")"
node_objects() { [ "$(stat_of mn node${NODE}_objects)" -gt 0 ]; }
check "node $NODE's CPUs grow slabs on node $NODE" wait_until 60 node_objects
ktap_print_msg "after: node${NODE}_objects=$(stat_of mn node${NODE}_objects) remote_frees=$(stat_of mn remote_frees)"
check "no object corrupted" test "$(stress_stat mn pattern_errors)" = 0
check "stress stops: every object freed, cache destroyed" stress_end mn
rslab_unload
ktap_finished
