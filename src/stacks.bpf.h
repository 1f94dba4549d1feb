/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The BPF half of src/stacks.rs (the stacks shape): the stack-trace map,
 * the counts map keyed by (pid, tid, user stack, kernel stack, comm), and
 * the PIDs user space should remember for symbolization.
 *
 *   #include "common/task.bpf.h"
 *   #include "stacks.bpf.h"
 *   ...
 *   struct cs_stack_key key = {};
 *   cs_stack_key_current(ctx, &key, tid_or_0);  // ids, pid, comm of current
 *   cs_stack_add(&key, value);                  // samples, or microseconds
 *
 * User space (stacks::Runner) sizes cs_stacks (--stack-storage-size) and
 * cs_stack_counts before load, drains cs_stack_pids every tick (each PID
 * is noted: StackSymbolizer::note_pid, so it is symbolized even if it
 * exits before the end) and reads the counts at the end. A key that cannot
 * be inserted (the counts map is full) is counted as lost (map_full); a
 * stack the stack map cannot hold comes back as a negative id, which user
 * space shows as [Missed User Stack] / [Missed Kernel Stack].
 */
#ifndef CORESCOPE_STACKS_BPF_H
#define CORESCOPE_STACKS_BPF_H

#include "common/losses.bpf.h"

/* PERF_MAX_STACK_DEPTH: the kernel's default perf_event_max_stack. */
#define CS_STACK_DEPTH 127

/* What stacks are taken (.rodata, set by user space: -U / -K). */
const volatile __u8 cs_user_stacks = 1;
const volatile __u8 cs_kernel_stacks = 1;

/* A counts key. An id is what bpf_get_stackid() returned: >= 0 a stack in
 * cs_stacks, -EFAULT none to walk (a kernel thread's user stack, a user
 * sample's kernel stack), -EEXIST a hash collision, other negatives a
 * missed stack; CS_STACK_OFF when that side is not collected. */
struct cs_stack_key {
	__u32 pid;  /* TGID */
	__u32 tid;  /* 0 when the tool counts per process (profile) */
	__s64 user_stack_id;
	__s64 kernel_stack_id;
	__u8 comm[CS_COMM_LEN];
};

CORESCOPE_EXPORT(cs_stack_key);

enum cs_stack_consts {
	CS_STACK_OFF = -1000000, /* no errno: this side is not collected */
	CS_PID_NEW = 1,          /* cs_stack_pids: a PID with a new key */
	CS_PID_EXEC = 2,         /* cs_stack_pids: a PID that exec'd */
};

CORESCOPE_EXPORT_ENUM(cs_stack_consts);

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, CS_STACK_DEPTH * sizeof(__u64));
	__uint(max_entries, 16384);
} cs_stacks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct cs_stack_key);
	__type(value, __u64);
} cs_stack_counts SEC(".maps");

/* PIDs for user space to note (CS_PID_* bits), drained every tick. A PID
 * that does not fit is noted later or, if it exits first, shown as
 * "[unknown] (pid exited)" and counted by user space. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u32);
} cs_stack_pids SEC(".maps");

static __always_inline void cs_stack_note(__u32 pid, __u32 what)
{
	__u32 *v = bpf_map_lookup_elem(&cs_stack_pids, &pid);

	/* Not atomic (clang 14 has no 32-bit atomic or): two CPUs at once
	 * may lose a bit, noted again at the next new key or exec. */
	if (v)
		*v |= what;
	else
		bpf_map_update_elem(&cs_stack_pids, &pid, &what, BPF_NOEXIST);
}

/* Fills `key` for the current task: its TGID, `tid` (0 for per-process
 * counts), comm and the stack ids of the sides collected. `ctx` is the
 * program's context (bpf_get_stackid needs it). */
#define cs_stack_key_current(ctx, key, tid_)                                   \
	({                                                                     \
		(key)->pid = bpf_get_current_pid_tgid() >> 32;                 \
		(key)->tid = (tid_);                                           \
		bpf_get_current_comm(&(key)->comm, sizeof((key)->comm));       \
		(key)->user_stack_id =                                         \
			cs_user_stacks ?                                       \
				bpf_get_stackid(ctx, &cs_stacks, BPF_F_USER_STACK) : \
				CS_STACK_OFF;                                  \
		(key)->kernel_stack_id =                                       \
			cs_kernel_stacks ? bpf_get_stackid(ctx, &cs_stacks, 0) : \
					   CS_STACK_OFF;                       \
	})

/* Adds `value` to the count of `key`, creating it; a full map is counted
 * (map_full). A new key's PID is handed to user space to note. */
static __always_inline void cs_stack_add(const struct cs_stack_key *key, __u64 value)
{
	__u64 *v = bpf_map_lookup_elem(&cs_stack_counts, key);

	if (v) {
		__sync_fetch_and_add(v, value);
		return;
	}
	/* NOEXIST: another CPU may have created it meanwhile (-EEXIST). */
	if (!bpf_map_update_elem(&cs_stack_counts, key, &value, BPF_NOEXIST)) {
		cs_stack_note(key->pid, CS_PID_NEW);
		return;
	}
	v = bpf_map_lookup_elem(&cs_stack_counts, key);
	if (v)
		__sync_fetch_and_add(v, value);
	else
		cs_drop(CS_DROP_MAP_FULL);
}

/* An exec replaces the memory map user space may have noted: it notes the
 * PID again (only PIDs it noted before). */
SEC("tp/sched/sched_process_exec")
int cs_stack_exec(void *ctx)
{
	cs_stack_note(bpf_get_current_pid_tgid() >> 32, CS_PID_EXEC);
	return 0;
}

#endif /* CORESCOPE_STACKS_BPF_H */
