// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * mountsnoop's root tests: mount-family calls with known arguments in a
 * private mount namespace of its own (unshare(CLONE_NEWNS), then "/" made
 * private, recursively: nothing propagates to the host, and every mount
 * ends with the namespace when this process exits). Records in argv[1]:
 * "pid PID", "ns INUM" (from readlink /proc/self/ns/mnt), then one line
 * "CALL RET" per call, in order. argv[2]: an empty directory to mount on.
 * With argv[3] = "new", the fsopen/fsconfig/fsmount/move_mount/open_tree
 * sequence too; with "plain", the tmpfs's source is "cs-src" (not the
 * hostile one: libbpf-tools prints it raw, its newline splits the line).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef FSOPEN_CLOEXEC
#define FSOPEN_CLOEXEC 1
#define FSCONFIG_SET_STRING 1
#define FSCONFIG_CMD_CREATE 6
#define FSMOUNT_CLOEXEC 1
#define MOUNT_ATTR_NODEV 4
#define MOVE_MOUNT_F_EMPTY_PATH 4
#define OPEN_TREE_CLONE 1
#define OPEN_TREE_CLOEXEC O_CLOEXEC
#endif

static FILE *out;

static long rec(const char *call, long ret)
{
	fprintf(out, "%s %ld\n", call, ret < 0 ? -errno : ret);
	return ret;
}

int main(int argc, char **argv)
{
	char ns[64] = "", missing[4096];
	const char *dir;
	ssize_t n;
	long fs, mnt, tree;
	int plain;

	if (argc < 3)
		return 64;
	out = fopen(argv[1], "w");
	dir = argv[2];
	if (!out || unshare(CLONE_NEWNS))
		return 1;
	n = readlink("/proc/self/ns/mnt", ns, sizeof(ns) - 1);
	if (n <= 0)
		return 1;
	fprintf(out, "pid %d\nns %.*s\n", getpid(), (int)n, ns);
	/* NULL source, fstype and data. */
	if (rec("mount", mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)))
		return 2;
	/* A hostile source: a quote, a newline, an ESC. */
	plain = argc > 3 && !strcmp(argv[3], "plain");
	if (rec("mount", mount(plain ? "cs-src" : "cs\"src\n\x1b", dir, "tmpfs",
			       MS_NOSUID | MS_NODEV, "size=1m,mode=700")))
		return 3;
	snprintf(missing, sizeof(missing), "%s/missing", dir);
	rec("mount", mount("cs-src", missing, "tmpfs", 0, NULL)); /* -ENOENT */
	if (rec("umount", umount2(dir, MNT_DETACH)))
		return 4;
	rec("umount", umount2(dir, 0)); /* -EINVAL: not a mount point any more */
	if (argc > 3 && !strcmp(argv[3], "new")) {
		fs = rec("fsopen", syscall(SYS_fsopen, "tmpfs", FSOPEN_CLOEXEC));
		if (fs < 0)
			return 5;
		rec("fsconfig", syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "size", "2m", 0));
		rec("fsconfig", syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0));
		mnt = rec("fsmount", syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NODEV));
		if (mnt < 0)
			return 6;
		if (rec("move_mount", syscall(SYS_move_mount, mnt, "", AT_FDCWD, dir,
					      MOVE_MOUNT_F_EMPTY_PATH)))
			return 7;
		tree = rec("open_tree", syscall(SYS_open_tree, AT_FDCWD, dir,
						OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC));
		if (tree < 0)
			return 8;
		/* The fds pin the mount (EBUSY): closed first. */
		close(tree);
		close(mnt);
		close(fs);
		if (rec("umount", umount2(dir, 0)))
			return 9;
	}
	return fclose(out) ? 1 : 0;
}
