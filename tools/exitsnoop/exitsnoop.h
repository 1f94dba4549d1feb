/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __EXITSNOOP_H
#define __EXITSNOOP_H

#include "common/common.h"

/* One process exit (or, with --per-thread, one thread exit). */
struct exitsnoop_event {
	__u64 ts_ns;     /* CLOCK_MONOTONIC at the exit */
	__u64 start_ns;  /* the task's start_time (same clock) */
	__u32 pid;       /* TGID */
	__u32 tid;       /* the thread that exited (the last one, per process) */
	__u32 ppid;      /* the parent's TGID (before any reparenting) */
	__u32 status;    /* wait status as the parent sees it: code << 8,
			  * or signal | 0x80 when a core was dumped */
	__u32 uid;       /* real UID */
	__u32 nthreads;  /* per process: 1; per thread: 0 */
	__u8 comm[CS_COMM_LEN];
};

#endif /* __EXITSNOOP_H */
