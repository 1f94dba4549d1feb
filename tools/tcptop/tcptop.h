/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __TCPTOP_H
#define __TCPTOP_H

#include "common/common.h"

enum tcptop_consts {
	TCPTOP_MAX_KEYS = 10240, /* BCC's and libbpf-tools' map size */
};

/* The key of the `flows` map: a process (and its comm) on one connection. */
struct tcptop_key {
	__u32 pid;      /* TGID */
	__u16 family;   /* AF_INET or AF_INET6 (the socket's) */
	__u16 lport;    /* host order */
	__u16 rport;    /* host order */
	__u8 __pad[6];
	__u8 laddr[16]; /* network order; AF_INET: the first 4 bytes */
	__u8 raddr[16];
	__u8 comm[CS_COMM_LEN];
};

/* What one key counted this interval. */
struct tcptop_value {
	__u64 sent;     /* bytes sendmsg() returned */
	__u64 received; /* bytes recvmsg() returned (MSG_PEEK not counted) */
};

#endif /* __TCPTOP_H */
