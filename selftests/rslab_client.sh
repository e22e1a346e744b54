#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The sample C client (samples/rslab_client/), a module written only against include/rslab.h,
# with rslab.ko alone (no rslab_test.ko): its load runs its checks of the API's semantics (a
# failed check refuses the load); its caches show in rslab's debugfs like any other, but
# debugfs may not destroy them (EPERM); rslab cannot be unloaded while it is loaded; its workers
# (one per online CPU, started and stopped by its own CPU hotplug state) run through CPUs going
# offline and online, one by one and all at once; paused, its caches validate with nothing
# allocated; its unload destroys every cache and reports no error; then rslab unloads clean.
DIR=$(dirname "$(realpath "$0")")
. "$DIR/../kselftest/ktap_helpers.sh"
. "$DIR/rslab_lib.sh"

CLIENT_KO=${RSLAB_CLIENT_KO:-/rslab/rslab_client.ko}
PARAMS=/sys/module/rslab_client/parameters
CACHES="rslab_client rslab_client_debug rslab_client_ctor"
ROUNDS=$(iters 5)

client_loaded() { [ -d /sys/module/rslab_client ]; }
declare -F in_slabinfo >/dev/null || in_slabinfo() { grep -q "^$1 " "$RSLAB_DBG/slabinfo"; }

# The kernel log since this test's mark (not the whole ring buffer, which keeps earlier tests'
# lines, or may have lost them).
MARK="rslab_client.sh: start $$-$RANDOM"
echo "$MARK" >/dev/kmsg
log_since_mark() { dmesg | sed -n "/$MARK/,\$p"; }

# workers_on_online_cpus: a thread rslab_client/<cpu> for every online CPU, and no other.
workers_on_online_cpus() {
	local want have
	want=$(for c in /sys/devices/system/cpu/cpu[0-9]*; do
		n=${c##*cpu}
		if [ ! -e "$c/online" ] || [ "$(cat "$c/online")" = 1 ]; then echo "$n"; fi
	done | sort -n | tr '\n' ' ')
	have=$(cat /proc/[0-9]*/comm 2>/dev/null | sed -n 's|^rslab_client/||p' | sort -n | tr '\n' ' ')
	[ "$want" = "$have" ] && return 0
	ktap_print_msg "online CPUs: $want; workers: $have"
	return 1
}

flush_shrink() { ctl flush rslab_client && ctl shrink rslab_client; }
pause_workers() { echo "$1" >"$PARAMS/pause"; }
allocs_of() { stat_of rslab_client allocs; }
# slabinfo_slabs <cache>: the cache's slab count (slabinfo's <slabs> column).
slabinfo_slabs() { slabinfo_col "$1" 13; }
# allocs_grew <since>: the workers allocated from rslab_client since the count <since>.
allocs_grew() { [ "$(allocs_of)" -gt "$1" ]; }

ktap_print_header
[ -f "$CLIENT_KO" ] || { ktap_skip_all "no $CLIENT_KO (samples/rslab_client not built)"; exit "$KSFT_SKIP"; }
mapfile -t CPUS < <(hotplug_cpus)
ktap_set_plan 18

# rslab.ko alone: the client reaches it only through the exported API.
client_loaded && rmmod rslab_client
if [ -d /sys/module/rslab_test ]; then rmmod rslab_test; fi
if rslab_loaded; then rmmod rslab; fi
check "insmod rslab.ko (without rslab_test.ko)" insmod "$RSLAB_KO"

if ! insmod "$CLIENT_KO"; then
	log_since_mark | grep 'rslab_client:' | tail -n 20 | sed 's/^/# /'
	ktap_test_fail "insmod rslab_client.ko: every API check passed"
	rmmod rslab 2>/dev/null
	ktap_exit_fail_msg "the client did not load: nothing else to test"
fi
ktap_test_pass "insmod rslab_client.ko: every API check passed"
log_since_mark | grep 'rslab_client:' | tail -n 1 | sed 's/^/# /'

ok=1
for c in $CACHES; do in_slabinfo "$c" && [ -e "$RSLAB_DBG/caches/$c/stats" ] || ok=0; done
grep -E '^(# name|rslab_client)' "$RSLAB_DBG/slabinfo" | sed 's/^/# /'
check "its caches are in slabinfo and caches/" test $ok = 1
check "a worker on every online CPU" wait_until 10 workers_on_online_cpus

check_err "debugfs destroy of the client's cache: EPERM" "Operation not permitted" ctl destroy rslab_client
check "debugfs flush and shrink of the client's cache" flush_shrink

refused=0
rmmod rslab 2>/dev/null || refused=1
check "rmmod rslab refused while the client is loaded" test $refused = 1 -a -d /sys/module/rslab

# CPU hotplug while the workers run: each CPU off and on in turn, then all off and all on.
if [ ${#CPUS[@]} = 0 ]; then
	ktap_test_skip "CPU hotplug under the workers: no hot-pluggable CPU"
	ktap_test_skip "workers made progress during CPU hotplug"
	ktap_test_skip "a worker on every online CPU after CPU hotplug"
else
	before=$(allocs_of)
	start=$(date +%s)
	ops=0 fails=0
	for ((i = 0; i < ROUNDS; i++)); do
		for cpu in "${CPUS[@]}"; do
			cpu_set "$cpu" 0 && ops=$((ops + 1)) || fails=$((fails + 1))
			cpu_set "$cpu" 1 && ops=$((ops + 1)) || fails=$((fails + 1))
		done
		for cpu in "${CPUS[@]}"; do cpu_set "$cpu" 0 && ops=$((ops + 1)) || fails=$((fails + 1)); done
		sleep 0.2
		for cpu in "${CPUS[@]}"; do cpu_set "$cpu" 1 && ops=$((ops + 1)) || fails=$((fails + 1)); done
		sleep 0.2
	done
	ktap_print_msg "rounds=$ROUNDS cpu_transitions=$ops failed=$fails seconds=$(($(date +%s) - start))"
	check "CPU hotplug under the workers: every transition done, at least 20" test $fails = 0 -a $ops -ge 20
	check "workers made progress during CPU hotplug" allocs_grew "$before"
	check "a worker on every online CPU after CPU hotplug" wait_until 10 workers_on_online_cpus
fi

# Paused, the workers hold nothing: every cache is idle, consistent and empty.
check "pause the workers (every one holds nothing)" pause_workers 1
ok=1
for c in $CACHES; do
	ctl validate "$c" || { ktap_print_msg "validate $c failed"; ok=0; }
	live=$(stat_of "$c" live)
	[ "$live" = 0 ] || { ktap_print_msg "$c: live=$live while paused"; ok=0; }
done
check "paused: every cache validates, no object allocated" test $ok = 1
# What the caches hold while idle (empty slabs kept per node), for the log.
for c in $CACHES; do
	ktap_print_msg "$c: slabs=$(slabinfo_slabs "$c") $(grep -E '^node[0-9]+_free ' "$RSLAB_DBG/caches/$c/stats" | tr '\n' ' ')"
done
before=$(allocs_of)
pause_workers 0
check "resumed workers allocate again" wait_until 10 allocs_grew "$before"

check "rmmod rslab_client" rmmod rslab_client
done_lines=$(log_since_mark | grep 'rslab_client: done:')
ktap_print_msg "${done_lines:-no done line}"
ok=0
if [ "$(printf '%s\n' "$done_lines" | grep -c .)" = 1 ] &&
	[[ "$done_lines" =~ done:\ ops=([0-9]+)\ errors=([0-9]+)$ ]] &&
	[ "${BASH_REMATCH[1]}" -gt 0 ] && [ "${BASH_REMATCH[2]}" = 0 ]; then
	ok=1
fi
[ $ok = 1 ] || log_since_mark | grep 'rslab_client:' | tail -n 20 | sed 's/^/# /'
check "its done line: ops > 0, errors=0" test $ok = 1
ok=1
for c in $CACHES; do ! in_slabinfo "$c" && [ ! -e "$RSLAB_DBG/caches/$c" ] || ok=0; done
check "its caches are gone" test $ok = 1

check "rmmod rslab after the client" rmmod rslab
remaining=$(log_since_mark | grep -E 'objects remaining at unload|never destroyed')
[ -z "$remaining" ] || printf '%s\n' "$remaining" | sed 's/^/# /'
check "rslab's unload: no cache left behind, no objects remaining" test -z "$remaining"
ktap_finished
