//! execsnoop: trace exec() syscalls, one row per exec (failed ones with -x).
//! Based on execsnoop(8) from BCC and libbpf-tools.

use anyhow::Context;
use corescope::escape::{cstr, push_value, StringList};
use corescope::output::{Line, Output};
use corescope::prelude::*;
use corescope::skel::execsnoop::types::{
    execsnoop_consts, execsnoop_event as Event, execsnoop_flags,
};
use corescope::skel::execsnoop::ExecsnoopSkelBuilder;
use regex::bytes::Regex;

const SHORTS: &[(&str, char)] = &[
    ("pid", 'p'),
    ("uid", 'u'),
    ("cgroup", 'c'),
    ("json", 'j'),
    ("duration", 'd'),
    ("verbose", 'v'),
];

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
#[derive(Parser, Debug)]
#[command(name = "execsnoop", version, after_help = EXAMPLES)]
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
const MAX_ARGS: i64 = execsnoop_consts::EXECSNOOP_MAX_ARGS.0 as i64;

/// -P: 0 would be the kernel's "no filter"; it is no process either (only
/// the kernel's own threads have parent 0, and they never exec).
fn parse_ppid(s: &str) -> Result<u32, String> {
    match s.parse::<u32>() {
        Ok(0) => Err("0 is not a process: give the PID of a parent process".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

fn columns(a: &Args) -> Vec<Col> {
    let mut c = Vec::new();
    a.time.then(|| c.push(Col::left("TIME", 8)));
    a.timestamp.then(|| c.push(Col::left("TIME(s)", 8)));
    a.print_uid.then(|| c.push(Col::left("UID", 6)));
    c.push(Col::left(if a.print_pcomm { "COMM" } else { "PCOMM" }, 16));
    c.push(Col::left("PID", 7));
    a.print_pcomm.then(|| c.push(Col::left("PCOMM", 16)));
    c.push(Col::left("PPID", 7));
    a.print_cpu.then(|| c.push(Col::left("CPU", 3)));
    c.push(Col::right("RET", 3));
    c.push(Col::left("ARGS", 0));
    c
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
    argv: Vec<KStr<'a>>,
    /// How many arguments the process has (argv may hold fewer).
    argc: u32,
    /// For a script: the words before its path in argv (the interpreter
    /// and its option); empty otherwise.
    interpreter: Vec<KStr<'a>>,
    filename_truncated: bool,
    args_truncated: bool,
    #[serde(skip)]
    arg_cut: Vec<bool>,
    /// argv[shown..] follow the filename in ARGS.
    #[serde(skip)]
    shown: usize,
    /// Arguments are missing at the end (ARGS ends in " ...").
    #[serde(skip)]
    dropped: bool,
    #[serde(skip)]
    opts: &'a Args,
}

impl Row for Exec<'_> {
    fn cells(&self, l: &mut Line<'_>) {
        let o = self.opts;
        o.time.then(|| l.cell(self.time));
        o.timestamp
            .then(|| l.cell(format_args!("{:<8.3}", self.timestamp)));
        o.print_uid.then(|| l.cell(self.uid));
        l.text(self.comm.0);
        l.cell(self.pid);
        o.print_pcomm.then(|| l.text(self.pcomm.0));
        l.cell(self.ppid);
        o.print_cpu.then(|| l.cell(self.cpu));
        l.cell(self.ret);
        l.with(|s| {
            push_value(s, self.filename.0, o.quote, self.filename_truncated);
            for (a, &cut) in self.argv.iter().zip(&self.arg_cut).skip(self.shown) {
                s.push(' ');
                push_value(s, a.0, o.quote, cut);
            }
            if self.dropped {
                s.push_str(" ...");
            }
        });
    }
}

/// Event (header + payload: filename, then NUL-separated argv) → row.
fn row<'a>(e: &'a Event, payload: &'a [u8], o: &'a Args, out: &Output) -> Exec<'a> {
    let fl = (e.fname_len as usize).min(payload.len());
    let al = (e.args_len as usize).min(payload.len() - fl);
    let flags = e.flags as u32;
    let (items, len) = (o.max_args as usize, o.max_arg_size as usize - 1);
    let interp = flags & execsnoop_flags::EXECSNOOP_F_INTERP.0 != 0;
    // The kernel copies a few more for a script (see EXECSNOOP_INTERP_ARGS).
    let extra = if interp {
        execsnoop_consts::EXECSNOOP_INTERP_ARGS.0 as usize
    } else {
        0
    };
    let limits = if o.full_args {
        (None, None)
    } else {
        (Some(items + extra), Some(len))
    };
    let mut argv = StringList::split(&payload[fl..fl + al], limits.0, limits.1);
    // Arguments the kernel cut to their budget (the NUL is kept after them).
    for (i, c) in argv.cut.iter_mut().enumerate() {
        if e.arg_cut
            .get(i / 8)
            .is_some_and(|b| b & (1 << (i % 8)) != 0)
        {
            *c = true;
        }
    }
    let filename = cstr(&payload[..fl]);
    // A script's argv is the interpreter's: [interpreter, option?, script
    // path, the script's arguments...]. ARGS shows what was exec'd (as
    // strace and BCC): the path, then the script's own arguments, as many
    // as --max-args allows for a binary.
    let (interpreter, shown) = if interp {
        let at = argv
            .items
            .iter()
            .zip(&argv.cut)
            .skip(1)
            .position(|(a, &cut)| *a == filename || (cut && filename.starts_with(a)));
        match at {
            Some(k) => {
                let end = k + 1 + items;
                if !o.full_args && argv.items.len() > end {
                    argv.items.truncate(end);
                    argv.cut.truncate(end);
                    argv.dropped = true;
                }
                (argv.items[..=k].to_vec(), k + 2)
            }
            // The path is past the arguments captured.
            None => {
                argv.dropped = true;
                (argv.items.clone(), argv.items.len())
            }
        }
    } else {
        (Vec::new(), 1)
    };
    let dropped = argv.dropped || e.argc as usize > argv.items.len();
    let truncated =
        flags & execsnoop_flags::EXECSNOOP_F_ARGS_TRUNC.0 != 0 || argv.truncated() || dropped;
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
        filename: KStr(filename),
        argv: argv.items.into_iter().map(KStr).collect(),
        argc: e.argc,
        interpreter: interpreter.into_iter().map(KStr).collect(),
        filename_truncated: flags & execsnoop_flags::EXECSNOOP_F_FNAME_TRUNC.0 != 0,
        args_truncated: truncated,
        arg_cut: argv.cut,
        shown,
        dropped,
        opts: o,
    }
}

/// -n and -l, on the raw (unescaped) bytes.
fn wanted(r: &Exec<'_>, o: &Args) -> bool {
    if o.name.as_ref().is_some_and(|re| !re.is_match(r.comm.0)) {
        return false;
    }
    if let Some(re) = &o.line {
        let mut joined = r.filename.0.to_vec();
        for a in r.argv.iter().skip(r.shown) {
            joined.push(b' ');
            joined.extend_from_slice(a.0);
        }
        return re.is_match(&joined);
    }
    true
}

/// The tool (its binary, or `corescope execsnoop`).
pub fn main() -> ExitCode {
    corescope::main(|| {
        let args: Args = parse(SHORTS);
        let mut session = Session::new("execsnoop", &args.common, columns(&args))?;
        let mut storage = MaybeUninit::uninit();
        let mut open = session.open(&mut storage, ExecsnoopSkelBuilder::default())?;
        let cap = execsnoop_consts::EXECSNOOP_ARGS_CAP.0;
        let ro = open.maps.rodata_data.as_deref_mut().context("no .rodata")?;
        ro.ignore_failed = u8::from(!args.fails);
        ro.targ_ppid = args.ppid.unwrap_or(0);
        ro.full_args = u8::from(args.full_args);
        ro.args_max = cap;
        // (--full-args: a failed exec's argv is still read string by string.)
        (ro.max_args, ro.arg_size) = if args.full_args {
            (MAX_ARGS as u32, 4096)
        } else {
            (args.max_args, args.max_arg_size)
        };
        if !args.fails {
            // Failed execs need the syscall tracepoints; successes do not.
            open.progs.handle_enter_execve.set_autoload(false);
            open.progs.handle_enter_execveat.set_autoload(false);
            open.progs.handle_exit_execve.set_autoload(false);
            open.progs.handle_exit_execveat.set_autoload(false);
        }
        let skel = session.load(open)?;
        session.stream(&skel, |e: &Event, payload: &[u8], out: &mut Output| {
            let r = row(e, payload, &args, out);
            if wanted(&r, &args) {
                out.row(&r)?;
            }
            Ok(())
        })
    })
}

#[cfg(test)]
mod tests;
