/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __BIOSNOOP_H
#define __BIOSNOOP_H

#include "common/common.h"

/* Where the issuing task was taken (src/block_rq.bpf.h CS_RQ_WHO_*). */
enum biosnoop_who {
	BIOSNOOP_WHO_START = 1,  /* block_io_start */
	BIOSNOOP_WHO_INSERT = 2, /* block_rq_insert */
	BIOSNOOP_WHO_ISSUE = 3,  /* block_rq_issue */
};

/* One completed block I/O request. */
struct biosnoop_event {
	__u64 ts_ns;     /* CLOCK_MONOTONIC at the completion */
	__u64 lat_ns;    /* issue to the driver -> completion */
	__u64 queued_ns; /* insertion -> issue (-Q); 0: never inserted */
	__u64 sector;    /* first sector (512 bytes), at the issue */
	__u32 bytes;     /* size, at the issue */
	__u32 pid;       /* the task that started it (TGID) */
	__u32 tid;
	__u32 dev;       /* the disk, kernel dev_t (MAJOR << 20 | MINOR) */
	__u32 error;     /* the completion's blk_status_t; 0: success */
	__u8 comm[CS_COMM_LEN];
	__u8 op;         /* 'R', 'W', 'F', 'D', 'E', 'Z', 'N' (block.bpf.h) */
	__u8 who;        /* enum biosnoop_who */
	__u8 inserted;   /* 1: it went through block_rq_insert */
	__u8 __pad[5];
};

#endif /* __BIOSNOOP_H */
