//! profile: where CPU time is spent, by sampling stack traces on every CPU
//! at a fixed rate (a software CPU_CLOCK perf event) and counting them.
//! Based on profile(8) from BCC and libbpf-tools; the BPF side says what
//! differs (tools/profile/profile.bpf.c). The stacks shape
//! (corescope::stacks) symbolizes and prints them.

use corescope::perf_event::{self, Sample};
use corescope::prelude::*;
use corescope::run::Loaded;
use corescope::skel::profile::types::cs_stack_key;
use corescope::skel::profile::{OpenProfileSkel, ProfileSkelBuilder};
use corescope::stacks::runner::Counts;
use corescope::stacks::{self, StackArgs, StackTool};
use corescope::UserError;
use libbpf_rs::Link;

const EXAMPLES: &str = "EXAMPLES:
    profile                # sample all threads, user + kernel stacks, until Ctrl-C
    profile -F 99          # 99 samples per second (default 49)
    profile --count 1000000   # one sample every 1 ms of CPU clock
    profile 5              # for 5 seconds only
    profile -f 10 > out.folded   # folded stacks, for flamegraph.pl or inferno
    profile --svg cpu.svg 10     # an interactive flame graph (no script needed)
    profile -p 185         # only PID 185 and its descendants
    profile -L 185         # only thread 185
    profile -U             # user stacks only (no kernel frames)
    profile -K -C 1        # kernel stacks only, on CPU 1 only
    profile -I             # include the idle tasks (swapper)
    profile -j 5           # JSON: one record per stack, frames with symbol, offset, module";

/// Profile CPU usage by sampling stack traces at a timed interval.
#[derive(Parser, Debug)]
#[command(version, after_help = EXAMPLES)]
struct Args {
    /// Sample at this frequency, in samples per second of CPU time, on each CPU
    #[arg(short = 'F', long, value_name = "HZ", conflicts_with = "count",
          value_parser = clap::value_parser!(u64).range(1..))]
    frequency: Option<u64>,
    /// Sample once every N nanoseconds of CPU clock (instead of -F)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    count: Option<u64>,
    /// Include the idle tasks (PID 0, swapper/N)
    #[arg(short = 'I', long)]
    include_idle: bool,
    /// Sample this CPU only
    #[arg(short = 'C', long, value_name = "CPU")]
    cpu: Option<u32>,
    #[command(flatten)]
    stacks: StackArgs,
    #[command(flatten)]
    common: CommonArgs,
}

/// BCC's default rate.
const DEFAULT_HZ: u64 = 49;

struct Profile {
    sample: Sample,
    cpus: Vec<u32>,
    /// The banner's parts.
    who: String,
    sides: &'static str,
    on_cpu: Option<u32>,
    duration: Option<u64>,
    /// One perf event link per CPU; dropped to stop sampling.
    links: Vec<Link>,
}

/// `--count N` or `-F HZ` (default 49 Hz).
fn sample_of(a: &Args) -> Sample {
    match a.count {
        Some(n) => Sample::Period(n),
        None => Sample::Freq(a.frequency.unwrap_or(DEFAULT_HZ)),
    }
}

/// Who is sampled, in BCC's words.
fn who(f: &corescope::cli::FilterArgs) -> String {
    let list = |v: &[u32]| v.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
    match (&f.pid[..], f.tid) {
        (_, Some(t)) => format!("TID {t}"),
        ([], None) if !f.cmd.is_empty() => "the command".into(),
        ([], None) => "all threads".into(),
        (p, None) => format!("PID {}", list(p)),
    }
}

fn sample_error(e: std::io::Error, cpu: u32, s: Sample) -> anyhow::Error {
    let msg = format!("cannot open a CPU clock perf event on CPU {cpu}: {e}");
    let hint = match (e.raw_os_error(), s) {
        (Some(libc::EINVAL), Sample::Freq(hz)) => format!(
            "-F {hz} may be above the kernel's limit (/proc/sys/kernel/perf_event_max_sample_rate): use a lower -F"
        ),
        (Some(libc::EACCES | libc::EPERM), _) => {
            "run it as root (or with CAP_PERFMON); see /proc/sys/kernel/perf_event_paranoid".into()
        }
        (Some(libc::ENOENT | libc::EOPNOTSUPP), _) => {
            "this kernel has no software perf events (CONFIG_PERF_EVENTS)".into()
        }
        (Some(libc::EMFILE), _) => "raise the open-files limit (ulimit -n)".into(),
        _ => "run again with -v for details".into(),
    };
    UserError::hint(msg, hint).into()
}

impl StackTool for Profile {
    type Args = Args;
    type Skel = ProfileSkelBuilder;
    type Key = cs_stack_key;
    #[rustfmt::skip]
    const SHORTS: &'static [(&'static str, char)] = &[("pid", 'p'), ("tid", 'L'),
        ("cgroup", 'c'), ("json", 'j'), ("verbose", 'v')];
    const COUNTS: Counts = Counts {
        key: "samples",
        label: "samples",
        unit: "samples",
    };
    const TITLE: &'static str = "CPU profile (profile)";

    fn stack_args(a: &Args) -> &StackArgs {
        &a.stacks
    }

    fn configure(a: Args, open: &mut OpenProfileSkel<'_>) -> Result<Self> {
        let sample = sample_of(&a);
        let online = perf_event::online_cpus()?;
        let cpus = match a.cpu {
            None => online,
            Some(c) if online.contains(&c) => vec![c],
            Some(c) => {
                let last = online.last().copied().unwrap_or(0);
                return Err(UserError::hint(
                    format!("CPU {c} is not online"),
                    format!("give -C a CPU of /sys/devices/system/cpu/online (0 to {last} here)"),
                )
                .into());
            }
        };
        open.rodata()?.include_idle = u8::from(a.include_idle);
        Ok(Self {
            sample,
            cpus,
            who: who(&a.common.filter),
            sides: a.stacks.sides(),
            on_cpu: a.cpu,
            duration: a.stacks.duration.or(a.common.run.duration),
            links: Vec::new(),
        })
    }

    /// BCC's: "Sampling at 49 Hertz of all threads by user + kernel stack... Hit Ctrl-C to end."
    fn banner(&self) -> String {
        let rate = match self.sample {
            Sample::Freq(hz) => format!("at {hz} Hertz"),
            Sample::Period(n) => format!("every {n} ns of CPU clock"),
        };
        let cpu = self
            .on_cpu
            .map(|c| format!(" on CPU#{c}"))
            .unwrap_or_default();
        let end = match self.duration {
            Some(d) => format!(" for {d} secs."),
            None => "... Hit Ctrl-C to end.".into(),
        };
        format!(
            "Sampling {rate} of {} by {} stack{cpu}{end}",
            self.who, self.sides
        )
    }

    /// One CPU clock event per CPU, each running the program.
    fn loaded(&mut self, skel: &mut Loaded<'_, ProfileSkelBuilder>) -> Result<()> {
        for &cpu in &self.cpus {
            let fd = match perf_event::open_cpu_clock(cpu, self.sample) {
                Ok(fd) => fd,
                // Went offline since: nothing runs there.
                Err(e) if e.raw_os_error() == Some(libc::ENODEV) => continue,
                Err(e) => return Err(sample_error(e, cpu, self.sample)),
            };
            let link = perf_event::attach(&skel.progs.profile_sample, fd).map_err(|e| {
                UserError::hint(
                    format!("attaching to the perf event of CPU {cpu} failed: {e}"),
                    "run again with -v for libbpf's log",
                )
            })?;
            self.links.push(link);
        }
        if self.links.is_empty() {
            return Err(UserError::new("no CPU to sample (none online)").into());
        }
        Ok(())
    }

    fn stop(&mut self) {
        self.links.clear();
    }
}

/// The tool (its binary, or `corescope profile`).
pub fn main(name: &'static str) -> ExitCode {
    corescope::run::interval::<stacks::Runner<Profile>>(name)
}

#[cfg(test)]
mod tests;
