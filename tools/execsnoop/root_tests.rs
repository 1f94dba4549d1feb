//! Root tests for execsnoop: they load its BPF programs into the running
//! kernel and check what it reports for execs the tests make themselves.
//!
//! Every test tags its execs with a unique marker (`util::marker`), so tests
//! running at the same time, and the rest of the machine, never confuse them.
//! Without root the tests skip (and fail with CI=true): see `root_or_skip`.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use serde_json::Value;

use crate::util::{
    argv, compile_helper, json_events, json_lines, json_summary, marker, num,
    root_exclusive_or_skip, root_or_skip, tool, ChildGuard, TempDir, ToolRun,
};

/// Loading the programs (debug build, other tests running) stays well under this.
const READY: Duration = Duration::from_secs(30);
/// A `-- CMD` run of a few execs.
const RUN: Duration = Duration::from_secs(30);

/// Runs `execsnoop ARGS` to its end and returns it (panics after `RUN`).
fn run_to_end(args: &[&str]) -> crate::util::Finished {
    let mut t = ToolRun::start("execsnoop", args, Stdio::null());
    t.wait(RUN)
}

/// Events whose argv is exactly `want`.
fn with_argv<'a>(events: &[&'a Value], want: &[&str]) -> Vec<&'a Value> {
    events.iter().copied().filter(|e| argv(e) == want).collect()
}

/// Events with `needle` in their filename or any argument.
fn mentioning<'a>(events: &[&'a Value], needle: &str) -> Vec<&'a Value> {
    events
        .iter()
        .copied()
        .filter(|e| {
            e["filename"].as_str().is_some_and(|f| f.contains(needle))
                || argv(e).iter().any(|a| a.contains(needle))
        })
        .collect()
}

fn one<'a>(v: Vec<&'a Value>, what: &str, stdout: &str) -> &'a Value {
    assert_eq!(
        v.len(),
        1,
        "expected exactly one event for {what}, got {}; stdout:\n{stdout}",
        v.len()
    );
    v[0]
}

/// Test 1: The exec of a program run by `-- CMD` is reported with its PID, its
/// parent (the shell), ret 0 and its exact argv.
#[test]
fn exec_reported_with_pid_ppid_and_args() {
    let Some(_root) = root_or_skip("exec_reported_with_pid_ppid_and_args") else {
        return;
    };
    let m = marker("basic");
    let script = format!("/bin/true {m} a b; exit 0");
    let mut t = ToolRun::start(
        "execsnoop",
        &["-j", "--", "/bin/sh", "-c", &script],
        Stdio::null(),
    );
    let tool_pid = u64::from(t.pid());
    let f = t.wait(RUN);
    assert_eq!(f.code(), 0, "stderr:\n{}", f.stderr);
    let lines = json_lines(&f.stdout);
    let ev = json_events(&lines);

    let sh = one(
        with_argv(&ev, &["/bin/sh", "-c", &script]),
        "the shell",
        &f.stdout,
    );
    let sh_pid = num(sh, "pid");
    assert_eq!(num(sh, "ppid"), tool_pid, "CMD is the tool's child: {sh}");
    assert_eq!(sh["filename"], "/bin/sh");

    let tr = one(
        with_argv(&ev, &["/bin/true", &m, "a", "b"]),
        "/bin/true",
        &f.stdout,
    );
    assert_eq!(tr["ret"], 0, "{tr}");
    assert_eq!(tr["filename"], "/bin/true", "{tr}");
    assert_eq!(tr["comm"], "true", "{tr}");
    assert_eq!(
        num(tr, "ppid"),
        sh_pid,
        "/bin/true's parent is the shell: {tr}"
    );
    assert_eq!(tr["pcomm"], "sh", "{tr}");
    assert_ne!(num(tr, "pid"), sh_pid, "the shell forks /bin/true: {tr}");
    assert_eq!(
        num(tr, "tid"),
        num(tr, "pid"),
        "a single-threaded exec: {tr}"
    );
    assert_eq!(tr["filename_truncated"], false);
    assert_eq!(tr["args_truncated"], false);
    assert_eq!(num(json_summary(&lines), "shown") as usize, ev.len());
}

/// Test 2: `-x` reports a failed exec with ret -ENOENT; without -x it is absent.
#[test]
fn failed_exec_only_with_x() {
    let Some(_root) = root_or_skip("failed_exec_only_with_x") else {
        return;
    };
    let m = marker("fail");
    let path = format!("/nonexistent/{m}");
    let script = format!("{path} arg1 2>/dev/null; /bin/true {m}; exit 0");

    let f = run_to_end(&["-x", "-j", "--", "/bin/sh", "-c", &script]);
    assert_eq!(f.code(), 0, "stderr:\n{}", f.stderr);
    let lines = json_lines(&f.stdout);
    let ev = json_events(&lines);
    let failed = one(
        with_argv(&ev, &[&path, "arg1"]),
        "the failed exec",
        &f.stdout,
    );
    assert_eq!(failed["ret"], -2, "{failed}");
    assert_eq!(failed["filename"], path.as_str(), "{failed}");
    let ok = one(with_argv(&ev, &["/bin/true", &m]), "/bin/true", &f.stdout);
    assert_eq!(ok["ret"], 0);

    let f = run_to_end(&["-j", "--", "/bin/sh", "-c", &script]);
    assert_eq!(f.code(), 0, "stderr:\n{}", f.stderr);
    let lines = json_lines(&f.stdout);
    let ev = json_events(&lines);
    assert!(
        with_argv(&ev, &[&path, "arg1"]).is_empty(),
        "failed exec shown without -x:\n{}",
        f.stdout
    );
    assert!(
        ev.iter().all(|e| e["ret"] == 0),
        "a non-zero ret without -x:\n{}",
        f.stdout
    );
    // The run did trace: the successful exec after the failed one is there.
    one(
        with_argv(&ev, &["/bin/true", &m]),
        "/bin/true without -x",
        &f.stdout,
    );
}

/// Children of `pid`, from /proc.
fn children_of(pid: u32) -> Vec<u32> {
    let mut v = Vec::new();
    for ent in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Some(p) = ent.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read(format!("/proc/{p}/stat")) else {
            continue;
        };
        if corescope::filter::parse_stat_ppid(&stat) == Some(pid) {
            v.push(p);
        }
    }
    v
}

/// Test 3: `-p PID` traces PID's existing and future descendants (a child and a
/// grandchild), not an outsider.
#[test]
fn pid_filter_follows_descendants_only() {
    let Some(_root) = root_or_skip("pid_filter_follows_descendants_only") else {
        return;
    };
    let m_child = marker("pchild");
    let m_grand = marker("pgrand");
    let m_out = marker("pout");
    // parent → existing child shell (blocked in `read` on the parent's
    // stdin) → grandchild /bin/true forked after the trigger; then the
    // parent forks /bin/true itself.
    let script =
        format!("/bin/sh -c 'read x; /bin/true {m_grand}; exit 0'; /bin/true {m_child}; exit 0");
    let mut parent = ChildGuard::spawn(
        Command::new("/bin/sh")
            .args(["-c", &script])
            .stdin(Stdio::piped())
            .stdout(Stdio::null()),
    );
    let ppid = parent.pid();
    // Wait until the child shell exists (an existing descendant when the tool starts).
    let end = Instant::now() + Duration::from_secs(10);
    let mid = loop {
        if let Some(&c) = children_of(ppid).first() {
            break c;
        }
        assert!(
            Instant::now() < end,
            "the parent shell never forked its child"
        );
        std::thread::sleep(Duration::from_millis(10));
    };

    let pid_arg = ppid.to_string();
    let mut t = ToolRun::start("execsnoop", &["-p", &pid_arg, "-j", "-v"], Stdio::null());
    t.wait_ready(READY);

    // An outsider (the test's own child) execs while tracing.
    let st = Command::new("/bin/true")
        .arg(&m_out)
        .status()
        .expect("running the outsider");
    assert!(st.success());
    // Trigger the tree and wait for it to finish.
    let mut stdin = parent.0.stdin.take().expect("parent stdin");
    stdin.write_all(b"go\n").expect("triggering the parent");
    drop(stdin);
    let st = parent.wait_timeout(RUN);
    assert!(st.success(), "parent shell: {st:?}");
    // The outsider exec'd first: once the tree's rows are out, an outsider
    // row would be out too. Then stop.
    let mut seen = [false, false];
    t.wait_stdout(RUN, |l| {
        seen[0] |= l.contains(&m_child);
        seen[1] |= l.contains(&m_grand);
        seen == [true, true]
    });

    t.signal(Signal::SIGINT);
    let f = t.wait(RUN);
    assert_eq!(f.code(), 0, "stderr:\n{}", f.stderr);
    let lines = json_lines(&f.stdout);
    let ev = json_events(&lines);

    let gc = one(
        with_argv(&ev, &["/bin/true", &m_grand]),
        "the grandchild",
        &f.stdout,
    );
    assert_eq!(
        num(gc, "ppid"),
        u64::from(mid),
        "grandchild's parent is the child shell: {gc}"
    );
    let c = one(
        with_argv(&ev, &["/bin/true", &m_child]),
        "the child",
        &f.stdout,
    );
    assert_eq!(
        num(c, "ppid"),
        u64::from(ppid),
        "child's parent is the -p process: {c}"
    );
    assert!(
        mentioning(&ev, &m_out).is_empty(),
        "outsider shown with -p:\n{}",
        f.stdout
    );
    json_summary(&lines);
}

/// Test 4: `-- CMD` traces only CMD's tree and exits with CMD's status.
#[test]
fn cmd_traces_only_cmd_and_returns_its_status() {
    let Some(_root) = root_or_skip("cmd_traces_only_cmd_and_returns_its_status") else {
        return;
    };
    let m_in = marker("cmdin");
    let m_out = marker("cmdout");
    // CMD waits on the tool's stdin (which it inherits) until the outsider ran.
    let script = format!("/bin/true {m_in}; read x; exit 7");
    let mut t = ToolRun::start(
        "execsnoop",
        &["-j", "-v", "--", "/bin/sh", "-c", &script],
        Stdio::piped(),
    );
    t.wait_ready(READY);
    let st = Command::new("/bin/true")
        .arg(&m_out)
        .status()
        .expect("running the outsider");
    assert!(st.success());
    let mut stdin = t.take_stdin().expect("tool stdin");
    stdin.write_all(b"go\n").expect("releasing CMD");
    drop(stdin);

    let f = t.wait(RUN);
    assert_eq!(f.code(), 7, "exit status is CMD's; stderr:\n{}", f.stderr);
    let lines = json_lines(&f.stdout);
    let ev = json_events(&lines);
    one(
        with_argv(&ev, &["/bin/true", &m_in]),
        "CMD's /bin/true",
        &f.stdout,
    );
    assert!(
        mentioning(&ev, &m_out).is_empty(),
        "outsider shown with -- CMD:\n{}",
        f.stdout
    );
    assert_eq!(json_summary(&lines)["cmd_exit_code"], 7);

    // And a plain `exit 7` without any wait.
    let f = run_to_end(&["-j", "--", "sh", "-c", "exit 7"]);
    assert_eq!(f.code(), 7, "stderr:\n{}", f.stderr);
}

/// Test 5a: An exec through execveat(2) (glibc's fexecve) is reported.
#[test]
fn fexecve_is_reported() {
    let Some(_root) = root_or_skip("fexecve_is_reported") else {
        return;
    };
    let dir = TempDir::new(0o755);
    let helper = compile_helper("fexecve", dir.path());
    let helper = helper.to_str().expect("UTF-8 temp path");
    let m = marker("fexecve");
    let f = run_to_end(&["-j", "--", helper, &m]);
    assert_eq!(f.code(), 0, "stderr:\n{}", f.stderr);
    let lines = json_lines(&f.stdout);
    let ev = json_events(&lines);
    let h = one(with_argv(&ev, &[helper, &m]), "the helper", &f.stdout);
    let e = one(
        with_argv(&ev, &["true", &m]),
        "the fexecve'd /bin/true",
        &f.stdout,
    );
    assert_eq!(e["ret"], 0, "{e}");
    assert_eq!(num(e, "pid"), num(h, "pid"), "same process: {e}");
    // execveat(fd, "", AT_EMPTY_PATH) names the file /dev/fd/N.
    let fname = e["filename"].as_str().unwrap_or_default();
    assert!(fname.starts_with("/dev/fd/"), "not an execveat by fd: {e}");
}

/// Test 5b: An exec called by a non-leader thread is reported with its TID.
#[test]
fn exec_from_non_leader_thread() {
    let Some(_root) = root_or_skip("exec_from_non_leader_thread") else {
        return;
    };
    let dir = TempDir::new(0o755);
    let helper = compile_helper("thread_exec", dir.path());
    let helper = helper.to_str().expect("UTF-8 temp path");
    let m = marker("thread");
    // echo's output must not mix with the JSON on stdout.
    let f = run_to_end(&[
        "-j",
        "--",
        "/bin/sh",
        "-c",
        "\"$0\" \"$1\" >/dev/null; exit 0",
        helper,
        &m,
    ]);
    assert_eq!(f.code(), 0, "stderr:\n{}", f.stderr);
    let (pid, tid) = f
        .stderr
        .lines()
        .find_map(|l| {
            let rest = l.strip_prefix("thread_exec: pid=")?;
            let (p, t) = rest.split_once(" tid=")?;
            Some((p.parse::<u64>().ok()?, t.trim().parse::<u64>().ok()?))
        })
        .unwrap_or_else(|| panic!("helper did not print its pid/tid; stderr:\n{}", f.stderr));
    assert_ne!(pid, tid);
    let lines = json_lines(&f.stdout);
    let ev = json_events(&lines);
    let e = one(
        with_argv(&ev, &["echo", &m]),
        "the thread's exec",
        &f.stdout,
    );
    assert_eq!(e["ret"], 0, "{e}");
    assert_eq!(e["filename"], "/bin/echo", "{e}");
    assert_eq!(num(e, "pid"), pid, "pid is the TGID: {e}");
    assert_eq!(num(e, "tid"), tid, "tid is the thread that exec'd: {e}");
    assert_ne!(num(e, "tid"), num(e, "pid"), "{e}");
}

/// Test 6: A newline and an ESC in an argument stay on one table row, escaped;
/// JSON keeps the raw string.
#[test]
fn control_characters_in_args() {
    let Some(_root) = root_or_skip("control_characters_in_args") else {
        return;
    };
    let m = marker("esc");
    let arg = format!("a\nb\x1bc{m}");
    let script = "/bin/true \"$1\"; exit 0";

    let f = run_to_end(&["--", "/bin/sh", "-c", script, "sh", &arg]);
    assert_eq!(f.code(), 0, "stderr:\n{}", f.stderr);
    assert!(
        !f.stdout.contains('\x1b'),
        "raw ESC on stdout:\n{}",
        f.stdout
    );
    let mut rows = f.stdout.lines();
    assert_eq!(
        rows.next()
            .map(|h| h.split_whitespace().collect::<Vec<_>>()),
        Some(vec!["PCOMM", "PID", "PPID", "RET", "ARGS"]),
        "header:\n{}",
        f.stdout
    );
    let rows: Vec<&str> = rows.collect();
    // Every row is a whole row: comm, numeric PID, PPID and RET, then ARGS.
    for r in &rows {
        let cols: Vec<&str> = r.split_whitespace().collect();
        assert!(
            cols.len() >= 5 && cols[1..4].iter().all(|c| c.parse::<i64>().is_ok()),
            "broken row {r:?} in:\n{}",
            f.stdout
        );
    }
    let escaped = format!("/bin/true a\\nb\\ec{m}");
    let hits: Vec<&&str> = rows.iter().filter(|r| r.ends_with(&escaped)).collect();
    assert_eq!(
        hits.len(),
        1,
        "no single row ending in {escaped:?}:\n{}",
        f.stdout
    );
    assert!(hits[0].starts_with("true "), "{:?}", hits[0]);
    assert_eq!(rows.len(), 2, "the shell and /bin/true only:\n{}", f.stdout);

    let f = run_to_end(&["-j", "--", "/bin/sh", "-c", script, "sh", &arg]);
    assert_eq!(f.code(), 0, "stderr:\n{}", f.stderr);
    let lines = json_lines(&f.stdout);
    let ev = json_events(&lines);
    one(
        with_argv(&ev, &["/bin/true", &arg]),
        "the raw argument in JSON",
        &f.stdout,
    );
}

/// Test 7: Every stdout line of a --json run is JSON; the last is the summary.
#[test]
fn json_output_is_all_json() {
    let Some(_root) = root_or_skip("json_output_is_all_json") else {
        return;
    };
    let m = marker("json");
    let script = format!(
        "/bin/true {m} '\"quoted\"' 'back\\slash'; /bin/echo {m} >/dev/null; /nonexistent/{m} 2>/dev/null; exit 3"
    );
    let f = run_to_end(&["-x", "-j", "--", "/bin/sh", "-c", &script]);
    assert_eq!(f.code(), 3, "stderr:\n{}", f.stderr);
    assert!(
        f.stdout.ends_with('\n'),
        "unterminated last line:\n{}",
        f.stdout
    );
    let lines = json_lines(&f.stdout);
    for l in &lines {
        let ty = l["type"].as_str().unwrap_or_else(|| panic!("no type: {l}"));
        assert!(
            ["event", "lost", "summary"].contains(&ty),
            "unknown type {ty}: {l}"
        );
    }
    let ev = json_events(&lines);
    let s = json_summary(&lines);
    assert_eq!(num(s, "shown") as usize, ev.len(), "summary: {s}");
    assert_eq!(
        num(s, "events"),
        num(s, "shown") + num(s, "filtered"),
        "summary: {s}"
    );
    assert_eq!(s["cmd_exit_code"], 3, "summary: {s}");
    one(
        with_argv(&ev, &["/bin/true", &m, "\"quoted\"", "back\\slash"]),
        "/bin/true",
        &f.stdout,
    );
    one(with_argv(&ev, &["/bin/echo", &m]), "/bin/echo", &f.stdout);
    one(
        with_argv(&ev, &[&format!("/nonexistent/{m}")]),
        "the failed exec",
        &f.stdout,
    );
    let tail = format!(
        "execsnoop: {} events, {} shown, {} lost",
        num(s, "events"),
        num(s, "shown"),
        num(s, "lost")
    );
    assert!(
        f.stderr.lines().any(|l| l.starts_with(&tail)),
        "no {tail:?} in stderr:\n{}",
        f.stderr
    );
}

/// Test 8: SIGINT (and SIGTERM): the tool drains, prints the summary and exits 0
/// within 1 s of the signal, sent as soon as it says it is tracing.
#[test]
fn sigint_exits_zero_promptly() {
    let Some(_root) = root_or_skip("sigint_exits_zero_promptly") else {
        return;
    };
    for sig in [Signal::SIGINT, Signal::SIGTERM] {
        let mut t = ToolRun::start("execsnoop", &["-j", "-v"], Stdio::null());
        t.wait_ready(READY);
        let sent = Instant::now();
        t.signal(sig);
        let f = t.wait(Duration::from_secs(10));
        let took = f.exited_at - sent;
        assert_eq!(f.code(), 0, "{sig}: stderr:\n{}", f.stderr);
        assert!(
            took < Duration::from_secs(1),
            "exit took {took:?} after {sig}"
        );
        json_summary(&json_lines(&f.stdout));
        assert!(
            f.stderr
                .lines()
                .any(|l| l.starts_with("execsnoop: ") && l.contains(" events, ")),
            "{sig}: no final count on stderr:\n{}",
            f.stderr
        );
    }
}

/// BPF program IDs held by `pid` (its prog and link fds).
fn prog_ids(pid: u32) -> std::collections::BTreeSet<u32> {
    let mut ids = std::collections::BTreeSet::new();
    for ent in std::fs::read_dir(format!("/proc/{pid}/fdinfo"))
        .expect("fdinfo")
        .flatten()
    {
        let Ok(text) = std::fs::read_to_string(ent.path()) else {
            continue;
        };
        for l in text.lines() {
            if let Some(v) = l.strip_prefix("prog_id:") {
                ids.insert(v.trim().parse().expect("prog_id value"));
            }
        }
    }
    ids
}

fn prog_loaded(id: u32) -> bool {
    Command::new("bpftool")
        .args(["prog", "show", "id", &id.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("running bpftool")
        .success()
}

/// Test 9: After SIGKILL none of the tool's BPF programs stay loaded.
#[test]
fn sigkill_leaves_no_programs() {
    let Some(_root) = root_or_skip("sigkill_leaves_no_programs") else {
        return;
    };
    // With -x (more programs); the readiness line gives their number.
    let mut t = ToolRun::start("execsnoop", &["-x", "-j", "-v"], Stdio::null());
    let n = t.wait_ready(READY);
    let ids = prog_ids(t.pid());
    assert_eq!(ids.len(), n, "prog IDs {ids:?} in fdinfo vs {n} attached");
    for &id in &ids {
        assert!(
            prog_loaded(id),
            "bpftool does not see program {id} while the tool runs"
        );
    }
    t.signal(Signal::SIGKILL);
    let f = t.wait(Duration::from_secs(10));
    assert_eq!(f.status.code(), None, "killed by a signal");
    let end = Instant::now() + Duration::from_secs(3);
    let mut left: Vec<u32> = ids.iter().copied().collect();
    while !left.is_empty() {
        left.retain(|&id| prog_loaded(id));
        if left.is_empty() {
            break;
        }
        assert!(
            Instant::now() < end,
            "programs {left:?} still loaded 3 s after SIGKILL"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Test 10: An exec storm: every exec is either shown or counted as lost.
#[test]
fn exec_storm_is_fully_accounted() {
    let Some(_root) = root_exclusive_or_skip("exec_storm_is_fully_accounted") else {
        return;
    };
    const N: usize = 2000;
    let m = marker("storm");
    let script = format!("i=0; while [ $i -lt {N} ]; do /bin/true {m}; i=$((i+1)); done");
    let mut t = ToolRun::start(
        "execsnoop",
        &["-j", "--", "/bin/sh", "-c", &script],
        Stdio::null(),
    );
    let f = t.wait(Duration::from_secs(120));
    assert_eq!(f.code(), 0, "stderr:\n{}", f.stderr);
    let lines = json_lines(&f.stdout);
    let ev = json_events(&lines);
    let s = json_summary(&lines);
    let shown = with_argv(&ev, &["/bin/true", &m]).len();
    let lost = num(s, "lost") as usize;
    eprintln!("exec storm: {shown} of {N} shown, {lost} lost");
    one(
        with_argv(&ev, &["/bin/sh", "-c", &script]),
        "the shell",
        &f.stdout,
    );
    assert_eq!(shown + lost, N, "shown + lost; summary: {s}");
    assert!(ev.iter().all(|e| e["ret"] == 0));
}

/// Test 11: Without privileges: one `permission denied` error line and a hint.
#[test]
fn unprivileged_run_is_refused_with_hint() {
    let Some(_root) = root_or_skip("unprivileged_run_is_refused_with_hint") else {
        return;
    };
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let dir = TempDir::new(0o755);
    let bin = dir.path().join("execsnoop");
    std::fs::copy(tool("execsnoop"), &bin).expect("copying the binary");
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let mut cmd = Command::new(&bin);
    cmd.args(["-d", "1"])
        .current_dir(dir.path())
        .uid(65534)
        .gid(65534);
    let mut t = ToolRun::start_cmd(cmd, Stdio::null());
    let f = t.wait(RUN);
    assert!(
        !f.status.success(),
        "ran without privileges; stderr:\n{}",
        f.stderr
    );
    assert!(f.stdout.is_empty(), "stdout: {}", f.stdout);
    let err: Vec<&str> = f.stderr.lines().collect();
    assert_eq!(
        err.iter()
            .filter(|l| l.starts_with("execsnoop: error: permission denied"))
            .count(),
        1,
        "stderr:\n{}",
        f.stderr
    );
    assert!(
        err.iter().any(|l| l.starts_with("hint: ")),
        "no hint; stderr:\n{}",
        f.stderr
    );
}

/// Test 12: `-d 1` ends the run by itself after about a second, with exit 0.
#[test]
fn duration_ends_the_run() {
    let Some(_root) = root_or_skip("duration_ends_the_run") else {
        return;
    };
    let mut t = ToolRun::start("execsnoop", &["-d", "1", "-j", "-v"], Stdio::null());
    t.wait_ready(READY);
    let ready = Instant::now();
    let f = t.wait(Duration::from_secs(10));
    let took = f.exited_at - ready;
    assert_eq!(f.code(), 0, "stderr:\n{}", f.stderr);
    assert!(took < Duration::from_secs(3), "-d 1 took {took:?}");
    let s = json_summary(&json_lines(&f.stdout)).clone();
    let d = s["duration_s"].as_f64().expect("duration_s");
    assert!((1.0..2.5).contains(&d), "duration_s {d}");
    assert!(s.get("cmd_exit_code").is_none(), "{s}");
}

/// The ARGS column of the table row that contains `needle`.
fn table_args(stdout: &str, needle: &str) -> String {
    let mut lines = stdout.lines();
    let at = lines
        .next()
        .and_then(|h| h.find("ARGS"))
        .unwrap_or_else(|| panic!("no header:\n{stdout}"));
    let rows: Vec<&str> = lines.filter(|l| l.contains(needle)).collect();
    assert_eq!(rows.len(), 1, "one row with {needle:?}:\n{stdout}");
    rows[0].get(at..).unwrap_or_default().to_string()
}

/// Test 8: A `#!/bin/sh -e` script run with arguments shows what was exec'd
/// (as strace and BCC do): its path, then its arguments, as the script itself
/// sees them ($0 "$@"), not the script's path followed by the interpreter's
/// argv. JSON keeps the process's argv and names the interpreter part.
#[test]
fn script_shows_the_command_that_was_run() {
    let Some(_root) = root_or_skip("script_shows_the_command_that_was_run") else {
        return;
    };
    let dir = TempDir::new(0o755);
    let script = dir.path().join("s.sh");
    std::fs::write(&script, "#!/bin/sh -e\necho \"$0\" \"$@\" >view\n").expect("write script");
    let mode = std::os::unix::fs::PermissionsExt::from_mode(0o755);
    std::fs::set_permissions(&script, mode).expect("chmod");
    let d = dir.path().to_str().expect("UTF-8 temp path");
    let m = marker("script");
    let run = "cd \"$1\" && ./s.sh \"$2\" a b; exit 0";
    let f = run_to_end(&["--", "/bin/sh", "-c", run, "sh", d, &m]);
    assert_eq!(f.code(), 0, "stderr:\n{}", f.stderr);
    let view = std::fs::read_to_string(dir.path().join("view")).expect("the script ran");
    let want = view.trim_end();
    assert_eq!(want, format!("./s.sh {m} a b"));
    assert_eq!(table_args(&f.stdout, &format!("./s.sh {m}")), want);

    let f = run_to_end(&["-j", "--", "/bin/sh", "-c", run, "sh", d, &m]);
    assert_eq!(f.code(), 0, "stderr:\n{}", f.stderr);
    let lines = json_lines(&f.stdout);
    let ev = json_events(&lines);
    let e = one(
        ev.iter()
            .copied()
            .filter(|e| e["filename"] == "./s.sh")
            .collect(),
        "the script",
        &f.stdout,
    );
    assert_eq!(argv(e), ["/bin/sh", "-e", "./s.sh", &m, "a", "b"], "{e}");
    assert_eq!(
        e["interpreter"],
        serde_json::json!(["/bin/sh", "-e"]),
        "{e}"
    );
    assert_eq!(e["argc"], 6, "{e}");

    // --max-args counts what the row shows (the interpreter's words are
    // copied on top): the path and two arguments, then " ...".
    let f = run_to_end(&["--max-args", "3", "--", "/bin/sh", "-c", run, "sh", d, &m]);
    assert_eq!(f.code(), 0, "stderr:\n{}", f.stderr);
    assert_eq!(
        table_args(&f.stdout, &format!("./s.sh {m}")),
        format!("./s.sh {m} a ...")
    );
}

/// Test 9: Each argument has its own byte budget (--max-arg-size, default
/// 128 with its NUL): a 3000-byte argument is cut to 127 bytes and marked,
/// and the arguments after it are all there; past --max-args the row ends in
/// ` ...` and JSON's argc is the real count.
#[test]
fn long_argument_keeps_the_ones_after_it() {
    let Some(_root) = root_or_skip("long_argument_keeps_the_ones_after_it") else {
        return;
    };
    let m = marker("longarg");
    let long = "L".repeat(3000);
    let f = run_to_end(&["-j", "--", "/bin/true", &m, &long, "after1", "after2"]);
    assert_eq!(f.code(), 0, "stderr:\n{}", f.stderr);
    let lines = json_lines(&f.stdout);
    let ev = json_events(&lines);
    let e = one(mentioning(&ev, &m), "/bin/true", &f.stdout);
    assert_eq!(
        argv(e),
        ["/bin/true", &m, &"L".repeat(127), "after1", "after2"],
        "{e}"
    );
    assert_eq!(e["argc"], 5, "{e}");
    assert_eq!(e["args_truncated"], true, "{e}");

    let f = run_to_end(&["--", "/bin/true", &m, &long, "after1", "after2"]);
    assert_eq!(f.code(), 0, "stderr:\n{}", f.stderr);
    assert_eq!(
        table_args(&f.stdout, &m),
        format!("/bin/true {m} {}... after1 after2", "L".repeat(127))
    );

    // 25 arguments, 20 shown (the filename counts), the real argc in JSON.
    let many: Vec<String> = (2..25).map(|i| format!("a{i}")).collect();
    let mut cmd = vec!["-j", "--", "/bin/true", &m];
    cmd.extend(many.iter().map(String::as_str));
    let f = run_to_end(&cmd);
    assert_eq!(f.code(), 0, "stderr:\n{}", f.stderr);
    let lines = json_lines(&f.stdout);
    let ev = json_events(&lines);
    let e = one(mentioning(&ev, &m), "/bin/true", &f.stdout);
    assert_eq!(argv(e).len(), 20, "{e}");
    assert_eq!(e["argc"], 25, "{e}");
    assert_eq!(e["args_truncated"], true, "{e}");
    cmd.remove(0);
    let f = run_to_end(&cmd);
    assert!(
        table_args(&f.stdout, &m).ends_with(" a19 ..."),
        "{}",
        f.stdout
    );
}

/// A path of `len` bytes under /nonexistent (components of at most 200).
fn long_path(len: usize, m: &str) -> String {
    let mut p = format!("/nonexistent/{m}");
    while p.len() < len {
        let room = len - p.len() - 1;
        p.push('/');
        p.push_str(&"p".repeat(room.min(200)));
    }
    assert_eq!(p.len(), len);
    p
}

/// Test 10: `-x` boundaries: an argument that fits its budget exactly (127
/// bytes + NUL) is not marked cut, one byte more is; a path of 4095 bytes
/// (+ NUL: the 4096-byte cap) is whole, one of 4096 bytes is marked cut.
#[test]
fn failed_exec_boundaries_are_exact() {
    let Some(_root) = root_or_skip("failed_exec_boundaries_are_exact") else {
        return;
    };
    let m = marker("bound");
    let (fit, over) = ("F".repeat(127), "G".repeat(128));
    let (p4095, p4096) = (long_path(4095, &m), long_path(4096, &m));
    let missing = format!("/nonexistent/{m}");
    let script = "\"$1\" \"$2\" 2>/dev/null; \"$1\" \"$3\" 2>/dev/null; \
                  \"$4\" 2>/dev/null; \"$5\" 2>/dev/null; exit 0";
    let f = run_to_end(&[
        "-x", "-j", "--", "/bin/sh", "-c", script, "sh", &missing, &fit, &over, &p4095, &p4096,
    ]);
    assert_eq!(f.code(), 0, "stderr:\n{}", f.stderr);
    let lines = json_lines(&f.stdout);
    let ev = json_events(&lines);
    let fits = one(
        with_argv(&ev, &[&missing, &fit]),
        "argument that fits",
        &f.stdout,
    );
    let cut = one(
        with_argv(&ev, &[&missing, &"G".repeat(127)]),
        "argument one byte over",
        &f.stdout,
    );
    let whole = one(
        ev.iter()
            .copied()
            .filter(|e| e["filename"] == p4095.as_str() && e["ret"] == -2)
            .collect(),
        "the 4095-byte path (ENOENT)",
        &f.stdout,
    );
    let long = one(
        ev.iter().copied().filter(|e| e["ret"] == -36).collect(),
        "the 4096-byte path (ENAMETOOLONG)",
        &f.stdout,
    );
    assert_eq!(long["filename"], &p4096[..4095], "{long}");
    // All four at once, so that a failure shows each boundary.
    assert_eq!(
        [
            &fits["args_truncated"],
            &cut["args_truncated"],
            &whole["filename_truncated"],
            &long["filename_truncated"],
        ],
        [&false.into(), &true.into(), &false.into(), &true.into()] as [&Value; 4],
        "args_truncated of the fitting / longer argument, filename_truncated of \
         the 4095 / 4096-byte path:\n{fits}\n{cut}\n{whole}\n{long}"
    );
}

/// Test 11: A failed `execveat(fd, "", AT_EMPTY_PATH)` (fexecve of a file
/// that is not executable) is named /dev/fd/N, like a successful one.
#[test]
fn failed_fexecve_names_the_descriptor() {
    let Some(_root) = root_or_skip("failed_fexecve_names_the_descriptor") else {
        return;
    };
    let dir = TempDir::new(0o755);
    let helper = compile_helper("fexecve_fail", dir.path());
    let helper = helper.to_str().expect("UTF-8 temp path");
    let data = dir.path().join("data");
    std::fs::write(&data, "not a program\n").expect("write data");
    let data = data.to_str().expect("UTF-8 temp path");
    let m = marker("fexecvefail");
    let f = run_to_end(&["-x", "-j", "--", helper, data, &m]);
    assert_eq!(f.code(), 0, "stderr:\n{}", f.stderr);
    let fd = f
        .stderr
        .lines()
        .find_map(|l| {
            l.strip_prefix("fexecve_fail: fd=")?
                .split(' ')
                .next()?
                .parse::<u32>()
                .ok()
        })
        .unwrap_or_else(|| panic!("helper did not print its fd; stderr:\n{}", f.stderr));
    let lines = json_lines(&f.stdout);
    let ev = json_events(&lines);
    let e = one(
        with_argv(&ev, &["fexecve_fail", &m]),
        "the failed fexecve",
        &f.stdout,
    );
    assert_eq!(e["ret"], -13, "EACCES: {e}");
    assert_eq!(e["filename"], format!("/dev/fd/{fd}"), "{e}");
}

/// Test 12: After a non-leader thread's exec, its old TID is not left in the
/// process-tree set (once freed it could be any process's PID, and that
/// process would be traced): at the end of `-- CMD`, with everything it ran
/// gone, -v reports the set empty.
#[test]
fn thread_exec_leaves_no_tid_tracked() {
    let Some(_root) = root_or_skip("thread_exec_leaves_no_tid_tracked") else {
        return;
    };
    let dir = TempDir::new(0o755);
    let helper = compile_helper("thread_exec", dir.path());
    let helper = helper.to_str().expect("UTF-8 temp path");
    let m = marker("threadtid");
    let f = run_to_end(&[
        "-v",
        "-j",
        "--",
        "/bin/sh",
        "-c",
        "\"$0\" \"$1\" >/dev/null; exit 0",
        helper,
        &m,
    ]);
    assert_eq!(f.code(), 0, "stderr:\n{}", f.stderr);
    let tid = f
        .stderr
        .lines()
        .find_map(|l| {
            l.strip_prefix("thread_exec: pid=")?
                .split_once(" tid=")?
                .1
                .trim()
                .parse::<u32>()
                .ok()
        })
        .unwrap_or_else(|| panic!("helper did not print its tid; stderr:\n{}", f.stderr));
    let left = f
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("execsnoop: process-tree filter: "))
        .unwrap_or_else(|| panic!("no process-tree report with -v; stderr:\n{}", f.stderr));
    assert!(
        !left.split(['[', ']', ' ']).any(|p| p == tid.to_string()),
        "the exec'ing thread's old TID {tid} is still tracked: {left}"
    );
    assert!(left.starts_with("0 PIDs"), "{left}");
    // The exec itself was traced.
    let lines = json_lines(&f.stdout);
    one(
        with_argv(&json_events(&lines), &["echo", &m]),
        "the thread's exec",
        &f.stdout,
    );
}

/// A failed exec given an argv pointer that cannot be read (EFAULT): the
/// arguments read before the fault are shown and the event says the rest is
/// unreadable (the kernel's fault bit, EXECSNOOP_F_ARGS_FAULT), in JSON and
/// in the table.
#[test]
fn unreadable_argv_is_reported() {
    let Some(_root) = root_or_skip("unreadable_argv_is_reported") else {
        return;
    };
    let dir = TempDir::new(0o755);
    let helper = compile_helper("bad_pointers", dir.path());
    let helper = helper.to_str().expect("UTF-8 temp path");
    let m = marker("badargv");
    let f = run_to_end(&["-x", "-j", "--", helper, "exec", "/bin/true", &m]);
    assert_eq!(f.code(), 0, "stderr:\n{}", f.stderr);
    assert!(
        f.stderr.contains("bad_pointers: exec errno=14"),
        "{}",
        f.stderr
    );
    let lines = json_lines(&f.stdout);
    let e = one(
        with_argv(&json_events(&lines), &[&m]),
        "the exec",
        &f.stdout,
    );
    assert_eq!(
        (&e["ret"], &e["filename"]),
        (&(-14).into(), &"/bin/true".into()),
        "{e}"
    );
    assert_eq!(
        (&e["args_unreadable"], &e["args_truncated"]),
        (&true.into(), &true.into()),
        "{e}"
    );
    let f = run_to_end(&["-x", "--", helper, "exec", "/bin/true", &m]);
    // ARGS: the filename, then argv[1..] (argv[0], the marker, is the
    // name's): here nothing before the fault.
    let rows: Vec<_> = f.stdout.lines().filter(|l| l.contains(" -14 ")).collect();
    assert_eq!(rows.len(), 1, "{}", f.stdout);
    assert!(
        rows[0].ends_with(" -14 /bin/true [unreadable]"),
        "{}",
        f.stdout
    );
}
