/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A task's open file by descriptor, through its file table (CO-RE reads
 * of task->files->fdt; no kprobe needed): filetop resolves the fd of a
 * read/write, bindsnoop the socket of a bind.
 *
 *   struct file *f = cs_fd_file(bpf_get_current_task_btf(), fd);  // NULL: none
 *   struct socket *s = cs_file_socket(f);                          // NULL: not a socket
 *
 * Read at a syscall's exit, the fd may have been closed (or reused) by
 * another thread meanwhile: the caller says so where it matters.
 */
#ifndef CORESCOPE_FD_BPF_H
#define CORESCOPE_FD_BPF_H

#include "common/common.bpf.h"

#ifndef SOCKFS_MAGIC
#define SOCKFS_MAGIC 0x534F434B
#endif

/* The file of descriptor `fd` of task `t`, or NULL. */
static __always_inline struct file *cs_fd_file(struct task_struct *t, int fd)
{
	struct fdtable *fdt;
	struct file **fds, *f = NULL;

	if (fd < 0)
		return NULL;
	fdt = BPF_CORE_READ(t, files, fdt);
	if (!fdt || (__u32)fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	fds = BPF_CORE_READ(fdt, fd);
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
	return f;
}

/* The socket of file `f` (a sockfs file: its private_data), or NULL. */
static __always_inline struct socket *cs_file_socket(struct file *f)
{
	if (!f || BPF_CORE_READ(f, f_inode, i_sb, s_magic) != SOCKFS_MAGIC)
		return NULL;
	return (struct socket *)BPF_CORE_READ(f, private_data);
}

#endif /* CORESCOPE_FD_BPF_H */
