// SPDX-License-Identifier: GPL-2.0

#include <linux/fs.h>
#include <linux/pagemap.h>

__rust_helper struct folio *rust_helper_filemap_lock_folio(struct address_space *mapping,
							   pgoff_t index)
{
	return filemap_lock_folio(mapping, index);
}

__rust_helper gfp_t rust_helper_mapping_gfp_mask(struct address_space *mapping)
{
	return mapping_gfp_mask(mapping);
}

__rust_helper bool rust_helper_mapping_no_direct_map(const struct address_space *mapping)
{
	return mapping_no_direct_map(mapping);
}

__rust_helper void rust_helper_mapping_set_no_direct_map(struct address_space *mapping)
{
	mapping_set_no_direct_map(mapping);
}
