// SPDX-License-Identifier: GPL-2.0

//! Folios out of the kernel direct map.
//!
//! C header: [`include/linux/set_memory.h`](srctree/include/linux/set_memory.h)
//!
//! Memory that the kernel must never touch (guest memory a VMM keeps from the host kernel) is
//! taken out of the direct map, so that no kernel code, and no speculatively executed kernel code,
//! reaches it through that alias. Such a folio must never go back to the page allocator while it
//! is out: the allocator, and whoever gets the memory next, would oops on it. The types here make
//! that impossible: a [`RemovedFolio`] that is dropped is put back into the direct map first, and
//! the only other way out is a page cache that keeps it out and puts it back itself
//! ([`AddressSpace::add_removed_folio`]).
//!
//! [`AddressSpace::add_removed_folio`]: super::filemap::AddressSpace::add_removed_folio

use super::folio::{Folio, NewFolio};
use crate::{
    alloc::{allocator::Kmalloc, kvec::PushError, Flags, IntoIter, KVec},
    bindings,
    error::{to_result, Result},
};
use core::{
    mem::ManuallyDrop,
    ops::Deref,
    ptr::{self, NonNull},
};

/// Whether every page of `folio` is mapped in the kernel direct map.
///
/// Out of line on purpose, like the other functions here that call C functions which mm does not
/// export to modules: modules use them through the kernel crate.
pub fn folio_in_direct_map(folio: &Folio) -> bool {
    let pages = folio.size() >> crate::page::PAGE_SHIFT;
    (0..pages).all(|i| {
        // SAFETY: The folio is live as long as `folio` is, and `i` is one of its pages.
        unsafe { bindings::kernel_page_present(bindings::folio_page(folio.as_raw(), i)) }
    })
}

/// New folios, to be removed from the direct map together.
///
/// It has room for the number of folios given when it is created, allocated then, so that
/// adding a folio never allocates.
///
/// # Invariants
///
/// `self.raw` has as many entries as `self.folios`, each the `struct folio *` of the folio at
/// the same position.
pub struct FolioBatch {
    folios: KVec<NewFolio>,
    /// The array of `struct folio *` that folios_zap_direct_map() takes.
    raw: KVec<*mut bindings::folio>,
}

impl FolioBatch {
    /// An empty batch with room for `capacity` folios.
    pub fn with_capacity(capacity: usize, flags: Flags) -> Result<Self> {
        // INVARIANT: Both are empty.
        Ok(Self {
            folios: KVec::with_capacity(capacity, flags)?,
            raw: KVec::with_capacity(capacity, flags)?,
        })
    }

    /// Adds `folio` to the batch, or gives it back if the batch is full.
    pub fn push(&mut self, folio: NewFolio) -> Result<(), NewFolio> {
        if self.raw.push_within_capacity(folio.as_raw()).is_err() {
            return Err(folio);
        }
        match self.folios.push_within_capacity(folio) {
            // INVARIANT: Both got the folio, at the same position.
            Ok(()) => Ok(()),
            Err(PushError(folio)) => {
                // INVARIANT: Back to the entries of `self.folios`.
                self.raw.pop();
                Err(folio)
            }
        }
    }

    /// The number of folios in the batch.
    pub fn len(&self) -> usize {
        self.folios.len()
    }

    /// Whether the batch holds no folio.
    pub fn is_empty(&self) -> bool {
        self.folios.is_empty()
    }
}

/// Folios removed from the direct map together, with one TLB flush.
///
/// Yields them one by one as [`RemovedFolio`]s, in the order they were pushed to the batch.
/// Dropping it puts the folios not yet taken back into the direct map.
///
/// # Invariants
///
/// The folios that `self.folios` has not yielded yet are out of the direct map.
pub struct RemovedFolios {
    folios: IntoIter<NewFolio, Kmalloc>,
}

impl RemovedFolios {
    /// Removes every folio of `batch` from the direct map, then flushes the kernel TLB once for
    /// all of them.
    ///
    /// On error none is removed, and the folios are dropped (they go back to the allocator
    /// mapped): `EINVAL` if one is a large folio, `EOPNOTSUPP` if the architecture cannot change
    /// the direct map at run time, `ENOMEM` if splitting a large direct-map entry failed.
    ///
    /// # Context
    ///
    /// Process context; may sleep.
    pub fn remove(mut batch: FolioBatch) -> Result<Self> {
        // SAFETY: By the type invariants of `FolioBatch` the entries of `batch.raw` are its
        // folios, which are new: no one else uses them.
        unsafe { zap(&mut batch.raw) }?;
        // INVARIANT: All folios of the batch are now out of the direct map.
        Ok(Self {
            folios: batch.folios.into_iter(),
        })
    }
}

/// Removes `folios` from the direct map with one TLB flush, or none of them.
///
/// Not generic, so that it is compiled into the kernel crate, which may call C functions that mm
/// does not export to modules.
///
/// # Safety
///
/// `folios` are new folios, used by no one else.
unsafe fn zap(folios: &mut [*mut bindings::folio]) -> Result {
    let nr = u32::try_from(folios.len())?;
    // SAFETY: The caller guarantees that the folios are new. On error, folios_zap_direct_map()
    // leaves all of them mapped.
    to_result(unsafe { bindings::folios_zap_direct_map(folios.as_mut_ptr(), nr) })
}

impl Iterator for RemovedFolios {
    type Item = RemovedFolio;

    fn next(&mut self) -> Option<RemovedFolio> {
        // INVARIANT: By the type invariants the folio is out of the direct map; it leaves `self`.
        self.folios.next().map(RemovedFolio)
    }
}

impl Drop for RemovedFolios {
    fn drop(&mut self) {
        // Each folio not taken is restored by the drop of its `RemovedFolio`.
        for _ in self.by_ref() {}
    }
}

/// A new folio out of the direct map. Dropping it puts it back into the direct map, then drops
/// it; that may sleep (restoring can take a lock, or allocate a page table). Should restoring
/// fail, the folio is leaked rather than freed (`folio_restore_direct_map()` keeps a reference).
///
/// # Invariants
///
/// The folio is out of the direct map, removed by `folios_zap_direct_map()`.
pub struct RemovedFolio(NewFolio);

impl RemovedFolio {
    /// Gives up the folio and our reference to it, without putting it back into the direct map.
    ///
    /// # Safety
    ///
    /// The caller makes sure that the folio is put back into the direct map before it is freed,
    /// and that nothing touches its memory until then.
    pub(crate) unsafe fn into_raw_unmapped(self) -> NonNull<bindings::folio> {
        let this = ManuallyDrop::new(self);
        // SAFETY: `this` is never used or dropped again, so the folio moves out exactly once.
        unsafe { ptr::read(&this.0) }.into_raw()
    }
}

impl Deref for RemovedFolio {
    type Target = Folio;

    #[inline]
    fn deref(&self) -> &Folio {
        &self.0
    }
}

impl Drop for RemovedFolio {
    fn drop(&mut self) {
        // SAFETY: By the type invariants the folio is out of the direct map, removed by
        // `folios_zap_direct_map()`; it is new, so nobody else restores it. `self.0` drops our
        // reference only after this; one that stays out keeps the reference taken for it.
        unsafe { bindings::folio_restore_direct_map(self.0.as_raw()) };
    }
}

#[cfg(CONFIG_RUST_DIRECT_MAP_KUNIT_TEST)]
#[macros::kunit_tests(rust_kernel_mm_direct_map)]
mod tests {
    use super::*;
    use crate::{alloc::flags::GFP_KERNEL, prelude::*, sync::aref::ARef};

    /// Removed folios that are dropped, one taken from the batch and the others left in it, are
    /// back in the direct map.
    #[test]
    fn dropped_folios_are_back_in_the_direct_map() -> Result {
        const N: usize = 4;
        let mut batch = FolioBatch::with_capacity(N, GFP_KERNEL)?;
        let mut held = KVec::<ARef<Folio>>::with_capacity(N, GFP_KERNEL)?;
        for _ in 0..N {
            let folio = NewFolio::alloc(GFP_KERNEL)?;
            // The test's reference only reads the folio's mapping state.
            held.push(ARef::from(&*folio), GFP_KERNEL)?;
            batch.push(folio).map_err(|_| EINVAL)?;
        }
        let mut removed = match RemovedFolios::remove(batch) {
            Err(e) if e == EOPNOTSUPP => {
                // SAFETY: We run in a KUnit test, so there is a current test; marking it skipped
                // is what kunit_mark_skipped() does.
                unsafe {
                    (*bindings::kunit_get_current_test()).status =
                        bindings::kunit_status_KUNIT_SKIPPED
                };
                return Ok(());
            }
            removed => removed?,
        };
        let out = held.iter().filter(|f| !folio_in_direct_map(f)).count();
        drop(removed.next());
        drop(removed);
        let back = held.iter().filter(|f| folio_in_direct_map(f)).count();

        // Should a folio still be out, map it here, so that a failure frees no unmapped page.
        for folio in held.iter().filter(|f| !folio_in_direct_map(f)) {
            // SAFETY: The folio was removed by `RemovedFolios::remove()` and not restored.
            unsafe { bindings::folio_restore_direct_map(folio.as_raw()) };
        }
        assert_eq!(out, N);
        assert_eq!(back, N);
        Ok(())
    }
}
