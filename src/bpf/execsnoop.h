/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __EXECSNOOP_H
#define __EXECSNOOP_H

#include "common/common.h"

enum execsnoop_consts {
	/* Payload capacity: filename (with NUL), then argv as stored by the
	 * kernel (NUL-separated strings, argv[0] first). */
	EXECSNOOP_FNAME_CAP = 4096,
	EXECSNOOP_ARGS_CAP = 16384,
	/* Failed execs read argv through its pointers: at most this many. */
	EXECSNOOP_PTR_ARGS_MAX = 128,
};

enum execsnoop_flags {
	EXECSNOOP_F_ARGS_TRUNC = 1,  /* argv had more bytes/args than captured */
	EXECSNOOP_F_FNAME_TRUNC = 2, /* filename longer than EXECSNOOP_FNAME_CAP */
	EXECSNOOP_F_ARGS_FAULT = 4,  /* argv could not be read (memory fault) */
};

/* One exec; a variable-length record: this header, then fname_len bytes of
 * filename, then args_len bytes of argv. */
struct execsnoop_event {
	__u64 ts_ns;    /* CLOCK_MONOTONIC */
	__u32 pid;      /* TGID */
	__u32 tid;      /* thread that called exec (before de_thread) */
	__u32 ppid;
	__u32 uid;
	__s32 retval;
	__u32 cpu;
	__u32 args_len;
	__u32 args_total; /* argv bytes the process had (>= args_len) */
	__u16 fname_len;
	__u16 flags;
	__u32 _pad;
	__u8 comm[CS_COMM_LEN];
	__u8 pcomm[CS_COMM_LEN];
};

#endif /* __EXECSNOOP_H */
