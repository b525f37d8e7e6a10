// SPDX-License-Identifier: GPL-2.0

//! guest_memfd without a direct map: creating its folios.
//!
//! A guest_memfd created with `GUEST_MEMFD_FLAG_NO_DIRECT_MAP` has `AS_NO_DIRECT_MAP` set on its
//! mapping: none of its folios is in the kernel direct map while it is in the page cache. mm
//! enforces both ends of that rule (`filemap_add_folio()` removes a folio that is still mapped,
//! and every folio leaving the page cache is put back before it is freed), so nothing here can
//! leak an unmapped page to the page allocator. What guest_memfd must do itself is *create* such
//! folios, because the generic `__filemap_get_folio(FGP_CREAT)` inserts a folio before it is
//! cleared, and clearing writes through the direct map. So every folio is created here in this
//! order: allocate, clear, mark up to date, remove from the direct map, insert.
//!
//! Removing a folio from the direct map costs a kernel TLB flush, so folios are removed in
//! batches with one flush each, then inserted one by one: each insertion either succeeds or leaves
//! its folio restored by mm, so a batch needs no undo. Filling a range (fallocate()) goes in
//! batches of [`FILL_BATCH`] folios; a fault (from userspace or from KVM) creates the missing
//! folios of the [`FAULT_AROUND`] window around it as one batch, as long as no hole was ever
//! punched into the file (guest_memfd.c decides, under the invalidate lock), so that a page given
//! back stays given back. Neighbours are probed without waiting for their locks.
//!
//! Removing a page also costs an update of its direct map entry, which is far cheaper for pages
//! that follow each other in physical memory: one update per run, and a whole PMD-sized block
//! keeps its large entry (on x86) instead of being split into a page table. So the folios of
//! consecutive missing indices are allocated together, as order-0 folios of one block where the
//! memory policy allows (`kvm_gmem_alloc_folios()`).
//!
//! There is no per-folio state: the mapping flag says it all. The folio states are types of
//! `kernel::mm` ([`NewFolio`], [`RemovedFolio`], [`LockedFolio`]), so that no path here can hand
//! a folio that is out of the direct map to the page allocator: a removed folio that is not
//! inserted is put back when dropped. The C side is in `guest_memfd.c` (`kvm_gmem_get_folio()`
//! and fallocate call in here); the two entry points, the only code here that touches C
//! directly, are at the end of this file.

use kernel::{
    alloc::flags::GFP_KERNEL,
    bindings,
    error::code::*,
    mm::{
        direct_map::{FolioBatch, RemovedFolios},
        filemap::{AddressSpace, PageIndex},
        folio::{LockedFolio, NewFolio},
    },
    prelude::*,
    static_assert,
};

/// Folios removed from the direct map with one TLB flush when filling a range.
///
/// 1024 folios are 4 MiB with 4 KiB pages, two PMD-sized blocks: fallocate() of 256 MiB flushes
/// 64 times. The batch and its list of indices are on the heap: 24 KiB for 1024 folios.
const FILL_BATCH: usize = 1024;

/// Folios created together on a fault: the aligned window of this many indices around it.
///
/// Must not exceed [`FILL_BATCH`]: a window is created as one batch.
const FAULT_AROUND: PageIndex = 16;
static_assert!(FAULT_AROUND <= FILL_BATCH as PageIndex);

/// What the code here needs of a guest_memfd: its page cache, its size, and new folios allocated
/// by its memory policy.
///
/// # Invariants
///
/// `mapping` keeps its folios out of the direct map (`AS_NO_DIRECT_MAP`). Races with other
/// creators and with hole punching are the page cache's to resolve (an insertion fails with
/// `EEXIST`), so no lock is required.
struct Gmem<'a> {
    mapping: &'a AddressSpace,
    /// The size of the file in pages (rounded down).
    size: PageIndex,
    /// Allocates folios for consecutive indices, from the first one given, at least one and at
    /// most the number given, by the guest_memfd's memory policy.
    alloc: &'a dyn Fn(PageIndex, usize) -> Result<KVec<NewFolio>>,
}

impl<'a> Gmem<'a> {
    /// A guest_memfd of `size` pages whose page cache is `mapping`, allocating with `alloc`.
    ///
    /// Fails with `EINVAL` if `mapping` does not keep its folios out of the direct map.
    fn new(
        mapping: &'a AddressSpace,
        size: PageIndex,
        alloc: &'a dyn Fn(PageIndex, usize) -> Result<KVec<NewFolio>>,
    ) -> Result<Self> {
        if !mapping.no_direct_map() {
            return Err(EINVAL);
        }
        // INVARIANT: Checked just above.
        Ok(Self {
            mapping,
            size,
            alloc,
        })
    }

    /// New folios for `index` and the indices after it, at least one and at most `max`, cleared
    /// and up to date.
    fn new_folios(&self, index: PageIndex, max: usize) -> Result<KVec<NewFolio>> {
        let mut folios = (self.alloc)(index, max)?;
        if folios.is_empty() || folios.len() > max {
            return Err(EINVAL);
        }
        for folio in folios.iter_mut() {
            folio.zero();
        }
        Ok(folios)
    }
}

/// Returns the folio at `index`, locked, creating it out of the direct map if it does not exist.
///
/// With `fault_around`, the missing folios of the [`FAULT_AROUND`] window holding `index` are
/// created with it, with one TLB flush. Should that fail (no memory for a neighbour, or for
/// splitting the direct map around one), `index` is tried alone, so that only its own failure is
/// reported. The caller decides whether neighbours may be created (not where a hole may have
/// been punched).
fn get_folio(gmem: &Gmem<'_>, index: PageIndex, fault_around: bool) -> Result<LockedFolio> {
    let alone = (index, index.saturating_add(1));
    let mut range = if fault_around {
        fault_around_window(index, gmem.size)
    } else {
        alone
    };
    loop {
        let created = match create(gmem, range.0, range.1, Some(index)) {
            Err(_) if range != alone => {
                range = alone;
                continue;
            }
            created => created?,
        };
        match created {
            Some(folio) => return Ok(folio),
            // It existed, or someone else created it meanwhile: use that folio, unless it is
            // already gone again, then start over.
            None => match gmem.mapping.lock_folio(index) {
                Err(e) if e == ENOENT => continue,
                found => return found,
            },
        }
    }
}

/// The indices created together on a fault at `index`: the [`FAULT_AROUND`]-aligned window
/// holding `index`, cut at `size`, the file's size in pages (but never leaving `index` out).
fn fault_around_window(index: PageIndex, size: PageIndex) -> (PageIndex, PageIndex) {
    let start = index - index % FAULT_AROUND;
    let end = size.min(start.saturating_add(FAULT_AROUND));
    (start, end.max(index.saturating_add(1)))
}

/// Creates the missing folios of indices `start..end`, at most [`FILL_BATCH`] of them, with one
/// TLB flush. The folios of consecutive missing indices are allocated together.
///
/// If the folio of index `keep` is created here, it is returned locked; `None` means that it
/// existed, that someone else created it meanwhile, or that no `keep` was given. An error is the
/// first one met; folios inserted before it stay in the page cache.
fn create(
    gmem: &Gmem<'_>,
    start: PageIndex,
    end: PageIndex,
    keep: Option<PageIndex>,
) -> Result<Option<LockedFolio>> {
    let end = batch_end(start, end);
    let capacity = end - start;
    let mut batch = FolioBatch::with_capacity(capacity, GFP_KERNEL)?;
    let mut indices = KVec::with_capacity(capacity, GFP_KERNEL)?;

    // Each index is looked up once: a run of missing ones is allocated, then the folio that
    // ends it (or the end of the range) is stepped over.
    let mut index = start;
    while index < end {
        let mut missing_end = index;
        while missing_end < end && !gmem.mapping.contains_folio(missing_end) {
            missing_end += 1;
        }
        while index < missing_end {
            for folio in gmem.new_folios(index, missing_end - index)? {
                // At most one folio per index of the range: the batch has room.
                batch.push(folio).map_err(|_| EINVAL)?;
                indices.push_within_capacity(index)?;
                index += 1;
            }
        }
        index = missing_end.saturating_add(1);
    }

    // Each removed folio goes to the page cache, which puts it back if it does not keep it; one
    // not handed over would be put back when `removed` is dropped. Keep going after a failure,
    // report the first one.
    let removed = RemovedFolios::remove(batch)?;
    let mut kept = None;
    let mut result = Ok(());
    for (folio, &index) in removed.zip(indices.iter()) {
        match gmem.mapping.add_removed_folio(folio, index) {
            Ok(folio) if Some(index) == keep => kept = Some(folio),
            // Unlocked and our reference dropped; the page cache holds its own.
            Ok(_) => {}
            // Created meanwhile by someone else: nothing to do.
            Err(e) if e == EEXIST => {}
            Err(e) => {
                if result.is_ok() {
                    result = Err(e);
                }
            }
        }
    }
    match (result, kept) {
        // The folio asked for is in: a neighbour's failure is not the caller's.
        (_, Some(folio)) => Ok(Some(folio)),
        (result, None) => result.map(|()| None),
    }
}

/// The end of the batch that starts at `start`, for a range ending at `end`.
fn batch_end(start: PageIndex, end: PageIndex) -> PageIndex {
    end.min(start.saturating_add(FILL_BATCH as PageIndex))
}

/// Creates the missing folios of at most [`FILL_BATCH`] indices from `start` on, below `end`.
///
/// Returns the index after the last one handled.
fn fill(gmem: &Gmem<'_>, start: PageIndex, end: PageIndex) -> Result<PageIndex> {
    create(gmem, start, end, None)?;
    Ok(batch_end(start, end))
}

/// Returns the folio at `index` of a guest_memfd without a direct map, locked and with a
/// reference, creating it (cleared, out of the direct map) if needed; or an `ERR_PTR()`.
///
/// `size` is the file's size in pages. With `fault_around`, the missing folios of the window
/// around `index` are created too; the caller then holds the mapping's invalidate lock (shared),
/// so that no hole is punched meanwhile. A mapping without `AS_NO_DIRECT_MAP` gets `EINVAL`.
///
/// # Safety
///
/// `mapping` must be the page cache of a guest_memfd inode that the caller keeps live (through
/// the file or the VMA it comes from) for the duration of the call.
#[export]
pub unsafe extern "C" fn kvm_gmem_ndm_get_folio(
    mapping: *mut bindings::address_space,
    size: PageIndex,
    index: PageIndex,
    fault_around: bool,
) -> *mut bindings::folio {
    // SAFETY: The caller keeps the mapping live for the call, which `mapping` does not outlive.
    let mapping = unsafe { AddressSpace::from_raw(mapping) };
    let alloc = |at, max| {
        // SAFETY: The caller keeps `mapping`, the page cache of a guest_memfd inode (as
        // kvm_gmem_alloc_folios() requires of `mapping->host`), live for the call, and this
        // closure runs only within it: it is lent to the local `Gmem` alone. The function stores
        // at most `max` folios and returns their number, each an order-0 folio it just allocated,
        // with the only reference, unlocked, in no page cache or page table. Each is in the direct
        // map: the mapping's GFP_HIGHUSER finds no highmem, guest_memfd being 64-bit only.
        unsafe {
            NewFolio::from_raw_array(max, GFP_KERNEL, |raw, max| {
                bindings::kvm_gmem_alloc_folios(mapping.as_raw(), at, raw, max)
            })
        }
    };
    match Gmem::new(mapping, size, &alloc).and_then(|gmem| get_folio(&gmem, index, fault_around)) {
        Ok(folio) => folio.into_raw().as_ptr(),
        Err(e) => e.to_ptr(),
    }
}

/// Creates the missing folios of indices `start` up to `end` (exclusive) of a guest_memfd
/// without a direct map, at most [`FILL_BATCH`] of them with one TLB flush. `size` is the file's
/// size in pages, which filling does not need (only a fault's window does); `end` is at most
/// `size`.
///
/// Returns the index after the last one handled (call again from there until `end`), or a
/// negative errno.
///
/// # Safety
///
/// `mapping` must be the page cache of a guest_memfd inode that the caller keeps live (through
/// the file it comes from) for the duration of the call.
#[export]
pub unsafe extern "C" fn kvm_gmem_ndm_fill(
    mapping: *mut bindings::address_space,
    size: PageIndex,
    start: PageIndex,
    end: PageIndex,
) -> kernel::ffi::c_long {
    // SAFETY: The caller keeps the mapping live for the call, which `mapping` does not outlive.
    let mapping = unsafe { AddressSpace::from_raw(mapping) };
    let alloc = |at, max| {
        // SAFETY: The caller keeps `mapping`, the page cache of a guest_memfd inode (as
        // kvm_gmem_alloc_folios() requires of `mapping->host`), live for the call, and this
        // closure runs only within it: it is lent to the local `Gmem` alone. The function stores
        // at most `max` folios and returns their number, each an order-0 folio it just allocated,
        // with the only reference, unlocked, in no page cache or page table. Each is in the direct
        // map: the mapping's GFP_HIGHUSER finds no highmem, guest_memfd being 64-bit only.
        unsafe {
            NewFolio::from_raw_array(max, GFP_KERNEL, |raw, max| {
                bindings::kvm_gmem_alloc_folios(mapping.as_raw(), at, raw, max)
            })
        }
    };
    match Gmem::new(mapping, size, &alloc).and_then(|gmem| fill(&gmem, start, end)) {
        Ok(next) => next as kernel::ffi::c_long,
        Err(e) => e.to_errno() as kernel::ffi::c_long,
    }
}
