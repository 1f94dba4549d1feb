// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * bindsnoop: bind() on IPv4 and IPv6 sockets, from the syscall tracepoints
 * (BCC's and libbpf-tools' bindsnoop use kprobes on inet_bind/inet6_bind):
 * - enter: the fd and the sockaddr, read from user memory (staged by
 *   thread until the exit);
 * - exit: the socket looked up from the fd in the task's file table
 *   (CO-RE, src/fd.bpf.h): its family (only AF_INET/AF_INET6 sockets are
 *   reported), protocol, type, bound device and the options set before the
 *   bind (freebind, transparent, bind-address-no-port, reuseaddr,
 *   reuseport), and after a successful bind its port (the one the kernel
 *   chose for a port 0 bind);
 * - every bind is reported, failed ones included (libbpf-tools shows
 *   failures only with -x; here -x shows failures only);
 * - a bind on an fd that is not a socket (EBADF, ENOTSOCK) has no socket:
 *   not reported; one whose fd another thread closed before the exit
 *   neither;
 * - an exit without its enter is counted as lost (unpaired).
 */
#include "common/task.bpf.h"
#include "staging.bpf.h"
#include "fd.bpf.h"
#include "ports.bpf.h"
#include "bindsnoop.h"
#include <bpf/bpf_endian.h>

CORESCOPE_EXPORT(bindsnoop_event);
CORESCOPE_EXPORT_ENUM(bindsnoop_opts);
CORESCOPE_EXPORT_ENUM(bindsnoop_flags);

#define AF_INET 2
#define AF_INET6 10

const volatile __u8 failed_only = 0; /* -x */
const volatile __u16 targ_family = 0; /* -4 / -6: AF_INET or AF_INET6 */
const volatile __u8 port_on = 0;      /* -P */
const volatile __u8 port_bits[CS_PORT_BITMAP] = {};

/* sockaddr_in6 is the largest the inet families read (28 bytes); the
 * buffer is a power of two so that a mask bounds the read for the
 * verifier. */
#define SA_MAX 28
#define SA_BUF 32

struct bind_args {
	__s32 fd;
	__u32 addrlen;
	__u8 sa[SA_BUF];
	__u8 flags; /* BINDSNOOP_SA_READ */
	__u8 _pad[3];
};

CS_STAGING(binds, struct bind_args, 10240);

/* Kernels before 6.6 keep inet_sock's options as bitfields (later ones
 * as bits of inet_flags). */
struct inet_sock___old {
	__u8 freebind : 1;
	__u8 transparent : 1;
	__u8 bind_address_no_port : 1;
} __attribute__((preserve_access_index));

SEC("tp/syscalls/sys_enter_bind")
int handle_enter(struct trace_event_raw_sys_enter *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct bind_args a = {};
	__u32 len = (__u32)ctx->args[2];
	__u64 n;

	/* --comm is checked at exit, with the rest. */
	if (!cs_trace_task(id >> 32, (__u32)id))
		return 0;
	a.fd = (__s32)ctx->args[0];
	a.addrlen = len;
	if (len > SA_MAX)
		len = SA_MAX;
	/* What the call asked for, as it was at enter (it may be rewritten
	 * before the exit); bytes past addrlen stay zero. */
	n = len;
	/* The mask in an asm: the compiler knows n <= 28 and would drop it,
	 * leaving the verifier a size it cannot bound. */
	asm volatile("%[n] &= %[m]" : [n] "+r"(n) : [m] "i"(SA_BUF - 1));
	if (n && !bpf_probe_read_user(a.sa, n, (void *)ctx->args[1]))
		a.flags = BINDSNOOP_SA_READ;
	/* A full map loses the enter: its exit counts it (unpaired), once. */
	cs_stage(&binds, (__u32)id, &a);
	return 0;
}

static __always_inline __u8 sock_opts(struct sock *sk)
{
	struct inet_sock *inet = (struct inet_sock *)sk;
	__u8 o = 0;

	if (bpf_core_field_exists(inet->inet_flags)) {
		/* The INET_FLAGS_* enum is anonymous (CO-RE cannot relocate
		 * its values); its bits have kept their numbers since 6.6. */
		unsigned long f = BPF_CORE_READ(inet, inet_flags);

		if (f & (1UL << INET_FLAGS_FREEBIND))
			o |= BINDSNOOP_FREEBIND;
		if (f & (1UL << INET_FLAGS_TRANSPARENT))
			o |= BINDSNOOP_TRANSPARENT;
		if (f & (1UL << INET_FLAGS_BIND_ADDRESS_NO_PORT))
			o |= BINDSNOOP_NO_PORT;
	} else {
		struct inet_sock___old *old = (void *)sk;

		if (BPF_CORE_READ_BITFIELD_PROBED(old, freebind))
			o |= BINDSNOOP_FREEBIND;
		if (BPF_CORE_READ_BITFIELD_PROBED(old, transparent))
			o |= BINDSNOOP_TRANSPARENT;
		if (BPF_CORE_READ_BITFIELD_PROBED(old, bind_address_no_port))
			o |= BINDSNOOP_NO_PORT;
	}
	if (BPF_CORE_READ_BITFIELD_PROBED(sk, __sk_common.skc_reuse))
		o |= BINDSNOOP_REUSEADDR;
	if (BPF_CORE_READ_BITFIELD_PROBED(sk, __sk_common.skc_reuseport))
		o |= BINDSNOOP_REUSEPORT;
	return o;
}

SEC("tp/syscalls/sys_exit_bind")
int handle_exit(struct trace_event_raw_sys_exit *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	int ret = (int)ctx->ret;
	struct bindsnoop_event *e;
	__u8 comm[CS_COMM_LEN];
	struct bind_args a;
	struct socket *sock;
	struct sock *sk;
	__u16 family, port, sa_port;

	if (!cs_unstage(&binds, (__u32)id, &a)) {
		/* Begun before tracing (or its enter lost): count it where it
		 * would have been shown. */
		if (cs_trace_task(id >> 32, (__u32)id)) {
			bpf_get_current_comm(comm, sizeof(comm));
			if (cs_trace_comm(comm))
				cs_drop(CS_DROP_UNPAIRED);
		}
		return 0;
	}
	if (failed_only && ret >= 0)
		return 0;
	sock = cs_file_socket(cs_fd_file(bpf_get_current_task_btf(), a.fd));
	if (!sock)
		return 0;
	sk = BPF_CORE_READ(sock, sk);
	if (!sk)
		return 0;
	family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family != AF_INET && family != AF_INET6)
		return 0;
	if (targ_family && family != targ_family)
		return 0;
	/* sin_port and sin6_port are both at offset 2. */
	sa_port = (__u16)a.sa[2] << 8 | a.sa[3];
	port = sa_port;
	if (ret == 0)
		port = bpf_ntohs(BPF_CORE_READ((struct inet_sock *)sk, inet_sport));
	if (port_on && !cs_port_in(port_bits, port))
		return 0;
	bpf_get_current_comm(comm, sizeof(comm));
	if (!cs_trace_comm(comm))
		return 0;
	e = cs_reserve(sizeof(*e));
	if (!e)
		return 0;
	__builtin_memset(e, 0, sizeof(*e));
	e->ts_ns = bpf_ktime_get_ns();
	e->pid = id >> 32;
	e->tid = (__u32)id;
	e->uid = (__u32)bpf_get_current_uid_gid();
	e->ret = ret;
	e->fd = a.fd;
	e->bound_dev_if = BPF_CORE_READ(sk, __sk_common.skc_bound_dev_if);
	e->family = family;
	__builtin_memcpy(&e->sa_family, a.sa, 2); /* host order, as written */
	e->port = port;
	e->sa_port = sa_port;
	e->proto = BPF_CORE_READ_BITFIELD_PROBED(sk, sk_protocol);
	e->sock_type = BPF_CORE_READ_BITFIELD_PROBED(sk, sk_type);
	e->addrlen = a.addrlen;
	e->opts = sock_opts(sk);
	e->flags = a.flags;
	/* The address as the socket's family reads it: sin_addr at 4,
	 * sin6_addr at 8. */
	if (family == AF_INET)
		__builtin_memcpy(e->addr, &a.sa[4], 4);
	else
		__builtin_memcpy(e->addr, &a.sa[8], 16);
	__builtin_memcpy(e->comm, comm, CS_COMM_LEN);
	cs_submit_batched(e);
	return 0;
}
