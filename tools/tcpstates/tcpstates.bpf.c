// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * tcpstates: one record per TCP state change, with the time spent in the
 * previous state. Based on tcpstates(8) from BCC and libbpf-tools (the same
 * tracepoint, sock:inet_sock_set_state), with these differences:
 * - attached as a BTF raw tracepoint (typed socket, plain loads);
 * - the per-socket timestamps are a counted LRU (src/lru.bpf.h) sized from
 *   user space: a socket that does not fit is still shown, its MS unknown
 *   and counted (TCPSTATES_STAT_UNTIMED), never a silent eviction; the
 *   entry goes at TCP_CLOSE;
 * - C-PID/C-COMM are the task current at the change, as in BCC (the
 *   connecting or closing task in process context; in softirq whichever
 *   task was interrupted); the process filters apply to that task;
 * - -L/-D are port lists (bitmaps), -4/-6 the socket's family.
 */
#include "common/task.bpf.h"
#include <bpf/bpf_endian.h>
#include "lru.bpf.h"
#include "ports.bpf.h"
#include "tcpstates.h"

CORESCOPE_EXPORT(tcpstates_event);
CORESCOPE_EXPORT_ENUM(tcpstates_stat);
CORESCOPE_EXPORT_ENUM(tcpstates_flags);

#define AF_INET 2
#define AF_INET6 10

const volatile __u16 targ_family = 0; /* 0: both */
const volatile __u32 max_sockets = 65536;
const volatile __u8 lport_on = 0;
const volatile __u8 rport_on = 0;
const volatile __u8 lport_bits[CS_PORT_BITMAP] = {};
const volatile __u8 rport_bits[CS_PORT_BITMAP] = {};

/* The time of each socket's last state change, by socket address. */
CS_COUNTED_LRU(timestamps, ts_live, __u64, __u64);

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TCPSTATES_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} ts_stats SEC(".maps");

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(handle_set_state, const struct sock *sk, int oldstate, int newstate)
{
	struct inet_sock *inet = (struct inet_sock *)sk;
	__u16 family = sk->__sk_common.skc_family;
	__u16 lport, rport;
	__u64 key = (__u64)sk, now, *ts, id;
	struct tcpstates_event *e;
	__u8 flags = 0;
	__u64 delta = 0;

	if (sk->sk_protocol != IPPROTO_TCP)
		return 0;
	if (targ_family && family != targ_family)
		return 0;
	/* The tracepoint's own sport: inet_sport (inet_num is 0 at CLOSE). */
	lport = bpf_ntohs(BPF_CORE_READ(inet, inet_sport));
	rport = bpf_ntohs(sk->__sk_common.skc_dport);
	now = bpf_ktime_get_ns();
	ts = bpf_map_lookup_elem(&timestamps, &key);
	if (ts) {
		delta = now - *ts;
		if (newstate == TCP_CLOSE) {
			if (!bpf_map_delete_elem(&timestamps, &key))
				cs_lru_release(&ts_live);
		} else {
			*ts = now;
		}
	} else {
		flags = TCPSTATES_FIRST;
		if (newstate != TCP_CLOSE) {
			if (!cs_lru_take(&ts_live, max_sockets)) {
				flags = TCPSTATES_UNTIMED;
				cs_count(&ts_stats, TCPSTATES_STAT_UNTIMED);
			} else if (bpf_map_update_elem(&timestamps, &key, &now, BPF_NOEXIST)) {
				cs_lru_release(&ts_live);
			}
		}
	}

	/* Filters after the timestamp: a socket's first change (SYN_SENT,
	 * whose local port is still 0) times the next one. */
	if (lport_on && !cs_port_in(lport_bits, lport))
		return 0;
	if (rport_on && !cs_port_in(rport_bits, rport))
		return 0;
	id = bpf_get_current_pid_tgid();
	if (!cs_trace_task(id >> 32, (__u32)id))
		return 0;
	e = cs_reserve(sizeof(*e));
	if (!e)
		return 0;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	if (!cs_trace_comm(e->comm)) {
		bpf_ringbuf_discard(e, 0);
		return 0;
	}
	e->skaddr = key;
	e->ts_ns = now;
	e->delta_ns = delta;
	e->pid = id >> 32;
	e->tid = (__u32)id;
	e->oldstate = oldstate;
	e->newstate = newstate;
	e->family = family;
	e->lport = lport;
	e->rport = rport;
	e->flags = flags;
	e->_pad = 0;
	if (family == AF_INET) {
		__builtin_memset(e->laddr, 0, sizeof(e->laddr));
		__builtin_memset(e->raddr, 0, sizeof(e->raddr));
		*(__u32 *)e->laddr = BPF_CORE_READ(inet, inet_saddr);
		*(__u32 *)e->raddr = sk->__sk_common.skc_daddr;
	} else {
		__builtin_memcpy(e->laddr, &sk->__sk_common.skc_v6_rcv_saddr, 16);
		__builtin_memcpy(e->raddr, &sk->__sk_common.skc_v6_daddr, 16);
	}
	cs_submit_batched(e);
	return 0;
}
