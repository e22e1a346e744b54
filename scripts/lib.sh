# SPDX-License-Identifier: GPL-2.0
# Shared helpers for rslab's host-side scripts: step timing, logging, cache paths.
# Sourced, never executed.

RSLAB_TOP=${RSLAB_TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
# CI runs with a reduced environment: do not assume HOME or cargo's PATH entry.
HOME=${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}
HOME=${HOME:-/root}
export HOME
RSLAB_CACHE=${RSLAB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rslab}
RSLAB_PROFILE=${RSLAB_PROFILE:-debug}
LLVM_SUFFIX=${LLVM_SUFFIX:--19}
KVER_MAJOR=7.3
KSRC_BASE=$RSLAB_CACHE/src
BINDGEN_ROOT=$RSLAB_CACHE/bindgen
RUST_LIB_SRC=${RUST_LIB_SRC:-/usr/lib/rustlib/src/rust/library}
export PATH="$BINDGEN_ROOT/bin:$HOME/.cargo/bin:$PATH"

# Every exit other than success says what failed: a command that ends a `set -e` script
# (errexit on) is named with its file, line and status. Regions run under `set +e` check
# statuses themselves and stay quiet.
set -E
_rslab_err() {
	local rc=$? src=${BASH_SOURCE[1]:-$0} line=${BASH_LINENO[0]:-?}
	case $- in *e*) printf 'rslab: error: %s:%s: `%s` failed (exit %s)\n' "${src##*/}" "$line" "$BASH_COMMAND" "$rc" >&2 ;; esac
	return "$rc"
}
trap _rslab_err ERR

_rslab_t0=$(date +%s)
step_start() { _step_name=$*; _step_t=$(date +%s); printf '[rslab %4ss] %s ...\n' "$(( _step_t - _rslab_t0 ))" "$*"; }
step_done() { local now; now=$(date +%s); printf '[rslab %4ss] %s: done in %ss\n' "$(( now - _rslab_t0 ))" "$_step_name" "$(( now - _step_t ))"; }
die() { printf 'rslab: error: %s\n' "$*" >&2; exit 1; }
note() { printf 'rslab: %s\n' "$*"; }

# Where the extracted kernel source lives (set after setup has run).
ksrc_dir() { ls -d "$KSRC_BASE"/linux-source-"$KVER_MAJOR" 2>/dev/null | head -n1; }

# use_kernel <build dir>: hold the build's cache lock shared until this shell exits, so that
# no other run prunes or rebuilds it while it is in use (scripts/kernel.sh takes it exclusively).
use_kernel() {
	local fd
	exec {fd}>"$1.lock"
	flock -s "$fd"
	[ -f "$1/.rslab-done" ] || die "kernel build $1 disappeared before it could be used"
}

# ksft_install <kernel source> <dir>: install selftests/ into <dir> with the kernel's own
# kselftest install, `make -C tools/testing/selftests TARGETS=rslab install`: <dir> gets
# run_kselftest.sh, kselftest/ (runner.sh, ktap_helpers.sh, ...), rslab/ (the tests, settings,
# config), cpu-hotplug/cpu-on-off-test.sh and memory-hotplug/mem-on-off-test.sh (rslab's
# TEST_INCLUDES) and kselftest-list.txt (the tests in TEST_PROGS order). selftests/Makefile
# includes ../lib.mk, so it has to sit in a selftests tree; the cached kernel source is shared
# by every run and stays read-only, so the tree is a scratch one with copies, not symlinks:
# make -C follows a symlinked directory to where
# ../lib.mk is missing, and lib.mk refuses TEST_INCLUDES that resolve outside the tree. The
# Makefile's top_srcdir (../../..) only has to provide scripts/subarch.include.
ksft_install() {
	local ksrc=$1 dest=$2 tree rc
	tree=$(mktemp -d "${TMPDIR:-/tmp}/rslab-ksft.XXXXXX")
	mkdir -p "$tree/scripts" "$tree/tools/testing/selftests"
	cp "$ksrc/scripts/subarch.include" "$tree/scripts/"
	(
		cd "$ksrc/tools/testing/selftests"
		cp Makefile lib.mk run_kselftest.sh "$tree/tools/testing/selftests/"
		cp -r kselftest cpu-hotplug memory-hotplug "$tree/tools/testing/selftests/"
	)
	cp -r "$RSLAB_TOP/selftests" "$tree/tools/testing/selftests/rslab"
	mkdir -p "$dest"
	# FORCE_TARGETS=1: a target that fails to install fails the install (the kernel's default
	# only fails when every target did).
	make -C "$tree/tools/testing/selftests" TARGETS=rslab FORCE_TARGETS=1 \
		KSFT_INSTALL_PATH="$(cd "$dest" && pwd)" install && rc=0 || rc=$?
	rm -rf "$tree"
	return "$rc"
}

# list_executables <dir>: the names of the executable regular files in <dir>, sorted; other
# files are skipped. An `if`, not `[ -x ] && echo`: under `set -e` a non-executable last name
# would make the loop's status 1 and end the caller without a word.
list_executables() {
	local f
	(
		cd "$1"
		for f in *; do
			if [ -f "$f" ] && [ -x "$f" ]; then echo "$f"; fi
		done
	) | sort
}

# --- guest runs tallied (make check, make soak) ---------------------------------------------
# The caller sets P=0 F=0 S=0 and KB (the kernel build).
tally() { # tally <passed> <failed> <skipped>
	P=$((P + $1)) F=$((F + $2)) S=$((S + $3))
}
guest_tally() { # the verdict's summary line of the newest run of a mode
	sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed, \([0-9]*\) skipped$/\1 \2 \3/p' "$1" | tail -n1
}

# guest_check <log> [VAR=value...]: one guest run of the selftests, tallied; a tripped gate or a
# guest that never finished is one more failure beyond the tests' own. With NO_SKIP=1 in the
# environment, a skipped test fails too (a run whose topology exists for that test).
guest_check() {
	local log=$1 rc gp gf gs
	shift
	set +e
	env "$@" "$RSLAB_TOP/scripts/guest.sh" check "$KB" 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	set -e
	read -r gp gf gs < <(guest_tally "$log")
	gp=${gp:-0} gf=${gf:-0} gs=${gs:-0}
	[ "$rc" = 0 ] || [ "$gf" != 0 ] || gf=1
	if [ "${NO_SKIP:-0}" = 1 ] && [ "$gs" != 0 ]; then
		note "$gs test(s) skipped in a run made for them: counted as failures"
		gf=$((gf + gs)) gs=0
	fi
	tally "$gp" "$gf" "$gs"
}
