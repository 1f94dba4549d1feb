//! The stacks shape's runner: what a stack tool declares ([`StackTool`]),
//! its shared options ([`StackArgs`]) and the
//! [`run::Interval`](crate::run::Interval) that notes PIDs while the tool
//! runs and prints the stacks at the end ([`Runner`]).

use std::ops::ControlFlow;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Result;
use libbpf_rs::skel::OpenSkel as _;
use libbpf_rs::{MapCore, MapFlags, Object};
use serde::{Serialize, Serializer};

use super::{
    bcc_text, folded_line, write_svg, JsonStack, Stack, StackKey, StackStats, StackSymbolizer,
    Style,
};
use crate::error::UserError;
use crate::output::{Col, Output, Row, Table};
use crate::run::{Interval, Loaded, Open, ToolSkel};
use crate::session::{find_map, Counter, Fields, Session, Tick};

/// A side of `struct cs_stack_key` that is not collected (`-U` / `-K`):
/// src/stacks.bpf.h's CS_STACK_OFF.
pub const STACK_OFF: i64 = -1_000_000;
/// Bits of `cs_stack_pids` values (src/stacks.bpf.h).
pub const PID_NEW: u32 = 1;
pub const PID_EXEC: u32 = 2;

/// The options every stack tool has, as BCC's profile and offcputime.
#[derive(clap::Args, Debug, Clone)]
#[command(next_help_heading = "Stack options")]
pub struct StackArgs {
    /// Show user stacks only (no kernel frames)
    #[arg(short = 'U', long, conflicts_with = "kernel_stacks_only")]
    pub user_stacks_only: bool,
    /// Show kernel stacks only (no user frames)
    #[arg(short = 'K', long)]
    pub kernel_stacks_only: bool,
    /// Insert a delimiter between kernel and user frames (`-` folded, `--` otherwise)
    #[arg(short = 'd', long)]
    pub delimited: bool,
    /// Suffix kernel frames with `_[k]` (folded output)
    #[arg(short = 'a', long)]
    pub annotations: bool,
    /// Folded output: `comm;frame;...;frame count`, one stack a line (for flame graphs)
    #[arg(short = 'f', long)]
    pub folded: bool,
    /// Also draw the stacks as an interactive SVG flame graph into FILE
    /// (stdout then shows only -f or -j output, if asked for)
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,
    /// Room for this many unique stacks in the stack map (more are shown as
    /// missed); the counts map has twice as many keys (at least 10240)
    #[arg(long, value_name = "N", default_value_t = 16384,
          value_parser = clap::value_parser!(u32).range(1..=1 << 22))]
    pub stack_storage_size: u32,
    /// Stop after DURATION seconds (as --duration)
    #[arg(id = "duration_secs", value_name = "DURATION",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub duration: Option<u64>,
}

impl StackArgs {
    pub fn style(&self) -> Style {
        Style {
            delimiter: self.delimited,
            annotate: self.annotations,
        }
    }

    /// "user + kernel", "user", "kernel": which stacks are collected.
    pub fn sides(&self) -> &'static str {
        match (self.user_stacks_only, self.kernel_stacks_only) {
            (true, _) => "user",
            (_, true) => "kernel",
            _ => "user + kernel",
        }
    }
}

/// A skeleton's `types::cs_stack_key` (implemented by `impl_stack_key!`,
/// which build.rs invokes for every skeleton that has one).
pub trait RawStackKey: plain::Plain + Default + Copy {
    fn stack_key(&self, count: u64) -> StackKey<'_>;
}

/// The `.rodata` knobs of src/stacks.bpf.h in an open skeleton.
pub trait StackOpen {
    /// Which stacks `cs_stack_key_current` takes.
    fn set_sides(&mut self, user: bool, kernel: bool) -> Result<()>;
}

/// A key's fields as [`StackKey`] (for `impl_stack_key!`).
pub fn key_of(pid: u32, tid: u32, user: i64, kernel: i64, comm: &[u8], count: u64) -> StackKey<'_> {
    StackKey {
        pid,
        tid: (tid != 0).then_some(tid),
        comm,
        user_id: (user != STACK_OFF).then_some(user),
        kernel_id: (kernel != STACK_OFF).then_some(kernel),
        count,
    }
}

/// Implements [`RawStackKey`] (and `plain::Plain`) for a skeleton's
/// `types::cs_stack_key` and [`StackOpen`] for its open skeleton; invoked
/// by build.rs inside the skeleton's module.
#[doc(hidden)]
#[macro_export]
macro_rules! impl_stack_key {
    ($open:ident) => {
        // SAFETY: struct cs_stack_key (src/stacks.bpf.h) is made of
        // fixed-width integers and a u8 array: every bit pattern is valid.
        unsafe impl plain::Plain for types::cs_stack_key {}
        impl $crate::stacks::RawStackKey for types::cs_stack_key {
            fn stack_key(&self, count: u64) -> $crate::stacks::StackKey<'_> {
                $crate::stacks::runner::key_of(
                    self.pid,
                    self.tid,
                    self.user_stack_id,
                    self.kernel_stack_id,
                    &self.comm,
                    count,
                )
            }
        }
        impl<'o> $crate::stacks::StackOpen for $open<'o> {
            fn set_sides(&mut self, user: bool, kernel: bool) -> anyhow::Result<()> {
                let ro = $crate::run::Rodata::rodata(self)?;
                ro.cs_user_stacks = u8::from(user);
                ro.cs_kernel_stacks = u8::from(kernel);
                Ok(())
            }
        }
    };
}

/// What a count is, for the summary and the flame graph.
#[derive(Debug, Clone, Copy)]
pub struct Counts {
    /// The summary's JSON key of the total (`samples`).
    pub key: &'static str,
    /// The word after the total on the stderr summary line.
    pub label: &'static str,
    /// The flame graph's name of a count (`samples`, `us`).
    pub unit: &'static str,
}

/// A stack tool: its CLI, its configuration and what it attaches itself.
/// [`Runner`] does the rest.
pub trait StackTool: Sized + 'static {
    /// The command line, with `CommonArgs` and [`StackArgs`] flattened in.
    type Args: clap::Parser + 'static;
    type Skel: ToolSkel;
    /// `types::cs_stack_key` of the skeleton.
    type Key: RawStackKey + 'static;
    const SHORTS: &'static [(&'static str, char)];
    const COUNTS: Counts;
    /// The flame graph's title.
    const TITLE: &'static str;
    fn stack_args(a: &Self::Args) -> &StackArgs;
    /// Sets the tool's `.rodata` knobs before load (the runner sets the
    /// stack sides and map sizes) and makes the tool.
    fn configure(a: Self::Args, open: &mut Open<'_, Self::Skel>) -> Result<Self>;
    /// The line printed before tracing (not with -f), BCC's.
    fn banner(&self) -> String;
    /// After loading: what the tool attaches itself (profile's perf events).
    fn loaded(&mut self, _skel: &mut Loaded<'_, Self::Skel>) -> Result<()> {
        Ok(())
    }
    /// The run ends: stop collecting before the counts are read.
    fn stop(&mut self) {}
}

/// One stack as an output row: the text (BCC multi-line or folded) as the
/// one cell of the table line, [`JsonStack`] in JSON.
struct StackRow<'a> {
    st: &'a Stack,
    text: &'a str,
}

impl Serialize for StackRow<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        JsonStack::new(self.st).serialize(s)
    }
}

impl Row for StackRow<'_> {
    /// The banner: the table's one column header ("" prints none).
    type Opts = &'static str;
    fn columns(t: &mut Table<'_, '_, Self>, banner: &&'static str) {
        t.col(Col::left(banner, 0), |r, c| c.buf().push_str(r.text));
    }
}

/// A [`StackTool`] run as an interval tool: every tick the PIDs the BPF
/// side saw are noted; at the end (Ctrl-C, --duration, DURATION) the
/// stacks are read, symbolized and printed, least counted first (BCC's
/// order: the hottest stacks end up at the bottom, next to the prompt).
pub struct Runner<T: StackTool> {
    tool: T,
    sa: StackArgs,
    /// `--svg FILE`, created before tracing (a bad path fails at once).
    svg: Option<std::fs::File>,
    sym: Option<StackSymbolizer>,
    /// Totals for the summary, filled at the end.
    stacks: u64,
    total: u64,
    stats: StackStats,
}

/// Ticks this often to note new PIDs (and end at DURATION).
const TICK: Duration = Duration::from_millis(100);

impl<T: StackTool> Runner<T> {
    /// Notes (or, after an exec, notes again) the PIDs the BPF side handed
    /// over since the last call.
    fn note_pids(&mut self, obj: &Object) -> Result<()> {
        let Some(sym) = self.sym.as_mut() else {
            return Ok(());
        };
        let pids = find_map(obj, "cs_stack_pids")?;
        let keys: Vec<Vec<u8>> = pids.keys().collect();
        for k in keys {
            let Ok(Some(v)) = pids.lookup_and_delete(&k) else {
                continue;
            };
            let (Ok(pid), Ok(what)) = (<[u8; 4]>::try_from(&k[..]), <[u8; 4]>::try_from(&v[..]))
            else {
                continue;
            };
            let (pid, what) = (u32::from_ne_bytes(pid), u32::from_ne_bytes(what));
            if what & PID_EXEC != 0 && sym.is_noted(pid) {
                sym.forget_pid(pid);
                sym.note_pid(pid);
            } else if what & PID_NEW != 0 {
                sym.note_pid(pid);
            }
        }
        Ok(())
    }

    /// Reads the counts, symbolizes and prints every stack; the SVG.
    fn finish(&mut self, obj: &Object, out: &mut Output) -> Result<()> {
        let counts = find_map(obj, "cs_stack_counts")?;
        let stack_map = find_map(obj, "cs_stacks")?;
        let mut raw: Vec<(T::Key, u64)> = Vec::new();
        for k in counts.keys() {
            let Ok(Some(v)) = counts.lookup(&k, MapFlags::ANY) else {
                continue; // gone meanwhile: cannot happen once stopped
            };
            let mut key = T::Key::default();
            if plain::copy_from_bytes(&mut key, &k).is_err() || v.len() < 8 {
                continue;
            }
            let n = u64::from_ne_bytes(v[..8].try_into().unwrap_or_default());
            raw.push((key, n));
        }
        let keys: Vec<StackKey<'_>> = raw.iter().map(|(k, n)| k.stack_key(*n)).collect();
        let Some(sym) = self.sym.as_mut() else {
            return Ok(());
        };
        let started = Instant::now();
        sym.refresh_live();
        sym.prefetch(&stack_map, &keys);
        let mut stacks: Vec<Stack> = keys.iter().map(|k| sym.stack(&stack_map, k)).collect();
        if crate::libbpf_log::verbose() {
            let ms = started.elapsed().as_secs_f64() * 1e3;
            let n = stacks.len();
            crate::diag!("{}: symbolized {n} stacks in {ms:.1} ms", T::TITLE);
        }
        self.stats = sym.stats;
        // Least counted first, as BCC; ties in a stable order.
        stacks.sort_by(|a, b| {
            (a.count, a.pid, a.tid, &a.comm).cmp(&(b.count, b.pid, b.tid, &b.comm))
        });
        self.stacks = stacks.len() as u64;
        self.total = stacks.iter().map(|s| s.count).sum();

        let style = self.sa.style();
        let folded = self.sa.folded || self.sa.svg.is_some();
        let mut lines: Vec<String> = Vec::new();
        if folded {
            lines.reserve(stacks.len());
            for st in &stacks {
                let mut s = String::new();
                folded_line(&mut s, st, style);
                lines.push(s);
            }
        }
        let text_rows = !out.json() && (self.sa.folded || self.sa.svg.is_none());
        let mut text = String::new();
        for (i, st) in stacks.iter().enumerate() {
            if out.json() {
                out.row_as("stack", &StackRow { st, text: "" }, &"")?;
            } else if text_rows {
                text.clear();
                if self.sa.folded {
                    text.push_str(&lines[i]);
                } else {
                    bcc_text(&mut text, st, style);
                    text.pop(); // the row's own newline ends the blank line
                }
                out.row_as("stack", &StackRow { st, text: &text }, &"")?;
            }
        }
        out.flush()?;
        if let (Some(file), Some(path)) = (&self.svg, &self.sa.svg) {
            write_svg_file(file, path, T::TITLE, T::COUNTS.unit, &lines)?;
        }
        if let Some((msg, hint)) = self.stats.warning() {
            match hint {
                Some(h) => crate::diag!("warning: {msg}\nhint: {h}"),
                None => crate::diag!("warning: {msg}"),
            }
        }
        if let Some(note) = self.stats.frame_pointer_note() {
            crate::diag!("note: {note}");
        }
        Ok(())
    }
}

/// Creates `--svg FILE` (truncated), before tracing.
fn create_svg(path: &std::path::Path) -> Result<std::fs::File> {
    std::fs::File::create(path).map_err(|e| {
        UserError::hint(
            format!("cannot create the flame graph file {}: {e}", svg_name(path)),
            "check that its directory exists and that you may write there",
        )
        .into()
    })
}

fn svg_name(path: &std::path::Path) -> String {
    use std::os::unix::ffi::OsStrExt as _;
    crate::escape::escape(path.as_os_str().as_bytes())
}

/// Writes the flame graph of `lines` to `file` (`path`, for errors).
fn write_svg_file(
    file: &std::fs::File,
    path: &std::path::Path,
    title: &str,
    unit: &str,
    lines: &[String],
) -> Result<()> {
    let mut w = std::io::BufWriter::new(file);
    let res = if lines.is_empty() {
        // inferno refuses an empty graph; an empty SVG still opens.
        std::io::Write::write_all(&mut w, EMPTY_SVG.as_bytes()).map_err(anyhow::Error::from)
    } else {
        write_svg(&mut w, title, unit, lines.iter().map(String::as_str))
    };
    res.and_then(|()| std::io::Write::flush(&mut w).map_err(anyhow::Error::from))
        .map_err(|e| anyhow::anyhow!("writing the flame graph {}: {e:#}", svg_name(path)))
}

const EMPTY_SVG: &str = "<?xml version=\"1.0\" standalone=\"no\"?>\n\
<svg version=\"1.1\" width=\"1200\" height=\"60\" xmlns=\"http://www.w3.org/2000/svg\">\
<text x=\"600\" y=\"30\" text-anchor=\"middle\">No stacks were sampled</text></svg>\n";

impl<T: StackTool> Interval for Runner<T>
where
    for<'o> Open<'o, T::Skel>: StackOpen,
{
    type Args = T::Args;
    type Skel = T::Skel;
    const SHORTS: &'static [(&'static str, char)] = T::SHORTS;

    fn configure(a: T::Args, open: &mut Open<'_, T::Skel>, s: &mut Session) -> Result<Self> {
        let sa = T::stack_args(&a).clone();
        open.set_sides(!sa.kernel_stacks_only, !sa.user_stacks_only)?;
        let n = sa.stack_storage_size;
        for mut m in open.open_object_mut().maps_mut() {
            match m.name().to_str() {
                Some("cs_stacks") => m.set_max_entries(n)?,
                Some("cs_stack_counts") => m.set_max_entries(n.saturating_mul(2).max(10240))?,
                _ => {}
            }
        }
        let tool = T::configure(a, open)?;
        let svg = sa.svg.as_deref().map(create_svg).transpose()?;
        let banner: &'static str = if sa.folded || sa.svg.is_some() {
            ""
        } else {
            // Once per run: the header's text must be 'static (Col::name).
            tool.banner().leak()
        };
        s.set_header::<StackRow<'_>>(&banner);
        Ok(Self {
            tool,
            sa,
            svg,
            sym: None,
            stacks: 0,
            total: 0,
            stats: StackStats::default(),
        })
    }

    fn loaded(&mut self, skel: &mut Loaded<'_, T::Skel>, _: &mut Session) -> Result<()> {
        // Built (kallsyms and our vDSO read) before sampling starts.
        let mut sym = StackSymbolizer::new();
        sym.warm_kernel();
        self.sym = Some(sym);
        self.tool.loaded(skel)
    }

    fn period(&self) -> Duration {
        TICK
    }

    fn tick(
        &mut self,
        skel: &Loaded<'_, T::Skel>,
        tick: &Tick,
        out: &mut Output,
    ) -> Result<ControlFlow<()>> {
        use libbpf_rs::skel::Skel as _;
        let obj = skel.object();
        self.note_pids(obj)?;
        if !tick.last {
            let done = self
                .sa
                .duration
                .is_some_and(|d| tick.elapsed >= Duration::from_secs(d));
            return Ok(if done {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            });
        }
        self.tool.stop();
        self.note_pids(obj)?;
        self.finish(obj, out)?;
        Ok(ControlFlow::Break(()))
    }

    fn summary(&mut self, _: &Object) -> (Vec<Counter>, Fields) {
        let c = T::COUNTS;
        let counters = vec![
            Counter::new("stacks", "stacks", self.stacks),
            Counter::new(c.key, c.label, self.total),
        ];
        // What went missing: in JSON always, on stderr as the warning.
        let st = self.stats;
        let mut f = Fields::new();
        for (k, v) in [
            ("missed_user_stacks", st.missed_user),
            ("missed_kernel_stacks", st.missed_kernel),
            ("stack_collisions", st.collisions),
            ("pid_exited_stacks", st.pid_exited),
            ("user_stacks", st.user_stacks),
            ("one_frame_user_stacks", st.one_frame_user),
        ] {
            f.insert(k.into(), v.into());
        }
        (counters, f)
    }
}
