// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * hardirqs: time (or count, -C) per hard IRQ handler, or its distribution
 * (-d). Based on hardirqs(8) from BCC and libbpf-tools (same hooks, tp_btf
 * irq_handler_entry / irq_handler_exit, keyed by the handler's name), with
 * these differences:
 * - totals are per-CPU and cumulative; user space prints the difference
 *   between two reads (nothing is lost between a read and a clear), and
 *   keeps the time in ns (libbpf-tools truncates each event to usecs);
 * - the entry timestamp is cleared at exit, and an exit without its entry
 *   (a handler running when tracing started) is counted as unpaired, not
 *   timed against a stale timestamp;
 * - a key that cannot be inserted (map full) is counted (map_full);
 * - no cgroup filter: the handler runs in whichever task it interrupted
 *   (libbpf-tools' -c tests that task); --cpu N instead.
 * The entry time per CPU and --cpu are the interrupt shape's (irq.bpf.h).
 */
#include "common/common.bpf.h"
#include "irq.bpf.h"
#include "hardirqs.h"

CORESCOPE_EXPORT(hardirqs_key);
CORESCOPE_EXPORT(hardirqs_total);
CORESCOPE_EXPORT_ENUM(hardirqs_mode);

const volatile __u8 mode = HARDIRQS_TIME; /* enum hardirqs_mode */
const volatile __u8 targ_ns = 0;          /* -d: nsecs, not usecs */

/* Totals (default, -C); user space sizes it to 1 with -d. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 256);
	__type(key, struct hardirqs_key);
	__type(value, struct hardirqs_total);
} totals SEC(".maps");

/* -d; user space sizes it to 1 without. */
CS_HIST_MAP(hists, struct hardirqs_key, 256);

static __always_inline void name_of(struct hardirqs_key *k, struct irqaction *action)
{
	bpf_probe_read_kernel_str(k->name, sizeof(k->name), BPF_CORE_READ(action, name));
}

/* This CPU's totals of `k`, created if needed; NULL (counted) when full. */
static __always_inline struct hardirqs_total *total_of(struct hardirqs_key *k)
{
	static const struct hardirqs_total zero;
	struct hardirqs_total *t = bpf_map_lookup_elem(&totals, k);

	if (t)
		return t;
	bpf_map_update_elem(&totals, k, &zero, BPF_NOEXIST);
	t = bpf_map_lookup_elem(&totals, k);
	if (!t)
		cs_drop(CS_DROP_MAP_FULL);
	return t;
}

SEC("tp_btf/irq_handler_entry")
int BPF_PROG(hardirqs_entry, int irq, struct irqaction *action)
{
	struct hardirqs_key key = {};
	struct hardirqs_total *t;

	if (!cs_irq_cpu_ok())
		return 0;
	if (mode == HARDIRQS_COUNT) {
		name_of(&key, action);
		t = total_of(&key);
		if (t)
			t->count++;
		return 0;
	}
	cs_irq_enter(irq);
	return 0;
}

/* Not loaded with -C. */
SEC("tp_btf/irq_handler_exit")
int BPF_PROG(hardirqs_exit, int irq, struct irqaction *action, int ret)
{
	struct hardirqs_key key = {};
	struct hardirqs_total *t;
	struct cs_hist *h;
	__u64 delta;

	if (!cs_irq_cpu_ok() || !cs_irq_exit(irq, &delta))
		return 0;
	name_of(&key, action);
	if (mode == HARDIRQS_DIST) {
		if (!targ_ns)
			delta /= 1000;
		h = cs_hist_get(&hists, &key, NULL);
		if (h)
			cs_hist_add(h, cs_log2_slot(delta), delta);
		return 0;
	}
	t = total_of(&key);
	if (t) {
		t->count++;
		t->time_ns += delta;
	}
	return 0;
}
