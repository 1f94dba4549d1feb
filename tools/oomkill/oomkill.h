/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __OOMKILL_H
#define __OOMKILL_H

#include "common/common.h"

/* Which of oom:mark_victim's optional fields this kernel has (added over
 * time: older kernels have only pid; Debian's 6.1 and 6.12 have them all). */
enum oomkill_have {
	OOMKILL_HAVE_COMM = 1,
	OOMKILL_HAVE_RSS = 2, /* total_vm, anon_rss, file_rss, shmem_rss */
	OOMKILL_HAVE_UID = 4,
	OOMKILL_HAVE_PGTABLES = 8,
	OOMKILL_HAVE_SCORE_ADJ = 16,
};

/* One OOM kill: the victim (from the tracepoint) and the triggering task
 * (current when the victim is marked). */
struct oomkill_event {
	__u64 ts_ns;
	__u64 total_vm_kb;
	__u64 anon_rss_kb;
	__u64 file_rss_kb;
	__u64 shmem_rss_kb;
	__u64 pgtables_kb;
	__u32 pid;   /* the victim's TGID */
	__u32 uid;   /* the victim's UID */
	__u32 tpid;  /* the triggering task's TGID */
	__u32 ttid;
	__s32 oom_score_adj;
	__u32 have;  /* enum oomkill_have bits */
	__u8 comm[CS_COMM_LEN];  /* the victim's */
	__u8 tcomm[CS_COMM_LEN]; /* the triggering task's */
};

#endif /* __OOMKILL_H */
