// SPDX-License-Identifier: GPL-2.0-only
/*
 * guest_memfd without a direct map when the direct map cannot be split.
 *
 * Removing a folio from the direct map splits a large direct-map entry
 * first, which needs a page table page, unless the folios removed together
 * cover the whole entry (a PMD-sized block, which x86 keeps as one large
 * entry, not present). Here fail_page_alloc fails exactly those allocations (its stack filter is set to the x86 CPA code that splits)
 * for this thread, while fallocate(), user faults and KVM's get_pfn create
 * folios. Each case checks that the caller sees the error the design gives
 * (-ENOMEM; a user fault retries), that every folio in the page cache is out
 * of the direct map and every other page in it (the page table dump against
 * mincore()), and that all works again once injection stops.
 *
 * Not part of the series: `make check-debug` builds it against the series'
 * KVM selftest library and runs it in a guest booted without debug_pagealloc
 * (which would leave no large entry to split) and without KFENCE sampling
 * (which changes the direct map on its own).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/falloc.h>
#include <linux/sizes.h>
#include <sys/mman.h>
#include <sys/mount.h>

#include "kselftest_harness.h"
#include "kvm_util.h"
#include "processor.h"
#include "test_util.h"
#include "ucall_common.h"

/*
 * A case allocates, checks and frees up to 1 GiB under TCG: the harness's
 * default of 30 s per case was seen running out (fallocate_fails_then_fills).
 */
#undef TEST_TIMEOUT_DEFAULT
#define TEST_TIMEOUT_DEFAULT 300

#define GMEM_NDM	(GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED | \
			 GUEST_MEMFD_FLAG_NO_DIRECT_MAP)
#define FAIL_DIR	"/sys/kernel/debug/fail_page_alloc/"
/* The x86 function whose calls split direct-map entries (set_memory.c). */
#define SPLIT_CALLER	"__change_page_attr_set_clr"
#define MANY		1000000L

static void write_file(const char *path, const char *value)
{
	int fd = open(path, O_WRONLY);

	TEST_ASSERT(fd >= 0, "open(%s) failed, errno %d", path, errno);
	TEST_ASSERT(write(fd, value, strlen(value)) == (ssize_t)strlen(value),
		    "writing '%s' to %s failed, errno %d", value, path, errno);
	close(fd);
}

static void knob(const char *name, const char *value)
{
	char path[128];

	snprintf(path, sizeof(path), FAIL_DIR "%s", name);
	write_file(path, value);
}

static long knob_value(const char *name)
{
	char path[128], buf[32] = "";
	int fd;

	snprintf(path, sizeof(path), FAIL_DIR "%s", name);
	fd = open(path, O_RDONLY);
	TEST_ASSERT(fd >= 0 && read(fd, buf, sizeof(buf) - 1) > 0,
		    "reading %s failed, errno %d", path, errno);
	close(fd);
	return strtol(buf, NULL, 0);
}

/* The text range of a kernel function: its address up to the next symbol's. */
static void symbol_range(const char *name, unsigned long *start, unsigned long *end)
{
	char line[256], sym[128], type;
	unsigned long addr;
	FILE *f = fopen("/proc/kallsyms", "r");

	TEST_ASSERT(f, "fopen(/proc/kallsyms) failed, errno %d", errno);
	*start = 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx %c %127s", &addr, &type, sym) == 3 &&
		    !strcmp(sym, name))
			*start = addr;
	TEST_ASSERT(*start, "%s is not in /proc/kallsyms", name);
	*end = ULONG_MAX;
	rewind(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx", &addr) == 1 && addr > *start && addr < *end)
			*end = addr;
	fclose(f);
}

/*
 * From now on, for this thread, allocations made from SPLIT_CALLER fail,
 * at most @times of them.
 */
static void inject_start(long times)
{
	unsigned long start, end;
	char buf[32];

	symbol_range(SPLIT_CALLER, &start, &end);
	knob("task-filter", "Y");
	knob("ignore-gfp-wait", "N");
	knob("ignore-gfp-highmem", "N");
	knob("min-order", "0");
	knob("verbose", "0");
	knob("interval", "1");
	knob("stacktrace-depth", "32");
	snprintf(buf, sizeof(buf), "0x%lx", start);
	knob("require-start", buf);
	snprintf(buf, sizeof(buf), "0x%lx", end);
	knob("require-end", buf);
	snprintf(buf, sizeof(buf), "%ld", times);
	knob("times", buf);
	knob("probability", "100");
	write_file("/proc/thread-self/make-it-fail", "1");
}

/* Stops injecting; returns how many failures were injected since @times. */
static long inject_stop(long times)
{
	long injected;

	write_file("/proc/thread-self/make-it-fail", "0");
	knob("probability", "0");
	injected = times - knob_value("times");
	/* Counted by `make check-debug`. */
	printf("# injected failures: %ld\n", injected);
	return injected;
}

/* Mapped bytes of the x86 direct map, from the page table dump. */
static long mapped_direct_map(void)
{
	long bytes = direct_map_bytes();

	TEST_ASSERT(bytes >= 0, "No direct map in %s", KERNEL_PTDUMP);
	return bytes;
}

/* Pages of the guest_memfd mapped at @mem that are in its page cache. */
static size_t resident_pages(void *mem, size_t size)
{
	size_t page_size = getpagesize(), n = size / page_size, i, resident = 0;
	unsigned char *vec = malloc(n);

	TEST_ASSERT(vec && !mincore(mem, size, vec), "mincore() failed, errno %d", errno);
	for (i = 0; i < n; i++)
		resident += vec[i] & 1;
	free(vec);
	return resident;
}

/*
 * Exactly the folios in the page cache are missing from the direct map: none
 * that failed is left out of it, none in the page cache is left in it.
 */
static void check_direct_map(long before, size_t resident, const char *when)
{
	long missing = before - mapped_direct_map();

	printf("# %s: %zu pages in the page cache, %ld kB missing from the direct map\n",
	       when, resident, missing >> 10);
	TEST_ASSERT(missing == (long)(resident * getpagesize()),
		    "%s: %zu pages in the page cache but %ld kB missing from the direct map",
		    when, resident, missing >> 10);
}

static void check_zero(const char *mem, size_t size)
{
	size_t i;

	for (i = 0; i < size; i += getpagesize())
		TEST_ASSERT(!mem[i], "Byte at offset 0x%zx is 0x%x, not 0", i, mem[i]);
}

struct setup {
	struct kvm_vm *vm;
	long before;
	size_t size;
	char *mem;
	int fd;
};

static void setup(struct setup *s, size_t size)
{
	s->before = mapped_direct_map();
	s->vm = vm_create_barebones();
	s->size = size;
	s->fd = vm_create_guest_memfd(s->vm, size, GMEM_NDM);
	s->mem = kvm_mmap(size, PROT_READ | PROT_WRITE, MAP_SHARED, s->fd);
}

/* Closing the file puts every page back into the direct map. */
static void teardown(struct setup *s)
{
	long after;

	kvm_munmap(s->mem, s->size);
	close(s->fd);
	kvm_vm_free(s->vm);
	after = mapped_direct_map();
	TEST_ASSERT(after == s->before, "%ld kB still missing from the direct map after close",
		    (s->before - after) >> 10);
}

/*
 * Memory freed by a case comes back from the allocator with its direct map
 * already split, and each case needs memory that was not: the cases run in
 * this order, each using more than all the ones before it freed.
 */
#define SIZE		SZ_256M
#define FALLOCATE_SIZE	SZ_1G
/*
 * fallocate() allocates each call's pages as blocks of up to 2 MiB: 3 MiB
 * is a whole block, removed without a split, and a half one, which needs a
 * split, in one batch.
 */
#define CHUNK		(SZ_2M + SZ_1M)

#define GMEM_GPA	SZ_1G
#define GMEM_SLOT	1
#define GUEST_SIZE	SZ_64M

static void guest_touch(void)
{
	u64 *p;

	for (p = (u64 *)GMEM_GPA; p < (u64 *)(GMEM_GPA + GUEST_SIZE); p += 4096 / sizeof(*p)) {
		GUEST_ASSERT_EQ(READ_ONCE(*p), 0);
		WRITE_ONCE(*p, (u64)p);
	}
	GUEST_DONE();
}

/* Pages of the VM's guest_memfd memslots (0 and GMEM_SLOT) in their page caches. */
static size_t vm_resident_pages(struct kvm_vm *vm)
{
	struct userspace_mem_region *slot0 = memslot2region(vm, 0);
	struct userspace_mem_region *gmem = memslot2region(vm, GMEM_SLOT);

	return resident_pages(slot0->host_mem, slot0->region.memory_size) +
	       resident_pages(gmem->host_mem, gmem->region.memory_size);
}

/* KVM_RUN returns ENOMEM when get_pfn cannot split, and resumes the guest after. */
TEST(get_pfn_fails_then_runs)
{
	struct vm_shape shape = VM_SHAPE_DEFAULT;
	struct kvm_vcpu *vcpu;
	long before, injected = 0;
	struct ucall uc;
	int enomem = 0, r;
	struct kvm_vm *vm;
	char *mem;

	/*
	 * Memslot 0 without a direct map too: KVM leaves SVM out of the vCPU's
	 * CPUID then, which a guest_memfd without a direct map requires.
	 */
	shape.src_type = VM_MEM_SRC_GUEST_MEMFD_NO_DIRECT_MAP;
	vm = __vm_create_shape_with_one_vcpu(shape, &vcpu, 0, guest_touch);
	vm_userspace_mem_region_add(vm, VM_MEM_SRC_GUEST_MEMFD_NO_DIRECT_MAP, GMEM_GPA,
				    GMEM_SLOT, GUEST_SIZE / getpagesize(), 0);
	virt_map(vm, GMEM_GPA, GMEM_GPA, GUEST_SIZE / getpagesize());
	mem = addr_gpa2hva(vm, GMEM_GPA);
	/* The direct map as if no page of the VM's guest_memfds were allocated. */
	before = mapped_direct_map() + vm_resident_pages(vm) * getpagesize();

	inject_start(MANY);
	for (;;) {
		r = __vcpu_run(vcpu);
		if (r < 0 && errno == ENOMEM) {
			TEST_ASSERT_EQ(vcpu->run->exit_reason, KVM_EXIT_MEMORY_FAULT);
			if (!enomem++)
				injected = inject_stop(MANY);
			continue;
		}
		TEST_ASSERT(!r, "KVM_RUN failed, errno %d", errno);
		break;
	}
	if (!enomem)
		injected = inject_stop(MANY);
	printf("# KVM_RUN failed with ENOMEM %d times, %ld failures injected\n", enomem,
	       injected);
	TEST_ASSERT(enomem == 1, "KVM_RUN never failed: the injection proved nothing");

	switch (get_ucall(vcpu, &uc)) {
	case UCALL_DONE:
		break;
	case UCALL_ABORT:
		REPORT_GUEST_ASSERT(uc);
		break;
	default:
		TEST_FAIL("Unexpected ucall %lu", uc.cmd);
	}
	TEST_ASSERT_EQ(*(u64 *)(mem + GUEST_SIZE - getpagesize()),
		       GMEM_GPA + GUEST_SIZE - getpagesize());
	check_direct_map(before, vm_resident_pages(vm), "after the guest ran");
	kvm_vm_free(vm);
}

/* A user fault that cannot split retries (VM_FAULT_OOM) until it can. */
TEST(user_fault_retries)
{
	const long times = 8;
	struct setup s;
	long injected;
	size_t off;

	setup(&s, SIZE);
	inject_start(times);
	for (off = 0; off < SIZE && knob_value("times") > 0; off += getpagesize())
		TEST_ASSERT(!READ_ONCE(s.mem[off]), "Offset 0x%zx is not zero", off);
	injected = inject_stop(times);
	printf("# %ld failures injected while faulting %zu kB in\n", injected, off >> 10);
	TEST_ASSERT(injected == times, "Only %ld of %ld failures were injected", injected,
		    times);
	check_direct_map(s.before, resident_pages(s.mem, s.size), "after faults");

	check_zero(s.mem, s.size);
	TEST_ASSERT_EQ(resident_pages(s.mem, s.size), SIZE / getpagesize());
	check_direct_map(s.before, resident_pages(s.mem, s.size), "after faulting all in");
	teardown(&s);
}

/*
 * fallocate() fails with ENOMEM where a split fails; what it created stays
 * valid. Each call's batch holds a whole 2 MiB block, removed without a
 * split, and half of one, whose split fails: the whole block must be put
 * back. Memory allocated and freed first comes back from the allocator
 * already split (by this case and the ones before), and needs no split.
 */
TEST(fallocate_fails_then_fills)
{
	long failed = 0, injected, off;
	struct setup s;

	setup(&s, FALLOCATE_SIZE);
	TEST_ASSERT(!fallocate(s.fd, FALLOC_FL_KEEP_SIZE, 0, FALLOCATE_SIZE / 4) &&
		    !fallocate(s.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0,
			       FALLOCATE_SIZE / 4),
		    "Allocating and freeing %d MiB failed, errno %d", FALLOCATE_SIZE / 4 >> 20,
		    errno);
	check_direct_map(s.before, resident_pages(s.mem, s.size), "after allocating and freeing");

	inject_start(MANY);
	for (off = 0; off < FALLOCATE_SIZE; off += CHUNK) {
		long len = FALLOCATE_SIZE - off < CHUNK ? FALLOCATE_SIZE - off : CHUNK;

		if (!fallocate(s.fd, FALLOC_FL_KEEP_SIZE, off, len))
			continue;
		TEST_ASSERT(errno == ENOMEM, "fallocate() failed with errno %d, not ENOMEM",
			    errno);
		failed++;
	}
	injected = inject_stop(MANY);
	printf("# %ld of %d fallocate() calls failed, %ld failures injected\n",
	       failed, DIV_ROUND_UP(FALLOCATE_SIZE, CHUNK), injected);
	TEST_ASSERT(failed > 0 && injected >= failed,
		    "No direct-map split failed: the injection proved nothing");
	check_direct_map(s.before, resident_pages(s.mem, s.size), "after failed fallocate()");

	TEST_ASSERT(!fallocate(s.fd, FALLOC_FL_KEEP_SIZE, 0, FALLOCATE_SIZE),
		    "fallocate() failed after injection stopped, errno %d", errno);
	TEST_ASSERT_EQ(resident_pages(s.mem, s.size), FALLOCATE_SIZE / getpagesize());
	check_direct_map(s.before, resident_pages(s.mem, s.size), "after fallocate()");
	check_zero(s.mem, s.size);
	teardown(&s);
}

int main(int argc, char **argv)
{
	if (access(KERNEL_PTDUMP, R_OK))
		mount("debugfs", "/sys/kernel/debug", "debugfs", 0, NULL);
	return test_harness_run(argc, argv);
}
