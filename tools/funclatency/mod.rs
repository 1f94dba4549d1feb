//! funclatency: the latency of a syscall (its enter/exit tracepoints), a
//! user-space function (uprobe + uretprobe) or, where the kernel has
//! kprobes, a kernel function, as a log2 histogram. Based on
//! funclatency(8) from BCC and libbpf-tools; the BPF side says what
//! differs (tools/funclatency/funclatency.bpf.c).

use std::ops::ControlFlow;
use std::path::PathBuf;
use std::time::Duration;

use corescope::hist::{self, Printer, Scale};
use corescope::prelude::*;
use corescope::run::{Loaded, Open};
use corescope::session::{Counter, Fields, Tick};
use corescope::skel::funclatency::types::{cs_hist as Value, funclatency_unit as Unit};
use corescope::skel::funclatency::FunclatencySkelBuilder;
use corescope::UserError;
use libbpf_rs::{Link, Object, TracepointCategory, TracepointOpts, UprobeOpts};

mod spec;
use spec::Spec;

const EXAMPLES: &str = "EXAMPLES:
    funclatency syscall:read             # read() latency, in ns, one histogram at Ctrl-C
    funclatency -u 'syscall:*open*'      # every open syscall (open, openat, openat2...), in us
    funclatency -m -p 181 syscall:fsync  # fsync() of PID 181 and its descendants, in ms
    funclatency c:malloc                 # libc's malloc()
    funclatency -p 181 c:malloc          # malloc() of the libc PID 181 maps
    funclatency /usr/bin/bash:readline   # a function of a binary
    funclatency -u --min 100 syscall:read  # only reads of 100 us or more
    funclatency -T syscall:write 1 5     # every second, 5 times, with the time
    funclatency -j -d 10 syscall:read    # JSON: one record per histogram, for 10 seconds
    funclatency vfs_read                 # a kernel function: needs kprobes";

/// Time a function's calls (a syscall, a user-space function, or a kernel
/// function where the kernel has kprobes) and summarize them as a histogram.
#[derive(Parser, Debug)]
#[command(version, after_help = EXAMPLES)]
struct Args {
    /// What to time: syscall:NAME or a pattern ('syscall:*open*'),
    /// LIB:FUNC (c:malloc), /path/to/binary:FUNC, or a kernel function
    #[arg(value_name = "FUNCTION")]
    function: String,
    /// Nanosecond histogram (the default)
    #[arg(short = 'n', long, conflicts_with_all = ["microseconds", "milliseconds"])]
    nanoseconds: bool,
    /// Microsecond histogram
    #[arg(short = 'u', long, conflicts_with = "milliseconds")]
    microseconds: bool,
    /// Millisecond histogram
    #[arg(short = 'm', long)]
    milliseconds: bool,
    /// Count only calls of at least MIN (in the histogram's unit; in the kernel)
    #[arg(long, value_name = "MIN")]
    min: Option<u64>,
    /// Count only calls of at most MAX (in the histogram's unit; in the kernel)
    #[arg(long, value_name = "MAX")]
    max: Option<u64>,
    #[command(flatten)]
    iv: hist::IntervalArgs,
    #[command(flatten)]
    common: CommonArgs,
}

impl Args {
    fn unit(&self) -> (Unit, &'static str) {
        if self.milliseconds {
            (Unit::FUNCLATENCY_MSEC, "msecs")
        } else if self.microseconds {
            (Unit::FUNCLATENCY_USEC, "usecs")
        } else {
            (Unit::FUNCLATENCY_NSEC, "nsecs")
        }
    }
}

/// What is probed, resolved on this machine.
#[derive(Debug, Clone)]
enum Target {
    /// Syscall names (enter/exit tracepoints).
    Syscalls(Vec<String>),
    /// A user function: its file offset in each file (one per library copy).
    User {
        func: String,
        files: Vec<(PathBuf, u64)>,
    },
    Kernel(String),
}

impl Target {
    fn resolve(s: &Spec, pids: &[u32]) -> Result<Self> {
        Ok(match s {
            Spec::Syscall(pat) => {
                let root = corescope::load::tracefs_root().ok_or_else(|| {
                    UserError::hint(
                        "tracefs is not readable: the syscall tracepoints cannot be listed",
                        "run as root, or mount tracefs (see corescope check)",
                    )
                })?;
                let all = spec::syscalls(&root.join("events"))?;
                Target::Syscalls(spec::match_syscalls(pat, &all)?)
            }
            Spec::User { object, func } => {
                let mut files = Vec::new();
                for p in spec::resolve_object(object, pids)? {
                    let off = spec::function_offset(&p, func)?;
                    files.push((p, off));
                }
                Target::User {
                    func: func.clone(),
                    files,
                }
            }
            Spec::Kernel(name) => {
                if !spec::kprobes_available() {
                    return Err(UserError::hint(
                        format!("kernel function probes (kprobes, fentry) are not available on this kernel: cannot time {name}"),
                        "time its syscall instead (funclatency 'syscall:*read*') or a user-space function (funclatency c:malloc); corescope check shows what this kernel has",
                    )
                    .into());
                }
                Target::Kernel(name.clone())
            }
        })
    }

    /// How many functions; BCC's banner counts them.
    fn count(&self) -> usize {
        match self {
            Target::Syscalls(v) => v.len(),
            Target::User { files, .. } => files.len(),
            Target::Kernel(_) => 1,
        }
    }
}

/// Above this many syscall tracepoints, the slow detach is announced.
const DETACH_NOTICE: usize = 64;

/// The tool: an interval tool printing one histogram (its attaching is its
/// own: the probes depend on FUNCTION).
struct Funclatency {
    a: Args,
    target: Target,
    links: Vec<Link>,
    printer: Option<Printer<u32, Value>>,
}

impl Interval for Funclatency {
    const SERVES_ROWS: bool = true;
    type Args = Args;
    type Skel = FunclatencySkelBuilder;
    #[rustfmt::skip]
    const SHORTS: &'static [(&'static str, char)] = &[("pid", 'p'),
    ("cgroup", 'c'),
    ("json", 'j'),
    ("duration", 'd'),
    ("verbose", 'v'),
    ("timestamp", 'T'),];

    fn configure(a: Args, open: &mut Open<'_, Self::Skel>, s: &mut Session) -> Result<Self> {
        let spec = spec::parse(&a.function)?;
        if let (Some(min), Some(max)) = (a.min, a.max) {
            if min > max {
                return Err(UserError::hint(
                    format!("--min {min} is above --max {max}: nothing would be counted"),
                    "give --min at most --max",
                )
                .into());
            }
        }
        let target = Target::resolve(&spec, &a.common.filter.pid)?;
        let syscalls = matches!(target, Target::Syscalls(_));
        let p = &mut open.progs;
        p.funclat_sys_enter.set_autoload(syscalls);
        p.funclat_sys_exit.set_autoload(syscalls);
        p.funclat_entry.set_autoload(!syscalls);
        p.funclat_return.set_autoload(!syscalls);
        let ro = open.rodata()?;
        ro.unit = a.unit().0 .0 as u8;
        ro.targ_min = a.min.unwrap_or(0);
        ro.targ_max = a.max.unwrap_or(0);
        ro.max_on = u8::from(a.max.is_some());
        // BCC's banner; made once per run.
        let n = target.count();
        let banner = format!(
            "Tracing {n} function{} for \"{}\"... Hit Ctrl-C to end.",
            if n == 1 { "" } else { "s" },
            a.function
        );
        hist::set_banner(s, Box::leak(banner.into_boxed_str()));
        Ok(Self {
            a,
            target,
            links: Vec::new(),
            printer: None,
        })
    }

    fn loaded(&mut self, skel: &mut Loaded<'_, Self::Skel>, _: &mut Session) -> Result<()> {
        let p = &skel.progs;
        match &self.target {
            Target::Syscalls(names) => {
                for n in names {
                    let forklike = spec::FORKLIKE.contains(&n.as_str());
                    let opts = |cookie| TracepointOpts {
                        cookie,
                        ..Default::default()
                    };
                    let tp = |prog: &libbpf_rs::ProgramMut<'_>, which: &str, cookie| {
                        prog.attach_tracepoint_with_opts(
                            TracepointCategory::Custom("syscalls".into()),
                            format!("sys_{which}_{n}"),
                            opts(cookie),
                        )
                        .map_err(|e| attach_error(&format!("syscalls:sys_{which}_{n}"), &e))
                    };
                    self.links.push(tp(&p.funclat_sys_enter, "enter", 0)?);
                    let cookie = u64::from(forklike); // FUNCLATENCY_FORKLIKE (funclatency.h)
                    self.links.push(tp(&p.funclat_sys_exit, "exit", cookie)?);
                }
            }
            Target::User { func, files } => {
                for (path, off) in files {
                    let up = |prog: &libbpf_rs::ProgramMut<'_>, retprobe| {
                        let opts = UprobeOpts {
                            retprobe,
                            ..Default::default()
                        };
                        prog.attach_uprobe_with_opts(-1, path, *off as usize, opts)
                            .map_err(|e| attach_error(&format!("{}:{func}", path.display()), &e))
                    };
                    self.links.push(up(&p.funclat_entry, false)?);
                    self.links.push(up(&p.funclat_return, true)?);
                }
            }
            Target::Kernel(name) => {
                for (prog, ret) in [(&p.funclat_entry, false), (&p.funclat_return, true)] {
                    let l = prog.attach_kprobe(ret, name).map_err(|e| {
                        anyhow::Error::from(UserError::hint(
                            format!("cannot probe kernel function {name}: {e}"),
                            "is it in /proc/kallsyms (and not inlined or blacklisted)?",
                        ))
                    })?;
                    self.links.push(l);
                }
            }
        }
        if corescope::libbpf_log::verbose() {
            corescope::diag!(
                "funclatency: {} probes attached for {}",
                self.links.len(),
                self.a.function
            );
        }
        let (_, unit) = self.a.unit();
        let printer = Printer::new(&skel.maps.hists, &self.a.iv, (Scale::Log2, unit), None)?;
        self.printer = Some(printer);
        Ok(())
    }

    fn period(&self) -> Duration {
        self.a.iv.period()
    }

    fn tick(
        &mut self,
        skel: &Loaded<'_, Self::Skel>,
        _: &Tick,
        out: &mut Output,
    ) -> Result<ControlFlow<()>> {
        match &mut self.printer {
            Some(p) => p.tick(&skel.maps.hists, out),
            None => Ok(ControlFlow::Break(())),
        }
    }

    fn summary(&mut self, _: &Object) -> (Vec<Counter>, Fields) {
        let counted = self.printer.as_ref().map_or(0, Printer::counted);
        let mut f = Fields::new();
        f.insert("probes".into(), (self.links.len() as u64).into());
        // Detaching waits for an RCU grace period per syscall tracepoint
        // (in the kernel, one after the other): tens of ms each, about a
        // minute for syscall:* here. Said, so the wait is not a hang.
        if matches!(self.target, Target::Syscalls(_)) && self.links.len() > DETACH_NOTICE {
            corescope::diag!(
                "funclatency: detaching {} tracepoints; the kernel takes tens of ms for each",
                self.links.len()
            );
        }
        (vec![Counter::new("counted", "counted", counted)], f)
    }
}

fn attach_error(what: &str, e: &libbpf_rs::Error) -> anyhow::Error {
    UserError::hint(
        format!("attaching to {what} failed: {e}"),
        "run again with -v for libbpf's log",
    )
    .into()
}

/// The tool (its binary, or `corescope funclatency`).
pub fn main(name: &'static str) -> ExitCode {
    corescope::run::interval::<Funclatency>(name)
}

#[cfg(test)]
mod tests;
