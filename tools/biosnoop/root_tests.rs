//! Root tests for biosnoop: a helper process (tests/helpers/bio_helper.c)
//! does N direct writes and N direct reads of known sizes at known offsets
//! on a loop device over a temp file (tests/block_workload.rs); its PID,
//! sizes, offsets and operations are the oracle for every row. libbpf-tools'
//! biosnoop (0.26, Debian) cannot be the oracle here: it needs a kprobe on
//! blk_account_io_start and fails to load without kprobes (BENCHMARKS.md).

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use nix::sys::signal::Signal;
use serde_json::Value;

use crate::block_workload::{bio_helper, helper_offset, helper_size, Loop};
use crate::util::{json_events, json_lines, json_summary, root_or_skip, ChildGuard, ToolRun};

/// Runs the helper on `dev` to its end: its PID.
fn helper(dev: &str, n: u64, name: Option<&str>) -> u32 {
    let mut c = Command::new(bio_helper());
    c.arg(dev)
        .arg(n.to_string())
        .args(name)
        .stdin(Stdio::null());
    let mut g = ChildGuard::spawn(&mut c);
    let st = g.wait_timeout(Duration::from_secs(30));
    assert!(st.success(), "bio_helper {dev} {n}: {st:?}");
    g.pid()
}

fn start(args: &[&str]) -> ToolRun {
    let mut all = vec!["-v"];
    all.extend_from_slice(args);
    let mut t = ToolRun::start("biosnoop", &all, Stdio::null());
    t.wait_ready(Duration::from_secs(30));
    t
}

/// Ctrl-C (after the last completions are in); the JSON records, checked
/// (valid, one summary last), and stderr.
fn stop_json(t: ToolRun) -> (Vec<Value>, String) {
    let f = stop(t);
    let v = json_lines(&f.stdout);
    json_summary(&v);
    (v, f.stderr)
}

fn stop(mut t: ToolRun) -> crate::util::Finished {
    std::thread::sleep(Duration::from_millis(300));
    t.signal(Signal::SIGINT);
    let f = t.wait(Duration::from_secs(30));
    assert_eq!(f.code(), 0, "stderr: {}", f.stderr);
    f
}

fn rows_of(v: &[Value], pid: u32) -> Vec<Value> {
    json_events(v)
        .into_iter()
        .filter(|e| e["pid"] == pid)
        .cloned()
        .collect()
}

/// (op, sector, bytes) of the helper's `n` writes and reads.
fn expected(n: u64) -> BTreeSet<(String, u64, u64)> {
    (0..n)
        .flat_map(|i| ["W", "R"].map(|op| (op.to_string(), helper_offset(i) / 512, helper_size(i))))
        .collect()
}

fn got(rows: &[Value]) -> BTreeSet<(String, u64, u64)> {
    rows.iter()
        .map(|r| {
            let op = r["op"].as_str().unwrap_or("?").to_string();
            (
                op,
                r["sector"].as_u64().unwrap(),
                r["bytes"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// Every row of the helper: its PID and name, the disk, and exactly its
/// operations, sectors and sizes, once each.
fn check_rows(v: &[Value], pid: u32, lo: &Loop, n: u64, from: &[&str], what: &str) {
    let rows = rows_of(v, pid);
    assert_eq!(
        rows.len() as u64,
        2 * n,
        "{what}: rows of PID {pid}: {rows:#?}"
    );
    assert_eq!(got(&rows), expected(n), "{what}");
    for r in &rows {
        assert_eq!(r["disk"], lo.name(), "{what}: {r}");
        assert_eq!(r["comm"], "bio_helper", "{what}: {r}");
        assert_eq!(r["major"], 7, "{what}: {r}");
        assert_eq!(r["error"], 0, "{what}: {r}");
        assert!(r["latency_ns"].as_u64().unwrap() > 0, "{what}: {r}");
        let f = r["task_from"].as_str().unwrap();
        assert!(from.contains(&f), "{what}: task from {f}: {r}");
    }
}

#[test]
fn one_row_per_io_with_its_pid_op_sector_and_size() {
    let Some(_g) = root_or_skip("biosnoop rows") else {
        return;
    };
    let lo = Loop::new();
    let t = start(&["-j"]);
    let pid = helper(&lo.dev, 60, None);
    let (v, err) = stop_json(t);
    let io_start = err.contains("the issuing task from block_io_start");
    let from: &[&str] = if io_start {
        &["block_io_start"]
    } else {
        &["block_rq_insert", "block_rq_issue"]
    };
    check_rows(&v, pid, &lo, 60, from, "all disks");
    assert!(v.iter().all(|r| r.get("queued_ns").is_none()), "no -Q");
}

/// The Linux < 6.5 route (insertion / issue) on this kernel, forced: the
/// same rows for a synchronous submitter.
#[test]
fn the_route_without_block_io_start_names_the_same_task() {
    let Some(_g) = root_or_skip("biosnoop --no-io-start") else {
        return;
    };
    let lo = Loop::new();
    let t = start(&["-j", "--no-io-start", "-d", lo.name()]);
    let pid = helper(&lo.dev, 30, None);
    let (v, err) = stop_json(t);
    assert!(
        err.contains("the issuing task from block_rq_insert, else block_rq_issue"),
        "{err}"
    );
    check_rows(
        &v,
        pid,
        &lo,
        30,
        &["block_rq_insert", "block_rq_issue"],
        "no block_io_start",
    );
}

#[test]
fn disk_filter_and_queued_time() {
    let Some(_g) = root_or_skip("biosnoop -d -Q") else {
        return;
    };
    let (a, b) = (Loop::new(), Loop::new());
    // Through a scheduler requests are inserted before their issue.
    let sched = a.scheduler("mq-deadline");
    let t = start(&["-j", "-Q", "-d", a.name()]);
    let pa = helper(&a.dev, 20, None);
    let pb = helper(&b.dev, 20, None);
    let (v, _) = stop_json(t);
    check_rows(
        &v,
        pa,
        &a,
        20,
        &["block_io_start", "block_rq_insert", "block_rq_issue"],
        "-d",
    );
    assert!(
        rows_of(&v, pb).is_empty(),
        "-d {}: rows of {}",
        a.name(),
        b.name()
    );
    assert!(json_events(&v).iter().all(|r| r["disk"] == a.name()));
    let rows = rows_of(&v, pa);
    assert!(rows.iter().all(|r| r["queued_ns"].is_u64()), "{rows:?}");
    if sched {
        let queued = rows
            .iter()
            .filter(|r| r["queued_ns"].as_u64() > Some(0))
            .count();
        assert!(queued > 0, "mq-deadline: no request was queued: {rows:#?}");
    }
    // The table: the QUE(ms) column, one row per I/O.
    let t = start(&["-Q", "-d", a.name()]);
    let pa = helper(&a.dev, 5, None);
    let f = stop(t);
    let mut lines = f.stdout.lines();
    let h = lines.next().unwrap_or_default();
    assert_eq!(
        h,
        "TIME(s)     COMM           PID     DISK    T SECTOR     BYTES   QUE(ms) LAT(ms)"
    );
    let mine: Vec<&str> = lines
        .filter(|l| l.split_whitespace().nth(2) == Some(&pa.to_string()))
        .collect();
    assert_eq!(mine.len(), 10, "{}", f.stdout);
    assert!(
        mine.iter().all(|l| l.split_whitespace().count() == 9),
        "{mine:?}"
    );
}

/// -- CMD: only CMD's I/O, its exit code; a hostile name escaped.
#[test]
fn cmd_and_hostile_comm() {
    let Some(_g) = root_or_skip("biosnoop -- CMD") else {
        return;
    };
    let (lo, other) = (Loop::new(), Loop::new());
    let helper_bin = bio_helper();
    let h = helper_bin.to_str().unwrap();
    let name = "\x1b[2J\tev\u{7}";
    let stop = std::sync::atomic::AtomicBool::new(false);
    let (f, noise) = std::thread::scope(|s| {
        let noise = s.spawn(|| {
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                helper(&other.dev, 4, None);
                n += 1;
            }
            n
        });
        let f = ToolRun::start("biosnoop", &["--", h, &lo.dev, "7", name], Stdio::null())
            .wait(Duration::from_secs(60));
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        (f, noise.join().unwrap())
    });
    assert_eq!(f.code(), 0, "{}", f.stderr);
    assert!(noise > 0);
    let rows: Vec<&str> = f.stdout.lines().skip(1).collect();
    assert_eq!(rows.len(), 14, "only CMD's 14 I/Os: {}", f.stdout);
    let want = "\\e[2J\\tev\\x07 ";
    assert!(rows.iter().all(|r| r[12..].starts_with(want)), "{rows:#?}");
    assert!(!f.stdout.contains('\x1b'));
}

/// `biosnoop | head -1`: the reader goes away, the tool exits 0.
#[test]
fn closed_pipe_exits_0() {
    let Some(_g) = root_or_skip("biosnoop | head -1") else {
        return;
    };
    let lo = Loop::new();
    let mut c = Command::new(crate::util::tool("biosnoop"));
    c.args(["-d", lo.name()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut g = ChildGuard::spawn(&mut c);
    let mut out = BufReader::new(g.0.stdout.take().expect("stdout"));
    let mut header = String::new();
    out.read_line(&mut header).expect("header");
    assert!(header.starts_with("TIME(s)"), "{header:?}");
    drop(out);
    helper(&lo.dev, 20, None);
    let st = g.wait_timeout(Duration::from_secs(30));
    assert_eq!(st.code(), Some(0), "{st:?}");
}

#[test]
fn every_bpf_variant_loads() {
    let Some(_g) = root_or_skip("biosnoop variants") else {
        return;
    };
    let lo = Loop::new();
    let me = std::process::id().to_string();
    for args in [
        &[][..],
        &["-Q"],
        &["-d", lo.name()],
        &["-d", lo.name(), "-Q"],
        &["--no-io-start"],
        &["--no-io-start", "-Q", "-d", lo.name()],
        &["-p", &me],
        &["--tid", &me, "--uid", "0"],
        &["--comm", "dd", "-Q"],
        &["-c", "/sys/fs/cgroup/unified"],
    ] {
        let mut argv = vec!["-j", "--duration", "1"];
        argv.extend_from_slice(args);
        let f = ToolRun::start("biosnoop", &argv, Stdio::null()).wait(Duration::from_secs(60));
        assert_eq!(f.code(), 0, "biosnoop {argv:?}: {}", f.stderr);
        let s = json_summary(&json_lines(&f.stdout)).clone();
        assert!(s["events"].as_u64().is_some(), "{argv:?}: {s}");
    }
}

#[test]
fn disk_errors_name_the_fix() {
    let Some(_g) = root_or_skip("biosnoop -d errors") else {
        return;
    };
    let f = ToolRun::start("biosnoop", &["-d", "no-such-disk0"], Stdio::null())
        .wait(Duration::from_secs(30));
    assert_ne!(f.code(), 0);
    assert!(
        f.stderr.contains("-d no-such-disk0: no such block device"),
        "{}",
        f.stderr
    );
    assert!(f.stderr.contains("hint:"), "{}", f.stderr);
}
