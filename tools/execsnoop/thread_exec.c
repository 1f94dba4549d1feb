/* A second (non-leader) thread calls execv("/bin/echo", {"echo", MARKER}).
 * Before the exec it prints "thread_exec: pid=P tid=T" on stderr so the test
 * knows which thread exec'd. Used by tools/execsnoop/root_tests.rs. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

static char *marker;

static void *run(void *arg)
{
	char *args[3];

	(void)arg;
	args[0] = "echo";
	args[1] = marker;
	args[2] = NULL;
	dprintf(2, "thread_exec: pid=%ld tid=%ld\n", (long)getpid(), (long)syscall(SYS_gettid));
	execv("/bin/echo", args);
	perror("thread_exec helper: execv");
	_exit(4);
}

int main(int argc, char **argv)
{
	pthread_t t;

	if (argc != 2) {
		fprintf(stderr, "usage: thread_exec MARKER\n");
		return 2;
	}
	marker = argv[1];
	if (pthread_create(&t, NULL, run, NULL)) {
		fprintf(stderr, "thread_exec helper: pthread_create failed\n");
		return 3;
	}
	pthread_join(t, NULL); /* the exec ends this thread first */
	return 5;
}
