// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * softirqs: time and count per softirq vector (hi, timer, net_tx, …), or
 * the distribution of the time (-d). Based on softirqs(8) from BCC and
 * libbpf-tools (same hooks, tp_btf softirq_entry / softirq_exit), with
 * these differences:
 * - totals are per-CPU and cumulative; user space prints the difference
 *   between two reads (nothing lost between a read and a clear), in ns
 *   until printed (libbpf-tools truncates each event to usecs);
 * - the entry is cleared at exit and must be of the same vector: an exit
 *   without its entry (a softirq running when tracing started) is counted
 *   as unpaired, not timed against a stale timestamp;
 * - --cpu N counts one CPU only.
 * The entry time per CPU and --cpu are the interrupt shape's (irq.bpf.h).
 */
#include "common/common.bpf.h"
#include "irq.bpf.h"
#include "softirqs.h"

CORESCOPE_EXPORT(softirqs_total);

const volatile __u8 dist = 0;       /* -d */
const volatile __u8 targ_ns = 0;    /* -d: nsecs, not usecs */

/* Totals by vector (without -d). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SOFTIRQS_VECS);
	__type(key, __u32);
	__type(value, struct softirqs_total);
} totals SEC(".maps");

/* -d: histograms by vector; user space sizes it to 1 without. */
CS_HIST_MAP(hists, __u32, SOFTIRQS_VECS);

SEC("tp_btf/softirq_entry")
int BPF_PROG(softirqs_entry, unsigned int vec)
{
	if (cs_irq_cpu_ok())
		cs_irq_enter(vec);
	return 0;
}

SEC("tp_btf/softirq_exit")
int BPF_PROG(softirqs_exit, unsigned int vec)
{
	struct softirqs_total *t;
	struct cs_hist *h;
	__u64 delta;

	if (!cs_irq_cpu_ok() || !cs_irq_exit(vec, &delta))
		return 0;
	if (vec >= SOFTIRQS_VECS) {
		cs_drop(CS_DROP_MAP_FULL);
		return 0;
	}
	if (dist) {
		if (!targ_ns)
			delta /= 1000;
		h = cs_hist_get(&hists, &vec, NULL);
		if (h)
			cs_hist_add(h, cs_log2_slot(delta), delta);
		return 0;
	}
	t = bpf_map_lookup_elem(&totals, &vec);
	if (t) {
		t->count++;
		t->time_ns += delta;
	}
	return 0;
}
