/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __TCPRETRANS_H
#define __TCPRETRANS_H

#include "common/common.h"

/* What the kernel sent again (BCC's T column). */
enum tcpretrans_type {
	TCPRETRANS_RETRANS = 1, /* "R": tcp:tcp_retransmit_skb (timeouts, fast
				 * retransmits, and loss probes that resend the
				 * tail segment) */
};

/* One flow, as count mode keys it (-c). */
struct tcpretrans_key {
	__u16 family;   /* AF_INET or AF_INET6 */
	__u16 lport;
	__u16 rport;
	__u8 _pad[2];
	__u8 laddr[16]; /* network order; AF_INET: first 4 bytes */
	__u8 raddr[16];
};

/* One retransmit (event mode). */
struct tcpretrans_event {
	__u64 ts_ns;    /* CLOCK_MONOTONIC */
	__u32 pid;      /* TGID on the CPU: usually the softirq's (0 or any task) */
	__u32 state;    /* TCP state of the socket (TCP_ESTABLISHED, ...) */
	__u8 kind;      /* enum tcpretrans_type */
	__u8 _pad[7];
	struct tcpretrans_key flow;
};

#endif /* __TCPRETRANS_H */
