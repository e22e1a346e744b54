#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Not a selftest of rslab: the harness's proof that its kernel-log gate works (scripts/check.sh
# runs it as the only RSLAB_EXTRA_TESTS test of a guest). It makes the kernel WARN through LKDTM
# (CONFIG_LKDTM, in configs/debug.config) and exits 0; the run must nevertheless fail on the gate.
set -e
echo WARNING >/sys/kernel/debug/provoke-crash/DIRECT
echo "# LKDTM WARNING provoked"
exit 0
