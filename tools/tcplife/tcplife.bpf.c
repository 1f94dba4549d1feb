// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * tcplife: one record per TCP session, when it closes. Based on tcplife(8)
 * from BCC and libbpf-tools (same tracepoint, sock:inet_sock_set_state, and
 * the same tcp_sock byte counters), with these differences:
 * - the tracepoint is attached as tp_btf (typed socket, fields read with
 *   plain loads) by two programs, for the states set in process context and
 *   for those set in softirq (see handle_set_state below for why); runs the
 *   kernel skips are counted as lost, never silent;
 * - the owning process is taken only where it is known to be current: the
 *   task in connect() (SYN_SENT), the task whose accept()/accept4() returned
 *   the socket (the new fd is looked up in its file table), else the task
 *   that closes or shuts it down (FIN_WAIT1, LAST_ACK). State changes seen
 *   in softirq (SYN_RECV, ESTABLISHED, TIME_WAIT, CLOSE...) never name the
 *   owner, so a server-side row is never "swapper" or the peer process;
 * - process filters (-p, -- CMD, --comm, -c, --uid) are evaluated once, for
 *   that owner, in its own context, and kept with the session;
 * - sessions live in one LRU map keyed by the socket, sized from user space,
 *   with a count of live entries: a session beyond the capacity is marked on
 *   its socket (tl_unrecorded) and counted as lost (CS_DROP_MAP_FULL) when
 *   it closes, once, and only if it passes -L/-D (its local port is not
 *   known yet at connect()); the LRU has room never to evict;
 * - sessions that close without a record and without that mark (opened
 *   before tracing started) are counted (TCPLIFE_STAT_PREEXISTING), not
 *   silently skipped;
 * - bytes are payload bytes: the SYN and FIN that tcp_sock's counters
 *   include (they count sequence numbers) are taken off, so TX/RX are exact;
 * - MS counts from the first SYN (BCC: from the last state before FIN_WAIT1).
 */
#include "common/task.bpf.h"
#include <bpf/bpf_endian.h>
#include "lru.bpf.h"
#include "ports.bpf.h"
#include "tcplife.h"

CORESCOPE_EXPORT(tcplife_event);
CORESCOPE_EXPORT_ENUM(tcplife_owner);
CORESCOPE_EXPORT_ENUM(tcplife_stat);

#define AF_INET 2
#define AF_INET6 10

const volatile __u16 targ_family = 0; /* 0: both */
const volatile __u32 max_sessions = 65536;
const volatile __u8 lport_on = 0;
const volatile __u8 rport_on = 0;
const volatile __u8 lport_bits[CS_PORT_BITMAP] = {};
const volatile __u8 rport_bits[CS_PORT_BITMAP] = {};

struct tl_session {
	__u64 birth_ns;
	__u32 pid;
	__u32 tid;
	__u8 comm[CS_COMM_LEN];
	__u8 owner;  /* enum tcplife_owner */
	__u8 traced; /* the owner passed the process filters */
	__u8 active; /* opened by connect(): our SYN is in bytes_acked */
	__u8 fin;    /* we queued a FIN (FIN_WAIT1 or LAST_ACK seen) */
	__u8 _pad[4];
};

/* Open sessions by socket address, at most max_sessions (counted in
 * tl_live; src/lru.bpf.h). */
CS_COUNTED_LRU(sessions, tl_live, __u64, struct tl_session);

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TCPLIFE_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} tl_stats SEC(".maps");

/* Sockets whose session did not fit in `sessions` (born while it was full):
 * socket-local storage, so the mark costs no capacity and goes with the
 * socket. TL_UNRECORDED_LOST: count it as lost at close if it passes -L/-D;
 * TL_UNRECORDED_FILTERED: its owner (known at connect()) failed the process
 * filters: it would not have been shown, so not a loss. */
enum { TL_UNRECORDED_LOST = 1, TL_UNRECORDED_FILTERED = 2 };

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u8);
} tl_unrecorded SEC(".maps");

static __always_inline void stat_inc(__u32 idx)
{
	cs_count(&tl_stats, idx);
}

static __always_inline bool proc_filter_on(void)
{
	return cs_cfg.tid || cs_cfg.uid_on || cs_cfg.pids_on || cs_cfg.cgroup_on ||
	       cs_cfg.comm_on;
}

/* Only from process context: the current task owns the socket. */
static __always_inline void bind_owner(struct tl_session *s, __u8 how)
{
	__u64 id = bpf_get_current_pid_tgid();

	s->pid = id >> 32;
	s->tid = (__u32)id;
	bpf_get_current_comm(s->comm, sizeof(s->comm));
	s->traced = cs_trace_task(s->pid, s->tid) && cs_trace_comm(s->comm);
	s->owner = how;
}

static __always_inline bool ports_ok(__u16 lport, __u16 rport)
{
	if (lport_on && !cs_port_in(lport_bits, lport))
		return false;
	if (rport_on && !cs_port_in(rport_bits, rport))
		return false;
	return true;
}

/* No room for the session of `sk`: mark the socket (the loss is counted
 * when it closes, see died()). If even the mark cannot be stored (no
 * memory), the loss is counted now. */
static __always_inline void unrecorded(const struct sock *sk, const struct tl_session *n)
{
	__u8 *m = bpf_sk_storage_get(&tl_unrecorded, (struct sock *)sk, NULL,
				     BPF_SK_STORAGE_GET_F_CREATE);

	if (!m) {
		cs_drop(CS_DROP_MAP_FULL);
		return;
	}
	*m = n->active && proc_filter_on() && !n->traced ? TL_UNRECORDED_FILTERED
							  : TL_UNRECORDED_LOST;
}

/* SYN_SENT (connect(), process context) or SYN_RECV (softirq). */
static __always_inline void born(const struct sock *sk, bool connecting)
{
	__u64 key = (__u64)sk;
	struct tl_session n = {}, *s;

	n.birth_ns = bpf_ktime_get_ns();
	n.active = connecting;
	if (connecting)
		bind_owner(&n, TCPLIFE_OWNER_CONNECT);
	/* A mark from an earlier life of this socket (e.g. a failed connect). */
	bpf_sk_storage_delete(&tl_unrecorded, (struct sock *)sk);
	if (!cs_lru_take(&tl_live, max_sessions)) {
		unrecorded(sk, &n);
		return;
	}
	if (!bpf_map_update_elem(&sessions, &key, &n, BPF_NOEXIST))
		return;
	cs_lru_release(&tl_live);
	/* A record from an earlier life of this socket: start over. */
	s = bpf_map_lookup_elem(&sessions, &key);
	if (s)
		*s = n;
	else
		unrecorded(sk, &n);
}

/* FIN_WAIT1 / LAST_ACK: set by close() or shutdown(), in the owner's
 * context, which then queues our FIN. */
static __always_inline void closing(__u64 sk)
{
	struct tl_session *s = bpf_map_lookup_elem(&sessions, &sk);

	if (!s)
		return;
	s->fin = 1;
	if (s->owner == TCPLIFE_OWNER_NONE)
		bind_owner(s, TCPLIFE_OWNER_CLOSE);
}

/* Payload bytes each way. tcp_sock's counters are in sequence space: an
 * acked SYN (ours, on an active open) and FIN (ours, once acked: snd_una
 * has reached write_seq, which counts it) and a received FIN (the peer's:
 * tcp_fin() sets SOCK_DONE) each count one. */
static __always_inline void payload_bytes(const struct sock *sk, struct tl_session *c,
					  struct tcplife_event *e)
{
	/* CO-RE probe reads, not bpf_core_cast(): its kfunc (bpf_rdonly_cast)
	 * only exists from Linux 6.2. */
	struct tcp_sock *tp = (struct tcp_sock *)sk;
	__u64 acked = BPF_CORE_READ(tp, bytes_acked);
	__u64 rcvd = BPF_CORE_READ(tp, bytes_received);

	if (c->active && acked)
		acked--;
	if (c->fin && acked && BPF_CORE_READ(tp, snd_una) == BPF_CORE_READ(tp, write_seq))
		acked--;
	if (rcvd && (sk->__sk_common.skc_flags & (1UL << SOCK_DONE)))
		rcvd--;
	e->tx_bytes = acked;
	e->rx_bytes = rcvd;
}

/* TCP_CLOSE: the session's row. Addresses and ports as the classic
 * tracepoint records them (inet_sport: inet_num is already 0 here). */
static __always_inline void died(const struct sock *sk, int oldstate)
{
	struct inet_sock *inet = (struct inet_sock *)sk;
	__u16 family = sk->__sk_common.skc_family;
	__u16 lport = bpf_ntohs(BPF_CORE_READ(inet, inet_sport));
	__u16 rport = bpf_ntohs(sk->__sk_common.skc_dport);
	__u64 key = (__u64)sk;
	struct tl_session *s = bpf_map_lookup_elem(&sessions, &key);
	struct tcplife_event *e;
	struct tl_session c;
	__u64 now;

	if (!s) {
		__u8 *m = bpf_sk_storage_get(&tl_unrecorded, (struct sock *)sk, NULL, 0);
		__u8 mark = m ? *m : 0;

		if (m)
			bpf_sk_storage_delete(&tl_unrecorded, (struct sock *)sk);
		if (oldstate == TCP_LISTEN || oldstate == TCP_CLOSE || !ports_ok(lport, rport))
			return;
		if (mark == TL_UNRECORDED_LOST)
			cs_drop(CS_DROP_MAP_FULL);
		else if (!mark)
			stat_inc(TCPLIFE_STAT_PREEXISTING);
		return;
	}
	c = *s;
	if (!bpf_map_delete_elem(&sessions, &key))
		cs_lru_release(&tl_live);
	if (!ports_ok(lport, rport) || (proc_filter_on() && !c.traced))
		return;

	e = cs_reserve(sizeof(*e));
	if (!e)
		return;
	__builtin_memset(e, 0, sizeof(*e));
	now = bpf_ktime_get_ns();
	e->ts_ns = now;
	e->span_ns = now - c.birth_ns;
	payload_bytes(sk, &c, e);
	e->pid = c.pid;
	e->tid = c.tid;
	e->owner = c.owner;
	__builtin_memcpy(e->comm, c.comm, sizeof(e->comm));
	e->family = family;
	e->lport = lport;
	e->rport = rport;
	if (family == AF_INET) {
		*(__u32 *)e->laddr = BPF_CORE_READ(inet, inet_saddr);
		*(__u32 *)e->raddr = sk->__sk_common.skc_daddr;
	} else {
		for (int i = 0; i < 4; i++) {
			((__u32 *)e->laddr)[i] = sk->__sk_common.skc_v6_rcv_saddr.in6_u.u6_addr32[i];
			((__u32 *)e->raddr)[i] = sk->__sk_common.skc_v6_daddr.in6_u.u6_addr32[i];
		}
	}
	cs_submit_batched(e);
}

/* The tracepoint as BTF raw tracepoints: the socket is a typed pointer
 * (fields are plain loads, not helper calls), and a run is skipped only
 * when the same program is already running on the CPU (a classic
 * tracepoint program is skipped whenever any kprobe/tracepoint program is).
 * That still happens when a softirq processes a batch of packets on the
 * exit of an interrupt that hit a program running in process context: the
 * whole batch is skipped (counted in recursion_misses, reported as lost).
 * So the states come from two programs: the ones set in process context
 * (connect(), close(), shutdown()) and the ones set in softirq (SYN_RECV,
 * CLOSE), and a batch nested in a connect() or close() is still seen. */
static __always_inline bool wanted(const struct sock *sk)
{
	return sk->sk_protocol == IPPROTO_TCP &&
	       (!targ_family || sk->__sk_common.skc_family == targ_family);
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(handle_set_state_task, const struct sock *sk, int oldstate, int newstate)
{
	if ((newstate != TCP_SYN_SENT && newstate != TCP_FIN_WAIT1 && newstate != TCP_LAST_ACK) ||
	    !wanted(sk))
		return 0;
	if (newstate == TCP_SYN_SENT)
		born(sk, true);
	else
		closing((__u64)sk);
	return 0;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(handle_set_state, const struct sock *sk, int oldstate, int newstate)
{
	if ((newstate != TCP_SYN_RECV && newstate != TCP_CLOSE) || !wanted(sk))
		return 0;
	if (newstate == TCP_SYN_RECV)
		born(sk, false);
	else
		died(sk, oldstate);
	return 0;
}

/* accept()/accept4() returned fd `fd` to the current task: its socket is
 * owned by this task. */
static __always_inline int accepted(long fd)
{
	struct fdtable *fdt = bpf_get_current_task_btf()->files->fdt;
	struct file *f = NULL;
	struct socket *sock;
	struct tl_session *s;
	__u64 sk;

	/* Typed loads (no helper call) but for the fd array slot. */
	if (fd < 0 || fd >= fdt->max_fds)
		return 0;
	if (bpf_probe_read_kernel(&f, sizeof(f), &fdt->fd[fd]) || !f)
		return 0;
	sock = BPF_CORE_READ(f, private_data);
	sk = (__u64)BPF_CORE_READ(sock, sk);
	s = bpf_map_lookup_elem(&sessions, &sk);
	if (s)
		bind_owner(s, TCPLIFE_OWNER_ACCEPT);
	return 0;
}

SEC("tp/syscalls/sys_exit_accept")
int handle_exit_accept(struct trace_event_raw_sys_exit *ctx)
{
	return accepted(ctx->ret);
}

SEC("tp/syscalls/sys_exit_accept4")
int handle_exit_accept4(struct trace_event_raw_sys_exit *ctx)
{
	return accepted(ctx->ret);
}
