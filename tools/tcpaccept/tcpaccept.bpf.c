// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * tcpaccept: passive TCP connections, one record per connection that
 * accept()/accept4() returns. BCC hooks the return of inet_csk_accept with a
 * kretprobe (libbpf-tools has no tcpaccept); this is tracepoint-only: the
 * exits of the accept syscalls, in the accepting task (its pid, comm and
 * the process filters), with the socket found from the returned fd in the
 * task's file table (src/fd.bpf.h: current->files->fdt, CO-RE).
 * Why there and not sock:inet_sock_set_state: the passive side's state
 * changes (SYN_RECV, ESTABLISHED) run in softirq, where the current task is
 * whoever was interrupted; matching them to a later accept would need a map
 * per socket and would show connections nobody accepted. At the syscall
 * exit the connection is established and its addresses final, and nothing
 * is staged. Not seen: accepts that are not these syscalls (io_uring).
 */
#include "common/task.bpf.h"
#include <bpf/bpf_endian.h>
#include "fd.bpf.h"
#include "ports.bpf.h"
#include "tcpaccept.h"

CORESCOPE_EXPORT(tcpaccept_event);

#define AF_INET 2
#define AF_INET6 10
#define SOCK_STREAM 1

const volatile __u16 targ_family = 0; /* 0: both */
const volatile __u8 lport_on = 0;
const volatile __u8 lport_bits[CS_PORT_BITMAP] = {};

static __always_inline int accepted(long fd)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 pid = id >> 32, tid = (__u32)id;
	struct tcpaccept_event *e;
	struct socket *sock;
	struct sock *sk;
	__u16 family, lport;

	if (fd < 0 || !cs_trace_task(pid, tid))
		return 0;
	sock = cs_file_socket(cs_fd_file(bpf_get_current_task_btf(), fd));
	sk = sock ? BPF_CORE_READ(sock, sk) : NULL;
	if (!sk)
		return 0;
	family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family != AF_INET && family != AF_INET6)
		return 0; /* an AF_UNIX accept */
	if (targ_family && family != targ_family)
		return 0;
	if (BPF_CORE_READ_BITFIELD_PROBED(sk, sk_protocol) != IPPROTO_TCP ||
	    BPF_CORE_READ_BITFIELD_PROBED(sk, sk_type) != SOCK_STREAM)
		return 0;
	lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	if (lport_on && !cs_port_in(lport_bits, lport))
		return 0;
	e = cs_reserve(sizeof(*e));
	if (!e)
		return 0;
	__builtin_memset(e, 0, sizeof(*e));
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	if (!cs_trace_comm(e->comm)) {
		bpf_ringbuf_discard(e, 0);
		return 0;
	}
	e->ts_ns = bpf_ktime_get_ns();
	e->pid = pid;
	e->tid = tid;
	e->uid = (__u32)bpf_get_current_uid_gid();
	e->family = family;
	e->lport = lport;
	e->rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	e->fd = fd;
	if (family == AF_INET) {
		*(__u32 *)e->laddr = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
		*(__u32 *)e->raddr = BPF_CORE_READ(sk, __sk_common.skc_daddr);
	} else {
		bpf_core_read(e->laddr, sizeof(e->laddr), &sk->__sk_common.skc_v6_rcv_saddr);
		bpf_core_read(e->raddr, sizeof(e->raddr), &sk->__sk_common.skc_v6_daddr);
	}
	cs_submit_batched(e);
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
