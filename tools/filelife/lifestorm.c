/* File-life storm for the filelife benchmark (bench/events.sh): N times
 * create DIR/f (openat O_CREAT|O_EXCL), close, unlink. Prints
 * "files=N seconds=S rate=R". Usage: lifestorm N DIR */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct timespec t0, t1;
	long n = argc > 2 ? atol(argv[1]) : 0;
	char path[4096];
	double s;

	if (n < 1) {
		fprintf(stderr, "usage: lifestorm N DIR\n");
		return 2;
	}
	snprintf(path, sizeof(path), "%s/f", argv[2]);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long i = 0; i < n; i++) {
		int fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0600);

		if (fd < 0 || close(fd) || unlink(path))
			return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	s = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("files=%ld seconds=%.3f rate=%.0f\n", n, s, n / s);
	return 0;
}
