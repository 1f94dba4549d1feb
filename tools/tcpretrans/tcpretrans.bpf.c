// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * tcpretrans: TCP retransmits, from tcp:tcp_retransmit_skb. Based on
 * tcpretrans(8) from BCC (a kprobe on tcp_retransmit_skb there; the kernel
 * has had this tracepoint since 4.15). Differences:
 * - attached as tp_btf: the socket is a typed pointer (plain loads), and a
 *   run is skipped only when this same program is already running on the
 *   CPU (a classic tracepoint program is skipped whenever any tracing
 *   program runs); skipped runs are counted as lost, never silent;
 * - addresses and ports are read from the socket's common part, as ss shows
 *   them (see flow_of());
 * - count mode (-c) keeps one counter per flow in a hash map, like BCC; a
 *   flow that does not fit is counted as lost (CS_DROP_MAP_FULL);
 * - no tail-loss-probe hook (BCC -l: a kprobe on tcp_send_loss_probe, which
 *   has no tracepoint). A probe that resends the tail segment goes through
 *   tcp_retransmit_skb's path and is a row here like any retransmit.
 */
#include "common/events.bpf.h"
#include <bpf/bpf_endian.h>
#include "tcpretrans.h"

CORESCOPE_EXPORT(tcpretrans_event);
CORESCOPE_EXPORT(tcpretrans_key);
CORESCOPE_EXPORT_ENUM(tcpretrans_type);

#define AF_INET 2
#define AF_INET6 10

const volatile __u16 targ_family = 0; /* 0: both */
const volatile __u8 count_mode = 0;

/* Count mode: retransmits per flow (user space sizes it: --max-flows). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, struct tcpretrans_key);
	__type(value, __u64);
} flows SEC(".maps");

static __always_inline void flow_of(const struct sock *sk, struct tcpretrans_key *k)
{
	k->family = sk->__sk_common.skc_family;
	/* The bound addresses and port (what ss shows; the same as the
	 * tracepoint record's inet_saddr/inet_sport once connect() has bound
	 * them), all plain loads from sock_common. */
	k->lport = sk->__sk_common.skc_num;
	k->rport = bpf_ntohs(sk->__sk_common.skc_dport);
	if (k->family == AF_INET) {
		*(__u32 *)k->laddr = sk->__sk_common.skc_rcv_saddr;
		*(__u32 *)k->raddr = sk->__sk_common.skc_daddr;
	} else {
		for (int i = 0; i < 4; i++) {
			((__u32 *)k->laddr)[i] = sk->__sk_common.skc_v6_rcv_saddr.in6_u.u6_addr32[i];
			((__u32 *)k->raddr)[i] = sk->__sk_common.skc_v6_daddr.in6_u.u6_addr32[i];
		}
	}
}

static __always_inline void count(const struct tcpretrans_key *k)
{
	__u64 one = 1;
	__u64 *n = bpf_map_lookup_elem(&flows, k);

	if (n) {
		__sync_fetch_and_add(n, 1);
		return;
	}
	/* -EEXIST: another CPU inserted it meanwhile. */
	if (!bpf_map_update_elem(&flows, k, &one, BPF_NOEXIST))
		return;
	n = bpf_map_lookup_elem(&flows, k);
	if (n)
		__sync_fetch_and_add(n, 1);
	else
		cs_drop(CS_DROP_MAP_FULL);
}

/* The kernel's third argument (err, 6.14+) is not read: older kernels
 * pass two. */
SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(handle_retransmit, const struct sock *sk, const struct sk_buff *skb)
{
	struct tcpretrans_event *e;
	__u16 family = sk->__sk_common.skc_family;

	if (targ_family && family != targ_family)
		return 0;
	if (count_mode) {
		struct tcpretrans_key k = {};

		flow_of(sk, &k);
		count(&k);
		return 0;
	}
	e = cs_reserve(sizeof(*e));
	if (!e)
		return 0;
	__builtin_memset(e, 0, sizeof(*e));
	e->ts_ns = bpf_ktime_get_ns();
	e->pid = bpf_get_current_pid_tgid() >> 32;
	e->state = sk->__sk_common.skc_state;
	e->kind = TCPRETRANS_RETRANS;
	flow_of(sk, &e->flow);
	cs_submit_batched(e);
	return 0;
}
