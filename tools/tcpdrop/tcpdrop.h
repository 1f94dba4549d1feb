/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __TCPDROP_H
#define __TCPDROP_H

#include "common/common.h"

enum tcpdrop_consts {
	TCPDROP_NO_STATE = 0xff,   /* the packet had no socket */
	TCPDROP_STACK_DEPTH = 127, /* kernel frames kept with --stack */
};

/* One TCP packet the kernel dropped (skb:kfree_skb with a reason). With
 * --stack the payload is the kernel stack: stack_bytes bytes of __u64
 * return addresses (bpf_get_stack), innermost first. */
struct tcpdrop_event {
	__u64 ts_ns;           /* CLOCK_MONOTONIC */
	__u32 stack_bytes;     /* payload: kernel stack bytes (0 without --stack) */
	__u32 pid;             /* TGID on the CPU (often the softirq's) */
	__u32 reason;          /* enum skb_drop_reason, the running kernel's values */
	__u16 family;          /* AF_INET or AF_INET6, from the IP header */
	__u16 sport;           /* from the TCP header */
	__u16 dport;
	__u8 state;            /* skb->sk's TCP state, TCPDROP_NO_STATE without one */
	__u8 tcpflags;         /* TCP header byte 13 (FIN SYN RST PSH ACK URG ECE CWR) */
	__u8 saddr[16];        /* network order; AF_INET: first 4 bytes */
	__u8 daddr[16];
};

#endif /* __TCPDROP_H */
