//! oomkill: one line per OOM kill — the task that triggered it, the victim
//! (PID, name, memory, UID where the kernel's tracepoint has them) and the
//! load average — from the oom:mark_victim tracepoint. Based on oomkill(8)
//! from BCC and libbpf-tools (kprobe-based: they fail without kprobes).

use std::io::Read as _;

use corescope::clock::Hms;
use corescope::escape::{cstr, escape_into};
use corescope::prelude::*;
use corescope::skel::oomkill::types::{oomkill_event as Event, oomkill_have as Have};
use corescope::skel::oomkill::{OomkillSkelBuilder, OpenOomkillSkel};

const EXAMPLES: &str = "EXAMPLES:
    oomkill                  # one line per OOM kill
    oomkill -j               # as JSON Lines (exact counts, field by field)
    oomkill -p 181           # kills triggered by PID 181 or its descendants
    oomkill -- ./loadtest    # run loadtest, show the kills it triggers";

/// The table's one column (BCC's banner).
const BANNER: &str = "Tracing OOM kills... Ctrl-C to stop.";

/// Trace OOM kills: victim, triggering task, memory, load average. The
/// process filters select the task that triggered the kill.
#[derive(Parser, Debug)]
#[command(version, after_help = EXAMPLES)]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
}

/// Where the victim's comm came from.
#[derive(Serialize, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "lowercase")]
enum CommFrom {
    /// The tracepoint's comm field (newer kernels).
    Tracepoint,
    /// /proc/PID/comm read when the event arrived (it may be gone by then).
    Proc,
    /// Neither: the victim had already gone.
    Unknown,
}

#[derive(Serialize)]
struct Kill<'a> {
    time: Hms,
    trigger_pid: u32,
    trigger_tid: u32,
    trigger_comm: KStr<'a>,
    pid: u32,
    comm: KStr<'a>,
    comm_from: CommFrom,
    uid: Option<u32>,
    total_vm_kb: Option<u64>,
    anon_rss_kb: Option<u64>,
    file_rss_kb: Option<u64>,
    shmem_rss_kb: Option<u64>,
    pgtables_kb: Option<u64>,
    oom_score_adj: Option<i32>,
    /// /proc/loadavg when the event arrived.
    loadavg: &'a str,
}

/// A comm in BCC's `("%s")`, escaped (a `"` too, so it cannot end the quotes).
fn quoted(c: &mut corescope::output::Cell<'_, '_>, s: &[u8]) {
    c.put("(\"");
    escape_into(c.buf(), s, true);
    c.put("\")");
}

impl Row for Kill<'_> {
    type Opts = Oomkill;
    fn columns(t: &mut Table<'_, '_, Self>, _: &Oomkill) {
        // BCC: "%s Triggered by PID %d (\"%s\"), OOM kill of PID %d
        // (\"%s\"), %d pages, loadavg: %s"; the victim's counts instead of
        // the oom_control's page total (not in the tracepoint).
        t.col(Col::left(BANNER, 0), |r, c| {
            c.put(format_args!(
                "{} Triggered by PID {} ",
                r.time, r.trigger_pid
            ));
            quoted(c, r.trigger_comm.0);
            c.put(format_args!(", OOM kill of PID {} ", r.pid));
            match r.comm_from {
                CommFrom::Unknown => c.put("(?)"),
                _ => quoted(c, r.comm.0),
            }
            let kb = [
                ("total-vm", r.total_vm_kb),
                ("anon-rss", r.anon_rss_kb),
                ("file-rss", r.file_rss_kb),
                ("shmem-rss", r.shmem_rss_kb),
            ];
            for (name, v) in kb {
                if let Some(v) = v {
                    c.put(format_args!(", {name} {v}kB"));
                }
            }
            if let Some(u) = r.uid {
                c.put(format_args!(", UID {u}"));
            }
            if let Some(p) = r.pgtables_kb {
                c.put(format_args!(", pgtables {p}kB"));
            }
            if let Some(a) = r.oom_score_adj {
                c.put(format_args!(", oom_score_adj {a}"));
            }
            c.put(format_args!(", loadavg: {}", r.loadavg));
        });
    }
}

/// Buffers reused for every event: /proc/loadavg, a victim's /proc/PID/comm.
#[derive(Default)]
struct Bufs {
    loadavg: Vec<u8>,
    comm: Vec<u8>,
    comm_from: Option<CommFrom>,
}

struct Oomkill {
    bufs: Bufs,
}

/// Reads a small /proc file into `buf` (cleared first); empty on failure.
fn read_into(path: &str, buf: &mut Vec<u8>) {
    buf.clear();
    if let Ok(mut f) = std::fs::File::open(path) {
        let _ = f.read_to_end(buf);
    }
    if buf.last() == Some(&b'\n') {
        buf.pop();
    }
}

fn have(e: &Event, bit: Have) -> bool {
    e.have & bit.0 != 0
}

impl Bufs {
    /// What user space adds to the event, read now: the load average, and
    /// the victim's comm where the tracepoint has none (the path is
    /// formatted on the stack: nothing allocated once the buffers grew).
    fn fill(&mut self, e: &Event) {
        read_into("/proc/loadavg", &mut self.loadavg);
        if have(e, Have::OOMKILL_HAVE_COMM) {
            self.comm_from = Some(CommFrom::Tracepoint);
            return;
        }
        let mut path = [0u8; 32];
        let n = {
            use std::io::Write as _;
            let mut w = &mut path[..];
            let _ = write!(w, "/proc/{}/comm", e.pid);
            32 - w.len()
        };
        read_into(
            std::str::from_utf8(&path[..n]).unwrap_or(""),
            &mut self.comm,
        );
        self.comm_from = Some(match self.comm.is_empty() {
            true => CommFrom::Unknown,
            false => CommFrom::Proc,
        });
    }
}

/// One event, with what [`Bufs::fill`] read for it.
fn row<'a>(e: &'a Event, b: &'a Bufs, out: &Output) -> Kill<'a> {
    let comm_from = b.comm_from.unwrap_or(CommFrom::Unknown);
    let comm = match comm_from {
        CommFrom::Tracepoint => cstr(&e.comm),
        _ => &b.comm,
    };
    let rss = have(e, Have::OOMKILL_HAVE_RSS);
    Kill {
        time: out.clock.hms_of(e.ts_ns),
        trigger_pid: e.tpid,
        trigger_tid: e.ttid,
        trigger_comm: KStr(cstr(&e.tcomm)),
        pid: e.pid,
        comm: KStr(comm),
        comm_from,
        uid: have(e, Have::OOMKILL_HAVE_UID).then_some(e.uid),
        total_vm_kb: rss.then_some(e.total_vm_kb),
        anon_rss_kb: rss.then_some(e.anon_rss_kb),
        file_rss_kb: rss.then_some(e.file_rss_kb),
        shmem_rss_kb: rss.then_some(e.shmem_rss_kb),
        pgtables_kb: have(e, Have::OOMKILL_HAVE_PGTABLES).then_some(e.pgtables_kb),
        oom_score_adj: have(e, Have::OOMKILL_HAVE_SCORE_ADJ).then_some(e.oom_score_adj),
        loadavg: std::str::from_utf8(&b.loadavg).unwrap_or("?"),
    }
}

impl Events for Oomkill {
    type Args = Args;
    type Skel = OomkillSkelBuilder;
    type Event = Event;
    type Row<'a> = Kill<'a>;
    #[rustfmt::skip]
    const SHORTS: &'static [(&'static str, char)] =
        &[("pid", 'p'), ("json", 'j'), ("duration", 'd'), ("verbose", 'v')];

    fn configure(_: Args, _: &mut OpenOomkillSkel<'_>, _: &mut Session) -> Result<Self> {
        let bufs = Bufs {
            loadavg: Vec::with_capacity(128),
            comm: Vec::with_capacity(32),
            comm_from: None,
        };
        Ok(Self { bufs })
    }

    fn event(&mut self, e: &Event, _: &[u8], out: &mut Output) -> Result<()> {
        self.bufs.fill(e);
        Ok(out.row(&row(e, &self.bufs, out), self)?)
    }
}

/// The tool (its binary, or `corescope oomkill`).
pub fn main(name: &'static str) -> ExitCode {
    corescope::run::events::<Oomkill>(name)
}

#[cfg(test)]
mod tests;
