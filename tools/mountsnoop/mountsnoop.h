/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __MOUNTSNOOP_H
#define __MOUNTSNOOP_H

#include "common/common.h"

/* The syscall of a record. */
enum mountsnoop_call {
	MOUNTSNOOP_MOUNT = 0,
	MOUNTSNOOP_UMOUNT = 1,     /* umount2(2): the kernel's sys_umount */
	MOUNTSNOOP_FSOPEN = 2,
	MOUNTSNOOP_FSCONFIG = 3,
	MOUNTSNOOP_FSMOUNT = 4,
	MOUNTSNOOP_MOVE_MOUNT = 5,
	MOUNTSNOOP_OPEN_TREE = 6,
};

enum mountsnoop_consts {
	MOUNTSNOOP_STR = 256, /* bytes per string argument, NUL included */
	MOUNTSNOOP_NSTR = 4,
};

/* One mount-family syscall, reported at its exit. The string arguments,
 * by call (the others empty):
 *   mount:      str[0] source, [1] target, [2] fstype, [3] data
 *   umount:     str[1] target
 *   fsopen:     str[2] fs name
 *   fsconfig:   str[0] key, [3] value (FSCONFIG_SET_STRING, _SET_PATH,
 *               _SET_PATH_EMPTY only: the others' value is no string)
 *   move_mount: str[0] from path, [1] to path
 *   open_tree:  str[0] path
 * The integer arguments:
 *   flags:      mount/umount/fsopen/fsmount/move_mount/open_tree flags
 *   fd1:        fsconfig fd, fsmount fs_fd, move_mount from_dfd, open_tree dfd
 *   fd2:        move_mount to_dfd
 *   cmd, aux:   fsconfig cmd and aux
 *   attr_flags: fsmount attr_flags
 * The strings are read from user memory at the exit (the pointers staged at
 * enter), as libbpf-tools does. */
struct mountsnoop_event {
	__u64 ts_ns;
	__u64 delta_ns;  /* enter -> exit */
	__u64 flags;
	__s64 ret;
	__u32 pid;
	__u32 tid;
	__u32 uid;
	__u32 mnt_ns;    /* the caller's mount namespace (its inode number) */
	__s32 fd1;
	__s32 fd2;
	__s32 cmd;
	__s32 aux;
	__u32 attr_flags;
	__u8 call;       /* enum mountsnoop_call */
	__u8 str_null;   /* bit i: str[i]'s pointer was NULL */
	__u8 str_fault;  /* bit i: str[i] could not be read */
	__u8 str_cut;    /* bit i: str[i] filled its buffer (it may be cut) */
	__u8 str_other;  /* bit i: str[i] is a pointer to no string (fsconfig's
			  * FSCONFIG_SET_BINARY value): not read */
	/* string i at str[i * MOUNTSNOOP_STR] (one flat array: the generated
	 * Rust type of a nested one would lack Default) */
	__u8 str[MOUNTSNOOP_NSTR * MOUNTSNOOP_STR];
	__u8 comm[CS_COMM_LEN];
};

#endif /* __MOUNTSNOOP_H */
