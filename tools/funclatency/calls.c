// funclatency root-test helper: waits for a line on stdin, then (given
// THREADS) starts THREADS threads one after the other, each of which ends
// inside cs_timed() (pthread_exit: it never returns), then calls its own
// exported function cs_timed() N times; each call mallocs (and frees) once
// and, given SLEEP_US, sleeps that long. Writes "done MAX" (the longest
// call, in ns of CLOCK_MONOTONIC, bpf_ktime_get_ns()'s clock, measured
// around the call: the probes fire inside that interval) and exits.
// Usage: calls N [SLEEP_US [THREADS]]
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

__attribute__((noinline, noipa)) void *cs_timed(long sleep_us)
{
	void *volatile p;

	if (sleep_us < 0)
		pthread_exit(NULL);
	p = malloc(64);

	if (sleep_us > 0) {
		struct timespec ts = { sleep_us / 1000000, (sleep_us % 1000000) * 1000 };

		nanosleep(&ts, NULL);
	}
	free(p);
	return p;
}

static void *ends_inside(void *arg)
{
	return cs_timed(-1);
}

int main(int argc, char **argv)
{
	char go[16];
	int n = argc > 1 ? atoi(argv[1]) : 500;
	long sleep_us = argc > 2 ? atol(argv[2]) : 0;
	int threads = argc > 3 ? atoi(argv[3]) : 0;
	long long max = 0;
	struct timespec a, b;
	pthread_t t;

	if (read(0, go, sizeof(go)) <= 0)
		return 1;
	for (int i = 0; i < threads; i++)
		if (pthread_create(&t, NULL, ends_inside, NULL) || pthread_join(t, NULL))
			return 1;
	for (int i = 0; i < n; i++) {
		long long d;

		clock_gettime(CLOCK_MONOTONIC, &a);
		cs_timed(sleep_us);
		clock_gettime(CLOCK_MONOTONIC, &b);
		d = (b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec);
		if (d > max)
			max = d;
	}
	/* write(), not printf: stdio would malloc its buffer (a call the
	 * c:malloc test would count). */
	char line[48];
	int len = snprintf(line, sizeof(line), "done %lld\n", max);

	return write(1, line, len) == len ? 0 : 1;
}
