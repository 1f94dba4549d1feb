//! The workloads of the profile and offcputime root tests: the helper
//! tests/helpers/stackwork.c, built with frame pointers, whose stacks and
//! timing are known (`main;outer;burn` burning CPU, `main;writer` in a
//! write(2) loop, `main;sleeper` sleeping N × MS ms), started before the
//! tool and released once it traces.

use std::io::{BufRead, BufReader, Write};
use std::process::{ChildStdin, ChildStdout, Command, Stdio};
use std::time::Duration;

use nix::sys::signal::Signal;

use crate::util::{compile_helper_with, ChildGuard, Finished, TempDir, ToolRun};

/// The helper built once per test into `dir` (with frame pointers).
pub fn build(dir: &std::path::Path) -> std::path::PathBuf {
    compile_helper_with("stackwork", dir, &["-fno-omit-frame-pointer"])
}

pub struct Work {
    kid: ChildGuard,
    pub pid: u32,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Work {
    /// `cmd` runs the helper (directly, or through `unshare … exec`); it
    /// waits for [`Work::go`].
    pub fn start(mut cmd: Command) -> Self {
        let mut kid = ChildGuard::spawn(cmd.stdin(Stdio::piped()).stdout(Stdio::piped()));
        let stdin = kid.0.stdin.take().expect("stdin");
        let mut stdout = BufReader::new(kid.0.stdout.take().expect("stdout"));
        let mut line = String::new();
        stdout.read_line(&mut line).expect("stackwork ready line");
        let f: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(f.first(), Some(&"ready"), "stackwork said {line:?}");
        let pid = f[1].parse().unwrap();
        Self {
            kid,
            pid,
            stdin,
            stdout,
        }
    }

    /// The helper run as `bin ARGS`.
    pub fn spawn(bin: &std::path::Path, args: &[&str]) -> Self {
        let mut cmd = Command::new(bin);
        cmd.args(args);
        Self::start(cmd)
    }

    /// Runs the workload to its end and waits for the helper to exit;
    /// its CPU time (s), as it measured it.
    pub fn go(&mut self) -> f64 {
        let cpu = self.go_held();
        self.exit();
        cpu
    }

    /// Runs the workload (started with a last argument `hold`); the
    /// helper stays until [`Work::exit`].
    pub fn go_held(&mut self) -> f64 {
        writeln!(self.stdin, "go").expect("stackwork stdin");
        let mut line = String::new();
        self.stdout
            .read_line(&mut line)
            .expect("stackwork done line");
        line.strip_prefix("done ")
            .and_then(|c| c.split_whitespace().next()?.parse().ok())
            .unwrap_or_else(|| panic!("stackwork said {line:?}"))
    }

    /// Lets a held helper exit (no effect on one that has), and reaps it.
    pub fn exit(&mut self) {
        let _ = writeln!(self.stdin, "exit");
        let st = self.kid.wait_timeout(Duration::from_secs(30));
        assert!(st.success(), "stackwork: {st:?}");
    }
}

/// Runs `tool -v ARGS` (`{pid}` in ARGS is the workload's PID) around the
/// workload; Ctrl-C once it has exited (so its stacks are symbolized from
/// what was noted while it lived). Returns the tool's run and the
/// workload's CPU time.
pub fn traced(tool: &str, args: &[&str], mut work: Work) -> (Finished, f64) {
    let pid = work.pid.to_string();
    let args: Vec<String> = ["-v"]
        .iter()
        .chain(args)
        .map(|a| a.replace("{pid}", &pid))
        .collect();
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut run = ToolRun::start(tool, &argv, Stdio::null());
    run.wait_ready(Duration::from_secs(30));
    let cpu = work.go();
    // A tick or two: the exited PID was noted long before.
    std::thread::sleep(Duration::from_millis(300));
    run.signal(Signal::SIGINT);
    let f = run.wait(Duration::from_secs(60));
    assert_eq!(f.code(), 0, "{tool} {args:?}: stderr:\n{}", f.stderr);
    (f, cpu)
}

/// Folded lines as (frames, count); panics on a line that is not one.
pub fn folded(stdout: &str) -> Vec<(String, u64)> {
    stdout
        .lines()
        .map(|l| {
            let (frames, n) = l
                .rsplit_once(' ')
                .unwrap_or_else(|| panic!("not a folded line: {l:?}"));
            let n = n
                .parse()
                .unwrap_or_else(|_| panic!("no count at the end of {l:?}"));
            (frames.to_string(), n)
        })
        .collect()
}

/// Of folded lines, the total count and that of lines containing `frames`.
pub fn share(lines: &[(String, u64)], frames: &str) -> (u64, u64) {
    let total = lines.iter().map(|l| l.1).sum();
    let with = lines
        .iter()
        .filter(|l| l.0.contains(frames))
        .map(|l| l.1)
        .sum();
    (total, with)
}

/// Runs `tool -j --duration 1 ARGS` (a flag combination that loads other
/// BPF code): exit 0, stack records that parse, a summary.
pub fn loads(tool: &str, args: &[&str]) {
    let mut argv = vec!["-j", "--duration", "1"];
    argv.extend_from_slice(args);
    let mut run = ToolRun::start(tool, &argv, Stdio::null());
    let f = run.wait(Duration::from_secs(60));
    assert_eq!(f.code(), 0, "{tool} {argv:?}: stderr:\n{}", f.stderr);
    let lines = crate::util::json_lines(&f.stdout);
    let s = crate::util::json_summary(&lines);
    assert!(s["stacks"].as_u64().is_some(), "{tool} {argv:?}: {s}");
    for r in lines.iter().filter(|r| r["type"] == "stack") {
        assert!(r["count"].as_u64().is_some_and(|c| c > 0), "{r}");
    }
}

/// A fresh directory for the helper (removed on drop).
pub fn dir() -> TempDir {
    TempDir::new(0o755)
}
