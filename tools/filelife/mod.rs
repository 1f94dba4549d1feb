//! filelife: files created and deleted while tracing, with their age.
//! Based on filelife(8) from BCC and libbpf-tools (which need kprobes or
//! fentry on vfs_create/vfs_unlink); this one works from syscall
//! tracepoints (see filelife.bpf.c for how a creation and a deletion are
//! recognised).

use corescope::clock::Hms;
use corescope::escape::cstr;
use corescope::lru;
use corescope::prelude::*;
use corescope::session::Counter;
use corescope::skel::filelife::types::{filelife_event as Event, filelife_how as how};
use corescope::skel::filelife::{FilelifeSkelBuilder, OpenFilelifeSkel};

const EXAMPLES: &str = "EXAMPLES:
    filelife                 # files created and deleted while tracing, with their age
    filelife -p 181          # files PID 181 (and its descendants) created and deleted
    filelife -j -- make      # run make, show the short-lived files of its build";

/// Trace the lifespan of short-lived files: created and deleted while tracing.
#[derive(Parser, Debug)]
#[command(version, after_help = EXAMPLES)]
struct Args {
    /// Files remembered at once (created, not yet deleted); a creation
    /// beyond that is counted as lost
    #[arg(long, default_value_t = 65536, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=1 << 20))]
    max_files: u32,
    #[command(flatten)]
    common: CommonArgs,
}

#[derive(Serialize)]
struct Life<'a> {
    time: Hms,
    pid: u32,
    tid: u32,
    uid: u32,
    comm: KStr<'a>,
    age_s: f64,
    /// The path as the deleting call named it (relative to its directory
    /// or the working directory when relative).
    path: KStr<'a>,
    path_truncated: bool,
    /// `unlink`, or `rename` when a rename replaced the file.
    deleted_by: &'static str,
    dev_major: u32,
    dev_minor: u32,
    ino: u64,
    creator_pid: u32,
    creator_comm: KStr<'a>,
}

impl Row for Life<'_> {
    type Opts = Filelife;
    fn columns(t: &mut Table<'_, '_, Self>, _: &Filelife) {
        t.col(Col::left("TIME", 8), |r, c| c.put(r.time));
        t.col(Col::left("PID", 7), |r, c| c.put(r.pid));
        t.col(Col::left("COMM", 16), |r, c| c.text(r.comm.0));
        t.col(Col::left("AGE(s)", 7), |r, c| {
            c.put(format_args!("{:.2}", r.age_s))
        });
        t.col(Col::left("FILE", 0), |r, c| {
            c.text(r.path.0);
            if r.path_truncated {
                c.put("...");
            }
        });
    }
}

fn row<'a>(e: &'a Event, out: &Output) -> Life<'a> {
    let n = (e.path_len as usize).min(e.path.len());
    Life {
        time: out.clock.hms_of(e.ts_ns),
        pid: e.pid,
        tid: e.tid,
        uid: e.uid,
        comm: KStr(cstr(&e.comm)),
        age_s: e.ts_ns.saturating_sub(e.created_ns) as f64 / 1e9,
        path: KStr(&e.path[..n]),
        path_truncated: e.path_trunc != 0,
        deleted_by: if e.how == how::FILELIFE_RENAME.0 as u8 {
            "rename"
        } else {
            "unlink"
        },
        dev_major: e.dev >> 20,
        dev_minor: e.dev & 0xf_ffff,
        ino: e.ino,
        creator_pid: e.cpid,
        creator_comm: KStr(cstr(&e.ccomm)),
    }
}

/// Summary: files created while tracing and still there at the end (not
/// shown), and LRU evictions (should be none).
fn counters(obj: &libbpf_rs::Object) -> Vec<Counter> {
    let u = lru::usage_in(obj, "files", "fl_live");
    vec![
        Counter::new("still_present", "created files still present", u.entries),
        Counter::new("evicted", "evicted", u.evicted),
    ]
}

/// Left out when missing: arm64 and riscv have no open, creat, unlink, rename.
#[rustfmt::skip]
const OPTIONAL: &[&str] = &["handle_enter_open", "handle_exit_open", "handle_enter_creat",
    "handle_exit_creat", "handle_enter_unlink", "handle_exit_unlink", "handle_enter_rename",
    "handle_exit_rename", "handle_enter_renameat", "handle_exit_renameat",
    "handle_enter_openat2", "handle_exit_openat2"];

struct Filelife;

impl Events for Filelife {
    type Args = Args;
    type Skel = FilelifeSkelBuilder;
    type Event = Event;
    type Row<'a> = Life<'a>;
    #[rustfmt::skip]
    const SHORTS: &'static [(&'static str, char)] = &[("pid", 'p'), ("cgroup", 'c'),
        ("uid", 'u'), ("json", 'j'), ("duration", 'd'), ("verbose", 'v')];

    fn configure(a: Args, open: &mut OpenFilelifeSkel<'_>, s: &mut Session) -> Result<Self> {
        s.optional_programs(OPTIONAL);
        lru::set_capacity(&mut open.maps.files, a.max_files)?;
        // Every tracked file has its name's entry; names share up to 8 files.
        open.maps.names.set_max_entries(a.max_files)?;
        open.rodata()?.max_files = a.max_files;
        s.summary_counters(counters);
        Ok(Self)
    }

    fn event(&mut self, e: &Event, _: &[u8], out: &mut Output) -> Result<()> {
        Ok(out.row(&row(e, out), self)?)
    }
}

/// The tool (its binary, or `corescope filelife`).
pub fn main(name: &'static str) -> ExitCode {
    corescope::run::events::<Filelife>(name)
}

#[cfg(test)]
mod tests;
