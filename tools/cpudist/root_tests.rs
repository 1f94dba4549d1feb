//! Root tests for cpudist: a ping-pong of two processes pinned to one CPU
//! (tests/sched_workload.rs: K round trips, each process runs one slice
//! and sleeps once per round trip: the oracle).

use crate::sched_workload::{assert_about_k, counts_by, hists, loads, traced, K};
use crate::util::root_or_skip;

#[test]
fn on_cpu_slices_per_pid_match_the_round_trips() {
    let Some(_g) = root_or_skip("cpudist per pid") else {
        return;
    };
    let (pp, f) = traced("cpudist", &["-P", "-j", "-p", "{parent}"], K);
    let (h, summary) = hists(&f);
    let by = counts_by(&h, "pid");
    let pids: Vec<u32> = by.iter().map(|x| x.0).collect();
    assert_eq!(pids, vec![pp.parent, pp.child], "-P keys are the two PIDs");
    // Every slice counts, also those that end in sleep (libbpf-tools
    // counts only the preempted ones: about half of these here).
    for (pid, n) in by {
        assert_about_k(n, K, &format!("slices of {pid}"));
    }
    // Both were asleep when tracing started: every slice began traced.
    assert_eq!(summary["lost"], 0, "{summary}");
}

#[test]
fn off_cpu_per_tid_and_the_sleeps_begun_before_tracing() {
    let Some(_g) = root_or_skip("cpudist -O") else {
        return;
    };
    let (pp, f) = traced("cpudist", &["-O", "-L", "-j", "-m", "-p", "{parent}"], K);
    let (h, summary) = hists(&f);
    let by = counts_by(&h, "tid");
    let tids: Vec<u32> = by.iter().map(|x| x.0).collect();
    assert_eq!(tids, vec![pp.parent, pp.child]);
    assert!(h.iter().all(|h| h["unit"] == "msecs"));
    // The first wakeup of each ends a sleep begun before tracing: not
    // measured, counted as lost (unpaired), exactly once each.
    assert_eq!(summary["lost_detail"]["unpaired"], 2, "{summary}");
    for (tid, n) in by {
        assert_about_k(n + 1, K, &format!("off-CPU periods of {tid}"));
    }
}

#[test]
fn every_bpf_variant_loads() {
    let Some(_g) = root_or_skip("cpudist variants") else {
        return;
    };
    let me = std::process::id().to_string();
    for args in [
        &[][..],
        &["-O"],
        &["-P", "-m"],
        &["-L", "-O"],
        &["-p", &me],
        &["--tid", &me, "--uid", "0", "--comm", "sh"],
        &["-c", "/sys/fs/cgroup/unified", "-O"],
    ] {
        loads("cpudist", args);
    }
}
