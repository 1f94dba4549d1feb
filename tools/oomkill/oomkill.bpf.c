// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * oomkill: one record per OOM kill, from oom:mark_victim. Based on
 * oomkill(8) from BCC and libbpf-tools, which hook the function
 * oom_kill_process() with a kprobe (and fail where kprobes are not
 * available); the tracepoint has the victim's PID on every kernel, and on
 * newer ones its comm, memory counts (kB), UID, page tables and
 * oom_score_adj: each is read only where the running kernel's tracepoint
 * has it (CO-RE field existence). The triggering task is current: the one
 * whose allocation ran the OOM killer. The oom_control's page total that
 * BCC prints is not in the tracepoint. The process filters (-p, -- CMD,
 * --comm, --uid, --cgroup) apply to the triggering task; without one every
 * kill is reported, one that oomkill itself triggered too.
 */
#include "common/task.bpf.h"
#include "oomkill.h"

CORESCOPE_EXPORT(oomkill_event);
CORESCOPE_EXPORT_ENUM(oomkill_have);

static __always_inline bool filter_on(void)
{
	return cs_cfg.tid || cs_cfg.uid_on || cs_cfg.pids_on || cs_cfg.cgroup_on || cs_cfg.comm_on;
}

SEC("tp/oom/mark_victim")
int handle_mark_victim(struct trace_event_raw_mark_victim *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct oomkill_event *e;

	if (filter_on()) {
		__u8 comm[CS_COMM_LEN];

		bpf_get_current_comm(comm, sizeof(comm));
		if (!cs_trace_task(id >> 32, (__u32)id) || !cs_trace_comm(comm))
			return 0;
	}
	e = cs_reserve(sizeof(*e));
	if (!e)
		return 0;
	__builtin_memset(e, 0, sizeof(*e));
	e->ts_ns = bpf_ktime_get_ns();
	e->pid = ctx->pid;
	e->tpid = id >> 32;
	e->ttid = (__u32)id;
	bpf_get_current_comm(e->tcomm, sizeof(e->tcomm));
	if (bpf_core_field_exists(ctx->__data_loc_comm)) {
		/* __data_loc: offset (low 16 bits) from the record's start. */
		__u32 loc = BPF_CORE_READ(ctx, __data_loc_comm);

		bpf_probe_read_kernel_str(e->comm, sizeof(e->comm), (void *)ctx + (loc & 0xffff));
		e->have |= OOMKILL_HAVE_COMM;
	}
	if (bpf_core_field_exists(ctx->total_vm)) {
		e->total_vm_kb = BPF_CORE_READ(ctx, total_vm);
		e->anon_rss_kb = BPF_CORE_READ(ctx, anon_rss);
		e->file_rss_kb = BPF_CORE_READ(ctx, file_rss);
		e->shmem_rss_kb = BPF_CORE_READ(ctx, shmem_rss);
		e->have |= OOMKILL_HAVE_RSS;
	}
	if (bpf_core_field_exists(ctx->uid)) {
		e->uid = BPF_CORE_READ(ctx, uid);
		e->have |= OOMKILL_HAVE_UID;
	}
	if (bpf_core_field_exists(ctx->pgtables)) {
		e->pgtables_kb = BPF_CORE_READ(ctx, pgtables);
		e->have |= OOMKILL_HAVE_PGTABLES;
	}
	if (bpf_core_field_exists(ctx->oom_score_adj)) {
		e->oom_score_adj = BPF_CORE_READ(ctx, oom_score_adj);
		e->have |= OOMKILL_HAVE_SCORE_ADJ;
	}
	/* Rare and urgent (the victim's memory is about to go): wake now. */
	bpf_ringbuf_submit(e, 0);
	return 0;
}
