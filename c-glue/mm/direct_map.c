// SPDX-License-Identifier: GPL-2.0-only
/*
 * Removing folios from the kernel direct map and putting them back.
 *
 * Memory that the kernel never needs to touch (secretmem, guest_memfd without
 * a direct map) is taken out of the direct map so that no kernel code - and
 * no speculatively executed kernel code - can reach it through that alias.
 * These helpers own the TLB flush that goes with a removal, so that callers,
 * modules included, never see the raw set_direct_map_*() and
 * flush_tlb_kernel_range() interfaces.
 */

#include <kunit/visibility.h>
#include <linux/export.h>
#include <linux/highmem.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/set_memory.h>
#include <asm/tlbflush.h>

#include "internal.h"

static int folio_set_direct_map_valid(struct folio *folio, bool valid)
{
	return set_direct_map_valid_noflush(folio_page(folio, 0),
					    folio_nr_pages(folio), valid);
}

static void folio_restore_direct_map_noflush(struct folio *folio)
{
	/*
	 * Removal already split any large mapping covering the folio, so
	 * making the entries valid again needs no memory. Should an
	 * architecture still fail here, the folio stays unmapped and the
	 * kernel oopses on its next access rather than reading freed memory
	 * through a stale alias; say so loudly.
	 */
	WARN_ON_ONCE(folio_set_direct_map_valid(folio, true));
}

/*
 * The number of folios from @folios[@i] on whose pages follow each other in
 * physical memory, in ascending or descending order, none of them highmem;
 * *@first is the lowest page of them. The page allocator often hands out
 * order-0 pages in such runs, and one direct map update for a run is one
 * page-table walk rather than one per page.
 *
 * A run is shorter than a PMD: one that covered a whole large mapping could
 * leave it large and invalid (x86's CPA does), and restoring one folio of it
 * would then need a page table, which the restore must never need.
 */
static unsigned int direct_map_run(struct folio **folios, unsigned int i,
				   unsigned int nr, struct page **first)
{
	unsigned long pfn = folio_pfn(folios[i]);
	unsigned int len = 1;
	long step = 0;

	if (i + 1 < nr && !folio_test_highmem(folios[i + 1])) {
		if (folio_pfn(folios[i + 1]) == pfn + 1)
			step = 1;
		else if (folio_pfn(folios[i + 1]) == pfn - 1)
			step = -1;
	}
	if (step) {
		while (i + len < nr && len < PTRS_PER_PMD - 1 &&
		       !folio_test_highmem(folios[i + len]) &&
		       folio_pfn(folios[i + len]) == pfn + step * len)
			len++;
	}
	*first = pfn_to_page(step < 0 ? pfn - (len - 1) : pfn);
	return len;
}

/*
 * The kernel TLB flush of a removal, once for a whole batch. Out of line and
 * never cloned, so that a test can count the flushes of a removal with a
 * kprobe by name on every architecture (arm64 inlines flush_tlb_kernel_range()).
 */
noinline __noclone void direct_map_flush(unsigned long start, unsigned long end)
{
	flush_tlb_kernel_range(start, end);
}

/*
 * The work of folios_zap_direct_map(), with the function that changes the
 * direct map entries of a run of pages as a parameter: KUnit tests count
 * its calls and make the architecture fail there.
 */
VISIBLE_IF_KUNIT int __folios_zap_direct_map(struct folio **folios, unsigned int nr,
					     direct_map_set_fn set_valid)
{
	unsigned long start = ULONG_MAX, end = 0;
	unsigned int i, len;
	int err;

	if (!can_set_direct_map())
		return -EOPNOTSUPP;

	/*
	 * Restoring part of a removed large folio once it is split could
	 * need a page table that cannot be allocated.
	 */
	for (i = 0; i < nr; i++) {
		if (folio_test_large(folios[i]))
			return -EINVAL;
	}

	for (i = 0; i < nr; i += len) {
		struct page *first;
		unsigned long addr;

		len = 1;
		if (folio_test_highmem(folios[i]))
			continue;
		len = direct_map_run(folios, i, nr, &first);
		err = set_valid(first, len, false);
		if (err) {
			/* The architecture may have changed part of the run. */
			i += len;
			goto restore;
		}
		addr = (unsigned long)page_address(first);
		start = min(start, addr);
		end = max(end, addr + len * PAGE_SIZE);
	}
	/*
	 * One flush covers the whole span. The folios need not be contiguous;
	 * architectures fall back to a full flush for a span this large.
	 */
	if (start < end)
		direct_map_flush(start, end);
	return 0;

restore:
	/*
	 * Entries that were only invalidated and never flushed are made valid
	 * again: a CPU that still caches one of them caches the same mapping.
	 * This includes the run that failed: x86's CPA code, for one, returns
	 * the error of a later chunk without undoing earlier ones.
	 */
	while (i--) {
		if (!folio_test_highmem(folios[i]))
			WARN_ON_ONCE(set_valid(folio_page(folios[i], 0), 1, true));
	}
	return err;
}
EXPORT_SYMBOL_IF_KUNIT(__folios_zap_direct_map);

/**
 * folios_zap_direct_map - Remove folios from the kernel direct map.
 * @folios: The folios to remove.
 * @nr: Number of entries in @folios.
 *
 * Remove every folio of @folios from the direct map, then flush the kernel
 * TLB once for all of them. Either all folios are removed or, on error, none
 * is: folios removed before the failure are restored before returning.
 *
 * Highmem folios are not part of the direct map; they are left alone and
 * count as removed. Large folios are refused.
 *
 * Context: Process context; may sleep to allocate page tables.
 * Return: 0 on success; -EINVAL if a folio is large; -EOPNOTSUPP if the
 * architecture cannot change the direct map at run time; -ENOMEM (or another
 * errno from the architecture) if splitting a large direct map entry failed.
 */
int folios_zap_direct_map(struct folio **folios, unsigned int nr)
{
	return __folios_zap_direct_map(folios, nr, set_direct_map_valid_noflush);
}
EXPORT_SYMBOL_FOR_MODULES(folios_zap_direct_map, "kvm");

/**
 * folio_zap_direct_map - Remove a folio from the kernel direct map.
 * @folio: The folio to remove.
 *
 * Remove all pages of @folio from the direct map and flush the kernel TLB
 * for them. See folios_zap_direct_map() for removing many folios with one
 * flush.
 *
 * Context: Process context; may sleep to allocate page tables.
 * Return: 0 on success (also for a highmem folio, which is not in the direct
 * map); -EINVAL for a large folio; -EOPNOTSUPP if the architecture cannot
 * change the direct map at run time; -ENOMEM (or another errno from the
 * architecture) if splitting a large direct map entry failed, in which case
 * the folio is still mapped.
 */
int folio_zap_direct_map(struct folio *folio)
{
	return folios_zap_direct_map(&folio, 1);
}

/**
 * folio_restore_direct_map - Put a folio back into the kernel direct map.
 * @folio: A folio removed by folio_zap_direct_map() or folios_zap_direct_map().
 *
 * Make the direct map entries of @folio valid again. No TLB flush is needed:
 * CPUs do not cache the invalid entries. Restoring cannot fail in practice,
 * as removal already split any large mapping; a failure is reported with a
 * one-time warning. Does nothing for a highmem folio, or if the architecture
 * cannot change the direct map.
 *
 * A hardware-poisoned page stays out of the direct map: memory_failure() may
 * have unmapped it itself, and nothing may touch it again.
 *
 * Context: Any context that may call set_direct_map_valid_noflush().
 */
void folio_restore_direct_map(struct folio *folio)
{
	long i;

	if (!can_set_direct_map() || folio_test_highmem(folio))
		return;
	if (likely(!folio_contain_hwpoisoned_page(folio))) {
		folio_restore_direct_map_noflush(folio);
		return;
	}
	for (i = 0; i < folio_nr_pages(folio); i++) {
		struct page *page = folio_page(folio, i);

		if (!PageHWPoison(page))
			WARN_ON_ONCE(set_direct_map_valid_noflush(page, 1, true));
	}
}
