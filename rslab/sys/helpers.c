// SPDX-License-Identifier: GPL-2.0
/*
 * The kernel's inline functions and macros that rslab/sys/ reaches when it has no
 * arch-specific Rust of its own for them (every configuration but x86-64, and x86-64 built
 * with RSLAB_GENERIC=1): out-of-line copies, as rust/helpers/ provides them to the kernel
 * crate. Nothing here is exported; each module that needs them links its own copy.
 */

#include <linux/local_lock.h>
#include <linux/mm.h>
#include <linux/percpu.h>

bool rslab_helper_local_trylock(local_trylock_t __percpu *lock);
void rslab_helper_local_lock(local_trylock_t __percpu *lock);
void rslab_helper_local_unlock(local_trylock_t __percpu *lock);
void rslab_helper_local_trylock_init(local_trylock_t *lock);
void *rslab_helper_page_address(struct page *page);
struct page *rslab_helper_virt_to_page(const void *addr);
bool rslab_helper_virt_addr_valid(const void *addr);
void *rslab_helper_this_cpu_ptr(void __percpu *p);
void *rslab_helper_per_cpu_ptr(void __percpu *p, unsigned int cpu);

bool rslab_helper_local_trylock(local_trylock_t __percpu *lock)
{
	return local_trylock(lock);
}

void rslab_helper_local_lock(local_trylock_t __percpu *lock)
{
	local_lock(lock);
}

void rslab_helper_local_unlock(local_trylock_t __percpu *lock)
{
	local_unlock(lock);
}

/* One lockdep class for every CPU slot's lock, named after it. */
void rslab_helper_local_trylock_init(local_trylock_t *lock)
{
	local_trylock_t *rslab_cpu_slot_lock = lock;

	local_trylock_init(rslab_cpu_slot_lock);
}

void *rslab_helper_page_address(struct page *page)
{
	return page_address(page);
}

struct page *rslab_helper_virt_to_page(const void *addr)
{
	return virt_to_page(addr);
}

bool rslab_helper_virt_addr_valid(const void *addr)
{
	return virt_addr_valid(addr);
}

void *rslab_helper_this_cpu_ptr(void __percpu *p)
{
	return raw_cpu_ptr(p);
}

void *rslab_helper_per_cpu_ptr(void __percpu *p, unsigned int cpu)
{
	return per_cpu_ptr(p, cpu);
}
