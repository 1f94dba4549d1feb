/* Signal storm for the sigsnoop/killsnoop benchmark (bench/events.sh):
 * N kill(getpid(), SIGWINCH) calls (SIGWINCH is ignored by default: each
 * call generates a signal and returns 0). Prints "signals=N seconds=S rate=R".
 * Usage: sigstorm N */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct timespec t0, t1;
	long n = argc > 1 ? atol(argv[1]) : 0;
	pid_t me = getpid();
	double s;

	if (n < 1) {
		fprintf(stderr, "usage: sigstorm N\n");
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long i = 0; i < n; i++)
		if (kill(me, SIGWINCH))
			return 1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	s = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("signals=%ld seconds=%.3f rate=%.0f\n", n, s, n / s);
	return 0;
}
