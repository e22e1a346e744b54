// SPDX-License-Identifier: GPL-2.0
/*
 * rslab's exported interface, include/rslab.h. The functions are implemented in Rust
 * (rslab/api.rs) under the header's names; this file exports them, and implements
 * rslab_cache_create(), which reads a C structure and returns ERR_PTR, on top of
 * rslab_rs_cache_create().
 */
#include <linux/err.h>
#include <linux/export.h>
#include <linux/module.h>

#include "../include/rslab.h"

int rslab_rs_cache_create(const char *name, unsigned int size, unsigned int align,
			  unsigned int flags, void (*ctor)(void *obj), void **out);

struct rslab_cache *rslab_cache_create(const char *name, unsigned int size,
				       const struct rslab_cache_args *args)
{
	static const struct rslab_cache_args defaults;
	void *cache = NULL;
	int err;

	might_sleep();
	if (!args)
		args = &defaults;
	err = rslab_rs_cache_create(name, size, args->align, args->flags, args->ctor, &cache);
	if (err)
		return ERR_PTR(err);
	return cache;
}
EXPORT_SYMBOL_GPL(rslab_cache_create);

EXPORT_SYMBOL_GPL(rslab_cache_destroy);
EXPORT_SYMBOL_GPL(rslab_alloc);
EXPORT_SYMBOL_GPL(rslab_alloc_node);
EXPORT_SYMBOL_GPL(rslab_free);
EXPORT_SYMBOL_GPL(rslab_alloc_bulk);
EXPORT_SYMBOL_GPL(rslab_free_bulk);
EXPORT_SYMBOL_GPL(rslab_cache_shrink);
