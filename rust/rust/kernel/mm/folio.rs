// SPDX-License-Identifier: GPL-2.0

//! Folios: the unit in which mm allocates and caches memory.
//!
//! C headers: [`include/linux/mm.h`](srctree/include/linux/mm.h),
//! [`include/linux/pagemap.h`](srctree/include/linux/pagemap.h)
//!
//! A folio goes through states that decide what may be done with it. Each is a type here:
//! [`NewFolio`] is a folio that only its owner knows of, which may be written without its lock;
//! [`LockedFolio`] is a folio whose lock is held, which unlocks it when dropped. All hold a
//! reference, as does [`ARef<Folio>`].

use crate::{
    alloc::{AllocError, Flags, KVec},
    bindings,
    error::{code::ENOMEM, Result},
    sync::aref::{ARef, AlwaysRefCounted},
    types::Opaque,
};
use core::{ops::Deref, ptr::NonNull};

/// A folio.
///
/// # Invariants
///
/// Instances of this type are always reference-counted: a call to `folio_get()` keeps the folio
/// allocated at least until the matching call to `folio_put()`.
#[repr(transparent)]
pub struct Folio(Opaque<bindings::folio>);

// SAFETY: A folio's reference count is atomic, and it may be released from any thread.
unsafe impl Send for Folio {}

// SAFETY: The methods of `Folio` that take `&self` may be called from several threads at once.
unsafe impl Sync for Folio {}

// SAFETY: By the type invariants, instances are reference-counted with `folio_get()` and
// `folio_put()`.
unsafe impl AlwaysRefCounted for Folio {
    #[inline]
    fn inc_ref(&self) {
        // SAFETY: By the type invariants `self` comes with a reference, so the reference count is
        // not zero and may be raised.
        unsafe { bindings::folio_get(self.as_raw()) };
    }

    #[inline]
    unsafe fn dec_ref(obj: NonNull<Self>) {
        // SAFETY: The caller gives up a reference it owns.
        unsafe { bindings::folio_put(obj.cast().as_ptr()) };
    }
}

impl Folio {
    /// Returns the raw `struct folio` pointer.
    #[inline]
    pub fn as_raw(&self) -> *mut bindings::folio {
        self.0.get()
    }

    /// The size of the folio in bytes.
    #[inline]
    pub fn size(&self) -> usize {
        // SAFETY: The folio is live as long as `self` is.
        unsafe { bindings::folio_size(self.as_raw()) }
    }
}

/// Takes ownership of the reference `ptr` carries.
///
/// # Safety
///
/// `ptr` points to a folio and the caller owns a reference to it.
unsafe fn aref_from_raw(ptr: NonNull<bindings::folio>) -> ARef<Folio> {
    // SAFETY: `Folio` is a transparent wrapper of `struct folio`; the caller gives us a
    // reference.
    unsafe { ARef::from_raw(ptr.cast()) }
}

/// A folio that only its owner knows of: in no page cache, mapped by no one, unlocked.
///
/// Its owner may write it, and change its flags non-atomically, without taking its lock. Dropping
/// it drops the owner's reference, which frees it unless someone took another.
///
/// # Invariants
///
/// `self.0` is a folio in no page cache and no page table, not locked, reachable from no kernel
/// structure, and in the direct map (a `RemovedFolio` holds one that is not, and never gives
/// it out). Other references to it (through [`Deref`] and [`ARef::from`]) only keep it
/// allocated: [`Folio`] offers nothing that writes the folio or its flags.
pub struct NewFolio(ARef<Folio>);

impl NewFolio {
    /// Allocates an order-0 folio with the allocation flags `flags`.
    pub fn alloc(flags: Flags) -> Result<Self, AllocError> {
        // SAFETY: Allocating a folio has no precondition.
        let folio = unsafe { bindings::folio_alloc(flags.as_raw(), 0) };
        let folio = NonNull::new(folio).ok_or(AllocError)?;
        // SAFETY: A folio just allocated comes with a reference that is ours.
        // INVARIANT: Nobody else knows of a folio just allocated.
        Ok(Self(unsafe { aref_from_raw(folio) }))
    }

    /// Takes ownership of a folio that a C allocator returned.
    ///
    /// # Safety
    ///
    /// `ptr` points to a folio that the caller allocated and owns a reference to, in no page cache
    /// and no page table, not locked, known to no one else, and in the direct map.
    pub unsafe fn from_raw(ptr: NonNull<bindings::folio>) -> Self {
        // SAFETY: The caller gives us its reference.
        // INVARIANT: The caller guarantees that the folio is new.
        Self(unsafe { aref_from_raw(ptr) })
    }

    /// Takes ownership of the folios that a C allocator stores into an array.
    ///
    /// `fill` gets an array with room for `max` folio pointers, and `max`; it returns how many it
    /// stored. They are returned in the order stored; `ENOMEM` if there is none.
    ///
    /// # Safety
    ///
    /// `fill` stores at most `max` pointers and returns their number; each points to a folio that
    /// [`NewFolio::from_raw`] may take ownership of.
    pub unsafe fn from_raw_array(
        max: usize,
        flags: Flags,
        fill: impl FnOnce(*mut *mut bindings::folio, usize) -> usize,
    ) -> Result<KVec<Self>> {
        let mut raw = KVec::<*mut bindings::folio>::with_capacity(max, flags)?;
        let mut folios = KVec::with_capacity(max, flags)?;
        let stored = fill(raw.as_mut_ptr(), max).min(max);
        // SAFETY: The caller guarantees that `fill` initialised the first `stored` entries, which
        // are within the capacity of `raw`.
        unsafe { raw.inc_len(stored) };
        for folio in raw.iter().filter_map(|&folio| NonNull::new(folio)) {
            // SAFETY: The caller guarantees that `from_raw()` may take the folio.
            let folio = unsafe { Self::from_raw(folio) };
            // `folios` has room for all of them; one that did not fit would be dropped.
            let _ = folios.push_within_capacity(folio);
        }
        if folios.is_empty() {
            return Err(ENOMEM);
        }
        Ok(folios)
    }

    /// Fills the folio with zeroes and marks it up to date.
    pub fn zero(&mut self) {
        let folio = self.0.as_raw();
        // SAFETY: By the type invariants the folio is in the direct map and nobody else uses it,
        // so it may be written through its kernel address without its lock, and marked up to date
        // non-atomically.
        unsafe {
            bindings::folio_zero_range(folio, 0, self.0.size());
            bindings::__folio_mark_uptodate(folio);
        }
    }
}

impl Deref for NewFolio {
    type Target = Folio;

    #[inline]
    fn deref(&self) -> &Folio {
        &self.0
    }
}

/// A folio whose lock is held, with a reference. Dropping it unlocks the folio, then drops the
/// reference.
///
/// # Invariants
///
/// The lock of `self.0` is held on behalf of this value.
pub struct LockedFolio(ARef<Folio>);

impl LockedFolio {
    /// Takes ownership of a locked folio and of a reference to it.
    ///
    /// # Safety
    ///
    /// `ptr` points to a folio whose lock the caller holds and gives up, and the caller owns a
    /// reference to it.
    pub unsafe fn from_raw(ptr: NonNull<bindings::folio>) -> Self {
        // SAFETY: The caller gives us its reference.
        // INVARIANT: The caller gives us the lock.
        Self(unsafe { aref_from_raw(ptr) })
    }

    /// Gives up the lock and the reference, for C code that takes both over.
    pub fn into_raw(self) -> NonNull<bindings::folio> {
        let folio = NonNull::from(&*self.0).cast();
        // Neither unlock nor put: both go to the caller.
        core::mem::forget(self);
        folio
    }
}

impl Deref for LockedFolio {
    type Target = Folio;

    #[inline]
    fn deref(&self) -> &Folio {
        &self.0
    }
}

impl Drop for LockedFolio {
    fn drop(&mut self) {
        // SAFETY: By the type invariants we hold the lock; the reference in `self.0` keeps the
        // folio allocated until after this.
        unsafe { bindings::folio_unlock(self.0.as_raw()) };
    }
}
