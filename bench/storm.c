/* Exec storm for bench/run.sh: N execs of `/bin/true MARKER`, as fast as
 * possible, split over W workers (default: one per online CPU). Each worker
 * is a tight posix_spawn + waitpid loop. Prints one line:
 *   execs=N workers=W failed=F seconds=S rate=R
 * Build: cc -O2 -o storm storm.c
 * Usage: storm N MARKER [W]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;
static const char *prog = "/bin/true";

static long worker(long n, char *marker)
{
	char *argv[] = { (char *)prog, marker, NULL };
	long failed = 0;

	for (long i = 0; i < n; i++) {
		pid_t pid;
		int st;

		/* glibc's posix_spawn is clone(CLONE_VM | CLONE_VFORK) + execve */
		if (posix_spawn(&pid, prog, NULL, NULL, argv, environ)) {
			failed++;
			continue;
		}
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			failed++;
	}
	return failed;
}

int main(int argc, char **argv)
{
	struct timespec t0, t1;
	long n, w, failed = 0;

	if (argc < 3) {
		fprintf(stderr, "usage: %s N MARKER [WORKERS]\n", argv[0]);
		return 2;
	}
	n = atol(argv[1]);
	w = argc > 3 ? atol(argv[3]) : sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1 || w < 1) {
		fprintf(stderr, "storm: N and WORKERS must be >= 1\n");
		return 2;
	}
	if (w > n)
		w = n;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long k = 0; k < w; k++) {
		long share = n / w + (k < n % w ? 1 : 0);
		pid_t pid = fork();

		if (pid == 0) {
			long f = worker(share, argv[2]);
			_exit(f > 255 ? 255 : (int)f); /* failures, capped */
		}
		if (pid < 0) {
			perror("storm: fork");
			return 1;
		}
	}
	/* Each worker exits with its failure count (capped at 255). */
	for (long k = 0; k < w; k++) {
		int st;

		if (wait(&st) < 0)
			break;
		failed += WIFEXITED(st) ? WEXITSTATUS(st) : 255;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double s = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("execs=%ld workers=%ld failed=%ld seconds=%.3f rate=%.0f\n",
	       n, w, failed, s, n / s);
	return failed ? 1 : 0;
}
