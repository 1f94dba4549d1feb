// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * execsnoop: one record per exec. Based on execsnoop(8) from BCC and
 * libbpf-tools, with these differences:
 * - successful execs are reported from sched:sched_process_exec, which fires
 *   inside execve(2) and execveat(2) once the new image is committed: argv is
 *   read from the new mm (already in memory, argv[0] included) and the exec
 *   of a non-leader thread is seen (its old TID comes with the tracepoint);
 * - failed execs (-x) use the syscalls:sys_{enter,exit}_execve{,at}
 *   tracepoints; a failed exec keeps its memory, so the exit reads the
 *   filename and argv through the pointers saved at enter.
 */
#include "common/common.bpf.h"
#include "execsnoop.h"

CORESCOPE_EXPORT(execsnoop_event);
CORESCOPE_EXPORT_ENUM(execsnoop_consts);
CORESCOPE_EXPORT_ENUM(execsnoop_flags);

const volatile __u8 ignore_failed = 1;
const volatile __u32 targ_ppid = 0;
/* argv bytes copied per event (<= EXECSNOOP_ARGS_CAP) */
const volatile __u32 args_max = 2560;
/* failed execs: argv strings read through pointers, and bytes per string */
const volatile __u32 ptr_args_max = 20;
const volatile __u32 ptr_arg_size = 128;

struct execsnoop_scratch {
	struct execsnoop_event e;
	__u8 buf[EXECSNOOP_FNAME_CAP + EXECSNOOP_ARGS_CAP];
};

_Static_assert(sizeof(struct execsnoop_event) % 8 == 0,
	       "payload must start right after the header");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct execsnoop_scratch);
} scratch SEC(".maps");

struct exec_args {
	__u64 filename;
	__u64 argv;
};

/* Failed-exec staging, keyed by TID (only with -x). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct exec_args);
} staging SEC(".maps");

static __always_inline struct execsnoop_scratch *fill_header(__u32 tid, __s32 ret)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u32 zero = 0;
	struct execsnoop_scratch *s = bpf_map_lookup_elem(&scratch, &zero);

	if (!s)
		return NULL;
	s->e.ts_ns = bpf_ktime_get_ns();
	s->e.pid = bpf_get_current_pid_tgid() >> 32;
	s->e.tid = tid;
	s->e.ppid = BPF_CORE_READ(task, real_parent, tgid);
	s->e.uid = (__u32)bpf_get_current_uid_gid();
	s->e.retval = ret;
	s->e.cpu = bpf_get_smp_processor_id();
	s->e.args_len = 0;
	s->e.args_total = 0;
	s->e.fname_len = 0;
	s->e.flags = 0;
	bpf_get_current_comm(s->e.comm, sizeof(s->e.comm));
	BPF_CORE_READ_STR_INTO(&s->e.pcomm, task, real_parent, comm);
	return s;
}

static __always_inline bool ppid_ok(struct execsnoop_scratch *s)
{
	return !targ_ppid || s->e.ppid == targ_ppid;
}

static __always_inline void emit(struct execsnoop_scratch *s, long fl, __u32 alen)
{
	if (fl < 0)
		fl = 0;
	if (fl > EXECSNOOP_FNAME_CAP)
		fl = EXECSNOOP_FNAME_CAP;
	if (alen > EXECSNOOP_ARGS_CAP)
		alen = EXECSNOOP_ARGS_CAP;
	s->e.fname_len = fl;
	s->e.args_len = alen;
	cs_output(s, sizeof(s->e) + fl + alen);
}

SEC("tp/sched/sched_process_exec")
int handle_exec(struct trace_event_raw_sched_process_exec *ctx)
{
	__u32 old_tid = ctx->old_pid;
	struct task_struct *task;
	struct execsnoop_scratch *s;
	__u64 start, end, total;
	__u32 alen;
	long fl;

	if (!ignore_failed)
		bpf_map_delete_elem(&staging, &old_tid);
	if (!cs_trace_task(bpf_get_current_pid_tgid() >> 32, old_tid))
		return 0;
	s = fill_header(old_tid, 0);
	if (!s || !ppid_ok(s) || !cs_trace_comm(s->e.comm))
		return 0;

	fl = bpf_probe_read_kernel_str(s->buf, EXECSNOOP_FNAME_CAP,
				       (void *)ctx + (ctx->__data_loc_filename & 0xFFFF));
	if (fl < 0)
		fl = 0;
	if (fl == EXECSNOOP_FNAME_CAP)
		s->e.flags |= EXECSNOOP_F_FNAME_TRUNC;

	task = (struct task_struct *)bpf_get_current_task();
	start = BPF_CORE_READ(task, mm, arg_start);
	end = BPF_CORE_READ(task, mm, arg_end);
	total = end > start ? end - start : 0;
	alen = total < args_max ? total : args_max;
	if (alen > EXECSNOOP_ARGS_CAP)
		alen = EXECSNOOP_ARGS_CAP;
	if (alen < total)
		s->e.flags |= EXECSNOOP_F_ARGS_TRUNC;
	s->e.args_total = total;
	if (fl > EXECSNOOP_FNAME_CAP)
		fl = EXECSNOOP_FNAME_CAP;
	if (bpf_probe_read_user(s->buf + fl, alen, (void *)start)) {
		s->e.flags |= EXECSNOOP_F_ARGS_FAULT;
		alen = 0;
	}
	emit(s, fl, alen);
	return 0;
}

static __always_inline int stage(__u64 filename, __u64 argv)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	struct exec_args a = { .filename = filename, .argv = argv };

	if (!cs_trace_task(id >> 32, tid))
		return 0;
	/* A full map is not counted here: the exec may well succeed (and be
	 * reported from sched_process_exec); a failed one finds no entry at
	 * its exit and is counted there, once. */
	bpf_map_update_elem(&staging, &tid, &a, BPF_ANY);
	return 0;
}

SEC("tp/syscalls/sys_enter_execve")
int handle_enter_execve(struct trace_event_raw_sys_enter *ctx)
{
	return stage(ctx->args[0], ctx->args[1]);
}

SEC("tp/syscalls/sys_enter_execveat")
int handle_enter_execveat(struct trace_event_raw_sys_enter *ctx)
{
	return stage(ctx->args[1], ctx->args[2]);
}

static __always_inline int report_failed(struct trace_event_raw_sys_exit *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct execsnoop_scratch *s;
	struct exec_args *a;
	__u64 filename, argv;
	__u32 off = 0;
	long fl;

	a = bpf_map_lookup_elem(&staging, &tid);
	if (!a) {
		/* A failed exec we should have staged (map full at enter, or
		 * tracing started during the call). */
		if (ctx->ret < 0 && cs_trace_task(bpf_get_current_pid_tgid() >> 32, tid))
			cs_drop(CS_DROP_UNPAIRED);
		return 0;
	}
	filename = a->filename;
	argv = a->argv;
	bpf_map_delete_elem(&staging, &tid);
	if (ctx->ret >= 0)
		return 0;

	s = fill_header(tid, ctx->ret);
	if (!s || !ppid_ok(s) || !cs_trace_comm(s->e.comm))
		return 0;
	fl = bpf_probe_read_user_str(s->buf, EXECSNOOP_FNAME_CAP, (void *)filename);
	if (fl < 0)
		fl = 0;
	if (fl == EXECSNOOP_FNAME_CAP)
		s->e.flags |= EXECSNOOP_F_FNAME_TRUNC;

	if (fl > EXECSNOOP_FNAME_CAP)
		fl = EXECSNOOP_FNAME_CAP;
	for (__u32 i = 0; i < EXECSNOOP_PTR_ARGS_MAX; i++) {
		__u64 p = 0;
		long n;

		if (bpf_probe_read_user(&p, sizeof(p), (void *)(argv + i * sizeof(p)))) {
			s->e.flags |= EXECSNOOP_F_ARGS_FAULT;
			break;
		}
		if (!p)
			break;
		if (i >= ptr_args_max || off + ptr_arg_size > args_max ||
		    off > EXECSNOOP_ARGS_CAP - ptr_arg_size) {
			s->e.flags |= EXECSNOOP_F_ARGS_TRUNC;
			break;
		}
		n = bpf_probe_read_user_str(s->buf + fl + off, ptr_arg_size, (void *)p);
		if (n < 0) {
			s->e.flags |= EXECSNOOP_F_ARGS_FAULT;
			break;
		}
		if (n == ptr_arg_size)
			s->e.flags |= EXECSNOOP_F_ARGS_TRUNC;
		off += n;
	}
	s->e.args_total = off;
	emit(s, fl, off);
	return 0;
}

SEC("tp/syscalls/sys_exit_execve")
int handle_exit_execve(struct trace_event_raw_sys_exit *ctx)
{
	return report_failed(ctx);
}

SEC("tp/syscalls/sys_exit_execveat")
int handle_exit_execveat(struct trace_event_raw_sys_exit *ctx)
{
	return report_failed(ctx);
}
