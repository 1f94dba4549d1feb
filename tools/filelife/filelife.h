/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __FILELIFE_H
#define __FILELIFE_H

#include "common/common.h"

enum filelife_consts {
	FILELIFE_PATH_CAP = 256, /* bytes of the deleting call's path in a record */
};

/* How the file was deleted. */
enum filelife_how {
	FILELIFE_UNLINK = 0,
	FILELIFE_RENAME = 1, /* a rename replaced it */
};

/* One file created and deleted while tracing. */
struct filelife_event {
	__u64 ts_ns;      /* CLOCK_MONOTONIC at the deletion */
	__u64 created_ns; /* same clock, at the creating open's return */
	__u64 ino;
	__u32 dev;  /* the kernel's dev_t: major << 20 | minor */
	__u32 pid;  /* the deleting process (TGID) */
	__u32 tid;
	__u32 uid;
	__u32 cpid; /* the creating process (TGID) */
	__u16 path_len; /* bytes in path (no NUL) */
	__u8 how;       /* enum filelife_how */
	__u8 path_trunc;
	__u8 comm[CS_COMM_LEN];  /* the deleting task */
	__u8 ccomm[CS_COMM_LEN]; /* the creating task */
	__u8 path[FILELIFE_PATH_CAP]; /* as the deleting call named it */
};

#endif /* __FILELIFE_H */
