/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __FILETOP_H
#define __FILETOP_H

#include "common/common.h"

/* The path buffer: components are written at offsets below
 * FILETOP_PATH_HALF, each at most FILETOP_PATH_HALF bytes long. */
#define FILETOP_PATH_HALF 256
#define FILETOP_PATH_BUF (2 * FILETOP_PATH_HALF)

enum filetop_flags {
	FILETOP_TRUNCATED = 1, /* the walk stopped before the root */
	FILETOP_ANON = 2,      /* not in the mount tree (pipe, socket, anon inode) */
	FILETOP_PIPE = 4,      /* a pipe (pipefs) */
};

/* The key of the `files` map: a process and a file. */
struct filetop_key {
	__u32 tgid;
	__u32 dev;   /* the file's superblock (st_dev, kernel encoding) */
	__u64 ino;
};

/* What one key counted this interval. */
struct filetop_value {
	__u64 reads;
	__u64 writes;
	__u64 rbytes;
	__u64 wbytes;
	__u8 comm[CS_COMM_LEN];
	__u16 path_len;   /* bytes of `path` used */
	__u8 type;        /* 'R' regular, 'S' socket, 'O' other */
	__u8 flags;       /* enum filetop_flags */
	__u8 __pad[4];
	/* The path's components leaf first, each followed by '/':
	 * "f.txt/dir/tmp/" is /tmp/dir/f.txt (user space turns it around). */
	__u8 path[FILETOP_PATH_BUF];
};

#endif /* __FILETOP_H */
