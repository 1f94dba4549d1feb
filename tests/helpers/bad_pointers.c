/* Syscalls given pointers that cannot be read, so the tools' kernel side
 * sees a memory fault (and the syscall fails with EFAULT):
 *   bad_pointers exec PATH MARKER  execve(PATH, {MARKER, (char *)1}) (-x)
 *   bad_pointers open MARKER       open((char *)1), then openat2(MARKER,
 *                                  how = (void *)1)
 * Prints "bad_pointers: <what> errno=E" on stderr for each call. Used by the
 * execsnoop and opensnoop root tests (args_unreadable, path_unreadable,
 * how_unreadable). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "exec")) {
		/* On the stack: a failed exec's argv is read at its exit. */
		char marker[64];
		char *args[] = { marker, (char *)1, NULL };
		char *envp[] = { NULL };

		snprintf(marker, sizeof(marker), "%s", argv[3]);
		execve(argv[2], args, envp);
		fprintf(stderr, "bad_pointers: exec errno=%d\n", errno);
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "open")) {
		long r = syscall(SYS_open, (char *)1, O_RDONLY);

		fprintf(stderr, "bad_pointers: open ret=%ld errno=%d\n", r, errno);
		r = syscall(SYS_openat2, AT_FDCWD, argv[2], (void *)1, 24);
		fprintf(stderr, "bad_pointers: openat2 ret=%ld errno=%d\n", r, errno);
		return 0;
	}
	fprintf(stderr, "usage: bad_pointers exec PATH MARKER | open MARKER\n");
	return 2;
}
