/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __BTF_PROBE_H
#define __BTF_PROBE_H

/* Bits of btf_probe_result.has: the fields the BTF describes. */
enum btf_probe_field {
	BTF_PROBE_PID = 1,
	BTF_PROBE_TGID = 2,
	BTF_PROBE_PPID = 4,
	BTF_PROBE_COMM = 8,
	BTF_PROBE_PARENT_COMM = 16,
};

/* What the probe read from the current task at the BTF's offsets, and what
 * the kernel's helpers (fixed offsets: the truth) say. PIDs are as the
 * initial PID namespace sees them. */
struct btf_probe_result {
	__u64 pid_tgid; /* bpf_get_current_pid_tgid() */
	__u32 pid;      /* task_struct.pid: the caller's TID */
	__u32 tgid;     /* task_struct.tgid: its PID */
	__u32 ppid;     /* task_struct.real_parent->tgid */
	__u8 has;       /* enum btf_probe_field bits */
	__u8 ran;
	__u8 _pad[2];
	__u8 comm[16];        /* task_struct.comm */
	__u8 helper_comm[16]; /* bpf_get_current_comm() */
	__u8 parent_comm[16]; /* task_struct.real_parent->comm */
};

#endif /* __BTF_PROBE_H */
