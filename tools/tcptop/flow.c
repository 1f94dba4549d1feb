// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Loopback TCP traffic of known size for tcptop's root tests and benchmark.
 * Ports are ephemeral (bound to port 0), so runs never collide.
 *
 *   pair 4|6 BYTES [wait]
 *       a receiver process "tt_srv" (forked) and a sender "tt_cli" (this
 *       one): the sender writes exactly BYTES in 64 KiB writes, closes; the
 *       receiver reads to EOF. Prints on stdout
 *       "SENDER_PID RECEIVER_PID SENDER_PORT RECEIVER_PORT RECEIVED".
 *       With wait: prints "ready PID" first and starts on a line on stdin.
 *       The sender's name is $TT_NAME when set.
 *   loop 4|6 SENDS SIZE RATE
 *       SENDS writes of SIZE bytes, RATE per second (0: as fast as
 *       possible), read by a forked receiver; prints on stderr
 *       "sends=N secs=S sender_cpu_ns_per_send=C rate=R".
 *   many 4|6 CONNS ROUNDS
 *       CONNS connections inside this one process; each round, one byte
 *       sent on each and read on the other end (2 keys per connection),
 *       ROUNDS rounds one second apart; prints "ready" once connected.
 *   states 4|6 PORT EST_MS WAIT_MS
 *       (tcpstates' tests) a server "ts_srv" (this process) on PORT and a
 *       forked client "ts_cli": the client connects, sleeps EST_MS, closes
 *       first; the server reads to EOF, sleeps WAIT_MS, closes, closes the
 *       listener. Prints "SERVER_PID CLIENT_PID CLIENT_PORT".
 * alarm() bounds every run.
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

static int fam;

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static socklen_t loopback(struct sockaddr_storage *ss, int port)
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

static int port_of(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len))
		die("getsockname");
	return ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
					     : ((struct sockaddr_in6 *)&ss)->sin6_port);
}

/* A listener on an ephemeral loopback port; its port in *port. */
static int listener(int *port)
{
	struct sockaddr_storage ss;
	socklen_t len = loopback(&ss, 0);
	int one = 1, fd = socket(ss.ss_family, SOCK_STREAM, 0);

	if (fd < 0)
		die("socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) || listen(fd, 4096))
		die("bind/listen");
	*port = port_of(fd);
	return fd;
}

static int connect_to(int port)
{
	struct sockaddr_storage ss;
	socklen_t len = loopback(&ss, port);
	int fd = socket(ss.ss_family, SOCK_STREAM, 0);

	if (fd < 0)
		die("socket");
	if (connect(fd, (struct sockaddr *)&ss, len))
		die("connect");
	return fd;
}

static unsigned long long drain(int fd)
{
	static char buf[1 << 16];
	unsigned long long n = 0;
	ssize_t r;

	while ((r = read(fd, buf, sizeof(buf))) > 0)
		n += r;
	if (r < 0)
		die("read");
	return n;
}

static void send_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t w = write(fd, buf, len);

		if (w <= 0)
			die("write");
		buf += w;
		len -= w;
	}
}

/* Forks the receiver "tt_srv": accepts one connection, reads to EOF,
 * writes the byte count to `report`. */
static pid_t receiver(int lfd, int report)
{
	pid_t pid = fork();

	if (pid < 0)
		die("fork");
	if (pid == 0) {
		int c;
		unsigned long long n;

		prctl(PR_SET_NAME, "tt_srv");
		c = accept(lfd, NULL, NULL);
		if (c < 0)
			die("accept");
		n = drain(c);
		if (write(report, &n, sizeof(n)) != sizeof(n))
			die("report");
		_exit(0);
	}
	return pid;
}

static double now(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int pair(unsigned long long bytes, int wait)
{
	static char buf[1 << 16];
	int lport, lfd = listener(&lport), pipefd[2], c, st;
	unsigned long long got = 0, left = bytes;
	pid_t srv;

	/* TT_NAME: another sender name (the tests' hostile comm). */
	prctl(PR_SET_NAME, getenv("TT_NAME") ? getenv("TT_NAME") : "tt_cli");
	if (wait) {
		char line[16];

		printf("ready %d\n", getpid());
		fflush(stdout);
		if (!fgets(line, sizeof(line), stdin))
			die("stdin");
	}
	if (pipe(pipefd))
		die("pipe");
	srv = receiver(lfd, pipefd[1]);
	c = connect_to(lport);
	memset(buf, 'x', sizeof(buf));
	while (left) {
		size_t n = left < sizeof(buf) ? left : sizeof(buf);

		send_all(c, buf, n);
		left -= n;
	}
	printf("%d %d %d %d ", getpid(), srv, port_of(c), lport);
	close(c);
	if (read(pipefd[0], &got, sizeof(got)) != sizeof(got))
		die("receiver report");
	waitpid(srv, &st, 0);
	printf("%llu\n", got);
	return got == bytes && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
}

static int loop(long sends, long size, long rate)
{
	static char buf[1 << 16];
	int lport, lfd = listener(&lport), pipefd[2], c, st;
	double t0, c0, t, cpu;
	unsigned long long got;
	pid_t srv;

	if (size < 1 || size > (long)sizeof(buf))
		size = 1;
	if (pipe(pipefd))
		die("pipe");
	srv = receiver(lfd, pipefd[1]);
	c = connect_to(lport);
	t0 = now(CLOCK_MONOTONIC);
	c0 = now(CLOCK_PROCESS_CPUTIME_ID);
	for (long i = 0; i < sends; i++) {
		if (rate > 0 && (i & 63) == 0) {
			/* Paced in bursts of 64: sleep until the schedule. */
			double due = t0 + (double)i / rate;

			while (now(CLOCK_MONOTONIC) < due)
				usleep(200);
		}
		send_all(c, buf, size);
	}
	cpu = now(CLOCK_PROCESS_CPUTIME_ID) - c0;
	t = now(CLOCK_MONOTONIC) - t0;
	close(c);
	if (read(pipefd[0], &got, sizeof(got)) != sizeof(got))
		die("receiver report");
	waitpid(srv, &st, 0);
	fprintf(stderr, "sends=%ld secs=%.3f sender_cpu_ns_per_send=%.0f rate=%.0f received=%llu\n",
		sends, t, cpu * 1e9 / sends, sends / t, got);
	return got == (unsigned long long)(sends * size) ? 0 : 1;
}

static int many(int conns, int rounds)
{
	struct rlimit rl = { 2 * conns + 64, 2 * conns + 64 };
	int lport, lfd, *cli, *srv;
	char b = 'x';

	if (setrlimit(RLIMIT_NOFILE, &rl))
		die("setrlimit");
	lfd = listener(&lport);
	cli = calloc(conns, sizeof(int));
	srv = calloc(conns, sizeof(int));
	if (!cli || !srv)
		die("calloc");
	for (int i = 0; i < conns; i++) {
		cli[i] = connect_to(lport);
		srv[i] = accept(lfd, NULL, NULL);
		if (srv[i] < 0)
			die("accept");
	}
	printf("ready\n");
	fflush(stdout);
	for (int r = 0; r < rounds; r++) {
		if (r)
			sleep(1);
		for (int i = 0; i < conns; i++) {
			send_all(cli[i], &b, 1);
			if (read(srv[i], &b, 1) != 1)
				die("read");
		}
	}
	return 0;
}

static int states(int port, int est_ms, int wait_ms)
{
	int lfd, c, st;
	struct sockaddr_storage ss;
	socklen_t len = loopback(&ss, port), plen = sizeof(ss);
	int one = 1;
	pid_t cli;

	lfd = socket(ss.ss_family, SOCK_STREAM, 0);
	if (lfd < 0)
		die("socket");
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&ss, len) || listen(lfd, 16))
		die("bind/listen");
	prctl(PR_SET_NAME, "ts_srv");
	cli = fork();
	if (cli < 0)
		die("fork");
	if (cli == 0) {
		prctl(PR_SET_NAME, "ts_cli");
		c = connect_to(port);
		usleep(est_ms * 1000);
		close(c);
		_exit(0);
	}
	c = accept(lfd, (struct sockaddr *)&ss, &plen);
	if (c < 0)
		die("accept");
	drain(c);
	usleep(wait_ms * 1000);
	close(c);
	close(lfd);
	waitpid(cli, &st, 0);
	printf("%d %d %d\n", getpid(), cli,
	       ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
					     : ((struct sockaddr_in6 *)&ss)->sin6_port));
	/* The client's FIN_WAIT2 -> CLOSE follows our FIN: let it land. */
	usleep(100000);
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	alarm(300);
	if (argc < 4)
		goto usage;
	fam = atoi(argv[2]);
	if (fam != 4 && fam != 6)
		goto usage;
	if (!strcmp(argv[1], "pair"))
		return pair(strtoull(argv[3], NULL, 10), argc > 4 && !strcmp(argv[4], "wait"));
	if (!strcmp(argv[1], "loop") && argc == 6)
		return loop(atol(argv[3]), atol(argv[4]), atol(argv[5]));
	if (!strcmp(argv[1], "states") && argc == 6)
		return states(atoi(argv[3]), atoi(argv[4]), atoi(argv[5]));
	if (!strcmp(argv[1], "many") && argc == 5)
		return many(atoi(argv[3]), atoi(argv[4]));
usage:
	fprintf(stderr, "usage: flow pair 4|6 BYTES [wait] | loop 4|6 SENDS SIZE RATE | many 4|6 CONNS ROUNDS | states 4|6 PORT EST_MS WAIT_MS\n");
	return 2;
}
