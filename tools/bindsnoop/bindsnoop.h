/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __BINDSNOOP_H
#define __BINDSNOOP_H

#include "common/common.h"

/* Socket options set before the bind (the OPTS column, BCC's letters). */
enum bindsnoop_opts {
	BINDSNOOP_FREEBIND = 1,       /* F: IP_FREEBIND */
	BINDSNOOP_TRANSPARENT = 2,    /* T: IP_TRANSPARENT */
	BINDSNOOP_NO_PORT = 4,        /* N: IP_BIND_ADDRESS_NO_PORT */
	BINDSNOOP_REUSEADDR = 8,      /* R: SO_REUSEADDR */
	BINDSNOOP_REUSEPORT = 16,     /* r: SO_REUSEPORT */
};

enum bindsnoop_flags {
	BINDSNOOP_SA_READ = 1, /* the sockaddr was read from user memory at enter */
};

/* One bind() on an IPv4 or IPv6 socket. */
struct bindsnoop_event {
	__u64 ts_ns;
	__u32 pid;
	__u32 tid;
	__u32 uid;
	__s32 ret;          /* bind()'s result: 0 or -errno */
	__s32 fd;
	__u32 bound_dev_if; /* SO_BINDTODEVICE's ifindex, 0 if none */
	__u16 family;       /* the socket's: AF_INET or AF_INET6 */
	__u16 sa_family;    /* the sockaddr's (may differ: a failed bind) */
	__u16 port;         /* host order: the socket's after a successful
			     * bind (a port 0 bind shows the port chosen),
			     * else the requested one */
	__u16 sa_port;      /* host order: the requested port */
	__u16 proto;        /* sk_protocol: IPPROTO_TCP, IPPROTO_UDP, ... */
	__u16 sock_type;    /* SOCK_STREAM, SOCK_DGRAM, SOCK_RAW, ... */
	__u32 addrlen;      /* bind()'s addrlen argument */
	__u8 opts;          /* enum bindsnoop_opts */
	__u8 flags;         /* enum bindsnoop_flags */
	__u8 _pad[2];
	__u8 addr[16];      /* the requested address, network order (AF_INET:
			     * the first 4 bytes) */
	__u8 comm[CS_COMM_LEN];
};

#endif /* __BINDSNOOP_H */
