// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Known syscall workloads for the syscount and filetop root tests. Built
 * static where possible (no dynamic loader: its opens and reads would add
 * to the counts). Options before the mode:
 *   -w            wait for one byte on stdin first (the tracer attaches)
 *   -n NAME       set the task name (comm) first, bytes as given
 * Modes:
 *   getppid N             N x getppid() (the raw syscall)
 *   openfail N DIR        N x open("DIR/cs-no-such-file", O_RDONLY): ENOENT
 *   write PATH N SIZE     create PATH, N x write(SIZE bytes), close
 *   mix PATH              create PATH; write 1000, pwrite64 2000, writev
 *                         300+700; read 100, pread64 200, readv 10+20
 *   manyfiles DIR N R MS  R rounds (MS ms apart) of: for each of N files
 *                         DIR/f<i>, open (created), write 1 byte, close
 *   sleep MS              sleep MS milliseconds (a process that stays)
 *   raw NR...             syscall(NR, -1, 0, 0, 0, 0, 0) each (arguments
 *                         every syscall of the test rejects), errors ignored
 * Exits 0, or 1 (with a message) when a call fails unexpectedly.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

static char buf[1 << 20];

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static void full_write(int fd, long n, int pwrite_at)
{
	ssize_t r = pwrite_at >= 0 ? pwrite(fd, buf, n, pwrite_at) : write(fd, buf, n);

	if (r != n)
		die("write");
}

int main(int argc, char **argv)
{
	int i = 1;

	while (i < argc && argv[i][0] == '-') {
		if (!strcmp(argv[i], "-w")) {
			char c;

			if (read(0, &c, 1) != 1)
				die("waiting on stdin");
			i++;
		} else if (!strcmp(argv[i], "-n") && i + 1 < argc) {
			prctl(PR_SET_NAME, argv[i + 1]);
			i += 2;
		} else {
			break;
		}
	}
	if (i >= argc)
		return 2;
	const char *mode = argv[i];
	char **a = argv + i + 1;
	int na = argc - i - 1;

	if (!strcmp(mode, "getppid") && na == 1) {
		long n = atol(a[0]);

		for (long k = 0; k < n; k++)
			syscall(SYS_getppid);
	} else if (!strcmp(mode, "openfail") && na == 2) {
		long n = atol(a[0]);
		char path[4096];

		snprintf(path, sizeof(path), "%s/cs-no-such-file", a[1]);
		for (long k = 0; k < n; k++)
			if (open(path, O_RDONLY) >= 0)
				die("open succeeded");
	} else if (!strcmp(mode, "write") && na == 3) {
		long n = atol(a[1]), size = atol(a[2]);
		int fd = open(a[0], O_CREAT | O_WRONLY | O_TRUNC, 0600);

		if (fd < 0 || size > (long)sizeof(buf))
			die("create");
		for (long k = 0; k < n; k++)
			full_write(fd, size, -1);
		close(fd);
	} else if (!strcmp(mode, "mix") && na == 1) {
		int fd = open(a[0], O_CREAT | O_RDWR | O_TRUNC, 0600);
		struct iovec wv[2] = { { buf, 300 }, { buf, 700 } };
		struct iovec rv[2] = { { buf, 10 }, { buf, 20 } };

		if (fd < 0)
			die("create");
		full_write(fd, 1000, -1);
		full_write(fd, 2000, 1000);
		if (writev(fd, wv, 2) != 1000)
			die("writev");
		if (lseek(fd, 0, SEEK_SET) != 0)
			die("lseek");
		if (read(fd, buf, 100) != 100)
			die("read");
		if (pread(fd, buf, 200, 500) != 200)
			die("pread");
		if (readv(fd, rv, 2) != 30)
			die("readv");
		close(fd);
	} else if (!strcmp(mode, "manyfiles") && na == 4) {
		long n = atol(a[1]), rounds = atol(a[2]), ms = atol(a[3]);
		struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
		char path[4096];

		for (long r = 0; r < rounds; r++) {
			for (long k = 0; k < n; k++) {
				int fd;

				snprintf(path, sizeof(path), "%s/f%ld", a[0], k);
				fd = open(path, O_CREAT | O_WRONLY, 0600);
				if (fd < 0)
					die("create");
				full_write(fd, 1, -1);
				close(fd);
			}
			if (r + 1 < rounds)
				nanosleep(&ts, NULL);
		}
	} else if (!strcmp(mode, "raw")) {
		for (int k = 0; k < na; k++)
			syscall(atol(a[k]), -1L, 0L, 0L, 0L, 0L, 0L);
	} else if (!strcmp(mode, "sleep") && na == 1) {
		long ms = atol(a[0]);
		struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

		nanosleep(&ts, NULL);
	} else {
		fprintf(stderr, "bad arguments\n");
		return 2;
	}
	return 0;
}
