// SPDX-License-Identifier: GPL-2.0
/*
 * rslab_test compiles some of rslab's facility wrappers (rslab/sys/) again; their C helpers
 * are not exported by rslab.ko, so this module links its own copy.
 */
#include "../rslab/sys/helpers.c"
