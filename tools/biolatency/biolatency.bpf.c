// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * biolatency: block I/O latency, from a request's issue to the driver
 * (block_rq_issue; with -Q from its insertion into the OS queue,
 * block_rq_insert) to its completion (block_rq_complete), as a log2
 * histogram, per disk (-D) and per operation and flags (-F). Based on
 * biolatency(8) from BCC and libbpf-tools (the same tp_btf hooks, start
 * times keyed by the request pointer), with these differences:
 * - a completion without its start (in flight when tracing began, or its
 *   start could not be stored: the map was full) is counted (unpaired),
 *   not silently skipped; a histogram that cannot be created, as map_full;
 * - a partial completion (block_rq_complete with fewer bytes than the
 *   request has left, e.g. a large SCSI request done in pieces) is not the
 *   end of the request: libbpf-tools takes the first piece as its end;
 * - -F names the operation and flags through CO-RE enum relocations (the
 *   running kernel's REQ_* values; libbpf-tools' fixed table is from an
 *   older kernel and names 6.x operations wrongly);
 * - -Q: the start is the insertion, or the issue for a request that was
 *   never inserted (no I/O scheduler, flushes, passthrough: libbpf-tools
 *   loses those when the queue has a scheduler); a request merged into
 *   another is freed without completing, so its start is dropped at
 *   block_rq_merge (else a later request at the same address inherits it);
 * - the task filters (-p tree, --tid, --uid, -c cgroup, --comm) apply to
 *   the task that inserts (-Q) or issues the request, the one the kernel
 *   runs the start in (usually the submitter; I/O issued later by a kernel
 *   thread is that thread's). The completion runs in interrupt context:
 *   libbpf-tools tests the cgroup of whatever task that interrupted;
 * - the histograms carry the exact sum (the mean is exact).
 * No raw_tp or classic tracepoint fallback: the tp_btf hooks exist on every
 * kernel with BTF since 5.5, which these tools need anyway; the classic
 * block tracepoints carry no request pointer to pair a start with its end.
 */
#include "common/task.bpf.h"
#include "hist.bpf.h"
#include "block.bpf.h" /* cs_rq_dev */
#include "biolatency.h"

CORESCOPE_EXPORT_ENUM(biolatency_op);
CORESCOPE_EXPORT_ENUM(biolatency_flag);

#define MAX_ENTRIES 10240

const volatile __u8 targ_queued = 0;
const volatile __u8 targ_per_disk = 0;
const volatile __u8 targ_per_flag = 0;
const volatile __u8 targ_ms = 0;
const volatile __u8 filter_dev = 0;
const volatile __u32 targ_dev = 0;

/* Histograms by biolatency key (biolatency.h); user space sizes it. */
CS_HIST_MAP(hists, __u64, MAX_ENTRIES);

/* Start time (ns) of each request in flight, by its address; 0: started
 * by a task the filters leave out (its completion is then not counted as
 * unpaired). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_ENTRIES);
	__type(key, __u64);
	__type(value, __u64);
} start SEC(".maps");

/* Whether any task filter is on (cs_cfg is .rodata: folded at load). */
static __always_inline bool task_filter_on(void)
{
	return cs_cfg.tid || cs_cfg.uid_on || cs_cfg.pids_on || cs_cfg.cgroup_on ||
	       cs_cfg.comm_on;
}

static __always_inline bool trace_current(void)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u8 comm[CS_COMM_LEN] = {};

	if (!cs_trace_task(id >> 32, (__u32)id))
		return false;
	if (cs_cfg.comm_on) {
		bpf_get_current_comm(&comm, sizeof(comm));
		return cs_trace_comm(comm);
	}
	return true;
}

static __always_inline void rq_start(struct request *rq, bool insert)
{
	__u64 key = (__u64)rq, ts = 0;

	if (filter_dev && cs_rq_dev(rq) != targ_dev)
		return;
	/* -Q: an inserted request keeps its insertion time. */
	if (!insert && targ_queued && bpf_map_lookup_elem(&start, &key))
		return;
	if (!task_filter_on() || trace_current())
		ts = bpf_ktime_get_ns();
	/* A full map: the completion finds nothing and counts it (unpaired),
	 * once. */
	bpf_map_update_elem(&start, &key, &ts, BPF_ANY);
}

#define OP(kernel, ours)                                                       \
	if (bpf_core_enum_value_exists(enum req_op, kernel) &&                 \
	    op == bpf_core_enum_value(enum req_op, kernel))                    \
		return ours;

static __always_inline __u32 op_of(__u32 op)
{
	OP(REQ_OP_READ, BIOLAT_OP_READ);
	OP(REQ_OP_WRITE, BIOLAT_OP_WRITE);
	OP(REQ_OP_FLUSH, BIOLAT_OP_FLUSH);
	OP(REQ_OP_DISCARD, BIOLAT_OP_DISCARD);
	OP(REQ_OP_SECURE_ERASE, BIOLAT_OP_SECURE_ERASE);
	OP(REQ_OP_WRITE_ZEROES, BIOLAT_OP_WRITE_ZEROES);
	OP(REQ_OP_ZONE_APPEND, BIOLAT_OP_ZONE_APPEND);
	OP(REQ_OP_ZONE_OPEN, BIOLAT_OP_ZONE_OPEN);
	OP(REQ_OP_ZONE_CLOSE, BIOLAT_OP_ZONE_CLOSE);
	OP(REQ_OP_ZONE_FINISH, BIOLAT_OP_ZONE_FINISH);
	OP(REQ_OP_ZONE_RESET, BIOLAT_OP_ZONE_RESET);
	OP(REQ_OP_ZONE_RESET_ALL, BIOLAT_OP_ZONE_RESET_ALL);
	OP(REQ_OP_DRV_IN, BIOLAT_OP_DRV_IN);
	OP(REQ_OP_DRV_OUT, BIOLAT_OP_DRV_OUT);
	return BIOLAT_OP_UNKNOWN;
}

#define FLAG(kernel, ours)                                                     \
	if (bpf_core_enum_value_exists(enum req_flag_bits, kernel) &&          \
	    (opf >> bpf_core_enum_value(enum req_flag_bits, kernel)) & 1)      \
		f |= ours;

/* The request's operation and flags as biolatency's codes (biolatency.h). */
static __always_inline __u32 flags_of(struct request *rq)
{
	__u32 opf = rq->cmd_flags;
	/* REQ_OP_BITS is 8 on every kernel with these tracepoints. */
	__u32 f = op_of(opf & 0xff);

	FLAG(__REQ_NOWAIT, BIOLAT_F_NOWAIT);
	FLAG(__REQ_BACKGROUND, BIOLAT_F_BACKGROUND);
	FLAG(__REQ_RAHEAD, BIOLAT_F_RAHEAD);
	FLAG(__REQ_PREFLUSH, BIOLAT_F_PREFLUSH);
	FLAG(__REQ_FUA, BIOLAT_F_FUA);
	FLAG(__REQ_INTEGRITY, BIOLAT_F_INTEGRITY);
	FLAG(__REQ_IDLE, BIOLAT_F_IDLE);
	FLAG(__REQ_NOMERGE, BIOLAT_F_NOMERGE);
	FLAG(__REQ_PRIO, BIOLAT_F_PRIO);
	FLAG(__REQ_META, BIOLAT_F_META);
	FLAG(__REQ_SYNC, BIOLAT_F_SYNC);
	return f;
}

SEC("tp_btf/block_rq_insert")
int BPF_PROG(biolatency_insert, struct request *rq)
{
	rq_start(rq, true);
	return 0;
}

SEC("tp_btf/block_rq_issue")
int BPF_PROG(biolatency_issue, struct request *rq)
{
	rq_start(rq, false);
	return 0;
}

/* -Q only: `rq` was merged into another request and is freed without a
 * completion of its own. */
SEC("tp_btf/block_rq_merge")
int BPF_PROG(biolatency_merge, struct request *rq)
{
	__u64 key = (__u64)rq;

	bpf_map_delete_elem(&start, &key);
	return 0;
}

SEC("tp_btf/block_rq_complete")
int BPF_PROG(biolatency_complete, struct request *rq, int error, unsigned int nr_bytes)
{
	__u64 key = (__u64)rq, now = bpf_ktime_get_ns(), ts, delta, hkey = 0;
	__u64 *tsp;
	__u32 dev = 0;

	if (filter_dev || targ_per_disk) {
		dev = cs_rq_dev(rq);
		if (filter_dev && dev != targ_dev)
			return 0;
	}
	/* Part of the request is done, the rest still to come. */
	if (nr_bytes < rq->__data_len)
		return 0;
	tsp = bpf_map_lookup_elem(&start, &key);
	if (!tsp) {
		cs_hist_missing();
		return 0;
	}
	ts = *tsp;
	bpf_map_delete_elem(&start, &key);
	if (!ts)
		return 0;
	delta = now > ts ? now - ts : 0;
	delta /= targ_ms ? 1000000 : 1000;
	if (targ_per_disk)
		hkey = (__u64)dev << 32;
	if (targ_per_flag)
		hkey |= flags_of(rq);
	cs_hist_record(&hists, &hkey, NULL, delta);
	return 0;
}
