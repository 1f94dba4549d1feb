//! The scheduler workload of the runqlat and cpudist root tests: a
//! ping-pong of two processes over pipes (tests/helpers/pingpong.c), both
//! pinned to one CPU, K round trips. On one CPU every round trip switches
//! to the child and back, so each process is woken once, runs once and is
//! switched out once per round trip: K per process is the oracle. What may
//! add to it (never take from it): the parent's wakeups by the test (its
//! start line) and by its child's exit, and a preemption by another task
//! (ours goes back to the run queue: one more wait and one more slice);
//! those are few, [`slack`].

use std::io::{BufRead, BufReader, Write};
use std::process::{ChildStdin, ChildStdout, Command, Stdio};
use std::time::Duration;

use nix::sys::signal::Signal;
use serde_json::Value;

use crate::util::{
    compile_helper, json_lines, json_summary, ChildGuard, Finished, TempDir, ToolRun,
};

/// Round trips of a test run.
pub const K: u64 = 2000;

/// What may come on top of K per process: 2 wakeups of the parent (the
/// test's go, its child's exit), its last slice, and preemptions by other
/// tasks during the ~20 ms of the run (a few per tick at most: 1 in 50
/// round trips is far above what was seen, 0 to 3).
pub fn slack(k: u64) -> u64 {
    k / 50 + 5
}

pub struct PingPong {
    kid: ChildGuard,
    pub parent: u32,
    pub child: u32,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    _dir: TempDir,
}

impl PingPong {
    /// Starts the two processes; they wait for [`PingPong::go`].
    pub fn start(k: u64) -> Self {
        let dir = TempDir::new(0o755);
        let bin = compile_helper("pingpong", dir.path());
        let mut kid = ChildGuard::spawn(
            Command::new(bin)
                .arg(k.to_string())
                .stdin(Stdio::piped())
                .stdout(Stdio::piped()),
        );
        let stdin = kid.0.stdin.take().expect("stdin");
        let mut stdout = BufReader::new(kid.0.stdout.take().expect("stdout"));
        let mut line = String::new();
        stdout.read_line(&mut line).expect("pingpong ready line");
        let f: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(f.first(), Some(&"ready"), "pingpong said {line:?}");
        let (parent, child) = (f[1].parse().unwrap(), f[2].parse().unwrap());
        Self {
            kid,
            parent,
            child,
            stdin,
            stdout,
            _dir: dir,
        }
    }

    /// Runs the K round trips and waits for both processes to end.
    pub fn go(&mut self, k: u64) {
        writeln!(self.stdin, "go").expect("pingpong stdin");
        let mut line = String::new();
        self.stdout
            .read_line(&mut line)
            .expect("pingpong done line");
        assert_eq!(line.trim(), format!("done {k}"));
        let st = self.kid.wait_timeout(Duration::from_secs(30));
        assert!(st.success(), "pingpong: {st:?}");
    }
}

/// Runs `tool -v ARGS` (ARGS may name the workload's PIDs: `{parent}`,
/// `{child}`) around one ping-pong of `k` round trips; Ctrl-C after it.
pub fn traced(tool: &str, args: &[&str], k: u64) -> (PingPong, Finished) {
    let mut pp = PingPong::start(k);
    let (p, c) = (pp.parent.to_string(), pp.child.to_string());
    let args: Vec<String> = ["-v"]
        .iter()
        .chain(args)
        .map(|a| a.replace("{parent}", &p).replace("{child}", &c))
        .collect();
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut run = ToolRun::start(tool, &argv, Stdio::null());
    run.wait_ready(Duration::from_secs(30));
    pp.go(k);
    std::thread::sleep(Duration::from_millis(200));
    run.signal(Signal::SIGINT);
    let f = run.wait(Duration::from_secs(30));
    assert_eq!(f.code(), 0, "{tool} {args:?}: stderr:\n{}", f.stderr);
    (pp, f)
}

/// The `hist` records of a JSON run (checked: buckets sum to count, sum
/// present), and its summary.
pub fn hists(f: &Finished) -> (Vec<Value>, Value) {
    let lines = json_lines(&f.stdout);
    let summary = json_summary(&lines).clone();
    let hists: Vec<Value> = lines.into_iter().filter(|v| v["type"] == "hist").collect();
    for h in &hists {
        let count = h["count"].as_u64().unwrap();
        let buckets: u64 = (h["buckets"].as_array().unwrap().iter())
            .map(|b| b["count"].as_u64().unwrap())
            .sum();
        assert_eq!(buckets, count, "buckets sum to count: {h}");
        assert!(h["sum"].is_u64(), "{h}");
    }
    // Each histogram is one row: the summary counts them.
    assert_eq!(
        summary["events"].as_u64(),
        Some(hists.len() as u64),
        "{summary}"
    );
    let counted: u64 = hists.iter().map(|h| h["count"].as_u64().unwrap()).sum();
    assert_eq!(summary["counted"].as_u64(), Some(counted), "{summary}");
    (hists, summary)
}

/// The counts by `field` (`pid`, `tid`) of keyed histograms.
pub fn counts_by(hists: &[Value], field: &str) -> Vec<(u32, u64)> {
    let mut v: Vec<(u32, u64)> = hists
        .iter()
        .map(|h| {
            let id = h[field]
                .as_u64()
                .unwrap_or_else(|| panic!("no {field}: {h}"));
            (id as u32, h["count"].as_u64().unwrap())
        })
        .collect();
    v.sort();
    v
}

/// Asserts `n` is within K and K + slack.
pub fn assert_about_k(n: u64, k: u64, what: &str) {
    assert!(
        (k..=k + slack(k)).contains(&n),
        "{what}: {n}, want {k}..={} (K round trips, see tests/sched_workload.rs)",
        k + slack(k)
    );
}

/// Loads `tool` with `args` for one second (every flag combination that
/// loads different BPF code): exit 0, a summary.
pub fn loads(tool: &str, args: &[&str]) {
    let mut argv = vec!["-j", "-d", "1"];
    argv.extend_from_slice(args);
    let mut run = ToolRun::start(tool, &argv, Stdio::null());
    let f = run.wait(Duration::from_secs(60));
    assert_eq!(f.code(), 0, "{tool} {argv:?}: stderr:\n{}", f.stderr);
    let lines = json_lines(&f.stdout);
    let s = json_summary(&lines);
    assert!(s["events"].as_u64().is_some(), "{tool} {argv:?}: {s}");
}
