#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Build rslab.ko with Kbuild against KDIR (default: the cached test kernel of $RSLAB_PROFILE),
# then the independent client samples/rslab_client against rslab's Module.symvers and header,
# as a driver outside this tree would be built.
#   scripts/module.sh             build
#   scripts/module.sh fmt         rustfmt the module sources with the kernel's .rustfmt.toml
#   scripts/module.sh fmt-check   the same, failing on any difference
# CLIPPY=1 in the environment runs clippy as part of the build, as in-tree; RSLAB_GENERIC=1
# builds the arch-independent fallbacks of rslab/sys/ instead of the x86-64 code.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

if [ -z "${KDIR:-}" ]; then
	"$RSLAB_TOP/scripts/setup.sh" >&2
	KDIR=$("$RSLAB_TOP/scripts/kernel.sh")
	use_kernel "$KDIR"
fi
[ -f "$KDIR/Module.symvers" ] || die "KDIR=$KDIR is not a built kernel tree (no Module.symvers)"
KMAKE=(make -C "$KDIR" M="$RSLAB_TOP" LLVM="$LLVM_SUFFIX" RUST_LIB_SRC="$RUST_LIB_SRC"
	RSLAB_GENERIC="${RSLAB_GENERIC:-}")

case "${1:-build}" in
build)
	step_start "build rslab.ko against $KDIR${CLIPPY:+ (clippy)}"
	# A failed link must not leave an older rslab.ko behind to be booted.
	rm -f "$RSLAB_TOP/rslab.ko"
	"${KMAKE[@]}" ${CLIPPY:+CLIPPY=1} modules >&2
	step_done >&2

	# The sample knows nothing of its place in this tree: RSLAB and KBUILD_EXTRA_SYMBOLS are
	# all it is told (see samples/rslab_client/Kbuild). W=1: a sample is held to the kernel's
	# stricter warnings, and make check fails on any warning in this build's log.
	SAMPLE=$RSLAB_TOP/samples/rslab_client
	step_start "build samples/rslab_client (a client of rslab's exported API)"
	[ -f "$RSLAB_TOP/Module.symvers" ] || die "no $RSLAB_TOP/Module.symvers after the rslab build"
	rm -f "$SAMPLE/rslab_client.ko"
	make -C "$KDIR" M="$SAMPLE" LLVM="$LLVM_SUFFIX" W=1 RSLAB="$RSLAB_TOP" \
		KBUILD_EXTRA_SYMBOLS="$RSLAB_TOP/Module.symvers" modules >&2
	[ -f "$SAMPLE/rslab_client.ko" ] || die "samples/rslab_client: no rslab_client.ko"
	step_done >&2
	;;
fmt|fmt-check)
	cfg=$(ksrc_dir)/.rustfmt.toml
	[ -f "$cfg" ] || die "kernel .rustfmt.toml not found (run make setup)"
	# Every Rust source that exists: the crates' roots, their submodules, the API wrapper.
	files=()
	for f in "$RSLAB_TOP"/{rslab.rs,rslab/*.rs,rslab/*/*.rs,rslab_test.rs,rslab_test/*.rs,rslab_test/*/*.rs,include/*.rs}; do
		if [ -f "$f" ]; then files+=("$f"); fi
	done
	check=()
	if [ "$1" = fmt-check ]; then check=(--check); fi
	rustfmt --config-path "$cfg" --edition 2021 "${check[@]}" "${files[@]}"
	;;
*) die "usage: $0 [build|fmt|fmt-check]" ;;
esac
