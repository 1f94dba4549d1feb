// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * execsnoop: one record per exec. Based on execsnoop(8) from BCC and
 * libbpf-tools, with these differences:
 * - successful execs are reported from the sched_process_exec raw
 *   tracepoint, which fires inside execve(2) and execveat(2) once the new
 *   image is committed: argv is read from the new mm (already in memory,
 *   argv[0] included), the exec of a non-leader thread is seen (its old TID
 *   comes with the tracepoint) and linux_binprm says whether an interpreter
 *   (#!) runs the file;
 * - each argument is copied on its own, cut to its byte budget, so a long
 *   one does not hide the ones after it (as in BCC);
 * - failed execs (-x) use the syscalls:sys_{enter,exit}_execve{,at}
 *   tracepoints; a failed exec keeps its memory, so the exit reads the
 *   filename and argv through the pointers saved at enter.
 */
#include "common/task.bpf.h"
#include "staging.bpf.h"
#include "execsnoop.h"

CORESCOPE_EXPORT(execsnoop_event);
CORESCOPE_EXPORT_ENUM(execsnoop_consts);
CORESCOPE_EXPORT_ENUM(execsnoop_flags);

const volatile __u8 ignore_failed = 1;
const volatile __u32 targ_ppid = 0;
/* --full-args: argv copied as one block of up to args_max bytes (<=
 * EXECSNOOP_ARGS_CAP); otherwise argument by argument: at most max_args (<=
 * EXECSNOOP_MAX_ARGS), each cut to arg_size bytes, its NUL included. */
const volatile __u8 full_args = 0;
const volatile __u32 args_max = EXECSNOOP_ARGS_CAP;
const volatile __u32 max_args = 20;
const volatile __u32 arg_size = 128;

struct execsnoop_scratch {
	struct execsnoop_event e;
	__u8 buf[EXECSNOOP_FNAME_CAP + EXECSNOOP_ARGS_CAP];
	/* Where the rest of a cut argument is read to find its end. */
	__u8 skip[4096];
};

_Static_assert(sizeof(struct execsnoop_event) % 8 == 0,
	       "payload must start right after the header");

CS_SCRATCH(scratch, struct execsnoop_scratch);

struct exec_args {
	__u64 filename;
	__u64 argv;
	__s32 dirfd; /* execveat's, or AT_FDCWD */
	__u32 _pad;
};

/* Failed-exec staging, keyed by TID (only with -x). */
CS_STAGING(staging, struct exec_args, 10240);

#define AT_FDCWD -100
/* The kernel's longest argument string (MAX_ARG_STRLEN, 32 pages). */
#define ARG_STRLEN_MAX (32 * 4096)

static __always_inline struct execsnoop_scratch *fill_header(__u32 tid, __s32 ret)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct execsnoop_scratch *s = cs_scratch(&scratch);

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
	s->e.argc = 0;
	__builtin_memset(s->e.arg_cut, 0, sizeof(s->e.arg_cut));
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

/* A string read with a cap of `cap` bytes returned `cap`: it was cut unless
 * its NUL is the last byte read (it then fits exactly). */
static __always_inline bool cut_at_cap(const void *src, __u32 cap, bool user)
{
	char c = 1;

	if (user)
		bpf_probe_read_user(&c, 1, src + cap - 1);
	else
		bpf_probe_read_kernel(&c, 1, src + cap - 1);
	return c != 0;
}

struct arg_loop {
	struct execsnoop_scratch *s;
	__u64 src;   /* next string (block), or the argv array (pointers) */
	__u64 end;   /* end of the block */
	__u32 fl;    /* filename bytes before the arguments */
	__u32 off;   /* argument bytes copied */
	__u32 count; /* arguments seen */
	__u32 max;   /* arguments copied at most */
	__u8 ptrs;   /* src is an array of pointers (a failed exec) */
};

/* One argument into the payload, cut to arg_size bytes (bpf_loop callback:
 * 0 goes on, 1 stops). */
static long copy_arg(__u32 i, struct arg_loop *l)
{
	struct execsnoop_scratch *s = l->s;
	__u32 fl = l->fl, off = l->off, size = arg_size;
	__u64 p = l->src;
	__u32 byte;
	long n;

	if (l->ptrs) {
		if (bpf_probe_read_user(&p, sizeof(p), (void *)(l->src + i * sizeof(p)))) {
			s->e.flags |= EXECSNOOP_F_ARGS_FAULT;
			return 1;
		}
		if (!p)
			return 1;
	} else if (p >= l->end) {
		return 1;
	}
	l->count = i + 1;
	if (i >= l->max || i >= EXECSNOOP_MAX_ARGS || size > EXECSNOOP_ARGS_CAP ||
	    off > EXECSNOOP_ARGS_CAP - size || fl > EXECSNOOP_FNAME_CAP) {
		s->e.flags |= EXECSNOOP_F_ARGS_TRUNC;
		return 1;
	}
	n = bpf_probe_read_user_str(s->buf + fl + off, size, (void *)p);
	if (n <= 0) {
		s->e.flags |= EXECSNOOP_F_ARGS_FAULT;
		return 1;
	}
	l->off = off + n;
	if (n < size || !cut_at_cap((void *)p, size, true)) {
		if (!l->ptrs)
			l->src = p + n;
		return 0;
	}
	byte = i / 8;
	/* Keeps the mask below: the verifier lost i's bound in a spill. */
	asm volatile("" : "+r"(byte));
	s->e.arg_cut[byte & (sizeof(s->e.arg_cut) - 1)] |= 1 << (i % 8);
	s->e.flags |= EXECSNOOP_F_ARGS_TRUNC;
	if (l->ptrs)
		return 0;
	/* In the block, the next argument starts after this one's NUL. */
	p += n - 1;
	for (__u32 j = 0; j < ARG_STRLEN_MAX / sizeof(s->skip) + 1; j++) {
		long m = bpf_probe_read_user_str(s->skip, sizeof(s->skip), (void *)p);

		if (m <= 0) {
			s->e.flags |= EXECSNOOP_F_ARGS_FAULT;
			return 1;
		}
		if (m < (long)sizeof(s->skip)) {
			l->src = p + m;
			return 0;
		}
		p += m - 1;
	}
	return 1;
}

/* Counts the rest of a failed exec's argv (bpf_loop callback). */
static long count_arg(__u32 i, struct arg_loop *l)
{
	__u64 p = 0;

	if (bpf_probe_read_user(&p, sizeof(p), (void *)(l->src + l->count * sizeof(p))) || !p)
		return 1;
	l->count++;
	return 0;
}

/* Filename into the start of the payload; returns its length (NUL
 * included). `kernel`: a kernel string, else a user one. */
static __always_inline long read_fname(struct execsnoop_scratch *s, __u32 at,
				       const void *src, bool kernel)
{
	__u32 room = EXECSNOOP_FNAME_CAP - at;
	long n;

	if (at >= EXECSNOOP_FNAME_CAP)
		return 0;
	if (kernel)
		n = bpf_probe_read_kernel_str(s->buf + at, room, src);
	else
		n = bpf_probe_read_user_str(s->buf + at, room, src);
	if (n <= 0)
		return 0;
	if (n == room && cut_at_cap(src, room, !kernel))
		s->e.flags |= EXECSNOOP_F_FNAME_TRUNC;
	return n;
}

/* A raw tracepoint (not BTF-typed, so it works with --btf): its arguments
 * give the linux_binprm, which says whether an interpreter runs the file
 * and the new argc. It fires inside execve(2) and execveat(2) once the new
 * image is committed. */
SEC("raw_tp/sched_process_exec")
int BPF_PROG(handle_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	__u32 old_tid = old_pid;
	struct arg_loop l = {};
	struct task_struct *task;
	struct execsnoop_scratch *s;
	const char *fname, *interp;
	__u64 start, end, total;
	__u32 alen;
	long fl;

	if (!ignore_failed)
		cs_unstage_drop(&staging, old_tid);
	if (!cs_trace_task(bpf_get_current_pid_tgid() >> 32, old_tid))
		return 0;
	s = fill_header(old_tid, 0);
	if (!s || !ppid_ok(s) || !cs_trace_comm(s->e.comm))
		return 0;

	fname = BPF_CORE_READ(bprm, filename);
	interp = BPF_CORE_READ(bprm, interp);
	/* The kernel gives interp its own copy once an interpreter is found. */
	if (interp != fname)
		s->e.flags |= EXECSNOOP_F_INTERP;
	s->e.argc = BPF_CORE_READ(bprm, argc);
	fl = read_fname(s, 0, fname, true);

	task = (struct task_struct *)bpf_get_current_task();
	start = BPF_CORE_READ(task, mm, arg_start);
	end = BPF_CORE_READ(task, mm, arg_end);
	total = end > start ? end - start : 0;
	s->e.args_total = total;
	if (fl > EXECSNOOP_FNAME_CAP)
		fl = EXECSNOOP_FNAME_CAP;
	if (!full_args) {
		l.s = s;
		l.src = start;
		l.end = end;
		l.fl = fl;
		l.max = max_args;
		if (s->e.flags & EXECSNOOP_F_INTERP)
			l.max += EXECSNOOP_INTERP_ARGS;
		bpf_loop(EXECSNOOP_MAX_ARGS + 1, copy_arg, &l, 0);
		emit(s, fl, l.off);
		return 0;
	}
	alen = total < args_max ? total : args_max;
	if (alen > EXECSNOOP_ARGS_CAP)
		alen = EXECSNOOP_ARGS_CAP;
	if (alen < total)
		s->e.flags |= EXECSNOOP_F_ARGS_TRUNC;
	if (bpf_probe_read_user(s->buf + fl, alen, (void *)start)) {
		s->e.flags |= EXECSNOOP_F_ARGS_FAULT;
		alen = 0;
	}
	emit(s, fl, alen);
	return 0;
}

static __always_inline int stage(__u64 filename, __u64 argv, __s32 dirfd)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	struct exec_args a = { .filename = filename, .argv = argv, .dirfd = dirfd };

	if (!cs_trace_task(id >> 32, tid))
		return 0;
	/* A full map is not counted here: the exec may well succeed (and be
	 * reported from sched_process_exec); a failed one finds no entry at
	 * its exit and is counted there, once. */
	cs_stage(&staging, tid, &a);
	return 0;
}

SEC("tp/syscalls/sys_enter_execve")
int handle_enter_execve(struct trace_event_raw_sys_enter *ctx)
{
	return stage(ctx->args[0], ctx->args[1], AT_FDCWD);
}

SEC("tp/syscalls/sys_enter_execveat")
int handle_enter_execveat(struct trace_event_raw_sys_enter *ctx)
{
	return stage(ctx->args[1], ctx->args[2], (__s32)ctx->args[0]);
}

/* The name the kernel gives an exec relative to a descriptor (as in
 * alloc_bprm): "/dev/fd/N" for "" (AT_EMPTY_PATH), "/dev/fd/N/NAME" for a
 * relative NAME; an absolute name or AT_FDCWD leave it as it is. */
static __always_inline long read_failed_fname(struct execsnoop_scratch *s, __u64 filename,
					      __s32 dirfd)
{
	static const char fmt[] = "/dev/fd/%d";
	__u64 fd = dirfd;
	char c = 0;
	long n;

	if (dirfd == AT_FDCWD || bpf_probe_read_user(&c, 1, (void *)filename) || c == '/')
		return read_fname(s, 0, (void *)filename, false);
	n = bpf_snprintf((char *)s->buf, 32, fmt, &fd, sizeof(fd));
	if (n <= 0 || n > 32)
		return 0;
	if (!c)
		return n;
	s->buf[(n - 1) & 31] = '/';
	return n + read_fname(s, n, (void *)filename, false);
}

static __always_inline int report_failed(struct trace_event_raw_sys_exit *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct execsnoop_scratch *s;
	struct arg_loop l = {};
	struct exec_args a;
	__u64 filename, argv;
	__s32 dirfd;
	long fl;

	if (!cs_unstage(&staging, tid, &a)) {
		/* A failed exec we should have staged (map full at enter, or
		 * tracing started during the call). */
		if (ctx->ret < 0 && cs_trace_task(bpf_get_current_pid_tgid() >> 32, tid))
			cs_drop(CS_DROP_UNPAIRED);
		return 0;
	}
	filename = a.filename;
	argv = a.argv;
	dirfd = a.dirfd;
	if (ctx->ret >= 0)
		return 0;

	s = fill_header(tid, ctx->ret);
	if (!s || !ppid_ok(s) || !cs_trace_comm(s->e.comm))
		return 0;
	fl = read_failed_fname(s, filename, dirfd);
	if (fl > EXECSNOOP_FNAME_CAP)
		fl = EXECSNOOP_FNAME_CAP;
	l.s = s;
	l.src = argv;
	l.fl = fl;
	l.ptrs = 1;
	l.max = max_args;
	bpf_loop(EXECSNOOP_MAX_ARGS + 1, copy_arg, &l, 0);
	/* The failed exec's memory is still there: count what was not copied. */
	if (s->e.flags & EXECSNOOP_F_ARGS_TRUNC)
		bpf_loop(EXECSNOOP_ARGC_SCAN_MAX, count_arg, &l, 0);
	s->e.argc = l.count;
	s->e.args_total = l.off;
	emit(s, fl, l.off);
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
