// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * opensnoop: one record per open. Based on opensnoop(8) from BCC and
 * libbpf-tools, with these differences:
 * - creat(2) is traced too, and openat2's flags/mode come from its open_how;
 * - the filename is read at syscall exit, when the kernel has already
 *   copied it (so its page is in memory), not at entry;
 * - the enter → exit staging lives in task-local storage: no shared hash to
 *   fill up or leak, and an enter whose exit was never seen is counted;
 * - -F resolves a relative path against the directory of its dirfd (or the
 *   cwd for AT_FDCWD), walking dentries and mounts up to the task's root;
 * - --path is matched here, on the path as shown (full with -F), so
 *   filtered-out opens cost no ring-buffer space;
 * - --callers keeps the innermost user-space return addresses.
 */
#include "common/task.bpf.h"
#include "staging.bpf.h"
#include "opensnoop.h"

CORESCOPE_EXPORT(opensnoop_event);
CORESCOPE_EXPORT_ENUM(opensnoop_consts);
CORESCOPE_EXPORT_ENUM(opensnoop_syscall);
CORESCOPE_EXPORT_ENUM(opensnoop_path_match);
CORESCOPE_EXPORT_ENUM(opensnoop_status);

#define AT_FDCWD -100
#define O_WRONLY 01
#define O_CREAT 0100
#define O_TRUNC 01000

const volatile __u8 failed_only = 0;
const volatile __u8 full_path = 0;
/* -f: every bit of one of flag_sets[0, flag_n) (O_TMPFILE, O_SYNC have
 * several), or O_RDONLY access mode with flag_rdonly. As FlagFilter in
 * tools/opensnoop/openflags.rs. */
const volatile __u32 flag_n = 0;
const volatile __u32 flag_sets[OPENSNOOP_MAX_FLAGS] = {};
const volatile __u8 flag_rdonly = 0;
/* --path */
const volatile __u8 path_match = OPENSNOOP_MATCH_NONE;
const volatile __u32 path_len = 0;
const volatile __u8 path_pat[OPENSNOOP_PATTERN_CAP] = {};
/* --callers */
const volatile __u32 callers_n = 0;

#define HDR_SIZE sizeof(struct opensnoop_event)
/* Record area: the header and the callers are placed right before the
 * directory prefix, which is written backwards so that it ends where the
 * filename starts (FN_OFF): the full path is contiguous, for --path, and the
 * whole record is one bpf_ringbuf_output() from buf + start. */
#define PRE_MIN (HDR_SIZE + OPENSNOOP_MAX_CALLERS * 8)
#define FN_OFF (PRE_MIN + OPENSNOOP_DIR_CAP)
/* Room past the filename so that bounds the verifier proves separately
 * (start and size) always fit. */
#define SCRATCH_SIZE (FN_OFF + OPENSNOOP_FNAME_CAP + OPENSNOOP_DIR_CAP + PRE_MIN + 64)

struct scratch {
	__u8 buf[SCRATCH_SIZE];
};

_Static_assert(HDR_SIZE % 8 == 0, "payload must start right after the header");

CS_SCRATCH(scratch, struct scratch);

enum stage_state {
	ST_IDLE = 0,
	ST_ARMED = 1, /* enter seen and wanted: the exit reports it */
	ST_SKIP = 2,  /* enter seen but filtered out (-f, --comm) */
};

/* What the enter saw, for the exit of the same task. */
struct stage {
	__u64 fname;
	__u32 flags;
	__u32 mode;
	__s32 dfd;
	__u16 status;
	__u8 syscall;
	__u8 state;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct stage);
} stages SEC(".maps");

/* ---- exit: build and emit the record ---------------------------------- */

struct walk_ctx {
	__u8 *buf;
	struct dentry *d;
	struct vfsmount *vm;
	struct dentry *root_d;
	struct vfsmount *root_m;
	__u64 mnt_off;
	__u32 pos; /* start of what is written so far */
	__u8 done;
};

/* One step up from c->d: a path component, or a mount crossing. */
static long walk_step(__u32 i, void *arg)
{
	struct walk_ctx *c = arg;
	struct dentry *d = c->d, *parent;
	struct vfsmount *vm = c->vm;
	const unsigned char *name;
	__u32 n;
	__s64 np;

	if (d == c->root_d && vm == c->root_m)
		goto done; /* the task's root (chroot, container) */
	parent = BPF_CORE_READ(d, d_parent);
	if (d == BPF_CORE_READ(vm, mnt_root)) {
		/* Top of this mount: go on from its mount point. */
		struct mount *m = (void *)vm - c->mnt_off;
		struct mount *up = BPF_CORE_READ(m, mnt_parent);

		if (up == m)
			goto done; /* the namespace's root mount */
		c->d = BPF_CORE_READ(m, mnt_mountpoint);
		c->vm = (void *)up + c->mnt_off;
		return 0;
	}
	if (d == parent)
		goto done; /* root of a detached tree */
	n = BPF_CORE_READ(d, d_name.len);
	name = BPF_CORE_READ(d, d_name.name);
	if (n > 255)
		n = 255;
	np = (__s64)c->pos - n - 1;
	if (np < (__s64)PRE_MIN || np >= (__s64)FN_OFF)
		return 1; /* too long: truncated */
	bpf_probe_read_kernel(c->buf + np + 1, n, name);
	c->buf[np] = '/';
	c->pos = np;
	c->d = parent;
	return 0;
done:
	c->done = 1;
	return 1;
}

/* Writes the directory of `d`/`vm` backwards, '/'-separated and
 * '/'-terminated, so that it ends at FN_OFF; returns its start offset. */
static __always_inline __u32 walk_dir(__u8 *buf, struct dentry *d, struct vfsmount *vm,
				      struct task_struct *task, __u16 *status)
{
	struct walk_ctx c = {
		.buf = buf,
		.d = d,
		.vm = vm,
		.root_d = BPF_CORE_READ(task, fs, root.dentry),
		.root_m = BPF_CORE_READ(task, fs, root.mnt),
		.mnt_off = bpf_core_field_offset(struct mount, mnt),
		.pos = FN_OFF - 1,
	};

	buf[FN_OFF - 1] = '/';
	bpf_loop(OPENSNOOP_MAX_DEPTH, walk_step, &c, 0);
	if (!c.done)
		*status |= OPENSNOOP_S_DIR_TRUNC;
	return c.pos;
}

/* Directory that a relative filename is looked up in: dirfd's file, or cwd. */
static __always_inline __u32 resolve(__u8 *buf, __s32 dfd, __u16 *status)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct dentry *d;
	struct vfsmount *vm;

	if (dfd == AT_FDCWD) {
		d = BPF_CORE_READ(task, fs, pwd.dentry);
		vm = BPF_CORE_READ(task, fs, pwd.mnt);
	} else {
		struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
		struct file **fds = BPF_CORE_READ(fdt, fd);
		struct file *f = NULL;

		if (dfd < 0 || (__u32)dfd >= BPF_CORE_READ(fdt, max_fds) ||
		    bpf_probe_read_kernel(&f, sizeof(f), fds + dfd) || !f) {
			*status |= OPENSNOOP_S_DIR_UNKNOWN;
			return FN_OFF;
		}
		d = BPF_CORE_READ(f, f_path.dentry);
		vm = BPF_CORE_READ(f, f_path.mnt);
	}
	if (!d || !vm) {
		*status |= OPENSNOOP_S_DIR_UNKNOWN;
		return FN_OFF;
	}
	*status |= OPENSNOOP_S_RESOLVED;
	return walk_dir(buf, d, vm, task, status);
}

struct substr_ctx {
	__u8 *buf;
	__u32 base;
	__u8 found;
};

static long substr_at(__u32 j, void *arg)
{
	struct substr_ctx *c = arg;
	__u32 idx = c->base + j;
	__u8 *p;

	if (idx > SCRATCH_SIZE - OPENSNOOP_PATTERN_CAP)
		return 1;
	p = c->buf + idx;
	for (__u32 i = 0; i < OPENSNOOP_PATTERN_CAP; i++) {
		if (i >= path_len)
			break;
		if (p[i] != path_pat[i])
			return 0;
	}
	c->found = 1;
	return 1;
}

/* --path on buf[base, base + len): the path as shown. */
static __always_inline bool path_wanted(__u8 *buf, __u32 base, __u32 len)
{
	__u8 *p;

	if (path_match == OPENSNOOP_MATCH_NONE)
		return true;
	/* The caller already clamped base, so the compiler would drop this
	 * check; with -F base comes from bpf_loop's context, unbounded to the
	 * verifier, which needs the check right here. */
	asm volatile("" : "+r"(base));
	if (len < path_len || base > FN_OFF)
		return false;
	if (path_match == OPENSNOOP_MATCH_PREFIX) {
		p = buf + base;
		for (__u32 i = 0; i < OPENSNOOP_PATTERN_CAP; i++) {
			if (i >= path_len)
				break;
			if (p[i] != path_pat[i])
				return false;
		}
		return true;
	}
	struct substr_ctx c = { .buf = buf, .base = base };

	bpf_loop(len - path_len + 1, substr_at, &c, 0);
	return c.found;
}

/* --path PREFIX, cheaply: reads only as many bytes of the filename as the
 * prefix has. False only when the path as shown cannot match (with -F, a
 * relative path gets a directory in front, so it is not ruled out here). */
static __always_inline bool prefix_may_match(__u64 fname)
{
	__u8 head[OPENSNOOP_PATTERN_CAP + 1];
	__u32 n = path_len + 1;
	long r;

	if (n > sizeof(head))
		n = sizeof(head);
	r = bpf_probe_read_user_str(head, n, (void *)fname);
	if (r <= 0 || (full_path && head[0] != '/'))
		return true; /* decided on the whole path */
	for (__u32 i = 0; i < OPENSNOOP_PATTERN_CAP; i++) {
		if (i >= path_len)
			break;
		if (head[i] != path_pat[i])
			return false;
	}
	return true;
}

static __always_inline int handle_exit(void *ctx, long ret)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u64 id = bpf_get_current_pid_tgid();
	struct opensnoop_event e = {};
	struct stage *st, sv;
	struct scratch *s;
	__u32 nc, pos, dl, len, start, size;
	long fl;

	st = bpf_task_storage_get(&stages, task, 0, 0);
	if (!st)
		return 0; /* no enter seen: filtered, or in flight at attach */
	if (st->state != ST_ARMED) {
		/* An exit whose enter was missed (it would have been armed or
		 * skipped): the event is lost. */
		if (st->state == ST_IDLE && cs_trace_task(id >> 32, (__u32)id))
			cs_drop(CS_DROP_UNPAIRED);
		st->state = ST_IDLE;
		return 0;
	}
	sv = *st;
	st->state = ST_IDLE;
	if (failed_only && ret >= 0)
		return 0;

	if (path_match == OPENSNOOP_MATCH_PREFIX && !prefix_may_match(sv.fname))
		return 0;
	s = cs_scratch(&scratch);
	if (!s)
		return 0;
	e.status = sv.status;
	fl = bpf_probe_read_user_str(s->buf + FN_OFF, OPENSNOOP_FNAME_CAP, (void *)sv.fname);
	if (fl < 0) {
		e.status |= OPENSNOOP_S_FNAME_FAULT;
		fl = 0;
	}
	if (fl >= OPENSNOOP_FNAME_CAP) {
		__u8 next = 0;

		/* A full buffer is a 4095-byte name and its NUL, or a longer
		 * name cut: the user's byte where the buffer has its NUL tells
		 * which. */
		fl = OPENSNOOP_FNAME_CAP;
		if (bpf_probe_read_user(&next, 1, (void *)(sv.fname + OPENSNOOP_FNAME_CAP - 1)) ||
		    next)
			e.status |= OPENSNOOP_S_FNAME_TRUNC;
	}
	pos = FN_OFF;
	if (full_path && fl > 1 && s->buf[FN_OFF] != '/')
		pos = resolve(s->buf, sv.dfd, &e.status);
	if (pos < PRE_MIN || pos > FN_OFF)
		pos = FN_OFF;
	dl = FN_OFF - pos;
	/* The path as shown, without the filename's NUL. */
	len = dl + (fl > 0 ? fl - 1 : 0);
	if (!path_wanted(s->buf, pos, len))
		return 0;

	nc = callers_n;
	if (nc > OPENSNOOP_MAX_CALLERS)
		nc = OPENSNOOP_MAX_CALLERS;
	start = pos - nc * 8 - HDR_SIZE;
	if (start > FN_OFF)
		return 0;
	if (nc)
		bpf_get_stack(ctx, s->buf + start + HDR_SIZE, nc * 8, BPF_F_USER_STACK);

	e.ts_ns = bpf_ktime_get_ns();
	e.pid = id >> 32;
	e.tid = (__u32)id;
	e.uid = (__u32)bpf_get_current_uid_gid();
	e.ret = ret;
	e.flags = sv.flags;
	e.mode = sv.mode;
	e.fname_len = fl;
	e.dir_len = dl;
	e.syscall = sv.syscall;
	e.nr_callers = nc;
	bpf_get_current_comm(e.comm, sizeof(e.comm));
	bpf_probe_read_kernel(s->buf + start, HDR_SIZE, &e);
	size = HDR_SIZE + nc * 8 + dl + fl;
	/* Keep the compiler from dropping the bound the verifier needs. */
	asm volatile("" : "+r"(size));
	if (size > SCRATCH_SIZE - FN_OFF)
		return 0;
	cs_output_lazy(s->buf + start, size);
	return 0;
}

/* Exits come first so they are attached first: an open in flight while
 * tracing starts is then never half-seen as an enter without its exit. */
SEC("tp/syscalls/sys_exit_open")
int handle_exit_open(struct trace_event_raw_sys_exit *ctx)
{
	return handle_exit(ctx, ctx->ret);
}

SEC("tp/syscalls/sys_exit_openat")
int handle_exit_openat(struct trace_event_raw_sys_exit *ctx)
{
	return handle_exit(ctx, ctx->ret);
}

SEC("tp/syscalls/sys_exit_openat2")
int handle_exit_openat2(struct trace_event_raw_sys_exit *ctx)
{
	return handle_exit(ctx, ctx->ret);
}

SEC("tp/syscalls/sys_exit_creat")
int handle_exit_creat(struct trace_event_raw_sys_exit *ctx)
{
	return handle_exit(ctx, ctx->ret);
}

/* ---- enter: filter and stage ----------------------------------------- */

static __always_inline bool flags_wanted(__u32 flags)
{
	if (!flag_n && !flag_rdonly)
		return true;
	if (flag_rdonly && (flags & 3) == 0)
		return true;
	for (__u32 i = 0; i < OPENSNOOP_MAX_FLAGS; i++) {
		if (i >= flag_n)
			break;
		if ((flags & flag_sets[i]) == flag_sets[i])
			return true;
	}
	return false;
}

static __always_inline int handle_enter(__u8 sc, __s32 dfd, __u64 fname, __u32 flags,
					__u32 mode, __u16 status)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct stage *st;
	__u8 comm[CS_COMM_LEN];

	if (!cs_trace_task(id >> 32, (__u32)id))
		return 0;
	st = bpf_task_storage_get(&stages, bpf_get_current_task_btf(), 0,
				  BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!st) {
		cs_drop(CS_DROP_MAP_FULL);
		return 0;
	}
	if (st->state == ST_ARMED)
		cs_drop(CS_DROP_UNPAIRED); /* the previous open's exit was missed */
	st->state = ST_SKIP;
	if (cs_cfg.comm_on) {
		bpf_get_current_comm(comm, sizeof(comm));
		if (!cs_trace_comm(comm))
			return 0;
	}
	if (!flags_wanted(flags))
		return 0;
	st->fname = fname;
	st->flags = flags;
	st->mode = mode;
	st->dfd = dfd;
	st->status = status;
	st->syscall = sc;
	st->state = ST_ARMED;
	return 0;
}

SEC("tp/syscalls/sys_enter_open")
int handle_enter_open(struct trace_event_raw_sys_enter *ctx)
{
	return handle_enter(OPENSNOOP_SYS_OPEN, AT_FDCWD, ctx->args[0], ctx->args[1],
			    ctx->args[2], 0);
}

SEC("tp/syscalls/sys_enter_openat")
int handle_enter_openat(struct trace_event_raw_sys_enter *ctx)
{
	return handle_enter(OPENSNOOP_SYS_OPENAT, ctx->args[0], ctx->args[1], ctx->args[2],
			    ctx->args[3], 0);
}

SEC("tp/syscalls/sys_enter_openat2")
int handle_enter_openat2(struct trace_event_raw_sys_enter *ctx)
{
	struct open_how how = {};
	__u16 status = 0;

	if (bpf_probe_read_user(&how, sizeof(how), (void *)ctx->args[2]))
		status = OPENSNOOP_S_HOW_FAULT;
	return handle_enter(OPENSNOOP_SYS_OPENAT2, ctx->args[0], ctx->args[1], how.flags,
			    how.mode, status);
}

SEC("tp/syscalls/sys_enter_creat")
int handle_enter_creat(struct trace_event_raw_sys_enter *ctx)
{
	return handle_enter(OPENSNOOP_SYS_CREAT, AT_FDCWD, ctx->args[0],
			    O_CREAT | O_WRONLY | O_TRUNC, ctx->args[1], 0);
}
