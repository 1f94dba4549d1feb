//! Root tests of the shared filters and loss accounting, through execsnoop:
//! `--uid`, `--comm`, `--cgroup`, `-P`, and a ring buffer too small for a
//! storm (every event is shown or reported lost, never silently dropped).

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use nix::sys::signal::Signal;
use serde_json::Value;

use crate::util::{
    argv, json_events, json_lines, json_summary, marker, num, root_or_skip, ChildGuard, ToolRun,
};

const T: Duration = Duration::from_secs(30);

fn with_marker<'a>(ev: &[&'a Value], m: &str) -> Vec<&'a Value> {
    ev.iter()
        .copied()
        .filter(|e| argv(e).iter().any(|a| a == m))
        .collect()
}

/// Runs `execsnoop -j ARGS -- sh -c SCRIPT` to its end; returns the events' JSON.
fn run_cmd(args: &[&str], script: &str) -> Vec<Value> {
    let mut all: Vec<&str> = vec!["-j"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--", "/bin/sh", "-c", script]);
    let f = ToolRun::start("execsnoop", &all, Stdio::null()).wait(T);
    assert_eq!(f.code(), 0, "stderr:\n{}", f.stderr);
    json_lines(&f.stdout)
}

#[test]
fn uid_filter_keeps_only_that_user() {
    let Some(_root) = root_or_skip("uid_filter_keeps_only_that_user") else {
        return;
    };
    let (a, b) = (marker("nobody"), marker("root"));
    let script =
        format!("setpriv --reuid=65534 --regid=65534 --clear-groups /bin/true {a}; /bin/true {b}");
    let lines = run_cmd(&["-u", "nobody"], &script);
    let ev = json_events(&lines);
    let mine = with_marker(&ev, &a);
    assert_eq!(mine.len(), 1, "{lines:?}");
    assert_eq!(mine[0]["uid"], 65534);
    assert!(
        with_marker(&ev, &b).is_empty(),
        "root's exec shown: {lines:?}"
    );
    assert!(ev.iter().all(|e| e["uid"] == 65534));
}

#[test]
fn comm_filter_is_exact() {
    let Some(_root) = root_or_skip("comm_filter_is_exact") else {
        return;
    };
    let (a, b) = (marker("true"), marker("echo"));
    let lines = run_cmd(
        &["--comm", "true"],
        &format!("/bin/true {a}; /bin/echo {b} >/dev/null"),
    );
    let ev = json_events(&lines);
    assert_eq!(with_marker(&ev, &a).len(), 1, "{lines:?}");
    assert!(with_marker(&ev, &b).is_empty(), "{lines:?}");
    assert!(ev.iter().all(|e| e["comm"] == "true"));
}

/// The cgroup v2 mount point (hybrid systems have it at .../unified).
fn cgroup2_root() -> PathBuf {
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap();
    mounts
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|f| f.len() > 2 && f[2] == "cgroup2")
        .map(|f| PathBuf::from(f[1]))
        .expect("no cgroup2 file system mounted")
}

/// A cgroup of our own, removed (after its processes are gone) on drop.
struct Cgroup(PathBuf);
impl Drop for Cgroup {
    fn drop(&mut self) {
        for _ in 0..100 {
            if std::fs::remove_dir(&self.0).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

#[test]
fn cgroup_filter_keeps_only_that_subtree() {
    let Some(_root) = root_or_skip("cgroup_filter_keeps_only_that_subtree") else {
        return;
    };
    let (inside, outside) = (marker("in"), marker("out"));
    let cg = Cgroup(cgroup2_root().join(marker("cg")));
    std::fs::create_dir(&cg.0).unwrap();
    // A shell that moves itself into the cgroup, then waits for a line.
    let script = format!(
        "echo $$ > {}/cgroup.procs && read x && /bin/true {inside}; true",
        cg.0.display()
    );
    let mut sh = ChildGuard::spawn(
        Command::new("/bin/sh")
            .args(["-c", &script])
            .stdin(Stdio::piped()),
    );
    let cgpath = cg.0.to_string_lossy().into_owned();
    let mut t = ToolRun::start("execsnoop", &["-j", "-v", "-c", &cgpath], Stdio::null());
    t.wait_ready(T);
    let st = Command::new("/bin/true").arg(&outside).status().unwrap();
    assert!(st.success());
    writeln!(sh.0.stdin.take().unwrap(), "go").unwrap();
    t.wait_stdout(T, |l| l.contains(&inside));
    sh.wait_timeout(T);
    t.signal(Signal::SIGINT);
    let f = t.wait(T);
    assert_eq!(f.code(), 0);
    let lines = json_lines(&f.stdout);
    let ev = json_events(&lines);
    assert_eq!(with_marker(&ev, &inside).len(), 1);
    assert!(
        with_marker(&ev, &outside).is_empty(),
        "outsider shown:\n{}",
        f.stdout
    );
}

#[test]
fn ppid_filter_keeps_only_children() {
    let Some(_root) = root_or_skip("ppid_filter_keeps_only_children") else {
        return;
    };
    let (child, grand) = (marker("child"), marker("grand"));
    let script = format!("read x; /bin/true {child}; /bin/sh -c '/bin/true {grand}; true'; true");
    let mut sh = ChildGuard::spawn(
        Command::new("/bin/sh")
            .args(["-c", &script])
            .stdin(Stdio::piped()),
    );
    let ppid = sh.pid().to_string();
    let mut t = ToolRun::start("execsnoop", &["-j", "-v", "-P", &ppid], Stdio::null());
    t.wait_ready(T);
    writeln!(sh.0.stdin.take().unwrap(), "go").unwrap();
    sh.wait_timeout(T);
    t.wait_stdout(T, |l| l.contains(&child));
    t.signal(Signal::SIGINT);
    let f = t.wait(T);
    assert_eq!(f.code(), 0);
    let lines = json_lines(&f.stdout);
    let ev = json_events(&lines);
    let c = with_marker(&ev, &child);
    assert_eq!(c.len(), 1, "{}", f.stdout);
    assert_eq!(num(c[0], "ppid"), sh.pid() as u64);
    assert!(
        with_marker(&ev, &grand).is_empty(),
        "grandchild shown:\n{}",
        f.stdout
    );
    assert!(ev.iter().all(|e| num(e, "ppid") == sh.pid() as u64));
}

/// A 4 KiB ring buffer under two parallel exec loops: whatever is not shown
/// is counted as lost, in the summary and (if any) in `lost` records and on
/// stderr. (Here the consumer keeps up; the next test forces losses.)
#[test]
fn tiny_ring_buffer_losses_are_counted() {
    let Some(_root) = root_or_skip("tiny_ring_buffer_losses_are_counted") else {
        return;
    };
    const N: usize = 1500;
    let m = marker("tiny");
    let lp = format!("i=0; while [ $i -lt {N} ]; do /bin/true {m}; i=$((i+1)); done");
    let script = format!("({lp}) & ({lp}); wait");
    let mut t = ToolRun::start(
        "execsnoop",
        &["-j", "--buffer-pages", "1", "--", "/bin/sh", "-c", &script],
        Stdio::null(),
    );
    let f = t.wait(Duration::from_secs(120));
    assert_eq!(f.code(), 0, "stderr:\n{}", f.stderr);
    let lines = json_lines(&f.stdout);
    let ev = json_events(&lines);
    let s = json_summary(&lines);
    let shown = with_marker(&ev, &m).len();
    let lost = num(s, "lost") as usize;
    eprintln!("tiny ring buffer: {shown} shown, {lost} lost of {}", 2 * N);
    // The execs generated: the shell itself, then the /bin/true ones (the
    // subshells are forks, not execs).
    assert_eq!(ev.len() - shown, 1, "only the shell besides the loops");
    assert_eq!(
        ev.len() + lost,
        1 + 2 * N,
        "shown + lost = generated; summary {s}"
    );
    let lost_records: u64 = lines
        .iter()
        .filter(|l| l["type"] == "lost")
        .map(|l| num(l, "count"))
        .sum();
    assert_eq!(
        lost_records as usize, lost,
        "lost records must add up to the summary"
    );
    if lost > 0 {
        assert!(f.stderr.contains("events lost"), "{}", f.stderr);
        assert_eq!(num(&s["lost_detail"], "ring_buffer") as usize, lost);
    }
}

/// A stalled consumer: stdout is not read until the storm is over, so the
/// tool blocks writing, the 4 KiB ring fills up, and events must be lost —
/// and every one of them counted.
#[test]
fn stalled_consumer_losses_are_counted() {
    let Some(_root) = root_or_skip("stalled_consumer_losses_are_counted") else {
        return;
    };
    use std::io::Read;
    const N: usize = 1000;
    let m = marker("stall");
    let dir = crate::util::TempDir::new(0o700);
    let done = dir.path().join("done");
    let script = format!(
        "i=0; while [ $i -lt {N} ]; do /bin/true {m}; i=$((i+1)); done; : > {}",
        done.display()
    );
    let mut child = ChildGuard::spawn(
        Command::new(crate::util::tool("execsnoop"))
            .args(["-j", "--buffer-pages", "1", "--", "/bin/sh", "-c", &script])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while !done.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the storm did not finish"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut stderr = child.0.stderr.take().unwrap();
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let mut out = String::new();
    child
        .0
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let st = child.wait_timeout(T);
    let err = err_reader.join().unwrap();
    assert_eq!(st.code(), Some(0), "stderr:\n{err}");
    let lines = json_lines(&out);
    let ev = json_events(&lines);
    let s = json_summary(&lines);
    let lost = num(s, "lost") as usize;
    eprintln!(
        "stalled consumer: {} shown, {lost} lost of {}",
        ev.len(),
        N + 1
    );
    assert!(
        lost > 0,
        "a stalled consumer with a 4 KiB ring must lose events"
    );
    assert_eq!(
        ev.len() + lost,
        N + 1,
        "shown + lost = generated; summary {s}"
    );
    assert_eq!(num(&s["lost_detail"], "ring_buffer") as usize, lost);
    let lost_records: u64 = lines
        .iter()
        .filter(|l| l["type"] == "lost")
        .map(|l| num(l, "count"))
        .sum();
    assert_eq!(lost_records as usize, lost);
    assert!(err.contains("events lost"), "{err}");
}
