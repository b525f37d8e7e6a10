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
 *   fallocate_then_write_ms  fallocate() of SIZE, then the first write to each
 *                            page from userspace (plain clears at the fault,
 *                            ndm in fallocate(); ndm clears again when the
 *                            folio is freed, which close_ms shows)
 *   fallocate_fresh_ms       fallocate() of SIZE, first thing after boot: the
 *                            ndm files stay open, so each takes memory whose
 *                            direct map no earlier ndm file has split
 * Then DirectMap4k/2M/1G of /proc/meminfo: before, after the fresh
 * fallocate()s, after the repetitions (idle), with 1 GiB without a direct map
 * allocated, right after its close, and 3 s later: whether the kernel merged
 * the split entries again (the series does not; wip/direct-map-merge/ does,
 * a second after the close).
 *
 * Last, what a split direct map costs the kernel (kernel_read_ns_per_page):
 * a memfd of most of the memory available is written right after the 1 GiB
 * was closed, so that much of it lands where ndm files left the direct map
 * split. Its pages are sorted by the entry that maps them in the direct map
 * (the page table dump and /proc/self/pagemap): 4 KiB ("4k") or larger
 * ("large"); then read() copies each kind to userspace through the direct
 * map, in runs of consecutive pages, alternately ("kread": how many pages
 * and read() calls each kind took).
 *
 * Before anything is timed, most of the guest's memory is written once and
 * freed (back_guest_memory()), so that no measure pays for QEMU backing it.
 *
 * And the userspace first touch again with CPU 1 offline
 * (user_fault_1cpu_ns_per_page), where the kernel's TLB flushes interrupt no
 * other CPU: what is left of the ratio without flush IPIs.
 *
 * Kernel TLB flushes reach the other CPUs as function-call IPIs
 * (flush_tlb_kernel_range() -> on_each_cpu()): fallocate() removes folios in
 * batches of 1024 folios with one flush each, a fault the missing folios of
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

/* First touch from userspace: a fault per page, with the flag a flush per window. */
static void first_touch(struct kvm_vm *vm, const char *variant, u64 flags, int rep,
			const char *measure, const char *ipi_measure)
{
	u64 t, ipis;
	size_t i;
	char *mem;
	int fd;

	fd = gmem(vm, flags);
	mem = kvm_mmap(SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd);
	ipis = call_ipis();
	t = now_ns();
	for (i = 0; i < SIZE; i += page_size)
		mem[i] = 1;
	t = now_ns() - t;
	ipis = call_ipis() - ipis;
	sample(measure, variant, rep, (double)t / (SIZE / page_size), "ns");
	sample(ipi_measure, variant, rep, ipis, "IPIs");
	kvm_munmap(mem, SIZE);
	close(fd);
}

static void bench_user(struct kvm_vm *vm, const char *variant, u64 flags, int rep)
{
	size_t i;
	char *mem;
	int fd;
	u64 t, ipis;

	first_touch(vm, variant, flags, rep, "user_fault_ns_per_page", "call_ipis_fault");

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

	/*
	 * fallocate(), then a write to each page: plain guest_memfd clears a
	 * folio on its first fault, ndm in fallocate(), before the removal.
	 */
	fd = gmem(vm, flags);
	t = now_ns();
	TEST_ASSERT(!fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, SIZE),
		    "fallocate() failed, errno %d", errno);
	mem = kvm_mmap(SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd);
	for (i = 0; i < SIZE; i += page_size)
		mem[i] = 1;
	t = now_ns() - t;
	sample("fallocate_then_write_ms", variant, rep, t / 1e6, "ms");
	kvm_munmap(mem, SIZE);
	close(fd);
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

static u64 mem_available(void);

/*
 * fallocate() of SIZE on memory no ndm file has used since boot: the ndm
 * files stay open until all repetitions are done (REPS * SIZE), the plain
 * ones are closed at once (they leave the direct map as they found it). Such
 * memory leaves the direct map as whole 2 MiB entries; the first block in
 * each 1 GiB entry splits that into 2 MiB ones.
 */
static void bench_fresh_fallocate(struct kvm_vm *vm, int reps)
{
	int fds[16], rep, i, fd;
	u64 t;

	TEST_ASSERT(reps <= (int)ARRAY_SIZE(fds), "At most %zu repetitions", ARRAY_SIZE(fds));
	TEST_ASSERT(mem_available() > (reps + 2) * (u64)SIZE,
		    "%d repetitions keep %d MiB of fresh memory: too little memory", reps,
		    reps * (SIZE >> 20));
	for (rep = 0; rep < reps; rep++) {
		for (i = 0; i < 2; i++) {
			bool ndm = i ^ (rep & 1);

			fd = gmem(vm, ndm ? GUEST_MEMFD_FLAG_NO_DIRECT_MAP : 0);
			t = now_ns();
			TEST_ASSERT(!fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, SIZE),
				    "fallocate() failed, errno %d", errno);
			t = now_ns() - t;
			sample("fallocate_fresh_ms", ndm ? "ndm" : "plain", rep, t / 1e6, "ms");
			if (ndm)
				fds[rep] = fd;
			else
				close(fd);
		}
	}
	print_direct_map("fresh-allocated");
	for (rep = 0; rep < reps; rep++)
		close(fds[rep]);
}

/*
 * A memfd of @size, written now: shmem allocates its pages and copies the data
 * in through the direct map (fallocate() would leave them unwritten, and
 * read() would then copy zeroes without touching them).
 */
static int filled_memfd(u64 size)
{
	int fd = memfd_create("bench", 0);
	char *data = malloc(SZ_1M);
	u64 done;

	TEST_ASSERT(fd >= 0 && data, "memfd_create() or malloc() failed, errno %d", errno);
	memset(data, 0x5a, SZ_1M);
	for (done = 0; done < size; done += SZ_1M)
		TEST_ASSERT(pwrite(fd, data, SZ_1M, done) == SZ_1M,
			    "Writing a memfd failed, errno %d", errno);
	free(data);
	return fd;
}

/* MemAvailable of /proc/meminfo, in bytes. */
static u64 mem_available(void)
{
	char line[128];
	u64 kb = 0;
	FILE *f;

	f = fopen("/proc/meminfo", "r");
	TEST_ASSERT(f, "fopen(/proc/meminfo) failed, errno %d", errno);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %lu kB", &kb) == 1)
			break;
	fclose(f);
	TEST_ASSERT(kb, "No MemAvailable in /proc/meminfo");
	return kb * 1024;
}

/* Most of the memory now available, leaving @margin, in whole MiB. */
static u64 most_available(u64 margin)
{
	u64 avail = mem_available();

	TEST_ASSERT(avail > margin + SIZE, "Only %lu MiB available", avail >> 20);
	return (avail - margin) & ~(u64)(SZ_1M - 1);
}

/*
 * Writes most of the guest's memory once and frees it again, so that QEMU
 * has backed all of it before anything is timed: the first write of guest
 * memory costs the host a page fault, which a kernel on hardware does not
 * pay, and which would otherwise fall on whoever first writes fresh memory
 * (an ndm fallocate() clears its folios, a plain one does not). The direct
 * map is not changed.
 */
static void back_guest_memory(void)
{
	u64 size = most_available(SZ_256M);

	close(filled_memfd(size));
	printf("backed %lu MiB of guest memory\n", size >> 20);
}

/*
 * Physical ranges of the direct map mapped by 4 KiB entries, from the page
 * table dump. On the heap: the test VMs load this program's image, .bss too,
 * into their small memslot 0.
 */
struct ranges {
	u64 start[8192], end[8192];
	int nr;
};

static void direct_map_4k_ranges(struct ranges *r)
{
	u64 start, end, base = 0;
	bool direct_map = false;
	char line[256];
	FILE *f;

	/* direct_map_bytes() of the selftest library mounts debugfs if need be. */
	TEST_ASSERT(direct_map_bytes() >= 0, "No page table dump (CONFIG_PTDUMP_DEBUGFS)");
	f = fopen(KERNEL_PTDUMP, "r");
	TEST_ASSERT(f, "No page table dump (CONFIG_PTDUMP_DEBUGFS), errno %d", errno);
	r->nr = 0;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "---[", 4)) {
			if (direct_map)
				break;
			direct_map = strstr(line, KERNEL_PTDUMP_DIRECT_MAP);
			base = 0;
			continue;
		}
		if (!direct_map || sscanf(line, "0x%lx-0x%lx", &start, &end) != 2)
			continue;
		/* The section starts at the direct map's base, physical address 0. */
		if (!base)
			base = start;
		/* x86 ends a line with the level of its entries. */
		if (!strstr(line, " pte\n"))
			continue;
		TEST_ASSERT(r->nr < (int)ARRAY_SIZE(r->start), "Too many 4 KiB ranges");
		r->start[r->nr] = start - base;
		r->end[r->nr++] = end - base;
	}
	fclose(f);
	TEST_ASSERT(direct_map, "No direct map in the page table dump");
}

/*
 * For each page of @fd (@size), whether the direct map maps it with a 4 KiB
 * entry (1) or a larger one (0); the caller frees the array.
 */
static u8 *pages_in_4k_entries(int fd, u64 size, const struct ranges *r)
{
	u64 i, entries[512], entry, pa;
	int pagemap, lo, hi, mid;
	u8 *in_4k;
	char *mem;

	in_4k = malloc(size / page_size);
	TEST_ASSERT(in_4k, "malloc() failed");
	mem = kvm_mmap(size, PROT_READ, MAP_SHARED | MAP_POPULATE, fd);
	pagemap = open("/proc/self/pagemap", O_RDONLY);
	TEST_ASSERT(pagemap >= 0, "open(/proc/self/pagemap) failed, errno %d", errno);
	for (i = 0; i < size / page_size; i++) {
		if (!(i % ARRAY_SIZE(entries)))
			TEST_ASSERT(pread(pagemap, entries, sizeof(entries),
					  ((u64)mem / page_size + i) * sizeof(entry)) ==
				    sizeof(entries),
				    "Reading pagemap failed, errno %d", errno);
		entry = entries[i % ARRAY_SIZE(entries)];
		TEST_ASSERT(entry & (1ull << 63), "Page %lu of the memfd not present", i);
		pa = (entry & ((1ull << 55) - 1)) * page_size;
		TEST_ASSERT(pa, "pagemap shows no PFN (not root?)");
		for (lo = 0, hi = r->nr; lo < hi;) {
			mid = (lo + hi) / 2;
			if (r->end[mid] <= pa)
				lo = mid + 1;
			else
				hi = mid;
		}
		in_4k[i] = lo < r->nr && r->start[lo] <= pa;
	}
	close(pagemap);
	kvm_munmap(mem, size);
	return in_4k;
}

/*
 * read() the pages of @fd whose in_4k[] is @want, in runs of consecutive
 * ones (at most 1 MiB per call): shmem copies each to @buf through the
 * direct map. Only the read()s are timed.
 */
static void kernel_read(int fd, u64 size, const u8 *in_4k, u8 want, char *buf, int rep)
{
	u64 i, n, t = 0, t0, pages = 0, calls = 0, npages = size / page_size;

	for (i = 0; i < npages; i += n) {
		for (n = 0; i + n < npages && in_4k[i + n] == want && n < SZ_1M / page_size; n++)
			;
		if (!n) {
			n = 1;
			continue;
		}
		t0 = now_ns();
		TEST_ASSERT(pread(fd, buf, n * page_size, i * page_size) == (ssize_t)(n * page_size),
			    "read() of the memfd failed, errno %d", errno);
		t += now_ns() - t0;
		TEST_ASSERT(buf[0] == 0x5a, "read() did not return what was written");
		pages += n;
		calls++;
	}
	TEST_ASSERT(pages, "No page of the memfd is in %s entries", want ? "4 KiB" : "large");
	sample("kernel_read_ns_per_page", want ? "4k" : "large", rep, (double)t / pages, "ns");
	if (!rep)
		printf("kread %s %lu pages %lu reads\n", want ? "4k" : "large", pages, calls);
}

/*
 * The pages of a memfd of @size, written right after ndm files were closed,
 * read through the direct map where it maps them with 4 KiB entries and
 * where it maps them large, alternately.
 */
static void bench_kernel_read(int fd, u64 size, int reps)
{
	struct ranges *r = malloc(sizeof(*r));
	char *buf = malloc(SZ_1M);
	u8 *in_4k;
	int rep;

	TEST_ASSERT(buf && r, "malloc() failed");
	memset(buf, 0, SZ_1M);
	direct_map_4k_ranges(r);
	in_4k = pages_in_4k_entries(fd, size, r);
	for (rep = 0; rep < reps; rep++) {
		kernel_read(fd, size, in_4k, rep & 1, buf, rep);
		kernel_read(fd, size, in_4k, !(rep & 1), buf, rep);
	}
	free(in_4k);
	free(buf);
	free(r);
}

#define CPU1_ONLINE	"/sys/devices/system/cpu/cpu1/online"

/* Takes CPU 1 offline (false) or brings it back (true); false if that failed. */
static bool set_cpu1_online(bool online)
{
	int fd = open(CPU1_ONLINE, O_WRONLY);
	bool done;

	if (fd < 0)
		return false;
	done = write(fd, online ? "1" : "0", 1) == 1;
	close(fd);
	return done;
}

/* Should the benchmark fail while CPU 1 is offline, it leaves it online. */
static void cpu1_back_online(void)
{
	if (!set_cpu1_online(true))
		perror("bringing CPU 1 back online");
}

/*
 * The userspace first touch with CPU 1 offline, where a kernel TLB flush
 * interrupts no other CPU: set against the first touch with both CPUs, this
 * is what the flush IPIs of the faults cost.
 */
static void bench_one_cpu(struct kvm_vm *vm, int reps)
{
	int rep;

	if (sysconf(_SC_NPROCESSORS_ONLN) != 2 || access(CPU1_ONLINE, W_OK)) {
		printf("no CPU 1 to take offline: the one-CPU rows are left out\n");
		return;
	}
	atexit(cpu1_back_online);
	TEST_ASSERT(set_cpu1_online(false), "Taking CPU 1 offline failed, errno %d", errno);
	for (rep = 0; rep < reps; rep++) {
		first_touch(vm, rep & 1 ? "ndm" : "plain", rep & 1 ? GUEST_MEMFD_FLAG_NO_DIRECT_MAP : 0,
			    rep, "user_fault_1cpu_ns_per_page", "call_ipis_fault_1cpu");
		first_touch(vm, rep & 1 ? "plain" : "ndm", rep & 1 ? 0 : GUEST_MEMFD_FLAG_NO_DIRECT_MAP,
			    rep, "user_fault_1cpu_ns_per_page", "call_ipis_fault_1cpu");
	}
	TEST_ASSERT(set_cpu1_online(true), "Bringing CPU 1 back failed, errno %d", errno);
}

/*
 * The direct map around 1 GiB without a direct map: split while it is
 * allocated; after the close, split still or merged again. Right after the
 * close, a memfd is written with most of the memory then available (its size
 * goes to @size), so that it holds much of what ndm files left split: it is
 * returned.
 */
static int bench_direct_map(struct kvm_vm *vm, u64 *size)
{
	int fd, reused;

	sleep(MERGE_WAIT_S);
	print_direct_map("idle");
	fd = vm_create_guest_memfd(vm, SZ_1G, GUEST_MEMFD_FLAG_NO_DIRECT_MAP);
	TEST_ASSERT(!fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, SZ_1G),
		    "fallocate() of 1 GiB failed, errno %d", errno);
	print_direct_map("1GiB-allocated");
	close(fd);
	*size = most_available(SZ_512M);
	reused = filled_memfd(*size);
	print_direct_map("1GiB-closed");
	sleep(MERGE_WAIT_S);
	print_direct_map("1GiB-closed-3s");
	return reused;
}

int main(int argc, char *argv[])
{
	const u64 ndm = GUEST_MEMFD_FLAG_NO_DIRECT_MAP;
	int reps = argc > 1 ? atoi(argv[1]) : 5;
	struct kvm_vm *vm;
	int rep, reused;
	u64 size;

	page_size = getpagesize();
	vm = vm_create_barebones();
	TEST_REQUIRE((vm_check_cap(vm, KVM_CAP_GUEST_MEMFD_FLAGS) & ndm) == ndm);
	printf("cpus %ld size %d reps %d\n", sysconf(_SC_NPROCESSORS_ONLN), SIZE, reps);

	print_direct_map("before");
	back_guest_memory();
	bench_fresh_fallocate(vm, reps);
	/* Interleaved, plain first in even repetitions and last in odd ones. */
	for (rep = 0; rep < reps; rep++) {
		bench_user(vm, rep & 1 ? "ndm" : "plain", rep & 1 ? ndm : 0, rep);
		bench_user(vm, rep & 1 ? "plain" : "ndm", rep & 1 ? 0 : ndm, rep);
		bench_guest(rep & 1 ? "ndm" : "plain", rep & 1 ? ndm : 0, rep);
		bench_guest(rep & 1 ? "plain" : "ndm", rep & 1 ? 0 : ndm, rep);
	}
	/* In the memory state of the repetitions, before the 1 GiB file. */
	bench_one_cpu(vm, reps);
	reused = bench_direct_map(vm, &size);
	bench_kernel_read(reused, size, reps);
	close(reused);
	kvm_vm_free(vm);
	return 0;
}
