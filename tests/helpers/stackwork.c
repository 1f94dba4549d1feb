// Workloads with known stacks for the profile and offcputime root tests,
// built with -fno-omit-frame-pointer (util::compile_helper_with):
//   stackwork burn SECS        main -> outer -> burn, CPU-bound for SECS
//   stackwork write SECS       main -> writer: write(2) to /dev/null in a loop
//   stackwork sleep N MS       main -> sleeper: N sleeps of MS milliseconds
// It prints "ready PID" and waits for a line on stdin before it starts;
// prints "done CPU_SECONDS OPS" (its CPU time, user + system, and burn's
// units of work) at the end; with
// a last argument "hold" it then waits for another line before it exits
// (a tracer that symbolizes only live processes can read its maps).
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static volatile unsigned long sink;
/* Units of work done (burn: 100000 multiply-adds each), for bench/stacks.sh. */
static unsigned long ops;

__attribute__((noinline)) void burn(double until)
{
	unsigned long x = 1;

	while (now() < until) {
		for (int i = 0; i < 100000; i++)
			x = x * 6364136223846793005UL + 1442695040888963407UL;
		sink = x;
		ops++;
	}
}

__attribute__((noinline)) void outer(double until)
{
	burn(until);
	sink++;
}

__attribute__((noinline)) void writer(double until)
{
	int fd = open("/dev/null", O_WRONLY);
	char buf[64] = {0};

	/* The syscall made here, as sleeper()'s (see there). */
	while (now() < until) {
		for (int i = 0; i < 1000; i++) {
			long ret;

			__asm__ volatile("syscall"
					 : "=a"(ret)
					 : "0"(1L /* SYS_write, x86-64 */), "D"((long)fd),
					   "S"(buf), "d"(sizeof(buf))
					 : "rcx", "r11", "memory");
			if (ret < 0)
				exit(3);
		}
	}
	close(fd);
	sink++;
}

/* The syscall is made here, not in libc: Debian's libc has no frame
 * pointers, and a stack walked from inside it skips its caller's frame
 * (README, profile, "Frame pointers"); so sleeper() is the innermost user
 * frame. x86-64 only, as the root tests. */
__attribute__((noinline)) void sleeper(int n, long ms)
{
	struct timespec t = { ms / 1000, (ms % 1000) * 1000000L };

	for (int i = 0; i < n; i++) {
		long ret;

		__asm__ volatile("syscall"
				 : "=a"(ret)
				 : "0"(35L /* SYS_nanosleep, x86-64 */), "D"(&t), "S"(0L)
				 : "rcx", "r11", "memory");
		if (ret < 0)
			exit(3);
	}
	sink++;
}

int main(int argc, char **argv)
{
	char line[64];

	if (argc < 3)
		return 2;
	printf("ready %d\n", getpid());
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		return 2;
	if (!strcmp(argv[1], "burn"))
		outer(now() + atof(argv[2]));
	else if (!strcmp(argv[1], "write"))
		writer(now() + atof(argv[2]));
	else if (!strcmp(argv[1], "sleep") && argc > 3)
		sleeper(atoi(argv[2]), atol(argv[3]));
	else
		return 2;
	struct timespec cpu;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu);
	printf("done %.6f %lu\n", cpu.tv_sec + cpu.tv_nsec / 1e9, ops);
	fflush(stdout);
	if (!strcmp(argv[argc - 1], "hold") && !fgets(line, sizeof(line), stdin))
		return 2;
	return 0;
}
