/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Between guest_memfd.c and guest_memfd_ndm.rs, which creates the folios of
 * a guest_memfd without a direct map (GUEST_MEMFD_FLAG_NO_DIRECT_MAP).
 * rust/bindings/bindings_helper.h includes this header, so the compiler
 * checks that the C prototypes and the Rust definitions agree.
 */
#ifndef __KVM_GUEST_MEMFD_NDM_H
#define __KVM_GUEST_MEMFD_NDM_H

#include <linux/fs.h>
#include <linux/types.h>

struct folio;

/* In guest_memfd.c, for the Rust code. */
unsigned long kvm_gmem_alloc_folios(struct address_space *mapping, pgoff_t index,
				    struct folio **folios, unsigned long nr);

/* In guest_memfd_ndm.rs. */
struct folio *kvm_gmem_ndm_get_folio(struct address_space *mapping,
				     pgoff_t size, pgoff_t index,
				     bool fault_around);
long kvm_gmem_ndm_fill(struct address_space *mapping, pgoff_t size,
		       pgoff_t start, pgoff_t end);

#endif /* __KVM_GUEST_MEMFD_NDM_H */
