//! The runner: it owns every tool's lifecycle. parse (with the tool's
//! short letters) → checks, filters, `-- CMD` → open → the tool's
//! configuration → load → attach → loop → drain → summary → exit code.
//! A tool declares what it is by implementing one shape, and writes only
//! its CLI, its configuration and its rows:
//!
//! - [`Events`]: a ring-buffer stream, one call per event
//!   (execsnoop, opensnoop, tcplife);
//! - [`Interval`]: periodic reads of maps, one call per interval
//!   (xdpdrop; the histogram and top shapes, [`crate::hist`], [`crate::top`]).
//!
//! Its module then has one entry point, which build.rs registers under the
//! folder's name: `pub fn main(name: &'static str) -> ExitCode {
//! run::events::<Tool>(name) }`.

use std::cell::RefCell;
use std::mem::MaybeUninit;
use std::ops::ControlFlow;
use std::process::ExitCode;
use std::rc::Rc;
use std::time::Duration;

use anyhow::Result;
use libbpf_rs::skel::{OpenSkel, Skel, SkelBuilder};
use libbpf_rs::Object;

use crate::cli;
use crate::load::ToolOpen;
use crate::output::{Output, Row};
use crate::session::{Counter, Fields, Session, Tick};

/// A tool's generated skeleton, through its builder (implemented for each
/// by `impl_tool_skel!`): the open and the loaded skeleton types.
pub trait ToolSkel: Default + for<'o> SkelBuilder<'o, Output = Self::Open<'o>> {
    type Open<'o>: OpenSkel<'o, Output = Self::Loaded<'o>> + ToolOpen + Rodata;
    type Loaded<'o>: Skel<'o>;
}

/// The open skeleton of tool skeleton `S`.
pub type Open<'o, S> = <S as ToolSkel>::Open<'o>;
/// The loaded skeleton of tool skeleton `S`.
pub type Loaded<'o, S> = <S as ToolSkel>::Loaded<'o>;

/// An open skeleton's `.rodata` (the tool's `const volatile` knobs).
pub trait Rodata {
    type Data;
    fn rodata(&mut self) -> Result<&mut Self::Data>;
}

/// An event tool: the BPF side writes `struct <tool>_event` records (plus
/// a payload) to the ring buffer; each becomes rows.
pub trait Events: Sized {
    /// The command line (clap), with [`CommonArgs`](crate::cli::CommonArgs)
    /// flattened in (the runner reads its own copy: [`cli::parse_tool`]).
    type Args: clap::Parser;
    /// The generated skeleton's builder (`<Tool>SkelBuilder`).
    type Skel: ToolSkel;
    /// The event header (`types::<tool>_event`).
    type Event: plain::Plain + Default;
    /// The table row; its columns are decided by the tool (`Opts = Self`).
    type Row<'a>: Row<Opts = Self>
    where
        Self: 'a;
    /// Short letters for the shared options, as the BCC namesake has them.
    const SHORTS: &'static [(&'static str, char)];
    /// Sets the `.rodata` knobs and maps of the opened object (and any
    /// session option), and makes the tool.
    fn configure(a: Self::Args, open: &mut Open<'_, Self::Skel>, s: &mut Session) -> Result<Self>;
    /// One event (header + payload) → its rows (`out.row(&row, self)`).
    fn event(&mut self, e: &Self::Event, payload: &[u8], out: &mut Output) -> Result<()>;
    /// [`Events::event`] with the loaded object at hand, for a tool that
    /// reads its maps per event (capable's stacks, by id); the runner calls
    /// this one, which by default is `event`.
    fn event_with(
        &mut self,
        e: &Self::Event,
        payload: &[u8],
        out: &mut Output,
        _obj: &Object,
    ) -> Result<()> {
        self.event(e, payload, out)
    }
}

/// An interval tool: reads the BPF maps every [`Interval::period`].
pub trait Interval: Sized {
    /// The command line, with `CommonArgs` flattened in, or only `RunArgs`
    /// for a tool that traces no tasks (XDP).
    type Args: clap::Parser;
    type Skel: ToolSkel;
    const SHORTS: &'static [(&'static str, char)];
    /// As [`Events::configure`]; a tool that prints a table sets its
    /// header here ([`Session::set_header`]).
    fn configure(a: Self::Args, open: &mut Open<'_, Self::Skel>, s: &mut Session) -> Result<Self>;
    /// After loading and the runner's attach: what the tool attaches or
    /// fills itself (XDP links, rule maps, funclatency's probes); `-- CMD`
    /// is released after it.
    fn loaded(&mut self, _skel: &mut Loaded<'_, Self::Skel>, _s: &mut Session) -> Result<()> {
        Ok(())
    }
    fn period(&self) -> Duration;
    /// Whether its rows are Prometheus metrics (the histogram, top and
    /// interrupt shapes, xdpdrop): with `--prometheus` it then prints no
    /// tables and reads every INTERVAL. Other interval tools (stacks,
    /// counts printed once) print as usual and serve only their totals.
    const SERVES_ROWS: bool = false;
    /// One interval; `tick.last` is the final call (the run is ending).
    fn tick(
        &mut self,
        skel: &Loaded<'_, Self::Skel>,
        tick: &Tick,
        out: &mut Output,
    ) -> Result<ControlFlow<()>>;
    /// What the final summary adds, after the last tick.
    fn summary(&mut self, _obj: &Object) -> (Vec<Counter>, Fields) {
        Default::default()
    }
    /// The exit code, given the run's (0, or `-- CMD`'s).
    fn exit_code(&self, code: ExitCode) -> ExitCode {
        code
    }
}

/// Runs event tool `T` as `name`.
pub fn events<T: Events>(name: &'static str) -> ExitCode {
    crate::main(|| {
        let (args, shared) = cli::parse_tool::<T::Args>(name, T::SHORTS);
        let mut s = Session::for_tool(name, &shared)?;
        let mut storage = MaybeUninit::uninit();
        let mut open = s.open(&mut storage, T::Skel::default())?;
        let mut tool = T::configure(args, &mut open, &mut s)?;
        s.set_header::<T::Row<'_>>(&tool);
        let skel = s.load(open)?;
        s.stream(&skel, |e: &T::Event, payload: &[u8], out: &mut Output| {
            tool.event_with(e, payload, out, skel.object())
        })
    })
}

/// Runs interval tool `T` as `name`.
pub fn interval<T: Interval + 'static>(name: &'static str) -> ExitCode {
    crate::main(|| {
        let (args, shared) = cli::parse_tool::<T::Args>(name, T::SHORTS);
        let mut s = Session::for_tool(name, &shared)?;
        // The tool attaches by itself after loading and may still fail;
        // `-- CMD` runs once it has.
        s.defer_header();
        s.defer_cmd_release();
        s.no_events();
        let serves = s.prometheus() && T::SERVES_ROWS;
        if serves {
            s.mute_rows()?;
        }
        let mut storage = MaybeUninit::uninit();
        let mut open = s.open(&mut storage, T::Skel::default())?;
        let tool = T::configure(args, &mut open, &mut s)?;
        let mut skel = s.load(open)?;
        let tool = Rc::new(RefCell::new(tool));
        tool.borrow_mut().loaded(&mut skel, &mut s)?;
        s.release_cmd()?;
        // The summary's parts, computed once after the last tick.
        let parts: Rc<RefCell<Option<Fields>>> = Rc::default();
        let (t, p) = (Rc::clone(&tool), Rc::clone(&parts));
        s.summary_counters(move |obj| {
            let (c, f) = t.borrow_mut().summary(obj);
            *p.borrow_mut() = Some(f);
            c
        });
        let p = Rc::clone(&parts);
        s.summary_fields(move |_| p.borrow_mut().take().unwrap_or_default());
        let mut period = tool.borrow().period();
        // Serving metrics, a histogram tool without INTERVAL (one print at
        // the end) reads its maps every second for the scrapes.
        if serves && period == Duration::MAX {
            period = crate::prom::READ_EVERY;
        }
        let code = s.every(&skel, period, |tick, out| {
            tool.borrow_mut().tick(&skel, tick, out)
        })?;
        let code = tool.borrow().exit_code(code);
        Ok(code)
    })
}
