/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The `cs_dropped` loss counters the session reports (stream::Lost, read
 * by Session::stream and Session::every), without the ring buffer: an event
 * tool gets them through events.bpf.h, a histogram tool through hist.bpf.h.
 * A tool never declares them itself.
 */
#ifndef __CORESCOPE_LOSSES_BPF_H
#define __CORESCOPE_LOSSES_BPF_H

#include "common/common.bpf.h"

CORESCOPE_EXPORT_ENUM(corescope_drop);

/* Per-CPU loss counters, indexed by enum corescope_drop. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CS_DROP_MAX);
	__type(key, __u32);
	__type(value, __u64);
} cs_dropped SEC(".maps");

static __always_inline void cs_drop(__u32 reason)
{
	cs_count(&cs_dropped, reason);
}

#endif /* __CORESCOPE_LOSSES_BPF_H */
