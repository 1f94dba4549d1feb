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
 * Hard IRQ handlers do not nest on a CPU (they run with interrupts off), so
 * one entry time per CPU suffices and per-CPU values need no atomics.
 */
#include "common/common.bpf.h"
#include "hist.bpf.h"
#include "hardirqs.h"

CORESCOPE_EXPORT(hardirqs_key);
CORESCOPE_EXPORT(hardirqs_total);
CORESCOPE_EXPORT_ENUM(hardirqs_mode);

const volatile __u8 mode = HARDIRQS_TIME; /* enum hardirqs_mode */
const volatile __u8 targ_ns = 0;          /* -d: nsecs, not usecs */
const volatile __s32 targ_cpu = -1;       /* --cpu; -1: every CPU */

struct start {
	__u64 ts;
	__u32 irq;
	__u32 on;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct start);
} starts SEC(".maps");

/* Totals (default, -C); user space sizes it to 1 with -d. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 256);
	__type(key, struct hardirqs_key);
	__type(value, struct hardirqs_total);
} totals SEC(".maps");

/* -d; user space sizes it to 1 without. */
CS_HIST_MAP(hists, struct hardirqs_key, 256);

static __always_inline bool cpu_ok(void)
{
	return targ_cpu < 0 || bpf_get_smp_processor_id() == (__u32)targ_cpu;
}

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
	struct start *s;
	__u32 zero = 0;

	if (!cpu_ok())
		return 0;
	if (mode == HARDIRQS_COUNT) {
		name_of(&key, action);
		t = total_of(&key);
		if (t)
			t->count++;
		return 0;
	}
	s = bpf_map_lookup_elem(&starts, &zero);
	if (!s)
		return 0;
	s->ts = bpf_ktime_get_ns();
	s->irq = irq;
	s->on = 1;
	return 0;
}

/* Not loaded with -C. */
SEC("tp_btf/irq_handler_exit")
int BPF_PROG(hardirqs_exit, int irq, struct irqaction *action, int ret)
{
	struct hardirqs_key key = {};
	struct hardirqs_total *t;
	struct cs_hist *h;
	struct start *s;
	__u32 zero = 0;
	__u64 delta;

	if (!cpu_ok())
		return 0;
	s = bpf_map_lookup_elem(&starts, &zero);
	if (!s)
		return 0;
	if (!s->on || s->irq != (__u32)irq) {
		cs_hist_missing();
		return 0;
	}
	s->on = 0;
	delta = bpf_ktime_get_ns() - s->ts;
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
