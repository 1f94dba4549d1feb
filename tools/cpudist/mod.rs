//! cpudist: on-CPU time per scheduling slice (or with -O off-CPU time) as a
//! histogram. Based on cpudist(8) from BCC and libbpf-tools; the BPF side
//! says what differs (tools/cpudist/cpudist.bpf.c).

use corescope::hist::{self, HistTool, KeyFn, Scale};
use corescope::prelude::*;
use corescope::run::Loaded;
use corescope::skel::cpudist::types::{cpudist_per as Per, cs_hist as Value};
use corescope::skel::cpudist::{CpudistSkelBuilder, OpenCpudistSkel};
use libbpf_rs::MapCore;

const EXAMPLES: &str = "EXAMPLES:
    cpudist                # on-CPU time per slice, one histogram at Ctrl-C
    cpudist -O             # off-CPU time instead (between two slices)
    cpudist 1 10           # every second, 10 times (each of that second only)
    cpudist -mT 1          # milliseconds, with the time before each histogram
    cpudist -P             # one histogram per process (PID)
    cpudist -L             # one histogram per thread (TID)
    cpudist -p 185         # only PID 185 and its descendants
    cpudist -j -d 10       # JSON: one record per histogram, for 10 seconds";

/// Summarize on-CPU time per task as a histogram.
#[derive(Parser, Debug)]
#[command(version, after_help = EXAMPLES)]
struct Args {
    /// Measure off-CPU time (between two slices) instead of on-CPU time
    #[arg(short = 'O', long)]
    offcpu: bool,
    /// Millisecond histogram (default: microseconds)
    #[arg(short = 'm', long)]
    milliseconds: bool,
    /// One histogram per process (PID)
    #[arg(short = 'P', long, conflicts_with = "tids")]
    pids: bool,
    /// One histogram per thread (TID)
    #[arg(short = 'L', long)]
    tids: bool,
    #[command(flatten)]
    iv: hist::IntervalArgs,
    #[command(flatten)]
    common: CommonArgs,
}

impl Args {
    fn per(&self) -> Per {
        match (self.pids, self.tids) {
            (true, _) => Per::CPUDIST_PER_PID,
            (_, true) => Per::CPUDIST_PER_TID,
            _ => Per::CPUDIST_PER_ALL,
        }
    }

    fn unit(&self) -> &'static str {
        if self.milliseconds {
            "msecs"
        } else {
            "usecs"
        }
    }

    /// libbpf-tools' banner, printed as the (only) table header.
    fn banner(&self) -> &'static str {
        if self.offcpu {
            "Tracing off-CPU time... Hit Ctrl-C to end."
        } else {
            "Tracing on-CPU time... Hit Ctrl-C to end."
        }
    }
}

/// How a histogram's key is shown (section header, JSON fields).
fn key_fn(per: Per) -> Option<KeyFn<u32, Value>> {
    match per {
        Per::CPUDIST_PER_PID => Some(hist::pid_key),
        Per::CPUDIST_PER_TID => Some(hist::tid_key),
        _ => None,
    }
}

/// The tool's `.rodata` knobs and map sizes, before load.
fn configure(open: &mut OpenCpudistSkel<'_>, a: &Args) -> Result<()> {
    let per = a.per();
    hist::size_map(&mut open.maps.hists, per != Per::CPUDIST_PER_ALL, 10240)?;
    let ro = open.rodata()?;
    ro.per = per.0 as u8;
    ro.targ_ms = u8::from(a.milliseconds);
    ro.targ_offcpu = u8::from(a.offcpu);
    Ok(())
}

/// The tool: a histogram tool ([`hist::Runner`] runs it).
struct Cpudist;

impl HistTool for Cpudist {
    type Args = Args;
    type Skel = CpudistSkelBuilder;
    type Key = u32;
    type Value = Value;
    #[rustfmt::skip]
    const SHORTS: &'static [(&'static str, char)] = &[("pid", 'p'), ("cgroup", 'c'),
        ("json", 'j'), ("duration", 'd'), ("verbose", 'v'), ("timestamp", 'T')];

    fn interval(a: &Args) -> &hist::IntervalArgs {
        &a.iv
    }

    fn configure(a: &Args, open: &mut OpenCpudistSkel<'_>) -> Result<&'static str> {
        configure(open, a)?;
        Ok(a.banner())
    }

    fn map<'a>(skel: &'a Loaded<'_, CpudistSkelBuilder>) -> &'a dyn MapCore {
        &skel.maps.hists
    }

    fn shape(a: &Args) -> hist::Shape<u32, Value> {
        ((Scale::Log2, a.unit()), key_fn(a.per()))
    }
}

/// The tool (its binary, or `corescope cpudist`).
pub fn main(name: &'static str) -> ExitCode {
    corescope::run::interval::<hist::Runner<Cpudist>>(name)
}

#[cfg(test)]
mod tests;
