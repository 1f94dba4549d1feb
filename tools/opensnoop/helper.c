// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Workloads for tools/opensnoop/root_tests.rs. Built by the tests with
 * `cc -O0 -fno-omit-frame-pointer -mno-omit-leaf-frame-pointer`
 * (gcc 12 still leaves a leaf asm function frameless at -O1). Every open is closed again.
 *
 *   open PATH...            open(PATH, O_RDONLY) each, in order
 *   create PATH OCTAL       open(PATH, O_CREAT|O_WRONLY|O_TRUNC, OCTAL)
 *   flags OCTAL PATH...     open(PATH, OCTAL, 0600) each, in order
 *   openat DIR REL          openat(open(DIR), REL, O_RDONLY)
 *   cwd DIR REL             chdir(DIR), then open(REL, O_RDONLY)
 *   burst N PATH            N x open(PATH) as fast as possible
 *   loop MS PATH            open(PATH) every millisecond for MS milliseconds
 *   syscalls PATH           PATH through each of open, creat, openat2 (raw
 *                           syscalls, where the architecture has them)
 *   callers PATH            open(PATH) from corescope_distinct_opener() (raw
 *                           syscall), then stay alive 1 s for symbolization
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static void open_close(const char *path, int flags, int mode)
{
	int fd = open(path, flags, mode);

	if (fd >= 0)
		close(fd);
}

/*
 * openat(AT_FDCWD, path, O_RDONLY) without libc: glibc's open() has no frame
 * pointer and even uses %rbp for data, which cuts any frame-pointer walk
 * short. Here every frame from the syscall up has one.
 */
__attribute__((noinline)) static long raw_open(const char *path)
{
	long ret;
#if defined(__x86_64__)
	register long r10 __asm__("r10") = 0;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"((long)SYS_openat), "D"((long)AT_FDCWD), "S"(path), "d"((long)O_RDONLY),
			   "r"(r10)
			 : "rcx", "r11", "memory");
#elif defined(__aarch64__)
	register long x8 __asm__("x8") = SYS_openat;
	register long x0 __asm__("x0") = AT_FDCWD;
	register long x1 __asm__("x1") = (long)path;
	register long x2 __asm__("x2") = O_RDONLY;
	register long x3 __asm__("x3") = 0;

	__asm__ volatile("svc #0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3) : "memory");
	ret = x0;
#else
	ret = syscall(SYS_openat, AT_FDCWD, path, O_RDONLY, 0);
#endif
	return ret;
}

__attribute__((noinline)) void corescope_distinct_opener(const char *path)
{
	long fd = raw_open(path);

	if (fd >= 0)
		close((int)fd);
	__asm__ volatile("" ::: "memory");
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: see the source\n");
		return 2;
	}
	const char *cmd = argv[1];

	if (!strcmp(cmd, "open")) {
		for (int i = 2; i < argc; i++)
			open_close(argv[i], O_RDONLY, 0);
	} else if (!strcmp(cmd, "create") && argc == 4) {
		open_close(argv[2], O_CREAT | O_WRONLY | O_TRUNC, (int)strtol(argv[3], NULL, 8));
	} else if (!strcmp(cmd, "flags") && argc >= 4) {
		int flags = (int)strtol(argv[2], NULL, 8);

		for (int i = 3; i < argc; i++)
			open_close(argv[i], flags, 0600);
	} else if (!strcmp(cmd, "openat") && argc == 4) {
		int dfd = open(argv[2], O_RDONLY | O_DIRECTORY);
		int fd;

		if (dfd < 0)
			return 1;
		fd = openat(dfd, argv[3], O_RDONLY);
		if (fd >= 0)
			close(fd);
		close(dfd);
	} else if (!strcmp(cmd, "cwd") && argc == 4) {
		if (chdir(argv[2]))
			return 1;
		open_close(argv[3], O_RDONLY, 0);
	} else if (!strcmp(cmd, "burst") && argc == 4) {
		long n = atol(argv[2]);

		for (long i = 0; i < n; i++)
			open_close(argv[3], O_RDONLY, 0);
	} else if (!strcmp(cmd, "loop") && argc == 4) {
		long ms = atol(argv[2]);

		for (long i = 0; i < ms; i++) {
			open_close(argv[3], O_RDONLY, 0);
			sleep_ms(1);
		}
	} else if (!strcmp(cmd, "syscalls")) {
		struct { unsigned long long flags, mode, resolve; } how = { O_RDONLY, 0, 0 };
		long fd;
#ifdef SYS_open
		fd = syscall(SYS_open, argv[2], O_RDONLY, 0);
		if (fd >= 0)
			close((int)fd);
#endif
#ifdef SYS_creat
		fd = syscall(SYS_creat, argv[2], 0600);
		if (fd >= 0)
			close((int)fd);
#endif
#ifdef SYS_openat2
		fd = syscall(SYS_openat2, AT_FDCWD, argv[2], &how, sizeof(how));
		if (fd >= 0)
			close((int)fd);
#endif
		(void)how;
		(void)fd;
	} else if (!strcmp(cmd, "callers")) {
		corescope_distinct_opener(argv[2]);
		sleep_ms(1000);
	} else {
		fprintf(stderr, "unknown command %s\n", cmd);
		return 2;
	}
	return 0;
}
