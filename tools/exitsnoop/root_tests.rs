//! Root tests for exitsnoop: processes the test starts itself end in known
//! ways (tools/exitsnoop/exit_helper.c); every row is checked against what
//! the test's own waitpid() says (exit code, signal, core dump), the PIDs
//! it spawned and its own PID as the parent. As root they run; without root
//! they skip and say why, except with CI=true, where they fail.

use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::util::{
    compile_helper, json_events, json_lines, json_summary, root_or_skip, tool, ChildGuard, TempDir,
    ToolRun,
};

fn helper() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("exitsnoop-helper");
        std::fs::create_dir_all(&dir).expect("helper dir");
        compile_helper("exit_helper", &dir)
    })
    .clone()
}

/// Runs the helper with `args` to its end: its PID and wait status.
fn run_helper(args: &[&str]) -> (u32, ExitStatus) {
    let mut g = ChildGuard::spawn(Command::new(helper()).args(args).stdin(Stdio::null()));
    let st = g.wait_timeout(Duration::from_secs(20));
    (g.pid(), st)
}

fn start(args: &[&str]) -> ToolRun {
    let mut all = vec!["-v"];
    all.extend_from_slice(args);
    let mut t = ToolRun::start("exitsnoop", &all, Stdio::null());
    t.wait_ready(Duration::from_secs(30));
    t
}

/// Ctrl-C; the JSON records (checked: valid, one summary last).
fn stop_json(mut t: ToolRun) -> Vec<Value> {
    t.signal(nix::sys::signal::Signal::SIGINT);
    let f = t.wait(Duration::from_secs(30));
    assert_eq!(f.code(), 0, "stderr: {}", f.stderr);
    let v = json_lines(&f.stdout);
    json_summary(&v);
    v
}

fn rows_of(v: &[Value], pid: u32) -> Vec<Value> {
    json_events(v)
        .into_iter()
        .filter(|e| e["pid"] == pid)
        .cloned()
        .collect()
}

/// The one row of `pid`, checked against its wait status.
fn check(v: &[Value], pid: u32, st: ExitStatus, what: &str) -> Value {
    let rows = rows_of(v, pid);
    assert_eq!(rows.len(), 1, "{what}: rows of PID {pid}: {rows:?}");
    let r = rows[0].clone();
    assert_eq!(r["ppid"], std::process::id(), "{what}: {r}");
    assert_eq!(
        r["exit_code"].as_i64(),
        st.code().map(i64::from),
        "{what}: {r}"
    );
    assert_eq!(
        r["signal_number"].as_i64(),
        st.signal().map(i64::from),
        "{what}: {r}"
    );
    assert_eq!(r["core_dumped"], st.core_dumped(), "{what}: {r}");
    assert_eq!(
        r["status"].as_i64(),
        Some(i64::from(st.into_raw())),
        "{what}: {r}"
    );
    assert_eq!(r["comm"], "exit_helper", "{what}: {r}");
    r
}

/// Whether a core dump is written to a file (core_pattern is not a pipe):
/// then RLIMIT_CORE decides it.
fn cores_to_files() -> bool {
    let p = std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap_or_default();
    !p.trim_start().starts_with('|')
}

#[test]
fn exit_codes_signals_and_cores() {
    let Some(_root) = root_or_skip("exit_codes_signals_and_cores") else {
        return;
    };
    let started = Instant::now();
    let t = start(&["-j"]);
    let (code3, st3) = run_helper(&["code", "3", "300"]);
    let dir = TempDir::new(0o700);
    let d = dir.path().to_str().expect("temp path");
    let (segv, st_segv) = run_helper(&["segv", "nocore", d]);
    let (core, st_core) = run_helper(&["segv", "core", d]);
    let (lf, st_lf) = run_helper(&["leaderfirst", "7"]);
    let (thr, st_thr) = run_helper(&["threads", "4", "5"]);
    std::thread::sleep(Duration::from_millis(300));
    let v = stop_json(t);

    // The test's own view first: what it asked for happened.
    assert_eq!(st3.code(), Some(3));
    assert_eq!(st_segv.signal(), Some(libc::SIGSEGV));
    assert_eq!((st_lf.code(), st_thr.code()), (Some(7), Some(5)));
    if cores_to_files() {
        assert!(!st_segv.core_dumped(), "RLIMIT_CORE 0 dumped a core");
        assert!(
            st_core.core_dumped(),
            "RLIMIT_CORE unlimited dumped no core"
        );
    }

    let r = check(&v, code3, st3, "exit(3)");
    assert_eq!(r["tid"], code3);
    let age = r["age_s"].as_f64().expect("age_s");
    assert!(age >= 0.29 && age < started.elapsed().as_secs_f64(), "{r}");
    let r = check(&v, segv, st_segv, "SIGSEGV");
    assert_eq!(
        (r["signal"].as_str(), r["exit_code"].is_null()),
        (Some("SIGSEGV"), true)
    );
    check(&v, core, st_core, "SIGSEGV with a core");
    // One row per process, with what wait() gave: the last thread exits
    // (not the leader, which pthread_exit()ed 200 ms earlier with 0).
    let r = check(&v, lf, st_lf, "leader exits first");
    assert_ne!(r["tid"], lf, "{r}");
    check(&v, thr, st_thr, "exit_group from a thread");
}

#[test]
fn per_thread_and_failed_only() {
    let Some(_root) = root_or_skip("per_thread_and_failed_only") else {
        return;
    };
    let t = start(&["-j", "-x", "--per-thread", "--comm", "exit_helper"]);
    let (ok, st_ok) = run_helper(&["code", "0"]);
    let (thr, st_thr) = run_helper(&["threads", "4", "5"]);
    let (lf, _) = run_helper(&["leaderfirst", "6"]);
    std::thread::sleep(Duration::from_millis(300));
    let v = stop_json(t);
    assert_eq!(st_ok.code(), Some(0));
    assert!(rows_of(&v, ok).is_empty(), "-x showed exit(0)");
    assert_eq!(st_thr.code(), Some(5));
    let rows = rows_of(&v, thr);
    let mut tids: Vec<u64> = rows.iter().filter_map(|r| r["tid"].as_u64()).collect();
    tids.sort_unstable();
    tids.dedup();
    assert_eq!(
        (rows.len(), tids.len()),
        (4, 4),
        "one row per thread: {rows:?}"
    );
    assert!(rows.iter().all(|r| r["exit_code"] == 5), "{rows:?}");
    assert!(tids.contains(&u64::from(thr)), "the leader's row: {rows:?}");
    // Per thread, -x: the leader's pthread_exit() (0) is left out, the
    // thread's exit(6) shown.
    let rows = rows_of(&v, lf);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert!(
        rows[0]["tid"] != lf && rows[0]["exit_code"] == 6,
        "{rows:?}"
    );
    // Every row passed --comm.
    assert!(json_events(&v).iter().all(|r| r["comm"] == "exit_helper"));
}

/// -p: only that process; the table escapes a hostile comm.
#[test]
fn pid_filter_and_hostile_comm_in_the_table() {
    let Some(_root) = root_or_skip("pid_filter_and_hostile_comm_in_the_table") else {
        return;
    };
    let mut g = ChildGuard::spawn(
        Command::new(helper())
            .args(["name", "\x1b[2J\tev\u{7}"])
            .stdin(Stdio::piped()),
    );
    let pid = g.pid().to_string();
    let mut t = start(&["-t", "-p", &pid]);
    let (other, _) = run_helper(&["code", "4"]);
    drop(g.0.stdin.take()); // EOF: it renames itself and exits 0
    assert_eq!(g.wait_timeout(Duration::from_secs(10)).code(), Some(0));
    let row = t.wait_stdout(Duration::from_secs(10), |l| l.contains(&pid));
    t.signal(nix::sys::signal::Signal::SIGINT);
    let f = t.wait(Duration::from_secs(30));
    assert_eq!(f.code(), 0, "{}", f.stderr);
    let want = format!("\\e[2J\\tev\\x07    {pid}");
    assert_eq!(row.get(9..9 + want.len()), Some(want.as_str()), "{row:?}");
    assert!(row.ends_with(" 0") && !row.contains('\x1b'), "{row:?}");
    let head = f.stdout.lines().next().unwrap_or_default();
    assert!(head.starts_with("TIME     PCOMM            PID "), "{head}");
    assert_eq!(f.stdout.lines().count(), 2, "only PID {pid}:\n{}", f.stdout);
    assert!(!f.stdout.contains(&format!(" {other} ")));
}

/// The classic tracepoint (with --btf) and `-- CMD`: CMD's own exit is seen
/// (the process-tree set still holds it when the filter looks), and the
/// tool exits with CMD's status.
#[test]
fn classic_tracepoint_and_cmd() {
    let Some(_root) = root_or_skip("classic_tracepoint_and_cmd") else {
        return;
    };
    let h = helper();
    let out = Command::new(tool("exitsnoop"))
        .args(["-j", "--btf", "/sys/kernel/btf/vmlinux", "-v", "--"])
        .arg(&h)
        .args(["code", "3", "100"])
        .stdin(Stdio::null())
        .output()
        .expect("running exitsnoop");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    // The classic exit program and the fork/exec trackers of `-- CMD`.
    assert!(
        err.contains("exitsnoop: tracing, 3 BPF programs attached"),
        "{err}"
    );
    assert!(err.contains("'handle_exit_btf': skipped loading"), "{err}");
    let v = json_lines(&String::from_utf8_lossy(&out.stdout));
    let ev = json_events(&v);
    assert_eq!(ev.len(), 1, "{v:?}");
    assert_eq!(ev[0]["exit_code"], 3);
    assert_eq!(ev[0]["comm"], "exit_helper");
    assert_eq!(json_summary(&v)["cmd_exit_code"], 3);
}

/// Every combination of the options that change the BPF code loads and
/// attaches (-x, --per-thread, the classic route, the process tree).
#[test]
fn every_flag_combination_loads() {
    let Some(_root) = root_or_skip("every_flag_combination_loads") else {
        return;
    };
    let me = std::process::id().to_string();
    for x in [false, true] {
        for pt in [false, true] {
            for btf in [false, true] {
                for pid in [false, true] {
                    let mut a = vec!["-j"];
                    x.then(|| a.push("-x"));
                    pt.then(|| a.push("--per-thread"));
                    btf.then(|| a.extend(["--btf", "/sys/kernel/btf/vmlinux"]));
                    pid.then(|| a.extend(["-p", me.as_str()]));
                    let t = start(&a);
                    let (p, st) = run_helper(&["code", "9"]);
                    std::thread::sleep(Duration::from_millis(200));
                    let v = stop_json(t);
                    check(&v, p, st, &format!("{a:?}"));
                }
            }
        }
    }
}
