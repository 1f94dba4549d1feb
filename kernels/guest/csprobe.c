/*
 * csprobe: traffic and exec helpers for the smoke tests inside the guest,
 * where only busybox is available (its nc has no UDP, no byte counts).
 * Built static on the host by kernels/initramfs.sh.
 *
 *   csprobe true [ARGS...]              exit 0 (a known exec for execsnoop)
 *   csprobe udp PORT COUNT WAIT_MS      bind 127.0.0.1:PORT, send COUNT
 *                                       datagrams to it, wait WAIT_MS for
 *                                       them; prints "sent=N received=M"
 *   csprobe tcp PORT CBYTES SBYTES      loopback TCP: a client process sends
 *                                       CBYTES, the server (this process)
 *                                       answers SBYTES, both close; prints
 *                                       the counts and the client's port
 *   csprobe synq PORT WAIT_MS           a loopback SYN the kernel drops: a
 *                                       listener (backlog 0) with one
 *                                       connection it never accepts, then a
 *                                       second connect(), whose SYN is
 *                                       retransmitted (~1 s, 3 s, ...) for
 *                                       WAIT_MS; prints its port first
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void die(const char *what)
{
	fprintf(stderr, "csprobe: %s: %s\n", what, strerror(errno));
	exit(2);
}

static struct sockaddr_in lo_addr(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return a;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

static int udp(int port, int count, int wait_ms)
{
	struct sockaddr_in a = lo_addr(port);
	int rx = socket(AF_INET, SOCK_DGRAM, 0), tx = socket(AF_INET, SOCK_DGRAM, 0);
	int sent = 0, received = 0;
	char buf[64] = "corescope-udp-probe";
	long end;

	if (rx < 0 || tx < 0)
		die("socket");
	if (bind(rx, (struct sockaddr *)&a, sizeof(a)))
		die("bind");
	for (int i = 0; i < count; i++) {
		if (sendto(tx, buf, 32, 0, (struct sockaddr *)&a, sizeof(a)) == 32)
			sent++;
		usleep(2000);
	}
	end = now_ms() + wait_ms;
	for (long left; (left = end - now_ms()) > 0;) {
		struct pollfd p = { .fd = rx, .events = POLLIN };

		if (poll(&p, 1, (int)left) <= 0)
			continue;
		if (recv(rx, buf, sizeof(buf), 0) > 0)
			received++;
		if (received == sent)
			break;
	}
	printf("sent=%d received=%d\n", sent, received);
	return 0;
}

static long pump_out(int fd, long n)
{
	char buf[4096];
	long done = 0;

	memset(buf, 'x', sizeof(buf));
	while (done < n) {
		ssize_t w = write(fd, buf, n - done < (long)sizeof(buf) ? n - done : (long)sizeof(buf));

		if (w <= 0)
			die("write");
		done += w;
	}
	return done;
}

static long pump_in(int fd)
{
	char buf[4096];
	long done = 0;
	ssize_t r;

	while ((r = read(fd, buf, sizeof(buf))) > 0)
		done += r;
	if (r < 0)
		die("read");
	return done;
}

static int tcp(int port, long cbytes, long sbytes)
{
	struct sockaddr_in a = lo_addr(port), peer;
	socklen_t plen = sizeof(peer);
	int one = 1, ls = socket(AF_INET, SOCK_STREAM, 0), cs, status;
	long got;
	pid_t child;

	if (ls < 0)
		die("socket");
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(ls, (struct sockaddr *)&a, sizeof(a)) || listen(ls, 1))
		die("bind/listen");
	child = fork();
	if (child < 0)
		die("fork");
	if (child == 0) {
		int s = socket(AF_INET, SOCK_STREAM, 0);
		long in;

		prctl(PR_SET_NAME, "csprobe-client");
		close(ls);
		if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof(a)))
			die("connect");
		pump_out(s, cbytes);
		shutdown(s, SHUT_WR);
		in = pump_in(s);
		close(s);
		_exit(in == sbytes ? 0 : 1);
	}
	prctl(PR_SET_NAME, "csprobe-server");
	cs = accept(ls, (struct sockaddr *)&peer, &plen);
	if (cs < 0)
		die("accept");
	got = pump_in(cs);
	pump_out(cs, sbytes);
	close(cs);
	close(ls);
	if (waitpid(child, &status, 0) < 0)
		die("waitpid");
	printf("server_got=%ld server_sent=%ld client_ok=%d client_port=%d\n", got, sbytes,
	       WIFEXITED(status) && WEXITSTATUS(status) == 0, ntohs(peer.sin_port));
	return got == cbytes && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}

static int synq(int port, int wait_ms)
{
	struct sockaddr_in a = lo_addr(port), me;
	socklen_t mlen = sizeof(me);
	int one = 1, ls = socket(AF_INET, SOCK_STREAM, 0);
	int c1 = socket(AF_INET, SOCK_STREAM, 0), c2 = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

	if (ls < 0 || c1 < 0 || c2 < 0)
		die("socket");
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(ls, (struct sockaddr *)&a, sizeof(a)) || listen(ls, 0))
		die("bind/listen");
	/* Fills the accept queue (its length 1 > backlog 0: full). */
	if (connect(c1, (struct sockaddr *)&a, sizeof(a)))
		die("connect");
	usleep(100000);
	if (connect(c2, (struct sockaddr *)&a, sizeof(a)) == 0 || errno != EINPROGRESS)
		die("connect (want EINPROGRESS)");
	if (getsockname(c2, (struct sockaddr *)&me, &mlen))
		die("getsockname");
	/* First, so a caller can inspect the sockets while they live. */
	printf("client_port=%d\n", ntohs(me.sin_port));
	fflush(stdout);
	usleep(wait_ms * 1000L);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "true"))
		return 0;
	if (argc == 5 && !strcmp(argv[1], "udp"))
		return udp(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]));
	if (argc == 5 && !strcmp(argv[1], "tcp"))
		return tcp(atoi(argv[2]), atol(argv[3]), atol(argv[4]));
	if (argc == 4 && !strcmp(argv[1], "synq"))
		return synq(atoi(argv[2]), atoi(argv[3]));
	fprintf(stderr, "usage: csprobe true ARGS | udp PORT COUNT WAIT_MS | tcp PORT CBYTES SBYTES | synq PORT WAIT_MS\n");
	return 2;
}
