//! One tracing session: checks, filter, open → load → attach, the event loop
//! and its ending (Ctrl-C / SIGTERM / SIGHUP, --duration, CMD exit, closed
//! stdout), which also ends `-- CMD` if it is still running.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::mem::MaybeUninit;
use std::os::fd::AsRawFd;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use libbpf_rs::skel::{OpenSkel, Skel};
use libbpf_rs::{MapCore, MapFlags, Object, OpenObject, RingBufferBuilder};
use serde::Serialize;

use crate::cli::{CommonArgs, RunArgs};
use crate::cmd::{CmdEnd, CmdStatus, HeldChild};
use crate::error::UserError;
use crate::filter::{self, Filter};
use crate::libbpf_log;
use crate::load::{self, ToolOpen};
use crate::output::{Output, Row};
use crate::run::ToolSkel;
use crate::stream::{decode, skipped_runs, LossReporter, Lost};

static STOP: AtomicBool = AtomicBool::new(false);

/// Makes Ctrl-C, SIGTERM and SIGHUP end the sessions' loops; once per
/// process (the exporter runs several sessions, and installs it first).
pub fn install_stop_handler() -> Result<()> {
    static HANDLER: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    HANDLER
        .get_or_init(|| {
            STOP.store(false, Ordering::SeqCst);
            ctrlc::set_handler(|| STOP.store(true, Ordering::SeqCst)).map_err(|e| e.to_string())
        })
        .clone()
        .map_err(|e| anyhow!("installing the Ctrl-C handler: {e}"))
}

/// Ends every session of the process as Ctrl-C does (the exporter, when
/// one of its tools has ended).
pub fn stop_all() {
    STOP.store(true, Ordering::SeqCst);
}
const PAGE: u32 = 4096;

pub struct Session {
    tool: &'static str,
    run: RunArgs,
    filter: Filter,
    child: Option<HeldChild>,
    optional: Vec<&'static str>,
    out: Output,
    counters: Option<CounterFn>,
    fields: Option<FieldsFn>,
    harmless_skips: Vec<&'static str>,
    /// Print the header when the loop starts, not at load.
    defer_header: bool,
    /// No event stream (an interval tool): a ring buffer its BPF headers
    /// bring along gets one page.
    no_events: bool,
    /// Release `-- CMD` when the tool says so ([`Session::release_cmd`]), not at load.
    defer_release: bool,
    /// The -v line "tracing, N BPF programs attached", printed at release.
    announce: Option<String>,
    /// The tool prints the header itself, above each interval's table.
    own_header: bool,
}

/// Where a periodic loop is: see [`Session::every`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tick {
    /// The final call: the run is ending (Ctrl-C, SIGTERM, --duration, the
    /// end of `-- CMD`, or the handler asked to stop).
    pub last: bool,
    /// Time since the loop started.
    pub elapsed: Duration,
    /// Time since the previous call (since the start for the first one).
    pub since_last: Duration,
}

/// A tool's own count for the final summary: JSON field `key` of the
/// `summary` record, and `value label` on the stderr summary line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counter {
    pub key: &'static str,
    pub label: &'static str,
    pub value: u64,
}

impl Counter {
    pub fn new(key: &'static str, label: &'static str, value: u64) -> Self {
        Self { key, label, value }
    }
}

type CounterFn = Box<dyn FnOnce(&Object) -> Vec<Counter>>;

/// A tool's own non-counter fields of the JSON `summary` record.
pub type Fields = serde_json::Map<String, serde_json::Value>;
type FieldsFn = Box<dyn FnOnce(&Object) -> Fields>;

#[derive(Serialize)]
struct Summary {
    /// Records received from the kernel.
    events: u64,
    /// Rows printed (events minus those filtered in user space). An interval
    /// tool prints every row it reads: both are its rows.
    shown: u64,
    filtered: u64,
    lost: u64,
    lost_detail: Lost,
    duration_s: f64,
    /// `-- CMD`'s exit code (128 + signal if a signal killed it).
    #[serde(skip_serializing_if = "Option::is_none")]
    cmd_exit_code: Option<u8>,
    /// How CMD ended: by itself, by a signal, or stopped by the tool.
    #[serde(skip_serializing_if = "Option::is_none")]
    cmd_ended: Option<CmdEnd>,
    /// The signal that killed CMD, if one did (`"SIGTERM"`).
    #[serde(skip_serializing_if = "Option::is_none")]
    cmd_signal: Option<&'static str>,
    /// The tool's own counters ([`Session::summary_counters`]).
    #[serde(flatten)]
    counters: BTreeMap<&'static str, u64>,
    /// The tool's other fields ([`Session::summary_fields`]).
    #[serde(flatten)]
    fields: Fields,
}

#[derive(Serialize)]
struct LostRecord {
    count: u64,
    total: u64,
    #[serde(flatten)]
    detail: Lost,
}

/// The map called `name` in a loaded BPF object.
pub fn find_map<'a>(obj: &'a Object, name: &str) -> Result<libbpf_rs::Map<'a>> {
    obj.maps()
        .find(|m| m.name() == name)
        .ok_or_else(|| anyhow!("BPF object has no map '{name}'"))
}

impl Session {
    /// Checks privileges and BTF, resolves the filters, starts `-- CMD` held.
    pub fn new(tool: &'static str, common: &CommonArgs) -> Result<Self> {
        let mut s = Self::start(tool, &common.run)?;
        s.filter = Filter::from_args(&common.filter)?;
        if !common.filter.cmd.is_empty() {
            let mut child = HeldChild::spawn(&common.filter.cmd)?;
            child.set_tool(tool);
            s.child = Some(child);
        }
        load::ensure_tracefs()?;
        Ok(s)
    }

    /// The session of a tool with these shared options ([`Session::new`],
    /// or without filters for a tool that has none).
    pub fn for_tool(tool: &'static str, shared: &crate::cli::Shared) -> Result<Self> {
        match shared {
            crate::cli::Shared::Tasks(c) => Self::new(tool, c),
            crate::cli::Shared::RunOnly(r) => Self::without_filters(tool, r),
        }
    }

    /// A session without process filters (tools that trace no tasks, e.g. XDP).
    pub fn without_filters(tool: &'static str, run: &RunArgs) -> Result<Self> {
        Self::start(tool, run)
    }

    fn start(tool: &'static str, run: &RunArgs) -> Result<Self> {
        libbpf_log::init(run.verbose);
        load::check_privileges()?;
        load::check_btf(run.btf.as_deref())?;
        // In the exporter the tools' rows go nowhere: they are served.
        let mut out = match crate::prom::exporter_sink() {
            Some(_) => Output::to(false, Some(std::path::Path::new("/dev/null")))?,
            None => Output::to(run.json, run.output.as_deref())?,
        };
        out.prom = crate::prom::for_tool(tool, run)?;
        Ok(Self {
            tool,
            run: run.clone(),
            filter: Filter::default(),
            child: None,
            optional: Vec::new(),
            out,
            defer_header: false,
            no_events: false,
            defer_release: false,
            announce: None,
            own_header: false,
            counters: None,
            fields: None,
            harmless_skips: Vec::new(),
        })
    }

    /// Whether the tool serves Prometheus metrics (`--prometheus`, or in
    /// `corescope exporter`).
    pub fn prometheus(&self) -> bool {
        self.out.prom.is_some()
    }

    /// An interval tool serving metrics prints no tables: its rows go
    /// nowhere (they are served), and the summary line stays on stderr.
    pub fn mute_rows(&mut self) -> Result<()> {
        let prom = self.out.prom.take();
        self.out = Output::to(false, Some(std::path::Path::new("/dev/null")))?;
        self.out.prom = prom;
        Ok(())
    }

    /// Prints the table header when the loop (`stream` / `every`) starts
    /// instead of at `load`: for tools that attach by themselves after
    /// loading and may still fail.
    pub fn defer_header(&mut self) {
        self.defer_header = true;
    }

    /// An interval tool: no event stream, whatever ring buffer the BPF
    /// object has (task.bpf.h brings one) stays at one page.
    pub fn no_events(&mut self) {
        self.no_events = true;
    }

    /// Keeps `-- CMD` held past `load` until [`Session::release_cmd`]: for
    /// tools that attach by themselves after loading (CMD would otherwise
    /// run before it is traced).
    pub fn defer_cmd_release(&mut self) {
        self.defer_release = true;
    }

    /// Releases `-- CMD` if it is still held, and says (-v) that tracing
    /// runs: once the tool's own attaching is done, too.
    pub fn release_cmd(&mut self) -> Result<()> {
        if let Some(child) = &mut self.child {
            child.release()?;
        }
        if let Some(line) = self.announce.take() {
            crate::diag!("{line}");
        }
        Ok(())
    }

    /// The tool prints the table header itself, above each interval's table
    /// (the top shape's `top::Screen`): [`Session::every`] does not print
    /// it when the loop starts.
    pub fn header_per_interval(&mut self) {
        self.own_header = true;
    }

    /// Programs that may be left out when their tracepoint is missing.
    pub fn optional_programs(&mut self, names: &[&'static str]) {
        self.optional.extend_from_slice(names);
    }

    /// Table rows as CSV (a tool's `--csv`); no effect with `--json`.
    pub fn set_csv(&mut self) {
        self.out.set_csv();
    }

    /// The table's columns: those of `R` with options `o` (the header).
    pub fn set_header<R: Row + ?Sized>(&mut self, o: &R::Opts) {
        self.out.set_header::<R>(o);
    }

    /// The tool's name (as registered: its folder).
    pub fn tool(&self) -> &'static str {
        self.tool
    }

    /// Adds the tool's own counters to the final summary (JSON and stderr):
    /// `f` runs once, after the final drain, with the loaded BPF object.
    pub fn summary_counters(&mut self, f: impl FnOnce(&Object) -> Vec<Counter> + 'static) {
        self.counters = Some(Box::new(f));
    }

    /// Adds the tool's own other fields to the JSON summary record (not
    /// counts: e.g. the interface it ran on); `f` runs once, like the
    /// counters'.
    pub fn summary_fields(&mut self, f: impl FnOnce(&Object) -> Fields + 'static) {
        self.fields = Some(Box::new(f));
    }

    /// Programs whose runs skipped by the kernel (nested in another run, see
    /// [`crate::stream::skipped_runs`]) cannot lose an event, e.g. one that
    /// only acts on what happens in process context, where it never nests:
    /// their skips are not counted as lost.
    pub fn harmless_skips(&mut self, programs: &[&'static str]) {
        self.harmless_skips.extend_from_slice(programs);
    }

    /// Opens the skeleton and writes the common configuration; the tool then
    /// sets its own `.rodata` knobs on the returned skeleton.
    pub fn open<'o, B: ToolSkel>(
        &self,
        storage: &'o mut MaybeUninit<OpenObject>,
        mut builder: B,
    ) -> Result<B::Open<'o>> {
        if let Some(btf) = &self.run.btf {
            builder.object_builder_mut().btf_custom_path(btf)?;
        }
        let mut open = builder.open(storage).context("opening the BPF object")?;
        open.set_common(&self.filter)?;
        let pids_on = self.filter.pids_on();
        let obj = open.open_object_mut();
        for mut m in obj.maps_mut() {
            if m.name() == "events" {
                let pages = if self.no_events {
                    1
                } else {
                    self.run.buffer_pages
                };
                m.set_max_entries(pages * PAGE)?;
            }
        }
        for mut p in obj.progs_mut() {
            if !pids_on && p.name().to_string_lossy().starts_with("cs_track_") {
                p.set_autoload(false);
            }
        }
        Ok(open)
    }

    /// Loads (verifier), fills the filter maps, attaches, releases `-- CMD`
    /// and prints the header.
    pub fn load<'o, O: OpenSkel<'o>>(&mut self, mut open: O) -> Result<O::Output> {
        load::check_tracepoints(open.open_object_mut(), &self.optional)?;
        let (res, log) = libbpf_log::held(|| open.load());
        let mut skel = match res {
            Ok(s) => s,
            Err(e) => return Err(load::load_error(e, &log, self.run.btf.as_deref())),
        };
        libbpf_log::replay(&log);

        if let Some(cg) = &self.filter.cgroup {
            let map = find_map(skel.object(), "cs_cgroup")?;
            map.update(
                &0u32.to_ne_bytes(),
                &cg.as_raw_fd().to_ne_bytes(),
                MapFlags::ANY,
            )
            .context("setting the cgroup filter")?;
        }
        // Seed the process set, attach (fork tracking starts), seed again to
        // catch processes forked in between.
        self.seed_pids(skel.object())?;
        skel.attach().map_err(|e| {
            UserError::hint(
                format!("attaching the BPF programs failed: {e}"),
                "run again with -v for libbpf's log",
            )
        })?;
        self.seed_pids(skel.object())?;
        // Before anything tells the world we are tracing, so a Ctrl-C that
        // follows is a clean stop; after CMD was forked (the child must not
        // inherit a thread) and after the mount namespace was set up.
        install_stop_handler()?;
        self.out.clock.reset();
        if libbpf_log::verbose() {
            let n = skel.object().progs().filter(|p| p.autoload()).count();
            self.announce = Some(format!("{}: tracing, {n} BPF programs attached", self.tool));
        }
        if !self.defer_release {
            self.release_cmd()?;
        }
        if !self.defer_header {
            self.out.header()?;
        }
        Ok(skel)
    }

    fn seed_pids(&self, obj: &Object) -> Result<()> {
        if !self.filter.pids_on() {
            return Ok(());
        }
        let map = find_map(obj, "cs_pids")?;
        let mut roots = self.filter.pids.clone();
        if let Some(c) = &self.child {
            roots.push(c.pid());
        }
        for pid in filter::with_descendants(&roots) {
            map.update(&pid.to_ne_bytes(), &[1u8], MapFlags::ANY)
                .with_context(|| format!("adding PID {pid} to the filter"))?;
        }
        Ok(())
    }

    /// Runs the event loop until Ctrl-C / SIGTERM, --duration, the end of
    /// `-- CMD`, or a closed stdout; drains the ring buffer and prints the
    /// summary. `handler` turns each event (header `E` + payload) into rows.
    pub fn stream<'o, S, E, F>(self, skel: &S, handler: F) -> Result<ExitCode>
    where
        S: Skel<'o>,
        E: plain::Plain + Default,
        F: FnMut(&E, &[u8], &mut Output) -> Result<()>,
    {
        let Session {
            tool,
            run,
            mut child,
            mut out,
            defer_header,
            own_header,
            counters,
            fields,
            harmless_skips,
            ..
        } = self;
        if defer_header && !own_header {
            out.header()?;
        }
        let obj = skel.object();
        let events = find_map(obj, "events")?;
        let dropped = find_map(obj, "cs_dropped")?;
        let started = Instant::now();
        let c = RefCell::new(Consumer {
            out: &mut out,
            handler,
            received: 0,
            short: 0,
            failure: None,
            draining: false,
            interrupted: false,
            deadline: deadline(started, run.duration),
        });
        let mut rbb = RingBufferBuilder::new();
        // libbpf calls back only inside `poll` / `consume`, never while the
        // loop below holds `c`.
        rbb.add(&events, |data: &[u8]| match c.try_borrow_mut() {
            Ok(mut c) => c.record::<E>(data),
            Err(_) => -1,
        })?;
        let rb = rbb.build()?;

        // Records consumed per call outside `poll` (producers may keep writing).
        let bound = (run.buffer_pages as usize * PAGE as usize) / 8;
        let read_lost = |short: u64| Lost {
            skipped: skipped_runs(obj, &harmless_skips),
            short,
            ..Lost::read(&dropped)
        };
        let mut losses = LossReporter::new();
        let mut report_lost = |c: &mut Consumer<'_, F>, force: bool| -> Result<()> {
            let lost = read_lost(c.short);
            if let Some(p) = &c.out.prom {
                p.totals(c.received, lost.events());
            }
            let new = losses.update(tool, &lost, force);
            if new > 0 {
                let total = lost.events();
                let r = LostRecord {
                    count: new,
                    total,
                    detail: lost,
                };
                c.out.record("lost", &r)?;
            }
            Ok(())
        };
        let mut cmd: Option<CmdStatus> = None;
        loop {
            let polled = rb.poll(Duration::from_millis(100));
            // Records written without a wakeup (cs_output_lazy) are taken
            // here: at least every 100 ms (bounded, as under a storm).
            if polled.is_ok() && !c.borrow().interrupted {
                let _ = rb.consume_raw_n(bound);
            }
            let mut c = c.borrow_mut();
            c.take_failure()?;
            if let Err(e) = polled {
                if e.kind() != libbpf_rs::ErrorKind::Interrupted && !c.interrupted {
                    return Err(anyhow!(e).context("polling the ring buffer"));
                }
            }
            report_lost(&mut c, false)?;
            c.out.tick()?;
            if c.should_stop() {
                break;
            }
            c.out.check_open()?;
            if let Some(st) = child
                .as_mut()
                .map(HeldChild::try_wait)
                .transpose()?
                .flatten()
            {
                cmd = Some(st);
                break;
            }
        }
        // Before the final drain: what CMD does as it ends is traced too.
        if cmd.is_none() {
            cmd = child.as_mut().and_then(HeldChild::finish);
        }

        // Drain what is in the ring buffer now (bounded: producers may still
        // be writing), then account for it all.
        c.borrow_mut().draining = true;
        let drained = rb.consume_raw_n(bound);
        let mut c = c.borrow_mut();
        c.take_failure()?;
        if drained < 0 {
            let e = std::io::Error::from_raw_os_error(-drained);
            return Err(anyhow!(e).context("draining the ring buffer"));
        }
        report_lost(&mut c, true)?;
        let end = End {
            tool,
            obj,
            lost: read_lost(c.short),
            events: c.received,
            started,
            cmd,
            counters,
            fields,
        };
        end.summary(c.out)?;
        filter::report_tracked(tool, obj);
        Ok(cmd.map_or(ExitCode::SUCCESS, |c| c.exit_code()))
    }

    /// Runs a periodic loop for tools that read maps rather than events:
    /// calls `f` every `interval` until Ctrl-C / SIGTERM, --duration, the
    /// end of `-- CMD`, a closed stdout, or `f` returning `Break`; then once
    /// more with `last` set (to detach, print the last interval and the
    /// summary). Then prints the same summary as [`Session::stream`] (its
    /// rows as events, the losses the object counted, the tool's counters
    /// and fields). Exits 0 (or with CMD's status).
    pub fn every<'o, S, F>(self, skel: &S, interval: Duration, mut f: F) -> Result<ExitCode>
    where
        S: Skel<'o>,
        F: FnMut(&Tick, &mut Output) -> Result<std::ops::ControlFlow<()>>,
    {
        let Session {
            tool,
            run,
            mut child,
            mut out,
            defer_header,
            own_header,
            counters,
            fields,
            harmless_skips,
            ..
        } = self;
        if defer_header && !own_header {
            out.header()?;
        }
        // The Ctrl-C handler was installed by `load`.
        let started = Instant::now();
        let deadline = deadline(started, run.duration);
        let interval = interval.max(Duration::from_millis(1));
        // `None`: the next tick is too far away to be represented (never).
        let (mut prev, mut next) = (started, started.checked_add(interval));
        let mut cmd: Option<CmdStatus> = None;
        loop {
            let now = Instant::now();
            if STOP.load(Ordering::Relaxed) || deadline.is_some_and(|d| now >= d) {
                break;
            }
            out.check_open()?;
            if let Some(st) = child.as_mut().map(|c| c.try_wait()).transpose()?.flatten() {
                cmd = Some(st);
                break;
            }
            if let Some(n) = next.filter(|&n| now >= n) {
                let tick = Tick {
                    last: false,
                    elapsed: now - started,
                    since_last: now - prev,
                };
                prev = now;
                // The first tick after now, skipping those missed.
                let behind = (now - n).as_nanos() / interval.as_nanos() + 1;
                next = u32::try_from(behind)
                    .ok()
                    .and_then(|k| interval.checked_mul(k))
                    .and_then(|d| n.checked_add(d));
                let flow = f(&tick, &mut out)?;
                export_totals(&out, skel.object(), &harmless_skips)?;
                if flow.is_break() {
                    break;
                }
            }
            out.tick()?;
            let poll = now + Duration::from_millis(100);
            let wake = [next, deadline]
                .into_iter()
                .flatten()
                .fold(poll, Instant::min);
            std::thread::sleep(wake.saturating_duration_since(Instant::now()));
        }
        if cmd.is_none() {
            cmd = child.as_mut().and_then(HeldChild::finish);
        }
        let now = Instant::now();
        let tick = Tick {
            last: true,
            elapsed: now - started,
            since_last: now - prev,
        };
        // The last call's own Break changes nothing: the loop is over.
        let _ = f(&tick, &mut out)?;
        let obj = skel.object();
        export_totals(&out, obj, &harmless_skips)?;
        let end = End {
            tool,
            obj,
            lost: counted_losses(obj, &harmless_skips)?,
            events: out.shown,
            started,
            cmd,
            counters,
            fields,
        };
        end.summary(&mut out)?;
        Ok(cmd.map_or(ExitCode::SUCCESS, |c| c.exit_code()))
    }
}

/// The event loop's side of the ring buffer: what libbpf's callback does
/// with each record, and what it tells the loop.
struct Consumer<'a, F> {
    out: &'a mut Output,
    handler: F,
    /// Records received (events, and records too short to be one).
    received: u64,
    /// Records too short to hold the header: lost, not filtered.
    short: u64,
    /// The handler's error, returned by the loop.
    failure: Option<anyhow::Error>,
    /// Set while draining at the end: then every record is consumed.
    draining: bool,
    /// The callback stopped libbpf's consuming to let the loop see the end.
    interrupted: bool,
    deadline: Option<Instant>,
}

impl<F> Consumer<'_, F> {
    fn should_stop(&self) -> bool {
        STOP.load(Ordering::Relaxed) || self.deadline.is_some_and(|d| Instant::now() >= d)
    }

    /// One record (libbpf's callback: 0 goes on, -1 stops consuming).
    fn record<E>(&mut self, data: &[u8]) -> i32
    where
        E: plain::Plain + Default,
        F: FnMut(&E, &[u8], &mut Output) -> Result<()>,
    {
        self.received += 1;
        match decode::<E>(data) {
            Some((e, payload)) => {
                if let Err(err) = (self.handler)(&e, payload, self.out) {
                    self.failure = Some(err);
                    return -1;
                }
            }
            None => self.short += 1,
        }
        // Under a sustained storm libbpf would keep consuming forever:
        // check for the end now and then (after handling the record, which
        // libbpf has already consumed).
        if self.received.is_multiple_of(256) && !self.draining && self.should_stop() {
            self.interrupted = true;
            return -1;
        }
        0
    }

    fn take_failure(&mut self) -> Result<()> {
        self.failure.take().map_or(Ok(()), Err)
    }
}

/// The losses a BPF object counted: its `cs_dropped` counters if it has them
/// (src/bpf/common/events.bpf.h), and the runs the kernel skipped.
fn counted_losses(obj: &Object, harmless_skips: &[&str]) -> Result<Lost> {
    let counted = match obj.maps().any(|m| m.name() == "cs_dropped") {
        true => Lost::read(&find_map(obj, "cs_dropped")?),
        false => Lost::default(),
    };
    Ok(Lost {
        skipped: skipped_runs(obj, harmless_skips),
        ..counted
    })
}

/// An interval tool's totals for `--prometheus`: rows read, losses counted.
fn export_totals(out: &Output, obj: &Object, harmless_skips: &[&str]) -> Result<()> {
    if let Some(p) = &out.prom {
        p.totals(out.shown, counted_losses(obj, harmless_skips)?.events());
    }
    Ok(())
}

/// What the summary of a run is made of, for every tool shape.
struct End<'a> {
    tool: &'static str,
    obj: &'a Object,
    lost: Lost,
    events: u64,
    started: Instant,
    cmd: Option<CmdStatus>,
    counters: Option<CounterFn>,
    fields: Option<FieldsFn>,
}

impl End<'_> {
    /// The JSON `summary` record and the stderr line
    /// `<tool>: N events, N shown, N lost[ (why)][; N label, …]`.
    fn summary(self, o: &mut Output) -> Result<()> {
        let End {
            tool,
            obj,
            lost,
            events,
            started,
            cmd,
            counters,
            fields,
        } = self;
        let extra = counters.map(|f| f(obj)).unwrap_or_default();
        let summary = Summary {
            events,
            shown: o.shown,
            filtered: filtered(events, o.shown, &lost),
            lost: lost.events(),
            lost_detail: lost,
            duration_s: started.elapsed().as_secs_f64(),
            cmd_exit_code: cmd.map(|c| c.code),
            cmd_ended: cmd.map(|c| c.ended),
            cmd_signal: cmd.and_then(|c| c.signal).map(|s| s.as_str()),
            counters: extra.iter().map(|c| (c.key, c.value)).collect(),
            fields: fields.map(|f| f(obj)).unwrap_or_default(),
        };
        o.record("summary", &summary)?;
        o.flush()?;
        let extra: Vec<String> = extra
            .iter()
            .map(|c| format!("{} {}", c.value, c.label))
            .collect();
        crate::diag!(
            "{tool}: {} events, {} shown, {} lost{}{}",
            summary.events,
            summary.shown,
            summary.lost,
            if summary.lost > 0 {
                format!(" ({})", lost.describe())
            } else {
                String::new()
            },
            if extra.is_empty() {
                String::new()
            } else {
                format!("; {}", extra.join(", "))
            }
        );
        Ok(())
    }
}

/// Records received but not shown because a user-space filter left them
/// out (`-n`, `-l`…): not those that were no event at all (too short).
fn filtered(events: u64, shown: u64, lost: &Lost) -> u64 {
    events.saturating_sub(shown).saturating_sub(lost.short)
}

/// When a run of `duration` seconds from `started` ends; `None` without
/// --duration or when that instant is too far away to be represented
/// (`-d 9223372036854775807`): no deadline.
fn deadline(started: Instant, duration: Option<u64>) -> Option<Instant> {
    duration.and_then(|d| started.checked_add(Duration::from_secs(d)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_records_are_lost_not_filtered() {
        let lost = Lost {
            short: 2,
            ..Lost::default()
        };
        // 10 received: 2 too short, 5 shown, so 3 filtered; 2 lost.
        assert_eq!((filtered(10, 5, &lost), lost.events()), (3, 2));
        assert!(lost
            .describe()
            .contains("2 records shorter than their header"));
        assert_eq!(filtered(3, 5, &Lost::default()), 0);
    }

    #[test]
    fn a_deadline_too_far_away_is_none() {
        let now = Instant::now();
        assert_eq!(deadline(now, None), None);
        assert_eq!(deadline(now, Some(2)), Some(now + Duration::from_secs(2)));
        assert_eq!(deadline(now, Some(i64::MAX as u64)), None);
        assert_eq!(deadline(now, Some(u64::MAX)), None);
    }
}
