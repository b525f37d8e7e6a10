// SPDX-License-Identifier: GPL-2.0-only
/*
 * guest_memfd without a direct map under concurrency, for a bounded time:
 * worker threads fault pages in through mmap(), fallocate() ranges, punch
 * holes and close and recreate a shared set of such guest_memfds, and punch
 * holes in the one a VM's memslot comes from, while a vCPU thread maps that
 * memslot into the stage-2 page tables over and over (KVM_PRE_FAULT_MEMORY:
 * KVM's fault path and kvm_gmem_get_pfn() racing with the invalidations).
 * Then the guest writes every page of the memslot once, and each page must
 * read back through the guest_memfd's mmap(): a stage-2 mapping left stale by
 * the race would send the guest's write elsewhere. Afterwards free memory must
 * be back within 1 %; `make check-debug` adds the kmemleak scan and the
 * kernel log.
 *
 * The guest does not run during the stress: under TCG (how `make check-debug`
 * boots) QEMU's nested SVM occasionally resumes the nested guest at the L1
 * host's RIP after VMRUN, with the host's CR3, when its memory is invalidated
 * at this rate -- with a plain guest_memfd just the same. The stage-2 side of
 * the race is what KVM_PRE_FAULT_MEMORY drives; the guest's pass afterwards
 * checks what it left.
 *
 * Usage: gmem_ndm_stress [SECONDS [THREADS]] (defaults 60 and 4).
 * Not part of the series: `make check-debug` builds it against the series'
 * KVM selftest library.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <linux/falloc.h>
#include <linux/sizes.h>
#include <sys/mman.h>

#include "kselftest.h"
#include "kvm_util.h"
#include "processor.h"
#include "test_util.h"
#include "ucall_common.h"

#define GMEM_NDM	(GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED | \
			 GUEST_MEMFD_FLAG_NO_DIRECT_MAP)
#define NR_FILES	4
#define FILE_SIZE	SZ_32M
#define GUEST_GPA	SZ_1G
#define GUEST_SLOT	1
#define GUEST_SIZE	SZ_32M

struct gmem_file {
	pthread_rwlock_t lock;	/* readers use it, a writer replaces it */
	char *mem;
	int fd;
};

enum op { OP_FAULT, OP_FALLOCATE, OP_PUNCH, OP_RECREATE, OP_PUNCH_GUEST, NR_OPS };
static const char * const op_names[NR_OPS] = {
	"faults", "fallocates", "punches", "recreates", "guest punches",
};

static struct kvm_vm *vm;
static struct gmem_file files[NR_FILES];
static int guest_fd;
static time_t deadline;
static unsigned long ops[NR_OPS];
static unsigned long prefault_passes;

static void file_open(struct gmem_file *f)
{
	f->fd = vm_create_guest_memfd(vm, FILE_SIZE, GMEM_NDM);
	f->mem = kvm_mmap(FILE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, f->fd);
}

static void file_close(struct gmem_file *f)
{
	kvm_munmap(f->mem, FILE_SIZE);
	close(f->fd);
}

/* A random page-aligned range of at most @max bytes inside @size. */
static void random_range(unsigned int *seed, size_t size, size_t max, off_t *off, size_t *len)
{
	size_t page = getpagesize();

	*off = (rand_r(seed) % (size / page)) * page;
	*len = (1 + rand_r(seed) % (max / page)) * page;
	if (*off + *len > size)
		*len = size - *off;
}

static void punch(int fd, size_t size, unsigned int *seed)
{
	size_t len;
	off_t off;

	random_range(seed, size, SZ_1M, &off, &len);
	TEST_ASSERT(!fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len),
		    "Punching a hole failed, errno %d", errno);
}

static void do_op(enum op op, struct gmem_file *f, unsigned int *seed)
{
	size_t len, i;
	off_t off;

	switch (op) {
	case OP_FAULT:
		random_range(seed, FILE_SIZE, SZ_256K, &off, &len);
		for (i = 0; i < len; i += getpagesize())
			WRITE_ONCE(f->mem[off + i], 1);
		break;
	case OP_FALLOCATE:
		random_range(seed, FILE_SIZE, SZ_1M, &off, &len);
		TEST_ASSERT(!fallocate(f->fd, FALLOC_FL_KEEP_SIZE, off, len),
			    "fallocate() failed, errno %d", errno);
		break;
	case OP_PUNCH:
		punch(f->fd, FILE_SIZE, seed);
		break;
	case OP_PUNCH_GUEST:
		punch(guest_fd, GUEST_SIZE, seed);
		break;
	default:
		break;
	}
}

static void *worker(void *arg)
{
	unsigned int seed = (unsigned long)arg;

	while (time(NULL) < deadline) {
		enum op op = rand_r(&seed) % NR_OPS;
		struct gmem_file *f = &files[rand_r(&seed) % NR_FILES];

		if (op == OP_RECREATE) {
			pthread_rwlock_wrlock(&f->lock);
			file_close(f);
			file_open(f);
		} else {
			pthread_rwlock_rdlock(&f->lock);
			do_op(op, f, &seed);
		}
		pthread_rwlock_unlock(&f->lock);
		__atomic_fetch_add(&ops[op], 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

/* One pass: each page of the memslot gets its own address written into it. */
static void guest_code(void)
{
	u64 *p;

	for (p = (u64 *)GUEST_GPA; p < (u64 *)(GUEST_GPA + GUEST_SIZE); p += 4096 / sizeof(*p))
		WRITE_ONCE(*p, (u64)p);
	GUEST_DONE();
}

/* Maps the whole memslot into the stage-2 page tables, again and again. */
static void *prefault_thread(void *arg)
{
	struct kvm_vcpu *vcpu = arg;

	while (time(NULL) < deadline) {
		struct kvm_pre_fault_memory range = {
			.gpa = GUEST_GPA,
			.size = GUEST_SIZE,
		};
		int ret;

		do {
			ret = __vcpu_ioctl(vcpu, KVM_PRE_FAULT_MEMORY, &range);
		} while (ret < 0 && (errno == EINTR || errno == EAGAIN));
		TEST_ASSERT(!ret && !range.size,
			    "KVM_PRE_FAULT_MEMORY failed at GPA 0x%llx, errno %d",
			    range.gpa, errno);
		prefault_passes++;
	}
	return NULL;
}

/* The guest's pass: every page it wrote must be the one the guest_memfd holds. */
static bool guest_writes_reach_the_guest_memfd(struct kvm_vcpu *vcpu)
{
	u64 *mem = addr_gpa2hva(vm, GUEST_GPA);
	unsigned long bad = 0;
	struct ucall uc;
	u64 gpa;

	vcpu_run(vcpu);
	switch (get_ucall(vcpu, &uc)) {
	case UCALL_DONE:
		break;
	case UCALL_ABORT:
		REPORT_GUEST_ASSERT(uc);
		break;
	default:
		TEST_FAIL("Unexpected exit %s (%u), ucall %lu",
			  exit_reason_str(vcpu->run->exit_reason), vcpu->run->exit_reason, uc.cmd);
	}
	for (gpa = GUEST_GPA; gpa < GUEST_GPA + GUEST_SIZE; gpa += getpagesize()) {
		u64 seen = READ_ONCE(mem[(gpa - GUEST_GPA) / sizeof(*mem)]);

		if (seen != gpa && !bad++)
			ksft_print_msg("GPA 0x%lx holds 0x%lx, not its address\n", gpa, seen);
	}
	if (bad)
		ksft_print_msg("%lu of %d pages miss the guest's write\n", bad,
			       GUEST_SIZE / getpagesize());
	return !bad;
}

static u64 mem_free_kb(void)
{
	char line[128];
	u64 kb = 0;
	FILE *f = fopen("/proc/meminfo", "r");

	TEST_ASSERT(f, "fopen(/proc/meminfo) failed, errno %d", errno);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemFree: %lu kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/*
 * One stress round of @seconds with @threads workers; when all stopped, the
 * guest's pass. Returns whether every write of the guest reached its page.
 */
static bool stress(int seconds, int threads)
{
	struct vm_shape shape = VM_SHAPE_DEFAULT;
	pthread_t tids[64], prefault_tid;
	struct kvm_vcpu *vcpu;
	bool ok;
	int i;

	/*
	 * Memslot 0 without a direct map too: KVM leaves SVM out of the vCPU's
	 * CPUID then, which a guest_memfd without a direct map requires.
	 */
	shape.src_type = VM_MEM_SRC_GUEST_MEMFD_NO_DIRECT_MAP;
	vm = __vm_create_shape_with_one_vcpu(shape, &vcpu, 0, guest_code);
	vm_userspace_mem_region_add(vm, VM_MEM_SRC_GUEST_MEMFD_NO_DIRECT_MAP, GUEST_GPA,
				    GUEST_SLOT, GUEST_SIZE / getpagesize(), 0);
	virt_map(vm, GUEST_GPA, GUEST_GPA, GUEST_SIZE / getpagesize());
	guest_fd = memslot2region(vm, GUEST_SLOT)->fd;
	for (i = 0; i < NR_FILES; i++) {
		pthread_rwlock_init(&files[i].lock, NULL);
		file_open(&files[i]);
	}

	deadline = time(NULL) + seconds;
	pthread_create(&prefault_tid, NULL, prefault_thread, vcpu);
	for (i = 0; i < threads; i++)
		pthread_create(&tids[i], NULL, worker, (void *)(unsigned long)(i + 1));
	for (i = 0; i < threads; i++)
		pthread_join(tids[i], NULL);
	pthread_join(prefault_tid, NULL);
	ok = guest_writes_reach_the_guest_memfd(vcpu);

	for (i = 0; i < NR_FILES; i++)
		file_close(&files[i]);
	kvm_vm_free(vm);
	return ok;
}

static void drop_caches(void)
{
	FILE *f = fopen("/proc/sys/vm/drop_caches", "w");

	if (f) {
		fputs("3\n", f);
		fclose(f);
	}
}

int main(int argc, char **argv)
{
	int seconds = argc > 1 ? atoi(argv[1]) : 60;
	int threads = argc > 2 ? atoi(argv[2]) : 4;
	u64 before, after;
	bool ok;
	int i;

	TEST_ASSERT(seconds > 0 && threads > 0 && threads <= 64, "Usage: %s [SECONDS [THREADS]]",
		    argv[0]);
	vm = vm_create_barebones();
	TEST_REQUIRE(vm_check_cap(vm, KVM_CAP_GUEST_MEMFD_FLAGS) & GUEST_MEMFD_FLAG_NO_DIRECT_MAP);
	kvm_vm_free(vm);

	ksft_print_header();
	ksft_set_plan(3);

	/* A first round of 10 s: page tables, slabs and caches settle. */
	ok = stress(10, threads);
	drop_caches();
	before = mem_free_kb();
	memset(ops, 0, sizeof(ops));
	prefault_passes = 0;

	ok = stress(seconds, threads) && ok;
	for (i = 0; i < NR_OPS; i++)
		ksft_print_msg("%s: %lu\n", op_names[i], ops[i]);
	ksft_print_msg("stage-2 passes over the %d MiB memslot: %lu\n", GUEST_SIZE >> 20,
		       prefault_passes);
	ksft_test_result(ops[OP_FAULT] && ops[OP_PUNCH] && ops[OP_RECREATE] &&
			 ops[OP_PUNCH_GUEST] && prefault_passes,
			 "concurrent_faults_punches_closes_and_stage2_maps_%ds_%d_threads\n",
			 seconds, threads);
	ksft_test_result(ok, "guest_writes_reach_the_guest_memfd_after_each_round\n");

	drop_caches();
	after = mem_free_kb();
	ksft_print_msg("MemFree %lu kB before, %lu kB after\n", before, after);
	ksft_test_result(after + before / 100 >= before, "memfree_back_within_1_percent\n");
	ksft_finished();
}
