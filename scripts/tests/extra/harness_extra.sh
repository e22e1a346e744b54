#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# An RSLAB_EXTRA_TESTS test of the harness itself (scripts/check.sh passes this directory to a
# guest run): its helper, zz_helper.sh, is not executable and sorts last, the case that once
# ended scripts/guest.sh silently. It must have come along into the guest, and not as a test.
here=$(dirname "$0")
[ -f "$here/zz_helper.sh" ] || { echo "zz_helper.sh did not come along"; exit 1; }
# The kselftest list the runner reads (/kselftest/kselftest-list.txt; this collection is extra/).
list=$here/../kselftest-list.txt
grep -qx extra:harness_extra.sh "$list" || { echo "harness_extra.sh is not listed in $list"; exit 1; }
! grep -qx extra:zz_helper.sh "$list" || { echo "zz_helper.sh was listed as a test"; exit 1; }
. "$here/zz_helper.sh"
[ "$(harness_helper)" = "helper sourced" ] || exit 1
echo "helper present and sourced"
