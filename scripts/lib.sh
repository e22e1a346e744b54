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

_rslab_t0=$(date +%s)
step_start() { _step_name=$*; _step_t=$(date +%s); printf '[rslab %4ss] %s ...\n' "$(( _step_t - _rslab_t0 ))" "$*"; }
step_done() { local now; now=$(date +%s); printf '[rslab %4ss] %s: done in %ss\n' "$(( now - _rslab_t0 ))" "$_step_name" "$(( now - _step_t ))"; }
die() { printf 'rslab: error: %s\n' "$*" >&2; exit 1; }
note() { printf 'rslab: %s\n' "$*"; }

# Where the extracted kernel source lives (set after setup has run).
ksrc_dir() { ls -d "$KSRC_BASE"/linux-source-"$KVER_MAJOR" 2>/dev/null | head -n1; }
