// SPDX-License-Identifier: GPL-2.0

#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/pagemap.h>

__rust_helper struct folio *rust_helper_folio_alloc(gfp_t gfp, unsigned int order)
{
	return folio_alloc(gfp, order);
}

__rust_helper void rust_helper_folio_put(struct folio *folio)
{
	folio_put(folio);
}

__rust_helper void *rust_helper_folio_address(const struct folio *folio)
{
	return folio_address(folio);
}

__rust_helper size_t rust_helper_folio_size(const struct folio *folio)
{
	return folio_size(folio);
}

__rust_helper void rust_helper_folio_zero_range(struct folio *folio, size_t start,
						size_t length)
{
	folio_zero_range(folio, start, length);
}

__rust_helper void rust_helper___folio_mark_uptodate(struct folio *folio)
{
	__folio_mark_uptodate(folio);
}

__rust_helper struct folio *rust_helper_filemap_lock_folio(struct address_space *mapping,
							   pgoff_t index)
{
	return filemap_lock_folio(mapping, index);
}

__rust_helper gfp_t rust_helper_mapping_gfp_mask(struct address_space *mapping)
{
	return mapping_gfp_mask(mapping);
}

__rust_helper void rust_helper_mapping_set_no_direct_map(struct address_space *mapping)
{
	mapping_set_no_direct_map(mapping);
}

__rust_helper loff_t rust_helper_i_size_read(const struct inode *inode)
{
	return i_size_read(inode);
}
