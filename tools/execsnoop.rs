//! execsnoop: trace exec() syscalls, one row per exec (failed ones with -x).
//! Based on execsnoop(8) from BCC and libbpf-tools.

use anyhow::Context;
use corescope::escape::cstr;
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
    /// Maximum number of arguments shown, counting the filename
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=1024))]
    max_args: u32,
    /// Bytes kept of each argument, its terminating NUL included
    #[arg(long, default_value_t = 128, value_parser = clap::value_parser!(u32).range(2..=4096))]
    max_arg_size: u32,
    /// Capture the whole argv, up to the 16 KiB kernel-side cap
    #[arg(long)]
    full_args: bool,
    /// Only trace execs whose parent process is PPID
    #[arg(short = 'P', long, value_name = "PPID")]
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
    time: String,
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
    argv: Vec<KStr<'a>>,
    filename_truncated: bool,
    args_truncated: bool,
    #[serde(skip)]
    arg_cut: Vec<bool>,
    #[serde(skip)]
    opts: &'a Args,
}

impl Row for Exec<'_> {
    fn cells(&self, l: &mut Line<'_>) {
        let o = self.opts;
        o.time.then(|| l.cell(&self.time));
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
            let arg = |s: &mut String, b: &[u8], cut: bool| {
                o.quote.then(|| s.push('"'));
                escape_into(s, b, o.quote);
                cut.then(|| s.push_str("..."));
                o.quote.then(|| s.push('"'));
            };
            arg(s, self.filename.0, self.filename_truncated);
            for (a, &cut) in self.argv.iter().zip(&self.arg_cut).skip(1) {
                s.push(' ');
                arg(s, a.0, cut);
            }
            if self.args_truncated && !self.arg_cut.iter().any(|&c| c) {
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
    let mut argv: Vec<&[u8]> = payload[fl..fl + al].split(|&b| b == 0).collect();
    // A complete last string ends in NUL, leaving an empty piece; a
    // piece without its NUL was cut by the byte cap.
    let last_cut = argv.pop().is_some_and(|p| !p.is_empty());
    let mut cut = vec![false; argv.len()];
    if last_cut {
        if let Some(p) = payload[fl..fl + al].rsplit(|&b| b == 0).next() {
            argv.push(p);
            cut.push(true);
        }
    }
    let mut truncated = flags & execsnoop_flags::EXECSNOOP_F_ARGS_TRUNC.0 != 0;
    if !o.full_args {
        if argv.len() > o.max_args as usize {
            argv.truncate(o.max_args as usize);
            cut.truncate(argv.len());
            truncated = true;
        }
        let keep = o.max_arg_size as usize - 1;
        for (a, c) in argv.iter_mut().zip(cut.iter_mut()) {
            if a.len() > keep {
                *a = &a[..keep];
                *c = true;
            }
        }
    }
    truncated |= cut.iter().any(|&c| c);
    Exec {
        // Formatting the clock costs; only when a column or JSON shows it.
        time: if o.time || out.json() {
            out.clock.hms(e.ts_ns)
        } else {
            String::new()
        },
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
        argv: argv.into_iter().map(KStr).collect(),
        filename_truncated: flags & execsnoop_flags::EXECSNOOP_F_FNAME_TRUNC.0 != 0,
        args_truncated: truncated,
        arg_cut: cut,
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
        for a in r.argv.iter().skip(1) {
            joined.push(b' ');
            joined.extend_from_slice(a.0);
        }
        return re.is_match(&joined);
    }
    true
}

fn main() -> ExitCode {
    corescope::main(|| {
        let args: Args = parse(SHORTS);
        let mut session = Session::new("execsnoop", &args.common, columns(&args))?;
        let mut storage = MaybeUninit::uninit();
        let mut open = session.open(&mut storage, ExecsnoopSkelBuilder::default())?;
        let cap = execsnoop_consts::EXECSNOOP_ARGS_CAP.0;
        let ro = open.maps.rodata_data.as_deref_mut().context("no .rodata")?;
        ro.ignore_failed = u8::from(!args.fails);
        ro.targ_ppid = args.ppid.unwrap_or(0);
        ro.args_max = if args.full_args {
            cap
        } else {
            (args.max_args * args.max_arg_size).min(cap)
        };
        ro.ptr_args_max = if args.full_args {
            u32::MAX
        } else {
            args.max_args
        };
        ro.ptr_arg_size = if args.full_args {
            4096
        } else {
            args.max_arg_size
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
mod tests {
    use super::*;
    use corescope::output::{header_line, json_line, table_line};

    fn args(a: &[&str]) -> Args {
        corescope::cli::try_parse_from(
            SHORTS,
            std::iter::once("execsnoop").chain(a.iter().copied()),
        )
        .unwrap()
    }

    fn event(comm: &str, ret: i32) -> Event {
        let mut e = Event {
            pid: 4242,
            tid: 4242,
            ppid: 1,
            uid: 1000,
            retval: ret,
            cpu: 1,
            ..Default::default()
        };
        e.comm[..comm.len()].copy_from_slice(comm.as_bytes());
        e.pcomm[..4].copy_from_slice(b"bash");
        e
    }

    /// Payload as the kernel sends it: filename + NUL, then argv strings.
    fn payload(e: &mut Event, file: &[u8], argv: &[&[u8]]) -> Vec<u8> {
        let mut p = file.to_vec();
        p.push(0);
        e.fname_len = p.len() as u16;
        for a in argv {
            p.extend_from_slice(a);
            p.push(0);
        }
        e.args_len = (p.len() - e.fname_len as usize) as u32;
        p
    }

    fn render(a: &Args, e: &Event, p: &[u8]) -> String {
        let out = Output::new(false, columns(a)).unwrap();
        table_line(&columns(a), &row(e, p, a, &out))
    }

    #[test]
    fn default_row_matches_bcc_layout() {
        let a = args(&[]);
        assert_eq!(
            header_line(&columns(&a)),
            "PCOMM            PID     PPID    RET ARGS"
        );
        let mut e = event("ls", 0);
        let p = payload(&mut e, b"/bin/ls", &[b"ls", b"-l", b"/tmp"]);
        assert_eq!(
            render(&a, &e, &p),
            "ls               4242    1         0 /bin/ls -l /tmp"
        );
    }

    #[test]
    fn optional_columns_stay_aligned() {
        let a = args(&["-U", "-M", "-C", "-x"]);
        let h = header_line(&columns(&a));
        assert_eq!(
            h,
            "UID    COMM             PID     PCOMM            PPID    CPU RET ARGS"
        );
        let mut e = event("cat", -2);
        let p = payload(&mut e, b"/no/cat", &[b"cat"]);
        let r = render(&a, &e, &p);
        assert_eq!(
            r,
            "1000   cat              4242    bash             1       1    -2 /no/cat"
        );
        assert_eq!(h.find("ARGS"), r.find("/no/cat"));
    }

    #[test]
    fn hostile_args_stay_on_one_escaped_row() {
        let a = args(&[]);
        let mut e = event("sh", 0);
        let p = payload(&mut e, b"/bin/echo", &[b"echo", b"a\nb\x1b[2Jc", b"\xff"]);
        let r = render(&a, &e, &p);
        assert_eq!(
            r,
            "sh               4242    1         0 /bin/echo a\\nb\\e[2Jc \\xff"
        );
        let q = render(&args(&["-q"]), &e, &p);
        assert!(q.ends_with(r#""/bin/echo" "a\nb\e[2Jc" "\xff""#), "{q}");
    }

    #[test]
    fn truncation_is_marked() {
        let a = args(&["--max-args", "3", "--max-arg-size", "5"]);
        let mut e = event("x", 0);
        let p = payload(&mut e, b"/bin/x", &[b"x", b"abcdefgh", b"ok", b"dropped"]);
        let out = Output::new(false, columns(&a)).unwrap();
        let r = row(&e, &p, &a, &out);
        assert!(r.args_truncated);
        assert_eq!(
            table_line(&columns(&a), &r).rsplit("0 ").next().unwrap(),
            "/bin/x abcd... ok"
        );
        // Cut by the kernel's byte cap: the last string has no NUL.
        let mut e = event("y", 0);
        let mut p = payload(&mut e, b"/bin/y", &[b"y", b"full"]);
        p.extend_from_slice(b"par");
        e.args_len += 3;
        e.flags = execsnoop_flags::EXECSNOOP_F_ARGS_TRUNC.0 as u16;
        assert!(render(&args(&[]), &e, &p).ends_with("/bin/y full par..."));
    }

    #[test]
    fn json_has_full_argv_and_numbers() {
        let a = args(&["-j"]);
        let mut e = event("ls", 0);
        let p = payload(&mut e, b"/bin/ls", &[b"ls", b"-l"]);
        let out = Output::new(true, columns(&a)).unwrap();
        let mut buf = Vec::new();
        json_line("event", &row(&e, &p, &a, &out), &mut buf).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&buf).unwrap();
        assert_eq!(v["type"], "event");
        assert_eq!(v["pid"], 4242);
        assert_eq!(v["ret"], 0);
        assert_eq!(v["filename"], "/bin/ls");
        assert_eq!(v["argv"], serde_json::json!(["ls", "-l"]));
        assert_eq!(v["args_truncated"], false);
    }

    #[test]
    fn name_and_line_filters() {
        let mut e = event("bash", 0);
        let p = payload(&mut e, b"/bin/bash", &[b"bash", b"-c", b"make tpkg"]);
        let out = Output::new(false, vec![]).unwrap();
        for (flags, want) in [
            (&["-n", "^ba"][..], true),
            (&["-n", "zsh"], false),
            (&["-l", "tpkg"], true),
            (&["-l", "bash$"], false), // -l matches the args, not the comm
        ] {
            let a = args(flags);
            assert_eq!(wanted(&row(&e, &p, &a, &out), &a), want, "{flags:?}");
        }
    }

    #[test]
    fn every_flag_parses() {
        let a = args(&[
            "-T",
            "-t",
            "-x",
            "-U",
            "-q",
            "-n",
            "a",
            "-l",
            "b",
            "--max-args",
            "5",
            "--max-arg-size",
            "64",
            "--full-args",
            "-P",
            "1",
            "-M",
            "-C",
            "-p",
            "1",
            "-u",
            "0",
            "-c",
            "/sys/fs/cgroup",
            "--comm",
            "sh",
            "-j",
            "-d",
            "2",
            "-v",
            "--tid",
            "1",
            "--buffer-pages",
            "64",
            "--btf",
            "/x",
        ]);
        assert!(a.time && a.timestamp && a.fails && a.print_uid && a.quote && a.full_args);
        assert_eq!(
            (a.ppid, a.common.filter.pid.clone(), a.common.run.duration),
            (Some(1), vec![1], Some(2))
        );
        assert!(corescope::cli::try_parse_from::<Args, _, _>(
            SHORTS,
            ["execsnoop", "--max-args", "0"]
        )
        .is_err());
        assert!(
            corescope::cli::try_parse_from::<Args, _, _>(SHORTS, ["execsnoop", "-n", "("]).is_err()
        );
    }
}
