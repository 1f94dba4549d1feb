/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __TCPACCEPT_H
#define __TCPACCEPT_H

#include "common/common.h"


/* One connection returned by accept()/accept4(). */
struct tcpaccept_event {
	__u64 ts_ns;  /* CLOCK_MONOTONIC at the syscall's exit */
	__u32 pid;    /* the accepting task's TGID */
	__u32 tid;
	__u32 uid;
	__u16 family; /* AF_INET or AF_INET6 */
	__u16 lport;
	__u16 rport;
	__u16 _pad;
	__u32 fd;       /* the new descriptor */
	__u8 laddr[16]; /* network order; AF_INET: first 4 bytes */
	__u8 raddr[16];
	__u8 comm[CS_COMM_LEN];
};

#endif /* __TCPACCEPT_H */
