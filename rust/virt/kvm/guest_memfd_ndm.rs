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
//! There is no per-folio state: the mapping flag says it all. The C side is in `guest_memfd.c`
//! (`kvm_gmem_get_folio()` and fallocate call in here); the entry points are at the end of this
//! file.

use core::{
    mem::ManuallyDrop,
    ptr::NonNull,
    sync::atomic::{AtomicUsize, Ordering},
};
use kernel::{bindings, error::from_err_ptr, prelude::*};

/// An index into a guest_memfd, in pages (C's `pgoff_t`).
type PageIndex = kernel::ffi::c_ulong;

/// Folios removed from the direct map with one TLB flush when filling a range.
///
/// 32 folios are 128 KiB with 4 KiB pages: large enough that the flush is paid once per many
/// folios, small enough that a batch allocated but not yet inserted stays modest.
const FILL_BATCH: usize = 32;

/// Folios created together on a fault: the aligned window of this many indices around it.
///
/// Must not exceed [`FILL_BATCH`]: a window is created as one batch.
const FAULT_AROUND: PageIndex = 16;
const _: () = assert!(FAULT_AROUND <= FILL_BATCH);

/// Number of batches removed from the direct map, i.e. of kernel TLB flushes issued here.
static ZAP_BATCHES: AtomicUsize = AtomicUsize::new(0);

/// The inode of a guest_memfd whose mapping has `AS_NO_DIRECT_MAP`.
///
/// # Invariants
///
/// `self.0` points to a guest_memfd inode whose mapping has `AS_NO_DIRECT_MAP`, and that stays
/// live for the lifetime of this value. Races with other creators and with hole punching are
/// the page cache's to resolve (an insertion fails with `EEXIST`), so no lock is required.
struct GmemInode(NonNull<bindings::inode>);

impl GmemInode {
    fn mapping(&self) -> *mut bindings::address_space {
        // SAFETY: By the type invariants `self.0` is a live inode.
        unsafe { (*self.0.as_ptr()).i_mapping }
    }

    fn gfp(&self) -> bindings::gfp_t {
        // SAFETY: The mapping of a live inode is valid.
        unsafe { bindings::mapping_gfp_mask(self.mapping()) }
    }

    /// The size of the file in pages (rounded down).
    fn size_in_pages(&self) -> PageIndex {
        // SAFETY: By the type invariants `self.0` is a live inode.
        let size = unsafe { bindings::i_size_read(self.0.as_ptr()) };
        PageIndex::try_from(size >> kernel::page::PAGE_SHIFT).unwrap_or(0)
    }

    /// Returns the folio at `index` locked, with a reference, or `ENOENT`.
    fn lookup(&self, index: PageIndex) -> Result<*mut bindings::folio> {
        // SAFETY: The mapping of a live inode is valid.
        from_err_ptr(unsafe { bindings::filemap_lock_folio(self.mapping(), index) })
    }

    /// Whether the page cache has a folio at `index`, without waiting for its lock.
    fn contains(&self, index: PageIndex) -> bool {
        // SAFETY: The mapping of a live inode is valid; no flags: a look-up that neither
        // locks nor creates.
        match from_err_ptr(unsafe {
            bindings::__filemap_get_folio_mpol(self.mapping(), index, 0, 0, core::ptr::null_mut())
        }) {
            Ok(folio) => {
                // SAFETY: The look-up returned the folio with a reference.
                unsafe { bindings::folio_put(folio) };
                true
            }
            Err(_) => false,
        }
    }
}

/// A cleared, up to date folio that is in no page cache yet.
///
/// # Invariants
///
/// `self.0` points to a folio we hold a reference to, that is not in any page cache and not
/// locked.
#[repr(transparent)]
struct NewFolio(NonNull<bindings::folio>);

impl NewFolio {
    /// Allocates a folio for `index` of `inode`, following its memory policy, and clears it.
    fn alloc(inode: &GmemInode, index: PageIndex) -> Result<Self> {
        // SAFETY: By the type invariants of `GmemInode` the inode is a live guest_memfd inode.
        let folio = unsafe { bindings::kvm_gmem_alloc_folio(inode.0.as_ptr(), index) };
        let folio = NonNull::new(folio).ok_or(ENOMEM)?;
        // INVARIANT: A freshly allocated folio is ours, unlocked and in no page cache.
        let new = NewFolio(folio);
        new.clear();
        Ok(new)
    }

    /// Clears the folio through the direct map and marks it up to date.
    fn clear(&self) {
        let folio = self.0.as_ptr();
        // SAFETY: By the type invariants the folio is ours and still in the direct map: nobody
        // else can see it, so it may be written without its lock.
        unsafe {
            bindings::folio_zero_range(folio, 0, bindings::folio_size(folio));
            bindings::__folio_mark_uptodate(folio);
        }
    }

    /// Inserts the folio into the page cache of `inode` at `index`.
    ///
    /// On success the folio is locked and returned with our reference. On failure mm has left it
    /// in the direct map (removing it first if needed), and our reference is dropped.
    fn insert(self, inode: &GmemInode, index: PageIndex) -> Result<*mut bindings::folio> {
        let folio = ManuallyDrop::new(self).0.as_ptr();
        // SAFETY: The folio is ours and in no page cache; the mapping is valid.
        let ret =
            unsafe { bindings::filemap_add_folio(inode.mapping(), folio, index, inode.gfp()) };
        if ret == 0 {
            return Ok(folio);
        }
        // SAFETY: We hold a reference, and the failed insertion left the folio restored.
        unsafe { bindings::folio_put(folio) };
        Err(Error::from_errno(ret))
    }
}

impl Drop for NewFolio {
    fn drop(&mut self) {
        // SAFETY: By the type invariants we hold a reference. A folio dropped here was never
        // inserted: either it was never removed from the direct map, or its removal failed and
        // left it mapped, so it goes back to the allocator mapped.
        unsafe { bindings::folio_put(self.0.as_ptr()) };
    }
}

/// Removes all `folios` from the direct map with one TLB flush; on error none is removed.
fn zap_direct_map(folios: &mut [NewFolio]) -> Result {
    if folios.is_empty() {
        return Ok(());
    }
    let nr = u32::try_from(folios.len()).map_err(|_| EINVAL)?;
    // SAFETY: `NewFolio` is a transparent wrapper around a non-null folio pointer, so the slice
    // is an array of `nr` valid `struct folio *`, all ours and in no page cache.
    let ret = unsafe { bindings::folios_zap_direct_map(folios.as_mut_ptr().cast(), nr) };
    if ret == 0 {
        ZAP_BATCHES.fetch_add(1, Ordering::Relaxed);
    }
    kernel::error::to_result(ret)
}

/// Returns the folio at `index`, creating it out of the direct map if it does not exist.
///
/// With `fault_around`, the missing folios of the [`FAULT_AROUND`] window holding `index` are
/// created with it, with one TLB flush. Should that fail (no memory for a neighbour, or for
/// splitting the direct map around one), `index` is tried alone, so that only its own failure is
/// reported. The caller decides whether neighbours may be created (not where a hole may have
/// been punched).
fn get_folio(
    inode: &GmemInode,
    index: PageIndex,
    fault_around: bool,
) -> Result<*mut bindings::folio> {
    let alone = (index, index.saturating_add(1));
    let mut range = if fault_around {
        fault_around_window(index, inode.size_in_pages())
    } else {
        alone
    };
    loop {
        let created = match create(inode, range.0, range.1, Some(index)) {
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
            None => match inode.lookup(index) {
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
/// TLB flush.
///
/// If the folio of index `keep` is created here, it is returned locked and with a reference;
/// `None` means that it existed, that someone else created it meanwhile, or that no `keep` was
/// given. An error is the first one met; folios inserted before it stay in the page cache.
fn create(
    inode: &GmemInode,
    start: PageIndex,
    end: PageIndex,
    keep: Option<PageIndex>,
) -> Result<Option<*mut bindings::folio>> {
    let mut folios = KVec::with_capacity(FILL_BATCH, GFP_KERNEL)?;
    let mut indices = KVec::with_capacity(FILL_BATCH, GFP_KERNEL)?;

    for index in start..batch_end(start, end) {
        if !inode.contains(index) {
            folios.push(NewFolio::alloc(inode, index)?, GFP_KERNEL)?;
            indices.push(index, GFP_KERNEL)?;
        }
    }

    zap_direct_map(&mut folios)?;

    // Every removed folio is handed to filemap_add_folio() exactly once, which restores it if it
    // does not make it into the page cache: keep going after a failure, report the first one.
    let mut kept = None;
    let mut result = Ok(());
    for (folio, index) in folios.into_iter().zip(indices) {
        match folio.insert(inode, index) {
            Ok(folio) if Some(index) == keep => kept = Some(folio),
            Ok(folio) => {
                // SAFETY: The inserted folio is locked and we hold a reference; the page cache
                // holds its own.
                unsafe {
                    bindings::folio_unlock(folio);
                    bindings::folio_put(folio);
                }
            }
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
    end.min(start.saturating_add(FILL_BATCH))
}

/// Creates the missing folios of at most [`FILL_BATCH`] indices from `start` on, below `end`.
///
/// Returns the index after the last one handled.
fn fill(inode: &GmemInode, start: PageIndex, end: PageIndex) -> Result<PageIndex> {
    create(inode, start, end, None)?;
    Ok(batch_end(start, end))
}

/// Returns the folio at `index` of a guest_memfd without a direct map, locked and with a
/// reference, creating it (cleared, out of the direct map) if needed; or an `ERR_PTR()`.
///
/// With `fault_around`, the missing folios of the window around `index` are created too.
///
/// # Safety
///
/// `inode` must be a guest_memfd inode whose mapping has `AS_NO_DIRECT_MAP`, kept live by the
/// caller (through the file or the VMA it comes from) for the duration of the call. With
/// `fault_around`, the caller holds the mapping's invalidate lock (shared), so that no hole is
/// punched meanwhile.
#[export]
pub unsafe extern "C" fn kvm_gmem_ndm_get_folio(
    inode: *mut bindings::inode,
    index: PageIndex,
    fault_around: bool,
) -> *mut bindings::folio {
    let Some(inode) = NonNull::new(inode) else {
        return EINVAL.to_ptr();
    };
    // INVARIANT: The caller guarantees what `GmemInode` requires.
    match get_folio(&GmemInode(inode), index, fault_around) {
        Ok(folio) => folio,
        Err(e) => e.to_ptr(),
    }
}

/// Creates the missing folios of indices `start` up to `end` (exclusive) of a guest_memfd
/// without a direct map, at most [`FILL_BATCH`] of them with one TLB flush.
///
/// Returns the index after the last one handled (call again from there until `end`), or a
/// negative errno.
///
/// # Safety
///
/// `inode` must be a guest_memfd inode whose mapping has `AS_NO_DIRECT_MAP`, kept live by the
/// caller (through the file it comes from) for the duration of the call.
#[export]
pub unsafe extern "C" fn kvm_gmem_ndm_fill(
    inode: *mut bindings::inode,
    start: PageIndex,
    end: PageIndex,
) -> kernel::ffi::c_long {
    let Some(inode) = NonNull::new(inode) else {
        return EINVAL.to_errno() as kernel::ffi::c_long;
    };
    // INVARIANT: The caller guarantees what `GmemInode` requires.
    match fill(&GmemInode(inode), start, end) {
        Ok(next) => next as kernel::ffi::c_long,
        Err(e) => e.to_errno() as kernel::ffi::c_long,
    }
}

#[kunit_tests(kvm_gmem_no_direct_map)]
mod tests {
    use super::*;
    use kernel::ffi::c_void;

    /// Redirects calls of the C function `real` (which must call `KUNIT_STATIC_STUB_REDIRECT()`)
    /// to `stub` for the rest of the current test; a null `stub` ends the redirection.
    ///
    /// # Safety
    ///
    /// `stub` is null or a function with the signature of `real`.
    unsafe fn redirect(real: *const c_void, stub: *const c_void) {
        // SAFETY: We run in a KUnit test, so there is a current test. The caller guarantees the
        // signature; KUnit ends the redirection when the test ends at the latest.
        unsafe {
            bindings::__kunit_activate_static_stub(
                bindings::kunit_get_current_test(),
                real.cast_mut(),
                stub.cast_mut(),
            )
        };
    }

    /// Stands in for `kvm_gmem_alloc_folio()`, which needs a guest_memfd inode for its memory
    /// policy: allocates a folio as `folio_alloc()` does.
    ///
    /// # Safety
    ///
    /// Has the signature of `kvm_gmem_alloc_folio()`; touches none of its arguments.
    unsafe extern "C" fn alloc_without_policy(
        _inode: *mut bindings::inode,
        _index: PageIndex,
    ) -> *mut bindings::folio {
        // SAFETY: Allocating a folio has no precondition.
        unsafe { bindings::folio_alloc(bindings::GFP_KERNEL, 0) }
    }

    /// A folio allocated without a guest_memfd, for the tests.
    fn test_folio() -> Result<NewFolio> {
        // SAFETY: Allocating a folio has no precondition.
        let folio = unsafe { bindings::folio_alloc(bindings::GFP_KERNEL, 0) };
        // INVARIANT: A freshly allocated folio is ours, unlocked and in no page cache.
        let new = NewFolio(NonNull::new(folio).ok_or(ENOMEM)?);
        new.clear();
        Ok(new)
    }

    /// Whether the kernel can read the folio through its direct map address.
    fn readable(folio: *mut bindings::folio) -> bool {
        let mut byte = 0u8;
        // SAFETY: copy_from_kernel_nofault() may be given any address; it reports a fault
        // instead of taking it. The caller holds a reference to the folio.
        let ret = unsafe {
            bindings::copy_from_kernel_nofault(
                (&raw mut byte).cast(),
                bindings::folio_address(folio),
                1,
            )
        };
        ret == 0
    }

    /// Inserts the (removed) `folios` at indices 0.. of `file`, then takes them out of the page
    /// cache again, which puts them back into the direct map. The inserted folios are pushed to
    /// `inserted` (allocated by the caller before the removal, with room for all) with our
    /// references. Every folio goes to [`NewFolio::insert`], which leaves it mapped if it fails,
    /// so none is dropped while out of the direct map; the first error is returned.
    fn insert_and_truncate(
        file: &TestFile,
        folios: KVec<NewFolio>,
        inserted: &mut KVec<*mut bindings::folio>,
    ) -> Result {
        let mut result = Ok(());
        for (index, folio) in (0..).zip(folios) {
            match folio.insert(&file.inode(), index) {
                Ok(folio) => {
                    // SAFETY: A successful insertion returns the folio locked, with our reference.
                    unsafe { bindings::folio_unlock(folio) };
                    // There is room: this does not allocate. Should it fail, the reference leaks.
                    let _ = inserted.push(folio, GFP_KERNEL);
                }
                Err(e) => {
                    if result.is_ok() {
                        result = Err(e);
                    }
                }
            }
        }
        // SAFETY: The mapping is live.
        unsafe { bindings::truncate_inode_pages(file.mapping(), 0) };
        result
    }

    #[test]
    fn removed_folio_cannot_be_read_until_it_leaves_the_page_cache() -> Result {
        let file = TestFile::new()?;
        let mut inserted = KVec::with_capacity(1, GFP_KERNEL)?;
        let mut folios = KVec::with_capacity(1, GFP_KERNEL)?;
        folios.push(test_folio()?, GFP_KERNEL)?;
        let raw = folios[0].0.as_ptr();
        assert!(readable(raw));
        zap_direct_map(&mut folios)?;
        assert!(!readable(raw));
        insert_and_truncate(&file, folios, &mut inserted)?;
        for &folio in inserted.iter() {
            assert!(readable(folio));
            // SAFETY: Drops the reference the insertion returned.
            unsafe { bindings::folio_put(folio) };
        }
        Ok(())
    }

    #[test]
    fn batch_is_removed_with_one_flush() -> Result {
        let file = TestFile::new()?;
        let mut inserted = KVec::with_capacity(FILL_BATCH, GFP_KERNEL)?;
        let mut folios = KVec::with_capacity(FILL_BATCH, GFP_KERNEL)?;
        for _ in 0..FILL_BATCH {
            folios.push(test_folio()?, GFP_KERNEL)?;
        }
        let before = ZAP_BATCHES.load(Ordering::Relaxed);
        zap_direct_map(&mut folios)?;
        assert_eq!(ZAP_BATCHES.load(Ordering::Relaxed), before + 1);
        for folio in folios.iter() {
            assert!(!readable(folio.0.as_ptr()));
        }
        insert_and_truncate(&file, folios, &mut inserted)?;
        for &folio in inserted.iter() {
            assert!(readable(folio));
            // SAFETY: Drops the reference the insertion returned.
            unsafe { bindings::folio_put(folio) };
        }
        Ok(())
    }

    /// An empty file with `AS_NO_DIRECT_MAP` on its mapping, closed on drop.
    struct TestFile(NonNull<bindings::file>);

    /// File operations for [`TestFile`]: none.
    struct TestFops(bindings::file_operations);

    // SAFETY: The operations are never written; files only read their (null) entries.
    unsafe impl Sync for TestFops {}

    static TEST_FOPS: TestFops = TestFops(
        // SAFETY: All-zero file operations are valid: every operation is absent.
        unsafe { core::mem::zeroed() },
    );

    impl TestFile {
        fn new() -> Result<Self> {
            // SAFETY: The name is a C string and the operations are 'static.
            let file = from_err_ptr(unsafe {
                bindings::anon_inode_create_getfile(
                    c"kvm_gmem_ndm_test".as_char_ptr(),
                    &TEST_FOPS.0,
                    core::ptr::null_mut(),
                    bindings::O_RDWR as i32,
                    core::ptr::null(),
                )
            })?;
            let file = TestFile(NonNull::new(file).ok_or(ENOMEM)?);
            // SAFETY: The file is live, and its mapping has no folio yet.
            unsafe { bindings::mapping_set_no_direct_map(file.mapping()) };
            // The file's folios are allocated without a guest_memfd memory policy.
            // SAFETY: The stand-in has the signature of `kvm_gmem_alloc_folio()`.
            unsafe {
                redirect(
                    bindings::kvm_gmem_alloc_folio as *const c_void,
                    alloc_without_policy as *const c_void,
                )
            };
            Ok(file)
        }

        /// Sets the file's size to `pages` pages.
        fn set_size_in_pages(&self, pages: PageIndex) {
            let size = i64::try_from(pages << kernel::page::PAGE_SHIFT).unwrap_or(i64::MAX);
            // SAFETY: The file is live until dropped, and only this test uses it. On 64-bit
            // i_size_write() is this plain store.
            unsafe { (*(*self.0.as_ptr()).f_inode).i_size = size };
        }

        fn mapping(&self) -> *mut bindings::address_space {
            // SAFETY: The file is live until dropped.
            unsafe { (*self.0.as_ptr()).f_mapping }
        }

        fn inode(&self) -> GmemInode {
            // INVARIANT: The inode is live and its mapping has `AS_NO_DIRECT_MAP`. It is not a
            // guest_memfd inode, whose memory policy `kvm_gmem_alloc_folio()` would read: `new`
            // redirects that function for the test.
            // SAFETY: The file is live until dropped.
            GmemInode(NonNull::new(unsafe { (*self.0.as_ptr()).f_inode }).unwrap())
        }
    }

    impl Drop for TestFile {
        fn drop(&mut self) {
            // SAFETY: We hold the reference that anon_inode_create_getfile() returned.
            unsafe { bindings::fput(self.0.as_ptr()) };
        }
    }

    #[test]
    fn page_cache_keeps_folios_out_of_the_direct_map() -> Result {
        let file = TestFile::new()?;
        let folio = test_folio()?;
        let raw = folio.0.as_ptr();
        // Still in the direct map: mm must remove it on insertion.
        assert!(readable(raw));
        let inserted = folio.insert(&file.inode(), 0)?;
        // SAFETY: A successful insertion returns the folio locked, with our reference.
        unsafe { bindings::folio_unlock(inserted) };
        assert!(!readable(raw));
        // Leaving the page cache puts it back; our reference keeps it allocated.
        // SAFETY: The mapping is live.
        unsafe { bindings::truncate_inode_pages(file.mapping(), 0) };
        assert!(readable(raw));
        // SAFETY: Drops the reference the insertion returned.
        unsafe { bindings::folio_put(inserted) };
        Ok(())
    }

    #[test]
    fn empty_batch_flushes_nothing() -> Result {
        let before = ZAP_BATCHES.load(Ordering::Relaxed);
        zap_direct_map(&mut [])?;
        assert_eq!(ZAP_BATCHES.load(Ordering::Relaxed), before);
        Ok(())
    }

    #[test]
    fn fault_around_window_is_aligned_and_cut_at_the_size() {
        let n = FAULT_AROUND;
        assert_eq!(fault_around_window(0, 10 * n), (0, n));
        assert_eq!(fault_around_window(n + 3, 10 * n), (n, 2 * n));
        assert_eq!(
            fault_around_window(9 * n + 1, 9 * n + 2),
            (9 * n, 9 * n + 2)
        );
        // Never without the index itself, even past the size.
        assert_eq!(fault_around_window(n + 1, 0), (n, n + 2));
    }

    /// Whether the file has a folio at `index`, and it is out of the direct map.
    fn present_and_removed(inode: &GmemInode, index: PageIndex) -> bool {
        let Ok(folio) = inode.lookup(index) else {
            return false;
        };
        let removed = !readable(folio);
        // SAFETY: `lookup` returned the folio locked and with a reference.
        unsafe {
            bindings::folio_unlock(folio);
            bindings::folio_put(folio);
        }
        removed
    }

    #[test]
    fn fault_creates_its_window_with_one_flush() -> Result {
        let file = TestFile::new()?;
        let inode = file.inode();
        let n = FAULT_AROUND;
        file.set_size_in_pages(2 * n + n / 2);

        let before = ZAP_BATCHES.load(Ordering::Relaxed);
        let folio = get_folio(&inode, n + 1, true)?;
        assert_eq!(ZAP_BATCHES.load(Ordering::Relaxed), before + 1);
        assert!(!readable(folio));
        // SAFETY: get_folio() returned the folio locked and with a reference.
        unsafe {
            bindings::folio_unlock(folio);
            bindings::folio_put(folio);
        }
        for index in 0..2 * n + n / 2 {
            assert_eq!(
                present_and_removed(&inode, index),
                (n..2 * n).contains(&index)
            );
        }

        // The last window stops at the end of the file; a fault on a created folio creates
        // nothing.
        let folio = get_folio(&inode, 2 * n, true)?;
        // SAFETY: get_folio() returned the folio locked and with a reference.
        unsafe {
            bindings::folio_unlock(folio);
            bindings::folio_put(folio);
        }
        let folio = get_folio(&inode, n, true)?;
        // SAFETY: get_folio() returned the folio locked and with a reference.
        unsafe {
            bindings::folio_unlock(folio);
            bindings::folio_put(folio);
        }
        assert_eq!(ZAP_BATCHES.load(Ordering::Relaxed), before + 2);
        for index in n..2 * n + n / 2 {
            assert!(present_and_removed(&inode, index));
        }
        assert!(inode.lookup(2 * n + n / 2).err() == Some(ENOENT));

        // SAFETY: The mapping is live.
        unsafe { bindings::truncate_inode_pages(file.mapping(), 0) };
        Ok(())
    }
}
