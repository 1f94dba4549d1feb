//! hardirqs: time spent in hard IRQ handlers, per handler name, as a table
//! per interval (or the count of runs, `-C`; or a histogram per handler,
//! `-d`). Based on hardirqs(8) from BCC and libbpf-tools; the BPF side says
//! what differs (tools/hardirqs/hardirqs.bpf.c).
//!
//! The totals are per-CPU and cumulative in the kernel: each interval shows
//! the difference from the previous read ([`Deltas`]). The histograms are
//! the histogram shape's map (src/hist.bpf.h), read and cleared each
//! interval ([`hist::HistMap`]).

use std::ops::ControlFlow;
use std::time::Duration;

use corescope::cli::{NoTaskFilters, RunArgs};
use corescope::delta::{sum_percpu, Deltas};
use corescope::escape::cstr;
use corescope::hist::{self, HistMap, Key, Scale, Steps};
use corescope::output::header_line;
use corescope::prelude::*;
use corescope::session::{Counter, Fields};
use corescope::skel::hardirqs::types::{cs_hist as Value, hardirqs_key as IrqKey, hardirqs_mode};
use corescope::skel::hardirqs::{HardirqsSkel, HardirqsSkelBuilder, OpenHardirqsSkel};
use corescope::{Tick, UserError};
use libbpf_rs::{MapCore, MapFlags};

const EXAMPLES: &str = "EXAMPLES:
    hardirqs               # total time per IRQ handler, at Ctrl-C
    hardirqs 1 10          # every second, 10 times (each of that second only)
    hardirqs -C            # the number of handler runs instead of their time
    hardirqs -d            # a histogram of the time per handler
    hardirqs -NT 1         # nanoseconds, with the time, every second
    hardirqs --cpu 0 -j    # CPU 0 only, JSON";

/// Summarize the time spent in hard IRQ handlers, per handler.
#[derive(Parser, Debug)]
#[command(version, after_help = EXAMPLES)]
struct Args {
    /// Count the handler runs instead of timing them
    #[arg(short = 'C', long = "count", conflicts_with_all = ["dist", "nanoseconds"])]
    runs: bool,
    /// A histogram of the time per handler
    #[arg(short = 'd', long, visible_alias = "distributed")]
    dist: bool,
    /// Nanoseconds (default: microseconds)
    #[arg(short = 'N', long)]
    nanoseconds: bool,
    /// Only the interrupts handled on this CPU
    #[arg(long, value_name = "CPU")]
    cpu: Option<u32>,
    #[command(flatten)]
    iv: hist::IntervalArgs,
    #[command(flatten)]
    tasks: NoTaskFilters,
    #[command(flatten)]
    run: RunArgs,
}

impl Args {
    fn shown(&self) -> Shown {
        match (self.runs, self.nanoseconds) {
            (true, _) => Shown::Count,
            (_, true) => Shown::Nsecs,
            _ => Shown::Usecs,
        }
    }
}

/// How a histogram is named: `hardirq = NAME` (libbpf-tools').
fn hist_key<'a>(k: &'a IrqKey, _: &'a Value) -> Key<'a> {
    Key::Named {
        label: "hardirq",
        name: cstr(&k.name),
    }
}

/// Checks `--cpu` against the CPUs the kernel may have.
pub fn check_cpu(cpu: Option<u32>) -> Result<i32> {
    let Some(cpu) = cpu else { return Ok(-1) };
    let n = libbpf_rs::num_possible_cpus()?;
    if cpu as usize >= n {
        let hint = format!("CPUs are numbered 0 to {}", n.saturating_sub(1));
        return Err(UserError::hint(format!("there is no CPU {cpu}"), hint).into());
    }
    Ok(cpu as i32)
}

struct Hardirqs {
    a: Args,
    steps: Steps,
    hist: Option<HistMap<IrqKey, Value>>,
    /// By name: [count, time_ns].
    totals: Deltas<[u8; 32], 2>,
    /// Handler runs shown (all intervals), for the summary.
    counted: u64,
}

impl Hardirqs {
    /// The totals map, summed over the CPUs: (name, [count, time_ns]).
    fn read(skel: &HardirqsSkel<'_>, into: &mut Vec<([u8; 32], [u64; 2])>) -> Result<()> {
        let map = &skel.maps.totals;
        for k in map.keys() {
            let Some(cpus) = map.lookup_percpu(&k, MapFlags::ANY)? else {
                continue; // deleted meanwhile (never, by us)
            };
            let mut name = [0u8; 32];
            let n = k.len().min(32);
            name[..n].copy_from_slice(&k[..n]);
            into.push((name, sum_percpu(&cpus)));
        }
        Ok(())
    }
}

impl Interval for Hardirqs {
    type Args = Args;
    type Skel = HardirqsSkelBuilder;
    const SHORTS: &'static [(&'static str, char)] = &[
        ("json", 'j'),
        ("verbose", 'v'),
        ("timestamp", 'T'),
        ("refused_cgroup", 'c'),
        ("refused_pid", 'p'),
    ];

    fn configure(a: Args, open: &mut OpenHardirqsSkel<'_>, s: &mut Session) -> Result<Self> {
        a.tasks.refuse("hardirqs")?;
        let cpu = check_cpu(a.cpu)?;
        let mode = match (a.runs, a.dist) {
            (true, _) => hardirqs_mode::HARDIRQS_COUNT,
            (_, true) => hardirqs_mode::HARDIRQS_DIST,
            _ => hardirqs_mode::HARDIRQS_TIME,
        };
        // The map of the other mode stays unused: one entry.
        if a.dist {
            open.maps.totals.set_max_entries(1)?;
        } else {
            open.maps.hists.set_max_entries(1)?;
        }
        if a.runs {
            open.progs.hardirqs_exit.set_autoload(false);
        }
        let ro = open.rodata()?;
        ro.mode = mode.0 as u8;
        ro.targ_ns = u8::from(a.nanoseconds);
        ro.targ_cpu = cpu;
        // libbpf-tools' banners, the table's header.
        hist::set_banner(
            s,
            if a.runs {
                "Tracing hard irq events... Hit Ctrl-C to end."
            } else {
                "Tracing hard irq event time... Hit Ctrl-C to end."
            },
        );
        let steps = a.iv.steps();
        Ok(Self {
            a,
            steps,
            hist: None,
            totals: Deltas::default(),
            counted: 0,
        })
    }

    fn loaded(&mut self, skel: &mut HardirqsSkel<'_>, _: &mut Session) -> Result<()> {
        if self.a.dist {
            self.hist = Some(HistMap::new(&skel.maps.hists)?);
        }
        Ok(())
    }

    fn period(&self) -> Duration {
        self.a.iv.period()
    }

    fn tick(
        &mut self,
        skel: &HardirqsSkel<'_>,
        _: &Tick,
        out: &mut Output,
    ) -> Result<ControlFlow<()>> {
        if !self.steps.print_now() {
            return Ok(ControlFlow::Break(()));
        }
        let time = self.a.iv.timestamp.then(|| out.clock.hms_now());
        let shown = self.a.shown();
        if let Some(h) = &mut self.hist {
            let rows = h.take(&skel.maps.hists, |(k, _)| k.name)?;
            let unit = (Scale::Log2, shown.unit());
            let p = hist::print_rows(rows, out, time.as_deref(), unit, Some(hist_key))?;
            self.counted += p.values;
        } else {
            Self::read(skel, self.totals.now_mut())?;
            hist::begin_interval(out, time.as_deref())?;
            if !out.json() {
                out.raw_line(&header_line::<IrqRow<'_>>(&shown))?;
            }
            let rows = self.totals.step();
            // The busiest first (by what is shown), then by name.
            let key = |d: &[u64; 2]| if shown == Shown::Count { d[0] } else { d[1] };
            rows.sort_by(|a, b| key(&b.1).cmp(&key(&a.1)).then(a.0.cmp(&b.0)));
            let interval = self.steps.printed();
            for (name, [count, ns]) in rows.iter() {
                let r = IrqRow {
                    interval,
                    time: time.as_deref(),
                    hardirq: KStr(cstr(name)),
                    count: *count,
                    time_ns: (shown != Shown::Count).then_some(*ns),
                };
                out.row_as("hardirq", &r, &shown)?;
                self.counted += count;
            }
        }
        Ok(self.steps.flow())
    }

    fn summary(&mut self, _: &libbpf_rs::Object) -> (Vec<Counter>, Fields) {
        let c = Counter::new("counted", "handler runs counted", self.counted);
        (vec![c], Fields::new())
    }
}

/// What the totals table shows (the second column).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shown {
    Count,
    Usecs,
    Nsecs,
}

impl Shown {
    fn unit(self) -> &'static str {
        match self {
            Shown::Nsecs => "nsecs",
            _ => "usecs",
        }
    }
}

/// One handler in one interval. Table: libbpf-tools' `%-26s %11llu`
/// (the name is never cut: a longer one pushes the number right, as
/// there); JSON: the count and the exact time in ns (without -C).
#[derive(Serialize)]
struct IrqRow<'a> {
    interval: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    time: Option<&'a str>,
    hardirq: KStr<'a>,
    count: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    time_ns: Option<u64>,
}

impl Row for IrqRow<'_> {
    type Opts = Shown;
    fn columns(t: &mut Table<'_, '_, Self>, o: &Shown) {
        let o = *o;
        t.col(Col::left("HARDIRQ", 26), |r, c| {
            escape_into(c.buf(), r.hardirq.0, false)
        });
        let head = match o {
            Shown::Count => "TOTAL_count",
            Shown::Usecs => "TOTAL_usecs",
            Shown::Nsecs => "TOTAL_nsecs",
        };
        // The last column is not padded by the table: padded here.
        t.col(Col::right(head, 11), move |r, c| {
            let v = match (o, r.time_ns) {
                (Shown::Nsecs, Some(ns)) => ns,
                (Shown::Usecs, Some(ns)) => ns / 1000,
                _ => r.count,
            };
            c.put(format_args!("{v:>11}"))
        });
    }
}

/// The tool (its binary, or `corescope hardirqs`).
pub fn main(name: &'static str) -> ExitCode {
    corescope::run::interval::<Hardirqs>(name)
}

#[cfg(test)]
mod tests;
