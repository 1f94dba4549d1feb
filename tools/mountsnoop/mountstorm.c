// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* mountsnoop's benchmark workload: in a private mount namespace of its own
 * ("/" made private: nothing reaches the host, nothing outlives it), N
 * mount-family calls: N/2 times a tmpfs mounted on a temp dir and
 * unmounted. Prints "calls=N rate=R" (calls per second). */
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 20000;
	char dir[] = "/tmp/mountstorm.XXXXXX";
	struct timespec t0, t1;
	double s;

	if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
	    !mkdtemp(dir)) {
		perror("mountstorm");
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long i = 0; i < n / 2; i++) {
		if (mount("storm", dir, "tmpfs", MS_NOSUID, "size=64k") || umount2(dir, 0)) {
			perror("mountstorm");
			rmdir(dir);
			return 1;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	rmdir(dir);
	s = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("calls=%ld rate=%.0f\n", n / 2 * 2, n / 2 * 2 / s);
	return 0;
}
