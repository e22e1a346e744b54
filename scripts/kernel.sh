#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Build (or reuse) the rslab test kernel for $RSLAB_PROFILE (debug|perf|rt; rt is the debug
# profile with PREEMPT_RT on top).
# The build directory lives in the cache, keyed by a hash of everything that goes into it:
# kernel source version, config fragments, this script, and the toolchain versions.
# Prints the build directory, and only that, on stdout: every progress line goes to stderr, so a
# caller's KB=$(kernel.sh) still shows the build's progress on the terminal.
#
# Concurrent runs (two clones, or a build while another run uses the cache) are serialised on
# the cache entry with flock(1): the builder holds the entry's lock exclusively; a second run
# waits for it, then reuses the finished build. Users of a build (scripts/check.sh and friends)
# hold the same lock shared for as long as they use it (use_kernel in lib.sh), and pruning old
# builds only removes entries whose lock it can take exclusively without waiting.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
exec 3>&1 1>&2

case "$RSLAB_PROFILE" in
debug|perf) PROFILE_FRAGS=("$RSLAB_TOP/configs/$RSLAB_PROFILE.config") ;;
rt) PROFILE_FRAGS=("$RSLAB_TOP/configs/debug.config" "$RSLAB_TOP/configs/rt.config") ;;
*) die "RSLAB_PROFILE must be debug, perf or rt, not '$RSLAB_PROFILE'" ;;
esac

KSRC=$(ksrc_dir)
[ -n "$KSRC" ] || die "kernel source not found under $KSRC_BASE: run scripts/setup.sh"
FRAGS=("$RSLAB_TOP/.config.fragment" "${PROFILE_FRAGS[@]}")
KMAKE=(make -C "$KSRC" ARCH=x86_64 LLVM="$LLVM_SUFFIX" RUST_LIB_SRC="$RUST_LIB_SRC")

key=$( {
	cat "$KSRC_BASE/.stamp" "${FRAGS[@]}" "$0"
	rustc --version; clang"$LLVM_SUFFIX" --version | head -n1; bindgen --version
} | sha256sum | cut -c1-16)
BUILD=$RSLAB_CACHE/build/$RSLAB_PROFILE-$key
mkdir -p "$RSLAB_CACHE/build"
# Shared first: a finished build is reused while other runs use it too. Only a missing build
# takes the lock exclusively (flock converts it), and looks again once it has it: the run it
# waited for may have built it meanwhile.
exec 4>"$BUILD.lock"
if ! flock -n -s 4; then
	note "another run is building $BUILD: waiting for it"
	flock -s 4
fi
if [ ! -f "$BUILD/.rslab-done" ]; then
	if ! flock -n -x 4; then
		note "another run holds $BUILD: waiting for it"
		flock -x 4
	fi
fi
if [ -f "$BUILD/.rslab-done" ]; then
	note "reusing cached $RSLAB_PROFILE kernel $BUILD"
	echo "$BUILD" >&3
	exit 0
fi

# Check every requested option against the resulting .config.
verify_config() {
	local cfg=$1 bad=0 line opt val
	while IFS= read -r line; do
		case "$line" in
		CONFIG_*=*)
			opt=${line%%=*}; val=${line#*=}
			if ! grep -qx "$opt=$val" "$cfg"; then
				echo "  requested $opt=$val, got: $(grep -E "^(# )?$opt[= ]" "$cfg" || echo absent)" >&2
				bad=1
			fi ;;
		"# CONFIG_"*" is not set")
			opt=${line#\# }; opt=${opt%% *}
			if grep -q "^$opt=" "$cfg"; then
				echo "  requested $opt off, got: $(grep "^$opt=" "$cfg")" >&2
				bad=1
			fi ;;
		esac
	done < <(cat "${FRAGS[@]}")
	return $bad
}

step_start "configure $RSLAB_PROFILE kernel in $BUILD"
rm -rf "$BUILD"
mkdir -p "$BUILD"
"${KMAKE[@]}" O="$BUILD" rustavailable >"$BUILD/rustavailable.log" 2>&1 ||
	{ cat "$BUILD/rustavailable.log" >&2; die "Rust toolchain not usable for the kernel (see above)"; }
"${KMAKE[@]}" O="$BUILD" tinyconfig >"$BUILD/config.log" 2>&1 || die "tinyconfig failed: $BUILD/config.log"
(cd "$BUILD" && ARCH=x86_64 LLVM="$LLVM_SUFFIX" "$KSRC/scripts/kconfig/merge_config.sh" -m -O "$BUILD" \
	"$BUILD/.config" "${FRAGS[@]}") >>"$BUILD/config.log" 2>&1 || die "merge_config failed: $BUILD/config.log"
"${KMAKE[@]}" O="$BUILD" olddefconfig >>"$BUILD/config.log" 2>&1 || die "olddefconfig failed: $BUILD/config.log"
verify_config "$BUILD/.config" || die "kconfig dropped options requested by the fragments (listed above)"
step_done

step_start "build $RSLAB_PROFILE kernel (bzImage modules; ~6 min on 2 cores, progress every 30s)"
"${KMAKE[@]}" O="$BUILD" -j"$(nproc)" bzImage modules >"$BUILD/build.log" 2>&1 &
pid=$!
while kill -0 "$pid" 2>/dev/null; do
	for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
	kill -0 "$pid" 2>/dev/null || break
	printf '  ... %s objects built, last: %s\n' "$(grep -c '^  CC\|^  RUSTC' "$BUILD/build.log")" \
		"$(tail -n1 "$BUILD/build.log" | cut -c1-80)"
done
wait "$pid" || { tail -n 40 "$BUILD/build.log" >&2; die "kernel build failed: $BUILD/build.log"; }
step_done
touch "$BUILD/.rslab-done"
# Keep only the newest few builds per profile, and never one that another run holds.
for old in $(ls -dt "$RSLAB_CACHE/build/$RSLAB_PROFILE"-*/ 2>/dev/null | tail -n +3); do
	old=${old%/}
	if (exec 5>"$old.lock" && flock -n -x 5 && rm -rf "$old"); then
		note "pruned old build $old"
	else
		note "kept old build $old (in use by another run)"
	fi
done
echo "$BUILD" >&3
