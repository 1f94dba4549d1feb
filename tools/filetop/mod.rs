//! filetop: file reads and writes (calls and bytes) per process and file,
//! every interval, busiest first. Based on filetop(8) from BCC and
//! libbpf-tools, on syscall tracepoints instead of their vfs kprobes; the
//! BPF side says what differs and what it cannot see
//! (tools/filetop/filetop.bpf.c). A top-shape tool ([`corescope::top`]).

use corescope::prelude::*;
use corescope::run::Loaded;
use corescope::skel::filetop::types::{
    filetop_flags as Flags, filetop_key as Key, filetop_value as Value,
};
use corescope::skel::filetop::{FiletopSkelBuilder, OpenFiletopSkel};
use corescope::top::{self, Counts, TopArgs, TopTool};
use libbpf_rs::MapCore;

const EXAMPLES: &str = "EXAMPLES:
    filetop              # file I/O top, every second
    filetop -p 1216      # only PID 1216 (and its descendants)
    filetop -s wbytes    # sorted by bytes written
    filetop -a           # sockets, pipes and devices too
    filetop 5 10         # every 5 seconds, 10 times
    filetop -C -r 50     # 50 rows, no screen clearing
    filetop -j -d 10     # JSON: one record per row per interval, for 10 s";

/// What to sort by (BCC's and libbpf-tools' names).
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sort {
    /// Reads + writes + read bytes + written bytes (libbpf-tools' "all")
    #[default]
    All,
    Reads,
    Writes,
    Rbytes,
    Wbytes,
}

impl Sort {
    pub fn score(self, v: &Value) -> u64 {
        match self {
            Sort::All => v
                .reads
                .wrapping_add(v.writes)
                .wrapping_add(v.rbytes)
                .wrapping_add(v.wbytes),
            Sort::Reads => v.reads,
            Sort::Writes => v.writes,
            Sort::Rbytes => v.rbytes,
            Sort::Wbytes => v.wbytes,
        }
    }
}

/// File reads and writes by process and file.
#[derive(Parser, Debug)]
#[command(version, after_help = EXAMPLES)]
struct Args {
    /// Include non-regular files (sockets, pipes, devices)
    #[arg(short = 'a', long)]
    all: bool,
    /// Sort by this column
    #[arg(short = 's', long, value_enum, default_value_t)]
    sort: Sort,
    #[command(flatten)]
    top: TopArgs,
    #[command(flatten)]
    common: CommonArgs,
}

/// One row: a process's I/O on one file this interval.
#[derive(Serialize)]
pub struct FileRow<'a> {
    pub pid: u32,
    pub comm: KStr<'a>,
    pub reads: u64,
    pub writes: u64,
    pub rbytes: u64,
    pub wbytes: u64,
    /// R (regular), S (socket), O (other), as BCC's T column.
    /// (`type` is the record's own field.)
    pub file_type: char,
    pub file: KStr<'a>,
    /// The walk up the tree stopped before the root: `file` is its tail.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
    pub dev: u32,
    pub ino: u64,
}

impl Row for FileRow<'_> {
    type Opts = ();
    fn columns(t: &mut Table<'_, '_, Self>, _: &()) {
        // libbpf-tools: "%-7s %-16s %-6s %-6s %-7s %-7s %1s %s".
        t.col(Col::left("PID", 7), |r, c| c.put(r.pid));
        t.col(Col::left("COMM", 16), |r, c| c.text(r.comm.0));
        t.col(Col::left("READS", 6), |r, c| c.put(r.reads));
        t.col(Col::left("WRITES", 6), |r, c| c.put(r.writes));
        t.col(Col::left("R_KB", 7), |r, c| c.put(r.rbytes / 1024));
        t.col(Col::left("W_KB", 7), |r, c| c.put(r.wbytes / 1024));
        t.col(Col::left("T", 1), |r, c| c.put(r.file_type));
        t.col(Col::left("FILE", 0), |r, c| {
            if r.truncated {
                c.buf().push_str("...");
            }
            c.text(r.file.0)
        });
    }
}

/// Turns the BPF side's leaf-first path ("f/dir/tmp/") into the path
/// ("/tmp/dir/f"), in `out` (reused). A pseudo file (`anon`) is its name
/// alone, or `pipe:[INO]` / `anon:[INO]` when it has none (as
/// /proc/PID/fd shows a pipe); a truncated walk gives the tail it reached
/// ("dir/f").
pub fn path_into(raw: &[u8], anon: Option<&str>, truncated: bool, ino: u64, out: &mut Vec<u8>) {
    use std::io::Write as _;
    out.clear();
    let mut parts = raw.split(|&b| b == b'/').filter(|p| !p.is_empty());
    if let Some(kind) = anon {
        match parts.next() {
            Some(n) => out.extend_from_slice(n),
            None => {
                let _ = write!(out, "{kind}:[{ino}]");
            }
        }
        return;
    }
    for (i, p) in parts.rev().enumerate() {
        if i > 0 || !truncated {
            out.push(b'/');
        }
        out.extend_from_slice(p);
    }
    if out.is_empty() {
        out.push(b'/');
    }
}

impl Counts for Value {
    fn add(&mut self, o: &Self) {
        self.reads = self.reads.wrapping_add(o.reads);
        self.writes = self.writes.wrapping_add(o.writes);
        self.rbytes = self.rbytes.wrapping_add(o.rbytes);
        self.wbytes = self.wbytes.wrapping_add(o.wbytes);
    }
}

/// The JSON form of a [`Value`] sum (the `interval` record's totals).
#[derive(Serialize, Default, Clone, Copy)]
struct Sum {
    reads: u64,
    writes: u64,
    rbytes: u64,
    wbytes: u64,
}

fn sum(v: &Value) -> Sum {
    Sum {
        reads: v.reads,
        writes: v.writes,
        rbytes: v.rbytes,
        wbytes: v.wbytes,
    }
}

/// The row of one key; `path` is the buffer its file name is built in.
pub fn row<'a>(k: &Key, v: &'a Value, path: &'a mut Vec<u8>) -> FileRow<'a> {
    let f = v.flags;
    let truncated = f & Flags::FILETOP_TRUNCATED.0 as u8 != 0;
    let used = usize::from(v.path_len).min(v.path.len());
    path_into(
        &v.path[..used],
        (f & Flags::FILETOP_ANON.0 as u8 != 0).then_some(if f & Flags::FILETOP_PIPE.0 as u8 != 0 {
            "pipe"
        } else {
            "anon"
        }),
        truncated,
        k.ino,
        path,
    );
    FileRow {
        pid: k.tgid,
        comm: KStr(corescope::escape::cstr(&v.comm)),
        reads: v.reads,
        writes: v.writes,
        rbytes: v.rbytes,
        wbytes: v.wbytes,
        file_type: char::from(v.r#type),
        file: KStr(path),
        truncated,
        dev: k.dev,
        ino: k.ino,
    }
}

struct Filetop {
    a: Args,
}

impl TopTool for Filetop {
    type Args = Args;
    type Skel = FiletopSkelBuilder;
    type Key = Key;
    type Value = Value;
    type Opts = ();
    type Row<'a> = FileRow<'a>;
    type Sum = Sum;
    type Scratch = Vec<u8>;
    const SHORTS: &'static [(&'static str, char)] = &[
        ("pid", 'p'),
        ("cgroup", 'c'),
        ("json", 'j'),
        ("duration", 'd'),
        ("verbose", 'v'),
    ];

    fn configure(a: Args, open: &mut OpenFiletopSkel<'_>) -> Result<Self> {
        open.rodata()?.all_files = u8::from(a.all);
        Ok(Self { a })
    }

    fn top(&self) -> &TopArgs {
        &self.a.top
    }

    fn opts(&self) -> &() {
        &()
    }

    fn map<'a>(skel: &'a Loaded<'_, FiletopSkelBuilder>) -> &'a dyn MapCore {
        &skel.maps.files
    }

    fn score(&self, _: &Key, v: &Value) -> u64 {
        self.a.sort.score(v)
    }

    fn scratch(&self) -> Vec<u8> {
        Vec::with_capacity(1024)
    }

    fn row<'a>(&'a self, k: &'a Key, v: &'a Value, path: &'a mut Vec<u8>) -> Option<FileRow<'a>> {
        Some(row(k, v, path))
    }

    const PROM: corescope::prom::RowSpec = corescope::prom::RowSpec {
        labels: &["pid", "comm", "file_type", "file"],
        counters: &[
            ("reads", "reads", "read() calls on the file", 1.0),
            ("writes", "writes", "write() calls on the file", 1.0),
            ("rbytes", "read_bytes", "Bytes read from the file", 1.0),
            ("wbytes", "written_bytes", "Bytes written to the file", 1.0),
        ],
    };

    fn sum(&self, v: &Value) -> Sum {
        sum(v)
    }
}

/// The tool (its binary, or `corescope filetop`).
pub fn main(name: &'static str) -> ExitCode {
    corescope::run::interval::<top::Runner<Filetop>>(name)
}

#[cfg(test)]
mod tests;
