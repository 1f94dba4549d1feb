//! offcputime: where threads block, and for how long: time off CPU summed
//! per (process, thread, user stack, kernel stack). Based on offcputime(8)
//! from BCC and libbpf-tools; the BPF side says what differs
//! (tools/offcputime/offcputime.bpf.c). The stacks shape
//! (corescope::stacks) symbolizes and prints them.

use corescope::prelude::*;
use corescope::skel::offcputime::types::cs_stack_key;
use corescope::skel::offcputime::{OffcputimeSkelBuilder, OpenOffcputimeSkel};
use corescope::stacks::runner::Counts;
use corescope::stacks::{self, StackArgs, StackTool};
use corescope::UserError;

const EXAMPLES: &str = "EXAMPLES:
    offcputime             # off-CPU time by stack of all threads, until Ctrl-C
    offcputime 5           # for 5 seconds only
    offcputime -f 5        # folded output, for flame graphs
    offcputime --svg off.svg 10  # an interactive flame graph of off-CPU time
    offcputime -m 1000     # only blocks of at least 1000 us
    offcputime -M 10000    # only blocks of at most 10000 us
    offcputime -p 185      # only PID 185 and its descendants
    offcputime -t 188      # only thread 188
    offcputime -u          # only user threads (no kernel threads)
    offcputime -k          # only kernel threads
    offcputime --state 2   # only uninterruptible sleeps (TASK_UNINTERRUPTIBLE)
    offcputime -U -j 5     # user stacks only, JSON records";

/// Summarize off-CPU time by stack trace.
#[derive(Parser, Debug)]
#[command(version, after_help = EXAMPLES)]
struct Args {
    /// User threads only (no kernel threads)
    #[arg(short = 'u', long, conflicts_with = "kernel_threads_only")]
    user_threads_only: bool,
    /// Kernel threads only (no user threads)
    #[arg(short = 'k', long)]
    kernel_threads_only: bool,
    /// Count only blocks of at least MIN_US microseconds
    #[arg(
        short = 'm',
        long = "min-block-time",
        value_name = "MIN_US",
        default_value_t = 1
    )]
    min_us: u64,
    /// Count only blocks of at most MAX_US microseconds
    #[arg(short = 'M', long = "max-block-time", value_name = "MAX_US")]
    max_us: Option<u64>,
    /// Only threads switched out in this state: 0 exactly (preempted,
    /// runnable), otherwise any of its bits (2 = TASK_UNINTERRUPTIBLE)
    #[arg(long, value_name = "STATE")]
    state: Option<u32>,
    #[command(flatten)]
    stacks: StackArgs,
    #[command(flatten)]
    common: CommonArgs,
}

struct Offcputime {
    who: String,
    sides: &'static str,
    duration: Option<u64>,
}

/// -M (default: no limit), checked against -m.
fn max_of(a: &Args) -> Result<u64> {
    let max = a.max_us.unwrap_or(u64::MAX);
    if a.min_us > max {
        return Err(UserError::hint(
            format!("-m {} is above -M {max}: no block can be counted", a.min_us),
            "give a MIN_US at most MAX_US",
        )
        .into());
    }
    Ok(max)
}

/// Who is traced, in BCC's words.
fn who(a: &Args) -> String {
    let f = &a.common.filter;
    let list = |v: &[u32]| v.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
    match (&f.pid[..], f.tid) {
        (_, Some(t)) => format!("TID {t}"),
        ([], None) if !f.cmd.is_empty() => "the command".into(),
        ([], None) if a.user_threads_only => "user threads".into(),
        ([], None) if a.kernel_threads_only => "kernel threads".into(),
        ([], None) => "all threads".into(),
        (p, None) => format!("PID {}", list(p)),
    }
}

impl StackTool for Offcputime {
    type Args = Args;
    type Skel = OffcputimeSkelBuilder;
    type Key = cs_stack_key;
    #[rustfmt::skip]
    const SHORTS: &'static [(&'static str, char)] = &[("pid", 'p'), ("tid", 't'),
        ("json", 'j'), ("verbose", 'v')];
    const COUNTS: Counts = Counts {
        key: "off_cpu_us",
        label: "us off CPU",
        unit: "us",
    };
    const TITLE: &'static str = "Off-CPU time (offcputime)";

    fn stack_args(a: &Args) -> &StackArgs {
        &a.stacks
    }

    fn configure(a: Args, open: &mut OpenOffcputimeSkel<'_>) -> Result<Self> {
        let max = max_of(&a)?;
        let ro = open.rodata()?;
        (ro.min_us, ro.max_us) = (a.min_us, max);
        ro.user_threads_only = u8::from(a.user_threads_only);
        ro.kernel_threads_only = u8::from(a.kernel_threads_only);
        ro.state_on = u8::from(a.state.is_some());
        ro.state = i64::from(a.state.unwrap_or(0));
        Ok(Self {
            who: who(&a),
            sides: a.stacks.sides(),
            duration: a.stacks.duration.or(a.common.run.duration),
        })
    }

    /// BCC's: "Tracing off-CPU time (us) of all threads by user + kernel stack... Hit Ctrl-C to end."
    fn banner(&self) -> String {
        let end = match self.duration {
            Some(d) => format!(" for {d} secs."),
            None => "... Hit Ctrl-C to end.".into(),
        };
        format!(
            "Tracing off-CPU time (us) of {} by {} stack{end}",
            self.who, self.sides
        )
    }
}

/// The tool (its binary, or `corescope offcputime`).
pub fn main(name: &'static str) -> ExitCode {
    corescope::run::interval::<stacks::Runner<Offcputime>>(name)
}

#[cfg(test)]
mod tests;
