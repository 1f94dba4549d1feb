/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __SYSCOUNT_H
#define __SYSCOUNT_H

#include "common/common.h"

/* The key of the `counts` map: a syscall number, or a TGID with -P. */
struct syscount_key {
	__u32 id;
};

/* What one key counted this interval. */
struct syscount_value {
	__u64 count;
	__u64 total_ns;            /* -L: time from enter to exit, summed */
	__u8 comm[CS_COMM_LEN];    /* -P: the process's name when first counted */
};

#endif /* __SYSCOUNT_H */
