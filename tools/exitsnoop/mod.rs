//! exitsnoop: one row per process exit — its name, PID, parent, age and
//! how it ended (exit code, or the signal that killed it and whether a core
//! was dumped). Based on exitsnoop(8) from BCC and libbpf-tools.

use corescope::clock::Hms;
use corescope::escape::cstr;
use corescope::prelude::*;
use corescope::signal::Sig;
use corescope::skel::exitsnoop::types::exitsnoop_event as Event;
use corescope::skel::exitsnoop::{ExitsnoopSkelBuilder, OpenExitsnoopSkel};

const EXAMPLES: &str = "EXAMPLES:
    exitsnoop                # one row per process exit
    exitsnoop -t             # with a TIME column (HH:MM:SS)
    exitsnoop -x             # only failures: a non-zero exit code, or a fatal signal
    exitsnoop -p 181         # PID 181 and its descendants
    exitsnoop --per-thread   # one row per thread exit
    exitsnoop -j -- make     # run make, show the exits of it and its children";

/// Trace process exits: exit code or fatal signal, age, parent.
#[derive(Parser, Debug)]
#[command(version, after_help = EXAMPLES)]
struct Args {
    /// Include a TIME column (HH:MM:SS, local time)
    #[arg(short = 't', long)]
    timestamp: bool,
    /// Only failed exits: a non-zero exit code or a fatal signal
    #[arg(short = 'x', long)]
    failed: bool,
    /// One row per thread exit (default: one per process, when its last
    /// thread exits)
    #[arg(short = 'T', long, visible_alias = "threaded")]
    per_thread: bool,
    #[command(flatten)]
    common: CommonArgs,
}

/// How a task ended, from its wait status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Status(u32);

impl Status {
    /// The exit code (`exit(N)`), when no signal killed it.
    fn code(self) -> Option<u32> {
        (self.0 & 0x7f == 0).then_some((self.0 >> 8) & 0xff)
    }
    /// The signal that killed it.
    fn signal(self) -> Option<Sig> {
        let s = self.0 & 0x7f;
        (s != 0).then_some(Sig(s))
    }
    fn core_dumped(self) -> bool {
        self.signal().is_some() && self.0 & 0x80 != 0
    }
}

/// BCC's EXIT_CODE cell: `0`, `code 3`, `signal 11 (SEGV)`,
/// `signal 11 (SEGV), core dumped`.
impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.code(), self.signal()) {
            (Some(0), _) => f.write_str("0"),
            (Some(c), _) => write!(f, "code {c}"),
            (None, Some(s)) => {
                write!(f, "signal {} ({})", s.0, s.short())?;
                match self.core_dumped() {
                    true => f.write_str(", core dumped"),
                    false => Ok(()),
                }
            }
            (None, None) => write!(f, "status {:#x}", self.0),
        }
    }
}

#[derive(Serialize)]
struct Exit<'a> {
    time: Hms,
    comm: KStr<'a>,
    pid: u32,
    ppid: u32,
    tid: u32,
    uid: u32,
    age_s: f64,
    /// `exit(N)`'s N; null when a signal killed it.
    exit_code: Option<u32>,
    signal: Option<Sig>,
    signal_number: Option<u32>,
    core_dumped: bool,
    /// The raw wait status (as waitpid(2) gives it).
    status: u32,
    #[serde(skip)]
    st: Status,
}

impl Row for Exit<'_> {
    type Opts = Exitsnoop;
    fn columns(t: &mut Table<'_, '_, Self>, x: &Exitsnoop) {
        t.col_if(x.a.timestamp, Col::left("TIME", 8), |r, c| c.put(r.time));
        t.col(Col::left("PCOMM", 16), |r, c| c.text(r.comm.0));
        t.col(Col::left("PID", 7), |r, c| c.put(r.pid));
        t.col(Col::left("PPID", 7), |r, c| c.put(r.ppid));
        t.col(Col::left("TID", 7), |r, c| c.put(r.tid));
        t.col(Col::left("AGE(s)", 7), |r, c| {
            c.put(format_args!("{:.2}", r.age_s))
        });
        t.col(Col::left("EXIT_CODE", 0), |r, c| c.put(r.st));
    }
}

fn row<'a>(e: &'a Event, out: &Output) -> Exit<'a> {
    let st = Status(e.status);
    Exit {
        time: out.clock.hms_of(e.ts_ns),
        comm: KStr(cstr(&e.comm)),
        pid: e.pid,
        ppid: e.ppid,
        tid: e.tid,
        uid: e.uid,
        age_s: e.ts_ns.saturating_sub(e.start_ns) as f64 / 1e9,
        exit_code: st.code(),
        signal: st.signal(),
        signal_number: st.signal().map(|s| s.0),
        core_dumped: st.core_dumped(),
        status: e.status,
        st,
    }
}

struct Exitsnoop {
    a: Args,
}

impl Events for Exitsnoop {
    type Args = Args;
    type Skel = ExitsnoopSkelBuilder;
    type Event = Event;
    type Row<'a> = Exit<'a>;
    #[rustfmt::skip]
    const SHORTS: &'static [(&'static str, char)] = &[("pid", 'p'), ("cgroup", 'c'),
        ("uid", 'u'), ("json", 'j'), ("duration", 'd'), ("verbose", 'v')];

    fn configure(a: Args, open: &mut OpenExitsnoopSkel<'_>, _: &mut Session) -> Result<Self> {
        let ro = open.rodata()?;
        ro.failed_only = u8::from(a.failed);
        ro.per_thread = u8::from(a.per_thread);
        // tp_btf needs the kernel's own BTF; with --btf FILE the classic
        // tracepoint (same hook, the task read from current).
        let classic = a.common.run.btf.is_some();
        let p = &mut open.progs;
        p.handle_exit_btf.set_autoload(!classic);
        p.handle_exit_tp.set_autoload(classic);
        // The exit programs prune the process-tree set themselves, after
        // their filter (see exitsnoop.bpf.c).
        p.cs_track_exit.set_autoload(false);
        Ok(Self { a })
    }

    fn event(&mut self, e: &Event, _: &[u8], out: &mut Output) -> Result<()> {
        Ok(out.row(&row(e, out), self)?)
    }
}

/// The tool (its binary, or `corescope exitsnoop`).
pub fn main(name: &'static str) -> ExitCode {
    corescope::run::events::<Exitsnoop>(name)
}

#[cfg(test)]
mod tests;
