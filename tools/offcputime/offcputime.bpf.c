// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * offcputime: time spent off CPU (blocked or preempted), summed per
 * (pid, tid, user stack, kernel stack). At tp_btf sched_switch the task
 * switched out (still `current`) gets its stacks taken and the time noted;
 * when it is switched in again the time it was away is added to its key.
 * Based on offcputime(8) from BCC and libbpf-tools (the same hook); the
 * differences:
 * - the start is kept in task-local storage (no 10240-thread limit, freed
 *   with the task), as runqlat does;
 * - the filters are the common ones (-p tree, --tid, --uid, --cgroup,
 *   --comm), on the task switched out;
 * - --state N matches like BCC: N == 0 the state exactly (preempted,
 *   runnable), otherwise any of N's bits (libbpf-tools: exactly N);
 * - the idle tasks (PID 0) are never counted (their "off CPU" time is the
 *   CPU being busy), nor is offcputime itself;
 * - a key the counts map cannot take is counted as lost (map_full).
 * No classic-tracepoint fallback: task storage needs tp_btf's task
 * pointers (5.11+; both kernels of the matrix have them).
 */
#include "common/task.bpf.h"
#include "stacks.bpf.h"
#include "offcputime.h"

#define PF_KTHREAD 0x00200000

CORESCOPE_EXPORT(offcputime_start);

const volatile __u64 min_us = 1;
const volatile __u64 max_us = (__u64)-1;
const volatile __u8 user_threads_only = 0;
const volatile __u8 kernel_threads_only = 0;
const volatile __u8 state_on = 0;
const volatile __s64 state = 0;

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct offcputime_start);
} start SEC(".maps");

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

static __always_inline bool wanted(struct task_struct *prev)
{
	__u32 flags = BPF_CORE_READ(prev, flags);
	long st;

	if (!prev->pid)
		return false;
	if (user_threads_only && (flags & PF_KTHREAD))
		return false;
	if (kernel_threads_only && !(flags & PF_KTHREAD))
		return false;
	if (state_on) {
		st = task_state(prev);
		if (state == 0 ? st != 0 : !(st & state))
			return false;
	}
	/* prev is still current here: the common filter of current. */
	return cs_trace_task(prev->tgid, prev->pid);
}

SEC("tp_btf/sched_switch")
int BPF_PROG(offcputime_switch, bool preempt, struct task_struct *prev,
	     struct task_struct *next)
{
	struct offcputime_start *s;
	struct cs_stack_key key;
	__u64 now = bpf_ktime_get_ns();
	__s64 delta;

	if (wanted(prev)) {
		s = bpf_task_storage_get(&start, prev, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
		if (!s) {
			cs_drop(CS_DROP_MAP_FULL);
		} else {
			cs_stack_key_current(ctx, &s->key, prev->pid);
			if (cs_trace_comm(s->key.comm))
				s->ts = now;
			else
				s->ts = 0;
		}
	}

	s = bpf_task_storage_get(&start, next, 0, 0);
	if (!s || !s->ts)
		return 0;
	delta = (__s64)(now - s->ts);
	s->ts = 0;
	if (delta < 0)
		return 0;
	delta /= 1000;
	if ((__u64)delta < min_us || (__u64)delta > max_us)
		return 0;
	key = s->key;
	cs_stack_add(&key, delta);
	return 0;
}
