/* SPDX-License-Identifier: GPL-2.0 */
/*
 * rslab: the exported interface of rslab.ko, a slab allocator in Rust that stays correct under
 * CPU and memory hotplug. Build a client module against it with
 *
 *	ccflags-y += -I<rslab tree>/include
 *	KBUILD_EXTRA_SYMBOLS := <rslab tree>/Module.symvers
 *
 * A module that calls any of these functions depends on rslab.ko: modprobe loads rslab first,
 * and rslab cannot be unloaded while the client is loaded. See Documentation/rslab.rst,
 * "Using rslab from your module".
 */
#ifndef _RSLAB_H
#define _RSLAB_H

#include <linux/gfp_types.h>
#include <linux/types.h>

/**
 * struct rslab_cache - an rslab object cache (opaque).
 *
 * Returned by rslab_cache_create(); valid until rslab_cache_destroy() returns 0.
 */
struct rslab_cache;

/**
 * struct rslab_cache_args - optional parameters of rslab_cache_create().
 * @align: object alignment in bytes: 0 for word alignment, else a power of two
 *         no larger than PAGE_SIZE.
 * @flags: %RSLAB_DEBUG or 0.
 * @ctor: called on every object of a slab when the slab is carved from new pages,
 *        as SLUB calls a kmem_cache constructor; objects must be handed back to
 *        rslab_free() in their constructed state. May be NULL. A debug cache with a
 *        constructor is not poisoned (as in SLUB).
 */
struct rslab_cache_args {
	unsigned int align;
	unsigned int flags;
	void (*ctor)(void *obj);
};

/*
 * RSLAB_DEBUG - red zones around every object, poisoning of free objects and checks
 * of every free (double free, foreign pointer, overwritten red zone). A debug cache
 * bypasses the per-CPU arrays: slower, but every operation is checked.
 */
#define RSLAB_DEBUG (1U << 0)

/**
 * rslab_cache_create() - create an object cache.
 * @name: unique name, 1 to 32 characters of [A-Za-z0-9_-]; shown in
 *        /sys/kernel/debug/rslab/slabinfo and caches/<name>/. Copied.
 * @size: object size in bytes, 1 to 16384.
 * @args: alignment, flags and constructor, or NULL for the defaults.
 *
 * Context: process context; may sleep.
 * Return: the cache, or ERR_PTR(-EINVAL) for a bad size, alignment, flag or name,
 *         ERR_PTR(-EEXIST) if a cache of that name exists (names are shared with caches
 *         created through debugfs), ERR_PTR(-ENOMEM).
 */
struct rslab_cache *rslab_cache_create(const char *name, unsigned int size,
				       const struct rslab_cache_args *args);

/**
 * rslab_cache_destroy() - destroy a cache with no object allocated.
 * @cache: a cache of rslab_cache_create().
 *
 * Objects cached on every CPU are returned first. If any object is still allocated
 * the cache is left intact and usable (nothing is freed or lost) and -EBUSY is returned:
 * free the objects and try again.
 *
 * Context: process context; may sleep. Takes the CPU hotplug lock.
 * Return: 0 (@cache is gone), -EBUSY, or -EINVAL for a pointer that is no cache of
 *         rslab_cache_create() (it is only compared, never dereferenced).
 */
int rslab_cache_destroy(struct rslab_cache *cache);

/**
 * rslab_alloc() - allocate one object.
 * @cache: the cache.
 * @gfp: allocation flags. %GFP_KERNEL may sleep when new pages are needed;
 *       %GFP_ATOMIC and %GFP_NOWAIT never sleep and may be used from softirq
 *       and hard interrupt context. %__GFP_ZERO zeroes the object.
 *
 * Context: any, as @gfp allows; as for kmalloc(), not from contexts that stay
 * hard-irq on PREEMPT_RT (HRTIMER_MODE_HARD callbacks, raw spinlock sections).
 * Return: the object, or NULL if no memory could be had.
 */
void *rslab_alloc(struct rslab_cache *cache, gfp_t gfp);

/**
 * rslab_alloc_node() - allocate one object on a NUMA node.
 * @cache: the cache.
 * @gfp: allocation flags, as for rslab_alloc().
 * @node: the node, or %NUMA_NO_NODE for any. A node with normal memory
 *        (%N_NORMAL_MEMORY) yields an object on that node; a node without (no
 *        memory, or only movable memory) one on the first node with normal memory.
 *
 * Context: any, as @gfp allows.
 * Return: the object, or NULL (also for a @node that is not a possible node).
 */
void *rslab_alloc_node(struct rslab_cache *cache, gfp_t gfp, int node);

/**
 * rslab_free() - free one object.
 * @cache: the cache @obj was allocated from.
 * @obj: the object, or NULL (nothing is done).
 *
 * A debug cache checks @obj and reports a double free or a foreign pointer instead of
 * corrupting anything; other caches trust their caller, as kmem_cache_free() does.
 *
 * Context: any.
 */
void rslab_free(struct rslab_cache *cache, void *obj);

/**
 * rslab_alloc_bulk() - allocate @nr objects at once.
 * @cache: the cache.
 * @gfp: allocation flags, as for rslab_alloc().
 * @nr: number of objects.
 * @objs: array of at least @nr pointers, filled in.
 *
 * All or nothing, as kmem_cache_alloc_bulk(): on failure nothing stays allocated.
 * Cheaper per object than @nr calls of rslab_alloc().
 *
 * Context: any, as @gfp allows.
 * Return: @nr, or 0 on failure.
 */
int rslab_alloc_bulk(struct rslab_cache *cache, gfp_t gfp, size_t nr, void **objs);

/**
 * rslab_free_bulk() - free @nr objects at once.
 * @cache: the cache the objects were allocated from.
 * @nr: number of objects.
 * @objs: the objects; from any NUMA nodes. NULL entries are skipped.
 *
 * Context: any.
 */
void rslab_free_bulk(struct rslab_cache *cache, size_t nr, void **objs);

/**
 * rslab_cache_shrink() - return cached objects and empty slabs.
 * @cache: the cache.
 *
 * Drains every CPU's cached objects of @cache, then returns its empty slabs to the
 * page allocator.
 *
 * Context: process context; may sleep. Takes the CPU hotplug lock.
 * Return: 0, or a negative error code if the per-CPU drain failed.
 */
int rslab_cache_shrink(struct rslab_cache *cache);

#endif /* _RSLAB_H */
