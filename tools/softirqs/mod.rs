//! softirqs: time spent in softirq handlers per vector (hi, timer, net_tx,
//! net_rx, block, irq_poll, tasklet, sched, hrtimer, rcu) as a table per
//! interval (`-C` adds the count), or a histogram per vector (`-d`). Based
//! on softirqs(8) from BCC and libbpf-tools; the BPF side says what
//! differs (tools/softirqs/softirqs.bpf.c).
//!
//! An interrupt-shape tool ([`corescope::irqs`]): cumulative per-CPU
//! totals shown as differences per interval, or histograms with `-d`.

use corescope::delta::sum_percpu;
use corescope::hist::{Key, KeyFn};
use corescope::irqs::{self, IrqArgs, IrqTool};
use corescope::prelude::*;
use corescope::skel::softirqs::types::cs_hist as Value;
use corescope::skel::softirqs::{OpenSoftirqsSkel, SoftirqsSkel, SoftirqsSkelBuilder};
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
    #[command(flatten)]
    irq: IrqArgs,
}

/// What the totals table shows: the unit, and whether the count too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shown {
    pub ns: bool,
    pub count: bool,
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
    shown: Shown,
}

impl IrqTool for Softirqs {
    type Args = Args;
    type Skel = SoftirqsSkelBuilder;
    type HistKey = u32;
    type Value = Value;
    type Key = u32;
    type Opts = Shown;
    type Row<'a> = VecRow<'a>;
    const SHORTS: &'static [(&'static str, char)] = &[
        ("json", 'j'),
        ("verbose", 'v'),
        ("timestamp", 'T'),
        ("refused_cgroup", 'c'),
        ("refused_pid", 'p'),
    ];
    const RECORD: &'static str = "softirq";
    const PROM: corescope::prom::RowSpec = corescope::prom::RowSpec {
        labels: &["softirq"],
        counters: &[
            ("count", "runs", "Handler runs", 1.0),
            ("time_ns", "time_seconds", "Time in the handler", 1e-9),
        ],
    };

    fn configure(a: Args, open: &mut OpenSoftirqsSkel<'_>) -> Result<(Self, &'static str)> {
        let cpu = a.irq.check("softirqs")?;
        if !a.irq.dist {
            open.maps.hists.set_max_entries(1)?;
        }
        let ro = open.rodata()?;
        ro.dist = u8::from(a.irq.dist);
        ro.targ_ns = u8::from(a.irq.nanoseconds);
        ro.targ_cpu = cpu;
        let shown = Shown {
            ns: a.irq.nanoseconds,
            count: a.runs,
        };
        // libbpf-tools' banner.
        let banner = "Tracing soft irq event time... Hit Ctrl-C to end.";
        Ok((Self { a, shown }, banner))
    }

    fn args(&self) -> &IrqArgs {
        &self.a.irq
    }

    fn opts(&self) -> &Shown {
        &self.shown
    }

    fn hist_map<'a>(skel: &'a SoftirqsSkel<'_>) -> &'a dyn MapCore {
        &skel.maps.hists
    }

    fn hist_key() -> KeyFn<u32, Value> {
        hist_key
    }

    /// In vector order, as libbpf-tools (also the totals).
    fn hist_order(k: &u32) -> u32 {
        *k
    }

    fn read(skel: &SoftirqsSkel<'_>, into: &mut Vec<(u32, [u64; 2])>) -> Result<()> {
        let map = &skel.maps.totals;
        for vec in 0..NAMES.len() as u32 {
            if let Some(cpus) = map.lookup_percpu(&vec.to_ne_bytes(), MapFlags::ANY)? {
                into.push((vec, sum_percpu(&cpus)));
            }
        }
        Ok(())
    }

    fn row<'a>(
        &self,
        vec: &'a u32,
        count: u64,
        ns: u64,
        interval: u64,
        time: Option<&'a str>,
    ) -> VecRow<'a> {
        VecRow {
            interval,
            time,
            softirq: name(*vec),
            vec: *vec,
            count,
            time_ns: ns,
        }
    }
}

/// The tool (its binary, or `corescope softirqs`).
pub fn main(name: &'static str) -> ExitCode {
    corescope::run::interval::<irqs::Runner<Softirqs>>(name)
}

#[cfg(test)]
mod tests;
