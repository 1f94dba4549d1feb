/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Two pieces every syscall tracer needs:
 *
 * Per-CPU scratch: a value too big for the BPF stack (512 bytes), e.g. the
 * record being built before it is copied to the ring buffer. One per CPU,
 * reused by every run on that CPU.
 *
 *   CS_SCRATCH(scratch, struct foo_scratch);
 *   struct foo_scratch *s = cs_scratch(&scratch);   // NULL: cannot happen
 *
 * Enter -> exit staging: what a syscall's enter saw (its arguments: the
 * exit has only the result), keyed by thread ID, for the exit of the same
 * thread.
 *
 *   CS_STAGING(staging, struct foo_args, 10240);
 *   cs_stage(&staging, tid, &args);                      // at enter
 *   struct foo_args a;
 *   if (!cs_unstage(&staging, tid, &a)) cs_drop(CS_DROP_UNPAIRED);  // at exit
 *
 * Per-task start times: when something began for a task (enqueued,
 * switched in or out), in task-local storage (no size limit, freed with the
 * task; tp_btf programs, which have the task pointer, Linux 5.11+).
 *
 *   CS_TASK_START(start);
 *   cs_task_start(&start, task, now);       // a failure is counted (map_full)
 *   if (!cs_task_elapsed(&start, task, now, &delta)) cs_hist_missing();
 *
 * A full map loses the enter: its exit then finds nothing and counts it
 * (unpaired), once, where it knows whether the call mattered (execsnoop
 * counts only failed execs: a successful one is reported elsewhere).
 * Losses go to the `cs_dropped` counters (common/losses.bpf.h), which the
 * user-space session reports (stream::Lost): that is the Rust half; nothing
 * else reads these maps.
 */
#ifndef CORESCOPE_STAGING_BPF_H
#define CORESCOPE_STAGING_BPF_H

#include "common/losses.bpf.h"

#define CS_SCRATCH(NAME, TYPE)                                                 \
	struct {                                                               \
		__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);                       \
		__uint(max_entries, 1);                                        \
		__type(key, __u32);                                            \
		__type(value, TYPE);                                           \
	} NAME SEC(".maps")

/* This CPU's scratch value of map `m` (declared with CS_SCRATCH). */
#define cs_scratch(m)                                                          \
	({                                                                     \
		__u32 __zero = 0;                                              \
		bpf_map_lookup_elem(m, &__zero);                               \
	})

#define CS_STAGING(NAME, TYPE, MAX)                                            \
	struct {                                                               \
		__uint(type, BPF_MAP_TYPE_HASH);                               \
		__uint(max_entries, MAX);                                      \
		__type(key, __u32);                                            \
		__type(value, TYPE);                                           \
	} NAME SEC(".maps")

/* Stages `*v` for thread `tid` (replacing what an enter without exit left). */
static __always_inline long cs_stage(void *map, __u32 tid, const void *v)
{
	return bpf_map_update_elem(map, &tid, v, BPF_ANY);
}

/* Moves what was staged for `tid` into `*out` (a pointer to the staged
 * type) and removes it; false when nothing was. */
#define cs_unstage(map, tid, out)                                              \
	({                                                                     \
		__u32 __tid = (tid);                                           \
		typeof(out) __v = bpf_map_lookup_elem(map, &__tid);            \
		if (__v) {                                                     \
			*(out) = *__v;                                         \
			bpf_map_delete_elem(map, &__tid);                      \
		}                                                              \
		__v != NULL;                                                   \
	})

/* Forgets what was staged for `tid` (its exit will not come: an exec
 * replaced the thread). */
static __always_inline void cs_unstage_drop(void *map, __u32 tid)
{
	bpf_map_delete_elem(map, &tid);
}

#define CS_TASK_START(NAME)                                                    \
	struct {                                                               \
		__uint(type, BPF_MAP_TYPE_TASK_STORAGE);                       \
		__uint(map_flags, BPF_F_NO_PREALLOC);                          \
		__type(key, int);                                              \
		__type(value, __u64);                                          \
	} NAME SEC(".maps")

/* Records `now` as the start of task `t`; storage that cannot be created
 * is counted (map_full). */
static __always_inline void cs_task_start(void *map, struct task_struct *t, __u64 now)
{
	__u64 *ts = bpf_task_storage_get(map, t, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);

	if (!ts) {
		cs_drop(CS_DROP_MAP_FULL);
		return;
	}
	*ts = now;
}

/* The time from task `t`'s start to `now` into `*delta`, and the start
 * cleared; false when no start is recorded (the caller decides whether that
 * is a loss: cs_hist_missing()). */
static __always_inline bool cs_task_elapsed(void *map, struct task_struct *t, __u64 now,
					    __u64 *delta)
{
	__u64 *ts = bpf_task_storage_get(map, t, 0, 0);

	if (!ts || !*ts)
		return false;
	*delta = now > *ts ? now - *ts : 0;
	*ts = 0;
	return true;
}

#endif /* CORESCOPE_STAGING_BPF_H */
