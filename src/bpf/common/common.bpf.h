/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Base of every corescope tool's BPF side: includes, the license, the
 * export macros and per-CPU counters. The rest is opt-in: an event tool
 * includes events.bpf.h (ring buffer, loss counters), a tool that traces
 * tasks task.bpf.h (task filter, process tree); an interval tool that reads
 * its own maps (xdpdrop) needs only this one.
 */
#ifndef __CORESCOPE_COMMON_BPF_H
#define __CORESCOPE_COMMON_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "common/common.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Forces the type into BTF so libbpf-cargo generates it for user space. */
#define CORESCOPE_EXPORT(type) struct type __corescope_export_##type = {}
#define CORESCOPE_EXPORT_ENUM(type) enum type __corescope_export_##type = 0

/* Adds one to slot `idx` of a per-CPU array of __u64 counters. */
static __always_inline void cs_count(void *percpu_array, __u32 idx)
{
	__u64 *cnt = bpf_map_lookup_elem(percpu_array, &idx);

	/* Per-CPU slot, but a preempted program can interleave on one CPU. */
	if (cnt)
		__sync_fetch_and_add(cnt, 1);
}

#endif /* __CORESCOPE_COMMON_BPF_H */
