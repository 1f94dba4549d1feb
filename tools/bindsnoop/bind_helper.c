// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * bindsnoop's root tests: binds of known kinds, each recorded with its own
 * result in the file argv[1], one line per bind:
 *   fd proto family addr requested_port bound_port ret opts
 * (proto TCP/UDP, family 4/6, opts as bindsnoop's OPTS letters, bound_port
 * from getsockname() after a successful bind, the requested one after a
 * failed one), after a first line "pid PID". argv[2..4]: three free ports P1 P2 P3. Also binds a Unix
 * socket and a non-socket fd (not recorded: bindsnoop reports inet
 * sockets only).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

static FILE *out;

static void one(int fam, int type, const char *addr, int port, int opts)
{
	struct sockaddr_storage ss = {0};
	socklen_t len;
	int s = socket(fam, type, 0), on = 1, ret, bound = port;
	char o[6] = ".....";

	if (s < 0) {
		perror("socket");
		exit(1);
	}
	if ((opts & 1) && setsockopt(s, SOL_IP, IP_FREEBIND, &on, sizeof(on)))
		exit(2);
	if ((opts & 4) && setsockopt(s, SOL_IP, IP_BIND_ADDRESS_NO_PORT, &on, sizeof(on)))
		exit(2);
	if ((opts & 8) && setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)))
		exit(2);
	if ((opts & 16) && setsockopt(s, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)))
		exit(2);
	if (fam == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		a->sin_family = AF_INET;
		a->sin_port = htons(port);
		inet_pton(AF_INET, addr, &a->sin_addr);
		len = sizeof(*a);
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons(port);
		inet_pton(AF_INET6, addr, &a->sin6_addr);
		len = sizeof(*a);
	}
	ret = bind(s, (struct sockaddr *)&ss, len) ? -errno : 0;
	if (!ret) {
		struct sockaddr_storage got;
		socklen_t gl = sizeof(got);

		getsockname(s, (struct sockaddr *)&got, &gl);
		bound = ntohs(((struct sockaddr_in *)&got)->sin_port); /* same offset in sin6 */
	}
	for (int i = 0; i < 5; i++)
		if (opts & (1 << i))
			o[i] = "FTNRr"[i];
	fprintf(out, "%d %s %d %s %d %d %d %s\n", s, type == SOCK_STREAM ? "TCP" : "UDP",
		fam == AF_INET ? 4 : 6, addr, port, bound, ret, o);
	/* Left open: the EADDRINUSE case needs the first one bound. */
}

int main(int argc, char **argv)
{
	struct sockaddr_un un = {.sun_family = AF_UNIX};
	int p1, p2, p3, u, n;

	if (argc != 5)
		return 64;
	out = fopen(argv[1], "w");
	if (!out)
		return 1;
	p1 = atoi(argv[2]);
	p2 = atoi(argv[3]);
	p3 = atoi(argv[4]);
	fprintf(out, "pid %d\n", getpid());
	one(AF_INET, SOCK_STREAM, "127.0.0.1", p1, 8);      /* ...R. */
	one(AF_INET, SOCK_DGRAM, "0.0.0.0", p2, 0);         /* ..... */
	one(AF_INET6, SOCK_STREAM, "::1", p3, 16);          /* ....r */
	one(AF_INET6, SOCK_DGRAM, "::", 0, 0);              /* port chosen by the kernel */
	one(AF_INET, SOCK_STREAM, "127.0.0.1", p1, 0);      /* EADDRINUSE */
	one(AF_INET, SOCK_STREAM, "127.0.0.1", 0, 1 | 4);   /* F.N..: port stays 0 */
	/* Not inet: not reported. An abstract Unix name (nothing on disk). */
	u = socket(AF_UNIX, SOCK_STREAM, 0);
	snprintf(un.sun_path + 1, sizeof(un.sun_path) - 1, "bindsnoop-test-%d", getpid());
	if (u < 0 || bind(u, (struct sockaddr *)&un, sizeof(un)))
		return 3;
	n = open("/dev/null", O_RDONLY);
	if (n < 0 || bind(n, (struct sockaddr *)&un, sizeof(un)) == 0 || errno != ENOTSOCK)
		return 4;
	return fclose(out) ? 1 : 0;
}
