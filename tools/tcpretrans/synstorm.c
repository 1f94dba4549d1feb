/*
 * synstorm PORT N WAIT_MS: N loopback SYNs the kernel drops (a listener with
 * backlog 0 whose accept queue one unaccepted connection fills; see
 * kernels/guest/csprobe.c `synq`), each retransmitted by the kernel for
 * WAIT_MS. The benchmark of tcpretrans (tools/tcpretrans/bench.sh) runs it
 * in a network namespace of its own.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	int one = 1, ls, c1, n;

	if (argc != 4)
		return 2;
	n = atoi(argv[2]);
	a.sin_port = htons(atoi(argv[1]));
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ls = socket(AF_INET, SOCK_STREAM, 0);
	c1 = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ls < 0 || c1 < 0 || bind(ls, (struct sockaddr *)&a, sizeof(a)) || listen(ls, 0) ||
	    connect(c1, (struct sockaddr *)&a, sizeof(a))) {
		perror("synstorm: listener");
		return 1;
	}
	usleep(100000);
	for (int i = 0; i < n; i++) {
		int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

		if (c < 0) {
			perror("synstorm: socket");
			return 1;
		}
		connect(c, (struct sockaddr *)&a, sizeof(a)); /* EINPROGRESS */
	}
	usleep(atoi(argv[3]) * 1000L);
	return 0;
}
