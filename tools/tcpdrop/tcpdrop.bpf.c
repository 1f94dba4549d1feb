// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * tcpdrop: TCP packets the kernel drops, with the drop reason, from
 * skb:kfree_skb (attached as tp_btf; its reason argument since 5.17).
 * Based on tcpdrop(8) from BCC (kprobe on tcp_drop, or this tracepoint in
 * 0.26 with reason > NOT_SPECIFIED), with these differences:
 * - addresses, ports and flags come from the packet's own IP and TCP
 *   headers, and the packet need not have a socket: BCC skips those
 *   without skb->sk, so a segment to a closed port (NO_SOCKET) is not shown
 *   there; the state is the socket's when there is one;
 * - frees that are no drop are skipped first thing: reasons up to
 *   NOT_SPECIFIED (NOT_DROPPED_YET, CONSUMED, NOT_SPECIFIED, as BCC), their
 *   value taken from the running kernel's BTF by user space (max_ignored);
 * - then anything that is not IPv4/IPv6 + TCP (no IPv6 extension headers
 *   are walked: such a packet is not shown).
 */
#include "common/events.bpf.h"
#include <bpf/bpf_endian.h>
#include "tcpdrop.h"

CORESCOPE_EXPORT(tcpdrop_event);
CORESCOPE_EXPORT_ENUM(tcpdrop_consts);

#define AF_INET 2
#define AF_INET6 10
#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD

const volatile __u32 max_ignored = 2; /* SKB_DROP_REASON_NOT_SPECIFIED on 6.x */
const volatile __u16 targ_family = 0; /* 0: both */
const volatile __u8 stacks_on = 0;

#define STACK_BYTES (TCPDROP_STACK_DEPTH * 8)

SEC("tp_btf/kfree_skb")
int BPF_PROG(handle_kfree_skb, struct sk_buff *skb, void *location, enum skb_drop_reason reason)
{
	__u8 saddr[16] = {}, daddr[16] = {}, th[14];
	unsigned char *head, *l4;
	struct tcpdrop_event *e;
	__u16 proto, nh, family;
	struct sock *sk;
	long n;
	__u8 v;

	if ((__u32)reason <= max_ignored)
		return 0;
	head = skb->head;
	nh = skb->network_header;
	proto = bpf_ntohs(skb->protocol);
	if (proto != ETH_P_IP && proto != ETH_P_IPV6) {
		/* Not set on some locally made packets: the IP version. */
		if (proto || bpf_probe_read_kernel(&v, 1, head + nh))
			return 0;
		proto = (v >> 4) == 4 ? ETH_P_IP : (v >> 4) == 6 ? ETH_P_IPV6 : 0;
	}
	if (proto == ETH_P_IP) {
		struct iphdr ip;

		if (bpf_probe_read_kernel(&ip, sizeof(ip), head + nh) || ip.protocol != IPPROTO_TCP)
			return 0;
		family = AF_INET;
		l4 = head + nh + ip.ihl * 4;
		*(__u32 *)saddr = ip.saddr;
		*(__u32 *)daddr = ip.daddr;
	} else if (proto == ETH_P_IPV6) {
		struct ipv6hdr ip6;

		if (bpf_probe_read_kernel(&ip6, sizeof(ip6), head + nh) || ip6.nexthdr != IPPROTO_TCP)
			return 0;
		family = AF_INET6;
		l4 = head + nh + sizeof(ip6);
		__builtin_memcpy(saddr, &ip6.saddr, 16);
		__builtin_memcpy(daddr, &ip6.daddr, 16);
	} else {
		return 0;
	}
	if ((targ_family && family != targ_family) || bpf_probe_read_kernel(th, sizeof(th), l4))
		return 0;
	/* Two constant sizes: the verifier knows each record's. */
	e = stacks_on ? cs_reserve(sizeof(*e) + STACK_BYTES) : cs_reserve(sizeof(*e));
	if (!e)
		return 0;
	__builtin_memset(e, 0, sizeof(*e));
	e->family = family;
	__builtin_memcpy(e->saddr, saddr, 16);
	__builtin_memcpy(e->daddr, daddr, 16);
	e->sport = (th[0] << 8) | th[1];
	e->dport = (th[2] << 8) | th[3];
	e->tcpflags = th[13];
	e->ts_ns = bpf_ktime_get_ns();
	e->pid = bpf_get_current_pid_tgid() >> 32;
	e->reason = reason;
	sk = skb->sk;
	e->state = sk ? sk->__sk_common.skc_state : TCPDROP_NO_STATE;
	if (stacks_on) {
		n = bpf_get_stack(ctx, (void *)(e + 1), STACK_BYTES, 0);
		e->stack_bytes = n > 0 ? n : 0;
	}
	cs_submit_batched(e);
	return 0;
}
