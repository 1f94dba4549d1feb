//! LRU hash maps that never evict silently.
//!
//! An LRU map is the safe choice for per-object state (an entry whose end
//! is missed cannot fill the map forever), but its evictions are silent.
//! The pattern here: the BPF side keeps a count of the entries it inserted
//! and not yet deleted (slot 0 of a one-slot `u64` array, updated
//! atomically) and refuses inserts beyond the capacity the user asked for
//! (a counted loss, `CS_DROP_MAP_FULL`); user space creates the map with
//! [`max_entries`], which adds the room the kernel's LRU keeps in per-CPU
//! free lists, so the LRU never has to evict. [`evicted`] checks that at the
//! end: entries counted but no longer in the map were evicted. The BPF half,
//! the map and count declared together and the take/release helpers, is
//! src/lru.bpf.h.

use libbpf_rs::{MapCore, MapFlags, Object};

use crate::session::find_map;

/// `LOCAL_FREE_TARGET` of kernel/bpf/bpf_lru_list.h: free nodes a CPU may
/// hold back; the LRU evicts when the shared free list runs short of this.
const LRU_LOCAL_FREE: u32 = 128;

/// `max_entries` for an LRU hash map that must hold `wanted` entries
/// without evicting any.
pub fn max_entries(wanted: u32) -> u32 {
    let cpus = libbpf_rs::num_possible_cpus().unwrap_or(1).max(1) as u32;
    wanted.saturating_add(cpus.saturating_add(1).saturating_mul(LRU_LOCAL_FREE))
}

/// Creates `map` (not loaded yet) with room for `wanted` entries without
/// evictions ([`max_entries`]).
pub fn set_capacity(map: &mut libbpf_rs::OpenMapMut<'_>, wanted: u32) -> libbpf_rs::Result<()> {
    map.set_max_entries(max_entries(wanted))
}

fn read_u64(map: &dyn MapCore) -> u64 {
    map.lookup(&0u32.to_ne_bytes(), MapFlags::ANY)
        .ok()
        .flatten()
        .and_then(|v| v.get(..8).and_then(|b| b.try_into().ok()))
        .map(u64::from_ne_bytes)
        .unwrap_or(0)
}

/// What an LRU map holds at the end of a run.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    /// Entries in the map.
    pub entries: u64,
    /// Entries evicted by the kernel: the count in slot 0 of `live` minus
    /// the entries in the map.
    pub evicted: u64,
}

/// [`Usage`] of `map`. Read while the programs may still run, so it is
/// retried until the count holds still around the walk of the map (under
/// heavy churn `evicted` is a lower bound).
pub fn usage(map: &dyn MapCore, live: &dyn MapCore) -> Usage {
    let mut best = Usage {
        entries: 0,
        evicted: u64::MAX,
    };
    for _ in 0..16 {
        let before = read_u64(live);
        let entries = map.keys().count() as u64;
        let after = read_u64(live);
        let evicted = before.min(after).saturating_sub(entries);
        if before == after {
            return Usage { entries, evicted };
        }
        if evicted <= best.evicted {
            best = Usage { entries, evicted };
        }
    }
    best
}

/// [`usage`] of the maps called `map` and `live` in `obj` (zeros if absent).
pub fn usage_in(obj: &Object, map: &str, live: &str) -> Usage {
    match (find_map(obj, map), find_map(obj, live)) {
        (Ok(m), Ok(l)) => usage(&m, &l),
        _ => Usage::default(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn room_for_per_cpu_free_lists() {
        let cpus = libbpf_rs::num_possible_cpus().unwrap() as u32;
        assert_eq!(super::max_entries(1000), 1000 + (cpus + 1) * 128);
        assert_eq!(super::max_entries(u32::MAX), u32::MAX);
    }
}
