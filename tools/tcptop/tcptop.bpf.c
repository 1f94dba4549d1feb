// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * tcptop: TCP bytes sent and received per process and connection, summed
 * in the kernel and drained by user space every interval. BCC's and
 * libbpf-tools' tcptop use kprobes on tcp_sendmsg / tcp_cleanup_rbuf (not
 * available everywhere); this is the tracepoint route, Linux 6.3+:
 * - sock:sock_send_length / sock:sock_recv_length, at the end of
 *   sock_sendmsg() / sock_recvmsg() in the calling task, attached as BTF
 *   raw tracepoints (typed socket: plain loads; no trace record built);
 * - TCP only (the socket's sk_protocol), in the kernel; bytes are the
 *   call's result (what was done); failures and MSG_PEEK reads count 0;
 * - the key is (TGID, comm, family, local/remote address and port), read
 *   from the socket (`laddr` is the bound source address);
 * - a key that finds the map full is counted (CS_DROP_MAP_FULL: "keys
 *   dropped"), never silently left out of the totals.
 * The prototype is (sk, ret, flags) on the kernels seen here (6.12, 6.18);
 * user space reads it from the kernel's BTF and sets `wide_args` for a
 * five-argument (sk, family, protocol, ret, flags) form, the record's
 * fields, in case a kernel passes those (the branch not taken is removed
 * by the verifier).
 */
#include "common/task.bpf.h"
#include <bpf/bpf_endian.h>
#include "tcptop.h"

CORESCOPE_EXPORT(tcptop_key);
CORESCOPE_EXPORT(tcptop_value);
CORESCOPE_EXPORT_ENUM(tcptop_consts);

#define AF_INET 2
#define AF_INET6 10
#define MSG_PEEK 2

const volatile __u16 targ_family = 0; /* -4 / -6; 0: both */
const volatile __u8 wide_args = 0;    /* the five-argument form (see above) */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TCPTOP_MAX_KEYS);
	__type(key, struct tcptop_key);
	__type(value, struct tcptop_value);
} flows SEC(".maps");

static __always_inline int count(struct sock *sk, int ret, int flags, bool send)
{
	struct tcptop_key key = {};
	struct tcptop_value zero = {}, *v;
	__u64 id;
	__u16 family;

	if (ret <= 0 || (!send && (flags & MSG_PEEK)))
		return 0;
	if (sk->sk_protocol != IPPROTO_TCP)
		return 0;
	family = sk->__sk_common.skc_family;
	if (family != AF_INET && family != AF_INET6)
		return 0;
	if (targ_family && family != targ_family)
		return 0;
	id = bpf_get_current_pid_tgid();
	if (!cs_trace_task(id >> 32, (__u32)id))
		return 0;
	bpf_get_current_comm(&key.comm, sizeof(key.comm));
	if (!cs_trace_comm(key.comm))
		return 0;
	key.pid = id >> 32;
	key.family = family;
	/* inet_sport, not skc_num: that is 0 once the socket is closed, and a
	 * read after the peer's FIN and our close would get a key of its own
	 * (seen on 6.12). A probe read: inet_sock is beyond the typed sock. */
	key.lport = bpf_ntohs(BPF_CORE_READ((struct inet_sock *)sk, inet_sport));
	key.rport = bpf_ntohs(sk->__sk_common.skc_dport);
	if (family == AF_INET) {
		*(__u32 *)key.laddr = sk->__sk_common.skc_rcv_saddr;
		*(__u32 *)key.raddr = sk->__sk_common.skc_daddr;
	} else {
		__builtin_memcpy(key.laddr, &sk->__sk_common.skc_v6_rcv_saddr, 16);
		__builtin_memcpy(key.raddr, &sk->__sk_common.skc_v6_daddr, 16);
	}
	v = bpf_map_lookup_elem(&flows, &key);
	if (!v) {
		/* NOEXIST: another CPU may have created it meanwhile. */
		bpf_map_update_elem(&flows, &key, &zero, BPF_NOEXIST);
		v = bpf_map_lookup_elem(&flows, &key);
		if (!v) {
			cs_drop(CS_DROP_MAP_FULL);
			return 0;
		}
	}
	if (send)
		__sync_fetch_and_add(&v->sent, ret);
	else
		__sync_fetch_and_add(&v->received, ret);
	return 0;
}

/* Plain (u64 *ctx) programs, not BPF_PROG: it would load every argument
 * up front, and the verifier refuses a load past the kernel's prototype
 * even on a branch the constant `wide_args` never takes. */
SEC("tp_btf/sock_send_length")
int tcptop_send(__u64 *ctx)
{
	struct sock *sk = (struct sock *)ctx[0];

	if (wide_args)
		return count(sk, (int)ctx[3], (int)ctx[4], true);
	return count(sk, (int)ctx[1], (int)ctx[2], true);
}

SEC("tp_btf/sock_recv_length")
int tcptop_recv(__u64 *ctx)
{
	struct sock *sk = (struct sock *)ctx[0];

	if (wide_args)
		return count(sk, (int)ctx[3], (int)ctx[4], false);
	return count(sk, (int)ctx[1], (int)ctx[2], false);
}
