/* fexecve(3) (glibc: execveat(fd, "", ..., AT_EMPTY_PATH)) of FILE, which is
 * not executable, so the exec fails (EACCES), with argv {"fexecve_fail",
 * MARKER}. Prints "fexecve_fail: fd=N errno=E" on stderr so the test knows
 * the descriptor. Used by tools/execsnoop/root_tests.rs. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	/* On the stack: a failed exec's argv is read at its exit, and a string
	 * in a page never touched (as .rodata can be) cannot be read there. */
	char name[] = "fexecve_fail";
	char *args[3];
	char *envp[] = { NULL };
	int fd;

	if (argc != 3) {
		fprintf(stderr, "usage: fexecve_fail FILE MARKER\n");
		return 2;
	}
	fd = open(argv[1], O_RDONLY);
	if (fd < 0) {
		perror("fexecve_fail helper: open");
		return 3;
	}
	args[0] = name;
	args[1] = argv[2];
	args[2] = NULL;
	fexecve(fd, args, envp);
	fprintf(stderr, "fexecve_fail: fd=%d errno=%d\n", fd, errno);
	return 0;
}
