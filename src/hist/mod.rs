//! The histogram shape: what a histogram tool (biolatency, runqlat, …)
//! prints every interval, in the layout of libbpf-tools' `print_log2_hist`
//! and `print_linear_hist` (trace_helpers.c), plus a stats line and a JSON
//! record. The BPF half is src/hist.bpf.h (slot helpers, `struct cs_hist`,
//! the keyed histogram map `CS_HIST_MAP` with lookup-or-init that counts
//! what it cannot record); [`HistMap`] reads and clears that map every
//! interval (tools/runqlat/ and tools/cpudist/ use it).
//!
//! # Slots
//! Log2 slots follow libbpf-tools' `log2l` (floor) convention, the one our
//! BPF side uses: a value `v` goes to slot `floor(log2(v))`, with 0 in slot
//! 0, so slot 0 holds 0 and 1 (`0 -> 1`) and slot `i > 0` holds
//! `2^i ..= 2^(i+1) - 1`. (BCC's Python tools use `bpf_log2l`, one more,
//! with 0 alone in an unprinted slot 0: their slot `i` is our `i - 1`.)
//! Linear slot `i` holds `base + i*step ..= base + (i+1)*step - 1`.
//!
//! # How a histogram tool uses it
//! BPF side (src/hist.bpf.h has the details):
//! ```text
//! #include "common/task.bpf.h"          // or common/common.bpf.h
//! #include "hist.bpf.h"
//! CS_HIST_MAP(hists, __u32, 10240);     // key type of the tool's choosing
//! h = cs_hist_get(&hists, &key, &fresh); // NULL: map full, counted lost
//! if (h) cs_hist_add(h, cs_log2_slot(v), v);
//! no start recorded → cs_hist_missing(); // counted lost (unpaired)
//! ```
//! User space (tools/runqlat/mod.rs is the whole of it):
//! ```text
//! #[command(flatten)] iv: hist::IntervalArgs   // [interval [count]] --timestamp
//! // a tool implements hist::HistTool (tools/runqlat/mod.rs is the whole of
//! // it): its Args, skeleton, key and value types, SHORTS, its configure
//! // (.rodata knobs, hist::size_map, returns the banner), the map, and how
//! // a key is shown; hist::Runner makes it a run::Interval:
//! pub fn main(name: &'static str) -> ExitCode {
//!     corescope::run::interval::<hist::Runner<Runqlat>>(name)
//! }
//! ```
//! [`Printer`] does the interval steps (COUNT, `-T`) around [`HistMap`]
//! (used alone when a tool prints more per interval), which reads and clears the map (print-then-clear: every interval
//! shows only what happened in it, as BCC and libbpf-tools do); the losses
//! the BPF half counted reach the summary by themselves (`cs_dropped`, read
//! by `Session::every`). The banner line and (biolatency) an extra blank
//! line before an unkeyed histogram are the tool's.
//!
//! # Text
//! [`Hist::write_text`] prints exactly libbpf-tools' layout (the tests
//! compare it byte for byte with recorded runqlat and biolatency output,
//! see `fixtures/record.sh`), with two deliberate differences that only
//! show past the C version's limits: counts are 64-bit (the C code prints a
//! `%d` of an `unsigned int`) and the stars are computed without the C
//! code's 32-bit overflow (counts above 107 million). [`Hist::write_stats`]
//! adds one line that BCC and libbpf-tools do not print:
//! `     count 2500, mean ~27.4, p50 ~21.3, p90 ~30.1, p99 ~2417.6 usecs`
//! (`count N` alone when empty), with `sum S` after the count and an exact
//! mean (no `~`) when the BPF side provides the sum.
//!
//! # Mean and percentiles
//! They are computed from the slots, so they are estimates (`~`): the
//! values of a slot are taken as spread evenly over its range, which for
//! truncated integer values (ns / 1000 → usecs) is `[lo, hi + 1)`. The mean
//! without a sum takes every value at the middle of its slot's range; a
//! percentile `p` is the value of rank `p/100 × count` interpolated linearly
//! inside the slot where that rank falls (`lo + (hi + 1 - lo) × (rank -
//! before) / n`, with `before` the count below the slot and `n` its own).
//! One value in slot `4 -> 7` gives p50 = 6 and p99 = 7.96.
//!
//! # JSON
//! One `{"type":"hist", …}` record per histogram (see [`Record`]): `unit`,
//! the key fields (`disk`, `flags`, `pid`, `tid`, `pidns`, `comm`), the
//! `buckets` the text shows as `{lo, hi, count}` (inclusive bounds),
//! `count`, `sum` (only when known), `mean`, `p50`, `p90`, `p99` (`null`
//! when empty).

use std::fmt::Write as _;
use std::io;

use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};

use crate::escape::{escape_into, KStr};
use crate::output::Output;

mod map;
#[cfg(test)]
mod tests;
mod tool;

pub use map::{
    pid_key, pidns_key, print_rows, size_map, tid_key, HistMap, HistValue, KeyFn, Printed, Printer,
};
pub use tool::{HistTool, Runner, Shape};

/// Log2 slots a histogram can have: `floor(log2(u64::MAX))` is 63.
pub const MAX_LOG2_SLOTS: usize = 64;

/// How slot indexes map to values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// libbpf `log2l` slots (see the module doc).
    Log2,
    /// Slot `i` starts at `base + i * step`.
    Linear { base: u64, step: u64 },
}

/// One histogram as read from the kernel: its slots, their scale and unit.
#[derive(Debug, Clone, Copy)]
pub struct Hist<'a, T> {
    pub slots: &'a [T],
    pub scale: Scale,
    /// The value label: `usecs`, `msecs`, `nsecs`, `kbytes`, …
    pub unit: &'a str,
    /// The exact sum of the values, when the BPF side adds them up.
    pub sum: Option<u64>,
}

impl<'a, T: Copy + Into<u64>> Hist<'a, T> {
    /// A log2 histogram (at most [`MAX_LOG2_SLOTS`] slots are used).
    pub fn log2(slots: &'a [T], unit: &'a str) -> Self {
        let n = slots.len().min(MAX_LOG2_SLOTS);
        Self {
            slots: &slots[..n],
            scale: Scale::Log2,
            unit,
            sum: None,
        }
    }

    /// A linear histogram: slot `i` starts at `base + i * step` (step ≥ 1).
    pub fn linear(slots: &'a [T], base: u64, step: u64, unit: &'a str) -> Self {
        Self {
            slots,
            scale: Scale::Linear {
                base,
                step: step.max(1),
            },
            unit,
            sum: None,
        }
    }

    /// With the exact sum of the values (the mean is then exact).
    pub fn with_sum(mut self, sum: u64) -> Self {
        self.sum = Some(sum);
        self
    }

    fn count_at(&self, i: usize) -> u64 {
        self.slots.get(i).map_or(0, |&v| v.into())
    }

    /// The inclusive value range of slot `i`.
    pub fn bounds(&self, i: usize) -> (u64, u64) {
        match self.scale {
            Scale::Log2 => log2_bounds(i),
            Scale::Linear { base, step } => {
                let lo = base.saturating_add((i as u64).saturating_mul(step));
                (lo, lo.saturating_add(step.saturating_sub(1)))
            }
        }
    }

    /// The slots the text shows, as (index, count): log2 from 0 to the last
    /// non-empty slot; linear, the non-empty ones (as libbpf-tools).
    pub fn shown(&self) -> impl Iterator<Item = (usize, u64)> + '_ {
        let last = self.slots.iter().rposition(|&v| v.into() > 0);
        let log2 = self.scale == Scale::Log2;
        (0..last.map_or(0, |l| l + 1))
            .map(|i| (i, self.count_at(i)))
            .filter(move |&(_, n)| log2 || n > 0)
    }

    /// The histogram in libbpf-tools' layout; nothing when it is empty.
    pub fn write_text(&self, buf: &mut String) {
        let Some(last) = self.slots.iter().rposition(|&v| v.into() > 0) else {
            return;
        };
        let max = self.slots.iter().map(|&v| v.into()).max().unwrap_or(0);
        match self.scale {
            Scale::Log2 => {
                // Past slot 32 the bounds need 20 digits: wider, fewer stars.
                let wide = last > 32;
                let (pad, label, width, stars) = if wide {
                    (15, 29, 20, 20)
                } else {
                    (5, 19, 10, 40)
                };
                let _ = writeln!(
                    buf,
                    "{:pad$}{:<label$} : count    distribution",
                    "", self.unit
                );
                for (i, n) in self.shown() {
                    let (lo, hi) = log2_bounds(i);
                    let _ = write!(buf, "{lo:>width$} -> {hi:<width$} : {n:<8} |");
                    push_stars(buf, n, max, stars);
                    buf.push_str("|\n");
                }
            }
            Scale::Linear { .. } => {
                let _ = writeln!(buf, "     {:<13} : count     distribution", self.unit);
                for (i, n) in self.shown() {
                    let (lo, _) = self.bounds(i);
                    let _ = write!(buf, "        {lo:<10} : {n:<8} |");
                    push_stars(buf, n, max, 40);
                    buf.push_str("|\n");
                }
            }
        }
    }

    /// Count, sum, mean and percentiles (see the module doc).
    pub fn stats(&self) -> Stats {
        let count = (self.slots.iter()).fold(0u64, |a, &v| a.saturating_add(v.into()));
        let mut s = Stats {
            count,
            sum: self.sum,
            mean: None,
            mean_exact: false,
            p50: None,
            p90: None,
            p99: None,
        };
        if count == 0 {
            return s;
        }
        if let Some(sum) = self.sum {
            s.mean = Some(sum as f64 / count as f64);
            s.mean_exact = true;
        } else {
            let total: f64 = (0..self.slots.len())
                .map(|i| {
                    let (lo, hi) = self.bounds(i);
                    self.count_at(i) as f64 * (lo as f64 + hi as f64 + 1.0) / 2.0
                })
                .sum();
            s.mean = Some(total / count as f64);
        }
        s.p50 = self.percentile(50.0, count);
        s.p90 = self.percentile(90.0, count);
        s.p99 = self.percentile(99.0, count);
        s
    }

    fn percentile(&self, p: f64, count: u64) -> Option<f64> {
        let rank = p / 100.0 * count as f64;
        let mut before = 0u64;
        for i in 0..self.slots.len() {
            let n = self.count_at(i);
            if n > 0 && before.saturating_add(n) as f64 >= rank {
                let (lo, hi) = self.bounds(i);
                let (lo, end) = (lo as f64, hi as f64 + 1.0);
                return Some(lo + (end - lo) * (rank - before as f64) / n as f64);
            }
            before = before.saturating_add(n);
        }
        None
    }

    /// The stats line printed under the histogram (see the module doc).
    pub fn write_stats(&self, buf: &mut String) {
        let s = self.stats();
        let _ = write!(buf, "     count {}", s.count);
        if let Some(sum) = s.sum {
            let _ = write!(buf, ", sum {sum}");
        }
        if let (Some(mean), Some(p50), Some(p90), Some(p99)) = (s.mean, s.p50, s.p90, s.p99) {
            let approx = if s.mean_exact { "" } else { "~" };
            let _ = write!(
                buf,
                ", mean {approx}{mean:.1}, p50 ~{p50:.1}, p90 ~{p90:.1}, p99 ~{p99:.1} {}",
                self.unit
            );
        } else if s.sum.is_some() {
            let _ = write!(buf, " {}", self.unit);
        }
        buf.push('\n');
    }

    /// The JSON record of this histogram under `keys`.
    pub fn record<'k>(&'k self, keys: &'k [Key<'k>]) -> Record<'k, T> {
        Record { hist: self, keys }
    }
}

/// Inclusive bounds of log2 slot `i` as libbpf-tools prints them.
fn log2_bounds(i: usize) -> (u64, u64) {
    if i == 0 {
        return (0, 1);
    }
    let lo = 1u64.checked_shl(i as u32).unwrap_or(0);
    let hi = 1u64.checked_shl(i as u32 + 1).map_or(u64::MAX, |v| v - 1);
    (lo, hi)
}

/// libbpf-tools' bar: `n * width / max` stars, padded with spaces to
/// `width` (in 64 bits: no overflow for big counts).
fn push_stars(buf: &mut String, n: u64, max: u64, width: usize) {
    let stars = if max == 0 {
        0
    } else {
        (u128::from(n.min(max)) * width as u128 / u128::from(max)) as usize
    };
    buf.extend(std::iter::repeat_n('*', stars));
    buf.extend(std::iter::repeat_n(' ', width - stars));
}

/// See [`Hist::stats`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stats {
    pub count: u64,
    pub sum: Option<u64>,
    /// `None` when empty.
    pub mean: Option<f64>,
    /// The mean is sum / count, not an estimate from the slots.
    pub mean_exact: bool,
    pub p50: Option<f64>,
    pub p90: Option<f64>,
    pub p99: Option<f64>,
}

/// What one histogram of a keyed map stands for; printed as libbpf-tools
/// does in its section header, and as fields of the JSON record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key<'a> {
    /// biolatency `-D`: `disk = sda` (with libbpf-tools' trailing tab).
    Disk(&'a [u8]),
    /// biolatency `-F`: `flags = Sync-Write` (the tool names the flags).
    Flags(&'a str),
    /// runqlat / cpudist `-P`: `pid = 42 comm`.
    Pid { pid: u32, comm: &'a [u8] },
    /// `-L`: `tid = 42 comm`.
    Tid { tid: u32, comm: &'a [u8] },
    /// runqlat `--pidnss`: `pidns = 4026531836 comm`.
    Pidns { ns: u32, comm: &'a [u8] },
    /// A named key: `label = name` (hardirqs `hardirq = virtio0-input.0`,
    /// softirqs `softirq = net_rx`), with no blank line before it, as
    /// libbpf-tools prints those; JSON field `label`.
    Named { label: &'static str, name: &'a [u8] },
}

/// Writes the section header of a keyed histogram, libbpf-tools' strings:
/// `\ndisk = NAME\t` then `flags = …` (biolatency), `\npid = N COMM`
/// (runqlat, cpudist), then a newline; nothing without keys. Names and
/// comms are escaped.
pub fn write_section_header(buf: &mut String, keys: &[Key<'_>]) {
    if keys.is_empty() {
        return;
    }
    for k in keys {
        match *k {
            Key::Disk(name) => {
                buf.push_str("\ndisk = ");
                escape_into(buf, name, false);
                buf.push('\t');
            }
            Key::Flags(f) => {
                buf.push_str("flags = ");
                escape_into(buf, f.as_bytes(), false);
            }
            Key::Named { label, name } => {
                buf.push_str(label);
                buf.push_str(" = ");
                escape_into(buf, name, false);
            }
            Key::Pid { pid: id, comm }
            | Key::Tid { tid: id, comm }
            | Key::Pidns { ns: id, comm } => {
                let name = match k {
                    Key::Pid { .. } => "pid",
                    Key::Tid { .. } => "tid",
                    _ => "pidns",
                };
                let _ = write!(buf, "\n{name} = {id} ");
                escape_into(buf, comm, false);
            }
        }
    }
    buf.push('\n');
}

/// One histogram as a JSON record (`Output::record("hist", …)`).
pub struct Record<'a, T> {
    hist: &'a Hist<'a, T>,
    keys: &'a [Key<'a>],
}

struct Buckets<'a, T>(&'a Hist<'a, T>);

#[derive(Serialize)]
struct Bucket {
    lo: u64,
    hi: u64,
    count: u64,
}

impl<T: Copy + Into<u64>> Serialize for Buckets<'_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(None)?;
        for (i, count) in self.0.shown() {
            let (lo, hi) = self.0.bounds(i);
            seq.serialize_element(&Bucket { lo, hi, count })?;
        }
        seq.end()
    }
}

/// Rounded to 1/1000: the estimates are no more precise than that, and
/// `27.400000000000002` is noise.
fn milli(v: Option<f64>) -> Option<f64> {
    v.map(|v| (v * 1000.0).round() / 1000.0)
}

impl<T: Copy + Into<u64>> Serialize for Record<'_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let st = self.hist.stats();
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("unit", self.hist.unit)?;
        for k in self.keys {
            match *k {
                Key::Disk(name) => m.serialize_entry("disk", &KStr(name))?,
                Key::Flags(f) => m.serialize_entry("flags", f)?,
                Key::Pid { pid, comm } => {
                    m.serialize_entry("pid", &pid)?;
                    m.serialize_entry("comm", &KStr(comm))?;
                }
                Key::Tid { tid, comm } => {
                    m.serialize_entry("tid", &tid)?;
                    m.serialize_entry("comm", &KStr(comm))?;
                }
                Key::Pidns { ns, comm } => {
                    m.serialize_entry("pidns", &ns)?;
                    m.serialize_entry("comm", &KStr(comm))?;
                }
                Key::Named { label, name } => m.serialize_entry(label, &KStr(name))?,
            }
        }
        m.serialize_entry("buckets", &Buckets(self.hist))?;
        m.serialize_entry("count", &st.count)?;
        if let Some(sum) = st.sum {
            m.serialize_entry("sum", &sum)?;
        }
        m.serialize_entry("mean", &milli(st.mean))?;
        m.serialize_entry("p50", &milli(st.p50))?;
        m.serialize_entry("p90", &milli(st.p90))?;
        m.serialize_entry("p99", &milli(st.p99))?;
        m.end()
    }
}

/// The start of an interval's output in the table: a blank line, then the
/// `-T` time line (`HH:MM:SS`, padded to 8 as libbpf-tools) when given.
/// Nothing in JSON.
pub fn begin_interval(out: &mut Output, time: Option<&str>) -> io::Result<()> {
    if out.json() {
        return Ok(());
    }
    out.raw_line("")?;
    if let Some(t) = time {
        out.raw_line(&time_line(t))?;
    }
    Ok(())
}

/// libbpf-tools' `-T` line: `%-8s` of `HH:MM:SS`.
pub fn time_line(hms: &str) -> String {
    format!("{hms:<8}")
}

/// Prints one histogram: in the table its section header (with keys), the
/// histogram and the stats line; in JSON a `hist` record. Either way one
/// row of the output (`Output::shown`, the summary's events): a histogram
/// tool's table has one column, its banner ([`set_banner`]:
/// libbpf-tools' "Tracing … Hit Ctrl-C to end." line is then the header).
pub fn emit<T: Copy + Into<u64>>(
    out: &mut Output,
    keys: &[Key<'_>],
    hist: &Hist<'_, T>,
) -> io::Result<()> {
    if let Some(p) = &out.prom {
        p.hist(keys, hist);
    }
    out.row_as("hist", &HistRow { hist, keys }, &"")
}

/// One histogram as an output row: its JSON record, or its text as the
/// one cell of the table line.
struct HistRow<'a, T> {
    hist: &'a Hist<'a, T>,
    keys: &'a [Key<'a>],
}

impl<T: Copy + Into<u64>> Serialize for HistRow<'_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.hist.record(self.keys).serialize(s)
    }
}

/// The banner (libbpf-tools' "Tracing … Hit Ctrl-C to end." line) is the
/// table's one column header; each histogram is a cell of that column.
impl<T: Copy + Into<u64>> crate::output::Row for HistRow<'_, T> {
    type Opts = &'static str;
    fn columns(t: &mut crate::output::Table<'_, '_, Self>, banner: &&'static str) {
        t.col(crate::output::Col::left(banner, 0), |r, c| {
            let buf = c.buf();
            write_section_header(buf, r.keys);
            r.hist.write_text(buf);
            r.hist.write_stats(buf);
            buf.pop(); // the line's own newline follows
        });
    }
}

/// Sets a histogram tool's banner as its table header.
pub fn set_banner(s: &mut crate::Session, banner: &'static str) {
    s.set_header::<HistRow<'_, u64>>(&banner);
}

pub use crate::interval::{HistInterval as IntervalArgs, Steps};
