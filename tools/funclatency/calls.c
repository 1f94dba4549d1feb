// funclatency root-test helper: waits for a line on stdin, then (given
// THREADS) starts THREADS threads one after the other, each of which ends
// inside cs_timed() (pthread_exit: it never returns), then calls its own
// exported function cs_timed() N times; each call mallocs (and frees) once
// and, given SLEEP_US, sleeps that long. Writes "done" and exits.
// Usage: calls N [SLEEP_US [THREADS]]
#include <pthread.h>
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
	pthread_t t;

	if (read(0, go, sizeof(go)) <= 0)
		return 1;
	for (int i = 0; i < threads; i++)
		if (pthread_create(&t, NULL, ends_inside, NULL) || pthread_join(t, NULL))
			return 1;
	for (int i = 0; i < n; i++)
		cs_timed(sleep_us);
	if (write(1, "done\n", 5) != 5)
		return 1;
	return 0;
}
