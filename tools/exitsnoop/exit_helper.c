// Test helper for exitsnoop's root tests: ends in a known way.
//   exit_helper code N [MS]      sleep MS ms, then exit(N)
//   exit_helper segv core|nocore DIR
//                                RLIMIT_CORE unlimited or 0, chdir DIR,
//                                then a NULL write (SIGSEGV)
//   exit_helper threads N CODE   N threads in all (N >= 2); one calls exit(CODE)
//                                (exit_group: every thread exits)
//   exit_helper leaderfirst CODE the main thread calls pthread_exit(); a
//                                thread calls exit(CODE) 200 ms later
//   exit_helper name NAME        waits for EOF on stdin, sets its comm to
//                                NAME (prctl), exits 0
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

static int code;

static void *exiter(void *arg)
{
	usleep(200 * 1000);
	exit(code);
	return arg;
}

static void *sleeper(void *arg)
{
	for (;;)
		pause();
	return arg;
}

int main(int argc, char **argv)
{
	pthread_t t;

	if (argc >= 3 && !strcmp(argv[1], "code")) {
		if (argc > 3)
			usleep(atoi(argv[3]) * 1000);
		return atoi(argv[2]);
	}
	if (argc == 4 && !strcmp(argv[1], "segv")) {
		struct rlimit rl = {0, 0};

		if (!strcmp(argv[2], "core"))
			rl.rlim_cur = rl.rlim_max = RLIM_INFINITY;
		if (setrlimit(RLIMIT_CORE, &rl) || chdir(argv[3]))
			return 100;
		*(volatile int *)0 = 1;
		return 101;
	}
	if (argc == 4 && !strcmp(argv[1], "threads")) {
		int n = atoi(argv[2]);

		code = atoi(argv[3]);
		for (int i = 0; i < n - 2; i++)
			if (pthread_create(&t, NULL, sleeper, NULL))
				return 100;
		if (pthread_create(&t, NULL, exiter, NULL))
			return 100;
		for (;;)
			pause();
	}
	if (argc == 3 && !strcmp(argv[1], "leaderfirst")) {
		code = atoi(argv[2]);
		if (pthread_create(&t, NULL, exiter, NULL))
			return 100;
		pthread_exit(NULL);
	}
	if (argc == 3 && !strcmp(argv[1], "name")) {
		char buf[64];

		while (read(0, buf, sizeof(buf)) > 0)
			;
		prctl(PR_SET_NAME, argv[2]);
		return 0;
	}
	fprintf(stderr, "usage: exit_helper code N [MS] | segv core|nocore DIR | threads N CODE | leaderfirst CODE | name NAME\n");
	return 2;
}
