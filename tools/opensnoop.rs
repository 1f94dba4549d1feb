//! opensnoop: trace open() syscalls (open, openat, openat2, creat), one row
//! per open. Based on opensnoop(8) from BCC and libbpf-tools.

use anyhow::Context;
use corescope::escape::{cstr, escape};
use corescope::output::{Line, Output};
use corescope::prelude::*;
use corescope::skel::opensnoop::types::{
    opensnoop_consts as consts, opensnoop_event as Event, opensnoop_status as status,
};
use corescope::skel::opensnoop::OpensnoopSkelBuilder;
use corescope::sym::{Frame, Symbolizer};

const SHORTS: &[(&str, char)] = &[
    ("pid", 'p'),
    ("tid", 't'),
    ("uid", 'u'),
    ("cgroup", 'c'),
    ("json", 'j'),
    ("duration", 'd'),
    ("buffer_pages", 'b'),
    ("verbose", 'v'),
];

const EXAMPLES: &str = "EXAMPLES:
    opensnoop                    # trace all open() syscalls
    opensnoop -T -U              # include TIME(s) and UID columns
    opensnoop -x                 # only failed opens
    opensnoop -p 181             # only PID 181 and its descendants
    opensnoop -t 123             # only TID 123
    opensnoop -u 1000            # only UID 1000 (a user name works too)
    opensnoop -d 10              # trace for 10 seconds only
    opensnoop -n main            # only commands whose name contains \"main\"
    opensnoop -e                 # show FLAGS (octal) and MODE
    opensnoop -f O_WRONLY -f O_RDWR   # only opens for writing
    opensnoop -F                 # full paths (relative ones resolved in the kernel)
    opensnoop --path /etc/       # only paths starting with /etc/ (in the kernel)
    opensnoop --path '*passwd'   # only paths containing \"passwd\"
    opensnoop --callers=4        # the 4 innermost user-space callers of each open
    opensnoop -j -- make         # run make, trace it and its children, as JSON";

/// Trace open() syscalls (open, openat, openat2, creat), one row per open.
#[derive(Parser, Debug)]
#[command(name = "opensnoop", version, after_help = EXAMPLES)]
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
    /// Only show opens with this flag, e.g. O_WRONLY (repeatable: any of them)
    #[arg(short = 'f', long, alias = "flag_filter", value_name = "FLAG", value_parser = parse_flag)]
    flag_filter: Vec<FlagSel>,
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

/// One -f value: flag bits, or O_RDONLY (the zero access mode).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct FlagSel {
    mask: u32,
    rdonly: bool,
}

const FLAGS: &[(&str, i32)] = &[
    ("WRONLY", libc::O_WRONLY),
    ("RDWR", libc::O_RDWR),
    ("CREAT", libc::O_CREAT),
    ("EXCL", libc::O_EXCL),
    ("NOCTTY", libc::O_NOCTTY),
    ("TRUNC", libc::O_TRUNC),
    ("APPEND", libc::O_APPEND),
    ("NONBLOCK", libc::O_NONBLOCK),
    ("NDELAY", libc::O_NDELAY),
    ("DSYNC", libc::O_DSYNC),
    ("SYNC", libc::O_SYNC),
    ("ASYNC", libc::O_ASYNC),
    ("DIRECT", libc::O_DIRECT),
    ("DIRECTORY", libc::O_DIRECTORY),
    ("NOFOLLOW", libc::O_NOFOLLOW),
    ("NOATIME", libc::O_NOATIME),
    ("CLOEXEC", libc::O_CLOEXEC),
    ("PATH", libc::O_PATH),
    ("TMPFILE", libc::O_TMPFILE),
];

fn parse_flag(s: &str) -> Result<FlagSel, String> {
    let up = s.to_ascii_uppercase();
    let name = up.strip_prefix("O_").unwrap_or(&up);
    if name == "RDONLY" {
        return Ok(FlagSel { mask: 0, rdonly: true });
    }
    if let Some(&(_, v)) = FLAGS.iter().find(|(n, _)| *n == name) {
        return Ok(FlagSel { mask: v as u32, rdonly: false });
    }
    let num = if let Some(h) = s.strip_prefix("0x") {
        u32::from_str_radix(h, 16)
    } else if s.len() > 1 && s.starts_with('0') {
        u32::from_str_radix(&s[1..], 8)
    } else {
        s.parse()
    };
    match num {
        Ok(mask) if mask != 0 => Ok(FlagSel { mask, rdonly: false }),
        _ => Err("a flag name such as O_WRONLY, or a nonzero number (0x.., 0octal)".into()),
    }
}

/// --path: a prefix, or (written with a leading '*') a substring.
#[derive(Debug, Clone, PartialEq)]
struct Pattern {
    text: Vec<u8>,
    substring: bool,
}

fn parse_pattern(s: &str) -> Result<Pattern, String> {
    let substring = s.starts_with('*');
    let t = s.strip_prefix('*').unwrap_or(s);
    let t = t.strip_suffix('*').unwrap_or(t);
    if t.is_empty() || t.len() > consts::OPENSNOOP_PATTERN_CAP.0 as usize {
        return Err("1 to 64 bytes, besides a leading or trailing '*'".into());
    }
    Ok(Pattern {
        text: t.as_bytes().to_vec(),
        substring,
    })
}

fn columns(a: &Args) -> Vec<Col> {
    let mut c = Vec::new();
    a.timestamp.then(|| c.push(Col::left("TIME(s)", 14)));
    a.print_uid.then(|| c.push(Col::left("UID", 6)));
    let tid = a.common.filter.tid.is_some();
    c.push(Col::left(if tid { "TID" } else { "PID" }, 6));
    c.push(Col::left("COMM", 16));
    c.push(Col::right("FD", 4));
    c.push(Col::right("ERR", 3));
    if a.extended_fields {
        c.push(Col::left("FLAGS", 8));
        c.push(Col::left("MODE", 4));
    }
    c.push(Col::left("PATH", 0));
    c
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
    flags: u32,
    /// None when the kernel ignores it (no O_CREAT / O_TMPFILE).
    mode: Option<u32>,
    path: KStr<'a>,
    /// -F: the directory was prepended in the kernel.
    resolved: bool,
    /// The path lacks its beginning (-F: deeper than 64 levels) or its end.
    path_truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    filename: Option<KStr<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    callers: Option<Vec<Frame>>,
    #[serde(skip)]
    opts: &'a Args,
}

impl Row for Open<'_> {
    fn cells(&self, l: &mut Line<'_>) {
        let o = self.opts;
        o.timestamp
            .then(|| l.cell(format_args!("{:.9}", self.timestamp)));
        o.print_uid.then(|| l.cell(self.uid));
        l.cell(if o.common.filter.tid.is_some() { self.tid } else { self.pid });
        l.text(self.comm.0);
        l.cell(self.fd);
        l.cell(self.err);
        if o.extended_fields {
            l.cell(format_args!("{:08o}", self.flags));
            match self.mode {
                Some(m) => l.cell(format_args!("{m:04o}")),
                None => l.cell("n/a"),
            }
        }
        l.with(|s| {
            (self.path_truncated && self.resolved).then(|| s.push_str("..."));
            escape_into(s, self.path.0, false);
        });
    }
}

fn has_mode(flags: u32) -> bool {
    let tmp = libc::O_TMPFILE as u32;
    flags & libc::O_CREAT as u32 != 0 || flags & tmp == tmp
}

/// Event (header + payload: callers, directory prefix, filename) → row.
fn row<'a>(e: &'a Event, payload: &'a [u8], o: &'a Args, out: &Output) -> Open<'a> {
    let nc = (e.nr_callers as usize * 8).min(payload.len());
    let (stack, rest) = payload.split_at(nc);
    let dl = (e.dir_len as usize).min(rest.len());
    let path = cstr(&rest[..(dl + e.fname_len as usize).min(rest.len())]);
    let st = e.status;
    let resolved = st & status::OPENSNOOP_S_RESOLVED.0 as u16 != 0 && dl > 0;
    let trunc = status::OPENSNOOP_S_DIR_TRUNC.0 | status::OPENSNOOP_S_FNAME_TRUNC.0;
    Open {
        timestamp: out.clock.elapsed(e.ts_ns),
        uid: e.uid,
        pid: e.pid,
        tid: e.tid,
        comm: KStr(cstr(&e.comm)),
        fd: if e.ret >= 0 { e.ret } else { -1 },
        err: if e.ret >= 0 { 0 } else { -e.ret },
        syscall: ["open", "openat", "openat2", "creat"]
            .get(e.syscall as usize)
            .unwrap_or(&"?"),
        flags: e.flags,
        mode: has_mode(e.flags).then_some(e.mode),
        path: KStr(path),
        resolved,
        path_truncated: st & trunc as u16 != 0,
        filename: resolved.then(|| KStr(path.get(dl..).unwrap_or_default())),
        callers: o.callers.map(|_| {
            let addrs = stack.chunks_exact(8).map(|c| {
                u64::from_ne_bytes(c.try_into().unwrap_or_default())
            });
            // 0 ends the stack; no user address reaches 2^56 (a broken
            // frame-pointer chain reads data as addresses).
            addrs.take_while(|&a| a != 0 && a < 1 << 56).map(Frame::unknown).collect()
        }),
        opts: o,
    }
}

fn main() -> ExitCode {
    corescope::main(|| {
        let args: Args = parse(SHORTS);
        let mut session = Session::new("opensnoop", &args.common, columns(&args))?;
        // arm64 and riscv have no open(2) nor creat(2).
        session.optional_programs(&[
            "handle_enter_open",
            "handle_exit_open",
            "handle_enter_creat",
            "handle_exit_creat",
            "handle_enter_openat2",
            "handle_exit_openat2",
        ]);
        let mut storage = MaybeUninit::uninit();
        let mut open = session.open(&mut storage, OpensnoopSkelBuilder::default())?;
        let ro = open.maps.rodata_data.as_deref_mut().context("no .rodata")?;
        ro.failed_only = u8::from(args.failed);
        ro.full_path = u8::from(args.full_path);
        let flags = args.flag_filter.iter().fold(FlagSel::default(), |a, f| FlagSel {
            mask: a.mask | f.mask,
            rdonly: a.rdonly || f.rdonly,
        });
        ro.flag_mask = flags.mask;
        ro.flag_rdonly = u8::from(flags.rdonly);
        if let Some(p) = &args.path {
            ro.path_match = if p.substring { 2 } else { 1 };
            ro.path_len = p.text.len() as u32;
            ro.path_pat[..p.text.len()].copy_from_slice(&p.text);
        }
        ro.callers_n = args.callers.map_or(0, u32::from);
        let skel = session.load(open)?;
        let sym = Symbolizer::new();
        session.stream(&skel, |e: &Event, payload: &[u8], out: &mut Output| {
            let mut r = row(e, payload, &args, out);
            if let Some(n) = &args.name {
                if !r.comm.0.windows(n.len()).any(|w| w == n.as_bytes()) {
                    return Ok(());
                }
            }
            if let Some(frames) = &mut r.callers {
                let addrs: Vec<u64> = frames.iter().map(|f| f.addr).collect();
                *frames = sym.user(e.pid, &addrs);
            }
            out.row(&r)?;
            if !out.json() {
                for f in r.callers.iter().flatten() {
                    out.raw_line(&format!("        {}", escape(f.describe().as_bytes())))?;
                }
            }
            Ok(())
        })
    })
}
