// SPDX-License-Identifier: GPL-2.0

//! The page cache of a file.
//!
//! C header: [`include/linux/pagemap.h`](srctree/include/linux/pagemap.h)

#[cfg(CONFIG_ARCH_HAS_SET_DIRECT_MAP)]
use super::direct_map::RemovedFolio;
use super::folio::LockedFolio;
use crate::{
    bindings,
    error::{code::*, from_err_ptr, Result},
    types::Opaque,
};
use core::ptr::{self, NonNull};

/// An index into a file, in pages (C's `pgoff_t`).
pub type PageIndex = crate::ffi::c_ulong;

/// The page cache of a file (C's `struct address_space`).
///
/// # Invariants
///
/// Instances of this type are only ever borrowed from a live `struct address_space`.
#[repr(transparent)]
pub struct AddressSpace(Opaque<bindings::address_space>);

impl AddressSpace {
    /// Returns a reference to the page cache `ptr` points to.
    ///
    /// # Safety
    ///
    /// `ptr` points to a `struct address_space` that stays live for `'a`.
    #[inline]
    pub unsafe fn from_raw<'a>(ptr: *mut bindings::address_space) -> &'a Self {
        // SAFETY: `AddressSpace` is a transparent wrapper of `struct address_space`, and the
        // caller guarantees that it lives long enough.
        unsafe { &*ptr.cast() }
    }

    /// Returns the raw `struct address_space` pointer.
    #[inline]
    pub fn as_raw(&self) -> *mut bindings::address_space {
        self.0.get()
    }

    /// Returns the folio at `index` locked, or `ENOENT` if there is none.
    ///
    /// May sleep waiting for the folio's lock.
    pub fn lock_folio(&self, index: PageIndex) -> Result<LockedFolio> {
        // SAFETY: The mapping is live.
        let folio = from_err_ptr(unsafe { bindings::filemap_lock_folio(self.as_raw(), index) })?;
        let folio = NonNull::new(folio).ok_or(ENOENT)?;
        // SAFETY: filemap_lock_folio() returns a folio that it locked and took a reference to.
        Ok(unsafe { LockedFolio::from_raw(folio) })
    }

    /// Whether there is a folio at `index`. Takes no lock and never waits.
    pub fn contains_folio(&self, index: PageIndex) -> bool {
        // SAFETY: The mapping is live. Without flags, __filemap_get_folio_mpol() neither locks
        // nor creates a folio; it returns one with a reference, or an error.
        let folio = unsafe {
            bindings::__filemap_get_folio_mpol(self.as_raw(), index, 0, 0, ptr::null_mut())
        };
        match from_err_ptr(folio) {
            Ok(folio) => {
                // SAFETY: The look-up returned the folio with a reference, which is ours to drop.
                unsafe { bindings::folio_put(folio) };
                true
            }
            Err(_) => false,
        }
    }

    /// Whether the page cache keeps its folios out of the direct map (`AS_NO_DIRECT_MAP`).
    pub fn no_direct_map(&self) -> bool {
        // SAFETY: The mapping is live.
        unsafe { bindings::mapping_no_direct_map(self.as_raw()) }
    }

    /// Inserts `folio`, which is out of the direct map, at `index` of a page cache that keeps its
    /// folios out of the direct map, with the mapping's allocation flags.
    ///
    /// Returns the folio locked. On failure, e.g. `EEXIST` if there is a folio at `index` already,
    /// or `EINVAL` if the page cache does not keep folios out of the direct map, the folio is put
    /// back into the direct map and dropped.
    #[cfg(CONFIG_ARCH_HAS_SET_DIRECT_MAP)]
    pub fn add_removed_folio(&self, folio: RemovedFolio, index: PageIndex) -> Result<LockedFolio> {
        if !self.no_direct_map() {
            return Err(EINVAL);
        }
        // SAFETY: A page cache with `AS_NO_DIRECT_MAP` puts the folio back into the direct map
        // when it leaves the page cache, or right away when filemap_add_folio() fails.
        let folio = unsafe { folio.into_raw_unmapped() };
        let mapping = self.as_raw();
        // SAFETY: The mapping is live and the folio is new, so it may be inserted; the page
        // cache takes references of its own, ours stays ours.
        let ret = unsafe {
            bindings::filemap_add_folio(
                mapping,
                folio.as_ptr(),
                index,
                bindings::mapping_gfp_mask(mapping),
            )
        };
        if ret != 0 {
            // SAFETY: The failed insertion put the folio back into the direct map, or, should
            // that have failed, took a reference that keeps it from ever being freed; it left us
            // our reference.
            unsafe { bindings::folio_put(folio.as_ptr()) };
            return Err(crate::error::Error::from_errno(ret));
        }
        // SAFETY: filemap_add_folio() left the folio locked and the page cache holds a reference
        // of its own, so ours goes to the locked folio.
        Ok(unsafe { LockedFolio::from_raw(folio) })
    }
}
