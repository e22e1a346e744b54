#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Idempotent host setup for rslab (see ../shared/TOOLCHAIN.md for why each step looks the way it does):
#   1. apt suites: bookworm-backports and trixie-backports only, on the mirror already configured;
#   2. Debian packages (clang-19, kernel build deps, busybox/bash static, qemu from bookworm-backports,
#      linux-source-7.3 and rust-src matching rustc, both arch-all from trixie-backports);
#   3. bindgen-cli built with cargo into the cache;
#   4. the kernel source extracted into the cache.
# Every step prints its elapsed time. Nothing is written into the repository.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

SUDO=
if [ "$(id -u)" != 0 ]; then
	command -v sudo >/dev/null || die "not root and no sudo: cannot install Debian packages"
	SUDO=sudo
fi

APT_LIST=/etc/apt/sources.list.d/rslab-backports.sources
# rsync: the kernel's kselftest install (lib.mk) copies the selftests with it.
DEB_PKGS=(clang-19 lld-19 llvm-19 libclang-19-dev flex bison bc libelf-dev libssl-dev cpio
	  busybox-static bash-static xz-utils python3 make rsync)

have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q '^install ok installed$'; }

rustc_version() { rustc --version | awk '{print $2}'; }

# --- 1. apt suites --------------------------------------------------------------------------
setup_suites() {
	step_start "apt suites (bookworm-backports, trixie-backports)"
	local uri
	# Reuse the mirror of the machine's own bookworm suite; never hard-code a host.
	uri=$(awk '/^URIs:/ {u=$2} /^Suites:/ && / bookworm( |$)/ {print u; exit}' \
		/etc/apt/sources.list.d/*.sources 2>/dev/null || true)
	if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
		uri=$(awk '$1=="deb" && $3=="bookworm" {print $2; exit}' /etc/apt/sources.list)
	fi
	[ -n "$uri" ] || die "no bookworm mirror found in /etc/apt/sources.list{,.d}: cannot add backports"
	local want
	want=$(printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports trixie-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$uri")
	if [ ! -f "$APT_LIST" ] || [ "$(cat "$APT_LIST")" != "$want" ]; then
		printf '%s\n' "$want" | $SUDO tee "$APT_LIST" >/dev/null
		NEED_UPDATE=1
	fi
	step_done
}

# --- 2. packages ----------------------------------------------------------------------------
setup_packages() {
	local missing=() p rsv
	rsv=$(rustc_version)
	for p in "${DEB_PKGS[@]}" qemu-system-x86 linux-source-$KVER_MAJOR; do
		have_pkg "$p" || missing+=("$p")
	done
	if have_pkg rust-src; then
		case "$(dpkg-query -W -f='${Version}' rust-src)" in
		"$rsv"*) ;;
		*) missing+=(rust-src) ;;
		esac
	else
		missing+=(rust-src)
	fi
	if [ ${#missing[@]} = 0 ] && [ -d "$RUST_LIB_SRC/core" ]; then
		note "all Debian packages present"
		return
	fi
	step_start "apt-get update"
	$SUDO apt-get update -qq || die "apt-get update failed"
	step_done
	export DEBIAN_FRONTEND=noninteractive
	step_start "install ${DEB_PKGS[*]}"
	$SUDO apt-get install -y -qq --no-install-recommends "${DEB_PKGS[@]}" >/dev/null ||
		die "apt-get install of the bookworm packages failed"
	step_done
	step_start "install qemu-system-x86 (bookworm-backports)"
	$SUDO apt-get install -y -qq --no-install-recommends -t bookworm-backports qemu-system-x86 >/dev/null ||
		die "qemu-system-x86 from bookworm-backports failed to install"
	step_done
	# trixie-backports: one arch-all package at a time, never -t for the whole install.
	step_start "install linux-source-$KVER_MAJOR and rust-src $rsv (trixie-backports, arch all)"
	local rsrc
	rsrc=$(apt-cache madison rust-src | awk -v v="$rsv" '$3 ~ "^"v && /trixie-backports/ {print $3; exit}')
	[ -n "$rsrc" ] || die "no rust-src matching rustc $rsv in trixie-backports (apt-cache madison rust-src)"
	$SUDO apt-get install -y -qq --no-install-recommends "linux-source-$KVER_MAJOR/trixie-backports" \
		"rust-src=$rsrc" >/dev/null || die "linux-source-$KVER_MAJOR / rust-src=$rsrc failed to install"
	step_done
	[ -d "$RUST_LIB_SRC/core" ] || die "rust-src installed but $RUST_LIB_SRC/core is missing"
}

# --- 3. bindgen -----------------------------------------------------------------------------
BINDGEN_VERSION=0.72.1
setup_bindgen() {
	if "$BINDGEN_ROOT/bin/bindgen" --version 2>/dev/null | grep -q "$BINDGEN_VERSION"; then
		return
	fi
	step_start "cargo install bindgen-cli $BINDGEN_VERSION (about 3 minutes)"
	LIBCLANG_PATH=/usr/lib/llvm-19/lib cargo install --locked --quiet --root "$BINDGEN_ROOT" \
		bindgen-cli --version "$BINDGEN_VERSION" || die "cargo install bindgen-cli failed"
	step_done
}

# --- 4. kernel source -----------------------------------------------------------------------
setup_ksrc() {
	local tarball=/usr/src/linux-source-$KVER_MAJOR.tar.xz stamp
	[ -f "$tarball" ] || die "$tarball missing although linux-source-$KVER_MAJOR is installed"
	stamp=$(dpkg-query -W -f='${Version}' "linux-source-$KVER_MAJOR")
	if [ -f "$KSRC_BASE/.stamp" ] && [ "$(cat "$KSRC_BASE/.stamp")" = "$stamp" ]; then
		return
	fi
	step_start "extract kernel source $stamp"
	rm -rf "$KSRC_BASE"
	mkdir -p "$KSRC_BASE"
	tar -C "$KSRC_BASE" -xf "$tarball"
	echo "$stamp" >"$KSRC_BASE/.stamp"
	step_done
}

# Extra packages for `make bench`, on request only: the report's chart (python3-matplotlib) and
# gdb, which single-steps the guest through QEMU's gdbstub for the cost model
# (scripts/costmodel/).
setup_bench() {
	local missing=() p
	for p in python3-matplotlib gdb; do have_pkg "$p" || missing+=("$p"); done
	[ ${#missing[@]} -gt 0 ] || return 0
	step_start "install ${missing[*]} (make bench)"
	$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
		{ $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; } ||
		die "${missing[*]} failed to install"
	step_done
}

NEED_UPDATE=0
mkdir -p "$RSLAB_CACHE"
command -v rustc >/dev/null || die "rustc not found: rslab needs the machine's rustup toolchain"
setup_suites
setup_packages
setup_bindgen
setup_ksrc
if [ "${1:-}" = bench ]; then setup_bench; fi
note "setup complete: kernel source $(ksrc_dir), cache $RSLAB_CACHE"
