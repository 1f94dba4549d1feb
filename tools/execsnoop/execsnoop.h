/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __EXECSNOOP_H
#define __EXECSNOOP_H

#include "common/common.h"

enum execsnoop_consts {
	/* Payload capacity: filename (with NUL), then argv as stored by the
	 * kernel (NUL-separated strings, argv[0] first). */
	EXECSNOOP_FNAME_CAP = 4096,
	EXECSNOOP_ARGS_CAP = 16384,
	/* Arguments copied one by one (each with its own byte budget): at
	 * most this many, one bit each in arg_cut. */
	EXECSNOOP_MAX_ARGS = 128,
	/* Copied beyond --max-args for a script: the words its interpreter
	 * puts before the script's path (name, option, the path; 3 a level),
	 * so that the script's own arguments get the whole --max-args. */
	EXECSNOOP_INTERP_ARGS = 6,
	/* A failed exec's argc is counted through argv up to this. */
	EXECSNOOP_ARGC_SCAN_MAX = 65536,
};

enum execsnoop_flags {
	EXECSNOOP_F_ARGS_TRUNC = 1,  /* argv had more bytes/args than captured */
	EXECSNOOP_F_FNAME_TRUNC = 2, /* filename longer than EXECSNOOP_FNAME_CAP */
	EXECSNOOP_F_ARGS_FAULT = 4,  /* argv could not be read (memory fault) */
	/* Run through an interpreter (#! or binfmt_misc): argv is the one the
	 * kernel built for the interpreter, the script's path among it. */
	EXECSNOOP_F_INTERP = 8,
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
	__u32 argc;     /* arguments the process has (not only those copied) */
	__u8 comm[CS_COMM_LEN];
	__u8 pcomm[CS_COMM_LEN];
	/* Bit i: argument i was cut to the per-argument byte budget. */
	__u8 arg_cut[EXECSNOOP_MAX_ARGS / 8];
};

#endif /* __EXECSNOOP_H */
