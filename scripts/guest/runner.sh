#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# In-guest kselftest runner: runs /kselftest/rslab's tests (in tests.list order) and then every
# executable of $RSLAB_EXTRA_TESTS (/extra/list), one KTAP result line each, the way the kernel's
# kselftest runner does: exit 0 pass, 4 skip, anything else fail; the test's own output (often
# nested KTAP) is kept, prefixed with "# ".
set -u
# Per-test limit, as kselftest's "settings" file: timeout=<seconds>.
TEST_TIMEOUT=$(sed -n 's/^timeout=//p' /kselftest/rslab/settings 2>/dev/null)
TEST_TIMEOUT=${TEST_TIMEOUT:-900}
tests=()
if [ "$RSLAB_MODE" = check ] && [ -f /kselftest/rslab/tests.list ]; then
	while read -r t; do
		[ -n "$t" ] || continue
		if [ -n "${RSLAB_TEST_FILTER:-}" ] && ! [[ "$t" =~ $RSLAB_TEST_FILTER ]]; then
			continue
		fi
		tests+=("/kselftest/rslab/$t")
	done </kselftest/rslab/tests.list
fi
while read -r t; do
	[ -n "$t" ] && tests+=("/extra/$t")
done </extra/list

echo "TAP version 13"
echo "1..${#tests[@]}"
n=0
for t in "${tests[@]}"; do
	n=$((n + 1))
	name=${t##*/}
	case "$t" in /extra/*) suite=extra ;; *) suite=rslab ;; esac
	echo "# selftests: $suite: $name"
	start=$(cut -d' ' -f1 /proc/uptime)
	(cd "${t%/*}" && timeout "$TEST_TIMEOUT" "$t" 2>&1) |
		while IFS= read -r line; do printf '# %s\n' "$line"; done
	rc=${PIPESTATUS[0]}
	end=$(cut -d' ' -f1 /proc/uptime)
	echo "# $name: exit=$rc guest_seconds=$(awk -v a="$start" -v b="$end" 'BEGIN{printf "%.1f", b-a}')"
	case $rc in
	0) echo "ok $n selftests: $suite: $name" ;;
	4) echo "ok $n selftests: $suite: $name # SKIP" ;;
	*) echo "not ok $n selftests: $suite: $name # exit=$rc" ;;
	esac
done
