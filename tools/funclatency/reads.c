// funclatency root-test helper: waits for a line on stdin (that read is in
// flight when tracing starts: its exit has no enter), then makes exactly
// N read() calls of one byte from /dev/zero, writes "done" and exits.
// Usage: reads N
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	char c, go[16];
	int n = argc > 1 ? atoi(argv[1]) : 1000;
	int fd = open("/dev/zero", O_RDONLY);

	if (fd < 0 || read(0, go, sizeof(go)) <= 0)
		return 1;
	for (int i = 0; i < n; i++)
		if (read(fd, &c, 1) != 1)
			return 1;
	if (write(1, "done\n", 5) != 5)
		return 1;
	return 0;
}
