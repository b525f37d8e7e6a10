// SPDX-License-Identifier: GPL-2.0

//! KUnit tests of `guest_memfd_ndm.rs`.
//!
//! They run the code on a file of their own whose mapping has `AS_NO_DIRECT_MAP`, with folios
//! allocated without a memory policy, and count the kernel TLB flushes where they happen: a
//! kprobe on `flush_tlb_kernel_range()` that counts only the calls of the test's own task, so
//! that a VM running beside the tests does not change the count.

use kernel::prelude::*;

#[kunit_tests(kvm_gmem_no_direct_map)]
mod tests {
    use super::super::*;
    use core::{
        ptr::{self, NonNull},
        sync::atomic::{AtomicPtr, AtomicUsize, Ordering},
    };
    use kernel::{
        alloc::flags::GFP_KERNEL,
        error::from_err_ptr,
        ffi::c_int,
        mm::{direct_map::folio_in_direct_map, folio::Folio},
        sync::aref::ARef,
        task::Task,
        types::Opaque,
    };

    /// Calls of `flush_tlb_kernel_range()` by [`FLUSHING_TASK`] since it was set.
    static FLUSHES: AtomicUsize = AtomicUsize::new(0);
    /// The task whose flushes [`FLUSHES`] counts.
    static FLUSHING_TASK: AtomicPtr<bindings::task_struct> = AtomicPtr::new(ptr::null_mut());

    /// The kprobe's handler: counts a flush of the task under test.
    ///
    /// # Safety
    ///
    /// Called by the kprobe core only.
    unsafe extern "C" fn count_flush(
        _probe: *mut bindings::kprobe,
        _regs: *mut bindings::pt_regs,
    ) -> c_int {
        if Task::current_raw() == FLUSHING_TASK.load(Ordering::Relaxed) {
            FLUSHES.fetch_add(1, Ordering::Relaxed);
        }
        0
    }

    /// Counts the kernel TLB flushes of the current task while it lives.
    ///
    /// # Invariants
    ///
    /// `self.0` is a kprobe registered with `register_kprobe()`.
    struct FlushCount(KBox<Opaque<bindings::kprobe>>);

    impl FlushCount {
        fn start() -> Result<Self> {
            let probe = KBox::new(Opaque::<bindings::kprobe>::zeroed(), GFP_KERNEL)?;
            let raw = probe.get();
            FLUSHES.store(0, Ordering::Relaxed);
            FLUSHING_TASK.store(Task::current_raw(), Ordering::Relaxed);
            // SAFETY: The kprobe is all zeroes, not registered yet, and lives in the box until it
            // is unregistered by `drop`.
            let registered = kernel::error::to_result(unsafe {
                (*raw).symbol_name = c"flush_tlb_kernel_range".as_char_ptr();
                (*raw).pre_handler = Some(count_flush);
                bindings::register_kprobe(raw)
            });
            if let Err(e) = registered {
                FLUSHING_TASK.store(ptr::null_mut(), Ordering::Relaxed);
                return Err(e);
            }
            // INVARIANT: Registered just above.
            Ok(Self(probe))
        }

        /// Flushes counted so far.
        fn get(&self) -> usize {
            FLUSHES.load(Ordering::Relaxed)
        }
    }

    impl Drop for FlushCount {
        fn drop(&mut self) {
            // SAFETY: By the type invariants the kprobe is registered.
            unsafe { bindings::unregister_kprobe(self.0.get()) };
            FLUSHING_TASK.store(ptr::null_mut(), Ordering::Relaxed);
        }
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

    /// Allocates one folio, as the memory policy would, but without one.
    fn alloc_without_policy(_index: PageIndex, _max: usize) -> Result<KVec<NewFolio>> {
        let mut folios = KVec::with_capacity(1, GFP_KERNEL)?;
        folios.push(NewFolio::alloc(GFP_KERNEL)?, GFP_KERNEL)?;
        Ok(folios)
    }

    impl TestFile {
        /// A file of `pages` pages.
        fn new(pages: PageIndex) -> Result<Self> {
            // SAFETY: The name is a C string and the operations are 'static.
            let file = from_err_ptr(unsafe {
                bindings::anon_inode_create_getfile(
                    c"kvm_gmem_ndm_test".as_char_ptr(),
                    &TEST_FOPS.0,
                    ptr::null_mut(),
                    bindings::O_RDWR as i32,
                    ptr::null(),
                )
            })?;
            let file = TestFile(NonNull::new(file).ok_or(ENOMEM)?);
            let size = i64::try_from(pages << kernel::page::PAGE_SHIFT)?;
            // SAFETY: The file is live and only this test uses it; its mapping has no folio yet.
            // On 64-bit, i_size_write() is this plain store.
            unsafe {
                bindings::mapping_set_no_direct_map(file.mapping().as_raw());
                (*(*file.0.as_ptr()).f_inode).i_size = size;
            }
            Ok(file)
        }

        fn mapping(&self) -> &AddressSpace {
            // SAFETY: The file, and so its mapping, is live until dropped.
            unsafe { AddressSpace::from_raw((*self.0.as_ptr()).f_mapping) }
        }

        /// The file as the code under test sees a guest_memfd.
        fn gmem(&self) -> Result<Gmem<'_>> {
            // SAFETY: The file is live until dropped.
            let size = unsafe { (*(*self.0.as_ptr()).f_inode).i_size } >> kernel::page::PAGE_SHIFT;
            Gmem::new(
                self.mapping(),
                PageIndex::try_from(size)?,
                &alloc_without_policy,
            )
        }

        /// Takes every folio out of the page cache, which puts it back into the direct map.
        fn truncate(&self) {
            // SAFETY: The mapping is live.
            unsafe { bindings::truncate_inode_pages(self.mapping().as_raw(), 0) };
        }
    }

    impl Drop for TestFile {
        fn drop(&mut self) {
            self.truncate();
            // SAFETY: We hold the reference that anon_inode_create_getfile() returned.
            unsafe { bindings::fput(self.0.as_ptr()) };
        }
    }

    /// The folio at `index`, if any, with a reference.
    fn folio_at(file: &TestFile, index: PageIndex) -> Option<ARef<Folio>> {
        file.mapping()
            .lock_folio(index)
            .ok()
            .map(|locked| ARef::from(&*locked))
    }

    // A failed assertion ends a KUnit test without running destructors, so each test below
    // takes its measurements, drops its kprobe and its file (which truncates it, putting every
    // folio back into the direct map), and only then asserts.

    #[test]
    fn removed_folio_is_out_of_the_direct_map_until_it_leaves_the_page_cache() -> Result {
        let file = TestFile::new(1)?;
        let folio = get_folio(&file.gmem()?, 0, false)?;
        let held = ARef::from(&*folio);
        drop(folio);
        let out_in_page_cache = !folio_in_direct_map(&held);
        file.truncate();
        let back_after_truncation = folio_in_direct_map(&held);
        drop(file);
        assert!(out_in_page_cache);
        assert!(back_after_truncation);
        Ok(())
    }

    #[test]
    fn fill_removes_a_batch_with_one_flush() -> Result {
        let n = FILL_BATCH as PageIndex;
        let file = TestFile::new(2 * n)?;
        let count = FlushCount::start()?;
        let next = fill(&file.gmem()?, 0, 2 * n)?;
        let flushes = count.get();
        drop(count);
        // Index by index: whether there is a folio, and whether it is out of the direct map.
        let mut wrong = 0;
        for index in 0..2 * n {
            let folio = folio_at(&file, index);
            let expected = index < n;
            if folio.is_some() != expected || folio.is_some_and(|f| folio_in_direct_map(&f)) {
                wrong += 1;
            }
        }
        drop(file);
        assert_eq!(next, n);
        assert_eq!(flushes, 1);
        assert_eq!(wrong, 0);
        Ok(())
    }

    #[test]
    fn filling_a_full_range_flushes_nothing() -> Result {
        let file = TestFile::new(4)?;
        let gmem = file.gmem()?;
        fill(&gmem, 0, 4)?;
        let count = FlushCount::start()?;
        let next = fill(&gmem, 0, 4)?;
        let flushes = count.get();
        drop(count);
        drop(file);
        assert_eq!(next, 4);
        assert_eq!(flushes, 0);
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

    #[test]
    fn fault_creates_its_window_with_one_flush() -> Result {
        let n = FAULT_AROUND;
        let size = 2 * n + n / 2;
        let file = TestFile::new(size)?;
        let gmem = file.gmem()?;
        let count = FlushCount::start()?;

        let folio = get_folio(&gmem, n + 1, true)?;
        let first_flushes = count.get();
        let first_out = !folio_in_direct_map(&folio);
        drop(folio);
        let first_window =
            (0..size).all(|i| folio_at(&file, i).is_some() == (n..2 * n).contains(&i));

        // The last window stops at the end of the file; a fault on a created folio creates
        // nothing.
        drop(get_folio(&gmem, 2 * n, true)?);
        drop(get_folio(&gmem, n, true)?);
        let flushes = count.get();
        drop(count);
        let all_out =
            (n..size).all(|i| folio_at(&file, i).is_some_and(|f| !folio_in_direct_map(&f)));
        let none_past_the_end = folio_at(&file, size).is_none();
        drop(file);

        assert_eq!(first_flushes, 1);
        assert!(first_out);
        assert!(first_window);
        assert_eq!(flushes, 2);
        assert!(all_out);
        assert!(none_past_the_end);
        Ok(())
    }
}
