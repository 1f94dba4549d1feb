//! Root tests for killsnoop: kill(2) from the test itself to a child it
//! started and to a PID it has just reaped, tgkill(2)/tkill(2) from
//! sigsnoop's helper; the table rows are checked against the calls' own
//! results. As root they run; without root they skip and say why, except
//! with CI=true, where they fail.

use std::process::Stdio;
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::root_sigsnoop::{
    free_pid, my_comm, rows, run_tkill_helper, start, stop_json, target, usr1,
};
use crate::util::{root_or_skip, ToolRun};

/// The table: BCC's columns, one row per call with its result.
#[test]
fn kill_rows_in_bccs_columns() {
    let Some(_root) = root_or_skip("kill_rows_in_bccs_columns") else {
        return;
    };
    let me = std::process::id();
    let mut child = target();
    let cpid = child.pid();
    let gone = free_pid();
    let me_s = me.to_string();
    let mut t = ToolRun::start("killsnoop", &["-v", "-p", &me_s], Stdio::null());
    t.wait_ready(Duration::from_secs(30));
    usr1(&mut child);
    assert_eq!(
        kill(Pid::from_raw(gone), Signal::SIGKILL),
        Err(Errno::ESRCH)
    );
    std::thread::sleep(Duration::from_millis(200));
    t.signal(Signal::SIGINT);
    let f = t.wait(Duration::from_secs(30));
    assert_eq!(f.code(), 0, "{}", f.stderr);
    let mut lines = f.stdout.lines();
    assert_eq!(
        lines.next(),
        Some("TIME      PID     COMM             SIG  TPID    RESULT")
    );
    let comm = my_comm();
    let cols = |l: &str| l.split_whitespace().map(String::from).collect::<Vec<_>>();
    let all: Vec<Vec<String>> = lines.map(cols).collect();
    let want_usr = [
        me.to_string(),
        comm.clone(),
        "10".into(),
        cpid.to_string(),
        "0".into(),
    ];
    let want_kill = [
        me.to_string(),
        comm,
        "9".into(),
        gone.to_string(),
        "-3".into(),
    ];
    for want in [&want_usr, &want_kill] {
        let n = all.iter().filter(|r| r.get(1..) == Some(&want[..])).count();
        assert_eq!(n, 1, "{want:?} in\n{}", f.stdout);
    }
}

/// -x, -s and -T, in the kernel; tgkill and tkill are kill-family calls.
#[test]
fn failed_signal_and_target_filters() {
    let Some(_root) = root_or_skip("failed_signal_and_target_filters") else {
        return;
    };
    let me = std::process::id().to_string();
    let mut child = target();
    let cpid = child.pid();
    let gone = free_pid();
    let t = start("killsnoop", &["-j", "-x", "-p", &me]);
    usr1(&mut child);
    assert_eq!(
        kill(Pid::from_raw(gone), Signal::SIGUSR2),
        Err(Errno::ESRCH)
    );
    let v = stop_json(t);
    let ev = rows(&v, |_| true);
    assert!(ev.iter().all(|e| e["ret"].as_i64() < Some(0)), "{ev:?}");
    assert_eq!(
        rows(&v, |e| e["tpid"] == gone && e["sig"] == 12).len(),
        1,
        "{ev:?}"
    );
    assert!(rows(&v, |e| e["tpid"] == cpid).is_empty());

    let t = start("killsnoop", &["-j", "-s", "WINCH"]);
    let (hpid, htid) = run_tkill_helper();
    let v = stop_json(t);
    let h = rows(&v, |e| e["pid"] == hpid);
    let src: Vec<&str> = h.iter().filter_map(|e| e["source"].as_str()).collect();
    assert_eq!(src, ["tgkill", "tkill"], "{h:?}");
    assert!(
        h.iter().all(|e| e["tpid"] == htid && e["ret"] == 0),
        "{h:?}"
    );
    assert!(rows(&v, |_| true).iter().all(|e| e["sig"] == 28));

    // -T: calls to that target only.
    let mut child = target();
    let cpid = child.pid();
    let gone = free_pid();
    let t = start("killsnoop", &["-j", "-T", &cpid.to_string()]);
    assert_eq!(
        kill(Pid::from_raw(gone), Signal::SIGUSR1),
        Err(Errno::ESRCH)
    );
    usr1(&mut child);
    let v = stop_json(t);
    let ev = rows(&v, |_| true);
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert_eq!(
        (ev[0]["tpid"].as_u64(), ev[0]["sig"].as_i64()),
        (Some(u64::from(cpid)), Some(10))
    );
}
