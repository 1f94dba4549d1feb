// Test helper for oomkill's root tests: oom_hog CGDIR NAME PIDFILE
// moves itself into the memory cgroup CGDIR (v1: cgroup.procs), writes its
// PID to PIDFILE, names itself NAME (prctl), then touches memory 1 MiB at
// a time until the OOM killer ends it. Exits 3 if 1 GiB was not enough
// (no OOM kill), 100 on a setup failure.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	char path[4096];
	FILE *f;

	if (argc != 4)
		return 100;
	snprintf(path, sizeof(path), "%s/cgroup.procs", argv[1]);
	f = fopen(path, "w");
	if (!f || fprintf(f, "%d\n", getpid()) < 0 || fclose(f))
		return 100;
	f = fopen(argv[3], "w");
	if (!f || fprintf(f, "%d\n", getpid()) < 0 || fclose(f))
		return 100;
	prctl(PR_SET_NAME, argv[2]);
	for (int i = 0; i < 1024; i++) {
		char *p = malloc(1 << 20);

		if (!p)
			return 100;
		memset(p, i, 1 << 20);
	}
	return 3;
}
