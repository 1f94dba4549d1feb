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
 * Softirqs do not nest on a CPU (one handler at a time per CPU, also on
 * PREEMPT_RT where they run under the CPU's bh lock), so one entry time
 * per CPU suffices and the per-CPU totals need no atomics.
 */
#include "common/common.bpf.h"
#include "hist.bpf.h"
#include "softirqs.h"

CORESCOPE_EXPORT(softirqs_total);

const volatile __u8 dist = 0;       /* -d */
const volatile __u8 targ_ns = 0;    /* -d: nsecs, not usecs */
const volatile __s32 targ_cpu = -1; /* --cpu; -1: every CPU */

struct start {
	__u64 ts;
	__u32 vec;
	__u32 on;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct start);
} starts SEC(".maps");

/* Totals by vector (without -d). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SOFTIRQS_VECS);
	__type(key, __u32);
	__type(value, struct softirqs_total);
} totals SEC(".maps");

/* -d: histograms by vector; user space sizes it to 1 without. */
CS_HIST_MAP(hists, __u32, SOFTIRQS_VECS);

static __always_inline bool cpu_ok(void)
{
	return targ_cpu < 0 || bpf_get_smp_processor_id() == (__u32)targ_cpu;
}

SEC("tp_btf/softirq_entry")
int BPF_PROG(softirqs_entry, unsigned int vec)
{
	struct start *s;
	__u32 zero = 0;

	if (!cpu_ok())
		return 0;
	s = bpf_map_lookup_elem(&starts, &zero);
	if (!s)
		return 0;
	s->ts = bpf_ktime_get_ns();
	s->vec = vec;
	s->on = 1;
	return 0;
}

SEC("tp_btf/softirq_exit")
int BPF_PROG(softirqs_exit, unsigned int vec)
{
	struct softirqs_total *t;
	struct cs_hist *h;
	struct start *s;
	__u32 zero = 0;
	__u64 delta;

	if (!cpu_ok())
		return 0;
	s = bpf_map_lookup_elem(&starts, &zero);
	if (!s)
		return 0;
	if (!s->on || s->vec != vec) {
		cs_hist_missing();
		return 0;
	}
	s->on = 0;
	delta = bpf_ktime_get_ns() - s->ts;
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
