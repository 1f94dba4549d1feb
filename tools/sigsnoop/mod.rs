//! sigsnoop: one row per signal sent — sender, target, signal, result —
//! from signal:signal_generate, plus the kill-family syscalls that failed
//! before a signal was generated (or, with `-k`, those syscalls only).
//! Based on sigsnoop(8) from libbpf-tools. killsnoop (tools/killsnoop/)
//! runs this tool's BPF program with its own columns: the event, its JSON
//! record and the BPF configuration are shared from here.

use corescope::clock::Hms;
use corescope::escape::cstr;
use corescope::prelude::*;
use corescope::signal::Sig;
use corescope::skel::sigsnoop::types::{sigsnoop_event as Event, sigsnoop_source as Source};
use corescope::skel::sigsnoop::{OpenSigsnoopSkel, SigsnoopSkelBuilder};

const EXAMPLES: &str = "EXAMPLES:
    sigsnoop                 # every signal generated, system-wide
    sigsnoop -n              # signal names instead of numbers
    sigsnoop -x              # only failures (a failed kill(): ESRCH, EPERM...)
    sigsnoop -k              # only the kill(), tkill() and tgkill() syscalls
    sigsnoop -s USR1         # only SIGUSR1 (a name or a number)
    sigsnoop -p 181          # signals sent by PID 181 and its descendants
    sigsnoop --tpid 181      # signals sent to (thread) ID 181";

/// Trace signals: sender, target, signal and result.
#[derive(Parser, Debug)]
#[command(version, after_help = EXAMPLES)]
struct Args {
    /// Only failures: a kill-family call that returned an error, or a
    /// signal the kernel could not queue
    #[arg(short = 'x', long)]
    failed: bool,
    /// Only signals sent by the kill(), tkill() and tgkill() syscalls
    /// (a row per call, with its return value)
    #[arg(short = 'k', long)]
    kill: bool,
    /// Show signal names (SIGUSR1) instead of numbers
    #[arg(short = 'n', long)]
    name: bool,
    /// Only this signal: a number or a name (USR1, SIGTERM, RTMIN+2)
    #[arg(short = 's', long, value_name = "SIG", value_parser = corescope::signal::parse)]
    signal: Option<u32>,
    #[command(flatten)]
    target: Target,
    #[command(flatten)]
    common: CommonArgs,
}

/// `--tpid`: shared with killsnoop (its `-T`).
#[derive(clap::Args, Debug, Clone, Copy)]
pub(crate) struct Target {
    /// Only signals to this target: the TPID column (a thread ID, or
    /// kill()'s pid argument)
    #[arg(long, value_name = "TPID", value_parser = clap::value_parser!(i32).range(1..))]
    pub(crate) tpid: Option<i32>,
}

/// What the BPF side reports, as the tools configure it.
pub(crate) struct Config {
    pub(crate) kill_only: bool,
    pub(crate) failed: bool,
    pub(crate) signal: Option<u32>,
    pub(crate) tpid: Option<i32>,
}

/// Writes `c` into the opened object: `.rodata` and which programs load.
pub(crate) fn configure_bpf(open: &mut OpenSigsnoopSkel<'_>, c: &Config) -> Result<()> {
    let ro = open.rodata()?;
    ro.kill_only = u8::from(c.kill_only);
    ro.failed_only = u8::from(c.failed);
    ro.targ_sig = c.signal.map_or(-1, |s| s as i32);
    ro.targ_tpid = c.tpid.unwrap_or(0);
    open.progs.handle_generate.set_autoload(!c.kill_only);
    Ok(())
}

/// One signal or kill-family call (sigsnoop's and killsnoop's JSON record).
#[derive(Serialize)]
pub(crate) struct Signal<'a> {
    pub(crate) time: Hms,
    pub(crate) pid: u32,
    pub(crate) tid: u32,
    pub(crate) uid: u32,
    pub(crate) comm: KStr<'a>,
    /// The signal's number and name (null for 0: kill(pid, 0) checks only).
    pub(crate) sig: i32,
    pub(crate) signal: Option<Sig>,
    pub(crate) tpid: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) ttgid: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) target_comm: Option<KStr<'a>>,
    /// 0, or a negative errno.
    pub(crate) ret: i32,
    /// `signal_generate`, `kill`, `tkill` or `tgkill`.
    pub(crate) source: &'static str,
    /// signal_generate's result: `delivered`, `ignored`, `already_pending`,
    /// `overflow_fail`, `lose_info`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) delivery: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) group: Option<bool>,
}

/// The kernel's enum trace_signal_result, in order.
const DELIVERY: [&str; 5] = [
    "delivered",
    "ignored",
    "already_pending",
    "overflow_fail",
    "lose_info",
];

pub(crate) fn signal_row<'a>(e: &'a Event, out: &Output) -> Signal<'a> {
    let generate = e.source == Source::SIGSNOOP_GENERATE.0 as u8;
    let source = ["signal_generate", "kill", "tkill", "tgkill"]
        .get(usize::from(e.source))
        .copied()
        .unwrap_or("unknown");
    let sig = Sig(e.sig as u32);
    Signal {
        time: out.clock.hms_of(e.ts_ns),
        pid: e.pid,
        tid: e.tid,
        uid: e.uid,
        comm: KStr(cstr(&e.comm)),
        sig: e.sig,
        signal: (e.sig > 0 && sig.is_signal()).then_some(sig),
        tpid: e.tpid,
        ttgid: (e.source == Source::SIGSNOOP_TGKILL.0 as u8).then_some(e.ttgid),
        target_comm: generate.then(|| KStr(cstr(&e.tcomm))),
        ret: e.ret,
        source,
        delivery: generate.then(|| {
            DELIVERY
                .get(usize::from(e.result))
                .copied()
                .unwrap_or("unknown")
        }),
        group: generate.then_some(e.group != 0),
    }
}

/// sigsnoop's columns over the shared record (same JSON).
#[derive(Serialize)]
#[serde(transparent)]
struct SigRow<'a>(Signal<'a>);

impl Row for SigRow<'_> {
    type Opts = Sigsnoop;
    fn columns(t: &mut Table<'_, '_, Self>, s: &Sigsnoop) {
        // libbpf-tools: "%-8s %-7d %-16s %-9s %-7d %-6d".
        t.col(Col::left("TIME", 8), |r, c| c.put(r.0.time));
        t.col(Col::left("PID", 7), |r, c| c.put(r.0.pid));
        t.col(Col::left("COMM", 16), |r, c| c.text(r.0.comm.0));
        t.col(Col::left("SIG", 9), |r, c| match r.0.signal {
            Some(sig) if s.a.name => c.put(sig),
            _ => c.put(r.0.sig),
        });
        t.col(Col::left("TPID", 7), |r, c| c.put(r.0.tpid));
        t.col(Col::left("RESULT", 0), |r, c| c.put(r.0.ret));
    }
}

struct Sigsnoop {
    a: Args,
}

impl Events for Sigsnoop {
    type Args = Args;
    type Skel = SigsnoopSkelBuilder;
    type Event = Event;
    type Row<'a> = SigRow<'a>;
    #[rustfmt::skip]
    const SHORTS: &'static [(&'static str, char)] = &[("pid", 'p'), ("cgroup", 'c'),
        ("uid", 'u'), ("json", 'j'), ("duration", 'd'), ("verbose", 'v')];

    fn configure(a: Args, open: &mut OpenSigsnoopSkel<'_>, _: &mut Session) -> Result<Self> {
        let c = Config {
            kill_only: a.kill,
            failed: a.failed,
            signal: a.signal,
            tpid: a.target.tpid,
        };
        configure_bpf(open, &c)?;
        Ok(Self { a })
    }

    fn event(&mut self, e: &Event, _: &[u8], out: &mut Output) -> Result<()> {
        Ok(out.row(&SigRow(signal_row(e, out)), self)?)
    }
}

/// The tool (its binary, or `corescope sigsnoop`).
pub fn main(name: &'static str) -> ExitCode {
    corescope::run::events::<Sigsnoop>(name)
}

#[cfg(test)]
mod tests;
