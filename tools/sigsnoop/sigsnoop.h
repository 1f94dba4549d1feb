/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Shared by sigsnoop and killsnoop (tools/killsnoop/killsnoop.bpf.c
 * compiles this tool's BPF program). */
#ifndef __SIGSNOOP_H
#define __SIGSNOOP_H

#include "common/common.h"

/* Where a record comes from. */
enum sigsnoop_source {
	SIGSNOOP_GENERATE = 0, /* signal:signal_generate */
	SIGSNOOP_KILL = 1,     /* kill(2) */
	SIGSNOOP_TKILL = 2,    /* tkill(2) */
	SIGSNOOP_TGKILL = 3,   /* tgkill(2) */
};

/* One signal sent (signal_generate) or one kill-family syscall. */
struct sigsnoop_event {
	__u64 ts_ns;
	__u32 pid;      /* sender's TGID (current) */
	__u32 tid;
	__u32 uid;
	__s32 tpid;     /* target: the task signalled (generate: its TID; kill:
			 * the pid argument, <= 0 for a group or all; tkill and
			 * tgkill: the TID argument) */
	__s32 ttgid;    /* tgkill: its tgid argument; else 0 */
	__s32 sig;
	__s32 ret;      /* generate: the tracepoint's errno (0, or -EAGAIN when
			 * the signal queue overflowed); syscalls: the return */
	__u8 source;    /* enum sigsnoop_source */
	__u8 result;    /* generate: the tracepoint's result (enum
			 * trace_signal_result: delivered, ignored, ...) */
	__u8 group;     /* generate: sent to the whole thread group */
	__u8 _pad;
	__u8 comm[CS_COMM_LEN];  /* sender */
	__u8 tcomm[CS_COMM_LEN]; /* generate: the target's comm; else empty */
};

#endif /* __SIGSNOOP_H */
