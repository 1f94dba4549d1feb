/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The BPF half of the interrupt shape (src/irqs.rs: hardirqs, softirqs):
 * the time a handler started on this CPU, and the --cpu filter.
 *
 * Hard IRQ handlers run with interrupts off and softirqs one at a time per
 * CPU (also on PREEMPT_RT, under the CPU's bh lock): neither nests on a
 * CPU, so one entry time per CPU suffices, and per-CPU totals need no
 * atomics.
 *
 *   if (!cs_irq_cpu_ok()) return 0;
 *   cs_irq_enter(id);                       // at entry (id: irq, vector)
 *   if (!cs_irq_exit(id, &delta)) return 0; // at exit: ns since the entry
 *
 * The entry is cleared at exit and must be of the same id: an exit without
 * its entry (a handler running when tracing started) is counted as
 * unpaired (cs_hist_missing), not timed against a stale timestamp.
 */
#ifndef CORESCOPE_IRQ_BPF_H
#define CORESCOPE_IRQ_BPF_H

#include "hist.bpf.h"

const volatile __s32 targ_cpu = -1; /* --cpu; -1: every CPU */

struct cs_irq_start {
	__u64 ts;
	__u32 id;
	__u32 on;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cs_irq_start);
} cs_irq_starts SEC(".maps");

static __always_inline bool cs_irq_cpu_ok(void)
{
	return targ_cpu < 0 || bpf_get_smp_processor_id() == (__u32)targ_cpu;
}

static __always_inline void cs_irq_enter(__u32 id)
{
	__u32 zero = 0;
	struct cs_irq_start *s = bpf_map_lookup_elem(&cs_irq_starts, &zero);

	if (!s)
		return;
	s->ts = bpf_ktime_get_ns();
	s->id = id;
	s->on = 1;
}

/* Whether this exit had its entry; `*delta`: ns since it. */
static __always_inline bool cs_irq_exit(__u32 id, __u64 *delta)
{
	__u32 zero = 0;
	struct cs_irq_start *s = bpf_map_lookup_elem(&cs_irq_starts, &zero);

	if (!s)
		return false;
	if (!s->on || s->id != id) {
		cs_hist_missing();
		return false;
	}
	s->on = 0;
	*delta = bpf_ktime_get_ns() - s->ts;
	return true;
}

#endif /* CORESCOPE_IRQ_BPF_H */
