//! Interval differences of cumulative counters: a tool whose BPF side only
//! ever adds to per-CPU counters (hardirqs, softirqs) reads their totals
//! every interval and prints what changed since the previous read. Nothing
//! is lost between a read and a clear (there is no clear), and per-CPU
//! values need no atomics in the kernel.

use std::collections::BTreeMap;

/// The previous totals by key, and the buffers of one step (allocated
/// once, reused every interval). `N` counters per key; the first is the
/// one that says whether the key changed (a count of events).
pub struct Deltas<K, const N: usize> {
    now: Vec<(K, [u64; N])>,
    prev: BTreeMap<K, [u64; N]>,
    out: Vec<(K, [u64; N])>,
}

impl<K: Ord + Copy, const N: usize> Default for Deltas<K, N> {
    fn default() -> Self {
        Self {
            now: Vec::new(),
            prev: BTreeMap::new(),
            out: Vec::new(),
        }
    }
}

impl<K: Ord + Copy, const N: usize> Deltas<K, N> {
    /// The current totals, to be filled (cleared first) before [`Deltas::step`].
    pub fn now_mut(&mut self) -> &mut Vec<(K, [u64; N])> {
        self.now.clear();
        &mut self.now
    }

    /// What grew since the previous step (keys whose first counter grew),
    /// in key order; the current totals become the previous ones.
    pub fn step(&mut self) -> &mut Vec<(K, [u64; N])> {
        self.out.clear();
        for &(k, v) in &self.now {
            let p = self.prev.get(&k).copied().unwrap_or([0; N]);
            let mut d = [0u64; N];
            for i in 0..N {
                d[i] = v[i].wrapping_sub(p[i]);
            }
            if d[0] > 0 {
                self.out.push((k, d));
            }
            self.prev.insert(k, v);
        }
        self.out.sort_by_key(|r| r.0);
        &mut self.out
    }
}

/// `N` u64 fields of a per-CPU value (`lookup_percpu`'s one buffer per
/// CPU), each summed over the CPUs.
pub fn sum_percpu<const N: usize>(cpus: &[Vec<u8>]) -> [u64; N] {
    let mut sum = [0u64; N];
    for v in cpus {
        for (s, b) in sum.iter_mut().zip(v.chunks_exact(8)) {
            let mut w = [0u8; 8];
            w.copy_from_slice(b);
            *s = s.wrapping_add(u64::from_ne_bytes(w));
        }
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_show_what_grew_since_the_last_read() {
        let mut d = Deltas::<u32, 2>::default();
        d.now_mut().extend([(3, [5, 50]), (1, [2, 20])]);
        assert_eq!(*d.step(), vec![(1, [2, 20]), (3, [5, 50])]);
        // Key 1 did not grow: left out; key 3 grew by 1; key 7 is new.
        d.now_mut()
            .extend([(3, [6, 65]), (1, [2, 20]), (7, [1, 9])]);
        assert_eq!(*d.step(), vec![(3, [1, 15]), (7, [1, 9])]);
        d.now_mut();
        assert!(d.step().is_empty(), "nothing read, nothing grew");
    }

    #[test]
    fn percpu_values_are_summed_field_by_field() {
        let cpu = |a: u64, b: u64| [a.to_ne_bytes(), b.to_ne_bytes()].concat();
        assert_eq!(sum_percpu::<2>(&[cpu(1, 10), cpu(2, 20)]), [3, 30]);
        assert_eq!(sum_percpu::<2>(&[]), [0, 0]);
    }
}
