//! biosnoop: one row per block I/O request — the task that started it, the
//! disk, read or write, sector, size and latency (with -Q the time queued
//! before the issue). Based on biosnoop(8) from BCC and libbpf-tools; the
//! BPF side says what differs (tools/biosnoop/biosnoop.bpf.c, and the
//! request tracking in src/block_rq.bpf.h).

use std::path::Path;

use corescope::disk::{self, DiskNames};
use corescope::escape::cstr;
use corescope::prelude::*;
use corescope::skel::biosnoop::types::{biosnoop_event as Event, biosnoop_who as Who};
use corescope::skel::biosnoop::{BiosnoopSkelBuilder, OpenBiosnoopSkel};

const EXAMPLES: &str = "EXAMPLES:
    biosnoop                 # one row per block I/O
    biosnoop -Q              # and the time queued in the OS before the issue
    biosnoop -d sdc          # only disk sdc
    biosnoop -c /sys/fs/cgroup/unified/CG   # only I/O started in cgroup CG
    biosnoop -p 1216         # only I/O started by PID 1216 (and descendants)
    biosnoop -j --duration 10   # JSON, for 10 seconds";

/// Trace block device I/O: one row per request, with its latency.
#[derive(Parser, Debug)]
#[command(version, after_help = EXAMPLES)]
struct Args {
    /// Include the OS queued time (from the insertion into the I/O
    /// scheduler's queue to the issue to the driver) as a QUE(ms) column
    #[arg(short = 'Q', long)]
    queued: bool,
    /// Trace this disk only (a name of /sys/class/block: sda, nvme0n1, loop3)
    #[arg(short = 'd', long, value_name = "DISK")]
    disk: Option<String>,
    /// Take the issuing task at the insertion or issue even where
    /// block_io_start exists (the route of Linux < 6.5; for tests)
    #[arg(long, hide = true)]
    no_io_start: bool,
    #[command(flatten)]
    common: CommonArgs,
}

/// The hook that named the issuing task.
fn who_name(w: u8) -> &'static str {
    match Who(u32::from(w)) {
        Who::BIOSNOOP_WHO_START => "block_io_start",
        Who::BIOSNOOP_WHO_INSERT => "block_rq_insert",
        Who::BIOSNOOP_WHO_ISSUE => "block_rq_issue",
        _ => "unknown",
    }
}

/// The operation letter (block.bpf.h) as a one-character string.
fn op_str(op: u8) -> &'static str {
    match op {
        b'R' => "R",
        b'W' => "W",
        b'F' => "F",
        b'D' => "D",
        b'E' => "E",
        b'Z' => "Z",
        _ => "N",
    }
}

#[derive(Serialize)]
struct Io<'a> {
    /// Seconds since tracing started.
    time_s: f64,
    comm: KStr<'a>,
    pid: u32,
    tid: u32,
    disk: KStr<'a>,
    major: u32,
    minor: u32,
    /// R, W, F (flush), D (discard), E (secure erase), Z (write zeroes), N.
    op: &'static str,
    sector: u64,
    bytes: u32,
    /// Insertion to issue (-Q only); 0 for a request never inserted.
    #[serde(skip_serializing_if = "Option::is_none")]
    queued_ns: Option<u64>,
    latency_ns: u64,
    /// The completion's status (blk_status_t); 0: success.
    error: u32,
    /// Where the issuing task was taken: block_io_start, block_rq_insert
    /// or block_rq_issue.
    task_from: &'static str,
}

/// What the rows need of the options.
struct Opts {
    queued: bool,
}

impl Row for Io<'_> {
    type Opts = Biosnoop;
    fn columns(t: &mut Table<'_, '_, Self>, x: &Biosnoop) {
        let o = &x.opts;
        // libbpf-tools: "%-11.6f %-14.14s %-7d %-7s %-4s %-10lld %-7d "
        // then "%7.3f " (-Q) and "%7.3f"; T is BCC's one letter.
        t.col(Col::left("TIME(s)", 11), |r, c| {
            c.put(format_args!("{:.6}", r.time_s))
        });
        t.col(Col::left("COMM", 14), |r, c| c.text(r.comm.0));
        t.col(Col::left("PID", 7), |r, c| c.put(r.pid));
        t.col(Col::left("DISK", 7), |r, c| c.text(r.disk.0));
        t.col(Col::left("T", 1), |r, c| c.put(r.op));
        t.col(Col::left("SECTOR", 10), |r, c| c.put(r.sector));
        t.col(Col::left("BYTES", 7), |r, c| c.put(r.bytes));
        t.col_if(o.queued, Col::right("QUE(ms)", 7), |r, c| {
            c.put(format_args!("{:.3}", r.queued_ns.unwrap_or(0) as f64 / 1e6))
        });
        t.col(Col::right("LAT(ms)", 7), |r, c| {
            c.put(format_args!("{:.3}", r.latency_ns as f64 / 1e6))
        });
    }
}

fn row<'a>(e: &'a Event, disk: &'a [u8], queued: bool, out: &Output) -> Io<'a> {
    Io {
        time_s: out.clock.elapsed(e.ts_ns),
        comm: KStr(cstr(&e.comm)),
        pid: e.pid,
        tid: e.tid,
        disk: KStr(disk),
        major: disk::major(e.dev),
        minor: disk::minor(e.dev),
        op: op_str(e.op),
        sector: e.sector,
        bytes: e.bytes,
        queued_ns: queued.then_some(e.queued_ns),
        latency_ns: e.lat_ns,
        error: e.error,
        task_from: who_name(e.who),
    }
}

struct Biosnoop {
    opts: Opts,
    disks: DiskNames,
}

/// Which programs load: the task from block_io_start where the kernel has
/// it (else from the insertion or the issue); the insertion only for -Q or
/// as that fallback. Returns the hook that names the task.
fn configure(open: &mut OpenBiosnoopSkel<'_>, a: &Args, io_start: bool) -> Result<&'static str> {
    let dev = a
        .disk
        .as_deref()
        .map(|d| disk::disk_dev_for(Path::new("/sys"), d, "-d"))
        .transpose()?;
    let p = &mut open.progs;
    p.biosnoop_io_start.set_autoload(io_start);
    p.biosnoop_insert.set_autoload(a.queued || !io_start);
    let ro = open.rodata()?;
    ro.cs_rq_filter_dev = u8::from(dev.is_some());
    ro.cs_rq_want_dev = dev.unwrap_or(0);
    Ok(if io_start {
        "block_io_start"
    } else {
        "block_rq_insert, else block_rq_issue (no block_io_start: Linux < 6.5)"
    })
}

impl Events for Biosnoop {
    type Args = Args;
    type Skel = BiosnoopSkelBuilder;
    type Event = Event;
    type Row<'a> = Io<'a>;
    // -d is the disk (BCC's and libbpf-tools'): --duration has no letter.
    #[rustfmt::skip]
    const SHORTS: &'static [(&'static str, char)] = &[("pid", 'p'), ("cgroup", 'c'),
        ("uid", 'u'), ("json", 'j'), ("verbose", 'v')];

    fn configure(a: Args, open: &mut OpenBiosnoopSkel<'_>, _: &mut Session) -> Result<Self> {
        let io_start =
            !a.no_io_start && corescope::load::tp_btf_exists("block_io_start") != Some(false);
        let from = configure(open, &a, io_start)?;
        if corescope::libbpf_log::verbose() {
            corescope::diag!("biosnoop: the issuing task from {from}");
        }
        Ok(Self {
            opts: Opts { queued: a.queued },
            disks: DiskNames::new(Path::new("/sys")),
        })
    }

    fn event(&mut self, e: &Event, _: &[u8], out: &mut Output) -> Result<()> {
        self.disks.get(e.dev);
        let disk = self.disks.name(e.dev).unwrap_or_default();
        Ok(out.row(&row(e, disk, self.opts.queued, out), self)?)
    }
}

/// The tool (its binary, or `corescope biosnoop`).
pub fn main(name: &'static str) -> ExitCode {
    corescope::run::events::<Biosnoop>(name)
}

#[cfg(test)]
mod tests;
