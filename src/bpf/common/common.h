/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Types shared by the BPF side and (through the skeletons) user space.
 * Fixed-width fields and __u8 arrays only: they become plain Rust types. */
#ifndef __CORESCOPE_COMMON_H
#define __CORESCOPE_COMMON_H

#define CS_COMM_LEN 16

enum corescope_limits {
	CS_MAX_TRACKED_PIDS = 32768,
};

/* Why an event was lost; index into the cs_dropped per-CPU array. */
enum corescope_drop {
	CS_DROP_RINGBUF = 0,  /* ring buffer full */
	CS_DROP_MAP_FULL = 1, /* a staging map was full */
	CS_DROP_UNPAIRED = 2, /* a syscall exit without its recorded enter */
	CS_DROP_TRACK = 3,    /* a forked child could not be added to the -p set */
	CS_DROP_MAX = 4,
};

struct corescope_cfg {
	__u32 self_tgid; /* the tool itself: never traced */
	__u32 tid;
	__u32 uid;
	__u8 uid_on;
	__u8 pids_on;
	__u8 cgroup_on;
	__u8 comm_on;
	__u8 comm[CS_COMM_LEN];
	__u64 cgroup_id; /* --cgroup's id (its inode on cgroup v2), for cs_trace_task_of() */
};

#endif /* __CORESCOPE_COMMON_H */
