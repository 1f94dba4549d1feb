// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * biosnoop: one record per block I/O request, at its completion: the task
 * that started it, the disk, the operation, the sector and size, the time
 * from its issue to the driver to its completion and (-Q) the time queued
 * before the issue. Based on biosnoop(8) from BCC and libbpf-tools; the
 * request tracking is src/block_rq.bpf.h (the task from tp_btf
 * block_io_start on Linux 6.5+, else from the insertion or the issue).
 * Differences from libbpf-tools:
 * - no kprobe: libbpf-tools 0.26 records the task at a kprobe on
 *   blk_account_io_start and fails to load without kprobes;
 * - a completion without its start, and a start that finds the map full,
 *   are counted (the summary's unpaired / map_full), not skipped silently;
 * - a partial completion is not the end of the request (libbpf-tools
 *   reports each piece, with the pieces' sizes);
 * - sector and size are the request's at its issue (libbpf-tools reads
 *   them at the completion, after a partial completion has moved them);
 * - QUE is from the insertion to the issue, 0 for a request never
 *   inserted (as libbpf-tools'). The insertion program is loaded for -Q,
 *   or where block_io_start is missing (it may name the task).
 */
#include "block_rq.bpf.h"
#include "biosnoop.h"

CORESCOPE_EXPORT(biosnoop_event);
CORESCOPE_EXPORT_ENUM(biosnoop_who);

SEC("tp_btf/block_io_start")
int BPF_PROG(biosnoop_io_start, struct request *rq)
{
	cs_rq_started(rq);
	return 0;
}

SEC("tp_btf/block_rq_insert")
int BPF_PROG(biosnoop_insert, struct request *rq)
{
	cs_rq_inserted(rq);
	return 0;
}

SEC("tp_btf/block_rq_issue")
int BPF_PROG(biosnoop_issue, struct request *rq)
{
	cs_rq_issued(rq);
	return 0;
}

SEC("tp_btf/block_rq_merge")
int BPF_PROG(biosnoop_merge, struct request *rq)
{
	cs_rq_merged(rq);
	return 0;
}

SEC("tp_btf/block_rq_complete")
int BPF_PROG(biosnoop_complete, struct request *rq, int error, unsigned int nr_bytes)
{
	struct biosnoop_event *e;
	struct cs_rq r;
	__u64 now;

	if (!cs_rq_completed(rq, nr_bytes, &r))
		return 0;
	now = bpf_ktime_get_ns();
	e = cs_reserve(sizeof(*e));
	if (!e)
		return 0;
	e->ts_ns = now;
	e->lat_ns = now > r.issue_ns ? now - r.issue_ns : 0;
	e->queued_ns = r.insert_ns && r.issue_ns > r.insert_ns ? r.issue_ns - r.insert_ns : 0;
	e->sector = r.sector;
	e->bytes = r.bytes;
	e->pid = r.pid;
	e->tid = r.tid;
	e->dev = r.dev;
	e->error = (__u32)error;
	__builtin_memcpy(e->comm, r.comm, sizeof(e->comm));
	e->op = r.op;
	e->who = r.who;
	e->inserted = r.insert_ns != 0;
	cs_submit_batched(e);
	return 0;
}
