// Test helper for sigsnoop's and killsnoop's root tests: sends itself
// SIGWINCH (ignored by default) with tgkill(2), then with tkill(2), and
// prints "PID TID" once both calls returned 0.
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void)
{
	pid_t pid = getpid(), tid = (pid_t)syscall(SYS_gettid);

	if (syscall(SYS_tgkill, pid, tid, SIGWINCH) || syscall(SYS_tkill, tid, SIGWINCH))
		return 1;
	printf("%d %d\n", pid, tid);
	return 0;
}
