// Test helper for filelife's root tests: files with a known life.
//   life_helper life SYSCALL DIR NAME MS
//       creates DIR/NAME with SYSCALL (openat, open, creat, openat2), sleeps
//       MS ms, unlinks it; prints "INO AGE_NS": its inode and the time from
//       the create's return to the unlink's return (CLOCK_MONOTONIC)
//   life_helper existing DIR NAME
//       opens the existing DIR/NAME with O_CREAT (not a creation), unlinks it
//   life_helper rename DIR A B MS
//       creates DIR/A, sleeps MS, renames it to DIR/B, sleeps MS, unlinks DIR/B
//   life_helper over DIR A B
//       creates DIR/A and DIR/B, renames B over A (A's file is deleted), then
//       unlinks DIR/A (B's file)
//   life_helper two DIR A B
//       creates DIR/A and DIR/B, then unlinks both
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static char *join(const char *dir, const char *name)
{
	char *p = malloc(strlen(dir) + strlen(name) + 2);

	if (!p)
		exit(2);
	sprintf(p, "%s/%s", dir, name);
	return p;
}

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int create(const char *how, const char *path)
{
	long fd;

	if (!strcmp(how, "open")) {
		fd = syscall(SYS_open, path, O_CREAT | O_EXCL | O_WRONLY, 0644);
	} else if (!strcmp(how, "creat")) {
		fd = syscall(SYS_creat, path, 0644);
	} else if (!strcmp(how, "openat2")) {
		struct open_how oh = { .flags = O_CREAT | O_EXCL | O_WRONLY, .mode = 0644 };

		fd = syscall(SYS_openat2, AT_FDCWD, path, &oh, sizeof(oh));
	} else {
		fd = openat(AT_FDCWD, path, O_CREAT | O_EXCL | O_WRONLY, 0644);
	}
	if (fd < 0) {
		perror(path);
		exit(1);
	}
	return fd;
}

static void must(int ok, const char *what)
{
	if (!ok) {
		perror(what);
		exit(1);
	}
}

int main(int argc, char **argv)
{
	if (argc == 6 && !strcmp(argv[1], "life")) {
		char *p = join(argv[3], argv[4]);
		struct stat st;
		int fd = create(argv[2], p);
		long long t0 = now_ns(), t1;

		must(fstat(fd, &st) == 0, "fstat");
		close(fd);
		usleep(atoi(argv[5]) * 1000);
		must(unlink(p) == 0, "unlink");
		t1 = now_ns();
		printf("%llu %lld\n", (unsigned long long)st.st_ino, t1 - t0);
		return 0;
	}
	if (argc == 4 && !strcmp(argv[1], "existing")) {
		char *p = join(argv[2], argv[3]);
		int fd = open(p, O_CREAT | O_WRONLY, 0644);

		must(fd >= 0, "open existing");
		close(fd);
		must(unlink(p) == 0, "unlink");
		return 0;
	}
	if (argc == 6 && !strcmp(argv[1], "rename")) {
		char *a = join(argv[2], argv[3]), *b = join(argv[2], argv[4]);

		close(create("openat", a));
		usleep(atoi(argv[5]) * 1000);
		must(rename(a, b) == 0, "rename");
		usleep(atoi(argv[5]) * 1000);
		must(unlink(b) == 0, "unlink");
		return 0;
	}
	if (argc == 5 && !strcmp(argv[1], "over")) {
		char *a = join(argv[2], argv[3]), *b = join(argv[2], argv[4]);

		close(create("openat", a));
		close(create("openat", b));
		usleep(100 * 1000);
		must(rename(b, a) == 0, "rename");
		usleep(100 * 1000);
		must(unlink(a) == 0, "unlink");
		return 0;
	}
	if (argc == 5 && !strcmp(argv[1], "two")) {
		char *a = join(argv[2], argv[3]), *b = join(argv[2], argv[4]);

		close(create("openat", a));
		close(create("openat", b));
		must(unlink(a) == 0 && unlink(b) == 0, "unlink");
		return 0;
	}
	fprintf(stderr, "usage: see life_helper.c\n");
	return 2;
}
