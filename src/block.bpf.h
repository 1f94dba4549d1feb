/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Block requests, for the block tools (biolatency, biosnoop, biotop): a
 * request's disk as the kernel's dev_t (src/disk.rs turns it into a name)
 * and its operation as a letter. Needs the tp_btf request pointer.
 */
#ifndef __CORESCOPE_BLOCK_BPF_H
#define __CORESCOPE_BLOCK_BPF_H

#include "common/common.bpf.h"

/* The kernel's dev_t: MAJOR << 20 | MINOR (src/disk.rs MINORBITS). */
#define CS_MINORBITS 20

/* request::rq_disk until 5.17; request_queue::disk since. */
struct request___old {
	struct gendisk *rq_disk;
} __attribute__((preserve_access_index));

/* The request's disk (dev_t); 0 when it has none. */
static __always_inline __u32 cs_rq_dev(struct request *rq)
{
	struct request___old *old = (void *)rq;
	struct gendisk *disk;

	/* Direct loads through the tp_btf pointers (CO-RE relocated, no
	 * helper call; a NULL one reads 0): cheaper than BPF_CORE_READ. */
	if (bpf_core_field_exists(old->rq_disk))
		disk = BPF_CORE_READ(old, rq_disk);
	else
		disk = rq->q->disk;
	if (!disk)
		return 0;
	return (__u32)disk->major << CS_MINORBITS | (__u32)disk->first_minor;
}

#define CS_RQ_OP(kernel, letter)                                               \
	if (bpf_core_enum_value_exists(enum req_op, kernel) &&                 \
	    op == bpf_core_enum_value(enum req_op, kernel))                    \
		return letter;

/* The request's operation as the kernel's blktrace letters (blk_fill_rwbs):
 * 'R' read, 'W' write, 'F' flush, 'D' discard, 'E' secure erase, 'Z' write
 * zeroes, 'N' anything else (zone and driver operations). The REQ_OP_*
 * values through CO-RE: they are not the same on every kernel. */
static __always_inline __u8 cs_rq_op(struct request *rq)
{
	/* REQ_OP_BITS is 8 on every kernel with these tracepoints. */
	__u32 op = rq->cmd_flags & 0xff;

	CS_RQ_OP(REQ_OP_READ, 'R');
	CS_RQ_OP(REQ_OP_WRITE, 'W');
	CS_RQ_OP(REQ_OP_FLUSH, 'F');
	CS_RQ_OP(REQ_OP_DISCARD, 'D');
	CS_RQ_OP(REQ_OP_SECURE_ERASE, 'E');
	CS_RQ_OP(REQ_OP_WRITE_ZEROES, 'Z');
	return 'N';
}

#endif /* __CORESCOPE_BLOCK_BPF_H */
