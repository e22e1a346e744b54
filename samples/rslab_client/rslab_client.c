// SPDX-License-Identifier: GPL-2.0
/*
 * rslab_client: an independent client module of rslab.ko, written only
 * against <rslab.h> and the kernel's headers, as a driver would be.
 *
 * At load it checks the semantics of every function of the API and refuses
 * to load (-EPROTO, with a message naming the check) if one is wrong. It then
 * runs a worker thread on every online CPU, started and stopped by its own
 * CPU hotplug state, that allocates, fills, checks and frees objects of its
 * three caches (single and bulk, GFP_KERNEL and GFP_ATOMIC, on every node)
 * until the module is removed. At removal it stops the workers, destroys its
 * caches and prints one line:
 *
 *	rslab_client: done: ops=<objects allocated and freed> errors=<n>
 *
 * errors counts pattern mismatches, failed GFP_KERNEL allocations, results
 * that break the API's contract and caches that could not be destroyed. Failed
 * GFP_ATOMIC allocations are allowed: a notice before that line counts them.
 *
 * Writing 1 to /sys/module/rslab_client/parameters/pause makes every worker
 * free what it holds and wait; the write returns once all of them do, so the
 * caches are then idle (for rslab's "validate", say). Writing 0 resumes them.
 *
 * Build out of tree:
 *
 *	make -C <kernel build> M=$PWD RSLAB=<rslab tree> \
 *		KBUILD_EXTRA_SYMBOLS=<rslab tree>/Module.symvers
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/atomic.h>
#include <linux/bottom_half.h>
#include <linux/cpu.h>
#include <linux/cpuhotplug.h>
#include <linux/cpumask.h>
#include <linux/delay.h>
#include <linux/err.h>
#include <linux/irqflags.h>
#include <linux/jiffies.h>
#include <linux/kstrtox.h>
#include <linux/kthread.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/mutex.h>
#include <linux/nodemask.h>
#include <linux/numa.h>
#include <linux/printk.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/string.h>

#include <rslab.h>

/* The largest object size and alignment rslab accepts. */
#define CLIENT_MAX_SIZE		16384
/* The longest cache name rslab accepts. */
#define CLIENT_MAX_NAME		32

/* A cache created and destroyed by one check; the name is reused. */
#define CLIENT_TMP		"rslab_client_tmp"

/* Object size of the constructor caches, and the stamp their ctor writes. */
#define CLIENT_CTOR_SIZE	128
#define CLIENT_CTOR_STAMP	0xc7c7c7c7c7c7c7c7ULL

/* Objects per bulk call of a worker (1 to this many), and objects it holds. */
#define CLIENT_BULK		16
#define CLIENT_HELD		32
/* Objects in the bulk check: more than one CPU's array (256) holds. */
#define CLIENT_CHECK_BULK	300

/* How long pausing the workers may take, and how often a paused one looks. */
#define CLIENT_PAUSE_TIMEOUT	(10 * HZ)
#define CLIENT_PAUSE_POLL	msecs_to_jiffies(10)

static void client_ctor(void *obj);

enum client_cache_id {
	CLIENT_MAIN,
	CLIENT_DEBUG,
	CLIENT_CTOR,
	CLIENT_NR_CACHES,
};

struct client_cache {
	const char *name;
	unsigned int size;
	struct rslab_cache_args args;
	struct rslab_cache *cache;
};

/* The caches the workers use, created by check_create_unique(). */
static struct client_cache client_caches[CLIENT_NR_CACHES] = {
	[CLIENT_MAIN] = {
		.name = "rslab_client",
		.size = 200,
	},
	[CLIENT_DEBUG] = {
		.name = "rslab_client_debug",
		.size = 96,
		.args = { .align = 32, .flags = RSLAB_DEBUG },
	},
	[CLIENT_CTOR] = {
		.name = "rslab_client_ctor",
		.size = CLIENT_CTOR_SIZE,
		.args = { .ctor = client_ctor },
	},
};

/* An object kept by a worker for a while, checked when it is freed. */
struct client_held {
	void *obj;
	u64 stamp;
	enum client_cache_id id;
};

/*
 * One worker per possible CPU; it has a thread while its CPU is online. Every
 * field but @task and @idle belongs to the thread while it runs.
 */
struct client_worker {
	struct task_struct *task;
	/* Paused and holding nothing; read by client_wait_idle(). */
	bool idle;
	unsigned int cpu;
	unsigned int rounds;
	int node;
	u64 seq;
	u64 ops;
	u64 errors;
	u64 atomic_failures;
	unsigned int held_next;
	struct client_held held[CLIENT_HELD];
	void *bulk[CLIENT_BULK];
	u64 bulk_stamp[CLIENT_BULK];
};

static struct client_worker *client_workers;
static int client_hp_state;

/* Totals of the threads that have exited. */
static atomic64_t client_ops = ATOMIC64_INIT(0);
static atomic64_t client_errors = ATOMIC64_INIT(0);
static atomic64_t client_atomic_failures = ATOMIC64_INIT(0);
static atomic_long_t client_ctor_calls = ATOMIC_LONG_INIT(0);

/* Serialises pausing against module init and exit. */
static DEFINE_MUTEX(client_lock);
/* The workers' hotplug state is set up; under client_lock. */
static bool client_running;
static bool client_pause;

/* Objects are filled with a 64-bit stamp, then a byte derived from it. */
static u8 client_byte(u64 stamp)
{
	return (u8)((stamp * 0x9e3779b97f4a7c15ULL) >> 56);
}

static void client_fill(void *obj, unsigned int size, u64 stamp)
{
	*(u64 *)obj = stamp;
	memset((u8 *)obj + sizeof(u64), client_byte(stamp),
	       size - sizeof(u64));
}

static bool client_intact(const void *obj, unsigned int size, u64 stamp)
{
	return *(const u64 *)obj == stamp &&
	       !memchr_inv((const u8 *)obj + sizeof(u64), client_byte(stamp),
			   size - sizeof(u64));
}

static void client_ctor(void *obj)
{
	client_fill(obj, CLIENT_CTOR_SIZE, CLIENT_CTOR_STAMP);
	atomic_long_inc(&client_ctor_calls);
}

/*
 * A section like a hard interrupt handler's: interrupts off. PREEMPT_RT allows
 * no allocation with interrupts off (as for kmalloc()): there, a section with
 * softirqs off instead.
 */
static unsigned long client_atomic_enter(void)
{
	unsigned long flags = 0;

	if (IS_ENABLED(CONFIG_PREEMPT_RT))
		local_bh_disable();
	else
		local_irq_save(flags);
	return flags;
}

static void client_atomic_exit(unsigned long flags)
{
	if (IS_ENABLED(CONFIG_PREEMPT_RT))
		local_bh_enable();
	else
		local_irq_restore(flags);
}

/* --- Checks run at load ------------------------------------------------- */

/* create(@name, @size, @args) must fail with @want. */
static int __init create_fails(const char *name, unsigned int size,
			       const struct rslab_cache_args *args, long want,
			       const char *what)
{
	struct rslab_cache *c = rslab_cache_create(name, size, args);

	if (IS_ERR(c) && PTR_ERR(c) == want)
		return 0;
	if (IS_ERR(c)) {
		pr_err("create with %s: error %ld, expected %ld\n",
		       what, PTR_ERR(c), want);
	} else if (!c) {
		pr_err("create with %s: NULL, expected error %ld\n",
		       what, want);
	} else {
		pr_err("create with %s: succeeded, expected error %ld\n",
		       what, want);
		rslab_cache_destroy(c);
	}
	return -EPROTO;
}

/* create(@name, @size, @args) must work and give aligned, usable objects. */
static int __init create_works(const char *name, unsigned int size,
			       const struct rslab_cache_args *args,
			       const char *what)
{
	unsigned int align = args && args->align ? args->align : sizeof(void *);
	struct rslab_cache *c = rslab_cache_create(name, size, args);
	int ret = 0;
	void *obj;

	if (IS_ERR_OR_NULL(c)) {
		pr_err("create with %s: error %ld\n", what, PTR_ERR(c));
		return -EPROTO;
	}
	obj = rslab_alloc(c, GFP_KERNEL);
	if (!obj || !IS_ALIGNED((unsigned long)obj, align)) {
		pr_err("cache with %s: object %p, expected one aligned to %u\n",
		       what, obj, align);
		ret = -EPROTO;
	} else {
		memset(obj, 0xa5, size);
	}
	rslab_free(c, obj);
	if (rslab_cache_destroy(c)) {
		pr_err("cache with %s: destroy of an idle cache failed\n",
		       what);
		ret = -EPROTO;
	}
	return ret;
}

static int __init check_create_args(void)
{
	static const char name32[] = "abcdefghijklmnopqrstuvwxyz012345";
	static const char name33[] = "abcdefghijklmnopqrstuvwxyz0123456";
	struct rslab_cache_args args = { };
	int ret = 0;

	BUILD_BUG_ON(sizeof(name32) != CLIENT_MAX_NAME + 1);
	ret |= create_fails(CLIENT_TMP, 0, NULL, -EINVAL, "size 0");
	ret |= create_fails(CLIENT_TMP, CLIENT_MAX_SIZE + 1, NULL, -EINVAL,
			    "size 16385");
	args.align = 3;
	ret |= create_fails(CLIENT_TMP, 64, &args, -EINVAL, "align 3");
	args.align = 2 * PAGE_SIZE;
	ret |= create_fails(CLIENT_TMP, 64, &args, -EINVAL,
			    "align 2 * PAGE_SIZE");
	args.align = 0;
	args.flags = 1U << 31;
	ret |= create_fails(CLIENT_TMP, 64, &args, -EINVAL, "unknown flag");
	ret |= create_fails("a b", 64, NULL, -EINVAL, "name \"a b\"");
	ret |= create_fails("", 64, NULL, -EINVAL, "empty name");
	ret |= create_fails("client/tmp", 64, NULL, -EINVAL, "name with '/'");
	ret |= create_fails(name33, 64, NULL, -EINVAL, "33-character name");

	/* The limits themselves are valid. */
	ret |= create_works(CLIENT_TMP, 1, NULL, "size 1");
	ret |= create_works(CLIENT_TMP, CLIENT_MAX_SIZE, NULL, "size 16384");
	args.flags = 0;
	args.align = PAGE_SIZE;
	ret |= create_works(CLIENT_TMP, 64, &args, "align PAGE_SIZE");
	args.align = 64;
	ret |= create_works(CLIENT_TMP, 100, &args, "align 64");
	ret |= create_works(name32, 64, NULL, "32-character name");
	return ret ? -EPROTO : 0;
}

/* Creates the workers' caches; a second cache of a name in use: -EEXIST. */
static int __init check_create_unique(void)
{
	int i;

	for (i = 0; i < CLIENT_NR_CACHES; i++) {
		struct client_cache *cc = &client_caches[i];
		struct rslab_cache *c;

		c = rslab_cache_create(cc->name, cc->size, &cc->args);
		if (IS_ERR_OR_NULL(c)) {
			pr_err("create %s: error %ld\n", cc->name, PTR_ERR(c));
			return c ? PTR_ERR(c) : -EPROTO;
		}
		cc->cache = c;
	}
	return create_fails(client_caches[CLIENT_MAIN].name, 64, NULL, -EEXIST,
			    "the name of a live cache");
}

static struct rslab_cache *__init tmp_create(unsigned int size,
					      const struct rslab_cache_args *args)
{
	struct rslab_cache *c = rslab_cache_create(CLIENT_TMP, size, args);

	if (IS_ERR_OR_NULL(c)) {
		pr_err("create %s: error %ld\n", CLIENT_TMP, PTR_ERR(c));
		return NULL;
	}
	return c;
}

/* Destroys the temporary cache; every object must have been freed. */
static int __init tmp_destroy(struct rslab_cache *c, int ret)
{
	int err = rslab_cache_destroy(c);

	if (err) {
		pr_err("destroy %s after every object was freed: %d\n",
		       CLIENT_TMP, err);
		return -EPROTO;
	}
	return ret;
}

static int __init check_alloc_free(void)
{
	struct rslab_cache *c = tmp_create(200, NULL);
	void *obj;

	if (!c)
		return -EPROTO;
	obj = rslab_alloc(c, GFP_KERNEL);
	if (!obj) {
		pr_err("rslab_alloc(GFP_KERNEL): NULL\n");
		return tmp_destroy(c, -EPROTO);
	}
	if (!IS_ALIGNED((unsigned long)obj, sizeof(void *))) {
		pr_err("rslab_alloc: object %p not word-aligned\n", obj);
		rslab_free(c, obj);
		return tmp_destroy(c, -EPROTO);
	}
	client_fill(obj, 200, 1);
	if (!client_intact(obj, 200, 1)) {
		pr_err("rslab_alloc: object not writable\n");
		rslab_free(c, obj);
		return tmp_destroy(c, -EPROTO);
	}
	rslab_free(c, obj);
	rslab_free(c, NULL);
	/* Destroy succeeds only if the free did free, and NULL left nothing. */
	return tmp_destroy(c, 0);
}

/* One object from @nid: must exist, and be on @nid if it has normal memory. */
static int __init alloc_node_one(struct rslab_cache *c, int nid)
{
	void *obj = rslab_alloc_node(c, GFP_KERNEL, nid);
	int ret = 0;
	int got;

	if (!obj) {
		pr_err("rslab_alloc_node(node %d): NULL\n", nid);
		return -EPROTO;
	}
	client_fill(obj, 200, nid);
	got = page_to_nid(virt_to_page(obj));
	if (nid != NUMA_NO_NODE && node_state(nid, N_NORMAL_MEMORY) &&
	    got != nid) {
		pr_err("rslab_alloc_node(node %d): object on node %d\n",
		       nid, got);
		ret = -EPROTO;
	}
	if (!client_intact(obj, 200, nid))
		ret = -EPROTO;
	rslab_free(c, obj);
	return ret;
}

/*
 * NUMA_NO_NODE gives an object anywhere; a node with normal memory gives one
 * on that node; any other possible node (memory-less, or only ZONE_MOVABLE
 * memory, which no slab allocator uses) gives one elsewhere; an impossible
 * node gives NULL.
 */
static int __init check_alloc_node(void)
{
	struct rslab_cache *c = tmp_create(200, NULL);
	int ret = 0;
	void *obj;
	int nid;

	if (!c)
		return -EPROTO;
	ret |= alloc_node_one(c, NUMA_NO_NODE);
	for_each_node(nid)
		ret |= alloc_node_one(c, nid);
	obj = rslab_alloc_node(c, GFP_KERNEL, nr_node_ids);
	if (obj) {
		pr_err("rslab_alloc_node(node %u, not possible): an object\n",
		       nr_node_ids);
		rslab_free(c, obj);
		ret = -EPROTO;
	}
	return tmp_destroy(c, ret ? -EPROTO : 0);
}

/*
 * alloc_bulk gives @nr distinct objects; free_bulk frees them, skipping NULL
 * entries, also when they come from several nodes.
 */
static int __init check_bulk(void)
{
	struct rslab_cache *c;
	void **objs;
	int ret = 0;
	int i, got;
	int nid;

	objs = kcalloc(CLIENT_CHECK_BULK, sizeof(*objs), GFP_KERNEL);
	if (!objs)
		return -ENOMEM;
	c = tmp_create(200, NULL);
	if (!c) {
		kfree(objs);
		return -EPROTO;
	}
	got = rslab_alloc_bulk(c, GFP_KERNEL, CLIENT_CHECK_BULK, objs);
	if (got != CLIENT_CHECK_BULK) {
		pr_err("rslab_alloc_bulk(%d): returned %d\n",
		       CLIENT_CHECK_BULK, got);
		if (got > 0 && got < CLIENT_CHECK_BULK)
			rslab_free_bulk(c, got, objs);
		kfree(objs);
		return tmp_destroy(c, -EPROTO);
	}
	for (i = 0; i < CLIENT_CHECK_BULK; i++) {
		if (!objs[i]) {
			pr_err("rslab_alloc_bulk: entry %d is NULL\n", i);
			ret = -EPROTO;
		} else {
			client_fill(objs[i], 200, i);
		}
	}
	/* Distinct and disjoint: no object overwrote another's stamp. */
	for (i = 0; i < CLIENT_CHECK_BULK; i++) {
		if (objs[i] && !client_intact(objs[i], 200, i)) {
			pr_err("rslab_alloc_bulk: object %d overlaps another\n",
			       i);
			ret = -EPROTO;
		}
	}
	rslab_free(c, objs[7]);
	objs[7] = NULL;
	rslab_free_bulk(c, CLIENT_CHECK_BULK, objs);

	/* Objects of every node with memory, freed in one call. */
	memset(objs, 0, CLIENT_CHECK_BULK * sizeof(*objs));
	i = 0;
	while (i < 64) {
		for_each_node_state(nid, N_MEMORY) {
			objs[i] = rslab_alloc_node(c, GFP_KERNEL, nid);
			if (!objs[i]) {
				pr_err("rslab_alloc_node(node %d): NULL\n",
				       nid);
				ret = -EPROTO;
			}
			i++;
		}
	}
	rslab_free_bulk(c, i, objs);
	kfree(objs);
	/* Destroy succeeds only if free_bulk freed every object. */
	return tmp_destroy(c, ret);
}

/*
 * GFP_ATOMIC and GFP_NOWAIT must work, without sleeping, with interrupts off
 * (softirqs off on PREEMPT_RT).
 */
static int __init check_atomic(void)
{
	struct rslab_cache *c = client_caches[CLIENT_MAIN].cache;
	void *objs[8] = { };
	unsigned long flags;
	void *a, *b;
	int i, got;
	int ret = 0;

	flags = client_atomic_enter();
	a = rslab_alloc(c, GFP_ATOMIC);
	b = rslab_alloc(c, GFP_NOWAIT);
	got = rslab_alloc_bulk(c, GFP_ATOMIC, ARRAY_SIZE(objs), objs);
	if (a)
		client_fill(a, 200, 1);
	if (b)
		client_fill(b, 200, 2);
	if ((a && !client_intact(a, 200, 1)) || (b && !client_intact(b, 200, 2)))
		ret = -EPROTO;
	rslab_free(c, a);
	rslab_free(c, b);
	if (got == ARRAY_SIZE(objs))
		rslab_free_bulk(c, got, objs);
	client_atomic_exit(flags);

	if (ret)
		pr_err("atomic section: an object was not writable\n");

	if (!a || !b || got != ARRAY_SIZE(objs)) {
		pr_err("atomic section: GFP_ATOMIC %p, GFP_NOWAIT %p, bulk GFP_ATOMIC %d of %zu\n",
		       a, b, got, ARRAY_SIZE(objs));
		for (i = 0; i < got && got < ARRAY_SIZE(objs); i++)
			rslab_free(c, objs[i]);
		ret = -EPROTO;
	}
	return ret;
}

/* Destroy with an object allocated: -EBUSY, and nothing changes. */
static int __init check_busy_destroy(void)
{
	struct rslab_cache *c = tmp_create(200, NULL);
	int ret = 0;
	void *obj, *other;
	int err;

	if (!c)
		return -EPROTO;
	obj = rslab_alloc(c, GFP_KERNEL);
	if (!obj) {
		pr_err("rslab_alloc(GFP_KERNEL): NULL\n");
		return tmp_destroy(c, -EPROTO);
	}
	client_fill(obj, 200, 1);
	err = rslab_cache_destroy(c);
	if (!err) {
		/* The cache is gone, and @obj with it: touch neither. */
		pr_err("destroy with an object allocated: 0, expected -EBUSY\n");
		return -EPROTO;
	}
	if (err != -EBUSY) {
		pr_err("destroy with an object allocated: %d, expected -EBUSY\n",
		       err);
		ret = -EPROTO;
	}
	if (!client_intact(obj, 200, 1)) {
		pr_err("the object changed when destroy was refused\n");
		ret = -EPROTO;
	}
	/* The cache still works. */
	other = rslab_alloc(c, GFP_KERNEL);
	if (!other) {
		pr_err("rslab_alloc after a refused destroy: NULL\n");
		ret = -EPROTO;
	} else {
		client_fill(other, 200, 2);
		if (!client_intact(other, 200, 2) || !client_intact(obj, 200, 1))
			ret = -EPROTO;
		rslab_free(c, other);
	}
	rslab_free(c, obj);
	return tmp_destroy(c, ret);
}

/* Every object of a ctor cache is constructed when it is first handed out. */
static int __init ctor_objects(struct rslab_cache *c, const char *what)
{
	long calls = atomic_long_read(&client_ctor_calls);
	void *objs[64] = { };
	int ret = 0;
	int round, i;

	for (round = 0; round < 2; round++) {
		for (i = 0; i < ARRAY_SIZE(objs); i++) {
			objs[i] = rslab_alloc(c, GFP_KERNEL);
			if (!objs[i]) {
				pr_err("%s: rslab_alloc: NULL\n", what);
				ret = -EPROTO;
			} else if (!client_intact(objs[i], CLIENT_CTOR_SIZE,
						  CLIENT_CTOR_STAMP)) {
				pr_err("%s: object %d of round %d not constructed\n",
				       what, i, round);
				ret = -EPROTO;
			}
		}
		/* Handed back in their constructed state, as the API asks. */
		for (i = 0; i < ARRAY_SIZE(objs); i++)
			rslab_free(c, objs[i]);
	}
	if (atomic_long_read(&client_ctor_calls) == calls) {
		pr_err("%s: the constructor was never called\n", what);
		ret = -EPROTO;
	}
	return ret;
}

static int __init check_ctor(void)
{
	struct rslab_cache_args args = {
		.flags = RSLAB_DEBUG,
		.ctor = client_ctor,
	};
	struct rslab_cache *c;
	int ret;

	ret = ctor_objects(client_caches[CLIENT_CTOR].cache,
			   client_caches[CLIENT_CTOR].name);
	/* A debug cache with a constructor is not poisoned. */
	c = tmp_create(CLIENT_CTOR_SIZE, &args);
	if (!c)
		return -EPROTO;
	ret |= ctor_objects(c, "debug cache with a constructor");
	return tmp_destroy(c, ret ? -EPROTO : 0);
}

static int __init check_shrink(void)
{
	int i, err;

	for (i = 0; i < CLIENT_NR_CACHES; i++) {
		err = rslab_cache_shrink(client_caches[i].cache);
		if (err) {
			pr_err("shrink %s: %d\n", client_caches[i].name, err);
			return -EPROTO;
		}
	}
	return 0;
}

struct client_check {
	const char *what;
	int (*fn)(void);
};

static const struct client_check client_checks[] __initconst = {
	{ "create: bad size, alignment, flag or name give -EINVAL",
	  check_create_args },
	{ "create: a name in use gives -EEXIST", check_create_unique },
	{ "alloc/free: a writable object; free of NULL does nothing",
	  check_alloc_free },
	{ "alloc_node: NUMA_NO_NODE, every node, an impossible node",
	  check_alloc_node },
	{ "alloc_bulk/free_bulk: nr objects, freed from any node",
	  check_bulk },
	{ "GFP_ATOMIC and GFP_NOWAIT with interrupts off", check_atomic },
	{ "destroy of a busy cache: -EBUSY, the cache stays usable",
	  check_busy_destroy },
	{ "constructor: objects constructed when first handed out",
	  check_ctor },
	{ "shrink", check_shrink },
};

/* --- Workers ------------------------------------------------------------ */

static u64 client_stamp(struct client_worker *w)
{
	w->seq++;
	return ((u64)(w->cpu + 1) << 48) | (w->seq & GENMASK_ULL(47, 0));
}

static void client_error(struct client_worker *w, enum client_cache_id id,
			 const char *what)
{
	w->errors++;
	pr_err_ratelimited("cpu %u, %s: %s\n", w->cpu, client_caches[id].name,
			   what);
}

/* A new object: a ctor cache's must be constructed. Fills it with @stamp. */
static void client_take(struct client_worker *w, enum client_cache_id id,
			void *obj, u64 stamp)
{
	const struct client_cache *cc = &client_caches[id];

	if (cc->args.ctor && !client_intact(obj, cc->size, CLIENT_CTOR_STAMP))
		client_error(w, id, "object handed out not constructed");
	client_fill(obj, cc->size, stamp);
}

/* Checks @obj still holds @stamp; a ctor cache's is constructed again. */
static void client_check(struct client_worker *w, enum client_cache_id id,
			 void *obj, u64 stamp)
{
	const struct client_cache *cc = &client_caches[id];

	if (!client_intact(obj, cc->size, stamp))
		client_error(w, id, "object overwritten while allocated");
	if (cc->args.ctor)
		client_fill(obj, cc->size, CLIENT_CTOR_STAMP);
}

static void client_alloc_failed(struct client_worker *w,
				enum client_cache_id id, gfp_t gfp,
				const char *what)
{
	if (gfp == GFP_KERNEL)
		client_error(w, id, what);
	else
		w->atomic_failures++;
}

static void client_single(struct client_worker *w, enum client_cache_id id,
			  gfp_t gfp)
{
	struct rslab_cache *c = client_caches[id].cache;
	u64 stamp = client_stamp(w);
	void *obj = rslab_alloc(c, gfp);

	if (!obj) {
		client_alloc_failed(w, id, gfp, "rslab_alloc failed");
		return;
	}
	client_take(w, id, obj, stamp);
	client_check(w, id, obj, stamp);
	rslab_free(c, obj);
	w->ops++;
}

static void client_bulk(struct client_worker *w, enum client_cache_id id,
			gfp_t gfp, unsigned int nr)
{
	struct rslab_cache *c = client_caches[id].cache;
	unsigned int i;
	int got;

	got = rslab_alloc_bulk(c, gfp, nr, w->bulk);
	if (got != nr) {
		if (got) {
			/* Neither nr nor 0: the contract is broken. */
			client_error(w, id, "rslab_alloc_bulk: partial result");
			if (got > 0 && got < nr)
				rslab_free_bulk(c, got, w->bulk);
			return;
		}
		client_alloc_failed(w, id, gfp, "rslab_alloc_bulk failed");
		return;
	}
	for (i = 0; i < nr; i++) {
		w->bulk_stamp[i] = client_stamp(w);
		client_take(w, id, w->bulk[i], w->bulk_stamp[i]);
	}
	for (i = 0; i < nr; i++)
		client_check(w, id, w->bulk[i], w->bulk_stamp[i]);
	rslab_free_bulk(c, nr, w->bulk);
	w->ops += nr;
}

static void client_unhold(struct client_worker *w, struct client_held *h)
{
	if (!h->obj)
		return;
	client_check(w, h->id, h->obj, h->stamp);
	rslab_free(client_caches[h->id].cache, h->obj);
	h->obj = NULL;
	w->ops++;
}

/*
 * Replaces the oldest held object with one of @id from a node: it is checked
 * CLIENT_HELD rounds later, and freed from this CPU whatever its node. Every
 * cache in turn gets one from a node, then the next possible node's turn comes
 * (with or without memory), so every cache meets every node.
 */
static void client_hold(struct client_worker *w, enum client_cache_id id)
{
	struct client_held *h = &w->held[w->held_next++ % CLIENT_HELD];

	client_unhold(w, h);
	if (id == 0)
		w->node = next_node_in(w->node, node_possible_map);
	h->obj = rslab_alloc_node(client_caches[id].cache, GFP_KERNEL, w->node);
	if (!h->obj) {
		client_error(w, id, "rslab_alloc_node failed");
		return;
	}
	h->id = id;
	h->stamp = client_stamp(w);
	client_take(w, id, h->obj, h->stamp);
}

static void client_release(struct client_worker *w)
{
	int i;

	for (i = 0; i < CLIENT_HELD; i++)
		client_unhold(w, &w->held[i]);
}

static void client_round(struct client_worker *w)
{
	enum client_cache_id id = w->rounds % CLIENT_NR_CACHES;
	unsigned int nr = 1 + w->rounds % CLIENT_BULK;
	unsigned long flags;

	client_single(w, id, GFP_KERNEL);
	/* As from a hard interrupt handler. */
	flags = client_atomic_enter();
	client_single(w, id, GFP_ATOMIC);
	client_atomic_exit(flags);

	client_bulk(w, id, GFP_KERNEL, nr);
	/* As from a softirq. */
	local_bh_disable();
	client_bulk(w, id, GFP_ATOMIC, nr);
	local_bh_enable();

	client_hold(w, id);
}

static int client_thread(void *data)
{
	struct client_worker *w = data;

	while (!kthread_should_stop()) {
		if (READ_ONCE(client_pause)) {
			client_release(w);
			/* The frees above come before idle, for client_wait_idle(). */
			smp_store_release(&w->idle, true);
			schedule_timeout_interruptible(CLIENT_PAUSE_POLL);
			continue;
		}
		WRITE_ONCE(w->idle, false);
		/* Pairs with client_pause_set(): idle cleared, then pause read. */
		smp_mb();
		if (READ_ONCE(client_pause))
			continue;
		client_round(w);
		if (++w->rounds % 8 == 0)
			usleep_range(1000, 2000);
		else
			cond_resched();
	}
	client_release(w);
	atomic64_add(w->ops, &client_ops);
	atomic64_add(w->errors, &client_errors);
	atomic64_add(w->atomic_failures, &client_atomic_failures);
	w->ops = 0;
	w->errors = 0;
	w->atomic_failures = 0;
	return 0;
}

/* CPUHP_AP_ONLINE_DYN startup: runs on @cpu as it comes online. */
static int client_cpu_online(unsigned int cpu)
{
	struct client_worker *w = &client_workers[cpu];
	struct task_struct *t;

	w->cpu = cpu;
	w->idle = false;
	w->node = cpu_to_node(cpu);
	t = kthread_create_on_cpu(client_thread, w, cpu, "rslab_client/%u");
	if (IS_ERR(t)) {
		pr_err("no worker for CPU %u: %ld\n", cpu, PTR_ERR(t));
		return PTR_ERR(t);
	}
	WRITE_ONCE(w->task, t);
	wake_up_process(t);
	return 0;
}

/*
 * CPUHP_AP_ONLINE_DYN teardown: runs on @cpu before it goes offline, and for
 * every online CPU at cpuhp_remove_state(). The thread frees what it holds.
 */
static int client_cpu_offline(unsigned int cpu)
{
	struct client_worker *w = &client_workers[cpu];

	if (w->task) {
		kthread_stop(w->task);
		WRITE_ONCE(w->task, NULL);
	}
	return 0;
}

/* Waits until every running worker is paused and holds nothing. */
static int client_wait_idle(void)
{
	unsigned long deadline = jiffies + CLIENT_PAUSE_TIMEOUT;
	unsigned int cpu;
	int ret = 0;

	/* No CPU comes or goes meanwhile, so no worker starts or stops. */
	cpus_read_lock();
	for_each_online_cpu(cpu) {
		struct client_worker *w = &client_workers[cpu];

		/* Pairs with client_thread(): what it freed, then idle. */
		while (READ_ONCE(w->task) && !smp_load_acquire(&w->idle)) {
			if (time_after(jiffies, deadline)) {
				pr_err("pause: the worker of CPU %u did not stop\n",
				       cpu);
				ret = -ETIMEDOUT;
				goto out;
			}
			msleep(20);
		}
	}
out:
	cpus_read_unlock();
	return ret;
}

static int client_pause_set(const char *val, const struct kernel_param *kp)
{
	bool pause;
	int ret;

	ret = kstrtobool(val, &pause);
	if (ret)
		return ret;
	mutex_lock(&client_lock);
	WRITE_ONCE(client_pause, pause);
	if (pause && client_running) {
		/* Pairs with client_thread(): pause set, then idle read. */
		smp_mb();
		ret = client_wait_idle();
	}
	mutex_unlock(&client_lock);
	return ret;
}

static const struct kernel_param_ops client_pause_ops = {
	.set = client_pause_set,
	.get = param_get_bool,
};
module_param_cb(pause, &client_pause_ops, &client_pause, 0644);
MODULE_PARM_DESC(pause,
		 "Pause the workers (writing 1 returns once all of them hold nothing and wait)");

/* --- Module ------------------------------------------------------------- */

/* Shrinks and destroys every cache; returns how many failed. */
static unsigned int client_destroy_caches(void)
{
	unsigned int failed = 0;
	int i, err;

	for (i = 0; i < CLIENT_NR_CACHES; i++) {
		struct client_cache *cc = &client_caches[i];

		if (!cc->cache)
			continue;
		err = rslab_cache_shrink(cc->cache);
		if (err) {
			pr_err("shrink %s: %d\n", cc->name, err);
			failed++;
		}
		err = rslab_cache_destroy(cc->cache);
		if (err) {
			/* rslab reports it again when it is unloaded. */
			pr_err("destroy %s: %d (the cache is leaked)\n",
			       cc->name, err);
			failed++;
		}
		cc->cache = NULL;
	}
	return failed;
}

static int __init client_init(void)
{
	unsigned int i;
	int ret;

	for (i = 0; i < ARRAY_SIZE(client_checks); i++) {
		ret = client_checks[i].fn();
		if (ret) {
			pr_err("check failed: %s\n", client_checks[i].what);
			goto err_caches;
		}
	}
	client_workers = kcalloc(nr_cpu_ids, sizeof(*client_workers),
				 GFP_KERNEL);
	if (!client_workers) {
		ret = -ENOMEM;
		goto err_caches;
	}
	ret = cpuhp_setup_state(CPUHP_AP_ONLINE_DYN, "rslab_client:online",
				client_cpu_online, client_cpu_offline);
	if (ret < 0) {
		pr_err("cpuhp_setup_state: %d\n", ret);
		goto err_workers;
	}
	client_hp_state = ret;
	mutex_lock(&client_lock);
	client_running = true;
	mutex_unlock(&client_lock);
	pr_info("%zu API checks passed; workers on %u online CPUs\n",
		ARRAY_SIZE(client_checks), num_online_cpus());
	return 0;

err_workers:
	kfree(client_workers);
err_caches:
	client_destroy_caches();
	return ret;
}

static void __exit client_exit(void)
{
	s64 errors, atomic_failures;

	mutex_lock(&client_lock);
	client_running = false;
	mutex_unlock(&client_lock);
	/* Stops the worker of every online CPU; the others stopped offline. */
	cpuhp_remove_state(client_hp_state);
	kfree(client_workers);

	errors = atomic64_read(&client_errors) + client_destroy_caches();
	atomic_failures = atomic64_read(&client_atomic_failures);
	if (atomic_failures)
		pr_notice("%lld GFP_ATOMIC allocations failed (allowed)\n",
			  atomic_failures);
	pr_info("done: ops=%lld errors=%lld\n",
		atomic64_read(&client_ops), errors);
}

module_init(client_init);
module_exit(client_exit);

MODULE_DESCRIPTION("A client of rslab.ko: API checks at load, then workers on every CPU");
MODULE_AUTHOR("The rslab authors");
MODULE_LICENSE("GPL");
