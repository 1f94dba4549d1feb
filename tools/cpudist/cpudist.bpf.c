// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * cpudist: how long tasks run on a CPU each time they are switched in
 * (on-CPU time per scheduling slice), or with -O how long they are off
 * it between two slices, as a log2 histogram; from tp_btf sched_switch
 * only. Based on cpudist(8) from BCC and libbpf-tools, with these
 * differences:
 * - every slice counts: libbpf-tools (and BCC) count an on-CPU slice only
 *   when it ends in preemption (the task still TASK_RUNNING), so a task
 *   that blocks (on I/O, a pipe, a lock) never shows; here a slice ends
 *   at any switch away from the task;
 * - the filters (-p tree, --tid, --uid, -c cgroup, --comm) apply to the
 *   task whose slice it is (cs_trace_task_of()), not to `current`;
 * - slice start times are kept in task-local storage (no capacity to run
 *   out of, freed with the task) instead of a hash; a storage that cannot
 *   be had is counted as lost (map_full), and a slice whose start was not
 *   seen (running, or with -O asleep, since before tracing) is counted
 *   (unpaired), not silently skipped;
 * - the idle tasks (PID 0) and cpudist itself are never traced;
 * - the histograms carry the exact sum (the mean is exact).
 * No raw_tp / classic fallback: task storage needs the BTF task pointers
 * of tp_btf (Linux 5.11+).
 */
#include "common/task.bpf.h"
#include "hist.bpf.h"
#include "staging.bpf.h"
#include "cpudist.h"

CORESCOPE_EXPORT_ENUM(cpudist_per);

const volatile __u8 per = CPUDIST_PER_ALL; /* enum cpudist_per */
const volatile __u8 targ_ms = 0;
const volatile __u8 targ_offcpu = 0;

CS_HIST_MAP(hists, __u32, 10240);

/* When the task's current slice (on-CPU, or with -O off-CPU) began (ns). */
CS_TASK_START(start);

static __always_inline void slice_begin(struct task_struct *t, __u64 now)
{
	if (t->pid && cs_trace_task_of(t))
		cs_task_start(&start, t, now);
}

static __always_inline void slice_end(struct task_struct *t, __u64 now)
{
	__u64 delta;
	__u32 key;

	if (!t->pid)
		return;
	if (!cs_task_elapsed(&start, t, now, &delta)) {
		if (cs_trace_task_of(t))
			cs_hist_missing();
		return;
	}
	delta /= targ_ms ? 1000000 : 1000;
	key = per == CPUDIST_PER_PID ? t->tgid : per == CPUDIST_PER_TID ? t->pid : 0;
	cs_hist_record(&hists, &key, per != CPUDIST_PER_ALL ? t : NULL, delta);
}

SEC("tp_btf/sched_switch")
int BPF_PROG(cpudist_switch, bool preempt, struct task_struct *prev,
	     struct task_struct *next)
{
	__u64 now = bpf_ktime_get_ns();

	if (targ_offcpu) {
		slice_begin(prev, now);
		slice_end(next, now);
	} else {
		slice_end(prev, now);
		slice_begin(next, now);
	}
	return 0;
}
