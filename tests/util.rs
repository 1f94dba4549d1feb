//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

thread_local! {
    /// The tools this test thread has run (through [`tool`]): whose JSON
    /// [`json_lines`] checks against docs/json.md.
    static STARTED: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Path of a tool binary built by cargo for this test run (noted as one
/// this thread runs, for [`json_lines`]).
pub fn tool(name: &str) -> PathBuf {
    STARTED.with(|s| {
        let mut s = s.borrow_mut();
        if !s.iter().any(|t| t == name) {
            s.push(name.to_string());
        }
    });
    let mut p = PathBuf::from(env!("CARGO_BIN_EXE_execsnoop"));
    p.set_file_name(name);
    p
}

/// Every tool: the folders of tools/ with a mod.rs (as build.rs finds them).
pub fn tools() -> Vec<String> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tools");
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .expect("tools/")
        .filter_map(|e| {
            let e = e.ok()?;
            e.path().join("mod.rs").is_file().then_some(())?;
            e.file_name().to_str().map(String::from)
        })
        .collect();
    v.sort();
    v
}

// ---------------------------------------------------------------------------
// Helpers for the root tests (tests/root_execsnoop.rs).

/// Held for the whole of a root test (see [`root_or_skip`]).
pub enum RootGuard {
    Shared(std::sync::RwLockReadGuard<'static, ()>),
    Exclusive(std::sync::RwLockWriteGuard<'static, ()>),
}

/// Root tests run two at a time; a test that asserts *no* loss under a
/// burst runs alone ([`root_exclusive_or_skip`]): another test's tracing
/// programs on the same CPU make the kernel skip runs (rightly counted as
/// lost, but not what such a test measures).
static ROOT_TESTS: std::sync::RwLock<()> = std::sync::RwLock::new(());

/// `unshare -m sh -c "SCRIPT"` with tracefs at /sys/kernel/tracing (what
/// libbpf-tools needs): mounted in the private mount namespace only, gone
/// with the process; a tracefs the host already has (a benchmark's, for a
/// moment) is used as it is.
pub fn with_tracefs(script: &str) -> Command {
    let mut c = Command::new("unshare");
    c.args(["-m", "--propagation", "private", "sh", "-c"])
        .arg(format!(
            "{{ mountpoint -q /sys/kernel/tracing || mount -t tracefs none /sys/kernel/tracing || exit 1; }}; {script}"
        ));
    c
}

/// libbpf-tools' `TOOL ARGS` (Debian's, in /usr/sbin) run to its end with
/// tracefs ([`with_tracefs`]): its stdout; None, said, when not installed.
pub fn libbpf_tools_output(tool: &str, args: &str) -> Option<String> {
    let bin = format!("/usr/sbin/{tool}");
    if !std::path::Path::new(&bin).exists() {
        eprintln!("{tool} vs libbpf-tools: {bin} missing, compared ours only");
        return None;
    }
    let out = with_tracefs(&format!("exec {bin} {args}"))
        .stdin(Stdio::null())
        .output()
        .expect("unshare");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8(out.stdout).unwrap())
}

/// Asserts libbpf-tools' `print_log2_hist` row layout:
/// `"%10lld -> %-10lld : %-8d |"` then 40 columns of stars and `|`.
pub fn assert_log2_row(l: &str) {
    assert_eq!(l.len(), 78, "{l:?}");
    assert_eq!(&l[10..14], " -> ");
    assert_eq!(&l[24..27], " : ");
    assert!(l.ends_with('|') && l[35..37] == *" |", "{l:?}");
}

/// Runs `tool ARGS` and asserts it is refused: exit 1, `why` and a hint on
/// stderr, nothing on stdout.
pub fn assert_refused(tool: &str, args: &[&str], why: &str) {
    let f = ToolRun::start(tool, args, Stdio::null()).wait(Duration::from_secs(30));
    assert_eq!(f.code(), 1, "{args:?}: {}", f.stderr);
    assert!(f.stderr.contains(why), "{}", f.stderr);
    assert!(f.stderr.contains("hint: "), "{}", f.stderr);
    assert!(f.stdout.is_empty());
}

/// Whether a root test should run: yes as root (returning its guard); as
/// another user it skips (saying why on stderr), except with CI=true, where
/// it fails.
pub fn root_or_skip(test: &str) -> Option<RootGuard> {
    is_root(test).then(|| RootGuard::Shared(ROOT_TESTS.read().unwrap_or_else(|e| e.into_inner())))
}

/// [`root_or_skip`] for a test that must run with no other root test.
pub fn root_exclusive_or_skip(test: &str) -> Option<RootGuard> {
    is_root(test)
        .then(|| RootGuard::Exclusive(ROOT_TESTS.write().unwrap_or_else(|e| e.into_inner())))
}

fn is_root(test: &str) -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!(
            "{test}: root tests must run in CI (CI=true), but euid is {}",
            nix::unistd::geteuid()
        );
    }
    // Straight to fd 2: libtest hides eprintln! output of passing tests.
    use std::io::Write as _;
    let _ = writeln!(
        std::io::stderr(),
        "{test}: skipped: needs root to load BPF programs (run the tests with sudo)"
    );
    false
}

/// A string no other test or process will produce: PID, counter, time.
pub fn marker(tag: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    format!(
        "csm{}x{n}x{}{}_{tag}",
        std::process::id(),
        t.as_secs() % 100_000,
        t.subsec_nanos()
    )
}

/// A fresh directory under the system temp dir, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(mode: u32) -> Self {
        use std::os::unix::fs::PermissionsExt;
        let p = std::env::temp_dir().join(marker("dir"));
        std::fs::create_dir(&p).expect("creating a temp dir");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode))
            .expect("chmod temp dir");
        Self(p)
    }
    pub fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Compiles the test helper NAME.c with `cc` into `dir`; returns the
/// binary. A helper of one tool's root tests is in its folder
/// (tools/<tool>/NAME.c); one that several use is in tests/helpers/.
pub fn compile_helper(name: &str, dir: &std::path::Path) -> PathBuf {
    compile_helper_with(name, dir, &[])
}

/// [`compile_helper`] with more `cc` flags (`-fno-omit-frame-pointer`).
pub fn compile_helper_with(name: &str, dir: &std::path::Path, flags: &[&str]) -> PathBuf {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let file = format!("{name}.c");
    let shared = root.join("tests/helpers").join(&file);
    let src = std::fs::read_dir(root.join("tools"))
        .expect("reading tools/")
        .flatten()
        .map(|d| d.path().join(&file))
        .find(|p| p.is_file())
        .unwrap_or(shared);
    let bin = dir.join(name);
    let out = Command::new("cc")
        .args(["-Wall", "-O1", "-pthread"])
        .args(flags)
        .arg("-o")
        .arg(&bin)
        .arg(&src)
        .stdin(Stdio::null())
        .output()
        .expect("running cc");
    assert!(
        out.status.success(),
        "cc {}: {}",
        src.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    bin
}

fn sigkill_and_reap(child: &mut Child) {
    if let Ok(None) = child.try_wait() {
        // Our own child, not yet reaped: its PID cannot have been reused.
        // Its descendants (a tool's `-- CMD` and what that started) are
        // ours too: stopped first, so none forks past the snapshot, then
        // killed, so a failed test leaves no orphan holding a port.
        let root = child.id();
        let tree = || -> Vec<u32> {
            corescope::filter::with_descendants(&[root])
                .into_iter()
                .filter(|&p| p != root)
                .collect()
        };
        let _ = kill(Pid::from_raw(root as i32), Signal::SIGSTOP);
        let mut seen = Vec::new();
        loop {
            let now = tree();
            let new: Vec<u32> = now.iter().copied().filter(|p| !seen.contains(p)).collect();
            if new.is_empty() {
                break;
            }
            for &p in &new {
                let _ = kill(Pid::from_raw(p as i32), Signal::SIGSTOP);
            }
            seen.extend(new);
        }
        for &p in &seen {
            let _ = kill(Pid::from_raw(p as i32), Signal::SIGKILL);
        }
        let _ = kill(Pid::from_raw(root as i32), Signal::SIGKILL);
        let _ = child.wait();
    }
}

/// A child process killed (SIGKILL, by PID) and reaped when dropped.
pub struct ChildGuard(pub Child);

impl ChildGuard {
    pub fn spawn(cmd: &mut Command) -> Self {
        Self(
            cmd.spawn()
                .unwrap_or_else(|e| panic!("spawning {cmd:?}: {e}")),
        )
    }
    pub fn pid(&self) -> u32 {
        self.0.id()
    }
    /// Waits for the exit, at most `timeout` (then panics; Drop kills it).
    pub fn wait_timeout(&mut self, timeout: Duration) -> ExitStatus {
        let end = Instant::now() + timeout;
        loop {
            if let Some(st) = self.0.try_wait().expect("try_wait") {
                return st;
            }
            assert!(
                Instant::now() < end,
                "process {} still running after {timeout:?}",
                self.pid()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        sigkill_and_reap(&mut self.0);
    }
}

/// What a finished tool run left.
#[derive(Debug)]
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    /// When the exit was noticed (polled every 5 ms).
    pub exited_at: Instant,
}

impl Finished {
    /// The exit code, or a panic naming the signal that ended the tool.
    pub fn code(&self) -> i32 {
        use std::os::unix::process::ExitStatusExt;
        self.status.code().unwrap_or_else(|| {
            panic!(
                "the tool was killed by signal {:?}; stdout:\n{}\nstderr:\n{}",
                self.status.signal().and_then(|s| Signal::try_from(s).ok()),
                self.stdout,
                self.stderr
            )
        })
    }
}

/// One captured output stream: read line by line in a thread, each line
/// sent on a channel and appended to the whole text.
struct Pump {
    lines: Receiver<String>,
    all: Arc<Mutex<Vec<u8>>>,
    done: Receiver<()>,
}

impl Pump {
    fn new(r: impl Read + Send + 'static) -> Self {
        let (line_tx, lines) = mpsc::channel();
        let (done_tx, done) = mpsc::channel();
        let all = Arc::new(Mutex::new(Vec::new()));
        let all2 = Arc::clone(&all);
        std::thread::spawn(move || {
            let mut r = BufReader::new(r);
            let mut line = Vec::new();
            while matches!(r.read_until(b'\n', &mut line), Ok(n) if n > 0) {
                all2.lock().unwrap().extend_from_slice(&line);
                let s = String::from_utf8_lossy(&line);
                let _ = line_tx.send(s.trim_end_matches('\n').to_string());
                line.clear();
            }
            let _ = done_tx.send(());
        });
        Self { lines, all, done }
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.all.lock().unwrap()).into_owned()
    }

    /// The next line satisfying `pred`, waiting at most until `end`;
    /// `Err(true)` on timeout, `Err(false)` at EOF.
    fn find(&self, end: Instant, mut pred: impl FnMut(&str) -> bool) -> Result<String, bool> {
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) if pred(&l) => return Ok(l),
                Ok(_) => {}
                Err(RecvTimeoutError::Timeout) => return Err(true),
                Err(RecvTimeoutError::Disconnected) => return Err(false),
            }
        }
    }
}

/// A running tool with its stdout and stderr read line by line in threads;
/// killed (SIGKILL, by PID) and reaped when dropped.
pub struct ToolRun {
    name: String,
    child: Child,
    pub started: Instant,
    stdout: Pump,
    stderr: Pump,
}

impl ToolRun {
    /// Starts `tool(name)` with `args`; stdin is `stdin`, stdout and stderr
    /// are captured.
    pub fn start(name: &str, args: &[&str], stdin: Stdio) -> Self {
        let mut cmd = Command::new(tool(name));
        cmd.args(args);
        Self::start_cmd(cmd, stdin)
    }

    /// Starts a prepared command running one of the tools.
    pub fn start_cmd(mut cmd: Command, stdin: Stdio) -> Self {
        let name = std::path::Path::new(cmd.get_program())
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        cmd.stdin(stdin)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let started = Instant::now();
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawning {cmd:?}: {e}"));
        let stdout = Pump::new(child.stdout.take().expect("stdout"));
        let stderr = Pump::new(child.stderr.take().expect("stderr"));
        Self {
            name,
            child,
            started,
            stdout,
            stderr,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn take_stdin(&mut self) -> Option<ChildStdin> {
        self.child.stdin.take()
    }

    /// Stderr so far.
    pub fn stderr_now(&self) -> String {
        self.stderr.text()
    }

    fn no_line(&mut self, what: &str, timeout: Duration, timed_out: bool) -> ! {
        let st = self.child.try_wait();
        panic!(
            "{what}: {} ({st:?}); stdout:\n{}\nstderr:\n{}",
            if timed_out {
                format!("not seen within {timeout:?}")
            } else {
                "the stream ended without it".into()
            },
            self.stdout.text(),
            self.stderr.text()
        )
    }

    /// Waits for the `-v` line `<tool>: tracing, N BPF programs attached`
    /// and returns N. Panics (with stderr) on timeout or an early exit.
    pub fn wait_ready(&mut self, timeout: Duration) -> usize {
        let ready = format!("{}: tracing, ", self.name);
        let end = Instant::now() + timeout;
        match self.stderr.find(end, |l| l.starts_with(&ready)) {
            Ok(l) => l[ready.len()..]
                .split_whitespace()
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("bad readiness line {l:?}")),
            Err(t) => self.no_line("the readiness line", timeout, t),
        }
    }

    /// Waits for a stdout line satisfying `pred` and returns it.
    pub fn wait_stdout(&mut self, timeout: Duration, pred: impl FnMut(&str) -> bool) -> String {
        let end = Instant::now() + timeout;
        match self.stdout.find(end, pred) {
            Ok(l) => l,
            Err(t) => self.no_line("an expected stdout line", timeout, t),
        }
    }

    pub fn signal(&self, sig: Signal) {
        kill(Pid::from_raw(self.child.id() as i32), sig).expect("kill");
    }

    /// Waits for the exit (at most `timeout`, else panics; Drop kills),
    /// then collects stdout and stderr.
    pub fn wait(&mut self, timeout: Duration) -> Finished {
        let end = Instant::now() + timeout;
        let status = loop {
            if let Some(st) = self.child.try_wait().expect("try_wait") {
                break st;
            }
            if Instant::now() >= end {
                panic!(
                    "tool still running after {timeout:?}; stderr:\n{}",
                    self.stderr_now()
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let exited_at = Instant::now();
        // A left-over grandchild could hold the pipes open: bounded waits.
        let grace = Duration::from_secs(10);
        for (name, p) in [("stdout", &self.stdout), ("stderr", &self.stderr)] {
            p.done
                .recv_timeout(grace)
                .unwrap_or_else(|_| panic!("{name} still open 10 s after the tool exited"));
        }
        let stdout = self.stdout.all.lock().unwrap().clone();
        Finished {
            status,
            stdout: String::from_utf8(stdout).expect("stdout is not UTF-8"),
            stderr: self.stderr_now(),
            exited_at,
        }
    }
}

impl Drop for ToolRun {
    fn drop(&mut self) {
        sigkill_and_reap(&mut self.child);
    }
}

/// Every stdout line as JSON, each checked against docs/json.md
/// ([`crate::json_schema::check_line`]) as a record of a tool this test
/// thread ran ([`tool`]); panics naming a line that does not parse or
/// match.
pub fn json_lines(stdout: &str) -> Vec<serde_json::Value> {
    let tools = STARTED.with(|s| s.borrow().clone());
    json_lines_as(&tools, stdout)
}

/// [`json_lines`] for the output of `tool` (a tool run another way, e.g.
/// from another thread or through `corescope TOOL`).
pub fn json_lines_of(tool: &str, stdout: &str) -> Vec<serde_json::Value> {
    json_lines_as(&[tool.to_string()], stdout)
}

fn json_lines_as(tools: &[String], stdout: &str) -> Vec<serde_json::Value> {
    // `corescope` is no tool: its runs are `corescope TOOL`, said by the caller.
    let tools: Vec<String> = tools
        .iter()
        .filter(|t| *t != "corescope")
        .cloned()
        .collect();
    stdout
        .lines()
        .map(|l| crate::json_schema::check_line(&tools, l))
        .collect()
}

/// The `type: event` records.
pub fn json_events(v: &[serde_json::Value]) -> Vec<&serde_json::Value> {
    v.iter().filter(|r| r["type"] == "event").collect()
}

/// The single `type: summary` record, which must be the last line.
pub fn json_summary(v: &[serde_json::Value]) -> &serde_json::Value {
    let last = v.last().expect("no JSON output at all");
    assert_eq!(
        last["type"], "summary",
        "last line is not the summary: {last}"
    );
    assert_eq!(
        v.iter().filter(|r| r["type"] == "summary").count(),
        1,
        "more than one summary"
    );
    last
}

/// argv of an event as strings.
pub fn argv(ev: &serde_json::Value) -> Vec<String> {
    ev["argv"]
        .as_array()
        .unwrap_or_else(|| panic!("event without argv: {ev}"))
        .iter()
        .map(|a| a.as_str().expect("argv string").to_string())
        .collect()
}

/// An event field as u64.
pub fn num(ev: &serde_json::Value, field: &str) -> u64 {
    ev[field]
        .as_u64()
        .unwrap_or_else(|| panic!("no numeric {field} in {ev}"))
}

/// A dropped guard leaves none of its child's descendants behind (a failed
/// test must not orphan a helper: one held a fixed port and failed the next run).
#[test]
fn child_guard_kills_the_whole_tree() {
    let mut cmd = Command::new("/bin/sh");
    // The sleeps do not hold the test's output pipes, so a failure here
    // cannot hang the harness.
    cmd.args([
        "-c",
        "sleep 1000 </dev/null >/dev/null 2>&1 & sleep 1000 </dev/null >/dev/null 2>&1 & echo $!; wait",
    ])
    .stdout(Stdio::piped());
    let mut g = ChildGuard::spawn(&mut cmd);
    let mut line = String::new();
    let out = g.0.stdout.take().expect("stdout");
    BufReader::new(out).read_line(&mut line).expect("read");
    let started = Instant::now();
    while corescope::filter::with_descendants(&[g.0.id()]).len() < 3 {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "sleeps not started"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let root = g.0.id();
    let kids: Vec<u32> = corescope::filter::with_descendants(&[root])
        .into_iter()
        .filter(|&p| p != root)
        .collect();
    drop(g);
    // Killed children are reparented to init and reaped there: gone soon.
    let alive = |p: u32| {
        let st = std::fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default();
        !st.is_empty() && !st.contains(") Z ")
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    while kids.iter().any(|&p| alive(p)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let left: Vec<u32> = kids.iter().copied().filter(|&p| alive(p)).collect();
    for &p in &left {
        let _ = kill(Pid::from_raw(p as i32), Signal::SIGKILL); // ours: clean up, then fail
    }
    assert!(
        left.is_empty(),
        "outlived the guard: {left:?} (of {kids:?})"
    );
}

/// tests/helpers/syscalls.c (known syscall workloads for syscount and
/// filetop), built once, static when the C library allows it: no dynamic
/// loader, whose own opens and reads would add to the counts.
pub fn syscalls_helper() -> &'static std::path::Path {
    static BIN: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BIN.get_or_init(|| {
        let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("sc_helper");
        let src = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/helpers/syscalls.c");
        let cc = |fl: &[&str]| {
            Command::new("cc")
                .args(["-Wall", "-O1"])
                .args(fl)
                .arg("-o")
                .arg(&out)
                .arg(src)
                .stdin(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        assert!(cc(&["-static"]) || cc(&[]), "cc failed on {src}");
        out
    })
}

/// An event tool's clean endings: `TOOL | head -1` (the header read, the
/// pipe closed, `make_row` run to give it a row to write) exits 0, and
/// SIGTERM ends a JSON run with exit 0 and its summary.
pub fn closed_pipe_and_sigterm_end_cleanly(tool_name: &str, make_row: impl FnOnce()) {
    let mut c = Command::new(tool(tool_name));
    c.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut g = ChildGuard::spawn(&mut c);
    let out = g.0.stdout.take().expect("stdout");
    let mut header = String::new();
    BufReader::new(out).read_line(&mut header).expect("header");
    assert!(!header.is_empty(), "{tool_name}: no header");
    // The reader is gone: the pipe is closed.
    make_row();
    let st = g.wait_timeout(Duration::from_secs(10));
    assert_eq!(st.code(), Some(0), "{tool_name} | head -1: {st:?}");

    let mut t = ToolRun::start(tool_name, &["-v", "-j"], Stdio::null());
    t.wait_ready(Duration::from_secs(30));
    t.signal(Signal::SIGTERM);
    let f = t.wait(Duration::from_secs(30));
    assert_eq!(f.code(), 0, "{tool_name} SIGTERM: {}", f.stderr);
    json_summary(&json_lines(&f.stdout));
}
