/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Tools that trace tasks: the common filter (cs_cfg in .rodata, written by
 * user space before load: pid/tid/uid/cgroup/comm) and process-tree
 * tracking for -p / -- CMD. Includes events.bpf.h (a fork that cannot be
 * followed is counted in cs_dropped).
 */
#ifndef __CORESCOPE_TASK_BPF_H
#define __CORESCOPE_TASK_BPF_H

#include "common/events.bpf.h"

/* Filter shared by all tools; zero means "no filter". */
const volatile struct corescope_cfg cs_cfg = {};

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

/* pid/tid/uid/cgroup filters for the current task (cs_trace_task_of()
 * below for another task). `tid` is passed in
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

/* Whether `t` is in cgroup cs_cfg.cgroup_id or below it, on the cgroup v2
 * hierarchy (what bpf_current_task_under_cgroup() checks, for any task):
 * walks up from the task's cgroup, comparing ids. Deeper trees than this
 * are not matched below the limit. */
#define CS_CGROUP_MAX_DEPTH 32

static __always_inline bool cs_task_in_cgroup(struct task_struct *t)
{
	struct cgroup *cg = BPF_CORE_READ(t, cgroups, dfl_cgrp);

	for (int i = 0; i < CS_CGROUP_MAX_DEPTH && cg; i++) {
		if (BPF_CORE_READ(cg, kn, id) == cs_cfg.cgroup_id)
			return true;
		/* `self` is a cgroup's first member: its parent css is the
		 * parent cgroup. */
		cg = (struct cgroup *)BPF_CORE_READ(cg, self.parent);
	}
	return false;
}

/* The common filter (cs_trace_task() and cs_trace_comm()) for a task given
 * by pointer rather than `current`: the task a wakeup wakes, the tasks of a
 * context switch. Read with CO-RE, so any task_struct pointer will do. */
static __always_inline bool cs_trace_task_of(struct task_struct *t)
{
	__u32 tgid = BPF_CORE_READ(t, tgid);

	if (tgid == cs_cfg.self_tgid)
		return false;
	if (cs_cfg.tid && (__u32)BPF_CORE_READ(t, pid) != cs_cfg.tid)
		return false;
	/* The real UID, as bpf_get_current_uid_gid() gives for current. */
	if (cs_cfg.uid_on && BPF_CORE_READ(t, cred, uid.val) != cs_cfg.uid)
		return false;
	if (cs_cfg.pids_on && !bpf_map_lookup_elem(&cs_pids, &tgid))
		return false;
	if (cs_cfg.cgroup_on && !cs_task_in_cgroup(t))
		return false;
	if (cs_cfg.comm_on) {
		__u8 comm[CS_COMM_LEN] = {};

		BPF_CORE_READ_STR_INTO(&comm, t, comm);
		return cs_trace_comm(comm);
	}
	return true;
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

/* The exiting current thread leaves the process-tree set: its TID at once,
 * the TGID with the group's last thread. A tool that attaches to
 * sched_process_exit itself and filters on the set calls this after its
 * filter (and disables cs_track_exit): two programs on one tracepoint run
 * in no guaranteed order, and the set must still hold the exiting process
 * when its own filter looks. */
static __always_inline void cs_track_forget_current(void)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32, tid = (__u32)id;

	if (!cs_cfg.pids_on)
		return;
	if (tid != tgid)
		bpf_map_delete_elem(&cs_pids, &tid);
	/* signal->live reaches 0 when the last thread of the group exits. */
	if (BPF_CORE_READ(task, signal, live.counter) == 0)
		bpf_map_delete_elem(&cs_pids, &tgid);
}

/* Fires for every thread: a thread's TID goes when it exits, the TGID when
 * the last thread does. */
SEC("tp/sched/sched_process_exit")
int cs_track_exit(void *ctx)
{
	cs_track_forget_current();
	return 0;
}

#endif /* __CORESCOPE_TASK_BPF_H */
