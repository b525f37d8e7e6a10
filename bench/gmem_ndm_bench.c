// SPDX-License-Identifier: GPL-2.0-only
/*
 * What GUEST_MEMFD_FLAG_NO_DIRECT_MAP costs: guest_memfd with the flag
 * against plain guest_memfd, interleaved in one boot. Built against the KVM
 * selftest library of the series (see ci/bench.sh); a benchmark, not a test:
 * it prints raw samples, one per line, and ci/bench-table.py makes the table.
 *
 *   sample <measure> <variant> <rep> <value> <unit>
 *
 * Measures (SIZE = 256 MiB, variant "plain" or "ndm"):
 *   user_fault_ns_per_page   first write to each 4 KiB page of an mmap()
 *   fallocate_ms             fallocate() of SIZE
 *   punch_hole_ms            punching a hole over SIZE, allocated
 *   close_ms                 the last close() of a file with SIZE allocated
 *   guest_touch_ns_per_page  a vCPU writing each page of a SIZE memslot
 *   call_ipis_fallocate      function-call IPIs during the fallocate() of SIZE
 *   call_ipis_fault          the same while faulting SIZE in from userspace
 * Then DirectMap4k/2M/1G of /proc/meminfo: before, after the repetitions
 * (idle), with 1 GiB without a direct map allocated, right after its close,
 * and 3 s later: whether the kernel merged the split entries again (the
 * series does not; wip/direct-map-merge/ does, a second after the close).
 * Kernel TLB flushes reach the other CPUs as function-call IPIs
 * (flush_tlb_kernel_range() -> on_each_cpu()): fallocate() removes folios in
 * batches of 32 folios with one flush each, a fault the missing folios of
 * the 16-folio window around it with one flush.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <linux/falloc.h>
#include <linux/sizes.h>
#include <sys/mman.h>

#include "kvm_util.h"
#include "test_util.h"
#include "ucall_common.h"

#define SIZE		SZ_256M
#define GUEST_GPA	SZ_4G
#define GUEST_SLOT	1
/* Longer than wip/direct-map-merge/ waits before it merges the direct map. */
#define MERGE_WAIT_S	3

static size_t page_size;

static u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* Function-call IPIs received so far, all CPUs ("CAL:" in /proc/interrupts). */
static u64 call_ipis(void)
{
	char line[4096], *p, *end;
	u64 sum = 0;
	FILE *f;

	f = fopen("/proc/interrupts", "r");
	TEST_ASSERT(f, "fopen(/proc/interrupts) failed, errno %d", errno);
	while (fgets(line, sizeof(line), f)) {
		p = line + strspn(line, " ");
		if (strncmp(p, "CAL:", 4))
			continue;
		for (p += 4;; p = end) {
			u64 v = strtoull(p, &end, 10);

			if (end == p)
				break;
			sum += v;
		}
	}
	fclose(f);
	return sum;
}

static void sample(const char *measure, const char *variant, int rep,
		   double value, const char *unit)
{
	printf("sample %s %s %d %.1f %s\n", measure, variant, rep, value, unit);
	fflush(stdout);
}

static int gmem(struct kvm_vm *vm, u64 flags)
{
	return vm_create_guest_memfd(vm, SIZE, GUEST_MEMFD_FLAG_MMAP |
				     GUEST_MEMFD_FLAG_INIT_SHARED | flags);
}

static void bench_user(struct kvm_vm *vm, const char *variant, u64 flags, int rep)
{
	u64 t, ipis;
	size_t i;
	char *mem;
	int fd;

	/* First touch from userspace: one fault, and with the flag one flush, per page. */
	fd = gmem(vm, flags);
	mem = kvm_mmap(SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd);
	ipis = call_ipis();
	t = now_ns();
	for (i = 0; i < SIZE; i += page_size)
		mem[i] = 1;
	t = now_ns() - t;
	ipis = call_ipis() - ipis;
	sample("user_fault_ns_per_page", variant, rep, (double)t / (SIZE / page_size), "ns");
	sample("call_ipis_fault", variant, rep, ipis, "IPIs");
	kvm_munmap(mem, SIZE);
	close(fd);

	/* fallocate() of the whole file: batches with one flush each. */
	fd = gmem(vm, flags);
	ipis = call_ipis();
	t = now_ns();
	TEST_ASSERT(!fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, SIZE),
		    "fallocate() failed, errno %d", errno);
	t = now_ns() - t;
	ipis = call_ipis() - ipis;
	sample("fallocate_ms", variant, rep, t / 1e6, "ms");
	sample("call_ipis_fallocate", variant, rep, ipis, "IPIs");

	t = now_ns();
	TEST_ASSERT(!fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, SIZE),
		    "Punching a hole failed, errno %d", errno);
	t = now_ns() - t;
	sample("punch_hole_ms", variant, rep, t / 1e6, "ms");

	/* The last close frees what is allocated (with the flag: mapped back and cleared). */
	TEST_ASSERT(!fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, SIZE),
		    "fallocate() failed, errno %d", errno);
	t = now_ns();
	close(fd);
	t = now_ns() - t;
	sample("close_ms", variant, rep, t / 1e6, "ms");
}

static void guest_touch(u8 *mem, u64 size)
{
	u64 i;

	for (i = 0; i < size; i += SZ_4K)
		WRITE_ONCE(mem[i], 1);
	GUEST_DONE();
}

static void bench_guest(const char *variant, u64 flags, int rep)
{
	/* Page tables for SIZE: a page per 2 MiB, and a few above. */
	const u64 extra_pages = SIZE / SZ_2M + 64;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct ucall uc;
	int fd;
	u64 t;

	/* The vCPU after the guest_memfd: no SVM/VMX next to NO_DIRECT_MAP. */
	vm = __vm_create(VM_SHAPE_DEFAULT, 1, extra_pages);
	fd = gmem(vm, flags);
	vm_set_user_memory_region2(vm, GUEST_SLOT, KVM_MEM_GUEST_MEMFD, GUEST_GPA, SIZE,
				   NULL, fd, 0);
	vcpu = vm_vcpu_add(vm, 0, guest_touch);
	virt_map(vm, GUEST_GPA, GUEST_GPA, SIZE / vm->page_size);
	vcpu_args_set(vcpu, 2, GUEST_GPA, SIZE);

	t = now_ns();
	vcpu_run(vcpu);
	t = now_ns() - t;
	TEST_ASSERT(get_ucall(vcpu, &uc) == UCALL_DONE, "The guest did not finish");
	sample("guest_touch_ns_per_page", variant, rep, (double)t / (SIZE / page_size), "ns");

	close(fd);
	kvm_vm_free(vm);
}

static void print_direct_map(const char *when)
{
	static const char * const fields[] = { "DirectMap4k", "DirectMap2M", "DirectMap1G" };
	char line[128];
	unsigned int i;
	FILE *f;

	f = fopen("/proc/meminfo", "r");
	TEST_ASSERT(f, "fopen(/proc/meminfo) failed, errno %d", errno);
	while (fgets(line, sizeof(line), f))
		for (i = 0; i < ARRAY_SIZE(fields); i++)
			if (!strncmp(line, fields[i], strlen(fields[i])))
				printf("meminfo %s %s", when, line);
	fclose(f);
}

/*
 * The direct map around 1 GiB without a direct map: split while it is
 * allocated; after the close, split still or merged again.
 */
static void bench_direct_map(struct kvm_vm *vm)
{
	int fd;

	sleep(MERGE_WAIT_S);
	print_direct_map("idle");
	fd = vm_create_guest_memfd(vm, SZ_1G, GUEST_MEMFD_FLAG_NO_DIRECT_MAP);
	TEST_ASSERT(!fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, SZ_1G),
		    "fallocate() of 1 GiB failed, errno %d", errno);
	print_direct_map("1GiB-allocated");
	close(fd);
	print_direct_map("1GiB-closed");
	sleep(MERGE_WAIT_S);
	print_direct_map("1GiB-closed-3s");
}

int main(int argc, char *argv[])
{
	const u64 ndm = GUEST_MEMFD_FLAG_NO_DIRECT_MAP;
	int reps = argc > 1 ? atoi(argv[1]) : 5;
	struct kvm_vm *vm;
	int rep;

	page_size = getpagesize();
	vm = vm_create_barebones();
	TEST_REQUIRE((vm_check_cap(vm, KVM_CAP_GUEST_MEMFD_FLAGS) & ndm) == ndm);
	printf("cpus %ld size %d reps %d\n", sysconf(_SC_NPROCESSORS_ONLN), SIZE, reps);

	print_direct_map("before");
	/* Interleaved, plain first in even repetitions and last in odd ones. */
	for (rep = 0; rep < reps; rep++) {
		bench_user(vm, rep & 1 ? "ndm" : "plain", rep & 1 ? ndm : 0, rep);
		bench_user(vm, rep & 1 ? "plain" : "ndm", rep & 1 ? 0 : ndm, rep);
		bench_guest(rep & 1 ? "ndm" : "plain", rep & 1 ? ndm : 0, rep);
		bench_guest(rep & 1 ? "plain" : "ndm", rep & 1 ? 0 : ndm, rep);
	}
	bench_direct_map(vm);
	kvm_vm_free(vm);
	return 0;
}
