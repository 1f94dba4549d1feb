// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * mountsnoop: the mount-family syscalls — mount, umount2, fsopen, fsconfig,
 * fsmount, move_mount, open_tree — with their arguments, result, latency
 * and the caller's mount namespace, from the syscall tracepoints (as
 * libbpf-tools' mountsnoop): enter stages the arguments by thread, exit
 * reads the strings from user memory and reports. Differences from
 * libbpf-tools: open_tree is traced too; a NULL string argument and one
 * that could not be read are told apart from an empty one; a string that
 * filled its buffer is marked; an exit without its enter is counted as lost
 * (unpaired). fsopen ... open_tree (Linux 5.2+) are optional programs.
 */
#include "common/task.bpf.h"
#include "staging.bpf.h"
#include "mountsnoop.h"

CORESCOPE_EXPORT(mountsnoop_event);
CORESCOPE_EXPORT_ENUM(mountsnoop_call);
CORESCOPE_EXPORT_ENUM(mountsnoop_consts);

#define FSCONFIG_SET_STRING 1
#define FSCONFIG_SET_PATH 3
#define FSCONFIG_SET_PATH_EMPTY 4

struct mount_args {
	__u64 ts;
	__u64 str[MOUNTSNOOP_NSTR]; /* user pointers; 0: none */
	__u64 flags;
	__s32 fd1;
	__s32 fd2;
	__s32 cmd;
	__s32 aux;
	__u32 attr_flags;
	__u8 call;
	__u8 has;  /* bit i: str[i] is an argument of this call */
	__u8 _pad[2];
};

CS_STAGING(calls, struct mount_args, 10240);

static __always_inline int enter(struct mount_args *a)
{
	__u64 id = bpf_get_current_pid_tgid();

	/* --comm is checked at exit, with the rest. */
	if (!cs_trace_task(id >> 32, (__u32)id))
		return 0;
	a->ts = bpf_ktime_get_ns();
	/* A full map loses the enter: its exit counts it (unpaired), once. */
	cs_stage(&calls, (__u32)id, a);
	return 0;
}

static __always_inline void read_str(struct mountsnoop_event *e, struct mount_args *a, int i)
{
	long n;

	if (!(a->has & (1 << i))) {
		if (a->str[i])
			e->str_other |= 1 << i;
		return;
	}
	if (!a->str[i]) {
		e->str_null |= 1 << i;
		return;
	}
	n = bpf_probe_read_user_str(&e->str[i * MOUNTSNOOP_STR], MOUNTSNOOP_STR,
				    (void *)a->str[i]);
	if (n < 0) {
		e->str[i * MOUNTSNOOP_STR] = 0;
		e->str_fault |= 1 << i;
	} else if (n == MOUNTSNOOP_STR) {
		e->str_cut |= 1 << i;
	}
}

static __always_inline int exit_(long ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct task_struct *t;
	struct mountsnoop_event *e;
	struct mount_args a;
	__u8 comm[CS_COMM_LEN];

	if (!cs_unstage(&calls, (__u32)id, &a)) {
		/* Begun before tracing (or its enter lost): count it where it
		 * would have been shown. */
		if (cs_trace_task(id >> 32, (__u32)id)) {
			bpf_get_current_comm(comm, sizeof(comm));
			if (cs_trace_comm(comm))
				cs_drop(CS_DROP_UNPAIRED);
		}
		return 0;
	}
	bpf_get_current_comm(comm, sizeof(comm));
	if (!cs_trace_comm(comm))
		return 0;
	e = cs_reserve(sizeof(*e));
	if (!e)
		return 0;
	/* Only the header: the strings are written below, or marked empty. */
	__builtin_memset(e, 0, offsetof(struct mountsnoop_event, str));
	e->ts_ns = bpf_ktime_get_ns();
	e->delta_ns = e->ts_ns - a.ts;
	e->flags = a.flags;
	e->ret = ret;
	e->pid = id >> 32;
	e->tid = (__u32)id;
	e->uid = (__u32)bpf_get_current_uid_gid();
	t = (struct task_struct *)bpf_get_current_task();
	e->mnt_ns = BPF_CORE_READ(t, nsproxy, mnt_ns, ns.inum);
	e->fd1 = a.fd1;
	e->fd2 = a.fd2;
	e->cmd = a.cmd;
	e->aux = a.aux;
	e->attr_flags = a.attr_flags;
	e->call = a.call;
	for (int i = 0; i < MOUNTSNOOP_NSTR; i++)
		e->str[i * MOUNTSNOOP_STR] = 0;
	read_str(e, &a, 0);
	read_str(e, &a, 1);
	read_str(e, &a, 2);
	read_str(e, &a, 3);
	__builtin_memcpy(e->comm, comm, CS_COMM_LEN);
	cs_submit_batched(e);
	return 0;
}

SEC("tp/syscalls/sys_enter_mount")
int handle_enter_mount(struct trace_event_raw_sys_enter *ctx)
{
	struct mount_args a = {};

	a.call = MOUNTSNOOP_MOUNT;
	a.str[0] = ctx->args[0];
	a.str[1] = ctx->args[1];
	a.str[2] = ctx->args[2];
	a.flags = ctx->args[3];
	a.str[3] = ctx->args[4];
	a.has = 0xf;
	return enter(&a);
}

SEC("tp/syscalls/sys_enter_umount")
int handle_enter_umount(struct trace_event_raw_sys_enter *ctx)
{
	struct mount_args a = {};

	a.call = MOUNTSNOOP_UMOUNT;
	a.str[1] = ctx->args[0];
	a.flags = ctx->args[1];
	a.has = 1 << 1;
	return enter(&a);
}

SEC("tp/syscalls/sys_enter_fsopen")
int handle_enter_fsopen(struct trace_event_raw_sys_enter *ctx)
{
	struct mount_args a = {};

	a.call = MOUNTSNOOP_FSOPEN;
	a.str[2] = ctx->args[0];
	a.flags = (__u32)ctx->args[1];
	a.has = 1 << 2;
	return enter(&a);
}

SEC("tp/syscalls/sys_enter_fsconfig")
int handle_enter_fsconfig(struct trace_event_raw_sys_enter *ctx)
{
	struct mount_args a = {};

	a.call = MOUNTSNOOP_FSCONFIG;
	a.fd1 = (__s32)ctx->args[0];
	a.cmd = (__s32)ctx->args[1];
	a.str[0] = ctx->args[2];
	a.str[3] = ctx->args[3];
	a.aux = (__s32)ctx->args[4];
	a.has = 1 << 0;
	if (a.cmd == FSCONFIG_SET_STRING || a.cmd == FSCONFIG_SET_PATH ||
	    a.cmd == FSCONFIG_SET_PATH_EMPTY || !a.str[3])
		a.has |= 1 << 3;
	return enter(&a);
}

SEC("tp/syscalls/sys_enter_fsmount")
int handle_enter_fsmount(struct trace_event_raw_sys_enter *ctx)
{
	struct mount_args a = {};

	a.call = MOUNTSNOOP_FSMOUNT;
	a.fd1 = (__s32)ctx->args[0];
	a.flags = (__u32)ctx->args[1];
	a.attr_flags = (__u32)ctx->args[2];
	return enter(&a);
}

SEC("tp/syscalls/sys_enter_move_mount")
int handle_enter_move_mount(struct trace_event_raw_sys_enter *ctx)
{
	struct mount_args a = {};

	a.call = MOUNTSNOOP_MOVE_MOUNT;
	a.fd1 = (__s32)ctx->args[0];
	a.str[0] = ctx->args[1];
	a.fd2 = (__s32)ctx->args[2];
	a.str[1] = ctx->args[3];
	a.flags = (__u32)ctx->args[4];
	a.has = 3;
	return enter(&a);
}

SEC("tp/syscalls/sys_enter_open_tree")
int handle_enter_open_tree(struct trace_event_raw_sys_enter *ctx)
{
	struct mount_args a = {};

	a.call = MOUNTSNOOP_OPEN_TREE;
	a.fd1 = (__s32)ctx->args[0];
	a.str[0] = ctx->args[1];
	a.flags = (__u32)ctx->args[2];
	a.has = 1;
	return enter(&a);
}

#define MOUNTSNOOP_EXIT(NAME)                                                  \
	SEC("tp/syscalls/sys_exit_" #NAME)                                     \
	int handle_exit_##NAME(struct trace_event_raw_sys_exit *ctx)           \
	{                                                                      \
		return exit_(ctx->ret);                                        \
	}

MOUNTSNOOP_EXIT(mount)
MOUNTSNOOP_EXIT(umount)
MOUNTSNOOP_EXIT(fsopen)
MOUNTSNOOP_EXIT(fsconfig)
MOUNTSNOOP_EXIT(fsmount)
MOUNTSNOOP_EXIT(move_mount)
MOUNTSNOOP_EXIT(open_tree)
