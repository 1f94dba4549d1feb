// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * filelife: files created and deleted while tracing, with their age. Based
 * on filelife(8) from BCC and libbpf-tools, which hook vfs_create/vfs_unlink
 * with kprobes or fentry; this uses syscall tracepoints only:
 * - a file is created when an open/openat/openat2/creat with O_CREAT
 *   returns a file whose f_mode has FMODE_CREATED (set by the kernel only
 *   when this open made the file: O_CREAT of an existing file does not set
 *   it, so that file is not tracked);
 * - the file is remembered by (device, inode), which a rename keeps, in a
 *   counted LRU (src/lru.bpf.h), plus an index by its name (the last path
 *   component, as the dentry has it) with up to FL_SLOTS (8) files per name;
 * - a successful unlink/unlinkat (not AT_REMOVEDIR) or rename/renameat/
 *   renameat2 looks up the files under the name(s) it touched: one whose
 *   inode has no link left was deleted (its row); one whose dentry now has
 *   another name was renamed (re-indexed under its new name).
 * What it cannot see: files created another way (mknod, link, O_TMPFILE +
 * linkat, a rename into place of an untracked file) and a file whose last
 * remaining link, after a hard link was made, is removed under another
 * name.
 */
#include "common/task.bpf.h"
#include "staging.bpf.h"
#include "lru.bpf.h"
#include "filelife.h"

CORESCOPE_EXPORT(filelife_event);
CORESCOPE_EXPORT_ENUM(filelife_consts);
CORESCOPE_EXPORT_ENUM(filelife_how);

#define O_CREAT 0100
#define AT_REMOVEDIR 0x200
#define FMODE_CREATED (1U << 20)
#define FL_PATH_MAX 4096
#define FL_NAME_MAX 256
#define FL_SLOTS 8

const volatile __u32 max_files = 65536;

struct fl_key {
	__u64 ino;
	__u32 dev;
	__u32 pad;
};

struct fl_file {
	__u64 created_ns;
	__u64 inode;  /* struct inode *, to read its link count */
	__u64 dentry; /* struct dentry *, to read its name after a rename */
	__u32 cpid;
	__u8 ccomm[CS_COMM_LEN];
};

struct fl_name {
	__u8 name[FL_NAME_MAX];
};

struct fl_slots {
	struct fl_key k[FL_SLOTS];
};

CS_COUNTED_LRU(files, fl_live, struct fl_key, struct fl_file);

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC); /* big keys: allocated as used */
	__uint(max_entries, 65536); /* set by user space: --max-files */
	__type(key, struct fl_name);
	__type(value, struct fl_slots);
} names SEC(".maps");

enum { ST_CREATE = 1, ST_UNLINK = 2, ST_RENAME = 3 };

struct fl_stage {
	__u64 path;    /* unlink's path; rename's old path */
	__u64 newpath; /* rename's new path */
	__u8 kind;
};

CS_STAGING(stages, struct fl_stage, 10240);

struct fl_scratch {
	__u8 path[FL_PATH_MAX];
	struct fl_name name; /* a name being looked up */
	struct fl_name cur;  /* a dentry's current name */
	__u32 path_len;      /* bytes read into path, NUL included */
	struct fl_slots slots; /* check_name()'s copy of a name's slots */
	__u32 live;            /* of those, files still there */
	__u8 how;
};

CS_SCRATCH(scratch, struct fl_scratch);

static __always_inline bool empty_key(const struct fl_key *k)
{
	return !k->ino && !k->dev;
}

static __always_inline bool same_key(const struct fl_key *a, const struct fl_key *b)
{
	return a->ino == b->ino && a->dev == b->dev;
}

/* Adds `key` under `name`; false when the name's slots all hold live files. */
static __always_inline bool index_add(const struct fl_name *name, const struct fl_key *key)
{
	struct fl_slots *sl = bpf_map_lookup_elem(&names, name);

	if (!sl) {
		struct fl_slots z = {};

		z.k[0] = *key;
		if (!bpf_map_update_elem(&names, name, &z, BPF_NOEXIST))
			return true;
		sl = bpf_map_lookup_elem(&names, name); /* another CPU made it */
		if (!sl)
			return false;
	}
	for (int i = 0; i < FL_SLOTS; i++) {
		if (empty_key(&sl->k[i]) || same_key(&sl->k[i], key) ||
		    !bpf_map_lookup_elem(&files, &sl->k[i])) {
			sl->k[i] = *key;
			return true;
		}
	}
	return false;
}

/* Zeroes `n` and reads a NUL-terminated name into it (kernel memory). */
static __always_inline void name_from(struct fl_name *n, const void *src)
{
	__builtin_memset(n->name, 0, sizeof(n->name));
	bpf_probe_read_kernel_str(n->name, sizeof(n->name), src);
}

static __always_inline bool same_name(const struct fl_name *a, const struct fl_name *b)
{
	const __u64 *x = (const __u64 *)a->name, *y = (const __u64 *)b->name;

	for (int i = 0; i < FL_NAME_MAX / 8; i++)
		if (x[i] != y[i])
			return false;
	return true;
}

/* ---- creation ------------------------------------------------------------ */

static __always_inline int enter_create(__u64 flags)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct fl_stage st = { .kind = ST_CREATE };

	if (!(flags & O_CREAT) || !cs_trace_task(id >> 32, (__u32)id))
		return 0;
	if (cs_stage(&stages, (__u32)id, &st))
		cs_drop(CS_DROP_MAP_FULL);
	return 0;
}

static __always_inline struct file *fd_file(long fd)
{
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(t, files, fdt);
	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *f = NULL;

	if (fd < 0 || fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
	return f;
}

static __always_inline int exit_create(long ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct fl_file v = {};
	struct fl_stage st;
	struct fl_scratch *s;
	struct fl_key k = {};
	struct inode *inode;
	struct dentry *d;
	struct file *f;

	if (!cs_unstage(&stages, tid, &st) || st.kind != ST_CREATE || ret < 0)
		return 0;
	f = fd_file(ret);
	if (!f || !(BPF_CORE_READ(f, f_mode) & FMODE_CREATED))
		return 0; /* it existed: not created by this open */
	bpf_get_current_comm(v.ccomm, sizeof(v.ccomm));
	if (!cs_trace_comm(v.ccomm))
		return 0;
	s = cs_scratch(&scratch);
	if (!s)
		return 0;
	inode = BPF_CORE_READ(f, f_inode);
	d = BPF_CORE_READ(f, f_path.dentry);
	k.ino = BPF_CORE_READ(inode, i_ino);
	k.dev = BPF_CORE_READ(inode, i_sb, s_dev);
	v.created_ns = bpf_ktime_get_ns();
	v.inode = (__u64)inode;
	v.dentry = (__u64)d;
	v.cpid = bpf_get_current_pid_tgid() >> 32;
	name_from(&s->name, BPF_CORE_READ(d, d_name.name));

	if (!cs_lru_take(&fl_live, max_files)) {
		cs_drop(CS_DROP_MAP_FULL);
		return 0;
	}
	/* An entry already there is an inode number reused after a deletion
	 * this tool did not see: replaced, its slot still counted once. */
	if (bpf_map_update_elem(&files, &k, &v, BPF_NOEXIST)) {
		cs_lru_release(&fl_live);
		if (bpf_map_update_elem(&files, &k, &v, BPF_EXIST))
			return 0;
	}
	if (!index_add(&s->name, &k)) {
		if (!bpf_map_delete_elem(&files, &k))
			cs_lru_release(&fl_live);
		cs_drop(CS_DROP_MAP_FULL);
	}
	return 0;
}

SEC("tp/syscalls/sys_enter_openat")
int handle_enter_openat(struct trace_event_raw_sys_enter *ctx)
{
	return enter_create(ctx->args[2]);
}

SEC("tp/syscalls/sys_enter_open")
int handle_enter_open(struct trace_event_raw_sys_enter *ctx)
{
	return enter_create(ctx->args[1]);
}

SEC("tp/syscalls/sys_enter_creat")
int handle_enter_creat(struct trace_event_raw_sys_enter *ctx)
{
	return enter_create(O_CREAT);
}

SEC("tp/syscalls/sys_enter_openat2")
int handle_enter_openat2(struct trace_event_raw_sys_enter *ctx)
{
	__u64 flags = 0;

	/* struct open_how starts with its flags (__u64) */
	if (bpf_probe_read_user(&flags, sizeof(flags), (void *)ctx->args[2]))
		return 0;
	return enter_create(flags);
}

SEC("tp/syscalls/sys_exit_openat")
int handle_exit_openat(struct trace_event_raw_sys_exit *ctx)
{
	return exit_create(ctx->ret);
}

SEC("tp/syscalls/sys_exit_open")
int handle_exit_open(struct trace_event_raw_sys_exit *ctx)
{
	return exit_create(ctx->ret);
}

SEC("tp/syscalls/sys_exit_creat")
int handle_exit_creat(struct trace_event_raw_sys_exit *ctx)
{
	return exit_create(ctx->ret);
}

SEC("tp/syscalls/sys_exit_openat2")
int handle_exit_openat2(struct trace_event_raw_sys_exit *ctx)
{
	return exit_create(ctx->ret);
}

/* ---- deletion and renames -------------------------------------------------- */

static __always_inline int enter_remove(__u64 path, __u64 newpath, __u8 kind)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct fl_stage st = { .path = path, .newpath = newpath, .kind = kind };

	/* Every task, traced or not: a tracked file's entry goes when it is
	 * deleted, whoever deletes it (only traced deleters get a row). */
	if (cs_stage(&stages, tid, &st))
		cs_drop(CS_DROP_MAP_FULL);
	return 0;
}

struct base_ctx {
	__u32 len;  /* bytes read, NUL included */
	__u32 base; /* the last component's start */
};

/* bpf_loop callback (its context must be on the stack: the scratch is
 * looked up again, an inlined per-CPU array access): the start of the last
 * component, after the last '/' followed by something. */
static long base_step(__u32 i, void *arg)
{
	struct base_ctx *c = arg;
	struct fl_scratch *s = cs_scratch(&scratch);

	__u32 j = i + 1;

	if (!s || j >= c->len)
		return 1;
	/* masks the compiler must keep, for the verifier */
	barrier_var(i);
	barrier_var(j);
	if (s->path[i & (FL_PATH_MAX - 1)] == '/' && s->path[j & (FL_PATH_MAX - 1)])
		c->base = j;
	return 0;
}

/* Reads the user path into s->path and its last component into s->name;
 * false when it cannot be read. */
static __always_inline bool read_path(struct fl_scratch *s, __u64 upath)
{
	long n = bpf_probe_read_user_str(s->path, sizeof(s->path), (void *)upath);
	struct base_ctx c = {};

	if (n <= 0)
		return false;
	c.len = n;
	bpf_loop(FL_PATH_MAX, base_step, &c, 0);
	s->path_len = n;
	name_from(&s->name, s->path + (c.base & (FL_PATH_MAX - 1)));
	return true;
}

static __always_inline void emit(struct fl_scratch *s, const struct fl_key *k,
				 const struct fl_file *f, __u8 how)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct filelife_event *e;
	__u32 n;

	if (!cs_trace_task(id >> 32, (__u32)id))
		return;
	e = cs_reserve(sizeof(*e));
	if (!e)
		return;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	if (!cs_trace_comm(e->comm)) {
		bpf_ringbuf_discard(e, BPF_RB_NO_WAKEUP);
		return;
	}
	e->ts_ns = bpf_ktime_get_ns();
	e->created_ns = f->created_ns;
	e->ino = k->ino;
	e->dev = k->dev;
	e->pid = id >> 32;
	e->tid = (__u32)id;
	e->uid = (__u32)bpf_get_current_uid_gid();
	e->cpid = f->cpid;
	__builtin_memcpy(e->ccomm, f->ccomm, sizeof(e->ccomm));
	e->how = how;
	n = s->path_len ? s->path_len - 1 : 0;
	e->path_trunc = n >= FILELIFE_PATH_CAP || s->path_len >= FL_PATH_MAX;
	if (n > FILELIFE_PATH_CAP)
		n = FILELIFE_PATH_CAP;
	e->path_len = n;
	bpf_probe_read_kernel(e->path, sizeof(e->path), s->path);
	cs_submit_batched(e);
}

/* One slot of s->slots (a bpf_loop callback, verified once: an unrolled
 * loop made each program take seconds to verify). A deleted file is
 * reported and forgotten, a renamed one re-indexed under its new name. */
static long check_slot(__u32 i, void *arg)
{
	struct fl_scratch *s = cs_scratch(&scratch);
	struct inode *inode;
	struct dentry *d;
	struct fl_file *f;
	struct fl_key k;

	if (!s)
		return 1;
	barrier_var(i);
	i &= FL_SLOTS - 1;
	k = s->slots.k[i];
	if (empty_key(&k))
		return 0;
	f = bpf_map_lookup_elem(&files, &k);
	if (!f) {
		__builtin_memset(&s->slots.k[i], 0, sizeof(k));
		return 0;
	}
	inode = (struct inode *)f->inode;
	/* The inode may be on its way to being freed (its last link and
	 * reference went in this call): its number is checked first. */
	if (BPF_CORE_READ(inode, i_ino) == k.ino && BPF_CORE_READ(inode, __i_nlink) == 0) {
		emit(s, &k, f, s->how);
		if (!bpf_map_delete_elem(&files, &k))
			cs_lru_release(&fl_live);
		__builtin_memset(&s->slots.k[i], 0, sizeof(k));
		return 0;
	}
	d = (struct dentry *)f->dentry;
	if ((__u64)BPF_CORE_READ(d, d_inode) == f->inode) {
		name_from(&s->cur, BPF_CORE_READ(d, d_name.name));
		if (!same_name(&s->cur, &s->name)) {
			__builtin_memset(&s->slots.k[i], 0, sizeof(k));
			if (!index_add(&s->cur, &k)) {
				if (!bpf_map_delete_elem(&files, &k))
					cs_lru_release(&fl_live);
				cs_drop(CS_DROP_MAP_FULL);
			}
			return 0;
		}
	}
	s->live++;
	return 0;
}

/* The files indexed under s->name after a successful unlink or rename,
 * checked on a copy of their slots, written back after. */
static __always_inline void check_name(struct fl_scratch *s, __u8 how)
{
	struct fl_slots *sl = bpf_map_lookup_elem(&names, &s->name);

	if (!sl)
		return;
	s->slots = *sl;
	s->how = how;
	s->live = 0;
	bpf_loop(FL_SLOTS, check_slot, NULL, 0);
	sl = bpf_map_lookup_elem(&names, &s->name);
	if (!s->live)
		bpf_map_delete_elem(&names, &s->name);
	else if (sl)
		*sl = s->slots;
}

static __always_inline int exit_remove(void *ctx, long ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct fl_scratch *s;
	struct fl_stage st;

	if (!cs_unstage(&stages, tid, &st) || ret != 0)
		return 0;
	s = cs_scratch(&scratch);
	if (!s)
		return 0;
	if (st.kind == ST_UNLINK) {
		if (read_path(s, st.path))
			check_name(s, FILELIFE_UNLINK);
	} else if (st.kind == ST_RENAME) {
		/* The file replaced at the new name first (its row names the new
		 * path), then the renamed file (RENAME_EXCHANGE: both ways). */
		if (read_path(s, st.newpath))
			check_name(s, FILELIFE_RENAME);
		if (read_path(s, st.path))
			check_name(s, FILELIFE_RENAME);
	}
	return 0;
}

SEC("tp/syscalls/sys_enter_unlinkat")
int handle_enter_unlinkat(struct trace_event_raw_sys_enter *ctx)
{
	if (ctx->args[2] & AT_REMOVEDIR)
		return 0; /* rmdir: files only */
	return enter_remove(ctx->args[1], 0, ST_UNLINK);
}

SEC("tp/syscalls/sys_enter_unlink")
int handle_enter_unlink(struct trace_event_raw_sys_enter *ctx)
{
	return enter_remove(ctx->args[0], 0, ST_UNLINK);
}

SEC("tp/syscalls/sys_enter_renameat2")
int handle_enter_renameat2(struct trace_event_raw_sys_enter *ctx)
{
	return enter_remove(ctx->args[1], ctx->args[3], ST_RENAME);
}

SEC("tp/syscalls/sys_enter_renameat")
int handle_enter_renameat(struct trace_event_raw_sys_enter *ctx)
{
	return enter_remove(ctx->args[1], ctx->args[3], ST_RENAME);
}

SEC("tp/syscalls/sys_enter_rename")
int handle_enter_rename(struct trace_event_raw_sys_enter *ctx)
{
	return enter_remove(ctx->args[0], ctx->args[1], ST_RENAME);
}

SEC("tp/syscalls/sys_exit_unlinkat")
int handle_exit_unlinkat(struct trace_event_raw_sys_exit *ctx)
{
	return exit_remove(ctx, ctx->ret);
}

SEC("tp/syscalls/sys_exit_unlink")
int handle_exit_unlink(struct trace_event_raw_sys_exit *ctx)
{
	return exit_remove(ctx, ctx->ret);
}

SEC("tp/syscalls/sys_exit_renameat2")
int handle_exit_renameat2(struct trace_event_raw_sys_exit *ctx)
{
	return exit_remove(ctx, ctx->ret);
}

SEC("tp/syscalls/sys_exit_renameat")
int handle_exit_renameat(struct trace_event_raw_sys_exit *ctx)
{
	return exit_remove(ctx, ctx->ret);
}

SEC("tp/syscalls/sys_exit_rename")
int handle_exit_rename(struct trace_event_raw_sys_exit *ctx)
{
	return exit_remove(ctx, ctx->ret);
}
