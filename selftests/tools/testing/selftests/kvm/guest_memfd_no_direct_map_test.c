// SPDX-License-Identifier: GPL-2.0-only
/*
 * guest_memfd without a direct map (GUEST_MEMFD_FLAG_NO_DIRECT_MAP): a guest
 * runs from it, what reaches user memory through the kernel's direct map
 * refuses it, and bad input is refused.
 */
#include <errno.h>
#include <fcntl.h>
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
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>

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

/* Checks that the vCPU stopped at the guest's ucall @expected; reports a guest assertion. */
static void check_ucall(struct kvm_vcpu *vcpu, struct ucall *uc, u64 expected)
{
	u64 cmd = get_ucall(vcpu, uc);

	if (cmd == UCALL_ABORT)
		REPORT_GUEST_ASSERT(*uc);
	TEST_ASSERT(cmd == expected, "Unexpected exit %s, ucall %lu",
		    exit_reason_str(vcpu->run->exit_reason), cmd);
}

/* Runs the vCPU until the guest is done; fails on a guest assertion. */
static void run_guest_to_done(struct kvm_vcpu *vcpu)
{
	struct ucall uc;

	vcpu_run(vcpu);
	check_ucall(vcpu, &uc, UCALL_DONE);
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

TEST_HARNESS_MAIN
