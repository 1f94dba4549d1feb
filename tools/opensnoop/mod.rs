//! opensnoop: trace open() syscalls (open, openat, openat2, creat), one row
//! per open. Based on opensnoop(8) from BCC and libbpf-tools.

use corescope::escape::cstr;
use corescope::prelude::*;
use corescope::skel::opensnoop::types::{
    opensnoop_consts as consts, opensnoop_event as Event, opensnoop_status as status,
};
use corescope::skel::opensnoop::{OpenOpensnoopSkel, OpensnoopSkelBuilder};
use corescope::sym::{print_frames, user_stack, Frame, Symbolizer};

pub mod openflags;

use openflags::{has_mode, parse_flag, FlagFilter};

const EXAMPLES: &str = "EXAMPLES:
    opensnoop                    # trace all open() syscalls
    opensnoop -T -U -e           # add TIME(s), UID, FLAGS (octal) and MODE columns
    opensnoop -x                 # only failed opens
    opensnoop -p 181             # only PID 181 and its descendants (-t: one TID)
    opensnoop -u 1000 -d 10      # only UID 1000 (or a name), for 10 seconds
    opensnoop -n main            # only commands whose name contains \"main\"
    opensnoop -f O_WRONLY -f O_RDWR   # only opens for writing
    opensnoop -F                 # full paths (relative ones resolved in the kernel)
    opensnoop --path /etc/       # only paths starting with /etc/ (in the kernel)
    opensnoop --path '*passwd'   # only paths containing \"passwd\"
    opensnoop --callers=4        # the 4 innermost user-space callers of each open
    opensnoop -j -- make         # run make, trace it and its children, as JSON";

/// Trace open() syscalls (open, openat, openat2, creat), one row per open.
#[derive(Parser, Debug, Clone)]
#[command(version, after_help = EXAMPLES)]
struct Args {
    /// Include a TIME(s) column: seconds since tracing started
    #[arg(short = 'T', long)]
    timestamp: bool,
    /// Include a UID column
    #[arg(short = 'U', long)]
    print_uid: bool,
    /// Only show failed opens (filtered in the kernel)
    #[arg(short = 'x', long)]
    failed: bool,
    /// Only show commands whose name (comm) contains NAME
    #[arg(short = 'n', long, value_name = "NAME")]
    name: Option<String>,
    /// Include FLAGS (octal) and MODE (n/a without O_CREAT/O_TMPFILE) columns
    #[arg(short = 'e', long, alias = "extended_fields")]
    extended_fields: bool,
    /// Only show opens with this flag, e.g. O_WRONLY, with all its bits (O_TMPFILE,
    /// O_SYNC have several); repeatable: any of them
    #[arg(short = 'f', long, alias = "flag_filter", value_name = "FLAG", value_parser = parse_flag)]
    flag_filter: Vec<u32>,
    /// Show full paths: a relative path is resolved against its dirfd or the cwd
    #[arg(short = 'F', long)]
    full_path: bool,
    /// Only show paths starting with PATTERN, or containing it if it starts with '*'
    #[arg(long, value_name = "PATTERN", value_parser = parse_pattern)]
    path: Option<Pattern>,
    /// Show the N innermost user-space callers of each open (default 3)
    #[arg(long, value_name = "N", num_args = 0..=1, require_equals = true,
          default_missing_value = "3", value_parser = clap::value_parser!(u8).range(1..=16))]
    callers: Option<u8>,
    #[command(flatten)]
    common: CommonArgs,
}

/// --path: the bytes, and whether they are a substring (leading '*') or a prefix.
type Pattern = (Vec<u8>, bool);

fn parse_pattern(s: &str) -> Result<Pattern, String> {
    let t = s.strip_prefix('*').unwrap_or(s);
    let t = t.strip_suffix('*').unwrap_or(t);
    if t.is_empty() || t.len() > consts::OPENSNOOP_PATTERN_CAP.0 as usize {
        return Err("1 to 64 bytes, besides a leading or trailing '*'".into());
    }
    Ok((t.as_bytes().to_vec(), s.starts_with('*')))
}

#[derive(Serialize)]
struct Open<'a> {
    timestamp: f64,
    uid: u32,
    pid: u32,
    tid: u32,
    comm: KStr<'a>,
    fd: i32,
    err: i32,
    syscall: &'static str,
    /// None when unknown (`how_unreadable`).
    flags: Option<u32>,
    /// None when the kernel ignores it (no O_CREAT / O_TMPFILE) or unknown.
    mode: Option<u32>,
    /// openat2's `struct open_how` (flags, mode) could not be read.
    how_unreadable: bool,
    path: KStr<'a>,
    /// -F: the directory was prepended in the kernel.
    resolved: bool,
    /// The path lacks its beginning (-F: deeper than 64 levels) or its end.
    path_truncated: bool,
    /// The filename could not be read (a memory fault: a bad pointer);
    /// PATH ends in `[unreadable]`.
    path_unreadable: bool,
    /// Table: `...` in front (its top is cut), and after it (its end is).
    #[serde(skip)]
    cut: (bool, bool),
    #[serde(skip_serializing_if = "Option::is_none")]
    filename: Option<KStr<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    callers: Option<Vec<Frame>>,
}

impl Row for Open<'_> {
    type Opts = Opensnoop;
    fn columns(t: &mut Table<'_, '_, Self>, o: &Opensnoop) {
        let a = &o.a;
        t.col_if(a.timestamp, Col::left("TIME(s)", 14), |r, c| {
            c.put(format_args!("{:.9}", r.timestamp))
        });
        t.col_if(a.print_uid, Col::left("UID", 6), |r, c| c.put(r.uid));
        match a.common.filter.tid.is_some() {
            true => t.col(Col::left("TID", 6), |r, c| c.put(r.tid)),
            false => t.col(Col::left("PID", 6), |r, c| c.put(r.pid)),
        }
        t.col(Col::left("COMM", 16), |r, c| c.text(r.comm.0));
        t.col(Col::right("FD", 4), |r, c| c.put(r.fd));
        t.col(Col::right("ERR", 3), |r, c| c.put(r.err));
        if a.extended_fields {
            t.col(Col::left("FLAGS", 8), |r, c| match r.flags {
                Some(f) => c.put(format_args!("{f:08o}")),
                None => c.put("?"),
            });
            t.col(Col::left("MODE", 4), |r, c| {
                match (r.mode, r.how_unreadable) {
                    (Some(m), _) => c.put(format_args!("{m:04o}")),
                    (None, false) => c.put("n/a"),
                    (None, true) => c.put("?"),
                }
            });
        }
        t.col(Col::left("PATH", 0), |r, c| {
            let s = c.buf();
            r.cut.0.then(|| s.push_str("..."));
            escape_into(s, r.path.0, false);
            r.cut.1.then(|| s.push_str("..."));
            r.path_unreadable.then(|| s.push_str("[unreadable]"));
        });
    }
}

const SYSCALLS: [&str; 4] = ["open", "openat", "openat2", "creat"];

/// Event (header + payload: callers, directory prefix, filename) → row.
fn row<'a>(e: &'a Event, payload: &'a [u8], o: &Args, out: &Output) -> Open<'a> {
    let nc = (e.nr_callers as usize * 8).min(payload.len());
    let (stack, rest) = payload.split_at(nc);
    let dl = (e.dir_len as usize).min(rest.len());
    let path = cstr(&rest[..(dl + e.fname_len as usize).min(rest.len())]);
    let st = e.status;
    let resolved = st & status::OPENSNOOP_S_RESOLVED.0 as u16 != 0 && dl > 0;
    let top_cut = resolved && st & status::OPENSNOOP_S_DIR_TRUNC.0 as u16 != 0;
    let end_cut = st & status::OPENSNOOP_S_FNAME_TRUNC.0 as u16 != 0;
    let how_fault = st & status::OPENSNOOP_S_HOW_FAULT.0 as u16 != 0;
    // Only with --callers: no Vec per event otherwise.
    let frames = || user_stack(stack).into_iter().map(Frame::unknown).collect();
    Open {
        timestamp: out.clock.elapsed(e.ts_ns),
        uid: e.uid,
        pid: e.pid,
        tid: e.tid,
        comm: KStr(cstr(&e.comm)),
        fd: if e.ret >= 0 { e.ret } else { -1 },
        err: if e.ret >= 0 { 0 } else { -e.ret },
        syscall: SYSCALLS.get(e.syscall as usize).unwrap_or(&"?"),
        // openat2's struct open_how could not be read: both unknown (null).
        flags: (!how_fault).then_some(e.flags),
        mode: (!how_fault && has_mode(e.flags)).then_some(e.mode),
        how_unreadable: how_fault,
        path: KStr(path),
        resolved,
        path_truncated: top_cut || end_cut,
        path_unreadable: st & status::OPENSNOOP_S_FNAME_FAULT.0 as u16 != 0,
        cut: (top_cut, end_cut),
        filename: resolved.then(|| KStr(path.get(dl..).unwrap_or_default())),
        callers: o.callers.map(|_| frames()),
    }
}

/// -n: substring of the command name, in user space (as BCC).
fn name_wanted(r: &Open<'_>, o: &Args) -> bool {
    o.name
        .as_deref()
        .is_none_or(|n| n.is_empty() || r.comm.0.windows(n.len()).any(|w| w == n.as_bytes()))
}

/// The tool: its options, and the symbolizer of --callers (made once).
struct Opensnoop {
    a: Args,
    sym: Symbolizer,
}

/// Left out when missing: arm64 and riscv have no open(2) nor creat(2).
#[rustfmt::skip]
const OPTIONAL: &[&str] = &["handle_enter_open", "handle_exit_open", "handle_enter_creat",
    "handle_exit_creat", "handle_enter_openat2", "handle_exit_openat2"];

impl Events for Opensnoop {
    type Args = Args;
    type Skel = OpensnoopSkelBuilder;
    type Event = Event;
    type Row<'a> = Open<'a>;
    #[rustfmt::skip]
    const SHORTS: &'static [(&'static str, char)] = &[("pid", 'p'), ("tid", 't'), ("uid", 'u'),
        ("cgroup", 'c'), ("json", 'j'), ("duration", 'd'), ("buffer_pages", 'b'), ("verbose", 'v')];

    fn configure(a: Args, open: &mut OpenOpensnoopSkel<'_>, s: &mut Session) -> Result<Self> {
        s.optional_programs(OPTIONAL);
        let ro = open.rodata()?;
        ro.failed_only = u8::from(a.failed);
        ro.full_path = u8::from(a.full_path);
        let max = consts::OPENSNOOP_MAX_FLAGS.0 as usize;
        let flags = FlagFilter::new(&a.flag_filter, max)
            .map_err(|e| corescope::UserError::hint(e, "give fewer -f flags"))?;
        ro.flag_n = flags.sets.len() as u32;
        ro.flag_sets[..flags.sets.len()].copy_from_slice(&flags.sets);
        ro.flag_rdonly = u8::from(flags.rdonly);
        if let Some((text, substring)) = &a.path {
            ro.path_match = if *substring { 2 } else { 1 };
            ro.path_len = text.len() as u32;
            ro.path_pat[..text.len()].copy_from_slice(text);
        }
        ro.callers_n = a.callers.map_or(0, u32::from);
        Ok(Self {
            a,
            sym: Symbolizer::new(),
        })
    }

    /// One event → its row (and callers), unless -n leaves it out.
    fn event(&mut self, e: &Event, payload: &[u8], out: &mut Output) -> Result<()> {
        let mut r = row(e, payload, &self.a, out);
        if !name_wanted(&r, &self.a) {
            return Ok(());
        }
        if let Some(frames) = &mut r.callers {
            let addrs: Vec<u64> = frames.iter().map(|f| f.addr).collect();
            *frames = self.sym.user(e.pid, &addrs);
        }
        out.row(&r, self)?;
        print_frames(out, r.callers.as_deref().unwrap_or_default())
    }
}

/// The tool (its binary, or `corescope opensnoop`).
pub fn main(name: &'static str) -> ExitCode {
    corescope::run::events::<Opensnoop>(name)
}

#[cfg(test)]
mod tests;
