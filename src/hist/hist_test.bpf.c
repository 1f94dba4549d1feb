// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Not a tool: runs the helpers of src/hist.bpf.h for the unit tests of
 * src/hist/ (BPF_PROG_TEST_RUN): the slot of each input value, and the
 * values added to a small keyed histogram map that the Rust reader
 * (hist::HistMap) then reads back, with the map-full count.
 */
#include "hist.bpf.h"

#define HT_N 128

/* Inputs (user space fills them before the run). */
__u64 input[HT_N] = {};
__u32 n = 0;
__u64 lin_base = 0;
__u64 lin_step = 1;
/* Keys used for the map part: value i goes to key i % nkeys. */
__u32 nkeys = 0;

/* Outputs. */
__u32 log2_out[HT_N] = {};
__u32 lin_out[HT_N] = {};
__u32 fresh_count = 0;

CS_HIST_MAP(ht_hists, __u32, 4);

/* One value (bpf_loop's callback: one verification for all of them). */
static long one(__u32 i, void *ctx)
{
	if (i >= HT_N)
		return 1;
	__u64 v = input[i];

	log2_out[i] = cs_log2_slot(v);
	lin_out[i] = cs_linear_slot(v, lin_base, lin_step);
	if (nkeys) {
		__u32 key = i % nkeys;
		bool fresh = false;
		struct cs_hist *h = cs_hist_get(&ht_hists, &key, &fresh);

		if (!h)
			return 0;
		if (fresh) {
			fresh_count++;
			h->comm[0] = 'k';
			h->comm[1] = '0' + (key & 7);
		}
		cs_hist_add(h, cs_log2_slot(v), v);
	}
	return 0;
}

SEC("raw_tp")
int hist_test(void *ctx)
{
	bpf_loop(n < HT_N ? n : HT_N, one, NULL, 0);
	return 0;
}
