/* Runs /bin/true through fexecve(3) (glibc: execveat(fd, "", ..., AT_EMPTY_PATH))
 * with argv {"true", MARKER}. Used by tools/execsnoop/root_tests.rs. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	char *args[3];
	char *envp[] = { NULL };
	int fd;

	if (argc != 2) {
		fprintf(stderr, "usage: fexecve MARKER\n");
		return 2;
	}
	fd = open("/bin/true", O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		perror("fexecve helper: open /bin/true");
		return 3;
	}
	args[0] = "true";
	args[1] = argv[1];
	args[2] = NULL;
	fexecve(fd, args, envp);
	perror("fexecve helper: fexecve");
	return 4;
}
