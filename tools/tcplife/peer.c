// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Loopback TCP peers for tcplife's root tests and benchmark. The server is
 * a separate process named "tl_srv", the client "tl_cli". Every mode waits,
 * before exiting, until no socket on PORT is in a state other than
 * TIME_WAIT/LISTEN, so each session has reached TCP_CLOSE (and been
 * reported) when the program ends. alarm() bounds every run.
 *
 *   pair 4|6 PORT CBYTES SBYTES client|server INFO [hold]
 *       one session: the client sends CBYTES, the server SBYTES, then the
 *       named side closes first; writes "SERVER_PID CLIENT_PID CLIENT_PORT"
 *       to INFO. With hold: prints "ready" once the data is exchanged and
 *       waits for a line on stdin before closing.
 *   serve 4|6 PORT N CBYTES SBYTES     a server alone: prints "ready PID"
 *   connect 4|6 PORT N CBYTES SBYTES   a client alone, N sessions
 *   loop 4|6 PORT N BYTES              N sessions as fast as possible
 *       (connect, send BYTES, close); prints on stderr the time taken and
 *       the CPU time (user + system, client and server) per session
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int fam, port;

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static socklen_t loopback(struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (fam == 4) {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;

		a->sin_family = AF_INET;
		a->sin_port = htons(port);
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		return sizeof(*a);
	}
	struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;

	a->sin6_family = AF_INET6;
	a->sin6_port = htons(port);
	a->sin6_addr = in6addr_loopback;
	return sizeof(*a);
}

static int listener(void)
{
	struct sockaddr_storage ss;
	socklen_t n = loopback(&ss);
	int one = 1, fd = socket(ss.ss_family, SOCK_STREAM, 0);

	if (fd < 0)
		die("socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, n) || listen(fd, 4096))
		die("bind/listen");
	return fd;
}

static int dial(void)
{
	struct sockaddr_storage ss;
	socklen_t n = loopback(&ss);
	int fd = socket(ss.ss_family, SOCK_STREAM, 0);

	if (fd < 0 || connect(fd, (struct sockaddr *)&ss, n))
		die("connect");
	return fd;
}

static void put(int fd, long n)
{
	char buf[4096];

	memset(buf, 'x', sizeof(buf));
	while (n > 0) {
		ssize_t w = write(fd, buf, n < (long)sizeof(buf) ? n : (long)sizeof(buf));

		if (w <= 0)
			die("write");
		n -= w;
	}
}

static void get(int fd, long n)
{
	char buf[4096];

	while (n > 0) {
		ssize_t r = read(fd, buf, n < (long)sizeof(buf) ? n : (long)sizeof(buf));

		if (r <= 0)
			die("read");
		n -= r;
	}
}

/* Reads to the peer's FIN; any byte beyond what was expected is an error. */
static void eof(int fd)
{
	char c;
	ssize_t r = read(fd, &c, 1);

	if (r != 0)
		die("expected EOF");
}

/* Closing second: send our FIN, wait for TCP_CLOSE (the peer acked it). */
static void finish(int fd)
{
	struct tcp_info ti;

	shutdown(fd, SHUT_WR);
	for (int i = 0; i < 5000; i++) {
		socklen_t n = sizeof(ti);

		if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &n))
			die("TCP_INFO");
		if (ti.tcpi_state == TCP_CLOSE)
			break;
		usleep(1000);
	}
	close(fd);
}

/* 1 if a socket on `port` is in a state other than TIME_WAIT / LISTEN. */
static int busy(const char *path)
{
	char line[512];
	unsigned lp, rp, st;
	FILE *f = fopen(path, "r");
	int found = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, " %*d: %*[0-9A-Fa-f]:%x %*[0-9A-Fa-f]:%x %x", &lp, &rp, &st) == 3 &&
		    (lp == (unsigned)port || rp == (unsigned)port) && st != 0x06 && st != 0x0A)
			found = 1;
	fclose(f);
	return found;
}

static void settle(void)
{
	for (int i = 0; i < 5000; i++) {
		if (!busy("/proc/net/tcp") && !busy("/proc/net/tcp6"))
			return;
		usleep(1000);
	}
	fprintf(stderr, "tcplife_peer: sessions on port %d did not close\n", port);
	exit(3);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* CPU time (user + system) of this process and its reaped children, in s. */
static double cpu(void)
{
	struct rusage a, b;

	getrusage(RUSAGE_SELF, &a);
	getrusage(RUSAGE_CHILDREN, &b);
	return a.ru_utime.tv_sec + b.ru_utime.tv_sec + a.ru_stime.tv_sec + b.ru_stime.tv_sec +
	       (a.ru_utime.tv_usec + b.ru_utime.tv_usec + a.ru_stime.tv_usec + b.ru_stime.tv_usec) / 1e6;
}

static void name(const char *comm)
{
	prctl(PR_SET_NAME, comm, 0, 0, 0);
}

static int pair(long cbytes, long sbytes, int server_first, const char *info, int hold)
{
	struct sockaddr_storage me;
	socklen_t n = sizeof(me);
	int lfd = listener(), fd, st;
	pid_t srv = fork();
	FILE *f;

	if (srv < 0)
		die("fork");
	if (srv == 0) {
		name("tl_srv");
		fd = accept(lfd, NULL, NULL);
		if (fd < 0)
			die("accept");
		close(lfd);
		get(fd, cbytes);
		put(fd, sbytes);
		if (server_first) {
			close(fd);
		} else {
			eof(fd);
			finish(fd);
		}
		_exit(0);
	}
	close(lfd);
	name("tl_cli");
	fd = dial();
	if (getsockname(fd, (struct sockaddr *)&me, &n))
		die("getsockname");
	put(fd, cbytes);
	get(fd, sbytes);
	if (hold) {
		char line[16];

		printf("ready\n");
		fflush(stdout);
		if (!fgets(line, sizeof(line), stdin))
			die("stdin");
	}
	if (server_first) {
		eof(fd);
		finish(fd);
	} else {
		close(fd);
	}
	if (waitpid(srv, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
		die("server failed");
	settle();
	f = fopen(info, "w");
	if (!f)
		die(info);
	fprintf(f, "%d %d %d\n", srv, getpid(),
		ntohs(me.ss_family == AF_INET ? ((struct sockaddr_in *)&me)->sin_port
					      : ((struct sockaddr_in6 *)&me)->sin6_port));
	fclose(f);
	return 0;
}

static int serve(int count, long cbytes, long sbytes)
{
	int lfd = listener();

	name("tl_srv");
	printf("ready %d\n", getpid());
	fflush(stdout);
	for (int i = 0; i < count; i++) {
		int fd = accept(lfd, NULL, NULL);

		if (fd < 0)
			die("accept");
		get(fd, cbytes);
		put(fd, sbytes);
		eof(fd);
		finish(fd);
	}
	return 0;
}

static int client(int count, long cbytes, long sbytes)
{
	name("tl_cli");
	for (int i = 0; i < count; i++) {
		int fd = dial();

		put(fd, cbytes);
		get(fd, sbytes);
		close(fd);
	}
	settle();
	return 0;
}

static int loop(int count, long bytes)
{
	int lfd = listener(), st;
	double t0 = now(), t1, c;
	pid_t srv = fork();

	if (srv < 0)
		die("fork");
	if (srv == 0) {
		char buf[4096];

		name("tl_srv");
		for (int i = 0; i < count; i++) {
			int fd = accept(lfd, NULL, NULL);

			if (fd < 0)
				die("accept");
			while (read(fd, buf, sizeof(buf)) > 0)
				;
			close(fd);
		}
		_exit(0);
	}
	close(lfd);
	name("tl_cli");
	for (int i = 0; i < count; i++) {
		int fd = dial();

		put(fd, bytes);
		close(fd);
	}
	if (waitpid(srv, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
		die("server failed");
	t1 = now();
	c = cpu();
	settle();
	fprintf(stderr, "loop: %d sessions in %.6f s: %.2f us per session, cpu %.2f us per session\n",
		count, t1 - t0, (t1 - t0) * 1e6 / count, c * 1e6 / count);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 4)
		goto usage;
	fam = atoi(argv[2]);
	port = atoi(argv[3]);
	if ((fam != 4 && fam != 6) || port <= 0 || port > 65535)
		goto usage;
	alarm(120);
	if (!strcmp(argv[1], "pair") && (argc == 8 || argc == 9))
		return pair(atol(argv[4]), atol(argv[5]), !strcmp(argv[6], "server"), argv[7],
			    argc == 9);
	if (!strcmp(argv[1], "serve") && argc == 7)
		return serve(atoi(argv[4]), atol(argv[5]), atol(argv[6]));
	if (!strcmp(argv[1], "connect") && argc == 7)
		return client(atoi(argv[4]), atol(argv[5]), atol(argv[6]));
	if (!strcmp(argv[1], "loop") && argc == 6)
		return loop(atoi(argv[4]), atol(argv[5]));
usage:
	fprintf(stderr, "usage: see the comment at the top of tools/tcplife/peer.c\n");
	return 2;
}
