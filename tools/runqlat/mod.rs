//! runqlat: run-queue (scheduler) latency as a histogram: how long tasks
//! wait, runnable, before they run. Based on runqlat(8) from BCC and
//! libbpf-tools; the BPF side says what differs (tools/runqlat/runqlat.bpf.c).

use corescope::hist::{self, HistTool, KeyFn, Scale};
use corescope::prelude::*;
use corescope::run::Loaded;
use corescope::skel::runqlat::types::{cs_hist as Value, runqlat_per as Per};
use corescope::skel::runqlat::{OpenRunqlatSkel, RunqlatSkelBuilder};
use libbpf_rs::MapCore;

const EXAMPLES: &str = "EXAMPLES:
    runqlat                # one histogram of run-queue latency, at Ctrl-C
    runqlat 1 10           # every second, 10 times (each of that second only)
    runqlat -mT 1          # milliseconds, with the time before each histogram
    runqlat -P             # one histogram per process (PID)
    runqlat -L             # one histogram per thread (TID)
    runqlat --pidnss       # one histogram per PID namespace
    runqlat -p 185         # only PID 185 and its descendants (the tasks that wait)
    runqlat -c /sys/fs/cgroup/unified/my.slice   # only tasks in this cgroup v2
    runqlat -j -d 10       # JSON: one record per histogram, for 10 seconds";

/// libbpf-tools' banner, printed as the (only) table header.
const BANNER: &str = "Tracing run queue latency... Hit Ctrl-C to end.";

/// Summarize run queue (scheduler) latency as a histogram.
#[derive(Parser, Debug)]
#[command(version, after_help = EXAMPLES)]
struct Args {
    /// Millisecond histogram (default: microseconds)
    #[arg(short = 'm', long)]
    milliseconds: bool,
    /// One histogram per process (PID)
    #[arg(short = 'P', long, conflicts_with_all = ["tids", "pidnss"])]
    pids: bool,
    /// One histogram per thread (TID)
    #[arg(short = 'L', long, conflicts_with = "pidnss")]
    tids: bool,
    /// One histogram per PID namespace
    #[arg(long)]
    pidnss: bool,
    #[command(flatten)]
    iv: hist::IntervalArgs,
    #[command(flatten)]
    common: CommonArgs,
}

impl Args {
    fn per(&self) -> Per {
        match (self.pids, self.tids, self.pidnss) {
            (true, ..) => Per::RUNQLAT_PER_PID,
            (_, true, _) => Per::RUNQLAT_PER_TID,
            (.., true) => Per::RUNQLAT_PER_PIDNS,
            _ => Per::RUNQLAT_PER_ALL,
        }
    }

    fn unit(&self) -> &'static str {
        if self.milliseconds {
            "msecs"
        } else {
            "usecs"
        }
    }
}

/// How a histogram's key is shown (section header, JSON fields).
fn key_fn(per: Per) -> Option<KeyFn<u32, Value>> {
    match per {
        Per::RUNQLAT_PER_PID => Some(hist::pid_key),
        Per::RUNQLAT_PER_TID => Some(hist::tid_key),
        Per::RUNQLAT_PER_PIDNS => Some(hist::pidns_key),
        _ => None,
    }
}

/// The tool's `.rodata` knobs and map sizes, before load.
fn configure(open: &mut OpenRunqlatSkel<'_>, a: &Args) -> Result<()> {
    let per = a.per();
    hist::size_map(&mut open.maps.hists, per != Per::RUNQLAT_PER_ALL, 10240)?;
    let ro = open.rodata()?;
    ro.per = per.0 as u8;
    ro.targ_ms = u8::from(a.milliseconds);
    Ok(())
}

/// The tool: a histogram tool ([`hist::Runner`] runs it).
struct Runqlat;

impl HistTool for Runqlat {
    type Args = Args;
    type Skel = RunqlatSkelBuilder;
    type Key = u32;
    type Value = Value;
    #[rustfmt::skip]
    const SHORTS: &'static [(&'static str, char)] = &[("pid", 'p'), ("cgroup", 'c'),
        ("json", 'j'), ("duration", 'd'), ("verbose", 'v'), ("timestamp", 'T')];

    fn interval(a: &Args) -> &hist::IntervalArgs {
        &a.iv
    }

    fn configure(a: &Args, open: &mut OpenRunqlatSkel<'_>) -> Result<&'static str> {
        configure(open, a)?;
        Ok(BANNER)
    }

    fn map<'a>(skel: &'a Loaded<'_, RunqlatSkelBuilder>) -> &'a dyn MapCore {
        &skel.maps.hists
    }

    fn shape(a: &Args) -> hist::Shape<u32, Value> {
        ((Scale::Log2, a.unit()), key_fn(a.per()))
    }
}

/// The tool (its binary, or `corescope runqlat`).
pub fn main(name: &'static str) -> ExitCode {
    corescope::run::interval::<hist::Runner<Runqlat>>(name)
}

#[cfg(test)]
mod tests;
