//! Root tests for capable: a helper (tools/capable/cap_helper.c) makes
//! capability checks with known verdicts in one process: a raw socket
//! (CAP_NET_RAW) and a chown (CAP_CHOWN) as root, then both again after
//! dropping to uid 65534 (denied). The rows are checked against what the
//! helper itself saw (each attempt's result), its PID, the capability
//! numbers and the UIDs. As root they run; without root they skip and say
//! why, except with CI=true, where they fail.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::Value;

use crate::util::{
    compile_helper_with, json_events, json_lines, json_summary, root_or_skip, ChildGuard, TempDir,
    ToolRun,
};

const CAP_CHOWN: u64 = 0;
const CAP_NET_RAW: u64 = 13;

fn helper() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("capable-helper");
        std::fs::create_dir_all(&dir).expect("helper dir");
        compile_helper_with("cap_helper", &dir, &["-fno-omit-frame-pointer"])
    })
    .clone()
}

/// Runs the helper (N raw sockets as root) on a fresh file: its PID, having
/// checked that it saw what the rows must say.
fn run_helper(n: u32) -> u32 {
    run_helper_linger(n, 0)
}

/// [`run_helper`], the helper staying alive `ms` after its checks.
fn run_helper_linger(n: u32, ms: u32) -> u32 {
    let dir = TempDir::new(0o755);
    let f = dir.path().join("owned");
    std::fs::write(&f, b"x").expect("file");
    let mut g = ChildGuard::spawn(
        Command::new(helper())
            .arg(&f)
            .arg(n.to_string())
            .arg(ms.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped()),
    );
    let pid = g.pid();
    assert!(g.wait_timeout(Duration::from_secs(20)).success());
    let mut out = String::new();
    if let Some(mut o) = g.0.stdout.take() {
        use std::io::Read as _;
        o.read_to_string(&mut out).expect("helper stdout");
    }
    assert_eq!(
        out.trim(),
        "raw_root=1 chown_root=1 raw_nobody=0 chown_nobody=0",
        "the helper's own view"
    );
    pid
}

fn start(args: &[&str]) -> ToolRun {
    let mut all = vec!["-v", "-j"];
    all.extend_from_slice(args);
    let mut t = ToolRun::start("capable", &all, Stdio::null());
    t.wait_ready(Duration::from_secs(30));
    t
}

fn stop_json(mut t: ToolRun) -> Vec<Value> {
    std::thread::sleep(Duration::from_millis(300)); // lazy delivery (100 ms tick)
    t.signal(nix::sys::signal::Signal::SIGINT);
    let f = t.wait(Duration::from_secs(30));
    assert_eq!(f.code(), 0, "stderr: {}", f.stderr);
    let v = json_lines(&f.stdout);
    json_summary(&v);
    v
}

/// The rows of `pid` for capability `cap`: (verdict, uid) in order.
fn checks(v: &[Value], pid: u32, cap: u64) -> Vec<(String, u64)> {
    json_events(v)
        .into_iter()
        .filter(|e| e["pid"] == pid && e["cap"] == cap)
        .map(|e| {
            (
                e["verdict"].as_str().unwrap_or_default().to_string(),
                e["uid"].as_u64().unwrap_or(u64::MAX),
            )
        })
        .collect()
}

fn rows(v: &[Value], pid: u32) -> Vec<&Value> {
    json_events(v)
        .into_iter()
        .filter(|e| e["pid"] == pid)
        .collect()
}

/// Allowed as root, denied as nobody, in that order, for each capability;
/// names, ret, comm and the initial user namespace.
#[test]
fn allowed_as_root_denied_as_nobody() {
    let Some(_root) = root_or_skip("allowed_as_root_denied_as_nobody") else {
        return;
    };
    let t = start(&[]);
    let pid = run_helper(1);
    let v = stop_json(t);
    let allow = ("allow".to_string(), 0);
    let deny = ("deny".to_string(), 65534);
    // One check per raw socket; chown checks CAP_CHOWN for the owner and
    // the group (allowed, as root), then stops at the first denial.
    for (cap, name, allowed) in [(CAP_NET_RAW, "CAP_NET_RAW", 1), (CAP_CHOWN, "CAP_CHOWN", 2)] {
        let mut want = vec![allow.clone(); allowed];
        want.push(deny.clone());
        let c = checks(&v, pid, cap);
        assert_eq!(c, want, "{name}: {:?}", rows(&v, pid));
        for r in rows(&v, pid).into_iter().filter(|r| r["cap"] == cap) {
            assert_eq!(r["name"], name, "{r}");
            assert_eq!(r["comm"], "cap_helper", "{r}");
            assert_eq!(r["tid"], pid, "{r}");
            let want_ret = if r["verdict"] == "deny" {
                -libc::EPERM
            } else {
                0
            };
            assert_eq!(r["ret"], want_ret, "{r}");
        }
    }
    let ns = std::fs::read_link("/proc/self/ns/user").expect("own user ns");
    let ns = ns.to_string_lossy();
    let r = rows(&v, pid)[0];
    assert!(ns.contains(&format!("[{}]", r["userns"])), "{ns} vs {r}");
}

/// -x: only the denials (filtered in the kernel); --unique: one row per
/// (process, capability, verdict) however many checks.
#[test]
fn denied_only_and_unique() {
    let Some(_root) = root_or_skip("denied_only_and_unique") else {
        return;
    };
    let t = start(&["-x"]);
    let pid = run_helper(3);
    let v = stop_json(t);
    assert!(
        json_events(&v).iter().all(|e| e["verdict"] == "deny"),
        "-x showed an allow"
    );
    let deny = ("deny".to_string(), 65534);
    assert_eq!(checks(&v, pid, CAP_NET_RAW), std::slice::from_ref(&deny));
    assert_eq!(checks(&v, pid, CAP_CHOWN), std::slice::from_ref(&deny));

    let t = start(&["--unique"]);
    let pid = run_helper(5);
    let v = stop_json(t);
    let allow = ("allow".to_string(), 0);
    assert_eq!(checks(&v, pid, CAP_NET_RAW), [allow.clone(), deny.clone()]);
    // Without --unique, all five allowed raw sockets are rows.
    let t = start(&["--comm", "cap_helper"]);
    let pid = run_helper(5);
    let v = stop_json(t);
    let c = checks(&v, pid, CAP_NET_RAW);
    assert_eq!(c.iter().filter(|c| **c == allow).count(), 5, "{c:?}");
    assert!(json_events(&v).iter().all(|e| e["comm"] == "cap_helper"));
}

/// -K / -U: the kernel stack of the raw socket's check goes through
/// inet_create, its user stack through the helper's main.
#[test]
fn kernel_and_user_stacks() {
    let Some(_root) = root_or_skip("kernel_and_user_stacks") else {
        return;
    };
    let syms = |r: &Value, side: &str| -> Vec<String> {
        r[side]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|f| f["symbol"].as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    let t = start(&["-K", "-U"]);
    // Alive while its user stacks are symbolized (rows arrive within 100 ms).
    let pid = run_helper_linger(1, 1000);
    let v = stop_json(t);
    let raw: Vec<_> = rows(&v, pid)
        .into_iter()
        .filter(|r| r["cap"] == CAP_NET_RAW)
        .collect();
    assert_eq!(raw.len(), 2, "{raw:?}");
    for r in raw {
        let k = syms(r, "kernel_stack");
        assert!(k.iter().any(|s| s == "inet_create"), "kernel stack {k:?}");
        assert!(
            !k.iter().any(|s| s.starts_with("bpf_")),
            "tracer frames left: {k:?}"
        );
        let u = syms(r, "user_stack");
        assert!(u.iter().any(|s| s == "main"), "user stack {u:?}");
    }
    // -K alone: no user stack in the record.
    let t = start(&["-K", "-x"]);
    let pid = run_helper(1);
    let v = stop_json(t);
    let r = rows(&v, pid);
    assert!(
        !r.is_empty() && r.iter().all(|r| r.get("user_stack").is_none()),
        "{r:?}"
    );
    assert!(r.iter().all(|r| r["kernel_stack"].is_array()), "{r:?}");

    // The table: frames under the row.
    let mut t = ToolRun::start(
        "capable",
        &["-v", "-K", "-x", "--comm", "cap_helper"],
        Stdio::null(),
    );
    t.wait_ready(Duration::from_secs(30));
    let pid = run_helper(1).to_string();
    let row = t.wait_stdout(Duration::from_secs(10), |l| l.contains(&pid));
    t.wait_stdout(Duration::from_secs(10), |l| {
        l.trim_start().starts_with("inet_create+0x")
    });
    t.signal(nix::sys::signal::Signal::SIGINT);
    let f = t.wait(Duration::from_secs(30));
    assert_eq!(f.code(), 0, "{}", f.stderr);
    assert!(row.ends_with(" deny"), "{row}");
}

/// Every combination of the options that load different BPF code (-x, -K,
/// -U, --unique; -p adds the process-tree programs) loads, attaches and
/// shows the helper's checks as it should.
#[test]
fn every_flag_combination_loads() {
    let Some(_root) = root_or_skip("every_flag_combination_loads") else {
        return;
    };
    let me = std::process::id().to_string();
    for bits in 0..16u32 {
        let mut a = vec![];
        let x = bits & 1 != 0;
        x.then(|| a.push("-x"));
        (bits & 2 != 0).then(|| a.push("-K"));
        (bits & 4 != 0).then(|| a.push("-U"));
        (bits & 8 != 0).then(|| a.push("--unique"));
        // -p (the test process: the helper is its child) every other time.
        (bits % 3 == 0).then(|| a.extend(["-p", me.as_str()]));
        let t = start(&a);
        let pid = run_helper(1);
        let v = stop_json(t);
        let c = checks(&v, pid, CAP_NET_RAW);
        let deny = ("deny".to_string(), 65534);
        let want = if x {
            vec![deny]
        } else {
            vec![("allow".to_string(), 0), deny]
        };
        assert_eq!(c, want, "{a:?}");
    }
}

/// A closed stdout (`capable | head -1`) is a normal end: exit 0, soon.
#[test]
fn closed_pipe_ends_it() {
    let Some(_root) = root_or_skip("closed_pipe_ends_it") else {
        return;
    };
    use std::io::BufRead as _;
    let mut g = ChildGuard::spawn(
        Command::new(crate::util::tool("capable"))
            .args(["-d", "60"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null()),
    );
    let mut first = String::new();
    {
        let out = g.0.stdout.take().expect("stdout");
        std::io::BufReader::new(out)
            .read_line(&mut first)
            .expect("first line");
    } // closed here, as `head -1` does
    assert!(first.starts_with("TIME     UID    PID"), "{first}");
    // Generate a check, so there is a row to write into the closed pipe.
    run_helper(1);
    let st = g.wait_timeout(Duration::from_secs(10));
    assert_eq!(st.code(), Some(0), "{st:?}");
}

/// A kernel without capability:cap_capable (Linux < 6.14), as far as the
/// tool can tell: a private mount namespace whose tracefs is an empty
/// tmpfs (gone with the namespace). The error names the tracepoint and the
/// release, and `corescope check` says the same.
#[test]
fn missing_tracepoint_names_the_release() {
    let Some(_root) = root_or_skip("missing_tracepoint_names_the_release") else {
        return;
    };
    let script = "mount -t tmpfs none /sys/kernel/tracing && mkdir -p /sys/kernel/tracing/events/sched && \"$0\" -d 1; echo \"rc=$?\"; \"$1\" check";
    let out = Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", script])
        .arg(crate::util::tool("capable"))
        .arg(crate::util::tool("corescope"))
        .stdin(Stdio::null())
        .output()
        .expect("unshare");
    let (o, e) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(o.contains("rc=1\n"), "{o}\n{e}");
    let want = "capable: error: tracepoint capability:cap_capable does not exist on this kernel: needs Linux >= 6.14\nhint: ";
    assert!(e.starts_with(want), "{e}");
    assert!(
        o.lines().any(|l| l.starts_with("capable ")
            && l.ends_with("missing: tracepoint capability:cap_capable: needs Linux >= 6.14")),
        "{o}"
    );
}
