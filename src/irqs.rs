//! The shape of the interrupt tools (hardirqs, softirqs): per-CPU,
//! cumulative totals (count and time per handler or vector) printed as the
//! difference from the previous read every interval ([`Deltas`]), or with
//! `-d` a histogram per key (the histogram shape's map, read and cleared
//! each interval). A tool implements [`IrqTool`] (its CLI, configuration,
//! how its totals are read and a row is made); its `main` is
//! `run::interval::<irqs::Runner<Tool>>(name)`. The BPF half is
//! src/irq.bpf.h (the entry timestamp per CPU, `--cpu`).

use std::ops::ControlFlow;
use std::time::Duration;

use anyhow::Result;
use libbpf_rs::{MapCore, Object};
use plain::Plain;

use crate::cli::{NoTaskFilters, RunArgs};
use crate::delta::Deltas;
use crate::hist::{self, HistMap, HistValue, IntervalArgs, KeyFn, Scale, Steps};
use crate::output::{header_line, Output, Row};
use crate::run::{Interval, Loaded, Open, ToolSkel};
use crate::session::{Counter, Fields, Session, Tick};
use crate::UserError;

/// The options of both tools but `-C` (whose meaning differs).
#[derive(clap::Args, Debug)]
pub struct IrqArgs {
    /// A histogram of the time per handler (hardirqs: per IRQ handler
    /// name; softirqs: per vector)
    #[arg(short = 'd', long, visible_alias = "distributed")]
    pub dist: bool,
    /// Nanoseconds (default: microseconds)
    #[arg(short = 'N', long)]
    pub nanoseconds: bool,
    /// Only the interrupts handled on this CPU
    #[arg(long, value_name = "CPU")]
    pub cpu: Option<u32>,
    #[command(flatten)]
    pub iv: IntervalArgs,
    #[command(flatten)]
    pub tasks: NoTaskFilters,
    #[command(flatten)]
    pub run: RunArgs,
}

impl IrqArgs {
    /// Refuses the task filters (a handler runs in whichever task it
    /// interrupted) and checks `--cpu`: the `.rodata` `targ_cpu`.
    pub fn check(&self, tool: &str) -> Result<i32> {
        self.tasks.refuse(tool)?;
        check_cpu(self.cpu)
    }

    /// The histograms' unit.
    pub fn unit(&self) -> &'static str {
        if self.nanoseconds {
            "nsecs"
        } else {
            "usecs"
        }
    }
}

/// An interrupt tool (see the module doc).
pub trait IrqTool: Sized + 'static {
    /// The command line (`RunArgs` and `NoTaskFilters` flattened in: the
    /// handlers run in whichever task they interrupt).
    type Args: clap::Parser + 'static;
    type Skel: ToolSkel;
    /// The histogram map's key and value (`-d`).
    type HistKey: Plain + Copy + Default + 'static;
    type Value: HistValue + 'static;
    /// A totals key (a name, a vector number): ties in the rows' order are
    /// broken by it.
    type Key: Ord + Copy + 'static;
    /// What the totals table's columns depend on.
    type Opts: 'static;
    type Row<'a>: Row<Opts = Self::Opts>;
    const SHORTS: &'static [(&'static str, char)];
    /// The JSON record type of a totals row (`hardirq`, `softirq`).
    const RECORD: &'static str;
    /// How a totals row becomes Prometheus counters (`--prometheus`).
    const PROM: crate::prom::RowSpec;
    /// Sets the `.rodata` knobs and map sizes before load; returns the
    /// tool and its banner (libbpf-tools' "Tracing …" line).
    fn configure(a: Self::Args, open: &mut Open<'_, Self::Skel>) -> Result<(Self, &'static str)>;
    fn args(&self) -> &IrqArgs;
    fn opts(&self) -> &Self::Opts;
    fn hist_map<'a>(skel: &'a Loaded<'_, Self::Skel>) -> &'a dyn MapCore;
    /// How a histogram is named (`hardirq = NAME`).
    fn hist_key() -> KeyFn<Self::HistKey, Self::Value>;
    /// The order of the histograms.
    fn hist_order(k: &Self::HistKey) -> Self::Key;
    /// The totals map, summed over the CPUs: (key, [count, time_ns]).
    fn read(skel: &Loaded<'_, Self::Skel>, into: &mut Vec<(Self::Key, [u64; 2])>) -> Result<()>;
    /// Orders one interval's rows (default: by key).
    fn order(&self, _rows: &mut [(Self::Key, [u64; 2])]) {}
    /// The row of one key in one interval (`interval` from 1; `time` with `-T`).
    fn row<'a>(
        &self,
        k: &'a Self::Key,
        count: u64,
        time_ns: u64,
        interval: u64,
        time: Option<&'a str>,
    ) -> Self::Row<'a>;
}

/// Checks `--cpu` against the CPUs the kernel may have; -1 without it
/// (the BPF side's "every CPU").
pub fn check_cpu(cpu: Option<u32>) -> Result<i32> {
    let Some(cpu) = cpu else { return Ok(-1) };
    let n = libbpf_rs::num_possible_cpus()?;
    if cpu as usize >= n {
        let hint = format!("CPUs are numbered 0 to {}", n.saturating_sub(1));
        return Err(UserError::hint(format!("there is no CPU {cpu}"), hint).into());
    }
    Ok(cpu as i32)
}

/// An [`IrqTool`] run as an interval tool.
pub struct Runner<T: IrqTool> {
    tool: T,
    steps: Steps,
    hist: Option<HistMap<T::HistKey, T::Value>>,
    totals: Deltas<T::Key, 2>,
    /// Handler runs shown (all intervals), for the summary.
    counted: u64,
}

impl<T: IrqTool> Interval for Runner<T> {
    const SERVES_ROWS: bool = true;
    type Args = T::Args;
    type Skel = T::Skel;
    const SHORTS: &'static [(&'static str, char)] = T::SHORTS;

    fn configure(a: T::Args, open: &mut Open<'_, T::Skel>, s: &mut Session) -> Result<Self> {
        let (tool, banner) = T::configure(a, open)?;
        hist::set_banner(s, banner);
        Ok(Self {
            steps: tool.args().iv.steps(),
            tool,
            hist: None,
            totals: Deltas::default(),
            counted: 0,
        })
    }

    fn loaded(&mut self, skel: &mut Loaded<'_, T::Skel>, _: &mut Session) -> Result<()> {
        if self.tool.args().dist {
            self.hist = Some(HistMap::new(T::hist_map(skel))?);
        }
        Ok(())
    }

    fn period(&self) -> Duration {
        self.tool.args().iv.period()
    }

    fn tick(
        &mut self,
        skel: &Loaded<'_, T::Skel>,
        _: &Tick,
        out: &mut Output,
    ) -> Result<ControlFlow<()>> {
        if !self.steps.print_now() {
            return Ok(ControlFlow::Break(()));
        }
        let tool = &self.tool;
        let time = tool.args().iv.timestamp.then(|| out.clock.hms_now());
        if let Some(h) = &mut self.hist {
            let rows = h.take(T::hist_map(skel), |(k, _)| T::hist_order(k))?;
            let unit = (Scale::Log2, tool.args().unit());
            let p = hist::print_rows(rows, out, time.as_deref(), unit, Some(T::hist_key()))?;
            self.counted += p.values;
        } else {
            T::read(skel, self.totals.now_mut())?;
            hist::begin_interval(out, time.as_deref())?;
            if !out.json() {
                out.raw_line(&header_line::<T::Row<'_>>(tool.opts()))?;
            }
            let rows = self.totals.step();
            tool.order(rows);
            let interval = self.steps.printed();
            for (k, [count, ns]) in rows.iter() {
                let r = tool.row(k, *count, *ns, interval, time.as_deref());
                if let Some(p) = &out.prom {
                    p.row(&T::PROM, &r);
                }
                out.row_as(T::RECORD, &r, tool.opts())?;
                self.counted += count;
            }
        }
        Ok(self.steps.flow())
    }

    fn summary(&mut self, _: &Object) -> (Vec<Counter>, Fields) {
        let c = Counter::new("counted", "handler runs counted", self.counted);
        (vec![c], Fields::new())
    }
}
