// SPDX-License-Identifier: GPL-2.0
/*
 * /init of the arm64 guest of `make check-arm64` (ci/boot-arm64.sh): a static
 * program, so that the initramfs needs no shell or libc of the target.
 *
 * Mounts what the selftests use, runs each test of /selftests.txt
 * (<collection>:<test> [arguments], installed as /kselftest/<collection>/<test>) from its
 * directory with a timeout, and prints on the console, between marker lines,
 * what ci/boot-arm64.sh turns into the files ci/guest-run.sh writes on x86:
 * each test's output, the run_kselftest.sh-style TAP of the run, the kernel log
 * of the boot (the KUnit suites) and the kernel log at the end. Then powers off.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MARK "@@@ndm@@@"
#define TEST_TIMEOUT 900	/* seconds */
#define MAX_ARGS 6

static void mount_fs(const char *type, const char *dir)
{
	mkdir(dir, 0755);
	if (mount(type, dir, type, 0, NULL) && errno != EBUSY)
		printf(MARK " note mount %s on %s: %s\n", type, dir, strerror(errno));
}

/* A record's message with /dev/kmsg's "\xHH" escapes decoded, as dmesg prints it. */
static void print_unescaped(const char *msg)
{
	unsigned int c;

	for (; *msg; msg++) {
		if (msg[0] == '\\' && msg[1] == 'x' && isxdigit((unsigned char)msg[2]) &&
		    isxdigit((unsigned char)msg[3]) &&
		    sscanf(msg + 2, "%2x", &c) == 1) {
			putchar(c);
			msg += 3;
		} else {
			putchar(*msg);
		}
	}
	putchar('\n');
}

/* The kernel log as dmesg prints it: "[seconds.micros] message" per record. */
static void print_kernel_log(const char *file)
{
	char rec[8192];
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);
	ssize_t n;

	printf(MARK " begin %s\n", file);
	while (fd >= 0) {
		unsigned long long usec;
		char *msg, *nl;

		n = read(fd, rec, sizeof(rec) - 1);
		if (n < 0 && errno == EPIPE)
			continue;	/* overwritten records: skip them */
		if (n <= 0)
			break;
		rec[n] = '\0';
		msg = strchr(rec, ';');
		if (!msg || sscanf(rec, "%*u,%*u,%llu", &usec) != 1)
			continue;
		msg++;
		nl = strchr(msg, '\n');
		if (nl)
			*nl = '\0';	/* the dictionary lines after it are dropped */
		printf("[%5llu.%06llu] ", usec / 1000000, usec % 1000000);
		print_unescaped(msg);
	}
	if (fd >= 0)
		close(fd);
	printf(MARK " end %s\n", file);
	fflush(stdout);
}

/*
 * Runs one test with its output in a file of the tmpfs; returns its exit status
 * (124 if it ran out of time). @test may be followed by arguments, separated
 * by spaces. The test runs in a process group of its own, killed as a whole
 * when the test ends or times out, so that nothing it started outlives it.
 */
static int run_test(const char *collection, char *test, const char *out)
{
	char *argv[MAX_ARGS + 2] = { NULL };
	int argc = 0, status = 0, ticks = 0;
	char dir[512];
	pid_t pid, done;

	snprintf(dir, sizeof(dir), "/kselftest/%s", collection);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		setpgid(0, 0);
		if (fd < 0 || chdir(dir))
			_exit(127);
		dup2(fd, 1);
		dup2(fd, 2);
		for (argv[argc] = strtok(test, " "); argv[argc] && argc <= MAX_ARGS;)
			argv[++argc] = strtok(NULL, " ");
		if (argv[argc]) {
			printf("more than %d arguments\n", MAX_ARGS);
			_exit(127);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	if (pid < 0)
		return 127;
	setpgid(pid, pid);
	/* The harness uses alarm() itself: the timeout is kept here. */
	while ((done = waitpid(pid, &status, WNOHANG)) == 0 && ticks++ < TEST_TIMEOUT * 10)
		usleep(100000);
	kill(-pid, SIGKILL);
	if (done == 0)
		waitpid(pid, &status, 0);
	/* Reap what the test left behind: orphans are ours, as PID 1. */
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	if (done == 0)
		return 124;
	if (done < 0)
		return 127;
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

/* The output of a test, each line prefixed with "# " as run_kselftest.sh -p has it. */
static void print_test_output(const char *name, const char *path)
{
	char line[4096];
	FILE *f = fopen(path, "r");

	printf(MARK " begin tests/%s\n", name);
	while (f && fgets(line, sizeof(line), f))
		printf("# %s%s", line, strchr(line, '\n') ? "" : "\n");
	if (f)
		fclose(f);
	printf(MARK " end tests/%s\n", name);
}

int main(void)
{
	char line[200], tap[64][512];
	int ntests = 0, i;
	FILE *list;

	setvbuf(stdout, NULL, _IOLBF, 0);
	mount_fs("devtmpfs", "/dev");
	mount_fs("proc", "/proc");
	mount_fs("sysfs", "/sys");
	mount_fs("debugfs", "/sys/kernel/debug");
	mount_fs("tmpfs", "/tmp");

	print_kernel_log("dmesg-boot.txt");

	list = fopen("/selftests.txt", "r");
	while (list && fgets(line, sizeof(line), list) && ntests < 64) {
		char *test, *base, *args, name[200], out[600];
		int rc;

		line[strcspn(line, "\n")] = '\0';
		if (!line[0] || line[0] == '#' || !(test = strchr(line, ':')))
			continue;
		*test++ = '\0';
		printf(MARK " run %s:%s\n", line, test);
		args = strchr(test, ' ');
		if (args)
			*args = '\0';	/* the name, for the results; restored to run it */
		base = strrchr(test, '/') ? strrchr(test, '/') + 1 : test;
		snprintf(name, sizeof(name), "%s", base);
		snprintf(out, sizeof(out), "/tmp/%s.out", name);
		if (args)
			*args = ' ';
		rc = run_test(line, test, out);
		base = name;
		print_test_output(base, out);
		ntests++;
		if (rc == 0 || rc == 4)	/* 4: KSFT_SKIP */
			snprintf(tap[ntests - 1], sizeof(tap[0]), "ok %d selftests: %s: %s%s",
				 ntests, line, base, rc ? " # SKIP" : "");
		else
			snprintf(tap[ntests - 1], sizeof(tap[0]),
				 "not ok %d selftests: %s: %s # exit=%d", ntests, line, base, rc);
	}

	printf(MARK " begin selftests.tap\nTAP version 13\n1..%d\n", ntests);
	for (i = 0; i < ntests; i++)
		printf("%s\n", tap[i]);
	printf(MARK " end selftests.tap\n");

	print_kernel_log("dmesg.txt");
	printf(MARK " finished\n");
	fflush(stdout);
	sync();
	reboot(RB_POWER_OFF);
	return 0;
}
