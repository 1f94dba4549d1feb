// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * exitsnoop: one record per process exit, from sched:sched_process_exit.
 * Based on exitsnoop(8) from BCC and libbpf-tools, with these differences:
 * - a process is reported once, when its last thread exits (signal->live
 *   has reached 0), with the wait status its parent gets (the group exit
 *   code after exit_group() or a fatal signal, else the leader's): BCC and
 *   libbpf-tools report the leader's exit, which comes early (and reads 0)
 *   when the leader called pthread_exit() while other threads ran on;
 * - the tracepoint is attached as tp_btf (a typed task, plain loads) when
 *   the kernel has BTF, else as a classic tracepoint (--btf FILE);
 * - the process filters (-p, -- CMD, --comm, -u, -c) are checked before the
 *   exiting process leaves the process-tree set (this program does that
 *   pruning itself, see cs_track_forget_current()).
 */
#include "common/task.bpf.h"
#include "exitsnoop.h"

CORESCOPE_EXPORT(exitsnoop_event);

#define SIGNAL_GROUP_EXIT 0x00000004

const volatile __u8 failed_only = 0;
const volatile __u8 per_thread = 0;

/* A process whose threads exit together (exit_group, a fatal signal) can
 * have several of them see signal->live at 0 by the time each reaches the
 * tracepoint: the first to claim its group here reports it. The key is
 * unique for the process's lifetime (its signal_struct and its leader's
 * start), so a stale entry, evicted by the LRU in its time, never hides
 * another process. */
struct group_key {
	__u64 signal;
	__u64 start;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct group_key);
	__type(value, __u8);
} reported SEC(".maps");

static __always_inline void exited(struct task_struct *task)
{
	struct task_struct *leader = BPF_CORE_READ(task, group_leader);
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32, tid = (__u32)id;
	struct exitsnoop_event *e;
	bool last = BPF_CORE_READ(task, signal, live.counter) == 0;
	__u32 status;

	if (!per_thread && !last)
		return;
	if (!cs_trace_task(tgid, tid))
		return;
	if (per_thread)
		status = BPF_CORE_READ(task, exit_code);
	else if (BPF_CORE_READ(task, signal, flags) & SIGNAL_GROUP_EXIT)
		status = BPF_CORE_READ(task, signal, group_exit_code);
	else /* what wait() reads: the leader's own code */
		status = last && leader != task ? BPF_CORE_READ(leader, exit_code)
						: BPF_CORE_READ(task, exit_code);
	if (failed_only && !status)
		return;
	if (!per_thread) {
		struct group_key k = {
			.signal = (__u64)BPF_CORE_READ(task, signal),
			.start = BPF_CORE_READ(leader, start_time),
		};
		__u8 one = 1;

		if (bpf_map_update_elem(&reported, &k, &one, BPF_NOEXIST))
			return; /* another thread of the group reported it */
	}

	e = cs_reserve(sizeof(*e));
	if (!e)
		return;
	e->ts_ns = bpf_ktime_get_ns();
	e->pid = tgid;
	e->tid = tid;
	e->ppid = BPF_CORE_READ(task, real_parent, tgid);
	e->status = status;
	e->uid = (__u32)bpf_get_current_uid_gid();
	e->nthreads = !per_thread;
	if (per_thread) {
		e->start_ns = BPF_CORE_READ(task, start_time);
		bpf_get_current_comm(e->comm, sizeof(e->comm));
	} else {
		/* The process as ps shows it: its leader's start and name. */
		e->start_ns = BPF_CORE_READ(leader, start_time);
		BPF_CORE_READ_STR_INTO(&e->comm, leader, comm);
	}
	if (!cs_cfg.comm_on || cs_trace_comm(e->comm))
		cs_submit_batched(e);
	else
		bpf_ringbuf_discard(e, BPF_RB_NO_WAKEUP);
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(handle_exit_btf, struct task_struct *task)
{
	exited(task);
	cs_track_forget_current();
	return 0;
}

/* Without the kernel's own BTF (--btf FILE): the exiting task is current. */
SEC("tp/sched/sched_process_exit")
int handle_exit_tp(void *ctx)
{
	exited((struct task_struct *)bpf_get_current_task());
	cs_track_forget_current();
	return 0;
}
