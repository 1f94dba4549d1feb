/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Block requests in flight, with the task that started them (biosnoop,
 * biotop): `cs_rqs`, by request address, from the request's start to its
 * completion. The tool attaches its own programs and calls these:
 *
 *   tp_btf/block_io_start    cs_rq_started(rq)   (Linux 6.5+: the request
 *                            made from a bio, in the submitting task)
 *   tp_btf/block_rq_insert   cs_rq_inserted(rq)  (into the I/O scheduler or
 *                            the dispatch list)
 *   tp_btf/block_rq_issue    cs_rq_issued(rq)    (to the driver)
 *   tp_btf/block_rq_merge    cs_rq_merged(rq)    (freed into another one)
 *   tp_btf/block_rq_complete cs_rq_completed(rq, nr_bytes, &copy)
 *
 * The task is the one the request's first hook seen ran in: block_io_start
 * where the kernel has it (user space leaves it out where not, and sets
 * cs_rq_who_start to 0); else the insertion, else the issue (a request
 * queued behind another task's can be inserted or issued by that task or a
 * kernel thread: BCC and libbpf-tools record it at blk_account_io_start, a
 * kprobe, for that reason). Requests made without a bio (flushes, the
 * driver's own) have no block_io_start: their insertion or issue names them.
 * The task filters (-p, --tid, --uid, -c, --comm) apply to that task; a
 * request it leaves out is kept (traced = 0) so that its completion is not
 * taken for one whose start was missed.
 *
 * Losses: a start that finds the map full is counted (map_full), and so is
 * a completion without its start (unpaired: in flight when tracing began,
 * or its start not stored for a full map).
 */
#ifndef __CORESCOPE_BLOCK_RQ_BPF_H
#define __CORESCOPE_BLOCK_RQ_BPF_H

#include "common/task.bpf.h"
#include "common/losses.bpf.h"
#include "block.bpf.h"

/* Where the starting task was seen. */
#define CS_RQ_WHO_START 1
#define CS_RQ_WHO_INSERT 2
#define CS_RQ_WHO_ISSUE 3

/* -d DISK / --disk: only this dev_t. */
const volatile __u8 cs_rq_filter_dev = 0;
const volatile __u32 cs_rq_want_dev = 0;

struct cs_rq {
	__u64 start_ns;  /* the first hook seen */
	__u64 insert_ns; /* block_rq_insert; 0: not inserted */
	__u64 issue_ns;  /* block_rq_issue (the last one: a requeued request is
			  * issued again); 0: not issued */
	__u64 sector;    /* at the issue (merges have grown it by then) */
	__u32 bytes;     /* at the issue */
	__u32 pid;       /* the starting task's TGID */
	__u32 tid;
	__u32 dev;
	__u8 comm[CS_COMM_LEN];
	__u8 op;         /* cs_rq_op() */
	__u8 traced;     /* 0: a task the filters leave out */
	__u8 who;        /* CS_RQ_WHO_* */
	__u8 __pad[5];
};

#ifndef CS_RQ_MAX
#define CS_RQ_MAX 10240
#endif

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, CS_RQ_MAX);
	__type(key, __u64);
	__type(value, struct cs_rq);
} cs_rqs SEC(".maps");

/* Stores the request's entry for the current task (when it has none yet);
 * false when it is not stored (another disk, or the map is full). */
static __always_inline bool cs_rq_claim(struct request *rq, __u8 who)
{
	__u64 key = (__u64)rq, id = bpf_get_current_pid_tgid();
	struct cs_rq r = {};

	r.dev = cs_rq_dev(rq);
	if (cs_rq_filter_dev && r.dev != cs_rq_want_dev)
		return false;
	r.start_ns = bpf_ktime_get_ns();
	r.pid = id >> 32;
	r.tid = (__u32)id;
	r.who = who;
	bpf_get_current_comm(&r.comm, sizeof(r.comm));
	r.traced = cs_trace_task(r.pid, r.tid) &&
		   (!cs_cfg.comm_on || cs_trace_comm(r.comm));
	if (bpf_map_update_elem(&cs_rqs, &key, &r, BPF_ANY)) {
		cs_drop(CS_DROP_MAP_FULL);
		return false;
	}
	return true;
}

static __always_inline void cs_rq_started(struct request *rq)
{
	cs_rq_claim(rq, CS_RQ_WHO_START);
}

static __always_inline void cs_rq_inserted(struct request *rq)
{
	__u64 key = (__u64)rq;
	struct cs_rq *r = bpf_map_lookup_elem(&cs_rqs, &key);

	if (!r && cs_rq_claim(rq, CS_RQ_WHO_INSERT))
		r = bpf_map_lookup_elem(&cs_rqs, &key);
	if (r && !r->insert_ns)
		r->insert_ns = bpf_ktime_get_ns();
}

static __always_inline void cs_rq_issued(struct request *rq)
{
	__u64 key = (__u64)rq;
	struct cs_rq *r = bpf_map_lookup_elem(&cs_rqs, &key);

	if (!r && cs_rq_claim(rq, CS_RQ_WHO_ISSUE))
		r = bpf_map_lookup_elem(&cs_rqs, &key);
	if (!r)
		return;
	r->issue_ns = bpf_ktime_get_ns();
	r->sector = rq->__sector;
	r->bytes = rq->__data_len;
	r->op = cs_rq_op(rq);
}

static __always_inline void cs_rq_merged(struct request *rq)
{
	__u64 key = (__u64)rq;

	bpf_map_delete_elem(&cs_rqs, &key);
}

/* The end of a request: its entry copied to `out` and deleted. True when
 * it is to be reported: started by a traced task, issued, and all done (a
 * partial completion, fewer bytes than the request has left, is not its
 * end). */
static __always_inline bool cs_rq_completed(struct request *rq, unsigned int nr_bytes,
					    struct cs_rq *out)
{
	__u64 key = (__u64)rq;
	struct cs_rq *r;

	if (cs_rq_filter_dev && cs_rq_dev(rq) != cs_rq_want_dev)
		return false;
	if (nr_bytes < rq->__data_len)
		return false;
	r = bpf_map_lookup_elem(&cs_rqs, &key);
	if (!r) {
		cs_drop(CS_DROP_UNPAIRED);
		return false;
	}
	__builtin_memcpy(out, r, sizeof(*out));
	bpf_map_delete_elem(&cs_rqs, &key);
	return out->traced && out->issue_ns;
}

#endif /* __CORESCOPE_BLOCK_RQ_BPF_H */
