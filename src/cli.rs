//! Options shared by every tool, flattened into each tool's clap struct.
//! They have long names only (but `-o/--output`, free in every tool): each
//! tool gives them the short letters its BCC namesake uses (these differ
//! between tools) through [`parse`].

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{ArgAction, Args, FromArgMatches, Parser};

/// Every shared option of a tracing tool: process filters plus run options.
#[derive(Args, Debug, Clone, Default)]
pub struct CommonArgs {
    #[command(flatten)]
    pub filter: FilterArgs,
    #[command(flatten)]
    pub run: RunArgs,
}

/// Which tasks to trace (applied in the kernel).
#[derive(Args, Debug, Clone, Default)]
#[command(next_help_heading = "Filter options")]
pub struct FilterArgs {
    /// Trace only these processes and their descendants (existing and future)
    #[arg(long = "pid", value_name = "PID[,PID...]", value_delimiter = ',',
          value_parser = clap::value_parser!(u32).range(1..))]
    pub pid: Vec<u32>,

    /// Trace only this thread ID
    #[arg(long, value_name = "TID", value_parser = clap::value_parser!(u32).range(1..))]
    pub tid: Option<u32>,

    /// Trace only this user (UID or user name)
    #[arg(long, value_name = "UID|NAME", value_parser = parse_user)]
    pub uid: Option<u32>,

    /// Trace only tasks in this cgroup v2 directory and below it
    #[arg(long, value_name = "PATH")]
    pub cgroup: Option<PathBuf>,

    /// Trace only tasks with exactly this command name (comm)
    #[arg(long, value_name = "NAME", value_parser = parse_comm)]
    pub comm: Option<[u8; 16]>,

    /// Run CMD, trace only it and its descendants, and exit with its status;
    /// if the tool ends first, CMD gets SIGTERM (SIGKILL after 2 s)
    #[arg(last = true, value_name = "CMD")]
    pub cmd: Vec<OsString>,
}

/// How to run and print; shared by every tool, tracing or not.
#[derive(Args, Debug, Clone, Default)]
#[command(next_help_heading = "Common options")]
pub struct RunArgs {
    /// Print JSON Lines (one object per event, then a summary) instead of a table
    #[arg(long)]
    pub json: bool,

    /// Stop after this many seconds
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..))]
    pub duration: Option<u64>,

    /// Write the events (table or JSON Lines, and the JSON summary) to FILE
    /// instead of stdout, created or truncated; `-- CMD` keeps stdout
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Ring buffer size in 4 KiB pages (a power of two)
    #[arg(long, value_name = "PAGES", default_value_t = 1024, value_parser = parse_pages)]
    pub buffer_pages: u32,

    /// Load against this BTF file instead of /sys/kernel/btf/vmlinux
    #[arg(long, value_name = "FILE")]
    pub btf: Option<PathBuf>,

    /// More messages: libbpf's debug log, the verifier log on failure
    #[arg(long, action = ArgAction::Count)]
    pub verbose: u8,

    /// Serve Prometheus metrics on http://ADDR:PORT/metrics while running
    /// (`:PORT`: every address). An interval tool then prints no tables:
    /// it reads its maps every INTERVAL (default 1 s) for the scrapes
    #[arg(long, value_name = "ADDR:PORT")]
    pub prometheus: Option<String>,

    /// Label sets kept per Prometheus metric; further keys are counted in
    /// the series without key labels (`other`)
    #[arg(long, value_name = "N", default_value_t = crate::prom::DEFAULT_SERIES,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..100_000))]
    pub prometheus_series: usize,
}

/// The task filters of a tool that traces no task: interrupt handlers
/// (hardirqs, softirqs) run in whichever task they interrupted, so a
/// filter on the task would select arbitrary interrupts. Parsed (hidden
/// from --help) only to be refused with that reason ([`NoTaskFilters::refuse`])
/// instead of clap's bare "unexpected argument" (libbpf-tools' hardirqs
/// has `-c CGROUP`, which tests the interrupted task).
#[derive(Args, Debug, Clone, Default)]
pub struct NoTaskFilters {
    // Ids of their own: the runner tells a tool with task filters by the
    // id "pid" (parse_tool), which these are not.
    #[arg(id = "refused_pid", long = "pid", hide = true, value_name = "PID")]
    pid: Option<String>,
    #[arg(id = "refused_tid", long = "tid", hide = true, value_name = "TID")]
    tid: Option<String>,
    #[arg(id = "refused_uid", long = "uid", hide = true, value_name = "UID")]
    uid: Option<String>,
    #[arg(
        id = "refused_cgroup",
        long = "cgroup",
        hide = true,
        value_name = "PATH"
    )]
    cgroup: Option<String>,
    #[arg(id = "refused_comm", long = "comm", hide = true, value_name = "NAME")]
    comm: Option<String>,
    #[arg(id = "refused_cmd", last = true, hide = true, value_name = "CMD")]
    cmd: Vec<OsString>,
}

impl NoTaskFilters {
    /// The first task filter given, as its option name.
    pub fn given(&self) -> Option<&'static str> {
        [
            (self.pid.is_some(), "--pid"),
            (self.tid.is_some(), "--tid"),
            (self.uid.is_some(), "--uid"),
            (self.cgroup.is_some(), "--cgroup"),
            (self.comm.is_some(), "--comm"),
            (!self.cmd.is_empty(), "-- CMD"),
        ]
        .into_iter()
        .find_map(|(on, name)| on.then_some(name))
    }

    /// Fails, saying why, if a task filter was given to `tool`.
    pub fn refuse(&self, tool: &str) -> Result<(), crate::UserError> {
        self.refuse_with(
            tool,
            "interrupt handlers run in no task of their own, in whichever task they interrupted",
            "leave the task filters out (--cpu N limits it to one CPU)",
        )
    }

    /// [`NoTaskFilters::refuse`] with the tool's own reason and hint.
    pub fn refuse_with(&self, tool: &str, why: &str, hint: &str) -> Result<(), crate::UserError> {
        match self.given() {
            None => Ok(()),
            Some(opt) => Err(crate::UserError::hint(
                format!("{tool} takes no {opt}: {why}"),
                hint,
            )),
        }
    }
}

fn parse_user(s: &str) -> Result<u32, String> {
    if let Ok(uid) = s.parse::<u32>() {
        return Ok(uid);
    }
    match nix::unistd::User::from_name(s) {
        Ok(Some(u)) => Ok(u.uid.as_raw()),
        Ok(None) => Err(format!("no such user: {s}")),
        Err(e) => Err(format!("cannot look up user {s}: {e}")),
    }
}

fn parse_comm(s: &str) -> Result<[u8; 16], String> {
    if s.is_empty() || s.len() > 15 {
        return Err("a command name has 1 to 15 bytes (the kernel's TASK_COMM_LEN - 1)".into());
    }
    let mut c = [0u8; 16];
    c[..s.len()].copy_from_slice(s.as_bytes());
    Ok(c)
}

fn parse_pages(s: &str) -> Result<u32, String> {
    let n: u32 = s.parse().map_err(|e| format!("{e}"))?;
    if n == 0 || !n.is_power_of_two() || n > (1 << 18) {
        return Err("must be a power of two between 1 and 262144".into());
    }
    Ok(n)
}

/// `--version` of every tool: the crate version, plus `git describe` when
/// built from a git checkout (set by build.rs).
pub const VERSION: &str = env!("CORESCOPE_VERSION");

/// Parses the command line of tool `name`, first giving the shared options
/// the short letters in `shorts` (`("pid", 'p')`, …). Exits with clap's
/// usage error (status 2) on bad input.
///
/// In debug builds (or with the `gen` feature), with
/// `CORESCOPE_GENERATE=KIND[:NAME]` in the environment, writes the tool's man
/// page or a shell completion instead (see [`crate::gen`]) and exits:
/// `make install` generates them this way from the clap definitions. Release
/// builds leave the generator out (it would add ~180 KB to every tool).
pub fn parse<T: Parser>(name: &'static str, shorts: &[(&'static str, char)]) -> T {
    generate_if_asked::<T>(name, shorts);
    match command::<T>(shorts)
        .name(name)
        .try_get_matches_from(args_os())
        .and_then(|mut m| T::from_arg_matches_mut(&mut m))
    {
        Ok(t) => t,
        Err(e) => exit_with(e),
    }
}

/// With `CORESCOPE_GENERATE` (debug builds, or the `gen` feature): writes
/// the man page or completion asked for and exits.
fn generate_if_asked<T: Parser>(name: &'static str, shorts: &[(&'static str, char)]) {
    #[cfg(any(debug_assertions, feature = "gen"))]
    if let Some(req) = std::env::var_os(crate::gen::ENV) {
        let code = match crate::gen::generate_to_stdout(command::<T>(shorts).name(name), &req) {
            Ok(()) => 0,
            // A reader that stopped early (`| head`) is no failure.
            Err(e) if crate::error::is_broken_pipe(&e) => 0,
            Err(e) => {
                crate::diag!("{}: {e:#}", crate::gen::ENV);
                2
            }
        };
        std::process::exit(code);
    }
    #[cfg(not(any(debug_assertions, feature = "gen")))]
    let _ = (name, shorts);
}

/// The shared options a tool has (flattened in its `Args`): the task
/// filters and run options, or (a tool that traces no tasks) the run
/// options only.
#[derive(Debug, Clone)]
pub enum Shared {
    Tasks(CommonArgs),
    RunOnly(RunArgs),
}

/// [`parse`], and the tool's shared options read from the same command
/// line: the runner's copy (it need not ask the tool for them). A tool
/// whose `Args` flattens [`CommonArgs`] has the task filters; one that
/// flattens only [`RunArgs`] has not.
pub fn parse_tool<T: Parser>(name: &'static str, shorts: &[(&'static str, char)]) -> (T, Shared) {
    generate_if_asked::<T>(name, shorts);
    match try_parse_tool_from(name, shorts, args_os()) {
        Ok(t) => t,
        Err(e) => exit_with(e),
    }
}

/// [`parse_tool`] from an explicit argument list.
pub fn try_parse_tool_from<T: Parser, I, A>(
    name: &'static str,
    shorts: &[(&'static str, char)],
    args: I,
) -> Result<(T, Shared), clap::Error>
where
    I: IntoIterator<Item = A>,
    A: Into<OsString> + Clone,
{
    let cmd = command::<T>(shorts).name(name);
    // The filter options' ids (see FilterArgs): asked of the matches only
    // when the command has them (clap panics on an undefined id).
    let tasks = cmd.get_arguments().any(|a| a.get_id() == "pid");
    let mut m = cmd.try_get_matches_from(args)?;
    let shared = match tasks {
        true => Shared::Tasks(CommonArgs::from_arg_matches(&m)?),
        false => Shared::RunOnly(RunArgs::from_arg_matches(&m)?),
    };
    Ok((T::from_arg_matches_mut(&mut m)?, shared))
}

static SKIP_ARG0: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// For the multi-call binary's `corescope TOOL ARGS…`: from now on the
/// command line is `TOOL ARGS…` (the tool's name is its argv[0]).
pub fn skip_arg0() {
    SKIP_ARG0.store(true, std::sync::atomic::Ordering::Relaxed);
}

thread_local! {
    /// This thread's tool command line (the exporter runs each tool on a
    /// thread of its own: [`set_thread_args`]).
    static THREAD_ARGS: std::cell::RefCell<Option<Vec<OsString>>> =
        const { std::cell::RefCell::new(None) };
}

/// The command line (`TOOL ARGS…`) the tool on this thread parses, instead
/// of the process's.
pub fn set_thread_args(args: Vec<OsString>) {
    THREAD_ARGS.with(|a| *a.borrow_mut() = Some(args));
}

/// The process's arguments as the running tool sees them (see
/// [`skip_arg0`], [`set_thread_args`]).
pub fn args_os() -> std::vec::IntoIter<OsString> {
    if let Some(v) = THREAD_ARGS.with(|a| a.borrow().clone()) {
        return v.into_iter();
    }
    let skip = SKIP_ARG0.load(std::sync::atomic::Ordering::Relaxed);
    let v: Vec<OsString> = std::env::args_os().skip(usize::from(skip)).collect();
    v.into_iter()
}

/// The clap command of tool `T` with its short letters and version.
pub fn command<T: Parser>(shorts: &[(&'static str, char)]) -> clap::Command {
    let mut cmd = T::command().version(VERSION);
    for &(id, c) in shorts {
        cmd = cmd.mut_arg(id, |a| a.short(c));
    }
    cmd
}

/// clap's `Error::exit`, except that `--help` / `--version` output that
/// cannot be written (a full disk) is an error, exit 1; a closed pipe is a
/// normal end. clap itself ignores every write error.
fn exit_with(e: clap::Error) -> ! {
    use clap::error::ErrorKind;
    use std::io::{IsTerminal as _, Write as _};
    let shown = matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion);
    // A terminal gets clap's colours (and cannot be full).
    if !shown || std::io::stdout().is_terminal() {
        e.exit();
    }
    let text = e.render().to_string();
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(err) if err.kind() != std::io::ErrorKind::BrokenPipe => {
            let tool = crate::error::tool_name();
            crate::diag!("{tool}: error: writing to stdout failed: {err}");
            std::process::exit(1)
        }
        _ => std::process::exit(0),
    }
}

/// [`parse`] from an explicit argument list, returning clap's error (tests).
pub fn try_parse_from<T: Parser, I, A>(
    shorts: &[(&'static str, char)],
    args: I,
) -> Result<T, clap::Error>
where
    I: IntoIterator<Item = A>,
    A: Into<OsString> + Clone,
{
    let mut m = command::<T>(shorts).try_get_matches_from(args)?;
    T::from_arg_matches_mut(&mut m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Parser, Debug)]
    struct T {
        #[command(flatten)]
        common: CommonArgs,
        #[arg(short = 't', long)]
        timestamp: bool,
    }
    const SHORTS: &[(&str, char)] = &[("pid", 'p'), ("uid", 'u'), ("json", 'j'), ("duration", 'd')];

    fn p(args: &[&str]) -> Result<T, clap::Error> {
        try_parse_from::<T, _, _>(SHORTS, std::iter::once("t").chain(args.iter().copied()))
    }

    #[test]
    fn pid_list_and_shorts() {
        let t = p(&["-p", "1,2,3", "-j", "-d", "5", "-t"]).unwrap();
        assert_eq!(t.common.filter.pid, vec![1, 2, 3]);
        assert!(t.common.run.json && t.timestamp);
        assert_eq!(t.common.run.duration, Some(5));
    }

    #[test]
    fn bad_numbers_rejected() {
        assert!(p(&["-p", "abc"]).is_err());
        assert!(p(&["-p", "0"]).is_err());
        assert!(p(&["-d", "0"]).is_err());
        assert!(p(&["--buffer-pages", "3"]).is_err());
        assert!(p(&["--comm", "this-name-is-too-long"]).is_err());
    }

    #[test]
    fn uid_by_number_and_name() {
        assert_eq!(p(&["-u", "0"]).unwrap().common.filter.uid, Some(0));
        assert_eq!(p(&["-u", "root"]).unwrap().common.filter.uid, Some(0));
        assert!(p(&["-u", "no-such-user-xyz"]).is_err());
    }

    #[test]
    fn output_file_short_and_long() {
        assert_eq!(p(&["-o", "f"]).unwrap().common.run.output, Some("f".into()));
        let t = p(&["--output", "g", "--", "sh"]).unwrap();
        assert_eq!(t.common.run.output, Some("g".into()));
        assert_eq!(t.common.filter.cmd, vec!["sh"]);
    }

    #[derive(Parser, Debug)]
    struct NoTasks {
        #[command(flatten)]
        run: RunArgs,
    }

    /// The runner's copy of the shared options is the tool's.
    #[test]
    fn shared_options_are_read_with_the_tool() {
        let args = ["t", "-p", "7", "--uid", "0", "-j", "--", "sh"];
        let (t, shared) = try_parse_tool_from::<T, _, _>("t", SHORTS, args).unwrap();
        let Shared::Tasks(c) = shared else {
            panic!("a tool with CommonArgs has the task filters")
        };
        assert_eq!(
            (c.filter.pid, c.filter.uid, c.run.json),
            (vec![7], Some(0), true)
        );
        assert_eq!((t.common.filter.pid, c.filter.cmd.len()), (vec![7], 1));
        let (args, shorts) = (["x", "-j", "-d", "3"], &[("json", 'j'), ("duration", 'd')]);
        let (_, shared) = try_parse_tool_from::<NoTasks, _, _>("x", shorts, args).unwrap();
        let Shared::RunOnly(r) = shared else {
            panic!("a tool with only RunArgs has no task filters")
        };
        assert_eq!((r.json, r.duration), (true, Some(3)));
        let bad = try_parse_tool_from::<NoTasks, _, _>("x", shorts, ["x", "--pid", "1"]);
        assert!(bad.is_err());
    }

    #[test]
    fn trailing_command() {
        let t = p(&["-j", "--", "sh", "-c", "exit 3"]).unwrap();
        assert_eq!(t.common.filter.cmd, vec!["sh", "-c", "exit 3"]);
    }
}
