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
use crate::{bindings, error::Result};
use core::{mem::ManuallyDrop, ops::Deref, ptr};

/// Whether every page of `folio` is mapped in the kernel direct map.
pub fn folio_in_direct_map(folio: &Folio) -> bool {
    let pages = folio.size() >> crate::page::PAGE_SHIFT;
    (0..pages).all(|i| {
        // SAFETY: The folio is live as long as `folio` is, and `i` is one of its pages.
        unsafe { bindings::kernel_page_present(bindings::folio_page(folio.as_raw(), i)) }
    })
}

/// Up to `N` new folios, to be removed from the direct map together.
pub struct FolioBatch<const N: usize> {
    folios: [Option<NewFolio>; N],
    len: usize,
}

impl<const N: usize> FolioBatch<N> {
    /// An empty batch.
    pub fn new() -> Self {
        Self {
            folios: core::array::from_fn(|_| None),
            len: 0,
        }
    }

    /// Adds `folio` to the batch, or gives it back if the batch is full.
    pub fn push(&mut self, folio: NewFolio) -> Result<(), NewFolio> {
        match self.folios.get_mut(self.len) {
            Some(slot) => {
                *slot = Some(folio);
                self.len += 1;
                Ok(())
            }
            None => Err(folio),
        }
    }

    /// The number of folios in the batch.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the batch holds no folio.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl<const N: usize> Default for FolioBatch<N> {
    fn default() -> Self {
        Self::new()
    }
}

/// Folios removed from the direct map together, with one TLB flush.
///
/// Yields them one by one as [`RemovedFolio`]s, in the order they were pushed to the batch.
/// Dropping it puts the folios not yet taken back into the direct map.
///
/// # Invariants
///
/// The folios in `self.folios[self.next..]` are out of the direct map, followed by `None` up to
/// the end; the entries before `self.next` are `None`.
pub struct RemovedFolios<const N: usize> {
    folios: [Option<NewFolio>; N],
    next: usize,
}

impl<const N: usize> RemovedFolios<N> {
    /// Removes every folio of `batch` from the direct map, then flushes the kernel TLB once for
    /// all of them.
    ///
    /// On error none is removed, and the folios are dropped (they go back to the allocator
    /// mapped).
    pub fn remove(mut batch: FolioBatch<N>) -> Result<Self> {
        let mut raw = [ptr::null_mut(); N];
        for (raw, folio) in raw.iter_mut().zip(batch.folios.iter().flatten()) {
            *raw = folio.as_raw();
        }
        let nr = u32::try_from(batch.len)?;
        // SAFETY: The first `nr` entries of `raw` are the folios of the batch, which are new: no
        // one else uses them. On error, the C function leaves all of them mapped.
        crate::error::to_result(unsafe { bindings::folios_zap_direct_map(raw.as_mut_ptr(), nr) })?;
        // INVARIANT: All folios of the batch are now out of the direct map.
        Ok(Self {
            folios: core::mem::replace(&mut batch.folios, core::array::from_fn(|_| None)),
            next: 0,
        })
    }
}

impl<const N: usize> Iterator for RemovedFolios<N> {
    type Item = RemovedFolio;

    fn next(&mut self) -> Option<RemovedFolio> {
        let folio = self.folios.get_mut(self.next)?.take()?;
        self.next += 1;
        // INVARIANT: By the type invariants the folio is out of the direct map; it leaves `self`.
        Some(RemovedFolio(folio))
    }
}

impl<const N: usize> Drop for RemovedFolios<N> {
    fn drop(&mut self) {
        // Each folio not taken is restored by the drop of its `RemovedFolio`.
        for _ in self.by_ref() {}
    }
}

/// A new folio out of the direct map. Dropping it puts it back into the direct map, then drops
/// it.
///
/// # Invariants
///
/// The folio is out of the direct map.
pub struct RemovedFolio(NewFolio);

impl RemovedFolio {
    /// Gives up the folio without putting it back into the direct map, with the reference.
    ///
    /// # Safety
    ///
    /// The caller makes sure that the folio is put back into the direct map before it is freed.
    pub(crate) unsafe fn into_new_unmapped(self) -> NewFolio {
        let this = ManuallyDrop::new(self);
        // SAFETY: `this` is never used or dropped again, so the folio moves out exactly once.
        unsafe { ptr::read(&this.0) }
    }
}

impl Deref for RemovedFolio {
    type Target = Folio;

    fn deref(&self) -> &Folio {
        &self.0
    }
}

impl Drop for RemovedFolio {
    fn drop(&mut self) {
        // SAFETY: By the type invariants the folio is out of the direct map, removed by
        // `folios_zap_direct_map()`; it is new, so nobody else restores it. `self.0` drops the
        // reference only after this.
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
        let mut batch = FolioBatch::<N>::new();
        let mut held = KVec::<ARef<Folio>>::with_capacity(N, GFP_KERNEL)?;
        for _ in 0..N {
            let folio = NewFolio::alloc(GFP_KERNEL)?;
            // The test's reference only reads the folio's mapping state.
            held.push(ARef::from(&*folio), GFP_KERNEL)?;
            batch.push(folio).map_err(|_| EINVAL)?;
        }
        let mut removed = RemovedFolios::remove(batch)?;
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
