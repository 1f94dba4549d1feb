//! The histogram shape's runner: what a histogram tool declares
//! ([`HistTool`]), and the [`run::Interval`](crate::run::Interval) that
//! prints its map every interval ([`Runner`]).

use std::ops::ControlFlow;
use std::time::Duration;

use anyhow::Result;
use libbpf_rs::{MapCore, Object};
use plain::Plain;

use super::{set_banner, HistValue, IntervalArgs, KeyFn, Printer, Scale};
use crate::output::Output;
use crate::run::{Interval, Loaded, Open, ToolSkel};
use crate::session::{Counter, Fields, Session, Tick};

/// How a tool's histograms are printed: scale and unit, and how a key is
/// shown (None: unkeyed, one histogram).
pub type Shape<K, V> = ((Scale, &'static str), Option<KeyFn<K, V>>);

/// A histogram tool: its CLI, its configuration, its map and how its keys
/// are shown. [`Runner`] does the rest.
pub trait HistTool: Sized + 'static {
    /// The command line, with `CommonArgs` and [`IntervalArgs`] flattened in.
    type Args: clap::Parser + 'static;
    type Skel: ToolSkel;
    /// The map's key (`__u32` pid, a disk's dev_t…) and value (`cs_hist`).
    type Key: Plain + Copy + Default + Ord + 'static;
    type Value: HistValue + 'static;
    const SHORTS: &'static [(&'static str, char)];
    fn interval(a: &Self::Args) -> &IntervalArgs;
    /// Sets the `.rodata` knobs and map sizes before load; returns the
    /// banner (the table's header).
    fn configure(a: &Self::Args, open: &mut Open<'_, Self::Skel>) -> Result<&'static str>;
    /// The histogram map of the loaded skeleton.
    fn map<'a>(skel: &'a Loaded<'_, Self::Skel>) -> &'a dyn MapCore;
    fn shape(a: &Self::Args) -> Shape<Self::Key, Self::Value>;
}

/// A [`HistTool`] run as an interval tool: every interval (or once at the
/// end) its histograms, cleared; `counted` (values in them) in the summary.
pub struct Runner<T: HistTool> {
    a: T::Args,
    printer: Option<Printer<T::Key, T::Value>>,
}

impl<T: HistTool> Interval for Runner<T> {
    const SERVES_ROWS: bool = true;
    type Args = T::Args;
    type Skel = T::Skel;
    const SHORTS: &'static [(&'static str, char)] = T::SHORTS;

    fn configure(a: T::Args, open: &mut Open<'_, T::Skel>, s: &mut Session) -> Result<Self> {
        set_banner(s, T::configure(&a, open)?);
        Ok(Self { a, printer: None })
    }

    fn loaded(&mut self, skel: &mut Loaded<'_, T::Skel>, _: &mut Session) -> Result<()> {
        let (hist, key) = T::shape(&self.a);
        let p = Printer::new(T::map(skel), T::interval(&self.a), hist, key)?;
        self.printer = Some(p);
        Ok(())
    }

    fn period(&self) -> Duration {
        T::interval(&self.a).period()
    }

    fn tick(
        &mut self,
        skel: &Loaded<'_, T::Skel>,
        _: &Tick,
        out: &mut Output,
    ) -> Result<ControlFlow<()>> {
        match &mut self.printer {
            Some(p) => p.tick(T::map(skel), out),
            None => Ok(ControlFlow::Break(())),
        }
    }

    fn summary(&mut self, _: &Object) -> (Vec<Counter>, Fields) {
        let counted = self.printer.as_ref().map_or(0, Printer::counted);
        let c = Counter::new("counted", "counted", counted);
        (vec![c], Fields::new())
    }
}
