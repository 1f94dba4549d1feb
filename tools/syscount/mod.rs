//! syscount: syscalls counted per syscall (or per process, `-P`), with
//! `-L` their total latency, every interval. Based on syscount(8) from BCC
//! and libbpf-tools; the BPF side says what differs
//! (tools/syscount/syscount.bpf.c). A top-shape tool ([`corescope::top`]).

use corescope::prelude::*;
use corescope::run::Loaded;
use corescope::skel::syscount::types::{syscount_key as Key, syscount_value as Value};
use corescope::skel::syscount::{OpenSyscountSkel, SyscountSkelBuilder};
use corescope::top::{self, Counts, Screen, TopArgs, TopTool};
use libbpf_rs::MapCore;

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

impl TopTool for Syscount {
    type Args = Args;
    type Skel = SyscountSkelBuilder;
    type Key = Key;
    type Value = Value;
    type Opts = Shape;
    type Row<'a> = SysRow<'a>;
    type Sum = Sum;
    type Scratch = ();
    const SHORTS: &'static [(&'static str, char)] = &[
        ("pid", 'p'),
        ("cgroup", 'c'),
        ("json", 'j'),
        ("duration", 'd'),
        ("verbose", 'v'),
    ];

    fn configure(a: Args, open: &mut OpenSyscountSkel<'_>) -> Result<Self> {
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
        Ok(Self { a, shape })
    }

    fn top(&self) -> &TopArgs {
        &self.a.top
    }

    fn rows(&self) -> usize {
        self.a.top_rows.map_or(self.a.top.rows, |n| n as usize)
    }

    fn opts(&self) -> &Shape {
        &self.shape
    }

    fn screen(&self, s: &mut Screen) {
        // BCC's syscount prints "[HH:MM:SS]", not the loadavg line.
        s.time_line = true;
    }

    fn map<'a>(skel: &'a Loaded<'_, SyscountSkelBuilder>) -> &'a dyn MapCore {
        &skel.maps.counts
    }

    fn score(&self, _: &Key, v: &Value) -> u64 {
        if self.shape.latency {
            v.total_ns
        } else {
            v.count
        }
    }

    fn scratch(&self) {}

    fn row<'a>(&'a self, k: &'a Key, v: &'a Value, _: &'a mut ()) -> Option<SysRow<'a>> {
        Some(row(&self.shape, k, v))
    }

    const PROM: corescope::prom::RowSpec = corescope::prom::RowSpec {
        labels: &["syscall", "nr", "pid", "comm"],
        counters: &[
            (
                "count",
                "calls",
                "System calls (by syscall, or by process with -P)",
                1.0,
            ),
            (
                "total_ns",
                "time_seconds",
                "Time in system calls (-L)",
                1e-9,
            ),
        ],
    };

    fn sum(&self, v: &Value) -> Sum {
        Sum {
            count: v.count,
            total_ns: self.shape.latency.then_some(v.total_ns),
        }
    }
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
    corescope::run::interval::<top::Runner<Syscount>>(name)
}

#[cfg(test)]
mod tests;
