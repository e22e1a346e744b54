// SPDX-License-Identifier: GPL-2.0
/*
 * The kernel's inline functions and macros that rslab/sys/ reaches when it has no
 * arch-specific Rust of its own for them (every configuration but x86-64, and x86-64 built
 * with RSLAB_GENERIC=1): out-of-line copies, as rust/helpers/ provides them to the kernel
 * crate. Nothing here is exported; each module that needs them links its own copy.
 */

#include <linux/irqflags.h>
#include <linux/mm.h>
#include <linux/percpu.h>

unsigned long rslab_helper_local_irq_save(void);
void rslab_helper_local_irq_restore(unsigned long flags);
void *rslab_helper_page_address(struct page *page);
struct page *rslab_helper_virt_to_page(const void *addr);
bool rslab_helper_virt_addr_valid(const void *addr);
void *rslab_helper_this_cpu_ptr(void __percpu *p);
void *rslab_helper_per_cpu_ptr(void __percpu *p, unsigned int cpu);

unsigned long rslab_helper_local_irq_save(void)
{
	unsigned long flags;

	local_irq_save(flags);
	return flags;
}

void rslab_helper_local_irq_restore(unsigned long flags)
{
	local_irq_restore(flags);
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
