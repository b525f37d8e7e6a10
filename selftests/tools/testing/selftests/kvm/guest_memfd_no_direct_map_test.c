// SPDX-License-Identifier: GPL-2.0-only
/*
 * guest_memfd without a direct map (GUEST_MEMFD_FLAG_NO_DIRECT_MAP): a guest
 * runs from it, what reaches user memory through the kernel's direct map
 * refuses it, bad input is refused, and no memory is lost.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/bitmap.h>
#include <linux/elf.h>
#include <linux/falloc.h>
/* io_uring.h needs __DECLARE_FLEX_ARRAY(), which tools' linux/types.h lacks. */
#include <linux/stddef.h>
#include <linux/io_uring.h>
#include <linux/loop.h>
#include <linux/sizes.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>

#ifdef __x86_64__
#include <asm/kvm_para.h>
#include <asm/pvclock.h>
#include <asm/pvclock-abi.h>
#endif

#include "kvm_test_harness.h"
#include "kvm_util.h"
#include "test_util.h"
#include "ucall_common.h"

#define GMEM_SHARED	(GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED)
#define NDM_NOT_OFFERED	\
	"GUEST_MEMFD_FLAG_NO_DIRECT_MAP is not offered (CONFIG_KVM_GUEST_MEMFD_NO_DIRECT_MAP, CONFIG_RUST)"

static u64 vm_gmem_flags(unsigned long vm_type)
{
	struct kvm_vm *vm = vm_create_barebones_type(vm_type);
	u64 flags = vm_check_cap(vm, KVM_CAP_GUEST_MEMFD_FLAGS);

	kvm_vm_free(vm);
	return flags;
}

/* Whether a VM of the default type offers all of guest_memfd's @flags. */
static bool default_vm_offers(u64 flags)
{
	return kvm_has_cap(KVM_CAP_GUEST_MEMFD_FLAGS) &&
	       (vm_gmem_flags(VM_TYPE_DEFAULT) & flags) == flags;
}

static bool default_vm_has_ndm(void)
{
	return default_vm_offers(GMEM_SHARED | GUEST_MEMFD_FLAG_NO_DIRECT_MAP);
}

/* Runs the vCPU until the guest is done; fails on a guest assertion. */
static void run_guest_to_done(struct kvm_vcpu *vcpu)
{
	struct ucall uc;

	vcpu_run(vcpu);
	switch (get_ucall(vcpu, &uc)) {
	case UCALL_DONE:
		break;
	case UCALL_ABORT:
		REPORT_GUEST_ASSERT(uc);
		break;
	default:
		TEST_FAIL("Unexpected ucall %lu", uc.cmd);
	}
}

/* Guest data, in memslot 0 with the guest's code, stack and page tables. */
static u64 guest_word;
#define HOST_WORD	0x1122334455667788ull
#define GUEST_WORD	0x8877665544332211ull

static void guest_code(void)
{
	/*
	 * This code, its stack and page tables are fetched from memory the
	 * host kernel does not map.
	 */
	GUEST_ASSERT_EQ(READ_ONCE(guest_word), HOST_WORD);
	WRITE_ONCE(guest_word, GUEST_WORD);
	GUEST_DONE();
}

/*
 * A VM whose memslot 0 is a guest_memfd without a direct map: the guest
 * executes its code from it, reads what the host wrote and writes back, and
 * the host sees the write through its mmap() of the guest_memfd.
 */
TEST(guest_runs_from_no_direct_map)
{
	struct vm_shape shape = VM_SHAPE_DEFAULT;
	struct iovec local, remote;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	u64 word;

	if (!default_vm_has_ndm())
		SKIP(return, NDM_NOT_OFFERED);

	shape.src_type = VM_MEM_SRC_GUEST_MEMFD_NO_DIRECT_MAP;
	vm = __vm_create_shape_with_one_vcpu(shape, &vcpu, 0, guest_code);

	/* The code the guest runs really is in memory without a direct map. */
	local = (struct iovec) { .iov_base = &word, .iov_len = sizeof(word) };
	remote = (struct iovec) {
		.iov_base = addr_gva2hva(vm, (gva_t)guest_code),
		.iov_len = sizeof(word),
	};
	TEST_ASSERT(process_vm_readv(getpid(), &local, 1, &remote, 1, 0) < 0 &&
		    errno == EFAULT,
		    "The guest's code should be out of reach of process_vm_readv()");

	guest_word = HOST_WORD;
	sync_global_to_guest(vm, guest_word);
	run_guest_to_done(vcpu);

	sync_global_from_guest(vm, guest_word);
	TEST_ASSERT(guest_word == GUEST_WORD,
		    "Host read 0x%lx through the mmap(), guest wrote 0x%llx",
		    guest_word, GUEST_WORD);
	kvm_vm_free(vm);
}

/*
 * KVM_CHECK_EXTENSION on /dev/kvm, without a VM, reports what some VM can
 * have, the flag included, as it does for INIT_SHARED: at least what a
 * default VM reports. A VM's own answer is the one that counts, and it
 * changes over the VM's life (see nested_refused).
 */
TEST(capability_without_a_vm)
{
	u64 vm_flags, flags;

	if (!kvm_has_cap(KVM_CAP_GUEST_MEMFD_FLAGS))
		SKIP(return, "no KVM_CAP_GUEST_MEMFD_FLAGS");

	vm_flags = vm_gmem_flags(VM_TYPE_DEFAULT);
	flags = kvm_check_cap(KVM_CAP_GUEST_MEMFD_FLAGS);
	TEST_ASSERT((flags & vm_flags) == vm_flags,
		    "Without a VM KVM_CAP_GUEST_MEMFD_FLAGS is 0x%lx, a default VM's 0x%lx",
		    flags, vm_flags);
}

/*
 * Each interface that takes user pages with get_user_pages() and accesses
 * them through the direct map, once on plain shared guest_memfd memory (it
 * must work) and once without a direct map (it must fail, with the errno the
 * interface gives for memory it cannot pin).
 */
FIXTURE(gup) {
	struct kvm_vm *vm;
	size_t size;
	char *mem;
	int fd;
};

FIXTURE_VARIANT(gup) {
	u64 flags;
};

FIXTURE_VARIANT_ADD(gup, plain) {
	.flags = 0,
};

FIXTURE_VARIANT_ADD(gup, no_direct_map) {
	.flags = GUEST_MEMFD_FLAG_NO_DIRECT_MAP,
};

FIXTURE_SETUP(gup)
{
	u64 flags = GMEM_SHARED | variant->flags;

	if (!default_vm_offers(flags))
		SKIP(return, "guest_memfd flags 0x%lx are not offered", flags);

	self->size = getpagesize();
	self->vm = vm_create_barebones();
	self->fd = vm_create_guest_memfd(self->vm, self->size, flags);
	self->mem = kvm_mmap(self->size, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd);
	memset(self->mem, 0xaa, self->size);
}

FIXTURE_TEARDOWN(gup)
{
	kvm_munmap(self->mem, self->size);
	close(self->fd);
	kvm_vm_free(self->vm);
}

static void check_gup(const char *what, u64 flags, long ret, int refused_errno)
{
	if (flags & GUEST_MEMFD_FLAG_NO_DIRECT_MAP)
		TEST_ASSERT(ret < 0 && errno == refused_errno,
			    "%s of guest_memfd without a direct map should fail with errno %d, returned %ld (errno %d)",
			    what, refused_errno, ret, errno);
	else
		TEST_ASSERT(ret >= 0, "%s of guest_memfd should work, errno %d",
			    what, errno);
}

TEST_F(gup, process_vm_readv)
{
	char buf[64] = {};
	struct iovec local = { .iov_base = buf, .iov_len = sizeof(buf) };
	struct iovec remote = { .iov_base = self->mem, .iov_len = sizeof(buf) };
	long ret;

	ret = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
	check_gup("process_vm_readv()", variant->flags, ret, EFAULT);
	TEST_ASSERT(ret < 0 || buf[0] == (char)0xaa,
		    "process_vm_readv() read 0x%x, expected 0xaa", buf[0]);
}

TEST_F(gup, proc_pid_mem)
{
	char buf[64] = {};
	long ret;
	int fd;

	fd = open("/proc/self/mem", O_RDONLY);
	TEST_ASSERT(fd >= 0, "open(/proc/self/mem) failed, errno %d", errno);
	ret = pread(fd, buf, sizeof(buf), (off_t)self->mem);
	check_gup("read of /proc/self/mem", variant->flags, ret, EIO);
	TEST_ASSERT(ret < 0 || buf[0] == (char)0xaa,
		    "/proc/self/mem read 0x%x, expected 0xaa", buf[0]);
	close(fd);
}

TEST_F(gup, vmsplice)
{
	struct iovec iov = { .iov_base = self->mem, .iov_len = self->size };
	int pipefd[2];
	long ret;

	TEST_ASSERT(!pipe(pipefd), "pipe() failed, errno %d", errno);
	ret = vmsplice(pipefd[1], &iov, 1, 0);
	check_gup("vmsplice()", variant->flags, ret, EFAULT);
	close(pipefd[0]);
	close(pipefd[1]);
}

TEST_F(gup, io_uring_register_buffers)
{
	struct iovec iov = { .iov_base = self->mem, .iov_len = self->size };
	struct io_uring_params params = {};
	long ret;
	int ring;

	ring = syscall(__NR_io_uring_setup, 1, &params);
	if (ring < 0)
		SKIP(return, "io_uring_setup() failed (CONFIG_IO_URING), errno %d", errno);
	ret = syscall(__NR_io_uring_register, ring, IORING_REGISTER_BUFFERS, &iov, 1);
	check_gup("io_uring buffer registration", variant->flags, ret, EFAULT);
	close(ring);
}

TEST_F(gup, ptrace_peekdata)
{
	long word, ret;
	pid_t pid;

	pid = fork();
	TEST_ASSERT(pid >= 0, "fork() failed, errno %d", errno);
	if (!pid) {
		pause();
		_exit(0);
	}

	TEST_ASSERT(!ptrace(PTRACE_ATTACH, pid, NULL, NULL),
		    "PTRACE_ATTACH failed, errno %d", errno);
	TEST_ASSERT_EQ(waitpid(pid, NULL, 0), pid);
	errno = 0;
	word = ptrace(PTRACE_PEEKDATA, pid, self->mem, NULL);
	ret = errno ? -1 : 0;
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);

	check_gup("PTRACE_PEEKDATA", variant->flags, ret, EIO);
	TEST_ASSERT(ret < 0 || (char)word == (char)0xaa,
		    "PTRACE_PEEKDATA read 0x%lx, expected 0xaa", word);
}

/*
 * O_DIRECT I/O takes the buffer's pages with GUP. tmpfs and the 9p/virtiofs
 * roots of test VMs do no real direct I/O, so read from a loop device backed
 * by a file in /tmp.
 */
TEST_F(gup, o_direct_read)
{
	char path[32], backing[] = "/tmp/guest_memfd_ndm.XXXXXX";
	int control, loop, file, dev, nr;
	long ret;

	control = open("/dev/loop-control", O_RDWR);
	if (control < 0)
		SKIP(return, "no loop device (CONFIG_BLK_DEV_LOOP), errno %d", errno);

	file = mkstemp(backing);
	TEST_ASSERT(file >= 0, "mkstemp() failed, errno %d", errno);
	unlink(backing);
	TEST_ASSERT(!ftruncate(file, self->size), "ftruncate() failed, errno %d", errno);

	nr = ioctl(control, LOOP_CTL_GET_FREE);
	TEST_ASSERT(nr >= 0, "LOOP_CTL_GET_FREE failed, errno %d", errno);
	snprintf(path, sizeof(path), "/dev/loop%d", nr);
	loop = open(path, O_RDWR);
	TEST_ASSERT(loop >= 0, "open(%s) failed, errno %d", path, errno);
	TEST_ASSERT(!ioctl(loop, LOOP_SET_FD, file), "LOOP_SET_FD failed, errno %d", errno);

	dev = open(path, O_RDONLY | O_DIRECT);
	TEST_ASSERT(dev >= 0, "open(%s, O_DIRECT) failed, errno %d", path, errno);
	ret = read(dev, self->mem, self->size);
	check_gup("O_DIRECT read", variant->flags, ret, EFAULT);

	close(dev);
	ioctl(loop, LOOP_CLR_FD, 0);
	close(loop);
	close(file);
	close(control);
}

/* Unknown flags, sizes and ranges: refused with EINVAL, nothing left behind. */
TEST(bad_input)
{
	u64 ndm = GUEST_MEMFD_FLAG_NO_DIRECT_MAP, vm_types, supported, bit;
	size_t page_size = getpagesize();
	unsigned long type;
	struct kvm_vm *vm;
	int fd, checked = 0;

	if (!default_vm_has_ndm())
		SKIP(return, NDM_NOT_OFFERED);

	vm = vm_create_barebones();
	supported = vm_check_cap(vm, KVM_CAP_GUEST_MEMFD_FLAGS);

	for (bit = BIT_ULL(0); bit; bit <<= 1) {
		if (supported & bit)
			continue;
		fd = __vm_create_guest_memfd(vm, page_size, ndm | bit);
		TEST_ASSERT(fd < 0 && errno == EINVAL,
			    "NO_DIRECT_MAP with unknown flag 0x%lx should fail with EINVAL", bit);
	}

	fd = __vm_create_guest_memfd(vm, page_size + 1, ndm);
	TEST_ASSERT(fd < 0 && errno == EINVAL,
		    "A size that is not page aligned should fail with EINVAL");
	fd = __vm_create_guest_memfd(vm, 0, ndm);
	TEST_ASSERT(fd < 0 && errno == EINVAL, "Size 0 should fail with EINVAL");

	fd = vm_create_guest_memfd(vm, page_size * 4, ndm);
	TEST_ASSERT(fallocate(fd, FALLOC_FL_KEEP_SIZE, 1, page_size) < 0 && errno == EINVAL,
		    "fallocate() at an offset that is not page aligned should fail with EINVAL");
	TEST_ASSERT(fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, page_size - 1) < 0 && errno == EINVAL,
		    "fallocate() of a length that is not page aligned should fail with EINVAL");
	TEST_ASSERT(fallocate(fd, FALLOC_FL_KEEP_SIZE, page_size * 2, page_size * 4) < 0 &&
		    errno == EINVAL,
		    "fallocate() beyond the size should fail with EINVAL");
	TEST_ASSERT(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 1, page_size) < 0 &&
		    errno == EINVAL,
		    "A hole that is not page aligned should fail with EINVAL");
	/* What failed left the file usable. */
	TEST_ASSERT(!fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, page_size * 4),
		    "fallocate() of the whole file should work, errno %d", errno);
	close(fd);
	kvm_vm_free(vm);

	/* A VM type that does not offer the flag refuses it. */
	vm_types = kvm_check_cap(KVM_CAP_VM_TYPES);
	for_each_set_bit(type, (unsigned long *)&vm_types, BITS_PER_TYPE(vm_types)) {
		if (vm_gmem_flags(type) & ndm)
			continue;
		vm = vm_create_barebones_type(type);
		fd = __vm_create_guest_memfd(vm, page_size, ndm);
		TEST_ASSERT(fd < 0 && errno == EINVAL,
			    "VM type %lu does not offer NO_DIRECT_MAP but accepted it", type);
		kvm_vm_free(vm);
		checked++;
	}
	if (!checked)
		TH_LOG("Every VM type offers NO_DIRECT_MAP: only unknown flags were refused");
}

/*
 * Preallocation as VMMs do it (QEMU's -mem-prealloc, Firecracker): faulting
 * every page in hands no page to the kernel, so it works without a direct
 * map as it does with one. Each way must leave every page of the file
 * allocated (more pages than one fault creates with its neighbours).
 */
#define PREALLOC_PAGES	64

FIXTURE(prealloc) {
	struct kvm_vm *vm;
	size_t size;
	int fd;
};

FIXTURE_VARIANT(prealloc) {
	u64 flags;
};

FIXTURE_VARIANT_ADD(prealloc, plain) {
	.flags = 0,
};

FIXTURE_VARIANT_ADD(prealloc, no_direct_map) {
	.flags = GUEST_MEMFD_FLAG_NO_DIRECT_MAP,
};

FIXTURE_SETUP(prealloc)
{
	u64 flags = GMEM_SHARED | variant->flags;

	if (!default_vm_offers(flags))
		SKIP(return, "guest_memfd flags 0x%lx are not offered", flags);

	self->size = PREALLOC_PAGES * getpagesize();
	self->vm = vm_create_barebones();
	self->fd = vm_create_guest_memfd(self->vm, self->size, flags);
}

FIXTURE_TEARDOWN(prealloc)
{
	if (!self->vm)
		return;
	close(self->fd);
	kvm_vm_free(self->vm);
}

/* Every page of the file is in its page cache (mincore() of its mapping). */
static void check_allocated(void *mem, size_t size, const char *how)
{
	unsigned char vec[PREALLOC_PAGES];
	int i, allocated = 0;

	TEST_ASSERT(!mincore(mem, size, vec), "mincore() failed, errno %d", errno);
	for (i = 0; i < PREALLOC_PAGES; i++)
		allocated += vec[i] & 1;
	TEST_ASSERT(allocated == PREALLOC_PAGES, "%s allocated %d of %d pages", how,
		    allocated, PREALLOC_PAGES);
}

TEST_F(prealloc, madv_populate_write)
{
	void *mem = kvm_mmap(self->size, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd);

	TEST_ASSERT(!madvise(mem, self->size, MADV_POPULATE_WRITE),
		    "MADV_POPULATE_WRITE failed, errno %d", errno);
	check_allocated(mem, self->size, "MADV_POPULATE_WRITE");
	kvm_munmap(mem, self->size);
}

TEST_F(prealloc, map_populate)
{
	void *mem = mmap(NULL, self->size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
			 self->fd, 0);

	TEST_ASSERT(mem != MAP_FAILED, "mmap(MAP_POPULATE) failed, errno %d", errno);
	/* mmap() does not report a failed population: the page cache tells. */
	check_allocated(mem, self->size, "MAP_POPULATE");
	kvm_munmap(mem, self->size);
}

TEST_F(prealloc, mlock)
{
	void *mem = kvm_mmap(self->size, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd);

	TEST_ASSERT(!mlock(mem, self->size), "mlock() failed, errno %d", errno);
	check_allocated(mem, self->size, "mlock()");
	TEST_ASSERT(!munlock(mem, self->size), "munlock() failed, errno %d", errno);
	kvm_munmap(mem, self->size);
}

/*
 * A fault creates the missing neighbours of its window, but never where a
 * hole was punched: a page a balloon or free page reporting gave back stays
 * given back when the guest touches the page next to it.
 */
#define HOLE_PAGES	64

TEST(fault_around_leaves_punched_holes)
{
	size_t page_size = getpagesize();
	unsigned char vec[HOLE_PAGES];
	struct kvm_vm *vm;
	char *mem;
	int fd;

	if (!default_vm_has_ndm())
		SKIP(return, NDM_NOT_OFFERED);

	vm = vm_create_barebones();
	fd = vm_create_guest_memfd(vm, HOLE_PAGES * page_size,
				   GMEM_SHARED | GUEST_MEMFD_FLAG_NO_DIRECT_MAP);
	mem = kvm_mmap(HOLE_PAGES * page_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd);

	mem[4 * page_size] = 1;
	TEST_ASSERT(!fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			       5 * page_size, 2 * page_size),
		    "Punching pages 5-6 failed, errno %d", errno);
	mem[6 * page_size] = 1;

	TEST_ASSERT(!mincore(mem, HOLE_PAGES * page_size, vec),
		    "mincore() failed, errno %d", errno);
	TEST_ASSERT(vec[4] & 1, "Page 4 is not in the page cache");
	TEST_ASSERT(vec[6] & 1, "Page 6 is not in the page cache");
	TEST_ASSERT(!(vec[5] & 1), "The punched page 5 came back when page 6 was faulted");

	kvm_munmap(mem, HOLE_PAGES * page_size);
	close(fd);
	kvm_vm_free(vm);
}

/*
 * Folds the per-CPU counter deltas into the global counters, so that
 * /proc/meminfo is exact rather than up to a threshold per CPU behind.
 */
static void refresh_vm_stats(void)
{
	int fd = open("/proc/sys/vm/stat_refresh", O_WRONLY);

	if (fd < 0)
		return;
	TEST_ASSERT(write(fd, "1", 1) == 1, "Writing vm/stat_refresh failed, errno %d", errno);
	close(fd);
}

static u64 meminfo_kb(const char *field)
{
	char line[128];
	size_t len = strlen(field);
	u64 kb = 0;
	FILE *f;

	f = fopen("/proc/meminfo", "r");
	TEST_ASSERT(f, "fopen(/proc/meminfo) failed, errno %d", errno);
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, field, len) && line[len] == ':') {
			kb = strtoull(line + len + 1, NULL, 10);
			break;
		}
	fclose(f);
	TEST_ASSERT(kb || !strcmp(field, "Unevictable"), "No %s in /proc/meminfo", field);
	return kb;
}

#define CYCLE_SIZE	SZ_1G
#define CYCLES		3
/*
 * Per-CPU LRU batches move Unevictable by some tens of kB (up to 68 kB seen);
 * a cycle left on the LRU would be 1 GiB.
 */
#define UNEVICTABLE_SLACK_KB	1024

/*
 * Half of the file through fallocate() (the batched path), half through
 * faults of its mmap(), a hole punched through both halves, then close.
 */
static void ndm_cycle(struct kvm_vm *vm)
{
	size_t page_size = getpagesize(), half = CYCLE_SIZE / 2, i;
	char *mem;
	int fd;

	fd = vm_create_guest_memfd(vm, CYCLE_SIZE, GMEM_SHARED | GUEST_MEMFD_FLAG_NO_DIRECT_MAP);
	TEST_ASSERT(!fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, half),
		    "fallocate() of %zu bytes failed, errno %d", half, errno);

	mem = kvm_mmap(CYCLE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd);
	for (i = 0; i < CYCLE_SIZE; i += page_size)
		mem[i] = 1;

	TEST_ASSERT(!fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			       half / 2, half),
		    "Punching a hole failed, errno %d", errno);
	kvm_munmap(mem, CYCLE_SIZE);
	close(fd);
}

/*
 * Cycles of 1 GiB without a direct map leave free memory where it was, and
 * no page goes back to the page allocator without its direct map: the kernel
 * clears every page it hands to an anonymous mapping through the direct map,
 * so populating more than what the cycles freed would oops on such a page.
 */
FIXTURE(cycles) {
	struct kvm_vm *vm;
};

FIXTURE_SETUP(cycles)
{
	if (!default_vm_has_ndm())
		SKIP(return, NDM_NOT_OFFERED);
	self->vm = vm_create_barebones();
}

FIXTURE_TEARDOWN(cycles)
{
	kvm_vm_free(self->vm);
}

TEST_F_TIMEOUT(cycles, no_memory_lost, 600)
{
	u64 free_before, free_after, unevictable_before, unevictable_after;
	size_t populate;
	int i;
	void *p;

	/* A first cycle splits the direct map once; its page tables stay. */
	ndm_cycle(self->vm);
	refresh_vm_stats();
	free_before = meminfo_kb("MemFree");
	unevictable_before = meminfo_kb("Unevictable");
	TEST_REQUIRE(free_before > (CYCLE_SIZE >> 10) * 2);

	for (i = 0; i < CYCLES; i++)
		ndm_cycle(self->vm);

	refresh_vm_stats();
	free_after = meminfo_kb("MemFree");
	unevictable_after = meminfo_kb("Unevictable");
	TH_LOG("MemFree %lu kB -> %lu kB, Unevictable %lu kB -> %lu kB after %d cycles of 1 GiB",
	       free_before, free_after, unevictable_before, unevictable_after, CYCLES);
	TEST_ASSERT(free_after + free_before / 100 >= free_before,
		    "MemFree fell from %lu kB to %lu kB", free_before, free_after);
	TEST_ASSERT(unevictable_after <= unevictable_before + UNEVICTABLE_SLACK_KB,
		    "Unevictable grew from %lu kB to %lu kB", unevictable_before,
		    unevictable_after);

	populate = min_t(size_t, CYCLE_SIZE + CYCLE_SIZE / 4, (free_after << 10) * 9 / 10);
	p = mmap(NULL, populate, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	TEST_ASSERT(p != MAP_FAILED, "Populating %zu bytes failed, errno %d", populate, errno);
	munmap(p, populate);
}

/* Whether the first line of the file at @path holds @word (no file: no). */
static bool first_line_has(const char *path, const char *word)
{
	char line[4096] = "";
	FILE *f = fopen(path, "r");

	if (f) {
		if (!fgets(line, sizeof(line), f))
			line[0] = 0;
		fclose(f);
	}
	return strstr(line, word);
}

/* Whether /sys/power/state offers hibernation ("disk"). */
static bool hibernation_offered(void)
{
	return first_line_has("/sys/power/state", "disk");
}

/*
 * Hibernation would write guest memory out to the swap device, readable
 * there by anyone who reads the disk, and read it back through the direct
 * map: while memory without a direct map exists it is refused, as it is for
 * secretmem, and offered again once the last such guest_memfd is gone.
 */
TEST_F(cycles, hibernation_refused_while_memory_exists)
{
	char *mem;
	int fd;

	if (!hibernation_offered())
		SKIP(return, "hibernation is not offered (CONFIG_HIBERNATION, nohibernate)");

	fd = vm_create_guest_memfd(self->vm, getpagesize(),
				   GMEM_SHARED | GUEST_MEMFD_FLAG_NO_DIRECT_MAP);
	mem = kvm_mmap(getpagesize(), PROT_READ | PROT_WRITE, MAP_SHARED, fd);
	mem[0] = 1;
	TEST_ASSERT(!hibernation_offered(),
		    "Hibernation is offered while memory without a direct map exists");
	kvm_munmap(mem, getpagesize());
	close(fd);
	TEST_ASSERT(hibernation_offered(),
		    "Hibernation is not offered again once that memory is gone");
}

/* Whether the kernel command line holds @param. */
static bool cmdline_has(const char *param)
{
	return first_line_has("/proc/cmdline", param);
}

/* debug_pagealloc unmaps free pages from the direct map as well. */
static bool debug_pagealloc_on(void)
{
	return cmdline_has("debug_pagealloc=on") || cmdline_has("debug_pagealloc=1");
}

#define DIRECT_MAP_SIZE	SZ_64M
#define DIRECT_MAP_SLACK	SZ_1M

/*
 * The effect itself, read from the kernel's page tables: memory of a
 * guest_memfd without a direct map leaves the direct map when it is
 * allocated (half through fallocate(), half through faults) and is back in
 * it once the file is closed.
 */
TEST_F_TIMEOUT(cycles, direct_map_removed_and_restored, 300)
{
	long before, during, after;
	size_t page_size = getpagesize(), i;
	char *mem;
	int fd;

	before = direct_map_bytes();
	if (before < 0)
		SKIP(return, "no %s (CONFIG_PTDUMP_DEBUGFS, x86)", KERNEL_PTDUMP);
	if (debug_pagealloc_on())
		SKIP(return, "debug_pagealloc: free pages are out of the direct map too");

	fd = vm_create_guest_memfd(self->vm, DIRECT_MAP_SIZE,
				   GMEM_SHARED | GUEST_MEMFD_FLAG_NO_DIRECT_MAP);
	TEST_ASSERT(!fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, DIRECT_MAP_SIZE / 2),
		    "fallocate() failed, errno %d", errno);
	mem = kvm_mmap(DIRECT_MAP_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd);
	for (i = DIRECT_MAP_SIZE / 2; i < DIRECT_MAP_SIZE; i += page_size)
		mem[i] = 1;

	during = direct_map_bytes();
	kvm_munmap(mem, DIRECT_MAP_SIZE);
	close(fd);
	after = direct_map_bytes();

	TH_LOG("Direct map: %ld kB, %ld kB with %d MiB allocated, %ld kB after close",
	       before >> 10, during >> 10, DIRECT_MAP_SIZE >> 20, after >> 10);
	TEST_ASSERT(during <= before - DIRECT_MAP_SIZE + DIRECT_MAP_SLACK,
		    "Only %ld of %d kB left the direct map", (before - during) >> 10,
		    DIRECT_MAP_SIZE >> 10);
	TEST_ASSERT(after >= before - DIRECT_MAP_SLACK,
		    "%ld kB are still out of the direct map after close",
		    (before - after) >> 10);
}

/* The physical address of the page mapped at @addr (root: /proc/self/pagemap). */
static u64 phys_addr_of(void *addr)
{
	size_t page_size = getpagesize();
	u64 entry;
	int fd;

	fd = open("/proc/self/pagemap", O_RDONLY);
	TEST_ASSERT(fd >= 0, "open(/proc/self/pagemap) failed, errno %d", errno);
	TEST_ASSERT(pread(fd, &entry, sizeof(entry),
			  (unsigned long)addr / page_size * sizeof(entry)) == sizeof(entry),
		    "Reading /proc/self/pagemap failed, errno %d", errno);
	close(fd);
	TEST_ASSERT(entry & BIT_ULL(63), "The page at %p is not present", addr);
	TEST_ASSERT(entry & GENMASK_ULL(54, 0), "No PFN in /proc/self/pagemap (not root?)");
	return (entry & GENMASK_ULL(54, 0)) * page_size;
}

/*
 * Reads @len bytes at physical address @pa the way kernel code would: through
 * the direct map, with /proc/kcore (which reads it with
 * copy_from_kernel_nofault() and gives zeroes where nothing is mapped).
 * Returns false if /proc/kcore has no RAM segment holding @pa.
 */
static bool kernel_read_phys(u64 pa, void *buf, size_t len)
{
	struct elf64_phdr phdr;
	struct elf64_hdr ehdr;
	bool found = false;
	int fd, i;

	fd = open("/proc/kcore", O_RDONLY);
	TEST_ASSERT(fd >= 0, "open(/proc/kcore) failed, errno %d", errno);
	TEST_ASSERT(pread(fd, &ehdr, sizeof(ehdr), 0) == sizeof(ehdr),
		    "Reading /proc/kcore's ELF header failed, errno %d", errno);
	for (i = 0; i < ehdr.e_phnum && !found; i++) {
		TEST_ASSERT(pread(fd, &phdr, sizeof(phdr), ehdr.e_phoff + i * sizeof(phdr)) ==
			    sizeof(phdr), "Reading /proc/kcore's program headers failed");
		if (phdr.p_type != PT_LOAD || phdr.p_paddr == UINT64_MAX ||
		    pa < phdr.p_paddr || pa + len > phdr.p_paddr + phdr.p_memsz)
			continue;
		TEST_ASSERT(pread(fd, buf, len, phdr.p_offset + (pa - phdr.p_paddr)) == len,
			    "Reading /proc/kcore at PA 0x%lx failed, errno %d", pa, errno);
		found = true;
	}
	close(fd);
	return found;
}

#define KERNEL_READ_PAGES	64
#define KERNEL_READ_MARK	0x6e646d2d67756573ULL

/*
 * What a kernel read of the direct map finds of guest data: with a direct
 * map, the data (which shows that the check can see it); without one,
 * nothing, while the file is open and after it is closed, when its pages are
 * back in the page allocator.
 */
FIXTURE(kernel_read) {
	struct kvm_vm *vm;
	size_t size;
	char *mem;
	int fd;
	u64 pa[KERNEL_READ_PAGES];
};

FIXTURE_VARIANT(kernel_read) {
	u64 flags;
};

FIXTURE_VARIANT_ADD(kernel_read, plain) {
	.flags = 0,
};

FIXTURE_VARIANT_ADD(kernel_read, no_direct_map) {
	.flags = GUEST_MEMFD_FLAG_NO_DIRECT_MAP,
};

FIXTURE_SETUP(kernel_read)
{
	size_t page_size = getpagesize();
	u64 flags = GMEM_SHARED | variant->flags;
	int fd, i;

	if (!default_vm_offers(flags))
		SKIP(return, "guest_memfd flags 0x%lx are not offered", flags);
	/* CONFIG_PROC_KCORE, CAP_SYS_RAWIO, and no lockdown */
	fd = open("/proc/kcore", O_RDONLY);
	if (fd < 0)
		SKIP(return, "cannot read /proc/kcore (CONFIG_PROC_KCORE), errno %d", errno);
	close(fd);

	self->size = KERNEL_READ_PAGES * page_size;
	self->vm = vm_create_barebones();
	self->fd = vm_create_guest_memfd(self->vm, self->size, flags);
	self->mem = kvm_mmap(self->size, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd);
	for (i = 0; i < KERNEL_READ_PAGES; i++) {
		u64 *page = (u64 *)(self->mem + i * page_size);
		size_t j;

		for (j = 0; j < page_size / sizeof(u64); j++)
			page[j] = KERNEL_READ_MARK + i;
		self->pa[i] = phys_addr_of(page);
	}
}

FIXTURE_TEARDOWN(kernel_read)
{
	if (!self->vm)
		return;
	if (self->fd >= 0) {
		kvm_munmap(self->mem, self->size);
		close(self->fd);
	}
	kvm_vm_free(self->vm);
}

/* Whether the kernel clears every page it frees, which hides what this test looks for. */
static bool init_on_free_on(void)
{
	return cmdline_has("init_on_free=1") || cmdline_has("page_poison=1");
}

/* How many of the file's pages a kernel read finds the guest's data in. */
static int pages_with_guest_data(const u64 *pa)
{
	u64 word = 0;
	int i, found = 0;

	for (i = 0; i < KERNEL_READ_PAGES; i++) {
		TEST_ASSERT(kernel_read_phys(pa[i], &word, sizeof(word)),
			    "/proc/kcore does not hold PA 0x%lx", pa[i]);
		found += word == KERNEL_READ_MARK + i;
	}
	return found;
}

TEST_F(kernel_read, while_open)
{
	int found = pages_with_guest_data(self->pa);

	TH_LOG("A kernel read found guest data in %d of %d pages", found, KERNEL_READ_PAGES);
	if (variant->flags & GUEST_MEMFD_FLAG_NO_DIRECT_MAP)
		TEST_ASSERT(!found, "A kernel read found guest data in %d of %d pages",
			    found, KERNEL_READ_PAGES);
	else
		TEST_ASSERT(found == KERNEL_READ_PAGES,
			    "A kernel read found guest data in only %d of %d pages",
			    found, KERNEL_READ_PAGES);
}

TEST_F(kernel_read, after_close)
{
	int found;

	if (debug_pagealloc_on() || init_on_free_on())
		SKIP(return, "free pages are unmapped or cleared (debug_pagealloc, init_on_free)");

	kvm_munmap(self->mem, self->size);
	close(self->fd);
	self->fd = -1;
	found = pages_with_guest_data(self->pa);

	TH_LOG("After close, a kernel read found guest data in %d of %d freed pages",
	       found, KERNEL_READ_PAGES);
	if (variant->flags & GUEST_MEMFD_FLAG_NO_DIRECT_MAP)
		TEST_ASSERT(!found, "Guest data left in %d of %d freed pages",
			    found, KERNEL_READ_PAGES);
	else
		TEST_ASSERT(found, "The check found no data in freed plain pages either");
}

#ifdef __x86_64__
#include "processor.h"

/*
 * kvm-clock on memory of each kind: KVM writes the pvclock into guest memory
 * on every clock update. Without a direct map its pfn cache cannot map the
 * page, and KVM writes through the VMM's mapping instead.
 */
static struct pvclock_vcpu_time_info pvti __aligned(64);

static u64 guest_read_kvm_clock(void)
{
	u32 version;
	u64 ns;

	do {
		version = READ_ONCE(pvti.version);
		/* The version is read before the data it covers... */
		rmb();
		ns = __pvclock_read_cycles(&pvti, rdtsc());
		/* ...and the data before the version is read again. */
		rmb();
	} while ((version & 1) || version != READ_ONCE(pvti.version));
	return ns;
}

static void guest_kvm_clock(gpa_t pvti_gpa)
{
	u64 t1, t2, tsc;

	wrmsr(MSR_KVM_SYSTEM_TIME_NEW, pvti_gpa | KVM_MSR_ENABLED);
	__GUEST_ASSERT(READ_ONCE(pvti.version) && READ_ONCE(pvti.tsc_to_system_mul),
		       "KVM did not write kvm-clock: version %u, tsc_to_system_mul %u",
		       pvti.version, pvti.tsc_to_system_mul);

	t1 = guest_read_kvm_clock();
	for (tsc = rdtsc(); rdtsc() - tsc < 10000000;)
		cpu_relax();
	t2 = guest_read_kvm_clock();
	__GUEST_ASSERT(t2 > t1, "kvm-clock did not advance: %lu, then %lu", t1, t2);
	GUEST_DONE();
}

FIXTURE(kvm_clock) {
};

FIXTURE_VARIANT(kvm_clock) {
	enum vm_mem_backing_src_type src_type;
	u64 flags;
};

FIXTURE_VARIANT_ADD(kvm_clock, plain) {
	.src_type = VM_MEM_SRC_GUEST_MEMFD,
	.flags = GMEM_SHARED,
};

FIXTURE_VARIANT_ADD(kvm_clock, no_direct_map) {
	.src_type = VM_MEM_SRC_GUEST_MEMFD_NO_DIRECT_MAP,
	.flags = GMEM_SHARED | GUEST_MEMFD_FLAG_NO_DIRECT_MAP,
};

FIXTURE_SETUP(kvm_clock)
{
	if (!default_vm_offers(variant->flags))
		SKIP(return, "guest_memfd flags 0x%lx are not offered", variant->flags);
}

FIXTURE_TEARDOWN(kvm_clock)
{
}

/* The guest, kvm-clock page included, in guest_memfd memory of the variant. */
TEST_F(kvm_clock, advances)
{
	struct vm_shape shape = VM_SHAPE_DEFAULT;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;

	shape.src_type = variant->src_type;
	vm = __vm_create_shape_with_one_vcpu(shape, &vcpu, 0, guest_kvm_clock);
	vcpu_args_set(vcpu, 1, addr_gva2gpa(vm, (gva_t)&pvti));
	run_guest_to_done(vcpu);
	kvm_vm_free(vm);
}

#define UNMAPPABLE_GPA	(SZ_4G - SZ_64M)
#define UNMAPPABLE_SLOT	10

static void guest_set_kvm_clock(gpa_t pvti_gpa)
{
	wrmsr(MSR_KVM_SYSTEM_TIME_NEW, pvti_gpa | KVM_MSR_ENABLED);
	GUEST_SYNC(0);
	GUEST_DONE();
}

/*
 * The fallback through the VMM's mapping is for guest_memfd without a
 * direct map only: a VM without it whose kvm-clock page KVM cannot map
 * (here: memfd_secret() memory, which GUP refuses) gets no kvm-clock
 * update, as without this series.
 */
TEST(kvm_clock_unmappable_without_the_flag_is_not_written)
{
	size_t page_size = getpagesize();
	struct pvclock_vcpu_time_info *mem;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct ucall uc;
	int fd;

	fd = syscall(__NR_memfd_secret, 0);
	if (fd < 0)
		SKIP(return, "no memfd_secret() (CONFIG_SECRETMEM), errno %d", errno);
	TEST_ASSERT(!ftruncate(fd, page_size), "ftruncate() failed, errno %d", errno);
	mem = mmap(NULL, page_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	TEST_ASSERT(mem != MAP_FAILED, "mmap() of memfd_secret failed, errno %d", errno);
	memset(mem, 0, page_size);

	vm = vm_create_with_one_vcpu(&vcpu, guest_set_kvm_clock);
	vm_set_user_memory_region(vm, UNMAPPABLE_SLOT, 0, UNMAPPABLE_GPA, page_size, mem);
	vcpu_args_set(vcpu, 1, UNMAPPABLE_GPA);

	vcpu_run(vcpu);
	TEST_ASSERT_EQ(get_ucall(vcpu, &uc), UCALL_SYNC);
	TEST_ASSERT(!mem->version && !mem->tsc_to_system_mul,
		    "KVM wrote kvm-clock into memory it cannot map: version %u",
		    mem->version);
	run_guest_to_done(vcpu);

	kvm_vm_free(vm);
	munmap(mem, page_size);
	close(fd);
}

/*
 * How long a guest waits for kvm-clock to be consistent: a version still odd
 * after this many reads was left odd, and the guest would wait for ever.
 */
#define PVCLOCK_MAX_READS	100000

/*
 * A consistent copy of @p, read by the version protocol in at most
 * PVCLOCK_MAX_READS tries; the guest asserts if it never got one.
 */
static void guest_copy_pvclock(struct pvclock_vcpu_time_info *p,
			       struct pvclock_vcpu_time_info *copy)
{
	u32 version, tries = 0;

	do {
		__GUEST_ASSERT(tries++ < PVCLOCK_MAX_READS,
			       "kvm-clock stayed inconsistent for %u reads, version %u",
			       PVCLOCK_MAX_READS, READ_ONCE(p->version));
		version = READ_ONCE(p->version);
		/* The version is read before the data it covers... */
		rmb();
		*copy = *p;
		/* ...and the data before the version is read again. */
		rmb();
	} while ((version & 1) || version != READ_ONCE(p->version));
}

/* A page of its own for kvm-clock, which the VMM punches out under the guest. */
static struct pvclock_vcpu_time_info
	punched_pvti[PAGE_SIZE / sizeof(struct pvclock_vcpu_time_info)]
	__aligned(PAGE_SIZE);

#define NR_PUNCHED_UPDATES	1000

/*
 * Asks for a clock update and reads kvm-clock, over and over, while the VMM
 * punches the page. A read may find the page punched since the update (all
 * zeroes, no clock in it); any other read must not go back in time where
 * KVM says the clock is stable (PVCLOCK_TSC_STABLE_BIT; without it
 * kvm-clock may step back at an update on any kernel).
 */
static void guest_kvm_clock_while_punched(gpa_t pvti_gpa)
{
	struct pvclock_vcpu_time_info copy;
	u64 ns, last = 0, clocks = 0;
	int i;

	for (i = 0; i < NR_PUNCHED_UPDATES; i++) {
		/* KVM updates kvm-clock before the guest runs on. */
		wrmsr(MSR_KVM_SYSTEM_TIME_NEW, pvti_gpa | KVM_MSR_ENABLED);
		guest_copy_pvclock(&punched_pvti[0], &copy);
		if (!copy.tsc_to_system_mul)
			continue;
		ns = __pvclock_read_cycles(&copy, rdtsc());
		if (copy.flags & PVCLOCK_TSC_STABLE_BIT)
			__GUEST_ASSERT(ns >= last, "kvm-clock went back from %lu to %lu ns",
				       last, ns);
		last = ns;
		clocks++;
	}
	GUEST_SYNC(clocks);
	GUEST_DONE();
}

struct punch_args {
	int fd;
	off_t offset;
	u8 *hva;
	bool stop;
	unsigned long punches;
};

/* Punches the kvm-clock page and faults it back in, as a VMM's reads would. */
static void *punch_and_refault(void *data)
{
	struct punch_args *args = data;

	while (!READ_ONCE(args->stop)) {
		TEST_ASSERT(!fallocate(args->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				       args->offset, getpagesize()),
			    "Punching the kvm-clock page failed, errno %d", errno);
		(void)READ_ONCE(*args->hva);
		args->punches++;
	}
	return NULL;
}

/*
 * The VMM punches the kvm-clock page while the guest updates and reads it:
 * every read is consistent within PVCLOCK_MAX_READS tries, a stable clock
 * never goes back, and the guest gets through all its updates.
 */
TEST_F(kvm_clock, settles_and_never_goes_back_while_punched)
{
	struct vm_shape shape = VM_SHAPE_DEFAULT;
	struct userspace_mem_region *region;
	struct punch_args args = {};
	struct kvm_vcpu *vcpu;
	pthread_t thread;
	struct kvm_vm *vm;
	struct ucall uc;
	gpa_t gpa;

	shape.src_type = variant->src_type;
	vm = __vm_create_shape_with_one_vcpu(shape, &vcpu, 0, guest_kvm_clock_while_punched);
	gpa = addr_gva2gpa(vm, (gva_t)punched_pvti);
	region = memslot2region(vm, 0);
	args.fd = region->fd;
	args.offset = gpa - region->region.guest_phys_addr + region->region.guest_memfd_offset;
	args.hva = addr_gpa2hva(vm, gpa);
	vcpu_args_set(vcpu, 1, gpa);

	pthread_create(&thread, NULL, punch_and_refault, &args);
	vcpu_run(vcpu);
	WRITE_ONCE(args.stop, true);
	pthread_join(thread, NULL);

	switch (get_ucall(vcpu, &uc)) {
	case UCALL_SYNC:
		break;
	case UCALL_ABORT:
		REPORT_GUEST_ASSERT(uc);
		break;
	default:
		TEST_FAIL("Unexpected ucall %lu", uc.cmd);
	}
	TEST_ASSERT(args.punches, "The kvm-clock page was never punched");
	TEST_ASSERT(uc.args[1], "The guest never read a clock");
	ksft_print_msg("%lu punches, %lu of %u updates read back as a clock\n",
		       args.punches, uc.args[1], NR_PUNCHED_UPDATES);
	run_guest_to_done(vcpu);
	kvm_vm_free(vm);
}

#define FAIL_NTH	"/proc/thread-self/fail-nth"

/* Makes the @nth fault-injection point this thread passes fail (0: none). */
static void set_fail_nth(int fd, unsigned int nth)
{
	char buf[16];
	int len = snprintf(buf, sizeof(buf), "%u", nth);

	TEST_ASSERT(pwrite(fd, buf, len, 0) == len, "Writing " FAIL_NTH " failed, errno %d",
		    errno);
}

/*
 * Whether the failure asked for is still ahead. Reading is a copy to user
 * itself, and fails when it is the point that was asked for.
 */
static bool fail_nth_pending(int fd)
{
	char buf[16] = {};

	if (pread(fd, buf, sizeof(buf) - 1, 0) < 0)
		return true;
	return strtoul(buf, NULL, 10) != 0;
}

/* The fault-injection capabilities whose points fail-nth may pick. */
static const char * const fail_verbose_files[] = {
	"/sys/kernel/debug/fail_usercopy/verbose",
	"/sys/kernel/debug/fail_page_alloc/verbose",
	"/sys/kernel/debug/failslab/verbose",
};

#define NR_FAIL_VERBOSE	ARRAY_SIZE(fail_verbose_files)

/*
 * Each injected failure logs a stack trace unless told otherwise: sets how
 * much each capability logs, where debugfs has it, keeping what it was in
 * @old (-1: not there); @verbose NULL: puts back @old.
 */
static void set_fail_verbose(int *old, const int *verbose)
{
	char buf[16] = {};
	int i, fd, len;

	for (i = 0; i < NR_FAIL_VERBOSE; i++) {
		const char *path = fail_verbose_files[i];
		int value;

		if (!verbose && old[i] < 0)
			continue;
		fd = open(path, O_RDWR);
		if (fd < 0) {
			old[i] = -1;
			continue;
		}
		if (verbose) {
			TEST_ASSERT(read(fd, buf, sizeof(buf) - 1) > 0, "Reading %s failed", path);
			old[i] = atoi(buf);
			/* debugfs attributes cannot seek: write through a new open. */
			close(fd);
			fd = open(path, O_WRONLY);
			TEST_ASSERT(fd >= 0, "Opening %s failed", path);
		}
		value = verbose ? *verbose : old[i];
		len = snprintf(buf, sizeof(buf), "%d", value);
		TEST_ASSERT(write(fd, buf, len) == len, "Writing %s failed", path);
		close(fd);
	}
}

static void guest_kvm_clock_updates(gpa_t pvti_gpa)
{
	struct pvclock_vcpu_time_info copy;

	for (;;) {
		wrmsr(MSR_KVM_SYSTEM_TIME_NEW, pvti_gpa | KVM_MSR_ENABLED);
		guest_copy_pvclock(&pvti, &copy);
		GUEST_SYNC(copy.version);
	}
}

/*
 * KVM writes the kvm-clock of memory without a direct map with user copies
 * (read, odd version, data, even version). Each of them fails in turn, by the
 * kernel's fault injection (fail-nth): whichever fails, the guest finds a
 * consistent kvm-clock within PVCLOCK_MAX_READS reads, never an odd version
 * left for good.
 */
TEST(kvm_clock_update_failing_midway_leaves_no_odd_version)
{
	struct vm_shape shape = VM_SHAPE_DEFAULT;
	struct kvm_vcpu *vcpu;
	unsigned int nth;
	struct kvm_vm *vm;
	bool pending = false;
	int verbose[NR_FAIL_VERBOSE], quiet = 0;
	int fd, ret;

	if (!default_vm_has_ndm())
		SKIP(return, NDM_NOT_OFFERED);
	fd = open(FAIL_NTH, O_RDWR);
	if (fd < 0)
		SKIP(return, "no " FAIL_NTH " (CONFIG_FAULT_INJECTION), errno %d", errno);

	set_fail_verbose(verbose, &quiet);
	shape.src_type = VM_MEM_SRC_GUEST_MEMFD_NO_DIRECT_MAP;
	vm = __vm_create_shape_with_one_vcpu(shape, &vcpu, 0, guest_kvm_clock_updates);
	vcpu_args_set(vcpu, 1, addr_gva2gpa(vm, (gva_t)&pvti));

	for (nth = 1; nth < 100; nth++) {
		struct ucall uc;

		set_fail_nth(fd, nth);
		ret = __vcpu_run(vcpu);
		pending = fail_nth_pending(fd);
		set_fail_nth(fd, 0);
		/*
		 * A copy that KVM itself needed to run the guest failed (e.g.
		 * an instruction fetch for emulation), not one of the clock
		 * update: run on without a failure.
		 */
		if (ret || vcpu->run->exit_reason == KVM_EXIT_INTERNAL_ERROR) {
			TEST_ASSERT(!pending, "KVM_RUN failed uninjected, errno %d, exit %s",
				    errno, exit_reason_str(vcpu->run->exit_reason));
			vcpu_run(vcpu);
		}
		switch (get_ucall(vcpu, &uc)) {
		case UCALL_SYNC:
			break;
		case UCALL_ABORT:
			REPORT_GUEST_ASSERT(uc);
			break;
		default:
			TEST_FAIL("Unexpected exit %s at fail-nth %u, ret %d",
				  exit_reason_str(vcpu->run->exit_reason), nth, ret);
		}
		if (pending)
			break;
	}
	kvm_vm_free(vm);
	close(fd);
	set_fail_verbose(verbose, NULL);
	TEST_ASSERT(pending, "A run passed more than %u fault-injection points", nth - 1);

	/* One clock update alone reads the pvclock and writes it three times. */
	if (nth <= 4)
		SKIP(return, "%u fault-injection points in a clock update: %s",
		     nth - 1, "no usercopy fault injection (CONFIG_FAULT_INJECTION_USERCOPY)");
	ksft_print_msg("%u fault-injection points of a clock update failed in turn\n",
		       nth - 1);
}

/* What a VM with Xen emulation needs first; a reason to skip if missing. */
static const char *xen_missing(void)
{
	if (!default_vm_has_ndm())
		return NDM_NOT_OFFERED;
	if (!(kvm_check_cap(KVM_CAP_XEN_HVM) & KVM_XEN_HVM_CONFIG_HYPERCALL_MSR))
		return "no Xen emulation (CONFIG_KVM_XEN)";
	return NULL;
}

#define XEN_HYPERCALL_MSR	0x40000200

/* The Xen ioctls that configure a VM or a vCPU. */
enum xen_ioctl { XEN_HVM_CONFIG, XEN_HVM_SET_ATTR, XEN_VCPU_SET_ATTR, NR_XEN_IOCTLS };

static const char * const xen_ioctl_names[] = {
	"KVM_XEN_HVM_CONFIG", "KVM_XEN_HVM_SET_ATTR", "KVM_XEN_VCPU_SET_ATTR",
};

/*
 * Calls Xen ioctl @which with valid input, or with input it refuses: an
 * unknown flag (EINVAL), an unknown attribute (ENOENT), a vCPU ID out of
 * range (EINVAL).
 */
static int xen_ioctl(struct kvm_vm *vm, struct kvm_vcpu *vcpu, enum xen_ioctl which,
		     bool valid)
{
	struct kvm_xen_hvm_config config = {
		.msr = XEN_HYPERCALL_MSR,
		.flags = valid ? 0 : 1u << 31,
	};
	struct kvm_xen_hvm_attr long_mode = {
		.type = valid ? KVM_XEN_ATTR_TYPE_LONG_MODE : 0xffff,
		.u.long_mode = 1,
	};
	struct kvm_xen_vcpu_attr vcpu_id = {
		.type = KVM_XEN_VCPU_ATTR_TYPE_VCPU_ID,
		.u.vcpu_id = valid ? 0 : -1,
	};

	switch (which) {
	case XEN_HVM_CONFIG:
		return __vm_ioctl(vm, KVM_XEN_HVM_CONFIG, &config);
	case XEN_HVM_SET_ATTR:
		return __vm_ioctl(vm, KVM_XEN_HVM_SET_ATTR, &long_mode);
	default:
		return __vcpu_ioctl(vcpu, KVM_XEN_VCPU_SET_ATTR, &vcpu_id);
	}
}

/*
 * After Xen ioctl @which (with valid input or not) on a new VM, guest_memfd
 * without a direct map is no longer offered, and creating one fails with
 * EINVAL.
 */
static void check_xen_first(enum xen_ioctl which, bool valid)
{
	const u64 ndm = GUEST_MEMFD_FLAG_NO_DIRECT_MAP;
	const char *name = xen_ioctl_names[which];
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	int fd, ret;

	vm = __vm_create(VM_SHAPE_DEFAULT, 1, 0);
	vcpu = vm_vcpu_add(vm, 0, NULL);
	ret = xen_ioctl(vm, vcpu, which, valid);
	TEST_ASSERT(valid ? !ret : ret < 0 && (errno == EINVAL || errno == ENOENT),
		    "%s with %s input returned %d (errno %d)", name, valid ? "valid" : "bad",
		    ret, errno);
	TEST_ASSERT(!(vm_check_cap(vm, KVM_CAP_GUEST_MEMFD_FLAGS) & ndm),
		    "NO_DIRECT_MAP should not be offered after %s", name);
	fd = __vm_create_guest_memfd(vm, getpagesize(), ndm);
	TEST_ASSERT(fd < 0 && errno == EINVAL,
		    "NO_DIRECT_MAP after %s should fail with EINVAL, returned %d (errno %d)",
		    name, fd, errno);
	kvm_vm_free(vm);
}

/*
 * Xen emulation and guest_memfd without a direct map exclude each other,
 * whichever the VM asks for first, as nesting does: KVM reaches the Xen pages
 * of a guest (shared info, vcpu_info, vcpu_time_info, runstate) through pfn
 * caches, which cannot map such memory. Each Xen ioctl that configures the VM
 * or a vCPU fails with EBUSY once such a guest_memfd was created; after any
 * of them, such a guest_memfd fails with EINVAL (the flag is no longer
 * offered).
 */
TEST(xen_refused)
{
	const char *missing = xen_missing();
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	enum xen_ioctl i;
	int fd, ret;

	if (missing)
		SKIP(return, "%s", missing);

	/*
	 * guest_memfd without a direct map first: no Xen ioctl afterwards, not
	 * even once the file is closed. The vCPU comes after it, so that the
	 * library hides SVM and VMX from it.
	 */
	vm = __vm_create(VM_SHAPE_DEFAULT, 1, 0);
	fd = vm_create_guest_memfd(vm, getpagesize(), GUEST_MEMFD_FLAG_NO_DIRECT_MAP);
	vcpu = vm_vcpu_add(vm, 0, NULL);
	close(fd);
	for (i = 0; i < NR_XEN_IOCTLS; i++) {
		ret = xen_ioctl(vm, vcpu, i, true);
		TEST_ASSERT(ret < 0 && errno == EBUSY,
			    "%s next to NO_DIRECT_MAP should fail with EBUSY, returned %d (errno %d)",
			    xen_ioctl_names[i], ret, errno);
	}
	kvm_vm_free(vm);

	/* Each Xen ioctl first: the flag is no longer offered, nor accepted. */
	for (i = 0; i < NR_XEN_IOCTLS; i++)
		check_xen_first(i, true);
}

/*
 * A Xen ioctl that fails on its input excludes guest_memfd without a direct
 * map all the same: a failing one may already have activated a pfn cache.
 */
TEST(failed_xen_ioctl_excludes_no_direct_map)
{
	const char *missing = xen_missing();
	enum xen_ioctl i;

	if (missing)
		SKIP(return, "%s", missing);

	for (i = 0; i < NR_XEN_IOCTLS; i++)
		check_xen_first(i, false);
}

/*
 * Nested virtualization and guest_memfd without a direct map exclude each
 * other, whichever the VM asks for first: SVM or VMX in a vCPU's CPUID after
 * such a guest_memfd fails with EBUSY, such a guest_memfd after SVM or VMX in
 * a vCPU's CPUID with EINVAL (the flag is no longer offered).
 */
TEST(nested_refused)
{
	const struct kvm_x86_cpu_feature nested =
		kvm_cpu_has(X86_FEATURE_SVM) ? X86_FEATURE_SVM : X86_FEATURE_VMX;
	const u64 ndm = GUEST_MEMFD_FLAG_NO_DIRECT_MAP;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	int fd, ret;

	if (!default_vm_has_ndm())
		SKIP(return, NDM_NOT_OFFERED);
	if (!kvm_cpu_has(nested))
		SKIP(return, "KVM offers neither SVM nor VMX to guests");

	/* guest_memfd without a direct map first: no SVM/VMX afterwards. */
	vm = __vm_create(VM_SHAPE_DEFAULT, 1, 0);
	fd = vm_create_guest_memfd(vm, getpagesize(), ndm);
	vcpu = vm_vcpu_add(vm, 0, NULL);
	cpuid_set_or_clear_feature(vcpu->cpuid, nested, true);
	ret = __vcpu_set_cpuid(vcpu);
	TEST_ASSERT(ret < 0 && errno == EBUSY,
		    "KVM_SET_CPUID2 with SVM/VMX next to NO_DIRECT_MAP should fail with EBUSY, returned %d (errno %d)",
		    ret, errno);
	close(fd);
	kvm_vm_free(vm);

	/* SVM/VMX first: the flag is no longer offered, nor accepted. */
	vm = vm_create_with_one_vcpu(&vcpu, NULL);
	TEST_ASSERT(vcpu_cpuid_has(vcpu, nested), "The vCPU should have SVM/VMX");
	TEST_ASSERT(!(vm_check_cap(vm, KVM_CAP_GUEST_MEMFD_FLAGS) & ndm),
		    "NO_DIRECT_MAP should not be offered once a vCPU has SVM/VMX");
	fd = __vm_create_guest_memfd(vm, getpagesize(), ndm);
	TEST_ASSERT(fd < 0 && errno == EINVAL,
		    "NO_DIRECT_MAP next to SVM/VMX should fail with EINVAL, returned %d (errno %d)",
		    fd, errno);
	kvm_vm_free(vm);
}

/*
 * A guest_memfd without a direct map that could not be created (here: no
 * file descriptor left) claims nothing: the flag is still offered, and the
 * VM's vCPUs can still have SVM/VMX.
 */
TEST(failed_create_leaves_nesting_allowed)
{
	const struct kvm_x86_cpu_feature nested =
		kvm_cpu_has(X86_FEATURE_SVM) ? X86_FEATURE_SVM : X86_FEATURE_VMX;
	const u64 ndm = GUEST_MEMFD_FLAG_NO_DIRECT_MAP;
	struct rlimit old, none;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	int fd, err, ret;

	if (!default_vm_has_ndm())
		SKIP(return, NDM_NOT_OFFERED);
	if (!kvm_cpu_has(nested))
		SKIP(return, "KVM offers neither SVM nor VMX to guests");

	vm = __vm_create(VM_SHAPE_DEFAULT, 1, 0);

	TEST_ASSERT(!getrlimit(RLIMIT_NOFILE, &old), "getrlimit() failed, errno %d", errno);
	none = old;
	none.rlim_cur = 0;
	TEST_ASSERT(!setrlimit(RLIMIT_NOFILE, &none), "setrlimit() failed, errno %d", errno);
	fd = __vm_create_guest_memfd(vm, getpagesize(), ndm);
	err = errno;
	TEST_ASSERT(!setrlimit(RLIMIT_NOFILE, &old), "setrlimit() failed, errno %d", errno);
	TEST_ASSERT(fd < 0 && err == EMFILE,
		    "Creating a guest_memfd without a free fd should fail with EMFILE, returned %d (errno %d)",
		    fd, err);

	TEST_ASSERT(vm_check_cap(vm, KVM_CAP_GUEST_MEMFD_FLAGS) & ndm,
		    "NO_DIRECT_MAP should still be offered after a failed create");
	/* No vCPU before: it would have SVM/VMX, and the flag would not be offered. */
	vcpu = vm_vcpu_add(vm, 0, NULL);
	cpuid_set_or_clear_feature(vcpu->cpuid, nested, true);
	ret = __vcpu_set_cpuid(vcpu);
	TEST_ASSERT(!ret,
		    "KVM_SET_CPUID2 with SVM/VMX after a failed NO_DIRECT_MAP create should work, returned %d (errno %d)",
		    ret, errno);
	kvm_vm_free(vm);
}
#endif /* __x86_64__ */

TEST_HARNESS_MAIN
