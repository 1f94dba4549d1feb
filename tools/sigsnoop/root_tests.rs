//! Root tests for sigsnoop: the test sends signals itself (kill(2) to a
//! child it started, to a PID it has just reaped; tgkill(2) and tkill(2)
//! from tools/sigsnoop/tkill_helper.c) and checks each row against what it
//! did: sender PID and comm (its own, read from /proc), target, signal, the
//! syscall's own result, how the child died. As root they run; without
//! root they skip and say why, except with CI=true, where they fail.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::Value;

use crate::util::{
    compile_helper, json_events, json_lines, json_summary, root_or_skip, ChildGuard, ToolRun,
};

pub(crate) fn tkill_helper() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("sigsnoop-helper");
        std::fs::create_dir_all(&dir).expect("helper dir");
        compile_helper("tkill_helper", &dir)
    })
    .clone()
}

/// Runs the tkill helper: its PID and TID.
pub(crate) fn run_tkill_helper() -> (i64, i64) {
    let out = Command::new(tkill_helper())
        .stdin(Stdio::null())
        .output()
        .expect("tkill_helper");
    assert!(out.status.success(), "tkill_helper: {:?}", out.status);
    let s = String::from_utf8_lossy(&out.stdout);
    let v: Vec<i64> = s
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    assert_eq!(v.len(), 2, "tkill_helper printed {s:?}");
    (v[0], v[1])
}

/// A child that SIGUSR1 ends (default action).
pub(crate) fn target() -> ChildGuard {
    ChildGuard::spawn(Command::new("sleep").arg("100").stdin(Stdio::null()))
}

/// A PID that was just freed (its process reaped): kill() gets ESRCH.
pub(crate) fn free_pid() -> i32 {
    let mut g = ChildGuard::spawn(Command::new("true").stdin(Stdio::null()));
    g.wait_timeout(Duration::from_secs(10));
    g.pid() as i32
}

/// This thread's comm, as the kernel has it (the sender's COMM).
pub(crate) fn my_comm() -> String {
    let tid = nix::unistd::gettid();
    let p = format!("/proc/self/task/{tid}/comm");
    std::fs::read_to_string(p)
        .expect("comm")
        .trim_end()
        .to_string()
}

/// kill(child, SIGUSR1), reaped: it must have died of it.
pub(crate) fn usr1(child: &mut ChildGuard) {
    kill(Pid::from_raw(child.pid() as i32), Signal::SIGUSR1).expect("kill USR1");
    let st = child.wait_timeout(Duration::from_secs(10));
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(st.signal(), Some(libc::SIGUSR1));
}

pub(crate) fn start(tool: &str, args: &[&str]) -> ToolRun {
    let mut all = vec!["-v"];
    all.extend_from_slice(args);
    let mut t = ToolRun::start(tool, &all, Stdio::null());
    t.wait_ready(Duration::from_secs(30));
    t
}

pub(crate) fn stop_json(mut t: ToolRun) -> Vec<Value> {
    std::thread::sleep(Duration::from_millis(200));
    t.signal(Signal::SIGINT);
    let f = t.wait(Duration::from_secs(30));
    assert_eq!(f.code(), 0, "stderr: {}", f.stderr);
    let v = json_lines(&f.stdout);
    json_summary(&v);
    v
}

pub(crate) fn rows(v: &[Value], f: impl Fn(&Value) -> bool) -> Vec<Value> {
    json_events(v)
        .into_iter()
        .filter(|e| f(e))
        .cloned()
        .collect()
}

#[test]
fn sigusr1_between_two_known_pids_and_a_failed_kill() {
    let Some(_root) = root_or_skip("sigusr1_between_two_known_pids_and_a_failed_kill") else {
        return;
    };
    let me = std::process::id();
    // System-wide (rows picked by their PIDs): with -p the child would be
    // forgotten at its exit, before it sends us SIGCHLD.
    for failed in [false, true] {
        let mut args = vec!["-j"];
        failed.then(|| args.push("-x"));
        let mut child = target();
        let cpid = child.pid();
        let gone = free_pid();
        let t = start("sigsnoop", &args);
        usr1(&mut child);
        assert_eq!(
            kill(Pid::from_raw(gone), Signal::SIGUSR1),
            Err(Errno::ESRCH)
        );
        let (hpid, htid) = run_tkill_helper();
        let v = stop_json(t);

        let usr = rows(&v, |e| e["tpid"] == cpid);
        let esrch = rows(&v, |e| e["tpid"] == gone);
        assert_eq!(esrch.len(), 1, "-x {failed}: {esrch:?}");
        let e = &esrch[0];
        assert_eq!(
            (e["pid"].as_u64(), e["sig"].as_i64()),
            (Some(u64::from(me)), Some(10))
        );
        assert_eq!(
            (e["ret"].as_i64(), e["source"].as_str()),
            (Some(-3), Some("kill"))
        );
        assert_eq!(e["comm"], my_comm());
        let winch = rows(&v, |e| e["pid"] == hpid && e["sig"] == 28);
        if failed {
            assert!(
                usr.is_empty() && winch.is_empty(),
                "-x showed successes: {v:?}"
            );
            assert!(json_events(&v).iter().all(|e| e["ret"].as_i64() < Some(0)));
            continue;
        }
        // Once, from signal_generate (not again from the syscall's exit).
        assert_eq!(usr.len(), 1, "{usr:?}");
        let u = &usr[0];
        assert_eq!(
            (u["pid"].as_u64(), u["tid"].as_i64()),
            (
                Some(u64::from(me)),
                Some(i64::from(nix::unistd::gettid().as_raw()))
            )
        );
        assert_eq!(
            (u["sig"].as_i64(), u["signal"].as_str()),
            (Some(10), Some("SIGUSR1"))
        );
        assert_eq!(
            (u["ret"].as_i64(), u["delivery"].as_str()),
            (Some(0), Some("delivered"))
        );
        assert_eq!(
            (u["source"].as_str(), u["target_comm"].as_str()),
            (Some("signal_generate"), Some("sleep"))
        );
        assert_eq!(u["comm"], my_comm());
        // The helper's tgkill and tkill to itself: SIGWINCH, ignored.
        assert_eq!(winch.len(), 2, "{winch:?}");
        for w in &winch {
            assert_eq!(
                (w["tpid"].as_i64(), w["sig"].as_i64()),
                (Some(htid), Some(28))
            );
            assert_eq!(w["delivery"], "ignored", "{w}");
        }
        // The child's death sends us SIGCHLD: the child is the sender.
        let chld = rows(&v, |e| e["pid"] == cpid && e["sig"] == 17);
        assert_eq!(chld.len(), 1, "{chld:?}");
        // TPID is the thread signalled: the one that forked it (this one).
        let tid = nix::unistd::gettid().as_raw();
        assert_eq!(chld[0]["tpid"], tid, "{}", chld[0]);
        assert_eq!(chld[0]["target_comm"], my_comm(), "{}", chld[0]);
    }
}

#[test]
fn kill_only_rows_have_the_syscalls_return() {
    let Some(_root) = root_or_skip("kill_only_rows_have_the_syscalls_return") else {
        return;
    };
    let me = std::process::id();
    let me_s = me.to_string();
    let mut child = target();
    let cpid = child.pid();
    let gone = free_pid();
    let t = start("sigsnoop", &["-j", "-k", "-n", "-p", &me_s]);
    usr1(&mut child);
    assert_eq!(
        kill(Pid::from_raw(gone), Signal::SIGUSR1),
        Err(Errno::ESRCH)
    );
    let (hpid, htid) = run_tkill_helper();
    let v = stop_json(t);
    // Syscalls only: no SIGCHLD (generated by the kernel), one row per call.
    assert!(
        rows(&v, |e| e["source"] == "signal_generate").is_empty(),
        "{v:?}"
    );
    let usr = rows(&v, |e| e["tpid"] == cpid);
    assert_eq!(usr.len(), 1, "{usr:?}");
    assert_eq!(
        (usr[0]["ret"].as_i64(), usr[0]["source"].as_str()),
        (Some(0), Some("kill"))
    );
    assert_eq!(usr[0]["pid"], me);
    let esrch = rows(&v, |e| e["tpid"] == gone);
    assert_eq!(esrch.len(), 1, "{esrch:?}");
    assert_eq!(esrch[0]["ret"], -3);
    let h = rows(&v, |e| e["pid"] == hpid);
    let src: Vec<&str> = h.iter().filter_map(|e| e["source"].as_str()).collect();
    assert_eq!(src, ["tgkill", "tkill"], "{h:?}");
    assert_eq!(
        (h[0]["ttgid"].as_i64(), h[0]["tpid"].as_i64()),
        (Some(hpid), Some(htid))
    );
    assert_eq!(
        (h[1]["tpid"].as_i64(), h[1]["ret"].as_i64()),
        (Some(htid), Some(0))
    );
}

/// Every combination of the options that change the BPF code (-k, -x, -s,
/// --tpid) loads, and each filters as it says.
#[test]
fn every_flag_combination_loads_and_filters() {
    let Some(_root) = root_or_skip("every_flag_combination_loads_and_filters") else {
        return;
    };
    let me = std::process::id().to_string();
    for k in [false, true] {
        for x in [false, true] {
            for s in [None, Some("USR1"), Some("TERM")] {
                for tpid in [false, true] {
                    let mut child = target();
                    let c = child.pid().to_string();
                    let mut a = vec!["-j", "-p", me.as_str()];
                    k.then(|| a.push("-k"));
                    x.then(|| a.push("-x"));
                    if let Some(s) = s {
                        a.extend(["-s", s]);
                    }
                    tpid.then(|| a.extend(["--tpid", c.as_str()]));
                    let t = start("sigsnoop", &a);
                    usr1(&mut child);
                    let v = stop_json(t);
                    let n = rows(&v, |e| e["tpid"] == child.pid()).len();
                    let want = usize::from(!x && s != Some("TERM"));
                    assert_eq!(n, want, "{a:?}: {v:?}");
                    if tpid {
                        assert!(json_events(&v).iter().all(|e| e["tpid"] == child.pid()));
                    }
                }
            }
        }
    }
}
