/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __TCPLIFE_H
#define __TCPLIFE_H

#include "common/common.h"

/* How the owning process of a session was found. */
enum tcplife_owner {
	TCPLIFE_OWNER_NONE = 0,    /* not known: pid 0, empty comm */
	TCPLIFE_OWNER_CONNECT = 1, /* the task that called connect() (SYN_SENT) */
	TCPLIFE_OWNER_ACCEPT = 2,  /* the task whose accept()/accept4() returned it */
	TCPLIFE_OWNER_CLOSE = 3,   /* the task that closed/shut it down (FIN_WAIT1 or
				    * LAST_ACK), when neither of the above was seen */
};

/* Per-CPU counters of the tool (tl_stats), for the final summary. */
enum tcplife_stat {
	/* Sessions that closed with no record because they were opened before
	 * tracing started (those that did not fit in the session map are
	 * counted as lost instead, not here). Only those passing -4/-6/-L/-D
	 * are counted. */
	TCPLIFE_STAT_PREEXISTING = 0,
	TCPLIFE_STAT_MAX = 1,
};


/* One TCP session, sent when it closes. */
struct tcplife_event {
	__u64 ts_ns;    /* CLOCK_MONOTONIC at TCP_CLOSE */
	__u64 span_ns;  /* since the first SYN (SYN_SENT or SYN_RECV) */
	__u64 tx_bytes; /* payload bytes acked by the peer (tcp_sock.bytes_acked
			 * without our SYN and FIN) */
	__u64 rx_bytes; /* payload bytes received (tcp_sock.bytes_received
			 * without the peer's FIN) */
	__u32 pid;      /* owner's TGID (0 if unknown) */
	__u32 tid;      /* owner's thread */
	__u16 family;   /* AF_INET or AF_INET6 */
	__u16 lport;
	__u16 rport;
	__u8 owner;     /* enum tcplife_owner */
	__u8 _pad;
	__u8 laddr[16]; /* network order; AF_INET: first 4 bytes */
	__u8 raddr[16];
	__u8 comm[CS_COMM_LEN];
};

#endif /* __TCPLIFE_H */
