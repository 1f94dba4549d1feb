// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * tcplife: one record per TCP session, when it closes. Based on tcplife(8)
 * from BCC and libbpf-tools (same tracepoint, same tcp_sock byte counters),
 * with these differences:
 * - the owning process is taken only where it is known to be current: the
 *   task in connect() (SYN_SENT), the task whose accept()/accept4() returned
 *   the socket (the new fd is looked up in its file table), else the task
 *   that closes or shuts it down (FIN_WAIT1, LAST_ACK). State changes seen
 *   in softirq (SYN_RECV, ESTABLISHED, TIME_WAIT, CLOSE...) never name the
 *   owner, so a server-side row is never "swapper" or the peer process;
 * - process filters (-p, -- CMD, --comm, -c, --uid) are evaluated once, for
 *   that owner, in its own context, and kept with the session;
 * - sessions live in one LRU map keyed by the socket, sized from user space,
 *   with a count of live entries: a session beyond the capacity is a counted
 *   loss (CS_DROP_MAP_FULL), and the LRU has room never to evict;
 * - sessions that close without a record (opened before tracing started)
 *   are counted (TCPLIFE_STAT_PREEXISTING), not silently skipped;
 * - bytes are payload bytes: the SYN and FIN that tcp_sock's counters
 *   include (they count sequence numbers) are taken off, so TX/RX are exact;
 * - MS counts from the first SYN (BCC: from the last state before FIN_WAIT1).
 */
#include "common/common.bpf.h"
#include "tcplife.h"

CORESCOPE_EXPORT(tcplife_event);
CORESCOPE_EXPORT_ENUM(tcplife_owner);
CORESCOPE_EXPORT_ENUM(tcplife_stat);
CORESCOPE_EXPORT_ENUM(tcplife_consts);

#define AF_INET 2
#define AF_INET6 10

const volatile __u16 targ_family = 0; /* 0: both */
const volatile __u32 max_sessions = 65536;
const volatile __u8 lport_on = 0;
const volatile __u8 rport_on = 0;
const volatile __u8 lport_bits[TCPLIFE_PORT_BITMAP] = {};
const volatile __u8 rport_bits[TCPLIFE_PORT_BITMAP] = {};

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

/* Open sessions by socket address. User space sets max_entries to
 * max_sessions plus the LRU's per-CPU reserve (src/lru.rs). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct tl_session);
} sessions SEC(".maps");

/* Entries inserted into `sessions` and not yet deleted (slot 0). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} tl_live SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TCPLIFE_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} tl_stats SEC(".maps");

static __always_inline void stat_inc(__u32 idx)
{
	__u64 *n = bpf_map_lookup_elem(&tl_stats, &idx);

	if (n)
		__sync_fetch_and_add(n, 1);
}

/* Reserves room for one more session (racing CPUs may overshoot by one
 * each: the LRU's reserve covers that). */
static __always_inline bool slot_take(void)
{
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(&tl_live, &zero);

	if (!n || *n >= max_sessions)
		return false;
	__sync_fetch_and_add(n, 1);
	return true;
}

static __always_inline void slot_release(void)
{
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(&tl_live, &zero);

	if (n)
		__sync_fetch_and_add(n, -1);
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

static __always_inline bool port_in(const volatile __u8 *bits, __u16 port)
{
	return bits[port >> 3] & (1 << (port & 7));
}

static __always_inline bool ports_ok(struct trace_event_raw_inet_sock_set_state *ctx)
{
	if (lport_on && !port_in(lport_bits, ctx->sport))
		return false;
	if (rport_on && !port_in(rport_bits, ctx->dport))
		return false;
	return true;
}

/* SYN_SENT (connect(), process context) or SYN_RECV (softirq). */
static __always_inline void born(__u64 sk, bool connecting)
{
	struct tl_session n = {}, *s;

	n.birth_ns = bpf_ktime_get_ns();
	n.active = connecting;
	if (connecting)
		bind_owner(&n, TCPLIFE_OWNER_CONNECT);
	s = bpf_map_lookup_elem(&sessions, &sk);
	if (s) {
		/* A record from an earlier life of this socket: start over. */
		*s = n;
		return;
	}
	if (!slot_take()) {
		cs_drop(CS_DROP_MAP_FULL);
		return;
	}
	if (bpf_map_update_elem(&sessions, &sk, &n, BPF_NOEXIST)) {
		slot_release();
		cs_drop(CS_DROP_MAP_FULL);
	}
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
static __always_inline void payload_bytes(struct tcp_sock *tp, struct tl_session *c,
					  struct tcplife_event *e)
{
	struct sock *sk = (struct sock *)tp;
	__u64 acked = BPF_CORE_READ(tp, bytes_acked);
	__u64 rcvd = BPF_CORE_READ(tp, bytes_received);

	if (c->active && acked)
		acked--;
	if (c->fin && acked && BPF_CORE_READ(tp, snd_una) == BPF_CORE_READ(tp, write_seq))
		acked--;
	if (rcvd && (BPF_CORE_READ(sk, __sk_common.skc_flags) & (1UL << SOCK_DONE)))
		rcvd--;
	e->tx_bytes = acked;
	e->rx_bytes = rcvd;
}

static __always_inline void died(struct trace_event_raw_inet_sock_set_state *ctx, __u64 sk)
{
	struct tl_session *s = bpf_map_lookup_elem(&sessions, &sk);
	struct tcp_sock *tp = (struct tcp_sock *)ctx->skaddr;
	struct tcplife_event *e;
	struct tl_session c;
	__u64 now;

	if (!s) {
		if (ctx->oldstate != TCP_LISTEN && ctx->oldstate != TCP_CLOSE && ports_ok(ctx))
			stat_inc(TCPLIFE_STAT_PREEXISTING);
		return;
	}
	c = *s;
	if (!bpf_map_delete_elem(&sessions, &sk))
		slot_release();
	if (!ports_ok(ctx) || (proc_filter_on() && !c.traced))
		return;

	e = cs_reserve(sizeof(*e));
	if (!e)
		return;
	__builtin_memset(e, 0, sizeof(*e));
	now = bpf_ktime_get_ns();
	e->ts_ns = now;
	e->span_ns = now - c.birth_ns;
	payload_bytes(tp, &c, e);
	e->pid = c.pid;
	e->tid = c.tid;
	e->owner = c.owner;
	__builtin_memcpy(e->comm, c.comm, sizeof(e->comm));
	e->family = ctx->family;
	e->lport = ctx->sport;
	e->rport = ctx->dport;
	/* Through a helper: the verifier refuses loads from an offset ctx. */
	if (ctx->family == AF_INET) {
		bpf_probe_read_kernel(e->laddr, 4, ctx->saddr);
		bpf_probe_read_kernel(e->raddr, 4, ctx->daddr);
	} else {
		bpf_probe_read_kernel(e->laddr, 16, ctx->saddr_v6);
		bpf_probe_read_kernel(e->raddr, 16, ctx->daddr_v6);
	}
	bpf_ringbuf_submit(e, 0);
}

SEC("tp/sock/inet_sock_set_state")
int handle_set_state(struct trace_event_raw_inet_sock_set_state *ctx)
{
	__u64 sk = (__u64)ctx->skaddr;

	if (ctx->protocol != IPPROTO_TCP)
		return 0;
	if (targ_family && ctx->family != targ_family)
		return 0;
	switch (ctx->newstate) {
	case TCP_SYN_SENT:
		born(sk, true);
		break;
	case TCP_SYN_RECV:
		born(sk, false);
		break;
	case TCP_FIN_WAIT1:
	case TCP_LAST_ACK:
		closing(sk);
		break;
	case TCP_CLOSE:
		died(ctx, sk);
		break;
	}
	return 0;
}

/* accept()/accept4() returned fd `fd` to the current task: its socket is
 * owned by this task. */
static __always_inline int accepted(long fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct file **fds, *f = NULL;
	struct socket *sock;
	struct tl_session *s;
	__u64 sk;

	if (fd < 0 || (__u64)fd >= BPF_CORE_READ(task, files, fdt, max_fds))
		return 0;
	fds = BPF_CORE_READ(task, files, fdt, fd);
	if (bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]) || !f)
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
