// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * biotop: completed block I/O requests (count, bytes, summed latency) per
 * task, disk and operation, drained by user space every interval. Based on
 * biotop(8) from BCC and libbpf-tools; the request tracking is
 * src/block_rq.bpf.h (the task from tp_btf block_io_start on Linux 6.5+,
 * else from the insertion or the issue; latency from the issue to the
 * completion, block_rq_complete). Differences from libbpf-tools:
 * - no kprobe: libbpf-tools 0.26 records the task at a kprobe on
 *   blk_account_io_start (and the start at blk_mq_start_request) and fails
 *   to load without kprobes;
 * - a key that finds the map full is counted (keys dropped), and so are
 *   completions without their start (unpaired) and starts that find the
 *   in-flight map full (map_full);
 * - a partial completion is not the end of a request; bytes are the
 *   request's size at its issue.
 */
#include "block_rq.bpf.h"
#include "biotop.h"

CORESCOPE_EXPORT(biotop_key);
CORESCOPE_EXPORT(biotop_value);

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, struct biotop_key);
	__type(value, struct biotop_value);
} ios SEC(".maps");

/* Keys that found `ios` full (slot 0). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} keys_lost SEC(".maps");

SEC("tp_btf/block_io_start")
int BPF_PROG(biotop_io_start, struct request *rq)
{
	cs_rq_started(rq);
	return 0;
}

SEC("tp_btf/block_rq_insert")
int BPF_PROG(biotop_insert, struct request *rq)
{
	cs_rq_inserted(rq);
	return 0;
}

SEC("tp_btf/block_rq_issue")
int BPF_PROG(biotop_issue, struct request *rq)
{
	cs_rq_issued(rq);
	return 0;
}

SEC("tp_btf/block_rq_merge")
int BPF_PROG(biotop_merge, struct request *rq)
{
	cs_rq_merged(rq);
	return 0;
}

SEC("tp_btf/block_rq_complete")
int BPF_PROG(biotop_complete, struct request *rq, int error, unsigned int nr_bytes)
{
	struct biotop_key key = {};
	struct biotop_value *v;
	struct cs_rq r;
	__u64 now;

	if (!cs_rq_completed(rq, nr_bytes, &r))
		return 0;
	now = bpf_ktime_get_ns();
	key.pid = r.pid;
	key.dev = r.dev;
	key.op = r.op;
	__builtin_memcpy(key.comm, r.comm, sizeof(key.comm));
	v = bpf_map_lookup_elem(&ios, &key);
	if (!v) {
		struct biotop_value zero = {};

		bpf_map_update_elem(&ios, &key, &zero, BPF_NOEXIST);
		v = bpf_map_lookup_elem(&ios, &key);
		if (!v) {
			cs_count(&keys_lost, 0);
			return 0;
		}
	}
	__sync_fetch_and_add(&v->io, 1);
	__sync_fetch_and_add(&v->bytes, r.bytes);
	__sync_fetch_and_add(&v->ns, now > r.issue_ns ? now - r.issue_ns : 0);
	return 0;
}
