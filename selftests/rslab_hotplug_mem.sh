#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Stress tests (b) and (e): every movable memory block offline/online in loops under stress,
# emptying node 2 entirely and bringing it back, while a flush loop runs (flush under memory
# offline: lockdep must stay quiet, which the kernel-log gate enforces). A cache created while
# node 2 has no memory works. Node structures are reused, never freed; rslab never makes an
# offline fail. The stress load comes from rslab_test.ko, through rslab's API.
DIR=$(dirname "$(realpath "$0")")
. "$DIR/../kselftest/ktap_helpers.sh"
. "$DIR/rslab_lib.sh"

ITER=$(iters 2)
CACHES="m64 m1024"

flush_loop() {
	local n=0
	while [ ! -e /tmp/mem_done ]; do
		for c in $CACHES; do ctl flush "$c" && n=$((n + 1)); done
	done
	echo "$n" >/tmp/flush_result
}

ktap_print_header
rslab_unload
# Before loading: a skipped test leaves nothing loaded.
NODE=$(dimm_node)
mapfile -t BLOCKS < <(movable_blocks "$NODE")
[ ${#BLOCKS[@]} -gt 0 ] || { ktap_skip_all "no movable memory block on node $NODE"; exit "$KSFT_SKIP"; }
rslab_load
ktap_set_plan 10
ktap_print_msg "node $NODE: ${#BLOCKS[@]} movable blocks: ${BLOCKS[*]##*/}"

ok=1
for c in $CACHES; do
	tctl stress start "$c" size="${c#m}" threads_per_cpu=1 batch=32 remote=1 || ok=0
done
check "stress running" test $ok = 1
rm -f /tmp/mem_done /tmp/flush_result
flush_loop &

start=$(date +%s)
ops=0 fails=0 emptied=0 late_ok=1
for ((i = 0; i < ITER; i++)); do
	for b in "${BLOCKS[@]}"; do
		timeout 120 sh -c "echo offline >$b/state" && ops=$((ops + 1)) || fails=$((fails + 1))
	done
	node_has_memory "$NODE" || emptied=$((emptied + 1))
	# A cache created while the node has no memory.
	tctl stress start late$i size=256 batch=8 || late_ok=0
	for b in "${BLOCKS[@]}"; do
		timeout 120 sh -c "echo online_movable >$b/state" && ops=$((ops + 1)) || fails=$((fails + 1))
	done
	wait_until 30 stress_running late$i 10 && stress_end late$i || late_ok=0
done
touch /tmp/mem_done
wait
ktap_print_msg "iterations=$ITER block_ops=$ops failed_ops=$fails node_emptied=$emptied flushes=$(cat /tmp/flush_result) seconds=$(($(date +%s) - start))"
ktap_print_msg "hotplug: $(tr '\n' ' ' <"$RSLAB_DBG/hotplug")"
check "every block offline/online succeeded (rslab never blocks an offline)" test $fails = 0
check "node $NODE emptied and refilled every iteration" test $emptied = "$ITER"
check "node notifier saw the last memory go and the first come back" \
	test "$(hp_stat node_removing_last_memory)" -ge "$ITER" -a "$(hp_stat node_adding_first_memory)" -ge "$ITER"
check "memory notifier flushed and shrank before offline" test "$(hp_stat mem_going_offline)" -ge $((ITER * ${#BLOCKS[@]}))
check "existing node structures reused, none freed" test "$(hp_stat node_structs_reused)" -ge $((ITER * 2))
check "a cache created while the node had no memory works" test $late_ok = 1
check "flushes ran during offline" test "$(cat /tmp/flush_result)" -gt 0
ok=1
for c in $CACHES; do [ "$(stress_stat "$c" pattern_errors)" = 0 ] || ok=0; done
check "no object corrupted under memory hotplug" test $ok = 1
check "after memory hotplug: stress stops, every object freed, caches destroyed" stress_end $CACHES
rslab_unload
ktap_finished
