//! hardirqs: time spent in hard IRQ handlers, per handler name, as a table
//! per interval (or the count of runs, `-C`; or a histogram per handler,
//! `-d`). Based on hardirqs(8) from BCC and libbpf-tools; the BPF side says
//! what differs (tools/hardirqs/hardirqs.bpf.c).
//!
//! An interrupt-shape tool ([`corescope::irqs`]): cumulative per-CPU
//! totals shown as differences per interval, or histograms with `-d`.

use corescope::delta::sum_percpu;
use corescope::escape::cstr;
use corescope::hist::{Key, KeyFn};
use corescope::irqs::{self, IrqArgs, IrqTool};
use corescope::prelude::*;
use corescope::skel::hardirqs::types::{cs_hist as Value, hardirqs_key as IrqKey, hardirqs_mode};
use corescope::skel::hardirqs::{HardirqsSkel, HardirqsSkelBuilder, OpenHardirqsSkel};
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
    #[command(flatten)]
    irq: IrqArgs,
}

impl Args {
    fn shown(&self) -> Shown {
        match (self.runs, self.irq.nanoseconds) {
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

struct Hardirqs {
    a: Args,
    shown: Shown,
}

impl IrqTool for Hardirqs {
    type Args = Args;
    type Skel = HardirqsSkelBuilder;
    type HistKey = IrqKey;
    type Value = Value;
    type Key = [u8; 32];
    type Opts = Shown;
    type Row<'a> = IrqRow<'a>;
    const SHORTS: &'static [(&'static str, char)] = &[
        ("json", 'j'),
        ("verbose", 'v'),
        ("timestamp", 'T'),
        ("refused_cgroup", 'c'),
        ("refused_pid", 'p'),
    ];
    const RECORD: &'static str = "hardirq";
    const PROM: corescope::prom::RowSpec = corescope::prom::RowSpec {
        labels: &["hardirq"],
        counters: &[
            ("count", "runs", "Handler runs", 1.0),
            ("time_ns", "time_seconds", "Time in the handler", 1e-9),
        ],
    };

    fn configure(a: Args, open: &mut OpenHardirqsSkel<'_>) -> Result<(Self, &'static str)> {
        let cpu = a.irq.check("hardirqs")?;
        let mode = match (a.runs, a.irq.dist) {
            (true, _) => hardirqs_mode::HARDIRQS_COUNT,
            (_, true) => hardirqs_mode::HARDIRQS_DIST,
            _ => hardirqs_mode::HARDIRQS_TIME,
        };
        // The map of the other mode stays unused: one entry.
        if a.irq.dist {
            open.maps.totals.set_max_entries(1)?;
        } else {
            open.maps.hists.set_max_entries(1)?;
        }
        if a.runs {
            open.progs.hardirqs_exit.set_autoload(false);
        }
        let ro = open.rodata()?;
        ro.mode = mode.0 as u8;
        ro.targ_ns = u8::from(a.irq.nanoseconds);
        ro.targ_cpu = cpu;
        // libbpf-tools' banners.
        let banner = if a.runs {
            "Tracing hard irq events... Hit Ctrl-C to end."
        } else {
            "Tracing hard irq event time... Hit Ctrl-C to end."
        };
        let shown = a.shown();
        Ok((Self { a, shown }, banner))
    }

    fn args(&self) -> &IrqArgs {
        &self.a.irq
    }

    fn opts(&self) -> &Shown {
        &self.shown
    }

    fn hist_map<'a>(skel: &'a HardirqsSkel<'_>) -> &'a dyn MapCore {
        &skel.maps.hists
    }

    fn hist_key() -> KeyFn<IrqKey, Value> {
        hist_key
    }

    fn hist_order(k: &IrqKey) -> [u8; 32] {
        k.name
    }

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

    fn order(&self, rows: &mut [([u8; 32], [u64; 2])]) {
        // The busiest first (by what is shown), then by name.
        let shown = self.shown;
        let key = |d: &[u64; 2]| if shown == Shown::Count { d[0] } else { d[1] };
        rows.sort_by(|a, b| key(&b.1).cmp(&key(&a.1)).then(a.0.cmp(&b.0)));
    }

    fn row<'a>(
        &self,
        name: &'a [u8; 32],
        count: u64,
        ns: u64,
        interval: u64,
        time: Option<&'a str>,
    ) -> IrqRow<'a> {
        IrqRow {
            interval,
            time,
            hardirq: KStr(cstr(name)),
            count,
            time_ns: (self.shown != Shown::Count).then_some(ns),
        }
    }
}

/// What the totals table shows (the second column).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shown {
    Count,
    Usecs,
    Nsecs,
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
    corescope::run::interval::<irqs::Runner<Hardirqs>>(name)
}

#[cfg(test)]
mod tests;
