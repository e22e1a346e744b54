# SPDX-License-Identifier: GPL-2.0
# Not executable on purpose: a helper that comes along with harness_extra.sh (see there).
harness_helper() { echo "helper sourced"; }
