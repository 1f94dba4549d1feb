// The block tools' root-test workload (tests/block_workload.rs):
// `bio_helper DEV N [NAME]`: names itself NAME (prctl, as a hostile comm
// test needs), then does N direct (O_DIRECT) writes and N direct reads on
// DEV, the i-th of 4096 << (i % 3) bytes at offset i * 65536, each waited
// for (one request each). Exits 0, or 1 with a message.
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: bio_helper DEV N [NAME]\n");
		return 1;
	}
	long n = atol(argv[2]);
	if (argc > 3 && prctl(PR_SET_NAME, argv[3], 0, 0, 0)) {
		perror("prctl");
		return 1;
	}
	int fd = open(argv[1], O_RDWR | O_DIRECT);
	if (fd < 0) {
		perror(argv[1]);
		return 1;
	}
	void *buf;
	if (posix_memalign(&buf, 4096, 16384))
		return 1;
	memset(buf, 0x5a, 16384);
	for (int pass = 0; pass < 2; pass++) {
		for (long i = 0; i < n; i++) {
			size_t size = 4096u << (i % 3);
			off_t off = (off_t)i * 65536;
			ssize_t r = pass == 0 ? pwrite(fd, buf, size, off) : pread(fd, buf, size, off);
			if (r != (ssize_t)size) {
				perror(pass == 0 ? "pwrite" : "pread");
				return 1;
			}
		}
	}
	return 0;
}
