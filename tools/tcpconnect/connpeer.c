// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Loopback TCP peers for tcpconnect's and tcpaccept's root tests, smoke-free
 * benchmarks (bench/events.sh). Every line it prints is what the kernel
 * told it (getsockname/getpeername), the oracle the tests compare rows to.
 * alarm() bounds every run.
 *
 *   client 4|6 PORT N      listen on loopback PORT (this process), connect N
 *                          times as "cp_client"; prints "pid PID", then per
 *                          connect "conn SPORT" (getsockname)
 *   refused 4|6 PORT       connect to PORT where nothing listens; prints
 *                          "pid PID" and "refused" on ECONNREFUSED
 *   server 4|6 PORT K      listen as "cp_server", print "ready PID", accept
 *                          K connections (accept and accept4 in turn), for
 *                          each print "peer RADDR RPORT LADDR LPORT"
 *                          (getpeername, getsockname)
 *   dial 4|6 PORT K        connect K times as "cp_dialer", waiting for the
 *                          server to close each
 *   loop 4|6 PORT N        N connect/accept/close as fast as possible in one
 *                          process; prints "rate=CONNECTS_PER_SECOND"
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int fam, port;

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static socklen_t loopback(struct sockaddr_storage *ss, int p)
{
	memset(ss, 0, sizeof(*ss));
	if (fam == 4) {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;

		a->sin_family = AF_INET;
		a->sin_port = htons(p);
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		return sizeof(*a);
	}
	struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;

	a->sin6_family = AF_INET6;
	a->sin6_port = htons(p);
	a->sin6_addr = in6addr_loopback;
	return sizeof(*a);
}

static int listener(void)
{
	struct sockaddr_storage ss;
	socklen_t n = loopback(&ss, port);
	int one = 1, fd = socket(ss.ss_family, SOCK_STREAM, 0);

	if (fd < 0)
		die("socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, n) || listen(fd, 4096))
		die("bind/listen");
	return fd;
}

/* Connects to PORT; -1 with errno on failure. */
static int dial(void)
{
	struct sockaddr_storage ss;
	socklen_t n = loopback(&ss, port);
	int fd = socket(ss.ss_family, SOCK_STREAM, 0);

	if (fd < 0)
		die("socket");
	if (connect(fd, (struct sockaddr *)&ss, n)) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* "ADDR PORT" of a socket address. */
static void show(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN] = "?";
	int p = 0;

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &s->sin_addr, a, sizeof(a));
		p = ntohs(s->sin_port);
	} else {
		const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &s->sin6_addr, a, sizeof(a));
		p = ntohs(s->sin6_port);
	}
	snprintf(buf, len, "%s %d", a, p);
}

static int local_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t n = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &n))
		die("getsockname");
	return ss.ss_family == AF_INET ? ntohs(((struct sockaddr_in *)&ss)->sin_port)
				       : ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

static int client(long n)
{
	int ls = listener();

	prctl(PR_SET_NAME, "cp_client");
	printf("pid %d\n", getpid());
	for (long i = 0; i < n; i++) {
		int fd = dial(), cs;

		if (fd < 0)
			die("connect");
		printf("conn %d\n", local_port(fd));
		cs = accept(ls, NULL, NULL);
		if (cs < 0)
			die("accept");
		close(fd);
		close(cs);
	}
	return 0;
}

static int refused(void)
{
	prctl(PR_SET_NAME, "cp_client");
	printf("pid %d\n", getpid());
	if (dial() >= 0 || errno != ECONNREFUSED)
		die("connect was not refused");
	printf("refused\n");
	return 0;
}

static int server(long k)
{
	int ls = listener();

	prctl(PR_SET_NAME, "cp_server");
	printf("ready %d\n", getpid());
	fflush(stdout);
	for (long i = 0; i < k; i++) {
		struct sockaddr_storage peer, me;
		socklen_t pn = sizeof(peer), mn = sizeof(me);
		char r[64], l[64];
		int cs = i % 2 ? accept4(ls, NULL, NULL, SOCK_CLOEXEC) : accept(ls, NULL, NULL);

		if (cs < 0)
			die("accept");
		if (getpeername(cs, (struct sockaddr *)&peer, &pn) ||
		    getsockname(cs, (struct sockaddr *)&me, &mn))
			die("getpeername");
		show(&peer, r, sizeof(r));
		show(&me, l, sizeof(l));
		printf("peer %s %s\n", r, l);
		fflush(stdout);
		close(cs);
	}
	return 0;
}

static int dialer(long k)
{
	prctl(PR_SET_NAME, "cp_dialer");
	for (long i = 0; i < k; i++) {
		char c;
		int fd = dial();

		if (fd < 0)
			die("connect");
		/* The server's close: it has accepted this one. */
		if (read(fd, &c, 1) < 0)
			die("read");
		close(fd);
	}
	return 0;
}

static int loop(long n)
{
	struct timespec t0, t1;
	int ls = listener();

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long i = 0; i < n; i++) {
		int fd = dial(), cs;

		if (fd < 0)
			die("connect");
		cs = accept(ls, NULL, NULL);
		if (cs < 0)
			die("accept");
		close(fd);
		close(cs);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("rate=%.0f\n", n / ((t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9));
	return 0;
}

int main(int argc, char **argv)
{
	long n;

	if (argc != 5 && !(argc == 4 && !strcmp(argv[1], "refused"))) {
		fprintf(stderr, "usage: connpeer client|server|dial|loop 4|6 PORT N | refused 4|6 PORT\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	alarm(120);
	fam = atoi(argv[2]);
	port = atoi(argv[3]);
	n = argc == 5 ? atol(argv[4]) : 0;
	if (!strcmp(argv[1], "client"))
		return client(n);
	if (!strcmp(argv[1], "refused"))
		return refused();
	if (!strcmp(argv[1], "server"))
		return server(n);
	if (!strcmp(argv[1], "dial"))
		return dialer(n);
	if (!strcmp(argv[1], "loop"))
		return loop(n);
	fprintf(stderr, "connpeer: unknown mode %s\n", argv[1]);
	return 2;
}
