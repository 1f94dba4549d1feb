// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* bindsnoop's benchmark workload: N binds, each of a new UDP socket to
 * 127.0.0.1 port 0 (the kernel picks a port), closed after; prints
 * "binds=N rate=R" (binds per second). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 100000;
	struct sockaddr_in a = {.sin_family = AF_INET};
	struct timespec t0, t1;
	double s;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long i = 0; i < n; i++) {
		int fd = socket(AF_INET, SOCK_DGRAM, 0);

		if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a))) {
			perror("bindstorm");
			return 1;
		}
		close(fd);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	s = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("binds=%ld rate=%.0f\n", n, n / s);
	return 0;
}
