//! How a run ends, for every tool (root): a stderr or stdout that cannot be
//! written, far-away deadlines, `-- CMD` ended with the tool (never left
//! running), CMD's signal state, a closed stdout with nothing to write, and
//! `-o FILE`.
//!
//! CMDs here are `sleep 999.N` (N unique to the test run): a guard kills a
//! left-over one by PID, only if its command line is still that.

use std::io::{BufRead, BufReader};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::Value;

use crate::util::{
    json_events, json_lines, json_summary, root_or_skip, tool, ChildGuard, TempDir, ToolRun,
};

const READY: Duration = Duration::from_secs(60);
const END: Duration = Duration::from_secs(60);
const TRACERS: &[&str] = &["execsnoop", "opensnoop", "tcplife"];

fn full() -> Stdio {
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full");
    Stdio::from(f)
}

/// The write end of a pipe whose read end is already closed.
fn closed_pipe() -> Stdio {
    let (r, w): (OwnedFd, OwnedFd) = nix::unistd::pipe().expect("pipe");
    drop(r);
    Stdio::from(w)
}

fn wait(child: &mut ChildGuard, what: &str) -> ExitStatus {
    let end = Instant::now() + END;
    loop {
        if let Some(st) = child.0.try_wait().expect("try_wait") {
            return st;
        }
        assert!(Instant::now() < end, "{what}: still running after {END:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn code_of(st: ExitStatus, what: &str) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    st.code()
        .unwrap_or_else(|| panic!("{what}: killed by signal {:?}", st.signal()))
}

/// A network namespace of this test (only `lo`, down): somewhere xdpdrop
/// may attach without touching any traffic. Deleted on drop.
struct Netns(String);

impl Netns {
    fn new(tag: &str) -> Self {
        let name = format!("cslife-{tag}-{}", std::process::id());
        let st = Command::new("ip")
            .args(["netns", "add", &name])
            .status()
            .expect("ip netns add");
        assert!(st.success(), "ip netns add {name}");
        Self(name)
    }

    /// xdpdrop on this namespace's `lo` (generic XDP) with `args`.
    fn xdpdrop(&self, args: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.0])
            .arg(tool("xdpdrop"))
            .args(["lo", "-m", "skb"])
            .args(args)
            .stdin(Stdio::null());
        c
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

fn tracer(name: &str, args: &[&str]) -> Command {
    let mut c = Command::new(tool(name));
    c.args(args).stdin(Stdio::null());
    c
}

// ---- 1. a stderr or stdout that cannot be written --------------------------

/// stderr on /dev/full or a closed pipe: diagnostics are lost, the run is
/// not (exit 0 after -d 1, the summary line included).
#[test]
fn unwritable_stderr_never_crashes_a_tool() {
    let Some(_root) = root_or_skip("unwritable_stderr_never_crashes_a_tool") else {
        return;
    };
    let ns = Netns::new("stderr");
    for (kind, make) in [
        ("/dev/full", full as fn() -> Stdio),
        ("closed pipe", closed_pipe),
    ] {
        for t in TRACERS {
            let mut c = tracer(t, &["-v", "-d", "1"]);
            c.stdout(Stdio::null()).stderr(make());
            let mut child = ChildGuard::spawn(&mut c);
            let what = format!("{t} with stderr on a {kind}");
            assert_eq!(code_of(wait(&mut child, &what), &what), 0, "{what}");
        }
        let mut c = ns.xdpdrop(&["-v", "-d", "1"]);
        c.stdout(Stdio::null()).stderr(make());
        let mut child = ChildGuard::spawn(&mut c);
        let what = format!("xdpdrop with stderr on a {kind}");
        assert_eq!(code_of(wait(&mut child, &what), &what), 0, "{what}");
    }
}

/// stdout on /dev/full: one clear error naming stdout, exit 1, no panic.
#[test]
fn full_stdout_is_one_clear_error() {
    let Some(_root) = root_or_skip("full_stdout_is_one_clear_error") else {
        return;
    };
    let ns = Netns::new("stdout");
    let mut runs: Vec<(String, Command)> = TRACERS
        .iter()
        .flat_map(|t| {
            [&["-d", "1"][..], &["-d", "1", "--json"][..]]
                .map(|a| (format!("{t} {a:?}"), tracer(t, a)))
        })
        .collect();
    runs.push(("xdpdrop".into(), ns.xdpdrop(&["-d", "1"])));
    runs.push(("xdpdrop --json".into(), ns.xdpdrop(&["-d", "1", "--json"])));
    for (what, mut c) in runs {
        let out = c.stdout(full()).stderr(Stdio::piped()).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(code_of(out.status, &what), 1, "{what}: stderr:\n{err}");
        let errors: Vec<&str> = err.lines().filter(|l| l.contains("error:")).collect();
        assert!(
            errors.len() == 1
                && errors[0].contains("error: writing to stdout")
                && errors[0].contains("No space left on device")
                && err.lines().last().is_some_and(|l| l.starts_with("hint: ")),
            "{what}: stderr:\n{err}"
        );
    }
}

// ---- 2. deadlines too far away ---------------------------------------------

const FAR: &str = "9223372036854775807";

#[test]
fn huge_duration_and_interval_mean_no_deadline() {
    let Some(_root) = root_or_skip("huge_duration_and_interval_mean_no_deadline") else {
        return;
    };
    for t in TRACERS {
        let mut r = ToolRun::start(t, &["-v", "-j", "-d", FAR], Stdio::null());
        r.wait_ready(READY);
        std::thread::sleep(Duration::from_millis(300));
        r.signal(Signal::SIGINT);
        let f = r.wait(END);
        assert_eq!(f.code(), 0, "{t} -d {FAR}: stderr:\n{}", f.stderr);
        json_summary(&json_lines(&f.stdout));
    }
    let ns = Netns::new("far");
    let mut c = ns.xdpdrop(&["-j", "-i", FAR, "-d", FAR]);
    c.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut x = ToolRun::start_cmd(c, Stdio::null());
    let end = Instant::now() + READY;
    while !x.stderr_now().contains("attached to") {
        assert!(Instant::now() < end, "xdpdrop: {}", x.stderr_now());
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    x.signal(Signal::SIGTERM); // ip netns exec execs xdpdrop: same PID
    let f = x.wait(END);
    assert_eq!(f.code(), 0, "xdpdrop -i/-d {FAR}: stderr:\n{}", f.stderr);
    json_summary(&json_lines(&f.stdout));
}

// ---- 3. -- CMD ends with the tool ------------------------------------------

/// A `-- sh -c '…; exec sleep 999.N'` CMD that writes its PID to a file.
struct Cmd {
    dir: TempDir,
    prelude: String,
    sleep: String,
    pid: Option<u32>,
}

impl Cmd {
    /// `prelude` runs in the shell first (e.g. `trap '' TERM;`).
    fn new(prelude: &str) -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        Self {
            dir: TempDir::new(0o755),
            prelude: prelude.into(),
            sleep: format!("999.{}{n}", std::process::id()),
            pid: None,
        }
    }

    fn pidfile(&self) -> PathBuf {
        self.dir.path().join("pid")
    }

    /// The argv after `--`.
    fn argv(&self) -> Vec<String> {
        let script = format!(
            "{} echo $$ > {}; exec sleep {}",
            self.prelude,
            self.pidfile().display(),
            self.sleep
        );
        vec!["sh".into(), "-c".into(), script]
    }

    /// Waits for the PID file: CMD was released and is (about to be) sleeping.
    fn wait_pid(&mut self) -> u32 {
        let end = Instant::now() + READY;
        loop {
            if let Some(pid) = std::fs::read_to_string(self.pidfile())
                .ok()
                .and_then(|s| s.trim().parse().ok())
            {
                // Until sh has exec'd sleep, it is not what the guard kills.
                while !self.is_ours(pid) && Instant::now() < end {
                    std::thread::sleep(Duration::from_millis(10));
                }
                self.pid = Some(pid);
                return pid;
            }
            assert!(Instant::now() < end, "CMD never started");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// PID `pid` is still our `sleep 999.N` (alive or a zombie).
    fn is_ours(&self, pid: u32) -> bool {
        std::fs::read(format!("/proc/{pid}/cmdline"))
            .is_ok_and(|c| c == format!("sleep\0{}\0", self.sleep).as_bytes())
    }

    fn assert_gone(&self, what: &str) {
        let pid = self.pid.expect("CMD PID");
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists() || !self.is_ours(pid),
            "{what}: CMD (PID {pid}) is still there after the tool exited"
        );
    }
}

impl Drop for Cmd {
    fn drop(&mut self) {
        if let Some(pid) = self.pid.filter(|&p| self.is_ours(p)) {
            let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
        }
    }
}

fn cmd_args<'a>(pre: &[&'a str], cmd: &'a [String]) -> Vec<&'a str> {
    let mut v = pre.to_vec();
    v.push("--");
    v.extend(cmd.iter().map(String::as_str));
    v
}

fn summary_of(stdout: &str) -> Value {
    json_summary(&json_lines(stdout)).clone()
}

/// The tool ends first (-d, SIGTERM, SIGHUP): it stops CMD with SIGTERM,
/// reaps it, says so on stderr and in the summary, and exits 0.
#[test]
fn cmd_is_stopped_when_the_tool_ends_first() {
    let Some(_root) = root_or_skip("cmd_is_stopped_when_the_tool_ends_first") else {
        return;
    };
    for how in ["duration", "SIGTERM", "SIGHUP"] {
        let mut cmd = Cmd::new("");
        let argv = cmd.argv();
        let pre: &[&str] = if how == "duration" {
            &["-j", "-v", "-d", "2"]
        } else {
            &["-j", "-v"]
        };
        let mut t = ToolRun::start("execsnoop", &cmd_args(pre, &argv), Stdio::null());
        t.wait_ready(READY);
        let pid = cmd.wait_pid();
        match how {
            "SIGTERM" => t.signal(Signal::SIGTERM),
            "SIGHUP" => t.signal(Signal::SIGHUP),
            _ => {}
        }
        let f = t.wait(END);
        cmd.assert_gone(how);
        assert_eq!(f.code(), 0, "{how}: stderr:\n{}", f.stderr);
        let s = summary_of(&f.stdout);
        assert_eq!(s["cmd_ended"], "terminated", "{how}: {s}");
        assert_eq!(s["cmd_signal"], "SIGTERM", "{how}: {s}");
        assert_eq!(s["cmd_exit_code"], 143, "{how}: {s}");
        assert!(
            f.stderr
                .contains(&format!("CMD sh (PID {pid}) was still running")),
            "{how}: stderr:\n{}",
            f.stderr
        );
    }
}

/// A CMD that ignores SIGTERM is killed after the grace period.
#[test]
fn cmd_ignoring_sigterm_is_killed() {
    let Some(_root) = root_or_skip("cmd_ignoring_sigterm_is_killed") else {
        return;
    };
    let mut cmd = Cmd::new("trap '' TERM;");
    let argv = cmd.argv();
    let mut t = ToolRun::start(
        "execsnoop",
        &cmd_args(&["-j", "-v", "-d", "1"], &argv),
        Stdio::null(),
    );
    t.wait_ready(READY);
    cmd.wait_pid();
    let f = t.wait(END);
    cmd.assert_gone("SIGTERM ignored");
    assert_eq!(f.code(), 0, "stderr:\n{}", f.stderr);
    let s = summary_of(&f.stdout);
    assert_eq!(s["cmd_ended"], "killed", "{s}");
    assert_eq!(s["cmd_signal"], "SIGKILL", "{s}");
    assert_eq!(s["cmd_exit_code"], 137, "{s}");
}

/// Ctrl-C at a terminal: CMD is in the tool's process group and gets the
/// SIGINT too; the tool exits with CMD's status (130).
#[test]
fn sigint_to_the_process_group_ends_both() {
    let Some(_root) = root_or_skip("sigint_to_the_process_group_ends_both") else {
        return;
    };
    use std::os::unix::process::CommandExt;
    let mut cmd = Cmd::new("");
    let argv = cmd.argv();
    let mut c = Command::new(tool("execsnoop"));
    c.args(cmd_args(&["-j", "-v"], &argv)).process_group(0);
    let mut t = ToolRun::start_cmd(c, Stdio::null());
    t.wait_ready(READY);
    let pid = cmd.wait_pid();
    let pgid = nix::unistd::getpgid(Some(Pid::from_raw(pid as i32))).expect("getpgid");
    assert_eq!(pgid.as_raw() as u32, t.pid(), "CMD is in the tool's group");
    kill(Pid::from_raw(-(t.pid() as i32)), Signal::SIGINT).expect("kill -INT -pgid");
    let f = t.wait(END);
    cmd.assert_gone("SIGINT");
    assert_eq!(f.code(), 130, "stderr:\n{}", f.stderr);
    let s = summary_of(&f.stdout);
    assert_eq!(s["cmd_ended"], "signal", "{s}");
    assert_eq!(s["cmd_signal"], "SIGINT", "{s}");
    assert_eq!(s["cmd_exit_code"], 130, "{s}");
}

/// A tool killed outright (SIGKILL) takes CMD with it (parent-death signal).
#[test]
fn cmd_does_not_outlive_a_killed_tool() {
    let Some(_root) = root_or_skip("cmd_does_not_outlive_a_killed_tool") else {
        return;
    };
    let mut cmd = Cmd::new("");
    let argv = cmd.argv();
    let mut t = ToolRun::start("execsnoop", &cmd_args(&["-v"], &argv), Stdio::null());
    t.wait_ready(READY);
    let pid = cmd.wait_pid();
    t.signal(Signal::SIGKILL);
    let _ = t.wait(END);
    let end = Instant::now() + Duration::from_secs(5);
    while cmd.is_ours(pid) && Path::new(&format!("/proc/{pid}/status")).exists() {
        let zombie = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .is_ok_and(|s| s.contains("State:\tZ"));
        if zombie {
            break;
        }
        assert!(Instant::now() < end, "CMD {pid} outlived the killed tool");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The tool's stdout is closed (its reader went away): CMD is stopped too,
/// and the tool says so on stderr.
#[test]
fn closed_stdout_stops_cmd() {
    let Some(_root) = root_or_skip("closed_stdout_stops_cmd") else {
        return;
    };
    let mut cmd = Cmd::new("");
    let argv = cmd.argv();
    let mut c = tracer("execsnoop", &cmd_args(&[], &argv));
    c.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = ChildGuard::spawn(&mut c);
    let stderr = child.0.stderr.take().expect("stderr");
    let err = std::thread::spawn(move || std::io::read_to_string(stderr).unwrap_or_default());
    let mut out = BufReader::new(child.0.stdout.take().expect("stdout"));
    let mut header = String::new();
    out.read_line(&mut header).expect("header");
    assert!(header.contains("PID"), "header: {header:?}");
    let pid = cmd.wait_pid();
    drop(out);
    let st = wait(&mut child, "closed stdout");
    cmd.assert_gone("closed stdout");
    let err = err.join().unwrap_or_default();
    assert_eq!(code_of(st, "closed stdout"), 0, "stderr:\n{err}");
    assert!(
        err.contains(&format!("CMD sh (PID {pid}) was still running")) && err.contains("SIGTERM"),
        "stderr:\n{err}"
    );
}

// ---- 4. CMD starts with default signal dispositions and an empty mask ------

fn sig_lines(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.starts_with("SigIgn:") || l.starts_with("SigBlk:"))
        .map(String::from)
        .collect()
}

#[test]
fn cmd_gets_default_signals_and_empty_mask() {
    let Some(_root) = root_or_skip("cmd_gets_default_signals_and_empty_mask") else {
        return;
    };
    let script = "grep SigIgn /proc/self/status; grep SigBlk /proc/self/status";
    // What the same command shows run directly from here.
    let direct = Command::new("sh").args(["-c", script]).output().unwrap();
    let want = sig_lines(&String::from_utf8_lossy(&direct.stdout));
    assert_eq!(want.len(), 2, "{want:?}");
    let mut t = ToolRun::start("execsnoop", &["--", "sh", "-c", script], Stdio::null());
    let f = t.wait(END);
    assert_eq!(f.code(), 0, "stderr:\n{}", f.stderr);
    assert_eq!(sig_lines(&f.stdout), want, "stdout:\n{}", f.stdout);
    // The comparison means something: here SIGPIPE (bit 13) is not ignored.
    let ign = u64::from_str_radix(want[0].trim_start_matches("SigIgn:").trim(), 16).unwrap();
    assert_eq!(
        ign & (1 << 12),
        0,
        "the test itself ignores SIGPIPE: {want:?}"
    );
}

// ---- 5. a closed stdout is noticed with nothing to write -------------------

fn exits_soon_after_stdout_closes(what: &str, mut c: Command) {
    c.stdout(Stdio::piped()).stderr(Stdio::null());
    let mut child = ChildGuard::spawn(&mut c);
    let mut out = BufReader::new(child.0.stdout.take().expect("stdout"));
    let mut header = String::new();
    out.read_line(&mut header).expect("header");
    assert!(!header.is_empty(), "{what}: no header");
    std::thread::sleep(Duration::from_millis(200));
    drop(out);
    let closed = Instant::now();
    let end = closed + Duration::from_secs(10);
    let st = loop {
        if let Some(st) = child.0.try_wait().expect("try_wait") {
            break st;
        }
        assert!(
            Instant::now() < end,
            "{what}: still running 10 s after its stdout closed"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    let took = closed.elapsed();
    assert_eq!(code_of(st, what), 0, "{what}");
    assert!(took < Duration::from_millis(1500), "{what}: took {took:?}");
}

#[test]
fn closed_stdout_is_noticed_without_events() {
    let Some(_root) = root_or_skip("closed_stdout_is_noticed_without_events") else {
        return;
    };
    // A process that execs nothing: the -p filter matches no event.
    let idle = ChildGuard::spawn(Command::new("sleep").arg("1000").stdin(Stdio::null()));
    let pid = idle.pid().to_string();
    for t in ["execsnoop", "opensnoop", "tcplife"] {
        exits_soon_after_stdout_closes(t, tracer(t, &["-p", &pid]));
    }
    let ns = Netns::new("closed");
    exits_soon_after_stdout_closes("xdpdrop -i 1000", ns.xdpdrop(&["-i", "1000"]));
}

// ---- 6. -o FILE ------------------------------------------------------------

/// Events and the summary go to FILE; CMD's own output keeps stdout.
#[test]
fn output_file_keeps_cmd_output_apart() {
    let Some(_root) = root_or_skip("output_file_keeps_cmd_output_apart") else {
        return;
    };
    let dir = TempDir::new(0o755);
    let file = dir.path().join("events.jsonl");
    std::fs::write(&file, "stale content that must go\n".repeat(100)).unwrap();
    let f = file.to_str().unwrap();
    let mut t = ToolRun::start(
        "execsnoop",
        &["-j", "-o", f, "--", "sh", "-c", "echo hello; /bin/true"],
        Stdio::null(),
    );
    let r = t.wait(END);
    assert_eq!(r.code(), 0, "stderr:\n{}", r.stderr);
    assert_eq!(r.stdout, "hello\n");
    let text = std::fs::read_to_string(&file).unwrap();
    let lines = json_lines(&text);
    let ev = json_events(&lines);
    assert!(
        ev.iter()
            .any(|e| e["filename"] == "/bin/true" && e["ret"] == 0),
        "no exec of /bin/true in:\n{text}"
    );
    assert_eq!(json_summary(&lines)["cmd_exit_code"], 0);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode & !0o644, 0, "mode {mode:o}");

    // Table mode too, with the long option.
    let mut t = ToolRun::start(
        "execsnoop",
        &["--output", f, "--", "sh", "-c", "echo hi; /bin/true"],
        Stdio::null(),
    );
    let r = t.wait(END);
    assert_eq!((r.code(), r.stdout.as_str()), (0, "hi\n"), "{}", r.stderr);
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.starts_with("PCOMM") && text.contains("/bin/true"),
        "{text}"
    );
}

#[test]
fn output_file_that_cannot_be_opened_is_a_clear_error() {
    let Some(_root) = root_or_skip("output_file_that_cannot_be_opened_is_a_clear_error") else {
        return;
    };
    let dir = TempDir::new(0o755);
    let bad = dir.path().join("no-such-dir").join("x\x1b[2J");
    let mut t = ToolRun::start("opensnoop", &["-o", bad.to_str().unwrap()], Stdio::null());
    let r = t.wait(END);
    assert_eq!(r.code(), 1, "stderr:\n{}", r.stderr);
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(lines.len(), 2, "one error and a hint:\n{}", r.stderr);
    assert!(
        lines[0].contains("cannot open the output file")
            && lines[0].contains("x\\e[2J")
            && lines[0].contains("No such file or directory")
            && !r.stderr.contains('\x1b'),
        "stderr:\n{}",
        r.stderr
    );
    assert!(lines[1].starts_with("hint: "), "{}", r.stderr);
}
