// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit tests for AS_NO_DIRECT_MAP: folios of such a mapping are out of the
 * direct map while they are in the page cache, leave it cleared and mapped,
 * and no other path of mm reads or writes them through the direct map.
 *
 * Each test uses an anonymous inode of its own with AS_NO_DIRECT_MAP set, as
 * an owner would set it; its folios come from folio_alloc().
 */
#include <kunit/test.h>
#include <kunit/visibility.h>
#include <linux/anon_inodes.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/highmem.h>
#include <linux/kprobes.h>
#include <linux/migrate.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/set_memory.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#include <asm/tlbflush.h>

#include "../internal.h"

MODULE_IMPORT_NS("EXPORTED_FOR_KUNIT_TESTING");

#define FILL_BYTE	0xa5

static const struct file_operations no_direct_map_test_fops = {};

/* A file whose mapping has AS_NO_DIRECT_MAP; the caller fput()s it. */
static struct file *no_direct_map_file(struct kunit *test)
{
	struct file *file;

	file = anon_inode_create_getfile("no_direct_map_test", &no_direct_map_test_fops,
					 NULL, O_RDWR, NULL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, file);
	mapping_set_no_direct_map(file->f_mapping);
	return file;
}

KUNIT_DEFINE_ACTION_WRAPPER(fput_wrapper, fput, struct file *);

/* The mapping of a file that is closed when the test ends. */
static struct address_space *no_direct_map_mapping(struct kunit *test)
{
	struct file *file = no_direct_map_file(test);

	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, fput_wrapper, file), 0);
	return file->f_mapping;
}

/* A folio of @order, every byte FILL_BYTE, up to date; we hold its reference. */
static struct folio *filled_folio(struct kunit *test, unsigned int order)
{
	struct folio *folio = folio_alloc(GFP_KERNEL, order);

	KUNIT_ASSERT_NOT_NULL(test, folio);
	memset(folio_address(folio), FILL_BYTE, folio_size(folio));
	__folio_mark_uptodate(folio);
	return folio;
}

/* Whether every page of @folio can be read through the direct map. */
static bool folio_readable(struct folio *folio)
{
	long i;
	u8 byte;

	for (i = 0; i < folio_nr_pages(folio); i++) {
		if (copy_from_kernel_nofault(&byte, folio_address(folio) + i * PAGE_SIZE, 1))
			return false;
	}
	return true;
}

/* Whether @folio holds only zeroes; it must be readable. */
static bool folio_cleared(struct folio *folio)
{
	return !memchr_inv(folio_address(folio), 0, folio_size(folio));
}

/* Puts @folio back into the direct map if a failed check left it out, then drops it. */
static void put_mapped(struct folio *folio)
{
	if (!folio_readable(folio))
		folio_restore_direct_map(folio);
	folio_put(folio);
}

/* Whether @mapping has nothing at @index; drops the reference a look-up took. */
static bool no_entry(struct address_space *mapping, pgoff_t index)
{
	void *entry = filemap_get_entry(mapping, index);

	if (entry && !xa_is_value(entry))
		folio_put(entry);
	return !entry;
}

/* Inserts @folio at @index of @mapping and unlocks it; our reference stays ours. */
static void insert(struct kunit *test, struct address_space *mapping, struct folio *folio,
		   pgoff_t index)
{
	KUNIT_ASSERT_EQ(test, filemap_add_folio(mapping, folio, index, GFP_KERNEL), 0);
	folio_unlock(folio);
	KUNIT_EXPECT_FALSE_MSG(test, folio_readable(folio),
			       "A folio in the page cache is in the direct map");
}

/*
 * Takes a folio out of the page cache with @remove while we still hold a
 * reference: it must be back in the direct map and hold none of its data.
 */
static void check_left_mapped_and_cleared(struct kunit *test,
					  void (*remove)(struct kunit *test,
							 struct address_space *mapping))
{
	struct address_space *mapping = no_direct_map_mapping(test);
	struct folio *folio = filled_folio(test, 0);

	insert(test, mapping, folio, 0);
	remove(test, mapping);
	KUNIT_EXPECT_TRUE(test, no_entry(mapping, 0));
	KUNIT_EXPECT_TRUE(test, folio_readable(folio));
	if (folio_readable(folio))
		KUNIT_EXPECT_TRUE_MSG(test, folio_cleared(folio),
				      "Data left in a folio that left the page cache");
	put_mapped(folio);
}

static void remove_by_truncation(struct kunit *test, struct address_space *mapping)
{
	truncate_inode_pages(mapping, 0);
}

/* folio_unmap_invalidate(), the path of invalidate_inode_pages2() */
static void remove_by_invalidation(struct kunit *test, struct address_space *mapping)
{
	KUNIT_EXPECT_EQ(test, invalidate_inode_pages2(mapping), 0);
}

static void truncated_folio_is_mapped_and_cleared(struct kunit *test)
{
	check_left_mapped_and_cleared(test, remove_by_truncation);
}

static void invalidated_folio_is_mapped_and_cleared(struct kunit *test)
{
	check_left_mapped_and_cleared(test, remove_by_invalidation);
}

/*
 * A poisoned page (memory_failure() may have taken it out of the direct map
 * itself) is neither mapped again nor written when it leaves the page cache;
 * its neighbour is handled as usual.
 */
static void poisoned_page_stays_out_of_the_direct_map(struct kunit *test)
{
	struct address_space *mapping = no_direct_map_mapping(test);
	struct folio *poisoned = filled_folio(test, 0);
	struct folio *healthy = filled_folio(test, 0);

	if (!IS_ENABLED(CONFIG_MEMORY_FAILURE))
		kunit_skip(test, "needs CONFIG_MEMORY_FAILURE");

	insert(test, mapping, poisoned, 0);
	insert(test, mapping, healthy, 1);
	SetPageHWPoison(folio_page(poisoned, 0));
	truncate_inode_pages(mapping, 0);

	KUNIT_EXPECT_FALSE_MSG(test, folio_readable(poisoned),
			       "A poisoned page went back into the direct map");
	KUNIT_EXPECT_TRUE(test, folio_readable(healthy));
	if (folio_readable(healthy))
		KUNIT_EXPECT_TRUE(test, folio_cleared(healthy));

	/* The test's own page: heal it and give it back mapped. */
	ClearPageHWPoison(folio_page(poisoned, 0));
	put_mapped(poisoned);
	put_mapped(healthy);
}

#define BATCH	4

/*
 * The pages of one order-2 block as BATCH order-0 folios, put into @folios
 * in the order @order gives (each entry the index of a page in the block),
 * every byte FILL_BYTE; we hold their references. Returns the block's first
 * page.
 */
static struct page *block_folios(struct kunit *test, struct folio **folios,
				 const unsigned int *order)
{
	struct page *page = alloc_pages(GFP_KERNEL, ilog2(BATCH));
	int i;

	KUNIT_ASSERT_NOT_NULL(test, page);
	split_page(page, ilog2(BATCH));
	for (i = 0; i < BATCH; i++) {
		folios[i] = page_folio(page + order[i]);
		memset(folio_address(folios[i]), FILL_BYTE, PAGE_SIZE);
	}
	return page;
}

/* Pages 0, 2, 1, 3 of a block: the runs {0}, {2, 1} and {3}. */
static const unsigned int interleaved[BATCH] = { 0, 2, 1, 3 };

/* Pages a failing removal changes before it fails. */
static unsigned int pages_before_failure;

/*
 * Removes a run of pages page by page and fails once pages_before_failure
 * pages were removed, leaving them removed: what x86's CPA code does when it
 * cannot allocate a page table for a later chunk.
 */
static int set_direct_map_failing(struct page *page, unsigned int nr, bool valid)
{
	unsigned int i;
	int err;

	if (valid)
		return set_direct_map_valid_noflush(page, nr, true);
	for (i = 0; i < nr; i++) {
		err = set_direct_map_valid_noflush(pfn_to_page(page_to_pfn(page) + i), 1, false);
		if (err)
			return err;
		if (--pages_before_failure == 0)
			return -ENOMEM;
	}
	return 0;
}

static void failure_at_page_desc(const unsigned int *page, char *desc)
{
	snprintf(desc, KUNIT_PARAM_DESC_SIZE, "failure at page %u of %u", *page, BATCH);
}

static const unsigned int failing_pages[] = { 1, 2, 3, 4 };
KUNIT_ARRAY_PARAM(failing_page, failing_pages, failure_at_page_desc);

/*
 * A batch that fails at any page leaves every page of every folio mapped:
 * the failure falls into a run of one folio or of two, after none, one or
 * two runs removed.
 */
static void failed_batch_leaves_every_page_mapped(struct kunit *test)
{
	const unsigned int *failing = test->param_value;
	struct folio *folios[BATCH];
	int i;

	block_folios(test, folios, interleaved);
	pages_before_failure = *failing;
	KUNIT_EXPECT_EQ(test, __folios_zap_direct_map(folios, BATCH, set_direct_map_failing),
			-ENOMEM);
	/* Or a stale TLB entry would make an unmapped page look mapped. */
	flush_tlb_all();
	for (i = 0; i < BATCH; i++) {
		KUNIT_EXPECT_TRUE_MSG(test, folio_readable(folios[i]),
				      "folio %d is out of the direct map", i);
		put_mapped(folios[i]);
	}
}

/* The direct map updates a removal made, as set_direct_map_counting() saw them. */
static unsigned int direct_map_updates;
static struct page *updated_page;
static unsigned int updated_nr;

static int set_direct_map_counting(struct page *page, unsigned int nr, bool valid)
{
	if (!valid) {
		direct_map_updates++;
		updated_page = page;
		updated_nr = nr;
	}
	return set_direct_map_valid_noflush(page, nr, valid);
}

struct batch_order {
	const char *name;
	unsigned int order[BATCH];
	unsigned int updates;
};

static const struct batch_order batch_orders[] = {
	{ "ascending pfns", { 0, 1, 2, 3 }, 1 },
	{ "descending pfns", { 3, 2, 1, 0 }, 1 },
	{ "interleaved pfns", { 0, 2, 1, 3 }, 3 },
};

static void batch_order_desc(const struct batch_order *order, char *desc)
{
	snprintf(desc, KUNIT_PARAM_DESC_SIZE, "%s", order->name);
}

KUNIT_ARRAY_PARAM(batch_order, batch_orders, batch_order_desc);

/*
 * Folios that follow each other in physical memory, in ascending or
 * descending order, leave the direct map in one update of the whole block;
 * folios that do not, in one update per run. Each update is a page-table
 * walk, and the first in a large mapping a split.
 */
static void folios_leave_in_one_update_per_run(struct kunit *test)
{
	const struct batch_order *order = test->param_value;
	struct folio *folios[BATCH];
	struct page *page;
	int i;

	page = block_folios(test, folios, order->order);
	direct_map_updates = 0;
	KUNIT_EXPECT_EQ(test, __folios_zap_direct_map(folios, BATCH, set_direct_map_counting), 0);
	KUNIT_EXPECT_EQ(test, direct_map_updates, order->updates);
	if (order->updates == 1) {
		KUNIT_EXPECT_PTR_EQ(test, updated_page, page);
		KUNIT_EXPECT_EQ(test, updated_nr, BATCH);
	}
	for (i = 0; i < BATCH; i++) {
		KUNIT_EXPECT_FALSE(test, folio_readable(folios[i]));
		if (!folio_readable(folios[i]))
			folio_restore_direct_map(folios[i]);
		folio_put(folios[i]);
	}
}

#if IS_ENABLED(CONFIG_KPROBES) && (IS_ENABLED(CONFIG_X86) || IS_ENABLED(CONFIG_ARM64))
/*
 * Where the kernel TLB flushes of a removal are counted. On x86 the batch's
 * flush is a call of the out-of-line flush_tlb_kernel_range(); x86's own
 * direct map code flushes otherwise (flush_tlb_all(), cpa_flush()), so there
 * the case checks the batch's flush only. arm64 inlines flush_tlb_kernel_range():
 * the batch's flush is counted in direct_map_flush(), and the architecture's
 * in __change_memory_common(), the only function of its direct map updates
 * that flushes (counted per call; it flushes on every call that invalidates).
 */
struct flush_probe {
	struct kprobe kp;
	/* Whether the second argument is a size rather than an end address. */
	bool size_arg;
	/* An architecture's static function, which a compiler may inline. */
	bool may_be_missing;
};

#if defined(CONFIG_X86)
static const struct flush_probe flush_probes[] = {
	{ .kp.symbol_name = "flush_tlb_kernel_range" },
};
#elif defined(CONFIG_ARM64)
static const struct flush_probe flush_probes[] = {
	{ .kp.symbol_name = "direct_map_flush" },
	{ .kp.symbol_name = "__change_memory_common", .size_arg = true, .may_be_missing = true },
};
#endif

/* The test's task and its folios' direct map addresses: only their flushes count. */
static struct task_struct *flushing_task;
static unsigned long flush_start, flush_end;
static atomic_t flushes;

/*
 * Counts a flush of the test's folios by the test's task: a flush made by an
 * interrupt on the way (KFENCE, debug_pagealloc) is of other addresses. (Not
 * in_task(): x86 runs kprobe handlers from int3, as an NMI.)
 */
static int count_flush(struct kprobe *kp, struct pt_regs *regs)
{
	struct flush_probe *probe = container_of(kp, struct flush_probe, kp);
	unsigned long start = regs_get_kernel_argument(regs, 0);
	unsigned long end = regs_get_kernel_argument(regs, 1);

	if (probe->size_arg)
		end += start;
	if (current == READ_ONCE(flushing_task) &&
	    start < READ_ONCE(flush_end) && end > READ_ONCE(flush_start))
		atomic_inc(&flushes);
	return 0;
}

/*
 * A batch removed in several runs (one update each) costs the kernel TLB one
 * flush, not one per update: the architecture's set_direct_map_valid_noflush()
 * leaves the flush to the caller, as its name says.
 */
static void batch_removal_flushes_once(struct kunit *test)
{
	struct flush_probe probes[ARRAY_SIZE(flush_probes)];
	const struct flush_probe *unprobed = NULL;
	struct folio *folios[BATCH];
	unsigned int registered;
	struct page *block;
	int err = 0, i;

	memcpy(probes, flush_probes, sizeof(probes));
	block = block_folios(test, folios, interleaved);
	atomic_set(&flushes, 0);
	WRITE_ONCE(flush_start, (unsigned long)page_address(block));
	WRITE_ONCE(flush_end, flush_start + BATCH * PAGE_SIZE);
	WRITE_ONCE(flushing_task, current);
	for (registered = 0; registered < ARRAY_SIZE(probes); registered++) {
		probes[registered].kp.pre_handler = count_flush;
		err = register_kprobe(&probes[registered].kp);
		if (err) {
			unprobed = &flush_probes[registered];
			break;
		}
	}
	if (!err)
		KUNIT_EXPECT_EQ(test, folios_zap_direct_map(folios, BATCH), 0);
	while (registered--)
		unregister_kprobe(&probes[registered].kp);
	WRITE_ONCE(flushing_task, NULL);
	for (i = 0; i < BATCH; i++) {
		if (!folio_readable(folios[i]))
			folio_restore_direct_map(folios[i]);
		folio_put(folios[i]);
	}
	if (err == -ENOENT && unprobed->may_be_missing)
		kunit_skip(test, "no symbol %s to probe", unprobed->kp.symbol_name);
	KUNIT_ASSERT_EQ_MSG(test, err, 0, "no kprobe on %s",
			    unprobed ? unprobed->kp.symbol_name : "");
	KUNIT_EXPECT_EQ_MSG(test, atomic_read(&flushes), 1,
			    "kernel TLB flushes removing %d folios in 3 runs", BATCH);
}
#else
static void batch_removal_flushes_once(struct kunit *test)
{
	kunit_skip(test, "needs CONFIG_KPROBES, and x86 or arm64");
}
#endif

/*
 * Large folios are refused: restoring part of a removed large folio after a
 * split could need a page table that cannot be allocated.
 */
static void large_folio_is_refused(struct kunit *test)
{
	struct address_space *mapping = no_direct_map_mapping(test);
	struct folio *folio = filled_folio(test, 2);

	KUNIT_EXPECT_EQ(test, folio_zap_direct_map(folio), -EINVAL);
	KUNIT_EXPECT_TRUE(test, folio_readable(folio));
	if (!folio_readable(folio))
		folio_restore_direct_map(folio);

	KUNIT_EXPECT_EQ(test, filemap_add_folio(mapping, folio, 0, GFP_KERNEL), -EINVAL);
	KUNIT_EXPECT_TRUE(test, no_entry(mapping, 0));
	KUNIT_EXPECT_TRUE(test, folio_readable(folio));
	truncate_inode_pages(mapping, 0);
	put_mapped(folio);
}

/*
 * @folio is still at index 0 of @file, out of the direct map; then the file
 * is truncated and released, and our reference dropped.
 */
static void check_kept_and_release(struct kunit *test, struct file *file, struct folio *folio)
{
	void *entry = filemap_get_entry(file->f_mapping, 0);

	KUNIT_EXPECT_PTR_EQ(test, entry, (void *)folio);
	if (entry && !xa_is_value(entry))
		folio_put(entry);
	KUNIT_EXPECT_FALSE(test, folio_readable(folio));

	truncate_inode_pages(file->f_mapping, 0);
	put_mapped(folio);
	fput(file);
}

/*
 * Truncating part of a folio must not zero the rest through the direct map
 * (the whole folio is cleared when it leaves). The file is released at the
 * end rather than by a deferred action: should the test oops with the folio
 * locked, nothing waits for that lock.
 */
static void partial_truncation_does_not_write(struct kunit *test)
{
	struct file *file = no_direct_map_file(test);
	struct folio *folio = filled_folio(test, 0);

	insert(test, file->f_mapping, folio, 0);
	truncate_inode_pages_range(file->f_mapping, 100, PAGE_SIZE - 1);
	check_kept_and_release(test, file, folio);
}

/*
 * Migration would copy the folio through the direct map: such folios are
 * not migrated, and stay where they are, out of the direct map. The file is
 * released at the end, as above.
 */
static void migration_is_refused(struct kunit *test)
{
	struct migration_target_control mtc = {
		.nid = NUMA_NO_NODE,
		.gfp_mask = GFP_KERNEL,
	};
	struct file *file;
	struct folio *folio;
	LIST_HEAD(folios);
	int ret;

	if (!IS_ENABLED(CONFIG_MIGRATION))
		kunit_skip(test, "needs CONFIG_MIGRATION");

	file = no_direct_map_file(test);
	folio = filled_folio(test, 0);
	insert(test, file->f_mapping, folio, 0);

	lru_add_drain_all();
	KUNIT_ASSERT_TRUE(test, folio_isolate_lru(folio));
	list_add(&folio->lru, &folios);
	node_stat_mod_folio(folio, NR_ISOLATED_ANON + folio_is_file_lru(folio),
			    folio_nr_pages(folio));
	ret = migrate_pages(&folios, alloc_migration_target, NULL, (unsigned long)&mtc,
			    MIGRATE_SYNC, MR_SYSCALL, NULL);
	if (!list_empty(&folios))
		putback_movable_pages(&folios);

	KUNIT_EXPECT_NE(test, ret, 0);
	check_kept_and_release(test, file, folio);
}

/*
 * replace_page_cache_folio() (FUSE's splice moves pages with it) puts a new
 * folio where an old one was: the new one leaves the direct map as it enters
 * the page cache, and the old one leaves the page cache mapped and cleared.
 */
static void replace_takes_new_folio_out_and_clears_old(struct kunit *test)
{
	struct address_space *mapping = no_direct_map_mapping(test);
	struct folio *old = filled_folio(test, 0);
	struct folio *new = filled_folio(test, 0);
	void *entry;

	insert(test, mapping, old, 0);
	folio_lock(old);
	__folio_set_locked(new);
	replace_page_cache_folio(old, new);
	folio_unlock(new);
	folio_unlock(old);

	entry = filemap_get_entry(mapping, 0);
	KUNIT_EXPECT_PTR_EQ(test, entry, (void *)new);
	if (entry && !xa_is_value(entry))
		folio_put(entry);
	KUNIT_EXPECT_FALSE_MSG(test, folio_readable(new),
			       "The new folio entered the page cache in the direct map");
	KUNIT_EXPECT_TRUE(test, folio_readable(old));
	if (folio_readable(old))
		KUNIT_EXPECT_TRUE_MSG(test, folio_cleared(old),
				      "Data left in the folio that was replaced");

	truncate_inode_pages(mapping, 0);
	put_mapped(old);
	put_mapped(new);
}

static struct kunit_case no_direct_map_test_cases[] = {
	KUNIT_CASE(truncated_folio_is_mapped_and_cleared),
	KUNIT_CASE(invalidated_folio_is_mapped_and_cleared),
	KUNIT_CASE(poisoned_page_stays_out_of_the_direct_map),
	KUNIT_CASE_PARAM(failed_batch_leaves_every_page_mapped, failing_page_gen_params),
	KUNIT_CASE_PARAM(folios_leave_in_one_update_per_run, batch_order_gen_params),
	KUNIT_CASE(batch_removal_flushes_once),
	KUNIT_CASE(large_folio_is_refused),
	KUNIT_CASE(partial_truncation_does_not_write),
	KUNIT_CASE(migration_is_refused),
	KUNIT_CASE(replace_takes_new_folio_out_and_clears_old),
	{}
};

/* Where the direct map cannot change at run time, no mapping gets the rule. */
static int no_direct_map_test_init(struct kunit *test)
{
	if (!can_set_direct_map())
		kunit_skip(test, "the direct map cannot be changed at run time");
	return 0;
}

static struct kunit_suite no_direct_map_test_suite = {
	.name = "no_direct_map",
	.init = no_direct_map_test_init,
	.test_cases = no_direct_map_test_cases,
};

kunit_test_suite(no_direct_map_test_suite);

MODULE_DESCRIPTION("KUnit tests for AS_NO_DIRECT_MAP");
MODULE_LICENSE("GPL");
