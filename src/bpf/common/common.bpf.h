/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Shared BPF side of every corescope tool: includes, the common filter
 * (written into .rodata by user space before load), process-tree tracking
 * for -p / -- CMD, the `events` ring buffer and the `cs_dropped` loss
 * counters. A tool includes this header once and never declares these maps
 * itself.
 */
#ifndef __CORESCOPE_COMMON_BPF_H
#define __CORESCOPE_COMMON_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "common/common.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Filter shared by all tools; zero means "no filter". */
const volatile struct corescope_cfg cs_cfg = {};

/* Forces the type into BTF so libbpf-cargo generates it for user space. */
#define CORESCOPE_EXPORT(type) struct type __corescope_export_##type = {}
#define CORESCOPE_EXPORT_ENUM(type) enum type __corescope_export_##type = 0

CORESCOPE_EXPORT_ENUM(corescope_drop);

/* One ring buffer per tool; user space sets its size before load. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

/* Per-CPU loss counters, indexed by enum corescope_drop. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CS_DROP_MAX);
	__type(key, __u32);
	__type(value, __u64);
} cs_dropped SEC(".maps");

/* TGIDs being traced when cs_cfg.pids_on: seeded from /proc by user space,
 * extended on fork, pruned when the whole thread group has exited. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, CS_MAX_TRACKED_PIDS);
	__type(key, __u32);
	__type(value, __u8);
} cs_pids SEC(".maps");

/* The cgroup v2 directory given with --cgroup (slot 0). */
struct {
	__uint(type, BPF_MAP_TYPE_CGROUP_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} cs_cgroup SEC(".maps");

/* Adds one to slot `idx` of a per-CPU array of __u64 counters. */
static __always_inline void cs_count(void *percpu_array, __u32 idx)
{
	__u64 *cnt = bpf_map_lookup_elem(percpu_array, &idx);

	/* Per-CPU slot, but a preempted program can interleave on one CPU. */
	if (cnt)
		__sync_fetch_and_add(cnt, 1);
}

static __always_inline void cs_drop(__u32 reason)
{
	cs_count(&cs_dropped, reason);
}

/* pid/tid/uid/cgroup filters for the current task. `tid` is passed in
 * because exec changes the caller's TID (see execsnoop). */
static __always_inline bool cs_trace_task(__u32 tgid, __u32 tid)
{
	/* The tool's own activity (attaching, reading /proc, symbolizing)
	 * would otherwise show up, and could feed back on itself. */
	if (tgid == cs_cfg.self_tgid)
		return false;
	if (cs_cfg.tid && tid != cs_cfg.tid)
		return false;
	if (cs_cfg.uid_on && (__u32)bpf_get_current_uid_gid() != cs_cfg.uid)
		return false;
	if (cs_cfg.pids_on && !bpf_map_lookup_elem(&cs_pids, &tgid))
		return false;
	if (cs_cfg.cgroup_on && bpf_current_task_under_cgroup(&cs_cgroup, 0) != 1)
		return false;
	return true;
}

/* --comm: exact match on the task's comm (up to its NUL). */
static __always_inline bool cs_trace_comm(const __u8 *comm)
{
	if (!cs_cfg.comm_on)
		return true;
	for (int i = 0; i < CS_COMM_LEN; i++) {
		if (comm[i] != cs_cfg.comm[i])
			return false;
		if (!comm[i])
			break;
	}
	return true;
}

/* Copies a finished record into the ring buffer; a full ring is counted. */
static __always_inline int cs_output(void *data, __u64 size)
{
	long err = bpf_ringbuf_output(&events, data, size, 0);

	if (err)
		cs_drop(CS_DROP_RINGBUF);
	return err;
}

/* Wakeup policy of the lazy variants: wake the consumer only once the ring
 * is 1/16 full; below that the session loop picks records up on its 100 ms
 * tick. A burst then costs a few wakeups instead of one per record (each a
 * context switch of the consumer, stealing CPU from the traced work), at the
 * price of rows arriving up to ~100 ms late. */
static __always_inline __u64 cs_lazy_wakeup(__u64 adding)
{
	__u64 avail = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
	__u64 ring = bpf_ringbuf_query(&events, BPF_RB_RING_SIZE);

	return avail + adding >= ring / 16 ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

/* cs_output() with the lazy wakeup. */
static __always_inline int cs_output_lazy(void *data, __u64 size)
{
	long err = bpf_ringbuf_output(&events, data, size, cs_lazy_wakeup(size));

	if (err)
		cs_drop(CS_DROP_RINGBUF);
	return err;
}

static __always_inline void *cs_reserve(__u64 size)
{
	void *rec = bpf_ringbuf_reserve(&events, size, 0);

	if (!rec)
		cs_drop(CS_DROP_RINGBUF);
	return rec;
}

/* Submits a record from cs_reserve() with the lazy wakeup. */
static __always_inline void cs_submit_batched(void *rec)
{
	bpf_ringbuf_submit(rec, cs_lazy_wakeup(0));
}

/* Process-tree tracking, loaded only when cs_cfg.pids_on. Classic
 * tracepoints, so it also works where the kernel has no BTF of its own
 * (--btf). The fork tracepoint runs in the parent and carries only the
 * child's TID: a new thread's TID is added too. That is harmless (lookups
 * are by TGID, and a live thread's TID is no other process's TGID) and the
 * key goes away when the thread exits. */
SEC("tp/sched/sched_process_fork")
int cs_track_fork(struct trace_event_raw_sched_process_fork *ctx)
{
	__u32 ptgid = bpf_get_current_pid_tgid() >> 32;
	__u32 child = ctx->child_pid;
	__u8 one = 1;

	if (!bpf_map_lookup_elem(&cs_pids, &ptgid))
		return 0;
	if (bpf_map_update_elem(&cs_pids, &child, &one, BPF_ANY))
		cs_drop(CS_DROP_TRACK);
	return 0;
}

/* A non-leader thread that execs takes over its group's TGID; its own TID
 * is then freed without an exit of its own, and would stay in the set: once
 * the PID is reused, an unrelated process (and its children) would be
 * traced. */
SEC("tp/sched/sched_process_exec")
int cs_track_exec(struct trace_event_raw_sched_process_exec *ctx)
{
	__u32 old_tid = ctx->old_pid;

	if (cs_cfg.pids_on && old_tid != (__u32)ctx->pid)
		bpf_map_delete_elem(&cs_pids, &old_tid);
	return 0;
}

/* Fires for every thread: a thread's TID goes when it exits, the TGID when
 * the last thread does. */
SEC("tp/sched/sched_process_exit")
int cs_track_exit(void *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32, tid = (__u32)id;

	if (!cs_cfg.pids_on)
		return 0;
	if (tid != tgid)
		bpf_map_delete_elem(&cs_pids, &tid);
	/* signal->live reaches 0 when the last thread of the group exits. */
	if (BPF_CORE_READ(task, signal, live.counter) == 0)
		bpf_map_delete_elem(&cs_pids, &tgid);
	return 0;
}

#endif /* __CORESCOPE_COMMON_BPF_H */
