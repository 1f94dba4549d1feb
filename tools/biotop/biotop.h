/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __BIOTOP_H
#define __BIOTOP_H

#include "common/common.h"

/* The key of the `ios` map: the task that started the requests, the disk,
 * the operation (BCC's: pid, comm, disk, R/W). */
struct biotop_key {
	__u32 pid;       /* TGID */
	__u32 dev;       /* kernel dev_t (MAJOR << 20 | MINOR) */
	__u8 comm[CS_COMM_LEN];
	__u8 op;         /* 'R', 'W', 'F', 'D', 'E', 'Z', 'N' (block.bpf.h) */
	__u8 __pad[7];
};

/* What one key did this interval (completed requests). */
struct biotop_value {
	__u64 io;        /* requests */
	__u64 bytes;     /* their sizes */
	__u64 ns;        /* their latencies (issue -> completion), summed */
};

#endif /* __BIOTOP_H */
