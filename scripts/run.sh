#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make run: set up, build (or reuse) the kernel, build rslab.ko, boot and run the demonstration.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
"$RSLAB_TOP/scripts/setup.sh"
KB=$("$RSLAB_TOP/scripts/kernel.sh")
use_kernel "$KB"
KDIR=$KB "$RSLAB_TOP/scripts/module.sh"
"$RSLAB_TOP/scripts/guest.sh" run "$KB"
