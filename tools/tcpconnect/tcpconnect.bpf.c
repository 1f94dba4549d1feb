// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * tcpconnect: active TCP connections (connect()), and with --latency
 * tcpconnlat. BCC and libbpf-tools hook tcp_v4_connect/tcp_v6_connect (and
 * tcp_rcv_state_process for tcpconnlat) with kprobes or fentry; this is
 * tracepoint-only: sock:inet_sock_set_state as tp_btf (typed socket).
 * - CLOSE -> SYN_SENT is set inside connect(), in the connecting task: its
 *   pid, comm and uid (and the process filters) are taken there. The
 *   source port is not chosen yet (inet_hash_connect runs after), so the
 *   connect is staged per socket in a counted LRU map (src/lru.bpf.h) and
 *   the row is sent when the socket reaches ESTABLISHED (source port known)
 *   or closes first (refused, timed out, closed: result FAILED, with the
 *   source port it had, 0 if none was chosen);
 * - --count counts connects in the kernel at SYN_SENT per (source,
 *   destination, port), as BCC -c; nothing is staged or sent;
 * - --latency keeps only ESTABLISHED rows at least min_lat_ns long.
 * Two programs, as in tcplife: the SYN_SENT one runs in process context
 * only (its skipped nested runs are harmless), the other sees states set in
 * softirq, so a batch nested in a connect() is still seen.
 */
#include "common/task.bpf.h"
#include <bpf/bpf_endian.h>
#include "lru.bpf.h"
#include "ports.bpf.h"
#include "tcpconnect.h"

CORESCOPE_EXPORT(tcpconnect_event);
CORESCOPE_EXPORT(tcpconnect_key);
CORESCOPE_EXPORT_ENUM(tcpconnect_result);

#define AF_INET 2
#define AF_INET6 10

const volatile __u16 targ_family = 0; /* 0: both */
const volatile __u32 max_pending = 65536;
const volatile __u8 count_mode = 0;
const volatile __u8 latency_mode = 0;
const volatile __u64 min_lat_ns = 0;
const volatile __u8 dport_on = 0;
const volatile __u8 dport_bits[CS_PORT_BITMAP] = {};

/* A connect() in SYN_SENT: who made it, when. */
struct tc_pending {
	__u64 ts_ns;
	__u32 pid;
	__u32 tid;
	__u32 uid;
	__u8 comm[CS_COMM_LEN];
	__u8 _pad[4];
};

/* Connects in SYN_SENT by socket address, at most max_pending. */
CS_COUNTED_LRU(pending, tc_live, __u64, struct tc_pending);

/* --count: connects per key; sized from user space (--max-flows). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct tcpconnect_key);
	__type(value, __u64);
} counts SEC(".maps");

static __always_inline bool wanted(const struct sock *sk)
{
	return sk->sk_protocol == IPPROTO_TCP &&
	       (!targ_family || sk->__sk_common.skc_family == targ_family);
}

/* Source and destination addresses as the tracepoint's own fields have them. */
static __always_inline void addrs(const struct sock *sk, __u8 *saddr, __u8 *daddr)
{
	if (sk->__sk_common.skc_family == AF_INET) {
		struct inet_sock *inet = (struct inet_sock *)sk;

		*(__u32 *)saddr = BPF_CORE_READ(inet, inet_saddr);
		*(__u32 *)daddr = sk->__sk_common.skc_daddr;
		return;
	}
	for (int i = 0; i < 4; i++) {
		((__u32 *)saddr)[i] = sk->__sk_common.skc_v6_rcv_saddr.in6_u.u6_addr32[i];
		((__u32 *)daddr)[i] = sk->__sk_common.skc_v6_daddr.in6_u.u6_addr32[i];
	}
}

static __always_inline void count(const struct sock *sk, __u16 dport)
{
	struct tcpconnect_key k = {};
	__u64 one = 1, *n;

	k.family = sk->__sk_common.skc_family;
	k.dport = dport;
	addrs(sk, k.saddr, k.daddr);
	n = bpf_map_lookup_elem(&counts, &k);
	if (n) {
		__sync_fetch_and_add(n, 1);
		return;
	}
	/* -EEXIST: another CPU inserted it first. */
	if (bpf_map_update_elem(&counts, &k, &one, BPF_NOEXIST)) {
		n = bpf_map_lookup_elem(&counts, &k);
		if (n)
			__sync_fetch_and_add(n, 1);
		else
			cs_drop(CS_DROP_MAP_FULL);
	}
}

/* CLOSE -> SYN_SENT: inside connect(), in the connecting task. */
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(tc_connect, const struct sock *sk, int oldstate, int newstate)
{
	__u64 id = bpf_get_current_pid_tgid(), key = (__u64)sk;
	struct tc_pending p = {};
	__u16 dport;

	if (newstate != TCP_SYN_SENT || !wanted(sk))
		return 0;
	dport = bpf_ntohs(sk->__sk_common.skc_dport);
	if (dport_on && !cs_port_in(dport_bits, dport))
		return 0;
	p.pid = id >> 32;
	p.tid = (__u32)id;
	if (!cs_trace_task(p.pid, p.tid))
		return 0;
	bpf_get_current_comm(p.comm, sizeof(p.comm));
	if (!cs_trace_comm(p.comm))
		return 0;
	if (count_mode) {
		count(sk, dport);
		return 0;
	}
	p.ts_ns = bpf_ktime_get_ns();
	p.uid = (__u32)bpf_get_current_uid_gid();
	if (!cs_lru_take(&tc_live, max_pending)) {
		cs_drop(CS_DROP_MAP_FULL);
		return 0;
	}
	if (!bpf_map_update_elem(&pending, &key, &p, BPF_NOEXIST))
		return 0;
	cs_lru_release(&tc_live);
	/* An entry left from an earlier connect of this socket whose end
	 * was not seen (a skipped run, counted as lost): start over. */
	if (bpf_map_update_elem(&pending, &key, &p, BPF_EXIST))
		cs_drop(CS_DROP_MAP_FULL);
	return 0;
}

/* SYN_SENT -> ESTABLISHED (softirq, or the owner's release_sock), or a
 * close before it (a RST in softirq, the SYN timer, close()). */
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(tc_done, const struct sock *sk, int oldstate, int newstate)
{
	__u64 key = (__u64)sk, now;
	struct tcpconnect_event *e;
	struct tc_pending *s, c;
	bool ok = newstate == TCP_ESTABLISHED;

	if (!ok && newstate != TCP_CLOSE)
		return 0;
	s = bpf_map_lookup_elem(&pending, &key);
	if (!s)
		return 0;
	c = *s;
	if (!bpf_map_delete_elem(&pending, &key))
		cs_lru_release(&tc_live);
	/* A close from a later state: its ESTABLISHED was skipped by the
	 * kernel (counted as lost). SYN_RECV: a simultaneous open. */
	if (!ok && oldstate != TCP_SYN_SENT && oldstate != TCP_SYN_RECV)
		return 0;
	now = bpf_ktime_get_ns();
	if (latency_mode && (!ok || now - c.ts_ns < min_lat_ns))
		return 0;
	e = cs_reserve(sizeof(*e));
	if (!e)
		return 0;
	__builtin_memset(e, 0, sizeof(*e));
	e->ts_ns = c.ts_ns;
	e->lat_ns = now - c.ts_ns;
	e->pid = c.pid;
	e->tid = c.tid;
	e->uid = c.uid;
	e->family = sk->__sk_common.skc_family;
	/* inet_sport, not inet_num: unhashing at CLOSE clears inet_num. */
	e->lport = bpf_ntohs(BPF_CORE_READ((struct inet_sock *)sk, inet_sport));
	e->dport = bpf_ntohs(sk->__sk_common.skc_dport);
	e->result = ok ? TCPCONNECT_ESTABLISHED : TCPCONNECT_FAILED;
	addrs(sk, e->saddr, e->daddr);
	__builtin_memcpy(e->comm, c.comm, sizeof(e->comm));
	cs_submit_batched(e);
	return 0;
}
