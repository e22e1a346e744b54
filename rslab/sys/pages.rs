// SPDX-License-Identifier: GPL-2.0

//! Slabs from the page allocator: naturally aligned blocks of `PAGE_SIZE << order` bytes on a
//! chosen node, and the direct-map range check debug mode uses before trusting a pointer.

use core::ptr::NonNull;
use kernel::bindings;

/// Allocation flags (`gfp_t`) for rslab's allocation paths.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Gfp(u32);

impl Gfp {
    /// May sleep and reclaim.
    pub(crate) const KERNEL: Gfp = Gfp(bindings::GFP_KERNEL);

    /// The raw `gfp_t`.
    pub(crate) const fn raw(self) -> u32 {
        self.0
    }

    /// Flags a caller of the exported API passed: any `gfp_t` is accepted, as by the page
    /// allocator, which is where they end up.
    pub(crate) const fn from_raw(raw: u32) -> Self {
        Self(raw)
    }

    /// Whether the object must be zeroed (`__GFP_ZERO`).
    pub(crate) const fn zeroing(self) -> bool {
        self.0 & GFP_ZERO != 0
    }
}

const GFP_ZERO: u32 = 1 << bindings::___GFP_ZERO_BIT;

const GFP_THISNODE: u32 = 1 << bindings::___GFP_THISNODE_BIT;
const GFP_NOWARN: u32 = 1 << bindings::___GFP_NOWARN_BIT;
const GFP_NORETRY: u32 = 1 << bindings::___GFP_NORETRY_BIT;

/// Allocates `PAGE_SIZE << order` bytes on node `nid` and nowhere else.
///
/// The block comes from one buddy allocation of that order, so it is aligned to its size.
/// Higher orders are tried without retrying hard (the caller falls back), as SLUB does.
pub(crate) fn alloc_slab(nid: u32, order: u32, gfp: Gfp) -> Option<NonNull<u8>> {
    // `__GFP_ZERO` asks for a zeroed object, which the caller does; not for zeroed slabs.
    let mut raw = (gfp.raw() & !GFP_ZERO) | GFP_THISNODE | GFP_NOWARN;
    if order > 0 {
        raw |= GFP_NORETRY;
    }
    // SAFETY: any node id and order are accepted; the result is null or pages we now own.
    let page = unsafe { bindings::alloc_pages_node_noprof(nid as i32, raw, order) };
    if page.is_null() {
        return None;
    }
    NonNull::new(page_address(page))
}

/// The bases of the `struct page` array and of the direct map (x86-64, `SPARSEMEM_VMEMMAP`).
fn bases() -> (usize, usize) {
    // SAFETY: both are set during early boot and never change afterwards.
    unsafe { (bindings::vmemmap_base, bindings::page_offset_base) }
}

/// `page_address()`: the direct-map address of `page`.
fn page_address(page: *mut bindings::page) -> *mut u8 {
    let (vmemmap, direct) = bases();
    let pfn = (page as usize - vmemmap) / core::mem::size_of::<bindings::page>();
    (direct + (pfn << bindings::PAGE_SHIFT)) as *mut u8
}

/// Gives a slab back to the page allocator.
///
/// # Safety
///
/// `p` must come from [`alloc_slab`] with the same `order`, and nothing may use it afterwards.
pub(crate) unsafe fn free_slab(p: NonNull<u8>, order: u32) {
    // SAFETY: per the contract, `p` is the direct-map address of a (non-compound) block of
    // this order from the page allocator.
    unsafe { bindings::free_pages(p.as_ptr() as usize, order) }
}

/// `virt_to_page()` for a direct-map address (x86-64, `SPARSEMEM_VMEMMAP`).
fn virt_to_page(addr: usize) -> *mut bindings::page {
    let (vmemmap, direct) = bases();
    let pfn = (addr - direct) >> bindings::PAGE_SHIFT;
    (vmemmap + pfn * core::mem::size_of::<bindings::page>()) as *mut bindings::page
}

/// Stores `value` in the `private` field of the first page of the slab at `base`: where an
/// off-slab header is found from an object's address.
///
/// # Safety
///
/// `base` must be a live block from [`alloc_slab`]: its pages are ours, and `private` of a
/// page is its owner's to use (`set_page_private()`).
pub(crate) unsafe fn set_slab_private(base: NonNull<u8>, value: usize) {
    let page = virt_to_page(base.as_ptr() as usize);
    // SAFETY: `page` is the `struct page` of a page we own (contract).
    unsafe { (&raw mut (*page).__bindgen_anon_1.__bindgen_anon_1.private).write(value) };
}

/// The value [`set_slab_private`] stored for the slab at `base` (`page_private()`).
///
/// # Safety
///
/// As for [`set_slab_private`].
#[inline]
pub(crate) unsafe fn slab_private(base: usize) -> usize {
    let page = virt_to_page(base);
    // SAFETY: `page` is the `struct page` of a page we own (contract).
    unsafe { (&raw const (*page).__bindgen_anon_1.__bindgen_anon_1.private).read() }
}

/// Whether `addr` lies in the kernel's direct map of RAM, where slabs live. Debug checks use
/// it before reading a slab header through a pointer they were handed.
pub(crate) fn in_direct_map(addr: usize) -> bool {
    // SAFETY: `page_offset_base` is set at boot; `high_memory` (end of the direct map) only
    // grows, on memory hot-add, and a stale value only makes the check stricter.
    let (base, end) = unsafe { (bindings::page_offset_base, bindings::high_memory as usize) };
    addr >= base && addr < end
}

/// The NUMA node of the page `p` lives in, as the page allocator sees it, or `None` if its page
/// is not online memory. Looked up through the page tables (`slow_virt_to_phys()`), so it is
/// right for any kernel address of RAM, not only the direct map.
#[allow(
    dead_code,
    reason = "rslab_test's KUnit suite uses it; rslab.ko compiles this file too"
)]
pub(crate) fn node_of_address(p: NonNull<u8>) -> Option<u32> {
    // SAFETY: `slow_virt_to_phys()` walks the kernel page tables for any address and only reads
    // them; `pfn_to_online_page()` returns null unless the pfn is online memory with a valid
    // `struct page`, whose node `page_to_nid()` reads from the page flags.
    let nid = unsafe {
        let phys = bindings::slow_virt_to_phys(p.as_ptr().cast());
        let page = bindings::pfn_to_online_page((phys >> bindings::PAGE_SHIFT) as usize);
        if page.is_null() {
            return None;
        }
        bindings::page_to_nid(page)
    };
    u32::try_from(nid).ok()
}
