#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Helpers shared by the rslab selftests. Sourced after ktap_helpers.sh.
#
# Two modules: rslab.ko (the allocator, /sys/kernel/debug/rslab/) and rslab_test.ko, its test
# client (stress workers, benchmark, the rslab_api KUnit suite; /sys/kernel/debug/rslab_test/),
# which reaches rslab only through the exported API and so depends on it: load rslab first,
# unload rslab_test first.

RSLAB_KO=${RSLAB_KO:-/rslab/rslab.ko}
RSLAB_TEST_KO=${RSLAB_TEST_KO:-/rslab/rslab_test.ko}
RSLAB_DBG=/sys/kernel/debug/rslab
RSLAB_TEST_DBG=/sys/kernel/debug/rslab_test
KUNIT_DBG=/sys/kernel/debug/kunit

rslab_loaded() { [ -d /sys/module/rslab ]; }
rslab_test_loaded() { [ -d /sys/module/rslab_test ]; }

# rslab_load_core [rslab.ko parameters...]: rslab.ko alone.
rslab_load_core() {
	rslab_loaded || insmod "$RSLAB_KO" "$@"
}

# rslab_load [rslab.ko parameters...]: rslab.ko, then rslab_test.ko.
rslab_load() {
	rslab_load_core "$@" || return 1
	rslab_test_loaded || insmod "$RSLAB_TEST_KO"
}

# rslab_test_unload: rslab_test.ko alone (it stops its stress runs and destroys their caches).
rslab_test_unload() {
	! rslab_test_loaded || rmmod rslab_test
}

# rslab_unload: rslab's clients (rslab_test.ko, and the sample rslab_client.ko if a test left
# it loaded), then rslab.ko (which refuses to go while a client is loaded).
rslab_unload() {
	rslab_test_unload || return 1
	[ ! -d /sys/module/rslab_client ] || rmmod rslab_client || return 1
	! rslab_loaded || rmmod rslab
}

# check <description> <command...>: one KTAP result for one command's success.
check() {
	local desc=$1
	shift
	if "$@"; then
		ktap_test_pass "$desc"
	else
		ktap_test_fail "$desc"
	fi
}

# check_err <description> <errno name> <command...>: the command must fail with that error,
# as reported by a shell redirection ("Invalid argument" for EINVAL and so on).
check_err() {
	local desc=$1 want=$2 out
	shift 2
	if out=$("$@" 2>&1); then
		ktap_print_msg "$desc: succeeded, expected $want"
		ktap_test_fail "$desc"
	elif [[ "$out" == *"$want"* ]]; then
		ktap_test_pass "$desc"
	else
		ktap_print_msg "$desc: got '$out', expected $want"
		ktap_test_fail "$desc"
	fi
}

# ctl <command>: one command on rslab's control; tctl <command>: on rslab_test's.
ctl() { echo "$*" >"$RSLAB_DBG/control"; }
tctl() { echo "$*" >"$RSLAB_TEST_DBG/control"; }

# stat_of <cache> <key>: one value from rslab's caches/<cache>/stats.
stat_of() { sed -n "s/^$2 //p" "$RSLAB_DBG/caches/$1/stats"; }

# stress_stat <run> <key>: one counter of a stress run, from rslab_test's stress/<run>
# (iterations allocs frees handoffs alloc_failures pattern_errors threads).
stress_stat() { sed -n "s/^$2 //p" "$RSLAB_TEST_DBG/stress/$1"; }

# in_slabinfo <cache>: rslab lists the cache.
in_slabinfo() { grep -q "^$1 " "$RSLAB_DBG/slabinfo"; }

# slabinfo_col <cache> <column>: one column of the cache's line in rslab's slabinfo (name
# active num objsize objperslab pagesperslab : rslab stride align waste debug slabs live).
slabinfo_col() { awk -v n="$1" -v c="$2" '$1 == n { print $c }' "$RSLAB_DBG/slabinfo"; }

# kunit_passed <suite>: the KUnit suite's last run (at its module's load) passed, as KUnit's
# debugfs reports it (kunit/<suite>/results exists while the module is loaded). The kernel log's
# results are also counted case by case by the host's verdict.
kunit_passed() {
	local r=$KUNIT_DBG/$1/results last
	[ -r "$r" ] || { ktap_print_msg "no KUnit results for suite $1 ($r)"; return 1; }
	last=$(tail -n1 "$r")
	[ "$last" = "ok 1 $1" ] && return 0
	ktap_print_msg "KUnit suite $1: '$last'"
	grep 'not ok' "$r" | sed 's/^ */# /'
	return 1
}

# hp_stat <key>: one value from the hotplug file.
hp_stat() { sed -n "s/^$1 //p" "$RSLAB_DBG/hotplug"; }

# Iterations: default scaled by RSLAB_SOAK (RSLAB_SOAK=1 multiplies by RSLAB_SOAK_FACTOR, 10
# unless make soak sets it).
iters() {
	if [ "${RSLAB_SOAK:-0}" = 1 ]; then echo $(($1 * ${RSLAB_SOAK_FACTOR:-10})); else echo "$1"; fi
}

# CPUs that can go offline (all but the boot CPU).
hotplug_cpus() {
	local c
	for c in /sys/devices/system/cpu/cpu[0-9]*; do
		if [ -w "$c/online" ]; then echo "${c##*cpu}"; fi
	done
}

# cpus_online: how many CPUs are online now.
cpus_online() { grep -c '^processor' /proc/cpuinfo; }

# in_list <n> <list>: whether n is in a kernel list such as "0-2,4" (cpulist/nodelist format).
in_list() {
	local r lo hi
	local IFS=,
	for r in $2; do
		lo=${r%-*} hi=${r#*-}
		if [ -n "$r" ] && [ "$1" -ge "$lo" ] && [ "$1" -le "$hi" ]; then return 0; fi
	done
	return 1
}

# cpu_set <cpu> <0|1>: fails if the kernel refuses.
cpu_set() { echo "$2" >"/sys/devices/system/cpu/cpu$1/online"; }

# wait_until <seconds> <command...>: poll a condition (bounded); fails on timeout.
wait_until() {
	local deadline=$(($(date +%s) + $1))
	shift
	until "$@"; do
		[ "$(date +%s)" -ge "$deadline" ] && return 1
		sleep 0.2
	done
}

# validate_all <cache...>: validate each idle cache and check allocs - frees == 0.
validate_all() {
	local c
	for c in "$@"; do
		ctl validate "$c" || { ktap_print_msg "validate $c failed"; return 1; }
		[ "$(stat_of "$c" live)" = 0 ] || { ktap_print_msg "$c: live=$(stat_of "$c" live)"; return 1; }
	done
}

# stress_end <run...>: ends each stress run and checks what it left. No object it checked was
# corrupted; `stress stop` stops the workers, frees every object and destroys the cache through
# rslab_cache_destroy(), which refuses (EBUSY, cache intact) while any object is still allocated,
# so its success means allocs - frees == 0; then the cache, its caches/<run>/ directory and the
# run's stress/<run> file are gone. (A running cache cannot be validated meaningfully, and
# a stopped run's cache no longer exists: this is what replaces `validate` after stress.)
stress_end() {
	local r pe before
	for r in "$@"; do
		pe=$(stress_stat "$r" pattern_errors)
		[ "$pe" = 0 ] || { ktap_print_msg "$r: pattern_errors='$pe'"; return 1; }
		# Objects still held are checked as `stress stop` frees them, after stress/<run> is
		# gone: a corrupted one shows in the kernel log only.
		before=$(dmesg | grep -c 'stress: object .* corrupted')
		tctl stress stop "$r" || { ktap_print_msg "stress stop $r failed"; return 1; }
		if [ "$(dmesg | grep -c 'stress: object .* corrupted')" -gt "$before" ]; then
			ktap_print_msg "$r: $(dmesg | grep 'stress: object .* corrupted' | tail -n1)"
			return 1
		fi
		if in_slabinfo "$r" || [ -e "$RSLAB_DBG/caches/$r" ] || [ -e "$RSLAB_TEST_DBG/stress/$r" ]; then
			ktap_print_msg "$r: cache or run still listed after stress stop"
			return 1
		fi
	done
}

# stress_running <run> <min iterations>: the run's workers have done that many iterations.
stress_running() { [ "$(stress_stat "$1" iterations)" -ge "$2" ] 2>/dev/null; }

# reapers_ran <min runs>: every online CPU's reaper ran at least that often, never elsewhere.
reapers_ran() {
	awk -v min="$1" '{ split($2, r, "="); split($3, w, "="); if (r[2] < min || w[2] != 0) bad = 1; n++ }
		END { exit (bad || n == 0) }' "$RSLAB_DBG/reaper"
}

# kmemleak_rslab [scans]: how many objects kmemleak lists as leaked that were allocated from
# rslab's modules (a frame of rslab.ko, rslab_test.ko or rslab_client.ko in the object's allocation
# backtrace), after <scans> scans (default 2: an object is reported only once it is older than 5 s
# and its contents held still between two scans; 0 reads what earlier scans found); fails without
# kmemleak. The list grows until `clear`, which this never writes (the end-of-run scan must still
# see every leak), so a caller compares the count with an earlier one. A scan of the test guest
# takes about 10 s when idle, far longer while workers allocate.
kmemleak_rslab() {
	local k=/sys/kernel/debug/kmemleak i
	[ -w "$k" ] || return 1
	for ((i = 0; i < ${1:-2}; i++)); do echo scan >"$k" || return 1; done
	awk '/^unreferenced object/ { n += r; r = 0 } /\[rslab(_test|_client)?\]/ { r = 1 } END { print n + r }' "$k"
}

# sound <cache...>: each idle cache validates, and its counters agree: allocs - frees == live,
# nothing allocated, and slabs allocated - freed == slabs on its node lists.
sound() {
	local c
	for c in "$@"; do
		ctl validate "$c" || { ktap_print_msg "validate $c failed"; return 1; }
		awk -v c="$c" '
			$1 == "allocs" { a = $2 } $1 == "frees" { f = $2 } $1 == "live" { l = $2 }
			$1 == "slabs_allocated" { sa = $2 } $1 == "slabs_freed" { sf = $2 }
			$1 ~ /^node[0-9]+_(partial|full|free)$/ { on += $2 }
			END {
				if (a - f == l && l == 0 && sa - sf == on) exit 0
				printf "# %s: allocs=%d frees=%d live=%d slabs_allocated=%d slabs_freed=%d on_lists=%d\n",
					c, a, f, l, sa, sf, on
				exit 1
			}' "$RSLAB_DBG/caches/$c/stats" || return 1
	done
}

# The sample client (samples/rslab_client/), when built: paused, its workers hold nothing, so its
# caches are idle.
CLIENT_KO=${RSLAB_CLIENT_KO:-/rslab/rslab_client.ko}
CLIENT_CACHES="rslab_client rslab_client_debug rslab_client_ctor"
HAVE_CLIENT=0
[ -f "$CLIENT_KO" ] && HAVE_CLIENT=1
client_pause() { echo "$1" >/sys/module/rslab_client/parameters/pause; }
# client_sound: the client's caches, paused, are sound; then it runs again.
client_sound() {
	local ok=1
	client_pause 1 || { ktap_print_msg "rslab_client: pause failed"; return 1; }
	sound $CLIENT_CACHES || ok=0
	client_pause 0 || ok=0
	[ $ok = 1 ]
}
# ccheck <description> <command...>: check, or a skip without the client.
ccheck() {
	if [ $HAVE_CLIENT = 1 ]; then check "$@"; else ktap_test_skip "$1 (no rslab_client.ko)"; fi
}

# reaper_wrong: how often a reaper ran on a CPU other than its own, summed over the CPUs rslab
# lists in its reaper file (each one warns the first time).
reaper_wrong() {
	awk '{ split($3, w, "="); n += w[2] } END { print n + 0 }' "$RSLAB_DBG/reaper"
}

# movable_blocks <node>: the node's memory blocks that can go offline (onlined movable).
movable_blocks() {
	local m
	for m in /sys/devices/system/memory/memory[0-9]*; do
		if [ -e "$m/node$1" ] && grep -q Movable "$m/valid_zones" 2>/dev/null; then echo "$m"; fi
	done
}
# node_has_memory <node>: the node has memory online.
node_has_memory() { local m; read -r m </sys/devices/system/node/has_memory && in_list "$1" "$m"; }
# dimm_node: the guest's DIMM node (scripts/guest.sh), the highest node with memory blocks (a
# memoryless node, RSLAB_MEMLESS_NODE=1, comes after it and has none).
dimm_node() {
	local n
	for n in $(ls -d /sys/devices/system/node/node[0-9]* | sed 's/.*node//' | sort -rn); do
		if ls -d /sys/devices/system/node/node"$n"/memory[0-9]* >/dev/null 2>&1; then echo "$n"; return 0; fi
	done
	return 1
}

# runs_ok <min iterations> <run...>: no object corrupted and the workers still make progress.
runs_ok() {
	local min=$1 r it
	shift
	for r in "$@"; do
		[ "$(stress_stat "$r" pattern_errors)" = 0 ] || { ktap_print_msg "$r: pattern_errors=$(stress_stat "$r" pattern_errors)"; return 1; }
		it=$(stress_stat "$r" iterations)
		wait_until 30 stress_running "$r" $((it + min)) || { ktap_print_msg "$r: stuck at $it iterations"; return 1; }
	done
}
# threads_everywhere <run...>: every stress run has a thread on every online CPU.
threads_everywhere() {
	local r
	for r in "$@"; do [ "$(stress_stat "$r" threads)" = "$(cpus_online)" ] || return 1; done
}

# cpu_cycle_loop <stop file> <result file>: each CPU of CPUS offline then online, round after
# round, until <stop file> exists; then writes "<transitions done> <transitions failed>" to
# <result file>. Run in the background, racing what the caller does.
cpu_cycle_loop() {
	local n=0 f=0 cpu
	while [ ! -e "$1" ]; do
		for cpu in "${CPUS[@]}"; do
			[ ! -e "$1" ] || break
			cpu_set "$cpu" 0 && n=$((n + 1)) || f=$((f + 1))
			cpu_set "$cpu" 1 && n=$((n + 1)) || f=$((f + 1))
		done
	done
	echo "$n $f" >"$2"
}
