/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __TCPSTATES_H
#define __TCPSTATES_H

#include "common/common.h"

/* Per-CPU counters of the tool (ts_stats), for the final summary. */
enum tcpstates_stat {
	/* State changes of sockets whose timestamp did not fit in the
	 * socket map (shown, with MS unknown). */
	TCPSTATES_STAT_UNTIMED = 0,
	TCPSTATES_STAT_MAX = 1,
};


enum tcpstates_flags {
	TCPSTATES_FIRST = 1,   /* no earlier change of this socket seen: MS 0 */
	TCPSTATES_UNTIMED = 2, /* the socket map was full: MS unknown */
};

/* One state change. */
struct tcpstates_event {
	__u64 skaddr;
	__u64 ts_ns;    /* CLOCK_MONOTONIC */
	__u64 delta_ns; /* time in the old state (since the last change seen) */
	__u32 pid;      /* the current task's TGID (0 in softirq on idle) */
	__u32 tid;
	__u32 oldstate;
	__u32 newstate;
	__u16 family;
	__u16 lport;    /* host order */
	__u16 rport;
	__u8 flags;     /* enum tcpstates_flags */
	__u8 _pad;
	__u8 laddr[16]; /* network order; AF_INET: first 4 bytes */
	__u8 raddr[16];
	__u8 comm[CS_COMM_LEN];
};

#endif /* __TCPSTATES_H */
