/*
 * closedport FAMILY SPORT DPORT N [UDP_N]: N connect()s from
 * [::1 | 127.0.0.1]:SPORT to DPORT on loopback, where nothing listens (the
 * kernel answers the SYN with a RST and drops it: NO_SOCKET), then UDP_N
 * (default 1) UDP datagrams from SPORT to DPORT (dropped too, but not TCP).
 * Prints "refused=R" (connects that got ECONNREFUSED). FAMILY is 4 or 6.
 * For tcpdrop's root tests and benchmark.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sockaddr_storage src = {}, dst = {};
	socklen_t len;
	int fam, refused = 0, one = 1, n, u, udp_n;

	if (argc != 5 && argc != 6)
		return 2;
	udp_n = argc == 6 ? atoi(argv[5]) : 1;
	fam = atoi(argv[1]) == 6 ? AF_INET6 : AF_INET;
	n = atoi(argv[4]);
	if (fam == AF_INET) {
		struct sockaddr_in *s = (void *)&src, *d = (void *)&dst;

		s->sin_family = d->sin_family = AF_INET;
		s->sin_addr.s_addr = d->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		s->sin_port = htons(atoi(argv[2]));
		d->sin_port = htons(atoi(argv[3]));
		len = sizeof(*s);
	} else {
		struct sockaddr_in6 *s = (void *)&src, *d = (void *)&dst;

		s->sin6_family = d->sin6_family = AF_INET6;
		s->sin6_addr = d->sin6_addr = in6addr_loopback;
		s->sin6_port = htons(atoi(argv[2]));
		d->sin6_port = htons(atoi(argv[3]));
		len = sizeof(*s);
	}
	for (int i = 0; i < n; i++) {
		int c = socket(fam, SOCK_STREAM, 0);

		setsockopt(c, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (c < 0 || bind(c, (struct sockaddr *)&src, len)) {
			perror("closedport: bind");
			return 1;
		}
		if (connect(c, (struct sockaddr *)&dst, len) && errno == ECONNREFUSED)
			refused++;
		close(c);
	}
	u = socket(fam, SOCK_DGRAM, 0);
	if (u < 0 || bind(u, (struct sockaddr *)&src, len)) {
		perror("closedport: udp");
		return 1;
	}
	/* (An ICMP error from the previous datagram may fail one: ignored.) */
	for (int i = 0; i < udp_n; i++)
		sendto(u, "x", 1, 0, (struct sockaddr *)&dst, len);
	usleep(50000);
	printf("refused=%d\n", refused);
	return 0;
}
