//! biotop: block I/O per process, disk and operation — requests, kilobytes
//! and average latency — every interval, busiest first. Based on biotop(8)
//! from BCC and libbpf-tools, on tracepoints only; the BPF side says what
//! differs (tools/biotop/biotop.bpf.c, and the request tracking in
//! src/block_rq.bpf.h). A top-shape tool ([`corescope::top`]).

use std::path::Path;

use corescope::disk::{self, DiskNames};
use corescope::escape::cstr;
use corescope::prelude::*;
use corescope::run::Loaded;
use corescope::skel::biotop::types::{biotop_key as Key, biotop_value as Value};
use corescope::skel::biotop::{BiotopSkelBuilder, OpenBiotopSkel};
use corescope::top::{self, Counts, TopArgs, TopTool};
use libbpf_rs::MapCore;

const EXAMPLES: &str = "EXAMPLES:
    biotop              # block I/O top, every second
    biotop 5 10         # every 5 seconds, 10 times
    biotop -p 1216      # only I/O started by PID 1216 (and its descendants)
    biotop -s io        # sorted by the number of I/Os
    biotop -C -r 50     # 50 rows, no screen clearing
    biotop -j -d 10     # JSON: one record per row per interval, for 10 s";

/// What to sort by (libbpf-tools' names).
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sort {
    /// I/Os + bytes + microseconds (libbpf-tools' "all")
    #[default]
    All,
    /// The number of I/Os
    Io,
    /// Bytes
    Bytes,
    /// The summed latency
    Time,
}

impl Sort {
    pub fn score(self, v: &Value) -> u64 {
        match self {
            Sort::All => v.io.wrapping_add(v.bytes).wrapping_add(v.ns / 1000),
            Sort::Io => v.io,
            Sort::Bytes => v.bytes,
            Sort::Time => v.ns,
        }
    }
}

/// Block device I/O top: requests, bytes and latency per process and disk.
#[derive(Parser, Debug)]
#[command(version, after_help = EXAMPLES)]
struct Args {
    /// Sort by this column
    #[arg(short = 's', long, value_enum, default_value_t)]
    sort: Sort,
    /// Take the issuing task at the insertion or issue even where
    /// block_io_start exists (the route of Linux < 6.5; for tests)
    #[arg(long, hide = true)]
    no_io_start: bool,
    #[command(flatten)]
    top: TopArgs,
    #[command(flatten)]
    common: CommonArgs,
}

/// One row: a process's completed I/O on one disk, of one kind, this
/// interval.
#[derive(Serialize)]
pub struct IoRow<'a> {
    pub pid: u32,
    pub comm: KStr<'a>,
    /// R, W, F (flush), D (discard), E (secure erase), Z (write zeroes), N.
    pub op: char,
    pub major: u32,
    pub minor: u32,
    pub disk: KStr<'a>,
    pub io: u64,
    pub bytes: u64,
    /// Issue -> completion, summed over the I/Os.
    pub total_ns: u64,
    /// The mean, in ms (null without I/O).
    pub avg_ms: Option<f64>,
}

impl Row for IoRow<'_> {
    type Opts = ();
    fn columns(t: &mut Table<'_, '_, Self>, _: &()) {
        // libbpf-tools: "%-7d %-16s %1s %-3d %-3d %-8s %5d %7lld %6.2f".
        t.col(Col::left("PID", 7), |r, c| c.put(r.pid));
        t.col(Col::left("COMM", 16), |r, c| c.text(r.comm.0));
        t.col(Col::left("D", 1), |r, c| c.put(r.op));
        t.col(Col::left("MAJ", 3), |r, c| c.put(r.major));
        t.col(Col::left("MIN", 3), |r, c| c.put(r.minor));
        t.col(Col::left("DISK", 8), |r, c| c.text(r.disk.0));
        t.col(Col::right("I/O", 5), |r, c| c.put(r.io));
        t.col(Col::right("Kbytes", 7), |r, c| c.put(r.bytes / 1024));
        t.col(Col::right("AVGms", 6), |r, c| {
            c.put(format_args!("{:.2}", r.avg_ms.unwrap_or(0.0)))
        });
    }
}

impl Counts for Value {
    fn add(&mut self, o: &Self) {
        self.io = self.io.wrapping_add(o.io);
        self.bytes = self.bytes.wrapping_add(o.bytes);
        self.ns = self.ns.wrapping_add(o.ns);
    }
}

/// The JSON form of a [`Value`] sum (the `interval` record's totals).
#[derive(Serialize, Default, Clone, Copy)]
struct Sum {
    io: u64,
    bytes: u64,
    total_ns: u64,
}

fn sum(v: &Value) -> Sum {
    Sum {
        io: v.io,
        bytes: v.bytes,
        total_ns: v.ns,
    }
}

/// The op letter of a key (block.bpf.h), '?' if not one of them.
fn op_char(op: u8) -> char {
    match op {
        b'R' | b'W' | b'F' | b'D' | b'E' | b'Z' | b'N' => char::from(op),
        _ => '?',
    }
}

/// The row of one key; `disk` is its disk's name.
pub fn row<'a>(k: &'a Key, v: &Value, disk: &'a [u8]) -> IoRow<'a> {
    IoRow {
        pid: k.pid,
        comm: KStr(cstr(&k.comm)),
        op: op_char(k.op),
        major: disk::major(k.dev),
        minor: disk::minor(k.dev),
        disk: KStr(disk),
        io: v.io,
        bytes: v.bytes,
        total_ns: v.ns,
        avg_ms: (v.io > 0).then(|| v.ns as f64 / v.io as f64 / 1e6),
    }
}

struct Biotop {
    a: Args,
}

/// Which programs load (as biosnoop's: the task from block_io_start where
/// the kernel has it, else from the insertion or the issue).
fn configure(open: &mut OpenBiotopSkel<'_>, io_start: bool) {
    let p = &mut open.progs;
    p.biotop_io_start.set_autoload(io_start);
    p.biotop_insert.set_autoload(!io_start);
}

impl TopTool for Biotop {
    type Args = Args;
    type Skel = BiotopSkelBuilder;
    type Key = Key;
    type Value = Value;
    type Opts = ();
    type Row<'a> = IoRow<'a>;
    type Sum = Sum;
    type Scratch = DiskNames;
    const SHORTS: &'static [(&'static str, char)] = &[
        ("pid", 'p'),
        ("cgroup", 'c'),
        ("json", 'j'),
        ("duration", 'd'),
        ("verbose", 'v'),
    ];

    fn configure(a: Args, open: &mut OpenBiotopSkel<'_>) -> Result<Self> {
        let io_start =
            !a.no_io_start && corescope::load::tp_btf_exists("block_io_start") != Some(false);
        configure(open, io_start);
        if corescope::libbpf_log::verbose() {
            corescope::diag!(
                "biotop: the issuing task from {}",
                if io_start {
                    "block_io_start"
                } else {
                    "block_rq_insert, else block_rq_issue (no block_io_start: Linux < 6.5)"
                }
            );
        }
        Ok(Self { a })
    }

    fn top(&self) -> &TopArgs {
        &self.a.top
    }

    fn opts(&self) -> &() {
        &()
    }

    fn map<'a>(skel: &'a Loaded<'_, BiotopSkelBuilder>) -> &'a dyn MapCore {
        &skel.maps.ios
    }

    fn score(&self, _: &Key, v: &Value) -> u64 {
        self.a.sort.score(v)
    }

    fn scratch(&self) -> DiskNames {
        DiskNames::new(Path::new("/sys"))
    }

    fn row<'a>(&'a self, k: &'a Key, v: &'a Value, disks: &'a mut DiskNames) -> Option<IoRow<'a>> {
        disks.get(k.dev);
        let disks: &'a DiskNames = disks;
        Some(row(k, v, disks.name(k.dev).unwrap_or_default()))
    }

    const PROM: corescope::prom::RowSpec = corescope::prom::RowSpec {
        labels: &["pid", "comm", "op", "disk"],
        counters: &[
            ("io", "ios", "Block I/Os completed", 1.0),
            ("bytes", "bytes", "Bytes of block I/O completed", 1.0),
            (
                "total_ns",
                "time_seconds",
                "Time of block I/O, issue to completion",
                1e-9,
            ),
        ],
    };

    fn sum(&self, v: &Value) -> Sum {
        sum(v)
    }

    /// biotop's own counter: `cs_dropped`'s map_full also counts the
    /// in-flight request map's (block_rq.bpf.h) losses.
    fn keys_dropped(obj: &libbpf_rs::Object) -> u64 {
        corescope::session::find_map(obj, "keys_lost")
            .map(|m| top::keys_dropped(&m, 0))
            .unwrap_or(0)
    }
}

/// The tool (its binary, or `corescope biotop`).
pub fn main(name: &'static str) -> ExitCode {
    corescope::run::interval::<top::Runner<Biotop>>(name)
}

#[cfg(test)]
mod tests;
