/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The BPF half of src/lru.rs: an LRU hash map that never evicts silently.
 * Beside the map, a one-slot count of the entries inserted and not yet
 * deleted; an insert first takes a slot (refused at the capacity the user
 * asked for: the caller counts that as a loss), a delete gives it back.
 * User space sizes the map with lru::set_capacity (room for the LRU's
 * per-CPU free lists, so it never has to evict) and reads the count and
 * the evictions with lru::usage_in(obj, NAME, LIVE).
 */
#ifndef CORESCOPE_LRU_BPF_H
#define CORESCOPE_LRU_BPF_H

/* Declares the LRU map NAME (KEY → VALUE) and its live count LIVE. */
#define CS_COUNTED_LRU(NAME, LIVE, KEY, VALUE)                                 \
	struct {                                                               \
		__uint(type, BPF_MAP_TYPE_LRU_HASH);                           \
		__uint(max_entries, 65536); /* set by lru::set_capacity */     \
		__type(key, KEY);                                              \
		__type(value, VALUE);                                          \
	} NAME SEC(".maps");                                                   \
	struct {                                                               \
		__uint(type, BPF_MAP_TYPE_ARRAY);                              \
		__uint(max_entries, 1);                                        \
		__type(key, __u32);                                            \
		__type(value, __u64);                                          \
	} LIVE SEC(".maps")

/* Reserves room for one more entry of the map counted by `live` (racing
 * CPUs may overshoot by one each: the LRU's reserve covers that). */
static __always_inline bool cs_lru_take(void *live, __u32 capacity)
{
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(live, &zero);

	if (!n || *n >= capacity)
		return false;
	__sync_fetch_and_add(n, 1);
	return true;
}

/* Gives back the room of an entry deleted (or never inserted). */
static __always_inline void cs_lru_release(void *live)
{
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(live, &zero);

	if (n)
		__sync_fetch_and_add(n, -1);
}

#endif /* CORESCOPE_LRU_BPF_H */
