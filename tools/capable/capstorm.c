/* Capability-check storm for the capable benchmark (bench/events.sh): N
 * setgroups(0, NULL) calls as root (each one CAP_SETGID check, allowed;
 * it leaves this process with no supplementary groups). Prints
 * "checks=N seconds=S rate=R". Usage: capstorm N */
#define _GNU_SOURCE
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct timespec t0, t1;
	long n = argc > 1 ? atol(argv[1]) : 0;
	double s;

	if (n < 1) {
		fprintf(stderr, "usage: capstorm N\n");
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	/* the raw syscall: glibc's setgroups() would signal every thread */
	for (long i = 0; i < n; i++)
		if (syscall(SYS_setgroups, 0, NULL))
			return 1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	s = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("checks=%ld seconds=%.3f rate=%.0f\n", n, s, n / s);
	return 0;
}
