// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Not a tool: the shared layer's check that a `--btf FILE` describes the
 * running kernel (src/load.rs). Run once with BPF_PROG_TEST_RUN, in the
 * caller's own context, it reads fields of the current task that the tools
 * read with CO-RE, at the offsets FILE gives; user space compares them with
 * the truth: the helpers' PID, TID and comm (fixed offsets in the kernel),
 * and its own parent (PID, in our own PID namespace only; comm from /proc).
 * A BTF from another kernel
 * gives other offsets, hence other values, where the tools would run with
 * silently wrong events. A field FILE does not describe is not checked
 * (FILE may be made for one tool only).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "probe/btf_probe.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct btf_probe_result res = {};

SEC("raw_tp")
int btf_probe(void *ctx)
{
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();

	res.pid_tgid = bpf_get_current_pid_tgid();
	bpf_get_current_comm(res.helper_comm, sizeof(res.helper_comm));
	if (bpf_core_field_exists(t->pid)) {
		res.pid = BPF_CORE_READ(t, pid);
		res.has |= BTF_PROBE_PID;
	}
	if (bpf_core_field_exists(t->tgid)) {
		res.tgid = BPF_CORE_READ(t, tgid);
		res.has |= BTF_PROBE_TGID;
		if (bpf_core_field_exists(t->real_parent)) {
			res.ppid = BPF_CORE_READ(t, real_parent, tgid);
			res.has |= BTF_PROBE_PPID;
		}
	}
	if (bpf_core_field_exists(t->comm)) {
		bpf_core_read(&res.comm, sizeof(res.comm), &t->comm);
		res.has |= BTF_PROBE_COMM;
		if (bpf_core_field_exists(t->real_parent)) {
			struct task_struct *p = BPF_CORE_READ(t, real_parent);

			bpf_core_read(&res.parent_comm, sizeof(res.parent_comm), &p->comm);
			res.has |= BTF_PROBE_PARENT_COMM;
		}
	}
	res.ran = 1;
	return 0;
}
