//! syscount: syscalls counted per syscall (or per process, `-P`), with
//! `-L` their total latency, every interval. Based on syscount(8) from BCC
//! and libbpf-tools; the BPF side says what differs
//! (tools/syscount/syscount.bpf.c). A top-shape tool ([`corescope::top`]).

use std::ops::ControlFlow;
use std::time::Duration;

use corescope::prelude::*;
use corescope::run::Loaded;
use corescope::session::{Counter, Fields};
use corescope::skel::syscount::types::{syscount_key as Key, syscount_value as Value};
use corescope::skel::syscount::{OpenSyscountSkel, SyscountSkelBuilder};
use corescope::top::{self, Counts, Drain, Screen, TopArgs};
use corescope::Tick;

pub mod names;

const EXAMPLES: &str = "EXAMPLES:
    syscount                 # top 20 syscalls by count, every second
    syscount -p $(pidof dd)  # only that process (and its descendants)
    syscount -L              # with the total time in each, sorted by it
    syscount -P              # per process, not per syscall
    syscount -x 5            # only failed syscalls, every 5 seconds
    syscount -e ENOENT 5 3   # only those failing with ENOENT; 3 times, every 5 s
    syscount --syscall openat -P   # who calls openat, and how often
    syscount -l              # the syscall names this build knows
    syscount -j -d 10        # JSON: one record per row per interval, for 10 s";

/// Summarize syscall counts and latencies.
#[derive(Parser, Debug)]
#[command(version, after_help = EXAMPLES)]
struct Args {
    /// Count by process (PID, COMM), not by syscall
    #[arg(short = 'P', long)]
    process: bool,
    /// Also the total time spent in the syscalls (sorts by it)
    #[arg(short = 'L', long)]
    latency: bool,
    /// Latency in milliseconds (default: microseconds)
    #[arg(short = 'm', long, requires = "latency")]
    milliseconds: bool,
    /// Only failed syscalls (returning an error)
    #[arg(short = 'x', long, conflicts_with = "errno")]
    failures: bool,
    /// Only syscalls failing with this errno (ENOENT or 2)
    #[arg(short = 'e', long, value_name = "ERRNO", value_parser = names::parse_errno)]
    errno: Option<i32>,
    /// Only this syscall (a name of -l, or a number)
    #[arg(long, value_name = "NAME", value_parser = names::parse_syscall)]
    syscall: Option<u32>,
    /// Print the syscall names this build knows (number: name) and exit
    #[arg(short = 'l', long)]
    list: bool,
    /// Rows per interval (BCC's letter; the same as -r)
    #[arg(short = 'T', long = "top", value_name = "ROWS", conflicts_with = "rows",
          value_parser = clap::value_parser!(u64).range(1..))]
    top_rows: Option<u64>,
    #[command(flatten)]
    top: TopArgs,
    #[command(flatten)]
    common: CommonArgs,
}

/// Which columns a row has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Shape {
    pub process: bool,
    pub latency: bool,
    pub ms: bool,
}

impl Shape {
    /// The latency column's header, as BCC's.
    fn time_col(&self) -> &'static str {
        if self.ms {
            "TIME (ms)"
        } else {
            "TIME (us)"
        }
    }
}

/// One row of a table: a syscall's or a process's counts.
#[derive(Serialize)]
pub struct SysRow<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub syscall: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nr: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comm: Option<KStr<'a>>,
    pub count: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_ns: Option<u64>,
}

impl SysRow<'_> {
    /// BCC's latency cell: `%16.3f` microseconds or `%16.6f` milliseconds.
    fn time(&self, ms: bool, c: &mut corescope::output::Cell<'_, '_>) {
        let ns = self.total_ns.unwrap_or(0) as f64;
        if ms {
            c.put(format_args!("{:.6}", ns / 1e6));
        } else {
            c.put(format_args!("{:.3}", ns / 1e3));
        }
    }
}

impl Row for SysRow<'_> {
    type Opts = Shape;
    fn columns(t: &mut Table<'_, '_, Self>, o: &Shape) {
        // BCC: "%-22s %8s" with "PID    COMM" ("%-6d %-15s") or "SYSCALL".
        if o.process {
            t.col(Col::left("PID", 6), |r, c| c.put(r.pid.unwrap_or(0)));
            t.col(Col::left("COMM", 15), |r, c| {
                c.text(r.comm.map_or(&b""[..], |k| k.0))
            });
        } else {
            t.col(Col::left("SYSCALL", 22), |r, c| match r.syscall {
                Some(s) => c.put(s),
                None => c.put(format_args!("[unknown: {}]", r.nr.unwrap_or(0))),
            });
        }
        t.col(Col::right("COUNT", 8), |r, c| c.put(r.count));
        let ms = o.ms;
        t.col_if(o.latency, Col::right(o.time_col(), 16), |r, c| {
            r.time(ms, c)
        });
    }
}

impl Counts for Value {
    fn add(&mut self, o: &Self) {
        self.count = self.count.wrapping_add(o.count);
        self.total_ns = self.total_ns.wrapping_add(o.total_ns);
    }
}

/// The JSON form of a [`Value`] sum (the `interval` record's totals).
#[derive(Serialize, Default, Clone, Copy)]
struct Sum {
    count: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    total_ns: Option<u64>,
}

/// The map's capacity: every syscall number fits in 1024 keys; processes
/// are as many as the kernel's default PID limit allows live at once.
const PER_SYSCALL_KEYS: u32 = 1024;
const PER_PROCESS_KEYS: u32 = 10240;

struct Syscount {
    a: Args,
    shape: Shape,
    rows: usize,
    drain: Option<Drain<Key, Value>>,
    screen: Screen,
}

/// The row for key `k` (a syscall number, or a PID with -P).
fn row<'v>(shape: &Shape, k: &Key, v: &'v Value) -> SysRow<'v> {
    let (p, l) = (shape.process, shape.latency);
    SysRow {
        syscall: if p { None } else { names::name(k.id) },
        nr: (!p).then_some(k.id),
        pid: p.then_some(k.id),
        comm: p.then(|| KStr(corescope::escape::cstr(&v.comm))),
        count: v.count,
        total_ns: l.then_some(v.total_ns),
    }
}

impl Interval for Syscount {
    type Args = Args;
    type Skel = SyscountSkelBuilder;
    const SHORTS: &'static [(&'static str, char)] = &[
        ("pid", 'p'),
        ("cgroup", 'c'),
        ("json", 'j'),
        ("duration", 'd'),
        ("verbose", 'v'),
    ];

    fn configure(a: Args, open: &mut OpenSyscountSkel<'_>, s: &mut Session) -> Result<Self> {
        let keys = if a.process {
            PER_PROCESS_KEYS
        } else {
            PER_SYSCALL_KEYS
        };
        open.maps.counts.set_max_entries(keys)?;
        open.progs.syscount_enter.set_autoload(a.latency);
        let ro = open.rodata()?;
        ro.per_process = u8::from(a.process);
        ro.latency = u8::from(a.latency);
        ro.failures = u8::from(a.failures);
        ro.only_errno = a.errno.unwrap_or(0);
        ro.only_nr = a.syscall.map_or(-1, |n| n as i32);
        let nr = |n: &str| names::parse_syscall(n).map_or(-1, |n| n as i32);
        (ro.execve_nr, ro.execveat_nr) = (nr("execve"), nr("execveat"));
        let shape = Shape {
            process: a.process,
            latency: a.latency,
            ms: a.milliseconds,
        };
        s.set_header::<top::TopRecord<'_, SysRow<'_>>>(&shape);
        s.header_per_interval();
        let rows = a.top_rows.map_or(a.top.rows, |n| n as usize);
        let mut screen = Screen::new(&a.top);
        // BCC's syscount prints "[HH:MM:SS]", not the loadavg line.
        screen.time_line = true;
        Ok(Self {
            a,
            shape,
            rows,
            drain: None,
            screen,
        })
    }

    fn loaded(
        &mut self,
        skel: &mut Loaded<'_, SyscountSkelBuilder>,
        _: &mut Session,
    ) -> Result<()> {
        self.drain = Some(Drain::new(&skel.maps.counts)?);
        Ok(())
    }

    fn period(&self) -> Duration {
        self.a.top.interval.period()
    }

    fn tick(
        &mut self,
        skel: &Loaded<'_, SyscountSkelBuilder>,
        tick: &Tick,
        out: &mut Output,
    ) -> Result<ControlFlow<()>> {
        let Self {
            a,
            shape,
            rows: limit,
            drain,
            screen,
        } = self;
        // COUNT intervals were printed: the final call adds nothing.
        if tick.last && a.top.interval.done(screen.interval) {
            return Ok(ControlFlow::Break(()));
        }
        let Some(drain) = drain.as_mut() else {
            anyhow::bail!("syscount: the map was not opened for draining");
        };
        let rows = drain.drain(&skel.maps.counts)?;
        let latency = shape.latency;
        let totals = top::sort_limit(
            rows,
            *limit,
            |_, v| {
                if latency {
                    v.total_ns
                } else {
                    v.count
                }
            },
        );
        screen.begin(out)?;
        for (k, v) in rows.iter() {
            screen.row(out, &row(shape, k, v), shape)?;
        }
        let sum = |v: &Value| Sum {
            count: v.count,
            total_ns: latency.then_some(v.total_ns),
        };
        screen.end(out, &totals.map(sum))?;
        Ok(screen.after(&a.top.interval))
    }

    fn summary(&mut self, obj: &libbpf_rs::Object) -> (Vec<Counter>, Fields) {
        (vec![dropped(obj)], Fields::new())
    }
}

/// Keys that found the map full (cs_dropped's map_full slot: counts the
/// BPF side could not record, also in the summary's `lost`).
fn dropped(obj: &libbpf_rs::Object) -> Counter {
    let slot = corescope::skel::syscount::types::corescope_drop::CS_DROP_MAP_FULL.0;
    let n = corescope::session::find_map(obj, "cs_dropped")
        .map(|m| top::keys_dropped(&m, slot))
        .unwrap_or(0);
    Counter::new("keys_dropped", "keys dropped (map full)", n)
}

/// The tool (its binary, or `corescope syscount`).
pub fn main(name: &'static str) -> ExitCode {
    // -l needs no BPF (nor root): answered before the runner starts.
    let a: Args = corescope::cli::parse(name, Syscount::SHORTS);
    if a.list {
        return match names::print_list() {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
            Err(e) => {
                corescope::diag!("syscount: writing the list: {e}");
                ExitCode::from(1)
            }
        };
    }
    corescope::run::interval::<Syscount>(name)
}

#[cfg(test)]
mod tests;
