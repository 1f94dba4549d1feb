/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __CAPABLE_H
#define __CAPABLE_H

#include "common/common.h"

enum capable_consts {
	CAPABLE_STACK_OFF = -1000000, /* no errno: this side is not collected */
};

/* One capability check (capability:cap_capable). */
struct capable_event {
	__u64 ts_ns;           /* CLOCK_MONOTONIC */
	__s64 kernel_stack_id; /* bpf_get_stackid(), or CAPABLE_STACK_OFF */
	__s64 user_stack_id;
	__u32 pid; /* TGID */
	__u32 tid;
	__u32 uid;    /* the task's real UID (as BCC) */
	__u32 userns; /* inode number of the user namespace checked against */
	__s32 cap;
	__s32 ret; /* 0: allowed, else -EPERM */
	__u8 comm[CS_COMM_LEN];
};

#endif /* __CAPABLE_H */
