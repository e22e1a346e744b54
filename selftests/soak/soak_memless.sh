#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make soak, the memoryless-node topology (scripts/guest.sh with RSLAB_MEMLESS_NODE=1): a node
# with CPUs and no memory at all. Its CPUs must allocate from the nearest node with memory, never
# try to grow a slab on their own node, and free without churn: a CPU whose node can never match
# must not give back and grow slabs over and over. That is SLUB's bug class on ppc LPARs with
# memoryless nodes, where remote allocations deactivated the CPU slab again and again and slabs
# piled up unreclaimable: fixed by the series of commit a561ce00b09e ("topology: add support for
# node_to_mem_node() to determine the fallback node") and the SLUB patch after it, "slub:
# fallback to node_to_mem_node() node if allocating on memoryless node". Skipped on other
# topologies.
DIR=$(dirname "$(realpath "$0")")
. "$DIR/../kselftest/ktap_helpers.sh"
. "$DIR/../rslab/rslab_lib.sh"

ND=/sys/devices/system/node
# memless_node: a node with CPUs and no memory.
memless_node() {
	local n id mem
	read -r mem <"$ND/has_memory"
	for n in "$ND"/node[0-9]*; do
		id=${n##*node}
		[ -n "$(cat "$n/cpulist")" ] && ! in_list "$id" "$mem" && { echo "$id"; return 0; }
	done
	return 1
}
# nearest_memory_node <node>: the node with memory at the smallest distance from <node>.
nearest_memory_node() {
	local mem d best= bestd=999999 i=0
	read -r mem <"$ND/has_memory"
	for d in $(cat "$ND/node$1/distance"); do
		if in_list "$i" "$mem" && [ "$d" -lt "$bestd" ]; then best=$i bestd=$d; fi
		i=$((i + 1))
	done
	echo "$best"
}

ktap_print_header
rslab_unload
M=$(memless_node) || { ktap_skip_all "no node with CPUs and no memory (RSLAB_MEMLESS_NODE=1)"; exit "$KSFT_SKIP"; }
NEAR=$(nearest_memory_node "$M")
ktap_set_plan 5
ktap_print_msg "node $M: CPUs $(cat "$ND/node$M/cpulist"), no memory; nearest node with memory: $NEAR"
rslab_load reap_interval_ms=1000
# Threads on every CPU, the memoryless node's included; no remote frees: each CPU frees what it
# allocated, so a churning CPU cannot hide behind another's frees.
check "stress on every CPU, the memoryless node's too" tctl stress start ml256 size=256 batch=32
wait_until 60 stress_running ml256 200
sleep 5
a0=$(stat_of ml256 allocs) s0=$(stat_of ml256 slabs_allocated)
sleep 20
a1=$(stat_of ml256 allocs) s1=$(stat_of ml256 slabs_allocated)
per=$(slabinfo_col ml256 5)
ktap_print_msg "in 20 s: allocs +$((a1 - a0)), slabs grown +$((s1 - s0)) of $per objects each; stress: $(tr '\n' ' ' <"$RSLAB_TEST_DBG/stress/ml256")"
check "CPUs of node $M allocated (a thread there runs)" test "$(stress_stat ml256 threads)" = "$(cpus_online)"
check "no slab on node $M; slabs on node $NEAR, the nearest with memory" \
	test "$(stat_of ml256 "node${M}_objects")" = "" -o "$(stat_of ml256 "node${M}_objects")" = 0 -a "$(stat_of ml256 "node${NEAR}_objects")" -gt 0
# Churn would grow a slab for about every allocation of the node's CPUs (a quarter or more of all
# here); the reaper's shrinking (once a second) grows a few slabs back per node and second.
check "no churn: slabs grown in 20 s hold under 1/16 of the objects allocated ($(((s1 - s0) * per)) vs $(((a1 - a0) / 16)))" \
	test $(((s1 - s0) * per)) -lt $(((a1 - a0) / 16)) -a $((a1 - a0)) -gt 0
check "stress stop frees every object and destroys the cache" stress_end ml256
rslab_unload
ktap_finished
