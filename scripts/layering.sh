#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The source layering rules of Documentation/rslab.rst ("Source layout"), checked on the tree:
#   1. raw kernel bindings and inline assembly only in rslab/sys/ (the facility wrappers); the
#      API's own Rust wrapper (include/rslab.rs) is its FFI edge and may name the gfp constants;
#   2. no Rust source over 700 lines;
#   3. no safety comment that defers to another ("as above", "see above", a bare "type
#      invariant") outside rslab/sys/: each unsafe block argues for itself (clippy's
#      undocumented_unsafe_blocks, on in a CLIPPY=1 build, checks that there is one at all);
#   4. with a built rslab.ko: no popf anywhere in it (a popf costs ~40 cycles on current CPUs),
#      and no interrupt-flag instruction at all (pushf, cli, sti) in the exported fast paths
#      rslab_alloc and rslab_free: a CPU's arrays are taken with a local lock, which leaves
#      interrupts on.
# Prints one line per rule ("ok"/"FAIL"), then "layering: N passed, N failed"; exit 1 on a failure.
set -uo pipefail
TOP=${RSLAB_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$TOP" || exit 2
pass=0 fail=0
verdict() { # verdict <ok?> <what> [details]
	if [ "$1" = 0 ]; then
		echo "ok   $2"
		pass=$((pass + 1))
	else
		echo "FAIL $2"
		[ -z "${3:-}" ] || printf '%s\n' "$3" | sed 's/^/     /'
		fail=$((fail + 1))
	fi
}

mapfile -t rust < <(ls rslab.rs rslab/*.rs rslab/*/*.rs rslab_test.rs rslab_test/*.rs \
	rslab_test/*/*.rs include/*.rs 2>/dev/null)

raw=$(grep -nE 'bindings::|asm!|core::arch::' "${rust[@]}" | grep -vE '^rslab/sys/' |
	grep -vE '^include/rslab\.rs:[0-9]+: +pub\(crate\) const [A-Z]+: Gfp = Gfp\(bindings::[A-Z_]+\);$')
[ -z "$raw" ]
verdict $? "kernel bindings and asm only in rslab/sys/ (${#rust[@]} Rust files)" "$raw"

long=$(wc -l "${rust[@]}" | awk '$2 != "total" && $1 > 700 { print $2 ": " $1 " lines" }')
[ -z "$long" ]
verdict $? "no Rust file over 700 lines (longest: $(wc -l "${rust[@]}" | grep -v ' total$' |
	sort -n | tail -n1 | awk '{ print $2 ", " $1 }'))" "$long"

deferring=$(grep -nE 'SAFETY: *(as above|see above|same as above)|SAFETY: .*\b(type )?invariant\.?$' \
	"${rust[@]}" | grep -vE '^rslab/sys/')
[ -z "$deferring" ]
verdict $? "every SAFETY comment outside rslab/sys/ argues for itself" "$deferring"

if [ -f rslab.ko ]; then
	# The whole module, not only the two exported symbols: their bodies are calls into the
	# crate (Cache::alloc, Cache::free), whose interrupt handling is what matters.
	objdump=$(command -v llvm-objdump-19 || command -v llvm-objdump || command -v objdump)
	dis=$("$objdump" -d rslab.ko 2>/dev/null)
	popf=$(printf '%s\n' "$dis" | grep -E '\bpopf' | head -n 5)
	n=$(printf '%s\n' "$dis" | grep -cE '^ +[0-9a-f]+:')
	fast=$(printf '%s\n' "$dis" | awk '/^[0-9a-f]+ <rslab_(alloc|free)>:/ { f = 1; next } /^$/ { f = 0 } f')
	calls=$(printf '%s\n' "$fast" | grep -cE 'call')
	irqops=$(printf '%s\n' "$fast" | grep -E '[[:space:]](pushfq?|popfq?|cli|sti)([[:space:]]|$)' | head -n 5)
	[ -z "$popf" ] && [ -z "$irqops" ] && [ "$n" -gt 0 ] && [ "$calls" -gt 0 ]
	verdict $? "no popf in rslab.ko ($n instructions), no pushf/cli/sti in rslab_alloc/rslab_free" \
		"$popf$irqops"
fi

echo "layering: $pass passed, $fail failed"
[ "$fail" = 0 ]
