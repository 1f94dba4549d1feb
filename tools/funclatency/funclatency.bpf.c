// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * funclatency: the latency of a function as a log2 histogram, from its
 * entry to its return in the same thread. Based on funclatency(8) from BCC
 * and libbpf-tools, which probe kernel functions (kprobe / fentry) and user
 * functions (uprobe); here, tracepoint-first:
 * - a syscall is timed between its syscalls:sys_enter_X and sys_exit_X
 *   tracepoints (funclat_sys_enter / funclat_sys_exit, attached by user
 *   space to every syscall the pattern matches: one program, many links);
 * - a user function by a uprobe + uretprobe (funclat_entry /
 *   funclat_return); the same two programs (kprobe type) serve kernel
 *   functions through kprobe + kretprobe where the kernel has kprobes.
 * The entry's timestamp is staged by TID (CS_STAGING of staging.bpf.h, used
 * in place: see entry()). Nothing is lost
 * silently: a return without its entry (the call began before tracing, or
 * nested calls of a recursive function: only the innermost pairs) is
 * counted unpaired (cs_hist_missing); an entry that cannot be staged (map
 * full) is counted map_full, once (its return, which then finds nothing,
 * is not counted again: `unstaged` remembers it).
 * The filters (-p tree, --tid, --uid, -c, --comm) apply at the entry.
 */
#include "common/task.bpf.h"
#include "hist.bpf.h"
#include "staging.bpf.h"
#include "funclatency.h"

CORESCOPE_EXPORT_ENUM(funclatency_unit);

const volatile __u8 unit = FUNCLATENCY_NSEC; /* enum funclatency_unit */
/* --min / --max, in the unit: calls outside [min, max] are not counted. */
const volatile __u64 targ_min = 0;
const volatile __u64 targ_max = 0;
const volatile __u8 max_on = 0;

/* One histogram (key 0). */
CS_HIST_MAP(hists, __u32, 1);

/* Entry time (ns) by TID. */
CS_STAGING(start, __u64, 10240);

/* TIDs whose last entry could not be staged (counted map_full there): their
 * return is then not counted a second time as unpaired. An LRU: never full. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u8);
} unstaged SEC(".maps");

static __always_inline bool traced(__u64 id)
{
	__u8 comm[CS_COMM_LEN];

	if (!cs_trace_task(id >> 32, (__u32)id))
		return false;
	if (cs_cfg.comm_on) {
		bpf_get_current_comm(&comm, sizeof(comm));
		return cs_trace_comm(comm);
	}
	return true;
}

/* The entry time is written in place when the thread already has its slot
 * (a lookup, not an update: the common case, and half the cost), and a
 * return takes it by writing 0 there (no delete); a thread's slot goes when
 * the thread does (funclat_thread_exit). 0 is "nothing staged". */
static __always_inline void entry(void)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	__u64 now, *ts;
	__u8 one = 1;

	if (!traced(id))
		return;
	now = bpf_ktime_get_ns();
	ts = bpf_map_lookup_elem(&start, &tid);
	if (ts) {
		*ts = now;
		return;
	}
	if (cs_stage(&start, tid, &now)) {
		cs_drop(CS_DROP_MAP_FULL);
		bpf_map_update_elem(&unstaged, &tid, &one, BPF_ANY);
	}
}

static __always_inline void leave(bool forklike)
{
	__u64 now = bpf_ktime_get_ns();
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id, key = 0;
	__u64 *ts, delta;

	ts = bpf_map_lookup_elem(&start, &tid);
	if (!ts || !*ts) {
		/* A child's return from fork is no call; an untraced task's
		 * return is none of our business. */
		if (forklike || !traced(id))
			return;
		if (bpf_map_lookup_elem(&unstaged, &tid))
			bpf_map_delete_elem(&unstaged, &tid);
		else
			cs_hist_missing();
		return;
	}
	delta = now > *ts ? now - *ts : 0;
	*ts = 0;
	if (unit == FUNCLATENCY_USEC)
		delta /= 1000;
	else if (unit == FUNCLATENCY_MSEC)
		delta /= 1000000;
	if (delta < targ_min || (max_on && delta > targ_max))
		return;
	cs_hist_record(&hists, &key, NULL, delta);
}

/* Bare sections: attached by user space, to the syscalls the pattern names. */
SEC("tracepoint")
int funclat_sys_enter(void *ctx)
{
	entry();
	return 0;
}

SEC("tracepoint")
int funclat_sys_exit(struct trace_event_raw_sys_exit *ctx)
{
	leave(ctx->ret == 0 && bpf_get_attach_cookie(ctx) == FUNCLATENCY_FORKLIKE);
	return 0;
}

/* Attached by user space: uprobe + uretprobe, or kprobe + kretprobe. */
SEC("uprobe")
int funclat_entry(struct pt_regs *ctx)
{
	entry();
	return 0;
}

SEC("uretprobe")
int funclat_return(struct pt_regs *ctx)
{
	leave(false);
	return 0;
}

/* A thread's staging slot goes with the thread (slots are kept between
 * calls, see entry()), so that dead threads do not fill the map; this also
 * drops the entry of a thread that ends inside a probed function (exit()
 * from it, killed), which never returns. */
SEC("tp/sched/sched_process_exit")
int funclat_thread_exit(void *ctx)
{
	cs_unstage_drop(&start, (__u32)bpf_get_current_pid_tgid());
	return 0;
}
