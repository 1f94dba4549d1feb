//! softirqs: time spent in softirq handlers per vector (hi, timer, net_tx,
//! net_rx, block, irq_poll, tasklet, sched, hrtimer, rcu) as a table per
//! interval (`-C` adds the count), or a histogram per vector (`-d`). Based
//! on softirqs(8) from BCC and libbpf-tools; the BPF side says what
//! differs (tools/softirqs/softirqs.bpf.c).
//!
//! The totals are per-CPU and cumulative in the kernel: each interval shows
//! the difference from the previous read ([`Deltas`]). The histograms are
//! the histogram shape's map (src/hist.bpf.h), read and cleared each
//! interval ([`hist::HistMap`]).

use std::ops::ControlFlow;
use std::time::Duration;

use corescope::cli::{NoTaskFilters, RunArgs};
use corescope::delta::{sum_percpu, Deltas};
use corescope::hist::{self, HistMap, Key, Scale, Steps};
use corescope::output::header_line;
use corescope::prelude::*;
use corescope::session::{Counter, Fields};
use corescope::skel::softirqs::types::cs_hist as Value;
use corescope::skel::softirqs::{OpenSoftirqsSkel, SoftirqsSkel, SoftirqsSkelBuilder};
use corescope::{Tick, UserError};
use libbpf_rs::{MapCore, MapFlags};

const EXAMPLES: &str = "EXAMPLES:
    softirqs               # total time per softirq vector, at Ctrl-C
    softirqs 1 10          # every second, 10 times (each of that second only)
    softirqs -C            # with the number of handler runs
    softirqs -d            # a histogram of the time per vector
    softirqs -NT 1         # nanoseconds, with the time, every second
    softirqs --cpu 0 -j    # CPU 0 only, JSON";

/// The vectors' names, as the kernel's softirq_to_name (and /proc/softirqs
/// in lower case); the BPF side counts up to 16 vectors.
pub const NAMES: [&str; 16] = [
    "hi", "timer", "net_tx", "net_rx", "block", "irq_poll", "tasklet", "sched", "hrtimer", "rcu",
    "vec10", "vec11", "vec12", "vec13", "vec14", "vec15",
];

/// Summarize the time spent in softirq handlers, per vector.
#[derive(Parser, Debug)]
#[command(version, after_help = EXAMPLES)]
struct Args {
    /// Also show the number of handler runs (TOTAL_count)
    #[arg(short = 'C', long = "count", conflicts_with = "dist")]
    runs: bool,
    /// A histogram of the time per vector
    #[arg(short = 'd', long, visible_alias = "distributed")]
    dist: bool,
    /// Nanoseconds (default: microseconds)
    #[arg(short = 'N', long)]
    nanoseconds: bool,
    /// Only the softirqs handled on this CPU
    #[arg(long, value_name = "CPU")]
    cpu: Option<u32>,
    #[command(flatten)]
    iv: hist::IntervalArgs,
    #[command(flatten)]
    tasks: NoTaskFilters,
    #[command(flatten)]
    run: RunArgs,
}

/// What the totals table shows: the unit, and whether the count too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shown {
    pub ns: bool,
    pub count: bool,
}

impl Shown {
    fn unit(self) -> &'static str {
        if self.ns {
            "nsecs"
        } else {
            "usecs"
        }
    }
}

fn name(vec: u32) -> &'static str {
    NAMES.get(vec as usize).copied().unwrap_or("?")
}

/// How a histogram is named: `softirq = net_rx` (libbpf-tools').
fn hist_key<'a>(k: &'a u32, _: &'a Value) -> Key<'a> {
    Key::Named {
        label: "softirq",
        name: name(*k).as_bytes(),
    }
}

/// Checks `--cpu` against the CPUs the kernel may have.
fn check_cpu(cpu: Option<u32>) -> Result<i32> {
    let Some(cpu) = cpu else { return Ok(-1) };
    let n = libbpf_rs::num_possible_cpus()?;
    if cpu as usize >= n {
        let hint = format!("CPUs are numbered 0 to {}", n.saturating_sub(1));
        return Err(UserError::hint(format!("there is no CPU {cpu}"), hint).into());
    }
    Ok(cpu as i32)
}

/// One vector in one interval. Table: libbpf-tools' `%-16s %11llu`, with
/// `-C` `  %11llu` of the count; JSON: the count and the exact time in ns.
#[derive(Serialize)]
struct VecRow<'a> {
    interval: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    time: Option<&'a str>,
    softirq: &'static str,
    vec: u32,
    count: u64,
    time_ns: u64,
}

impl Row for VecRow<'_> {
    type Opts = Shown;
    fn columns(t: &mut Table<'_, '_, Self>, o: &Shown) {
        let o = *o;
        t.col(Col::left("SOFTIRQ", 16), |r, c| c.put(r.softirq));
        let head = if o.ns { "TOTAL_nsecs" } else { "TOTAL_usecs" };
        // The table does not pad the last column: padded here.
        t.col(Col::right(head, 11), move |r, c| {
            let v = if o.ns { r.time_ns } else { r.time_ns / 1000 };
            c.put(format_args!("{v:>11}"))
        });
        t.col_if(o.count, Col::right(" TOTAL_count", 12), |r, c| {
            c.put(format_args!("{:>12}", r.count))
        });
    }
}

struct Softirqs {
    a: Args,
    steps: Steps,
    hist: Option<HistMap<u32, Value>>,
    /// By vector: [count, time_ns].
    totals: Deltas<u32, 2>,
    /// Handler runs shown (all intervals), for the summary.
    counted: u64,
}

impl Softirqs {
    fn shown(&self) -> Shown {
        Shown {
            ns: self.a.nanoseconds,
            count: self.a.runs,
        }
    }

    /// The totals, summed over the CPUs.
    fn read(skel: &SoftirqsSkel<'_>, into: &mut Vec<(u32, [u64; 2])>) -> Result<()> {
        let map = &skel.maps.totals;
        for vec in 0..NAMES.len() as u32 {
            if let Some(cpus) = map.lookup_percpu(&vec.to_ne_bytes(), MapFlags::ANY)? {
                into.push((vec, sum_percpu(&cpus)));
            }
        }
        Ok(())
    }
}

impl Interval for Softirqs {
    type Args = Args;
    type Skel = SoftirqsSkelBuilder;
    const SHORTS: &'static [(&'static str, char)] = &[
        ("json", 'j'),
        ("verbose", 'v'),
        ("timestamp", 'T'),
        ("refused_cgroup", 'c'),
        ("refused_pid", 'p'),
    ];

    fn configure(a: Args, open: &mut OpenSoftirqsSkel<'_>, s: &mut Session) -> Result<Self> {
        a.tasks.refuse("softirqs")?;
        let cpu = check_cpu(a.cpu)?;
        if !a.dist {
            open.maps.hists.set_max_entries(1)?;
        }
        let ro = open.rodata()?;
        ro.dist = u8::from(a.dist);
        ro.targ_ns = u8::from(a.nanoseconds);
        ro.targ_cpu = cpu;
        // libbpf-tools' banner, the table's header.
        hist::set_banner(s, "Tracing soft irq event time... Hit Ctrl-C to end.");
        let steps = a.iv.steps();
        Ok(Self {
            a,
            steps,
            hist: None,
            totals: Deltas::default(),
            counted: 0,
        })
    }

    fn loaded(&mut self, skel: &mut SoftirqsSkel<'_>, _: &mut Session) -> Result<()> {
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
        skel: &SoftirqsSkel<'_>,
        _: &Tick,
        out: &mut Output,
    ) -> Result<ControlFlow<()>> {
        if !self.steps.print_now() {
            return Ok(ControlFlow::Break(()));
        }
        let time = self.a.iv.timestamp.then(|| out.clock.hms_now());
        let shown = self.shown();
        if let Some(h) = &mut self.hist {
            // In vector order, as libbpf-tools.
            let rows = h.take(&skel.maps.hists, |(k, _)| *k)?;
            let unit = (Scale::Log2, shown.unit());
            let p = hist::print_rows(rows, out, time.as_deref(), unit, Some(hist_key))?;
            self.counted += p.values;
        } else {
            Self::read(skel, self.totals.now_mut())?;
            hist::begin_interval(out, time.as_deref())?;
            if !out.json() {
                out.raw_line(&header_line::<VecRow<'_>>(&shown))?;
            }
            let interval = self.steps.printed();
            // In vector order, as libbpf-tools.
            for &(vec, [count, ns]) in self.totals.step().iter() {
                let r = VecRow {
                    interval,
                    time: time.as_deref(),
                    softirq: name(vec),
                    vec,
                    count,
                    time_ns: ns,
                };
                out.row_as("softirq", &r, &shown)?;
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

/// The tool (its binary, or `corescope softirqs`).
pub fn main(name: &'static str) -> ExitCode {
    corescope::run::interval::<Softirqs>(name)
}

#[cfg(test)]
mod tests;
