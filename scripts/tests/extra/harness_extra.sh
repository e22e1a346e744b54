#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# An RSLAB_EXTRA_TESTS test of the harness itself (scripts/check.sh passes this directory to a
# guest run): its helper, zz_helper.sh, is not executable and sorts last, the case that once
# ended scripts/guest.sh silently. It must have come along into the guest, and not as a test.
here=$(dirname "$0")
[ -f "$here/zz_helper.sh" ] || { echo "zz_helper.sh did not come along"; exit 1; }
! grep -qx zz_helper.sh "$here/list" || { echo "zz_helper.sh was listed as a test"; exit 1; }
. "$here/zz_helper.sh"
[ "$(harness_helper)" = "helper sourced" ] || exit 1
echo "helper present and sourced"
