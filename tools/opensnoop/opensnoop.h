/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __OPENSNOOP_H
#define __OPENSNOOP_H

#include "common/common.h"

enum opensnoop_consts {
	/* PATH_MAX: every filename the kernel accepts fits (with its NUL). */
	OPENSNOOP_FNAME_CAP = 4096,
	/* Directory prefix of a resolved relative path (-F), '/'-terminated. */
	OPENSNOOP_DIR_CAP = 4096,
	/* Path components walked up to the root (-F). */
	OPENSNOOP_MAX_DEPTH = 64,
	/* User-space frames kept per event (--callers). */
	OPENSNOOP_MAX_CALLERS = 16,
	/* Bytes of the --path pattern. */
	OPENSNOOP_PATTERN_CAP = 64,
	/* Distinct -f values (besides O_RDONLY). */
	OPENSNOOP_MAX_FLAGS = 16,
};

enum opensnoop_syscall {
	OPENSNOOP_SYS_OPEN = 0,
	OPENSNOOP_SYS_OPENAT = 1,
	OPENSNOOP_SYS_OPENAT2 = 2,
	OPENSNOOP_SYS_CREAT = 3,
};

enum opensnoop_path_match {
	OPENSNOOP_MATCH_NONE = 0,
	OPENSNOOP_MATCH_PREFIX = 1,
	OPENSNOOP_MATCH_SUBSTR = 2,
};

enum opensnoop_status {
	OPENSNOOP_S_RESOLVED = 1,     /* a relative path got its directory prefix (-F) */
	OPENSNOOP_S_DIR_TRUNC = 2,    /* that prefix lacks its top (too deep or too long) */
	OPENSNOOP_S_DIR_UNKNOWN = 4,  /* dirfd named no open file: left relative */
	OPENSNOOP_S_FNAME_TRUNC = 8,  /* filename longer than OPENSNOOP_FNAME_CAP */
	OPENSNOOP_S_FNAME_FAULT = 16, /* filename could not be read */
	OPENSNOOP_S_HOW_FAULT = 32,   /* openat2's struct open_how could not be read */
};

/* One open; a variable-length record: this header, then nr_callers __u64
 * user return addresses (innermost first, 0 = none), then dir_len bytes of
 * directory prefix (-F, e.g. "/usr/share/"), then fname_len bytes of the
 * filename as passed, NUL included. Prefix + filename is the full path. */
struct opensnoop_event {
	__u64 ts_ns; /* CLOCK_MONOTONIC, at syscall exit */
	__u32 pid;
	__u32 tid;
	__u32 uid;
	__s32 ret;   /* fd, or -errno */
	__u32 flags; /* open flags */
	__u32 mode;  /* creation mode */
	__u16 fname_len;
	__u16 dir_len;
	__u16 status; /* enum opensnoop_status */
	__u8 syscall; /* enum opensnoop_syscall */
	__u8 nr_callers;
	__u8 comm[CS_COMM_LEN];
};

#endif /* __OPENSNOOP_H */
