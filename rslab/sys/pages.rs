// SPDX-License-Identifier: GPL-2.0

//! Slabs from the page allocator: naturally aligned blocks of `PAGE_SIZE << order` bytes on a
//! chosen node, and the direct-map range check debug mode uses before trusting a pointer.
//!
//! The conversions between a `struct page` and its direct-map address (`page_address()`,
//! `virt_to_page()`, `virt_addr_valid()`) are inline arithmetic on x86-64 with
//! `SPARSEMEM_VMEMMAP`, as C's macros compile to there; every other configuration, and any build
//! with `--cfg rslab_generic`, calls the kernel's own macros through `helpers.c`.

use core::ptr::NonNull;
use kernel::bindings;

/// Allocation flags (`gfp_t`) for rslab's allocation paths.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Gfp(u32);

impl Gfp {
    /// May sleep and reclaim.
    pub(crate) const KERNEL: Gfp = Gfp(bindings::GFP_KERNEL);
    /// `GFP_ATOMIC`.
    #[cfg_attr(not(CONFIG_KUNIT = "y"), allow(dead_code))]
    pub(crate) const ATOMIC: Gfp = Gfp(bindings::GFP_ATOMIC);

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

#[cfg(all(CONFIG_X86_64, CONFIG_SPARSEMEM_VMEMMAP, not(rslab_generic)))]
mod arch {
    use kernel::bindings;

    /// The bases of the `struct page` array and of the direct map.
    fn bases() -> (usize, usize) {
        // SAFETY: both are set during early boot (KASLR) and never change afterwards.
        unsafe { (bindings::vmemmap_base, bindings::page_offset_base) }
    }

    /// `page_address()`: the direct-map address of `page` (no highmem on x86-64).
    pub(super) fn page_address(page: *mut bindings::page) -> *mut u8 {
        let (vmemmap, direct) = bases();
        let pfn = (page as usize - vmemmap) / core::mem::size_of::<bindings::page>();
        (direct + (pfn << bindings::PAGE_SHIFT)) as *mut u8
    }

    /// `virt_to_page()` for a direct-map address.
    pub(super) fn virt_to_page(addr: usize) -> *mut bindings::page {
        let (vmemmap, direct) = bases();
        let pfn = (addr - direct) >> bindings::PAGE_SHIFT;
        (vmemmap + pfn * core::mem::size_of::<bindings::page>()) as *mut bindings::page
    }

    /// `page_to_nid()`: the node field of the page's flags, `NODES_WIDTH` bits right below the
    /// section field at the top of the word (`NODES_PGSHIFT` in `include/linux/mmzone.h`).
    /// A configuration that keeps the node out of the flags (`NODES_WIDTH == 0`,
    /// `NODE_NOT_IN_PAGE_FLAGS`) asks the kernel's helper.
    ///
    /// # Safety
    ///
    /// `page` must be the valid `struct page` of online memory (a page the caller owns, or one
    /// `virt_addr_valid()` vouches for).
    #[inline(always)]
    pub(super) unsafe fn page_nid(page: *mut bindings::page) -> u32 {
        const SHIFT: u32 = usize::BITS - bindings::SECTIONS_WIDTH - bindings::NODES_WIDTH;
        if bindings::NODES_WIDTH == 0 {
            // SAFETY: `page` is a valid `struct page` (contract); the helper reads its node.
            return unsafe { bindings::page_to_nid(page) } as u32;
        }
        // SAFETY: `page` is a valid `struct page` (contract). The node bits of its flags are set
        // when the page is initialised and stay while the memory is online.
        let flags: usize = unsafe { (&raw const (*page).flags.f).read() };
        (flags.wrapping_shr(SHIFT) & bindings::NODES_MASK as usize) as u32
    }

    /// Whether `addr` lies in the direct map of RAM: between its base and `high_memory`.
    pub(super) fn in_direct_map(addr: usize) -> bool {
        // SAFETY: `page_offset_base` is set at boot; `high_memory` (end of the direct map) only
        // grows, on memory hot-add, and a stale value only makes the check stricter.
        let (base, end) = unsafe { (bindings::page_offset_base, bindings::high_memory as usize) };
        addr >= base && addr < end
    }
}

#[cfg(not(all(CONFIG_X86_64, CONFIG_SPARSEMEM_VMEMMAP, not(rslab_generic))))]
mod arch {
    use core::ffi::c_void;
    use kernel::bindings;

    // `struct page` as `void *`: its binding has an empty member that `improper_ctypes` rejects.
    unsafe extern "C" {
        fn rslab_helper_page_address(page: *mut c_void) -> *mut u8;
        fn rslab_helper_virt_to_page(addr: *const u8) -> *mut c_void;
        fn rslab_helper_virt_addr_valid(addr: *const u8) -> bool;
    }

    /// `page_address()`.
    pub(super) fn page_address(page: *mut bindings::page) -> *mut u8 {
        // SAFETY: `page` is a page the caller owns (from the page allocator, without
        // `__GFP_HIGHMEM`), so it has a direct-map address; the macro only computes it.
        unsafe { rslab_helper_page_address(page.cast()) }
    }

    /// `virt_to_page()` for a direct-map address.
    pub(super) fn virt_to_page(addr: usize) -> *mut bindings::page {
        // SAFETY: the macro only computes the address of the `struct page` from `addr`.
        unsafe { rslab_helper_virt_to_page(addr as *const u8).cast() }
    }

    /// `page_to_nid()`.
    ///
    /// # Safety
    ///
    /// `page` must be the valid `struct page` of online memory (a page the caller owns, or one
    /// `virt_addr_valid()` vouches for).
    pub(super) unsafe fn page_nid(page: *mut bindings::page) -> u32 {
        // SAFETY: `page` is a valid `struct page` (contract); the helper reads its node.
        unsafe { bindings::page_to_nid(page) as u32 }
    }

    /// `virt_addr_valid()`: whether `addr` is a direct-map address of RAM.
    pub(super) fn in_direct_map(addr: usize) -> bool {
        // SAFETY: the macro accepts any address and only computes and checks its pfn.
        unsafe { rslab_helper_virt_addr_valid(addr as *const u8) }
    }
}

/// `page_address()`: the direct-map address of `page`.
fn page_address(page: *mut bindings::page) -> *mut u8 {
    arch::page_address(page)
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

/// `virt_to_page()` for a direct-map address.
fn virt_to_page(addr: usize) -> *mut bindings::page {
    arch::virt_to_page(addr)
}

/// The fields of a `struct page` its owner may use, the page-cache member of its first union:
/// `lru` (two words), `mapping`, `__folio_index` and `private`. A slab's metadata lives in those
/// of its first page, as SLUB's `struct slab` overlays `struct page`: no memory of its own.
type OwnerWords = bindings::page__bindgen_ty_1__bindgen_ty_1;

/// Bytes of a slab's metadata in its first `struct page` (five words on 64-bit).
pub(crate) const SLAB_META_BYTES: usize = core::mem::size_of::<OwnerWords>();

/// Offset of `mapping` among them. Page walkers (compaction, memory offline, `/proc/kpageflags`,
/// `dump_page()`) read it from any page, and the page allocator refuses to free a page whose
/// `mapping` is not null ("non-NULL mapping"): slab metadata keeps it null.
pub(crate) const SLAB_META_MAPPING: usize = core::mem::offset_of!(OwnerWords, mapping);

/// Where the metadata of the slab at `base` lives: the owner's fields of its first
/// `struct page`, [`SLAB_META_BYTES`] bytes aligned to a word. Nothing else uses them while the
/// slab is ours; bit 0 of the first word marks a tail page (`PageTail()`), so it must stay clear.
///
/// # Safety
///
/// `base` must be a live block from [`alloc_slab`]: its pages are ours, and those fields of a
/// page are its owner's to use (as `lru` and `private` are for any page owner).
#[inline(always)]
pub(crate) unsafe fn slab_meta(base: usize) -> *mut u8 {
    let page = virt_to_page(base);
    // SAFETY: `page` is the `struct page` of a page we own (contract); only an address is taken.
    unsafe { (&raw mut (*page).__bindgen_anon_1.__bindgen_anon_1).cast() }
}

/// The base of the slab whose metadata [`slab_meta`] put at `meta`: `page_address()` of the page
/// around it. Pure arithmetic.
pub(crate) fn slab_meta_base(meta: *const u8) -> usize {
    page_address(meta_page(meta)) as usize
}

/// The `struct page` whose owner fields are at `meta` (the inverse of [`slab_meta`]'s address).
fn meta_page(meta: *const u8) -> *mut bindings::page {
    meta.wrapping_sub(core::mem::offset_of!(bindings::page, __bindgen_anon_1))
        .cast_mut()
        .cast()
}

/// The NUMA node of the slab whose metadata is at `meta` (`page_to_nid()` of its first page).
///
/// # Safety
///
/// `meta` must be [`slab_meta`] of a live block from [`alloc_slab`].
#[inline]
pub(crate) unsafe fn slab_meta_nid(meta: *const u8) -> u32 {
    // SAFETY: this is the `struct page` of a live block of ours (contract).
    unsafe { arch::page_nid(meta_page(meta)) }
}

/// The NUMA node of the slab at `base` (`page_to_nid()` of its first page): the node
/// [`alloc_slab`] was asked for, since it never falls back to another (`__GFP_THISNODE`).
///
/// # Safety
///
/// `base` must be a live block from [`alloc_slab`].
#[inline(always)]
pub(crate) unsafe fn slab_nid(base: usize) -> u32 {
    // SAFETY: `base` is a live block of ours (contract), so this is the `struct page` of a page
    // we own.
    unsafe { arch::page_nid(virt_to_page(base)) }
}

/// Whether `addr` lies in the kernel's direct map of RAM, where slabs live. Debug checks use
/// it before reading a slab header through a pointer they were handed.
pub(crate) fn in_direct_map(addr: usize) -> bool {
    arch::in_direct_map(addr)
}

/// The NUMA node of the page `p` lives in, as the page allocator sees it, or `None` if `p` is not
/// a direct-map address of online memory.
#[allow(
    dead_code,
    reason = "rslab_test's KUnit suite uses it; rslab.ko compiles this file too"
)]
pub(crate) fn node_of_address(p: NonNull<u8>) -> Option<u32> {
    let addr = p.as_ptr() as usize;
    if !in_direct_map(addr) {
        return None;
    }
    // SAFETY: `addr` is a direct-map address of RAM (checked above), so this is its valid
    // `struct page`, whose node field is set for as long as the memory is online.
    Some(unsafe { arch::page_nid(virt_to_page(addr)) })
}
