// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * syscount: syscalls counted per syscall number (or per process, -P) at
 * raw_syscalls:sys_exit, with -L the time from sys_enter summed. Based on
 * syscount(8) from BCC and libbpf-tools (same hooks), with these
 * differences:
 * - the task filters of every corescope tool (-p tree, --tid, --uid, -c,
 *   --comm), applied at exit (and at enter with -L, so untraced tasks stage
 *   nothing);
 * - --syscall filters in the kernel (BCC's --syscall too; libbpf-tools has
 *   none);
 * - a count that finds the map full is counted as lost (map_full: "keys
 *   dropped"), and with -L an exit without its enter (a syscall already
 *   running when tracing started, or task storage that could not be had) as unpaired;
 *   libbpf-tools skips both silently;
 * - the user-space side drains the map each interval (top shape).
 */
#include "common/task.bpf.h"
#include "staging.bpf.h"
#include "syscount.h"

CORESCOPE_EXPORT(syscount_key);
CORESCOPE_EXPORT(syscount_value);

const volatile __u8 per_process = 0;  /* -P: key the TGID */
const volatile __u8 latency = 0;      /* -L: time enter -> exit */
const volatile __u8 failures = 0;     /* -x: failed calls only */
const volatile __s32 only_errno = 0;  /* -e: calls failed with this errno */
const volatile __s32 only_nr = -1;    /* --syscall: this number only */
/* This architecture's execve and execveat (user space knows the table):
 * with -P the name is taken again after a successful exec. */
const volatile __s32 execve_nr = -1;
const volatile __s32 execveat_nr = -1;

/* Per key, for user space to drain; it sizes the map before load. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct syscount_key);
	__type(value, struct syscount_value);
} counts SEC(".maps");

/* -L: when each thread entered its syscall, in task-local storage (no
 * capacity to run out of, freed with the thread; a hash keyed by TID cost
 * twice as much at exit, its delete included). */
CS_TASK_START(start);

/* The common filters, --comm included. */
static __always_inline bool traced(__u64 id)
{
	if (!cs_trace_task(id >> 32, (__u32)id))
		return false;
	if (cs_cfg.comm_on) {
		__u8 comm[CS_COMM_LEN] = {};

		bpf_get_current_comm(&comm, sizeof(comm));
		return cs_trace_comm(comm);
	}
	return true;
}

/* Loaded only with -L. */
SEC("tracepoint/raw_syscalls/sys_enter")
int syscount_enter(struct trace_event_raw_sys_enter *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();

	if (only_nr >= 0 && ctx->id != only_nr)
		return 0;
	if (!traced(id))
		return 0;
	/* Storage that cannot be had is counted (map_full). */
	cs_task_start(&start, bpf_get_current_task_btf(), bpf_ktime_get_ns());
	return 0;
}

SEC("tracepoint/raw_syscalls/sys_exit")
int syscount_exit(struct trace_event_raw_sys_exit *ctx)
{
	__u64 id = bpf_get_current_pid_tgid(), delta = 0;
	struct syscount_key key = {};
	struct syscount_value *v;
	long ret = ctx->ret;

	/* -1: no syscall (a ptrace-skipped one); BCC skips it too. */
	if (ctx->id < 0)
		return 0;
	if (only_nr >= 0 && ctx->id != only_nr)
		return 0;
	if (!traced(id))
		return 0;
	if (latency) {
		if (!cs_task_elapsed(&start, bpf_get_current_task_btf(), bpf_ktime_get_ns(),
				     &delta)) {
			/* Counted as lost only if it would have counted. */
			if ((!failures || ret < 0) && (!only_errno || ret == -only_errno))
				cs_drop(CS_DROP_UNPAIRED);
			return 0;
		}
	}
	if (failures && ret >= 0)
		return 0;
	if (only_errno && ret != -only_errno)
		return 0;
	key.id = per_process ? (__u32)(id >> 32) : (__u32)ctx->id;
	v = bpf_map_lookup_elem(&counts, &key);
	if (!v) {
		struct syscount_value zero = {};

		if (per_process)
			bpf_get_current_comm(&zero.comm, sizeof(zero.comm));
		/* NOEXIST: another CPU may have created it meanwhile. */
		bpf_map_update_elem(&counts, &key, &zero, BPF_NOEXIST);
		v = bpf_map_lookup_elem(&counts, &key);
		if (!v) {
			cs_drop(CS_DROP_MAP_FULL);
			return 0;
		}
	}
	/* The process is the same (TGID), its name is new: an exec under -P
	 * (otherwise `-- CMD` would show the name it had before its exec). */
	if (per_process && ret == 0 && (ctx->id == execve_nr || ctx->id == execveat_nr))
		bpf_get_current_comm(&v->comm, sizeof(v->comm));
	__sync_fetch_and_add(&v->count, 1);
	if (latency)
		__sync_fetch_and_add(&v->total_ns, delta);
	return 0;
}
