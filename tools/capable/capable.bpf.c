// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * capable: one record per capability check, from the capability:cap_capable
 * tracepoint (Linux 6.14+; it fires in cap_capable(), the commoncap check
 * every security_capable() runs). Based on capable(8) from BCC and
 * libbpf-tools, which need a kprobe on cap_capable. The tracepoint gives
 * the cred, the target and capable user namespaces, the capability and
 * the verdict, not cap_capable()'s opts: so no AUDIT (CAP_OPT_NOAUDIT)
 * and no INSETID (CAP_OPT_INSETID) here, and every check is shown, audited
 * or not (BCC's -v). A denial by another LSM after commoncap allowed is
 * not seen.
 */
#include "common/task.bpf.h"
#include "capable.h"

CORESCOPE_EXPORT(capable_event);
CORESCOPE_EXPORT_ENUM(capable_consts);

const volatile __u8 denied_only = 0;
const volatile __u8 user_stacks = 0;
const volatile __u8 kernel_stacks = 0;
const volatile __u8 unique = 0;

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, 127 * sizeof(__u64));
	__uint(max_entries, 16384); /* set by user space: 1 without -K / -U */
} stacks SEC(".maps");

/* --unique: (process, capability, verdict) already shown. An eviction
 * only means a repeat is shown again. */
struct seen_key {
	__u32 tgid;
	__s32 cap;
	__u32 denied;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 10240); /* set by user space: 1 without --unique */
	__type(key, struct seen_key);
	__type(value, __u8);
} seen SEC(".maps");

SEC("tp/capability/cap_capable")
int handle_cap_capable(struct trace_event_raw_cap_capable *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32, tid = (__u32)id;
	struct capable_event *e;
	int ret = ctx->ret, cap = ctx->cap;

	if (denied_only && !ret)
		return 0;
	if (!cs_trace_task(tgid, tid))
		return 0;
	if (unique) {
		struct seen_key k = { .tgid = tgid, .cap = cap, .denied = ret != 0 };
		__u8 one = 1;

		if (bpf_map_update_elem(&seen, &k, &one, BPF_NOEXIST))
			return 0;
	}
	e = cs_reserve(sizeof(*e));
	if (!e)
		return 0;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	if (!cs_trace_comm(e->comm)) {
		bpf_ringbuf_discard(e, BPF_RB_NO_WAKEUP);
		return 0;
	}
	e->ts_ns = bpf_ktime_get_ns();
	e->pid = tgid;
	e->tid = tid;
	e->uid = (__u32)bpf_get_current_uid_gid();
	e->userns = BPF_CORE_READ(ctx, target_ns, ns.inum);
	e->cap = cap;
	e->ret = ret;
	e->kernel_stack_id = kernel_stacks ? bpf_get_stackid(ctx, &stacks, 0) : CAPABLE_STACK_OFF;
	e->user_stack_id =
		user_stacks ? bpf_get_stackid(ctx, &stacks, BPF_F_USER_STACK) : CAPABLE_STACK_OFF;
	/* A user stack is symbolized through /proc/PID while the process
	 * lives: woken now rather than on the 100 ms tick. */
	if (user_stacks)
		bpf_ringbuf_submit(e, BPF_RB_FORCE_WAKEUP);
	else
		cs_submit_batched(e);
	return 0;
}
