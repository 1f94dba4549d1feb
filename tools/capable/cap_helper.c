// Test helper for capable's root tests: capability checks with known
// verdicts, in one process (one PID), as root and then as nobody.
//   cap_helper FILE [N [MS]]
//     as root: N (default 1) raw sockets (CAP_NET_RAW), chown FILE to
//     65534 (CAP_CHOWN: checked twice, for the owner and the group); then drops to uid/gid 65534 (no capabilities left)
//     and tries both again (denied). Prints "raw_root=1 chown_root=1
//     raw_nobody=0 chown_nobody=0": what each attempt gave (1: it worked);
//     then sleeps MS ms (alive while a tracer symbolizes its user stacks).
#define _GNU_SOURCE
#include <grp.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

static __attribute__((noinline)) int raw_socket(void)
{
	int fd = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);

	if (fd < 0)
		return 0;
	close(fd);
	return 1;
}

static __attribute__((noinline)) int change_owner(const char *f, uid_t to)
{
	return chown(f, to, to) == 0;
}

int main(int argc, char **argv)
{
	int n = argc > 2 ? atoi(argv[2]) : 1, raw_root = 1, chown_root, raw_nobody, chown_nobody;

	if (argc < 2)
		return 2;
	for (int i = 0; i < n; i++)
		raw_root &= raw_socket();
	chown_root = change_owner(argv[1], 65534);
	if (setgroups(0, NULL) || setresgid(65534, 65534, 65534) ||
	    setresuid(65534, 65534, 65534)) {
		perror("dropping to nobody");
		return 1;
	}
	raw_nobody = raw_socket();
	chown_nobody = change_owner(argv[1], 0);
	printf("raw_root=%d chown_root=%d raw_nobody=%d chown_nobody=%d\n", raw_root, chown_root,
	       raw_nobody, chown_nobody);
	fflush(stdout);
	if (argc > 3)
		usleep(atoi(argv[3]) * 1000);
	return 0;
}
