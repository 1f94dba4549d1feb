// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * runqlat: run-queue latency, the time from a task becoming runnable
 * (woken: sched_wakeup, sched_wakeup_new; or preempted: sched_switch away
 * from a task still TASK_RUNNING) to it running (sched_switch to it), as a
 * log2 histogram. Based on runqlat(8) from BCC and libbpf-tools (same hooks,
 * tp_btf), with these differences:
 * - the filters (-p tree, --tid, --uid, -c cgroup, --comm) apply to the
 *   task that waits (cs_trace_task_of()), at each enqueue; libbpf-tools
 *   tests the cgroup of `current`, i.e. the waker;
 * - enqueue times are kept in task-local storage (no capacity to run out
 *   of, freed with the task) instead of a 10240-entry hash; a storage that
 *   cannot be had is counted as lost (map_full);
 * - a switch to a traced task with no enqueue time (runnable since before
 *   tracing started) is counted (unpaired), not silently skipped;
 * - the histograms carry the exact sum (the mean is exact);
 * - the idle tasks (PID 0) and runqlat itself are never traced.
 * No raw_tp / classic fallback: task storage needs the BTF task pointers
 * of tp_btf (Linux 5.11+; both kernels of the matrix have them).
 */
#include "common/task.bpf.h"
#include "hist.bpf.h"
#include "staging.bpf.h"
#include "runqlat.h"

CORESCOPE_EXPORT_ENUM(runqlat_per);

#define TASK_RUNNING 0

const volatile __u8 per = RUNQLAT_PER_ALL; /* enum runqlat_per */
const volatile __u8 targ_ms = 0;

/* Histograms by key (see enum runqlat_per); user space sizes it. */
CS_HIST_MAP(hists, __u32, 10240);

/* When the task was enqueued (ns), 0 when it is not waiting. */
CS_TASK_START(start);

/* task_struct::state became __state in 5.14. */
struct task_struct___o {
	volatile long int state;
} __attribute__((preserve_access_index));

static __always_inline long task_state(struct task_struct *t)
{
	if (bpf_core_field_exists(t->__state))
		return BPF_CORE_READ(t, __state);
	return BPF_CORE_READ((struct task_struct___o *)t, state);
}

static __always_inline void enqueue(struct task_struct *p)
{
	if (p->pid && cs_trace_task_of(p))
		cs_task_start(&start, p, bpf_ktime_get_ns());
}

static __always_inline __u32 key_of(struct task_struct *t)
{
	switch (per) {
	case RUNQLAT_PER_PID:
		return t->tgid;
	case RUNQLAT_PER_TID:
		return t->pid;
	case RUNQLAT_PER_PIDNS:
		return BPF_CORE_READ(t, nsproxy, pid_ns_for_children, ns.inum);
	default:
		return 0;
	}
}

static __always_inline void switch_in(struct task_struct *next)
{
	__u64 delta;
	__u32 key;

	if (!next->pid)
		return;
	if (!cs_task_elapsed(&start, next, bpf_ktime_get_ns(), &delta)) {
		/* Not enqueued while we traced: filtered out, or runnable
		 * since before tracing started (that one is counted). */
		if (cs_trace_task_of(next))
			cs_hist_missing();
		return;
	}
	delta /= targ_ms ? 1000000 : 1000;
	key = key_of(next);
	cs_hist_record(&hists, &key, per != RUNQLAT_PER_ALL ? next : NULL, delta);
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(runqlat_wakeup, struct task_struct *p)
{
	enqueue(p);
	return 0;
}

SEC("tp_btf/sched_wakeup_new")
int BPF_PROG(runqlat_wakeup_new, struct task_struct *p)
{
	enqueue(p);
	return 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(runqlat_switch, bool preempt, struct task_struct *prev,
	     struct task_struct *next)
{
	/* Preempted: back in the run queue, waiting from now on. */
	if (task_state(prev) == TASK_RUNNING)
		enqueue(prev);
	switch_in(next);
	return 0;
}
