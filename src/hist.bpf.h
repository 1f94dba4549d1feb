/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The BPF half of src/hist/ (the histogram shape): slot helpers, the value
 * struct of a histogram, a keyed histogram map with lookup-or-init that
 * counts what it cannot record, and the count of "missing start" events.
 *
 *   #include "common/task.bpf.h"     (or common/common.bpf.h: no task filter)
 *   #include "hist.bpf.h"
 *   CS_HIST_MAP(hists, __u32, 10240); // NAME, KEY type, max entries
 *   ...
 *   struct cs_hist *h = cs_hist_get(&hists, &key);   // NULL: counted lost
 *   if (h)
 *           cs_hist_add(h, cs_log2_slot(delta), delta);
 *   ...
 *   if (!start_ts) cs_hist_missing();  // the start happened before tracing
 *
 * Losses go to the session's `cs_dropped` counters (losses.bpf.h), which
 * Session::every reports like an event tool's (stream::Lost): a key that
 * cannot be inserted (map full) as `map_full`, an end without its start
 * as `unpaired`. User space reads and clears the map every interval with
 * hist::HistMap (src/hist/mod.rs), which also explains the slots.
 *
 * Slots (src/hist/mod.rs, "Slots"): log2 slot of v is floor(log2(v)), with
 * 0 and 1 in slot 0; linear slot i holds base + i*step .. base + (i+1)*step
 * - 1. CS_HIST_SLOTS (default 64, define it before the include to have
 * fewer) is the number of slots: 64 log2 slots hold any __u64 unclamped;
 * with fewer, a value past the last slot is counted in the last slot.
 */
#ifndef CORESCOPE_HIST_BPF_H
#define CORESCOPE_HIST_BPF_H

#include "common/losses.bpf.h"

#ifndef CS_HIST_SLOTS
#define CS_HIST_SLOTS 64
#endif

/* One histogram: counts per slot, the exact sum of the values (the mean is
 * then exact: Hist::with_sum), and the task name of a per-task histogram
 * (set by the caller when the key is a task's, e.g. at cs_hist_get). */
struct cs_hist {
	__u64 slots[CS_HIST_SLOTS];
	__u64 sum;
	__u8 comm[CS_COMM_LEN];
};

/* Exported (user space gets the type through the skeleton) and, being all
 * zeros and never written, the value a new key starts from. */
CORESCOPE_EXPORT(cs_hist);

/* floor(log2(v)); 0 for 0 and 1. Branch-free halving, as in libbpf-tools'
 * bits.bpf.h (the same convention). */
static __always_inline __u32 cs_log2(__u64 v)
{
	__u32 r = 0, shift;

	shift = (v > 0xFFFFFFFFULL) << 5;
	v >>= shift;
	r |= shift;
	shift = (v > 0xFFFF) << 4;
	v >>= shift;
	r |= shift;
	shift = (v > 0xFF) << 3;
	v >>= shift;
	r |= shift;
	shift = (v > 0xF) << 2;
	v >>= shift;
	r |= shift;
	shift = (v > 0x3) << 1;
	v >>= shift;
	r |= shift;
	r |= (v >> 1);
	return r;
}

/* The log2 slot of v, clamped to the last slot. */
static __always_inline __u32 cs_log2_slot(__u64 v)
{
	__u32 s = cs_log2(v);

	return s < CS_HIST_SLOTS ? s : CS_HIST_SLOTS - 1;
}

/* The linear slot of v: (v - base) / step, 0 below base, clamped to the
 * last slot. step 0 counts as 1. */
static __always_inline __u32 cs_linear_slot(__u64 v, __u64 base, __u64 step)
{
	__u64 s;

	if (v < base)
		return 0;
	s = (v - base) / (step ? step : 1);
	return s < CS_HIST_SLOTS ? (__u32)s : CS_HIST_SLOTS - 1;
}

/* Declares the histogram map NAME: KEY -> struct cs_hist, a hash map of
 * MAX entries (user space may resize it before load: one entry for an
 * unkeyed histogram). */
#define CS_HIST_MAP(NAME, KEY, MAX)                                            \
	struct {                                                               \
		__uint(type, BPF_MAP_TYPE_HASH);                               \
		__uint(max_entries, MAX);                                      \
		__type(key, KEY);                                              \
		__type(value, struct cs_hist);                                 \
	} NAME SEC(".maps")

/* The histogram of `key` in `map`, created (all zeros) if it is not there
 * yet; NULL when the map is full, counted as lost (map_full). `*fresh` is
 * set when this call created it (to fill in comm), if `fresh` is given. */
static __always_inline struct cs_hist *cs_hist_get(void *map, const void *key,
						   bool *fresh)
{
	struct cs_hist *h = bpf_map_lookup_elem(map, key);

	if (h)
		return h;
	/* NOEXIST: another CPU may have created it meanwhile (-EEXIST). */
	long err = bpf_map_update_elem(map, key, &__corescope_export_cs_hist,
				       BPF_NOEXIST);

	h = bpf_map_lookup_elem(map, key);
	if (!h)
		cs_drop(CS_DROP_MAP_FULL);
	else if (fresh && !err)
		*fresh = true;
	return h;
}

/* Counts `value` in slot `slot` of `h` (from cs_log2_slot or
 * cs_linear_slot) and adds it to the sum. */
static __always_inline void cs_hist_add(struct cs_hist *h, __u64 slot, __u64 value)
{
	if (slot >= CS_HIST_SLOTS)
		slot = CS_HIST_SLOTS - 1;
	/* Opaque to the compiler, so the bound below is tested on the very
	 * register the access uses: older verifiers (6.1) lose a bound
	 * checked on a copy (found by the kernel matrix). */
	asm volatile("" : "+r"(slot));
	if (slot < CS_HIST_SLOTS)
		__sync_fetch_and_add(&h->slots[slot], 1);
	__sync_fetch_and_add(&h->sum, value);
}

/* Counts `value` (log2 slot) in the histogram of `key`, created if needed;
 * a new one gets task `t`'s comm (a per-task key) unless `t` is NULL. */
static __always_inline void cs_hist_record(void *map, const void *key, struct task_struct *t,
					   __u64 value)
{
	bool fresh = false;
	struct cs_hist *h = cs_hist_get(map, key, &fresh);

	if (!h)
		return;
	if (fresh && t)
		BPF_CORE_READ_STR_INTO(&h->comm, t, comm);
	cs_hist_add(h, cs_log2_slot(value), value);
}

/* An end without its recorded start (the start came before tracing did, or
 * its record could not be kept): the value cannot be known; counted as
 * lost (unpaired). */
static __always_inline void cs_hist_missing(void)
{
	cs_drop(CS_DROP_UNPAIRED);
}

#endif /* CORESCOPE_HIST_BPF_H */
