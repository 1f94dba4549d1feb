/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Event tools: the `events` ring buffer (user space sizes it before load)
 * and the `cs_dropped` loss counters the session reports (losses.bpf.h),
 * with the output helpers that count what they lose. A tool never declares
 * these itself.
 */
#ifndef __CORESCOPE_EVENTS_BPF_H
#define __CORESCOPE_EVENTS_BPF_H

#include "common/losses.bpf.h"

/* One ring buffer per tool; user space sets its size before load. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

/* Copies a finished record into the ring buffer; a full ring is counted. */
static __always_inline int cs_output(void *data, __u64 size)
{
	long err = bpf_ringbuf_output(&events, data, size, 0);

	if (err)
		cs_drop(CS_DROP_RINGBUF);
	return err;
}

/* Wakeup policy of the lazy variants: wake the consumer only once the ring
 * is 1/16 full; below that the session loop picks records up on its 100 ms
 * tick. A burst then costs a few wakeups instead of one per record (each a
 * context switch of the consumer, stealing CPU from the traced work), at the
 * price of rows arriving up to ~100 ms late. */
static __always_inline __u64 cs_lazy_wakeup(__u64 adding)
{
	__u64 avail = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
	__u64 ring = bpf_ringbuf_query(&events, BPF_RB_RING_SIZE);

	return avail + adding >= ring / 16 ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

/* cs_output() with the lazy wakeup. */
static __always_inline int cs_output_lazy(void *data, __u64 size)
{
	long err = bpf_ringbuf_output(&events, data, size, cs_lazy_wakeup(size));

	if (err)
		cs_drop(CS_DROP_RINGBUF);
	return err;
}

static __always_inline void *cs_reserve(__u64 size)
{
	void *rec = bpf_ringbuf_reserve(&events, size, 0);

	if (!rec)
		cs_drop(CS_DROP_RINGBUF);
	return rec;
}

/* Submits a record from cs_reserve() with the lazy wakeup. */
static __always_inline void cs_submit_batched(void *rec)
{
	bpf_ringbuf_submit(rec, cs_lazy_wakeup(0));
}

#endif /* __CORESCOPE_EVENTS_BPF_H */
