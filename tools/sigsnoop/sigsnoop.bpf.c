// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * sigsnoop (and killsnoop, whose killsnoop.bpf.c is this file): signals as
 * they are generated (signal:signal_generate: sender = current, target,
 * signal, errno and result), plus the kill-family syscalls (kill, tkill,
 * tgkill: enter -> exit staged by thread, for the return value). Based on
 * sigsnoop(8) from libbpf-tools and killsnoop(8) from BCC, with these
 * differences:
 * - without kill_only, a kill-family syscall that failed before any signal
 *   was generated (ESRCH, EPERM, EINVAL) is reported from its exit: such a
 *   failure never reaches signal_generate, so libbpf-tools' `sigsnoop -x`
 *   (without -k) never shows it. A syscall whose signal was generated is
 *   not reported twice (signal_generate marks its staged record);
 * - a syscall exit without its enter is counted as lost (unpaired), not
 *   dropped silently.
 */
#include "common/task.bpf.h"
#include "staging.bpf.h"
#include "sigsnoop.h"

CORESCOPE_EXPORT(sigsnoop_event);
CORESCOPE_EXPORT_ENUM(sigsnoop_source);

const volatile __u8 kill_only = 0;   /* -k (killsnoop): the syscalls only */
const volatile __u8 failed_only = 0; /* -x */
const volatile __s32 targ_sig = -1;  /* -s: this signal only */
const volatile __s32 targ_tpid = 0;  /* --tpid: this target only */

struct kill_args {
	__s32 tpid;
	__s32 ttgid;
	__s32 sig;
	__u8 source;
	__u8 wanted;    /* passes -s and --tpid */
	__u8 generated; /* signal_generate saw a signal of this call */
	__u8 _pad;
};

CS_STAGING(kills, struct kill_args, 10240);

static __always_inline bool sig_wanted(__s32 sig, __s32 tpid)
{
	return (targ_sig < 0 || sig == targ_sig) && (!targ_tpid || tpid == targ_tpid);
}

static __always_inline bool sender_traced(__u64 id, __u8 *comm)
{
	if (!cs_trace_task(id >> 32, (__u32)id))
		return false;
	bpf_get_current_comm(comm, CS_COMM_LEN);
	return cs_trace_comm(comm);
}

static __always_inline void fill(struct sigsnoop_event *e, __u64 id, const __u8 *comm)
{
	e->ts_ns = bpf_ktime_get_ns();
	e->pid = id >> 32;
	e->tid = (__u32)id;
	e->uid = (__u32)bpf_get_current_uid_gid();
	__builtin_memcpy(e->comm, comm, CS_COMM_LEN);
}

SEC("tp/signal/signal_generate")
int handle_generate(struct trace_event_raw_signal_generate *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	struct kill_args *k = bpf_map_lookup_elem(&kills, &tid);
	struct sigsnoop_event *e;
	__u8 comm[CS_COMM_LEN];
	int sig = ctx->sig, tpid = ctx->pid, ret = ctx->errno;

	/* Inside a kill-family call of ours: its row is this one. */
	if (k)
		k->generated = 1;
	if ((failed_only && ret >= 0) || !sig_wanted(sig, tpid) || !sender_traced(id, comm))
		return 0;
	e = cs_reserve(sizeof(*e));
	if (!e)
		return 0;
	fill(e, id, comm);
	e->tpid = tpid;
	e->ttgid = 0;
	e->sig = sig;
	e->ret = ret;
	e->source = SIGSNOOP_GENERATE;
	e->result = ctx->result;
	e->group = ctx->group;
	e->_pad = 0;
	/* A tracepoint context cannot be read at a moved offset by memcpy. */
	bpf_probe_read_kernel(e->tcomm, sizeof(e->tcomm), ctx->comm);
	cs_submit_batched(e);
	return 0;
}

static __always_inline int kill_enter(__s32 tpid, __s32 ttgid, __s32 sig, __u8 source)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct kill_args k = {};

	/* Not the sender's comm: --comm is checked at exit, with the rest. */
	if (!cs_trace_task(id >> 32, (__u32)id))
		return 0;
	k.tpid = tpid;
	k.ttgid = ttgid;
	k.sig = sig;
	k.source = source;
	k.wanted = sig_wanted(sig, tpid);
	/* A full map loses the enter: its exit counts it (unpaired), once. */
	cs_stage(&kills, (__u32)id, &k);
	return 0;
}

static __always_inline int kill_exit(long ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct sigsnoop_event *e;
	__u8 comm[CS_COMM_LEN];
	struct kill_args k;

	if (!cs_unstage(&kills, (__u32)id, &k)) {
		/* Begun before tracing (or its enter lost): count it where it
		 * would have been shown. */
		if ((kill_only || ret < 0) && sender_traced(id, comm))
			cs_drop(CS_DROP_UNPAIRED);
		return 0;
	}
	if (!k.wanted || (failed_only && ret >= 0))
		return 0;
	/* Reported by signal_generate, or (it succeeded) nothing to add. */
	if (!kill_only && (k.generated || ret >= 0))
		return 0;
	bpf_get_current_comm(comm, sizeof(comm));
	if (!cs_trace_comm(comm))
		return 0;
	e = cs_reserve(sizeof(*e));
	if (!e)
		return 0;
	__builtin_memset(e, 0, sizeof(*e));
	fill(e, id, comm);
	e->tpid = k.tpid;
	e->ttgid = k.ttgid;
	e->sig = k.sig;
	e->ret = ret;
	e->source = k.source;
	cs_submit_batched(e);
	return 0;
}

SEC("tp/syscalls/sys_enter_kill")
int handle_enter_kill(struct trace_event_raw_sys_enter *ctx)
{
	return kill_enter(ctx->args[0], 0, ctx->args[1], SIGSNOOP_KILL);
}

SEC("tp/syscalls/sys_enter_tkill")
int handle_enter_tkill(struct trace_event_raw_sys_enter *ctx)
{
	return kill_enter(ctx->args[0], 0, ctx->args[1], SIGSNOOP_TKILL);
}

SEC("tp/syscalls/sys_enter_tgkill")
int handle_enter_tgkill(struct trace_event_raw_sys_enter *ctx)
{
	return kill_enter(ctx->args[1], ctx->args[0], ctx->args[2], SIGSNOOP_TGKILL);
}

SEC("tp/syscalls/sys_exit_kill")
int handle_exit_kill(struct trace_event_raw_sys_exit *ctx)
{
	return kill_exit(ctx->ret);
}

SEC("tp/syscalls/sys_exit_tkill")
int handle_exit_tkill(struct trace_event_raw_sys_exit *ctx)
{
	return kill_exit(ctx->ret);
}

SEC("tp/syscalls/sys_exit_tgkill")
int handle_exit_tgkill(struct trace_event_raw_sys_exit *ctx)
{
	return kill_exit(ctx->ret);
}
