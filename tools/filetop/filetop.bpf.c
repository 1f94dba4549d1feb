// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * filetop: reads and writes (calls and bytes) per process and file, from
 * the syscall tracepoints of read, write, pread64, pwrite64, readv and
 * writev. BCC's and libbpf-tools' filetop use kprobes on vfs_read/vfs_write
 * (not available everywhere); this is the tracepoint route:
 * - only the exits: the result (bytes done) from the tracepoint, the fd
 *   from the task's saved registers; the fd resolved through the task's
 *   file table (current->files->fdt, CO-RE) to its inode (the key: TGID,
 *   dev, ino) and, once per key and interval, its path, walked up the
 *   dentries and across mounts (bpf_loop, Linux 5.17+);
 * - bytes are what the call did (its result), not what it asked for
 *   (libbpf-tools counts the requested size); failed calls are not counted;
 * - a key that finds the map full is counted as lost (map_full: "keys
 *   dropped");
 * - what goes around these syscalls is not seen: mmap'ed I/O, io_uring,
 *   sendfile/splice/copy_file_range, preadv2/pwritev2, kernel I/O.
 * A thread that closes and reopens the fd while another thread's call is in
 * flight can have that call counted on the new file (resolved at exit).
 */
#include "common/task.bpf.h"
#include "staging.bpf.h" /* CS_SCRATCH */
#include "fd.bpf.h"
#include "filetop.h"

CORESCOPE_EXPORT(filetop_key);
CORESCOPE_EXPORT(filetop_value);
CORESCOPE_EXPORT_ENUM(filetop_flags);

const volatile __u8 all_files = 0; /* -a: not only regular files */

#define PIPEFS_MAGIC 0x50495045
#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define S_IFREG 0100000

/* Directory levels and mount crossings walked at most. */
#define FILETOP_MAX_DEPTH 40

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, struct filetop_key);
	__type(value, struct filetop_value);
} files SEC(".maps");

/* The value of a new key, built here (too big for the stack). */
CS_SCRATCH(scratch, struct filetop_value);

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

/* Where the path walk is (bpf_loop's context): the dentry and mount as
 * plain numbers (read through CO-RE probes), the offset in the path. */
struct walk {
	__u64 d;
	__u64 m;
	__u32 off;
	__u8 flags;
};

/* One step up: a component written, or a mount crossed. 1 ends the walk.
 * A bpf_loop callback, verified once (an open-coded loop of 40 steps over
 * a varying offset exceeds the verifier's budget). */
static long walk_step(__u32 i, struct walk *w)
{
	struct filetop_value *v = cs_scratch(&scratch);
	struct dentry *d = (struct dentry *)w->d;
	struct mount *m = (struct mount *)w->m;
	struct dentry *root = BPF_CORE_READ(m, mnt.mnt_root);
	struct dentry *parent;
	const unsigned char *name;
	__u32 off = w->off;
	long n;

	if (!v)
		return 1;
	if (d == root) {
		struct mount *up = BPF_CORE_READ(m, mnt_parent);

		if (up == m) {
			w->flags = 0; /* the root of the mount tree */
			return 1;
		}
		w->d = (__u64)BPF_CORE_READ(m, mnt_mountpoint);
		w->m = (__u64)up;
		return 0;
	}
	if (off >= FILETOP_PATH_HALF)
		return 1;
	name = BPF_CORE_READ(d, d_name.name);
	n = bpf_probe_read_kernel_str(&v->path[off & (FILETOP_PATH_HALF - 1)],
				      FILETOP_PATH_HALF, name);
	if (n <= 0)
		return 1;
	off += n;
	/* The NUL becomes the separator. */
	v->path[(off - 1) & (FILETOP_PATH_BUF - 1)] = '/';
	w->off = off;
	parent = BPF_CORE_READ(d, d_parent);
	if (d == parent) {
		/* Its own parent below no mount root: a pseudo file (pipe,
		 * socket, anon inode), outside the tree. */
		w->flags = FILETOP_ANON;
		return 1;
	}
	w->d = (__u64)parent;
	return 0;
}

/* The path of `f` into the scratch value's path (see filetop.h). */
static __always_inline void build_path(struct file *f, struct filetop_value *v)
{
	struct vfsmount *vm = BPF_CORE_READ(f, f_path.mnt);
	struct walk w = {
		.d = (__u64)BPF_CORE_READ(f, f_path.dentry),
		.m = (__u64)container_of(vm, struct mount, mnt),
		.flags = FILETOP_TRUNCATED,
	};

	bpf_loop(FILETOP_MAX_DEPTH, walk_step, &w, 0);
	v->flags = w.flags;
	v->path_len = w.off;
}

static __always_inline int exit_(long ret, __u32 write)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct task_struct *t = bpf_get_current_task_btf();
	struct filetop_key key = {};
	struct filetop_value *v;
	struct file *f;
	struct inode *ino;
	__u32 type, mode;
	int fd;

	if (ret < 0 || !traced(id))
		return 0;
	/* The fd argument, still in the task's saved user registers at exit
	 * (orig_x0 on arm64, where x0 holds the result): no enter program, no
	 * staging, no call missed for having begun before tracing did. */
	fd = (int)PT_REGS_PARM1_CORE_SYSCALL((struct pt_regs *)bpf_task_pt_regs(t));
	f = cs_fd_file(t, fd);
	if (!f)
		return 0;
	ino = BPF_CORE_READ(f, f_inode);
	mode = BPF_CORE_READ(ino, i_mode) & S_IFMT;
	type = mode == S_IFREG ? 'R' : mode == S_IFSOCK ? 'S' : 'O';
	if (!all_files && type != 'R')
		return 0;
	key.tgid = id >> 32;
	key.dev = BPF_CORE_READ(ino, i_sb, s_dev);
	key.ino = BPF_CORE_READ(ino, i_ino);
	v = bpf_map_lookup_elem(&files, &key);
	if (!v) {
		struct filetop_value *s = cs_scratch(&scratch);

		if (!s)
			return 0;
		__builtin_memset(s, 0, offsetof(struct filetop_value, path));
		s->type = type;
		bpf_get_current_comm(&s->comm, sizeof(s->comm));
		build_path(f, s);
		if (BPF_CORE_READ(ino, i_sb, s_magic) == PIPEFS_MAGIC)
			s->flags |= FILETOP_PIPE;
		/* NOEXIST: another CPU may have created it meanwhile. */
		bpf_map_update_elem(&files, &key, s, BPF_NOEXIST);
		v = bpf_map_lookup_elem(&files, &key);
		if (!v) {
			cs_drop(CS_DROP_MAP_FULL);
			return 0;
		}
	}
	if (write) {
		__sync_fetch_and_add(&v->writes, 1);
		__sync_fetch_and_add(&v->wbytes, ret);
	} else {
		__sync_fetch_and_add(&v->reads, 1);
		__sync_fetch_and_add(&v->rbytes, ret);
	}
	return 0;
}

#define FILETOP_SYSCALL(NAME, WRITE)                                           \
	SEC("tracepoint/syscalls/sys_exit_" #NAME)                             \
	int filetop_##NAME(struct trace_event_raw_sys_exit *ctx)               \
	{                                                                      \
		return exit_(ctx->ret, WRITE);                                 \
	}

FILETOP_SYSCALL(read, 0)
FILETOP_SYSCALL(write, 1)
FILETOP_SYSCALL(pread64, 0)
FILETOP_SYSCALL(pwrite64, 1)
FILETOP_SYSCALL(readv, 0)
FILETOP_SYSCALL(writev, 1)
