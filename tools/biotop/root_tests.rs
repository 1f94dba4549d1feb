//! Root tests for biotop: a helper process (tests/helpers/bio_helper.c)
//! does N direct writes and N direct reads of known sizes on a loop device
//! over a temp file (tests/block_workload.rs); its PID, I/O count and bytes
//! are the oracle for its rows. libbpf-tools' biotop (0.26, Debian) needs a
//! kprobe on blk_account_io_start and fails to load without kprobes.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use nix::sys::signal::Signal;
use serde_json::Value;

use crate::block_workload::{bio_helper, helper_size, Loop};
use crate::util::{json_lines, json_summary, root_or_skip, ChildGuard, ToolRun};

fn helper(dev: &str, n: u64) -> u32 {
    let mut c = Command::new(bio_helper());
    c.arg(dev).arg(n.to_string()).stdin(Stdio::null());
    let mut g = ChildGuard::spawn(&mut c);
    let st = g.wait_timeout(Duration::from_secs(30));
    assert!(st.success(), "bio_helper {dev} {n}: {st:?}");
    g.pid()
}

/// The helper's bytes in each direction.
fn helper_bytes(n: u64) -> u64 {
    (0..n).map(helper_size).sum()
}

/// `biotop -v -j ARGS` around `io` (after attach), then Ctrl-C: the JSON
/// records, checked (valid, one summary last).
fn traced(args: &[&str], io: impl FnOnce() -> u32) -> (Vec<Value>, u32) {
    let mut argv = vec!["-v", "-j"];
    argv.extend_from_slice(args);
    let mut t = ToolRun::start("biotop", &argv, Stdio::null());
    t.wait_ready(Duration::from_secs(30));
    let pid = io();
    std::thread::sleep(Duration::from_millis(300));
    t.signal(Signal::SIGINT);
    let f = t.wait(Duration::from_secs(30));
    assert_eq!(f.code(), 0, "biotop {argv:?}: {}", f.stderr);
    let v = json_lines(&f.stdout);
    json_summary(&v);
    (v, pid)
}

/// The helper's rows summed over intervals, by op: (io, bytes).
fn of(v: &[Value], pid: u32, op: &str) -> (u64, u64) {
    v.iter()
        .filter(|r| r["type"] == "top" && r["pid"] == pid && r["op"] == op)
        .fold((0, 0), |(i, b), r| {
            (
                i + r["io"].as_u64().unwrap(),
                b + r["bytes"].as_u64().unwrap(),
            )
        })
}

fn check(v: &[Value], pid: u32, lo: &Loop, n: u64, what: &str) {
    let b = helper_bytes(n);
    assert_eq!(
        of(v, pid, "W"),
        (n, b),
        "{what}: writes of PID {pid}: {v:#?}"
    );
    assert_eq!(of(v, pid, "R"), (n, b), "{what}: reads of PID {pid}");
    for r in v.iter().filter(|r| r["type"] == "top" && r["pid"] == pid) {
        assert_eq!(r["disk"], lo.name(), "{what}: {r}");
        assert_eq!(r["comm"], "bio_helper", "{what}: {r}");
        assert!(r["interval"].as_u64() >= Some(1), "{what}: {r}");
        assert!(r["avg_ms"].as_f64() > Some(0.0), "{what}: {r}");
    }
}

#[test]
fn the_helpers_rows_count_its_ios_and_bytes() {
    let Some(_g) = root_or_skip("biotop rows") else {
        return;
    };
    let lo = Loop::new();
    // 10 s intervals: the I/O lands in one, whole (the final drain at
    // Ctrl-C prints it).
    let (v, pid) = traced(&["10"], || helper(&lo.dev, 90));
    check(&v, pid, &lo, 90, "system-wide");
    // The interval record's totals include the helper's.
    let iv: Vec<&Value> = v.iter().filter(|r| r["type"] == "interval").collect();
    assert!(!iv.is_empty(), "{v:#?}");
    let io: u64 = iv.iter().map(|r| r["total"]["io"].as_u64().unwrap()).sum();
    assert!(io >= 180, "{iv:?}");
}

#[test]
fn pid_filter_and_the_route_without_block_io_start() {
    let Some(_g) = root_or_skip("biotop -p") else {
        return;
    };
    let (lo, other) = (Loop::new(), Loop::new());
    // -p: the helper is started by a shell that waits for the test's go,
    // so its PID is known before it does I/O; another helper is left out.
    let mut sh = ChildGuard::spawn(
        Command::new("sh")
            .arg("-c")
            .arg(r#"read go; exec "$0" "$1" 12"#)
            .arg(bio_helper())
            .arg(&lo.dev)
            .stdin(Stdio::piped()),
    );
    let pid = sh.pid().to_string();
    let (v, _) = traced(&["-p", &pid, "10"], || {
        use std::io::Write as _;
        let mut i = sh.0.stdin.take().expect("stdin");
        i.write_all(b"go\n").expect("go");
        assert!(sh.wait_timeout(Duration::from_secs(30)).success());
        helper(&other.dev, 5)
    });
    check(&v, sh.pid(), &lo, 12, "-p");
    let rows: Vec<&Value> = v.iter().filter(|r| r["type"] == "top").collect();
    assert!(
        rows.iter().all(|r| r["pid"] == sh.pid()),
        "-p {pid}: {rows:#?}"
    );
    // The Linux < 6.5 route, forced.
    let (v, p) = traced(&["--no-io-start", "10"], || helper(&lo.dev, 20));
    check(&v, p, &lo, 20, "no block_io_start");
}

/// Intervals: `biotop -j 1 3` prints three and exits 0; the text has the
/// loadavg line and the header each interval.
#[test]
fn intervals_count_and_text_layout() {
    let Some(_g) = root_or_skip("biotop 1 3") else {
        return;
    };
    let f =
        ToolRun::start("biotop", &["-j", "1", "3"], Stdio::null()).wait(Duration::from_secs(30));
    assert_eq!(f.code(), 0, "{}", f.stderr);
    let v = json_lines(&f.stdout);
    let iv: Vec<u64> = v
        .iter()
        .filter(|r| r["type"] == "interval")
        .map(|r| r["interval"].as_u64().unwrap())
        .collect();
    assert_eq!(iv, [1, 2, 3], "{}", f.stdout);
    let lo = Loop::new();
    let mut t = ToolRun::start(
        "biotop",
        &["-v", "-C", "-r", "3", "--comm", "bio_helper", "1"],
        Stdio::null(),
    );
    t.wait_ready(Duration::from_secs(30));
    let pid = helper(&lo.dev, 6);
    t.wait_stdout(Duration::from_secs(10), |l| {
        l.starts_with(&format!("{pid} "))
    });
    t.signal(Signal::SIGINT);
    let f = t.wait(Duration::from_secs(30));
    assert_eq!(f.code(), 0, "{}", f.stderr);
    let lines: Vec<&str> = f.stdout.lines().collect();
    let heads = lines.iter().filter(|l| l.contains(" loadavg: ")).count();
    let hdr = "PID     COMM             D MAJ MIN DISK       I/O  Kbytes  AVGms";
    assert_eq!(
        lines.iter().filter(|l| **l == hdr).count(),
        heads,
        "{}",
        f.stdout
    );
    assert!(!f.stdout.contains("\x1b[H"), "-C: no clearing");
    let mine: Vec<&&str> = lines
        .iter()
        .filter(|l| l.starts_with(&format!("{pid} ")))
        .collect();
    assert!(!mine.is_empty(), "{}", f.stdout);
}

/// `biotop | head -1`: the reader goes away, the tool exits 0.
#[test]
fn closed_pipe_exits_0() {
    let Some(_g) = root_or_skip("biotop | head -1") else {
        return;
    };
    let lo = Loop::new();
    let mut c = Command::new(crate::util::tool("biotop"));
    c.args(["-C", "1"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut g = ChildGuard::spawn(&mut c);
    let mut out = BufReader::new(g.0.stdout.take().expect("stdout"));
    let mut first = String::new();
    out.read_line(&mut first).expect("first line");
    drop(out);
    helper(&lo.dev, 10);
    let st = g.wait_timeout(Duration::from_secs(30));
    assert_eq!(st.code(), Some(0), "{st:?}");
}

#[test]
fn every_bpf_variant_loads() {
    let Some(_g) = root_or_skip("biotop variants") else {
        return;
    };
    let me = std::process::id().to_string();
    for args in [
        &[][..],
        &["-s", "io"],
        &["-s", "time", "-r", "1"],
        &["--no-io-start"],
        &["-p", &me],
        &["--tid", &me, "--uid", "0"],
        &["--comm", "dd"],
        &["-c", "/sys/fs/cgroup/unified"],
    ] {
        let mut argv = vec!["-j", "-d", "1"];
        argv.extend_from_slice(args);
        let f = ToolRun::start("biotop", &argv, Stdio::null()).wait(Duration::from_secs(60));
        assert_eq!(f.code(), 0, "biotop {argv:?}: {}", f.stderr);
        let s = json_summary(&json_lines(&f.stdout)).clone();
        assert!(s["keys_dropped"].as_u64().is_some(), "{argv:?}: {s}");
    }
}
