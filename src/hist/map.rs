//! The user-space reader of the BPF half's histogram map (src/hist.bpf.h,
//! `CS_HIST_MAP`): every interval it takes every histogram out of the map
//! (read and clear in one pass: [`crate::top::Drain`], batch where the
//! kernel has it), orders them by key and prints them
//! ([`super::emit`]).

use std::io;
use std::ops::ControlFlow;

use anyhow::Result;
use libbpf_rs::{MapCore, OpenMapMut};
use plain::Plain;

use super::{begin_interval, emit, Hist, Key, Scale, MAX_LOG2_SLOTS};
use crate::output::Output;
use crate::top::Drain;

/// The value of a histogram map: `struct cs_hist` of src/hist.bpf.h, as a
/// tool's skeleton generates it (build.rs implements this for every
/// skeleton that has the type, with [`impl_hist_value!`](crate::impl_hist_value)).
pub trait HistValue: Plain + Copy + Default {
    /// Counts per slot (`CS_HIST_SLOTS` of them).
    fn slots(&self) -> &[u64];
    /// The exact sum of the values counted.
    fn sum(&self) -> u64;
    /// The task name a per-task histogram was created with (up to its NUL).
    fn comm(&self) -> &[u8];
}

/// Implements [`HistValue`] (and `plain::Plain`) for a skeleton's
/// `types::cs_hist`; invoked by build.rs inside the skeleton's module.
#[doc(hidden)]
#[macro_export]
macro_rules! impl_hist_value {
    () => {
        // SAFETY: struct cs_hist (src/hist.bpf.h) is made of u64 and u8
        // arrays only: every bit pattern is valid.
        unsafe impl plain::Plain for types::cs_hist {}
        impl $crate::hist::HistValue for types::cs_hist {
            fn slots(&self) -> &[u64] {
                &self.slots
            }
            fn sum(&self) -> u64 {
                self.sum
            }
            fn comm(&self) -> &[u8] {
                $crate::escape::cstr(&self.comm)
            }
        }
    };
}

/// Sizes a histogram map before load: `keyed` maps get room for `max`
/// keys, an unkeyed one (a single histogram) for one.
pub fn size_map(map: &mut OpenMapMut<'_>, keyed: bool, max: u32) -> libbpf_rs::Result<()> {
    map.set_max_entries(if keyed { max.max(1) } else { 1 })
}

/// What one interval printed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Printed {
    /// Histograms printed (JSON records).
    pub hists: u64,
    /// Values they counted (the sum of their slots).
    pub values: u64,
}

/// Reads, prints and clears a histogram map of `K` → `V` every interval.
pub struct HistMap<K, V> {
    drain: Drain<K, V>,
}

impl<K: Plain + Copy + Default, V: HistValue> HistMap<K, V> {
    /// A reader for `map` (a `CS_HIST_MAP`: a hash map of `K` → `V`); its
    /// buffers are allocated once, for `max_entries` keys.
    pub fn new(map: &dyn MapCore) -> Result<Self> {
        Ok(Self {
            drain: Drain::new(map)?,
        })
    }

    /// Takes every histogram out of `map` (empty after, but for keys the
    /// BPF side inserted meanwhile), sorted by `order`.
    pub fn take<O: Ord>(
        &mut self,
        map: &dyn MapCore,
        order: impl FnMut(&(K, V)) -> O,
    ) -> Result<&[(K, V)]> {
        let rows = self.drain.drain(map)?;
        rows.sort_by_key(order);
        Ok(rows)
    }

    /// One interval of a histogram tool: takes the histograms out of
    /// `map` (sorted by `order`) and prints them ([`print_rows`]).
    #[allow(clippy::too_many_arguments)]
    pub fn print<O: Ord>(
        &mut self,
        map: &dyn MapCore,
        out: &mut Output,
        time: Option<&str>,
        (scale, unit): (Scale, &str),
        order: impl FnMut(&(K, V)) -> O,
        key: Option<KeyFn<K, V>>,
    ) -> Result<Printed> {
        let rows = self.take(map, order)?;
        print_rows(rows, out, time, (scale, unit), key)
    }
}

/// How a tool names the histogram of a key: its section header and JSON
/// key fields (`Key::Pid { pid: *k, comm: v.comm() }`).
pub type KeyFn<K, V> = for<'a> fn(&'a K, &'a V) -> Key<'a>;

/// A process's histogram: `pid = N comm` (runqlat/cpudist `-P`).
pub fn pid_key<'a, V: HistValue>(k: &'a u32, v: &'a V) -> Key<'a> {
    Key::Pid {
        pid: *k,
        comm: v.comm(),
    }
}

/// A thread's histogram: `tid = N comm` (`-L`).
pub fn tid_key<'a, V: HistValue>(k: &'a u32, v: &'a V) -> Key<'a> {
    Key::Tid {
        tid: *k,
        comm: v.comm(),
    }
}

/// A PID namespace's histogram: `pidns = N comm` (`--pidnss`).
pub fn pidns_key<'a, V: HistValue>(k: &'a u32, v: &'a V) -> Key<'a> {
    Key::Pidns {
        ns: *k,
        comm: v.comm(),
    }
}

/// Prints `rows` as one interval: [`begin_interval`], then each histogram
/// with its section header ([`emit`]; `key` None: unkeyed, a single
/// histogram printed even when nothing was counted, as `count 0`, where
/// libbpf-tools prints nothing).
pub fn print_rows<K, V: HistValue>(
    rows: &[(K, V)],
    out: &mut Output,
    time: Option<&str>,
    (scale, unit): (Scale, &str),
    key: Option<KeyFn<K, V>>,
) -> Result<Printed> {
    begin_interval(out, time)?;
    let mut p = Printed::default();
    let mut one = |keys: &[Key<'_>], slots: &[u64], sum: u64| -> io::Result<()> {
        let n = slots.len().min(if scale == Scale::Log2 {
            MAX_LOG2_SLOTS
        } else {
            usize::MAX
        });
        let h = Hist {
            slots: &slots[..n],
            scale,
            unit,
            sum: Some(sum),
        };
        p.hists += 1;
        p.values += h.stats().count;
        emit(out, keys, &h)
    };
    match key {
        None if rows.is_empty() => one(&[], &[], 0)?,
        None => {
            for (_, v) in rows {
                one(&[], v.slots(), v.sum())?;
            }
        }
        Some(key) => {
            for (k, v) in rows {
                one(&[key(k, v)], v.slots(), v.sum())?;
            }
        }
    }
    Ok(p)
}

/// A histogram tool's interval loop ([`super::Runner`]): at each tick
/// (until COUNT intervals, see [`super::Steps`]) the `-T` time, then every
/// histogram of the map, cleared ([`HistMap::print`]); keeps the number of
/// values counted for the summary ([`Printer::counted`]).
pub struct Printer<K, V> {
    map: HistMap<K, V>,
    steps: super::Steps,
    timestamp: bool,
    hist: (Scale, &'static str),
    key: Option<KeyFn<K, V>>,
    counted: u64,
}

impl<K: Plain + Copy + Default + Ord, V: HistValue> Printer<K, V> {
    /// For `map` (loaded), with `[interval [count]] -T` from `iv`, the
    /// scale and unit of its histograms, and how a key is shown (None:
    /// unkeyed). Histograms are printed in key order.
    pub fn new(
        map: &dyn MapCore,
        iv: &super::IntervalArgs,
        hist: (Scale, &'static str),
        key: Option<KeyFn<K, V>>,
    ) -> Result<Self> {
        Ok(Self {
            map: HistMap::new(map)?,
            steps: iv.steps(),
            timestamp: iv.timestamp,
            hist,
            key,
            counted: 0,
        })
    }

    /// One interval ([`crate::run::Interval::tick`]).
    pub fn tick(&mut self, map: &dyn MapCore, out: &mut Output) -> Result<ControlFlow<()>> {
        if !self.steps.print_now() {
            return Ok(ControlFlow::Break(()));
        }
        let time = self.timestamp.then(|| out.clock.hms_now());
        let p = self
            .map
            .print(map, out, time.as_deref(), self.hist, |(k, _)| *k, self.key)?;
        self.counted += p.values;
        Ok(self.steps.flow())
    }

    /// `counted`: the values counted in the histograms printed (the run's
    /// total, whatever the intervals), for the summary.
    pub fn counted(&self) -> u64 {
        self.counted
    }
}
