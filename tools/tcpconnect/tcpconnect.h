/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __TCPCONNECT_H
#define __TCPCONNECT_H

#include "common/common.h"


/* How a connect() ended (tcpconnect_event.result). */
enum tcpconnect_result {
	TCPCONNECT_ESTABLISHED = 0, /* SYN_SENT -> ESTABLISHED */
	TCPCONNECT_FAILED = 1,      /* closed before ESTABLISHED: refused (RST),
				     * timed out, or closed by its owner */
};

/* One connect(), sent when it is established or fails. */
struct tcpconnect_event {
	__u64 ts_ns;  /* CLOCK_MONOTONIC at connect() (CLOSE -> SYN_SENT) */
	__u64 lat_ns; /* from SYN_SENT to ESTABLISHED (or to the failure) */
	__u32 pid;    /* the connecting task's TGID */
	__u32 tid;
	__u32 uid;
	__u16 family; /* AF_INET or AF_INET6 */
	__u16 lport;  /* source port (known from SYN_SENT -> ESTABLISHED on;
		       * 0 if the connect failed before one was chosen) */
	__u16 dport;
	__u8 result;  /* enum tcpconnect_result */
	__u8 _pad;
	__u8 saddr[16]; /* network order; AF_INET: first 4 bytes */
	__u8 daddr[16];
	__u8 comm[CS_COMM_LEN];
};

/* --count: connects per destination, counted at connect() (as BCC -c). */
struct tcpconnect_key {
	__u16 family;
	__u16 dport;
	__u8 saddr[16];
	__u8 daddr[16];
};

#endif /* __TCPCONNECT_H */
