/* Ping-pong of two processes over two pipes, for the runqlat and cpudist
 * tests: `pingpong K [CPU]`. Both processes are pinned to one CPU (default
 * the first allowed), so every round trip switches the CPU to the child
 * and back: each process is woken, and runs, exactly once per round trip
 * (plus any preemption by another task). Prints `ready PARENT CHILD`, waits
 * for a line on stdin (the tracer attaches meanwhile), does K round trips,
 * prints `done K` and exits 0. With a third argument, also prints the
 * round trips per second to stderr (bench/sched.sh). */
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int pin(int cpu)
{
	cpu_set_t set;

	if (cpu < 0) {
		if (sched_getaffinity(0, sizeof(set), &set))
			return -1;
		for (cpu = 0; cpu < CPU_SETSIZE && !CPU_ISSET(cpu, &set); cpu++)
			;
	}
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set);
}

int main(int argc, char **argv)
{
	long k = argc > 1 ? atol(argv[1]) : 1000;
	int cpu = argc > 2 ? atoi(argv[2]) : -1;
	int ping[2], pong[2];
	char b = 0, line[64];
	pid_t kid;

	if (k < 1 || pin(cpu) || pipe(ping) || pipe(pong)) {
		perror("pingpong: setup");
		return 2;
	}
	kid = fork();
	if (kid < 0) {
		perror("pingpong: fork");
		return 2;
	}
	if (kid == 0) {
		for (long i = 0; i < k; i++) {
			if (read(ping[0], &b, 1) != 1 || write(pong[1], &b, 1) != 1)
				_exit(3);
		}
		_exit(0);
	}
	printf("ready %d %d\n", (int)getpid(), (int)kid);
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin)) {
		kill(kid, SIGKILL);
		return 2;
	}
	struct timespec t0, t1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long i = 0; i < k; i++) {
		if (write(ping[1], &b, 1) != 1 || read(pong[0], &b, 1) != 1) {
			perror("pingpong: round trip");
			return 3;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	int st = 0;
	waitpid(kid, &st, 0);
	if (argc > 3) {
		double secs = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;

		fprintf(stderr, "round_trips_per_s %.0f\n", k / secs);
	}
	printf("done %ld\n", k);
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 3;
}
