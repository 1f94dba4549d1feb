//! killsnoop: one row per kill(), tkill() or tgkill() call — sender,
//! signal, target, return value — in BCC killsnoop's columns. It loads
//! sigsnoop's BPF program with kill_only set (tools/sigsnoop/: the event,
//! its JSON record and the BPF configuration are shared from there).

use corescope::prelude::*;
use corescope::skel::sigsnoop::types::sigsnoop_event as Event;
use corescope::skel::sigsnoop::{OpenSigsnoopSkel, SigsnoopSkelBuilder};
use corescope::tools::sigsnoop::{configure_bpf, signal_row, Config, Signal};

const EXAMPLES: &str = "EXAMPLES:
    killsnoop                # every kill(), tkill() and tgkill() call
    killsnoop -x             # only failed calls
    killsnoop -p 181         # calls by PID 181 and its descendants
    killsnoop -T 181         # calls targeting PID 181
    killsnoop -s 9           # only SIGKILL (a number or a name)";

/// Trace signals sent by the kill() family of syscalls.
#[derive(Parser, Debug)]
#[command(version, after_help = EXAMPLES)]
struct Args {
    /// Only failed calls (a negative RESULT)
    #[arg(short = 'x', long)]
    failed: bool,
    /// Only this signal: a number or a name (9, KILL, SIGUSR1)
    #[arg(short = 's', long, value_name = "SIG", value_parser = corescope::signal::parse)]
    signal: Option<u32>,
    /// Only calls targeting this PID (kill()'s pid, tkill()'s and
    /// tgkill()'s thread ID)
    #[arg(short = 'T', long, value_name = "TPID", value_parser = clap::value_parser!(i32).range(1..))]
    tpid: Option<i32>,
    #[command(flatten)]
    common: CommonArgs,
}

/// A sigsnoop record, in killsnoop's columns (same JSON).
#[derive(Serialize)]
#[serde(transparent)]
struct Kill<'a>(Signal<'a>);

impl Row for Kill<'_> {
    type Opts = Killsnoop;
    fn columns(t: &mut Table<'_, '_, Self>, _: &Killsnoop) {
        // BCC: "%-9s %-7d %-16s %-4d %-7d %d".
        t.col(Col::left("TIME", 9), |r, c| c.put(r.0.time));
        t.col(Col::left("PID", 7), |r, c| c.put(r.0.pid));
        t.col(Col::left("COMM", 16), |r, c| c.text(r.0.comm.0));
        t.col(Col::left("SIG", 4), |r, c| c.put(r.0.sig));
        t.col(Col::left("TPID", 7), |r, c| c.put(r.0.tpid));
        t.col(Col::left("RESULT", 0), |r, c| c.put(r.0.ret));
    }
}

struct Killsnoop;

impl Events for Killsnoop {
    type Args = Args;
    type Skel = SigsnoopSkelBuilder;
    type Event = Event;
    type Row<'a> = Kill<'a>;
    #[rustfmt::skip]
    const SHORTS: &'static [(&'static str, char)] = &[("pid", 'p'), ("cgroup", 'c'),
        ("uid", 'u'), ("json", 'j'), ("duration", 'd'), ("verbose", 'v')];

    fn configure(a: Args, open: &mut OpenSigsnoopSkel<'_>, _: &mut Session) -> Result<Self> {
        let c = Config {
            kill_only: true,
            failed: a.failed,
            signal: a.signal,
            tpid: a.tpid,
        };
        configure_bpf(open, &c)?;
        Ok(Self)
    }

    fn event(&mut self, e: &Event, _: &[u8], out: &mut Output) -> Result<()> {
        Ok(out.row(&Kill(signal_row(e, out)), self)?)
    }
}

/// The tool (its binary, or `corescope killsnoop`).
pub fn main(name: &'static str) -> ExitCode {
    corescope::run::events::<Killsnoop>(name)
}

#[cfg(test)]
mod tests;
