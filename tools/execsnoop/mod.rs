//! execsnoop: trace exec() syscalls, one row per exec (failed ones with -x).
//! Based on execsnoop(8) from BCC and libbpf-tools.

use corescope::escape::{cstr, push_value};
use corescope::prelude::*;
use corescope::skel::execsnoop::types::{
    execsnoop_consts as consts, execsnoop_event as Event, execsnoop_flags as flag,
};
use corescope::skel::execsnoop::{ExecsnoopSkelBuilder, OpenExecsnoopSkel};
use regex::bytes::Regex;

pub mod argv;
use argv::{Argv, Items};

const EXAMPLES: &str = "EXAMPLES:
    execsnoop                  # trace all exec() syscalls
    execsnoop -x               # include failed exec()s
    execsnoop -T -U            # include time (HH:MM:SS) and UID columns
    execsnoop -p 1234          # only PID 1234 and its descendants
    execsnoop -u 1000          # only UID 1000 (a user name works too)
    execsnoop -n main          # only commands whose name matches regex 'main'
    execsnoop -l tpkg          # only commands whose arguments match regex 'tpkg'
    execsnoop -q               # add \"quotemarks\" around arguments
    execsnoop -c /sys/fs/cgroup/system.slice   # only this cgroup
    execsnoop --json -- make   # run make, trace it and its children, as JSON";

/// Trace exec() syscalls (execve and execveat), one row per exec.
#[derive(Parser, Debug, Clone)]
#[command(version, after_help = EXAMPLES)]
struct Args {
    /// Include a TIME column (HH:MM:SS)
    #[arg(short = 'T', long)]
    time: bool,
    /// Include a TIME(s) column: seconds since tracing started
    #[arg(short = 't', long)]
    timestamp: bool,
    /// Include failed exec()s (RET is -errno)
    #[arg(short = 'x', long)]
    fails: bool,
    /// Include a UID column
    #[arg(short = 'U', long)]
    print_uid: bool,
    /// Add "quotemarks" around each argument
    #[arg(short = 'q', long)]
    quote: bool,
    /// Only print commands whose name (comm) matches this regex
    #[arg(short = 'n', long, value_name = "REGEX", value_parser = Regex::new)]
    name: Option<Regex>,
    /// Only print commands whose arguments match this regex
    #[arg(short = 'l', long, value_name = "REGEX", value_parser = Regex::new)]
    line: Option<Regex>,
    /// Maximum number of arguments shown, counting the filename (at most 128;
    /// more with --full-args); a row with more ends in " ..."
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=MAX_ARGS))]
    max_args: u32,
    /// Bytes kept of each argument, its terminating NUL included; a longer
    /// argument is cut and ends in "...", the ones after it are kept
    #[arg(long, default_value_t = 128, value_parser = clap::value_parser!(u32).range(2..=4096))]
    max_arg_size: u32,
    /// Capture the whole argv, up to the 16 KiB kernel-side cap
    #[arg(long)]
    full_args: bool,
    /// Only trace execs whose parent process is PPID (not 0: no process)
    #[arg(short = 'P', long, value_name = "PPID", value_parser = parse_ppid)]
    ppid: Option<u32>,
    /// Include the parent's name (PCOMM column; the first column becomes COMM)
    #[arg(short = 'M', long)]
    print_pcomm: bool,
    /// Include a CPU column
    #[arg(short = 'C', long)]
    print_cpu: bool,
    #[command(flatten)]
    common: CommonArgs,
}

/// Arguments copied one by one in the kernel (one bit each in `arg_cut`).
const MAX_ARGS: i64 = consts::EXECSNOOP_MAX_ARGS.0 as i64;

/// -P: 0 would be the kernel's "no filter"; it is no process either (only
/// the kernel's own threads have parent 0, and they never exec).
fn parse_ppid(s: &str) -> Result<u32, String> {
    match s.parse::<u32>() {
        Ok(0) => Err("0 is not a process: give the PID of a parent process".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

#[derive(Serialize)]
struct Exec<'a> {
    time: corescope::clock::Hms,
    timestamp: f64,
    uid: u32,
    comm: KStr<'a>,
    pid: u32,
    tid: u32,
    ppid: u32,
    pcomm: KStr<'a>,
    cpu: u32,
    ret: i32,
    filename: KStr<'a>,
    /// The process's argv (for a script: the interpreter's).
    argv: Items<'a>,
    /// How many arguments the process has (argv may hold fewer).
    argc: u32,
    /// For a script: the words before its path in argv (the interpreter
    /// and its option); empty otherwise.
    interpreter: Items<'a>,
    filename_truncated: bool,
    args_truncated: bool,
    /// argv could not be read past some argument (a memory fault: an exec
    /// given a bad pointer); ARGS ends in " [unreadable]".
    args_unreadable: bool,
    /// What ARGS shows after the filename.
    #[serde(skip)]
    rest: Items<'a>,
    /// Arguments are missing at the end (ARGS ends in " ...").
    #[serde(skip)]
    dropped: bool,
}

impl Row for Exec<'_> {
    type Opts = Execsnoop;
    fn columns(t: &mut Table<'_, '_, Self>, o: &Execsnoop) {
        let a = &o.a;
        t.col_if(a.time, Col::left("TIME", 8), |r, c| c.put(r.time));
        t.col_if(a.timestamp, Col::left("TIME(s)", 8), |r, c| {
            c.put(format_args!("{:<8.3}", r.timestamp))
        });
        t.col_if(a.print_uid, Col::left("UID", 6), |r, c| c.put(r.uid));
        let comm = if a.print_pcomm { "COMM" } else { "PCOMM" };
        t.col(Col::left(comm, 16), |r, c| c.text(r.comm.0));
        t.col(Col::left("PID", 7), |r, c| c.put(r.pid));
        t.col_if(a.print_pcomm, Col::left("PCOMM", 16), |r, c| {
            c.text(r.pcomm.0)
        });
        t.col(Col::left("PPID", 7), |r, c| c.put(r.ppid));
        t.col_if(a.print_cpu, Col::left("CPU", 3), |r, c| c.put(r.cpu));
        t.col(Col::right("RET", 3), |r, c| c.put(r.ret));
        let q = a.quote;
        t.col(Col::left("ARGS", 0), |r, c| {
            let s = c.buf();
            push_value(s, r.filename.0, q, r.filename_truncated);
            for (arg, cut) in r.rest.iter() {
                s.push(' ');
                push_value(s, arg, q, cut);
            }
            match (r.args_unreadable, r.dropped) {
                (true, _) => s.push_str(" [unreadable]"),
                (false, true) => s.push_str(" ..."),
                _ => {}
            }
        });
    }
}

/// The tool: its options, and buffers reused from event to event.
struct Execsnoop {
    a: Args,
    argv: Argv,
    /// -l: the ARGS text matched.
    joined: Vec<u8>,
}

/// The row of the event whose arguments `argv` holds ([`Argv::decode`]).
fn row<'a>(
    argv: &'a Argv,
    e: &'a Event,
    payload: &'a [u8],
    at: (usize, usize),
    out: &Output,
) -> Exec<'a> {
    let fl = (e.fname_len as usize).min(payload.len());
    let (bytes, n) = (&payload[fl..], argv.len());
    let dropped = argv.dropped || e.argc as usize > n;
    let trunc = e.flags as u32 & flag::EXECSNOOP_F_ARGS_TRUNC.0 != 0;
    let fault = e.flags as u32 & flag::EXECSNOOP_F_ARGS_FAULT.0 != 0;
    Exec {
        // A number: formatted only where a column or JSON shows it.
        time: out.clock.hms_of(e.ts_ns),
        timestamp: out.clock.elapsed(e.ts_ns),
        uid: e.uid,
        comm: KStr(cstr(&e.comm)),
        pid: e.pid,
        tid: e.tid,
        ppid: e.ppid,
        pcomm: KStr(cstr(&e.pcomm)),
        cpu: e.cpu,
        ret: e.retval,
        filename: KStr(cstr(&payload[..fl])),
        argv: argv.items(bytes, 0..n),
        argc: e.argc,
        interpreter: argv.items(bytes, 0..at.0),
        filename_truncated: e.flags as u32 & flag::EXECSNOOP_F_FNAME_TRUNC.0 != 0,
        args_truncated: trunc || argv.truncated() || dropped || fault,
        args_unreadable: fault,
        rest: argv.items(bytes, at.1..n),
        dropped,
    }
}

/// What is kept of argv: --max-args and --max-arg-size less the NUL, or
/// all of it (--full-args).
fn caps(a: &Args) -> Option<(usize, usize)> {
    (!a.full_args).then_some((a.max_args as usize, a.max_arg_size as usize - 1))
}

/// -n and -l, on the raw (unescaped) bytes (`joined`: a reused buffer).
fn wanted(a: &Args, joined: &mut Vec<u8>, r: &Exec<'_>) -> bool {
    if a.name.as_ref().is_some_and(|re| !re.is_match(r.comm.0)) {
        return false;
    }
    let Some(re) = &a.line else { return true };
    joined.clear();
    joined.extend_from_slice(r.filename.0);
    for (arg, _) in r.rest.iter() {
        joined.push(b' ');
        joined.extend_from_slice(arg);
    }
    re.is_match(joined)
}

impl Events for Execsnoop {
    type Args = Args;
    type Skel = ExecsnoopSkelBuilder;
    type Event = Event;
    type Row<'a> = Exec<'a>;
    #[rustfmt::skip]
    const SHORTS: &'static [(&'static str, char)] = &[("pid", 'p'), ("uid", 'u'), ("cgroup", 'c'),
        ("json", 'j'), ("duration", 'd'), ("verbose", 'v')];

    fn configure(a: Args, open: &mut OpenExecsnoopSkel<'_>, _: &mut Session) -> Result<Self> {
        let ro = open.rodata()?;
        ro.ignore_failed = u8::from(!a.fails);
        ro.targ_ppid = a.ppid.unwrap_or(0);
        ro.full_args = u8::from(a.full_args);
        ro.args_max = consts::EXECSNOOP_ARGS_CAP.0;
        // (--full-args: a failed exec's argv is still read string by string.)
        (ro.max_args, ro.arg_size) = match a.full_args {
            true => (MAX_ARGS as u32, 4096),
            false => (a.max_args, a.max_arg_size),
        };
        // Failed execs need the syscall tracepoints; successes do not.
        let p = &mut open.progs;
        for prog in [&mut p.handle_enter_execve, &mut p.handle_enter_execveat] {
            prog.set_autoload(a.fails);
        }
        for prog in [&mut p.handle_exit_execve, &mut p.handle_exit_execveat] {
            prog.set_autoload(a.fails);
        }
        let (argv, joined) = (Argv::default(), Vec::new());
        Ok(Self { a, argv, joined })
    }

    fn event(&mut self, e: &Event, payload: &[u8], out: &mut Output) -> Result<()> {
        let at = self.argv.decode(e, payload, caps(&self.a));
        let r = row(&self.argv, e, payload, at, out);
        if wanted(&self.a, &mut self.joined, &r) {
            out.row(&r, self)?;
        }
        Ok(())
    }
}

/// The tool (its binary, or `corescope execsnoop`).
pub fn main(name: &'static str) -> ExitCode {
    corescope::run::events::<Execsnoop>(name)
}

#[cfg(test)]
mod tests;
