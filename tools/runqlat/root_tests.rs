//! Root tests for runqlat: a ping-pong of two processes pinned to one CPU
//! (tests/sched_workload.rs: K round trips, each process woken K times:
//! the oracle), and the text layout against a live libbpf-tools runqlat.

use std::process::Stdio;
use std::time::Duration;

use corescope::hist::Hist;

use crate::sched_workload::{assert_about_k, counts_by, hists, loads, traced, K};
use crate::util::{root_or_skip, with_tracefs, ToolRun};

#[test]
fn per_pid_counts_match_the_round_trips() {
    let Some(_g) = root_or_skip("runqlat per pid") else {
        return;
    };
    let (pp, f) = traced("runqlat", &["-P", "-j", "-p", "{parent}"], K);
    let (h, summary) = hists(&f);
    let by = counts_by(&h, "pid");
    let pids: Vec<u32> = by.iter().map(|x| x.0).collect();
    assert_eq!(pids, vec![pp.parent, pp.child], "-P keys are the two PIDs");
    for (pid, n) in by {
        assert_about_k(n, K, &format!("wakeups of {pid}"));
    }
    assert!(h
        .iter()
        .all(|h| h["comm"] == "pingpong" && h["unit"] == "usecs"));
    // Both were asleep when tracing started: every run had its wakeup.
    assert_eq!(summary["lost"], 0, "{summary}");
}

#[test]
fn the_woken_task_is_filtered_not_the_waker() {
    let Some(_g) = root_or_skip("runqlat woken task") else {
        return;
    };
    // -p CHILD: the child is woken by its parent (not traced). Filtering
    // on the waker (libbpf-tools' cgroup check) would show the parent.
    let (pp, f) = traced("runqlat", &["-P", "-j", "-p", "{child}"], K);
    let (h, _) = hists(&f);
    let by = counts_by(&h, "pid");
    assert_eq!(by.len(), 1, "{by:?}");
    assert_eq!(by[0].0, pp.child);
    assert_about_k(by[0].1, K, "wakeups of the child");
}

#[test]
fn unkeyed_milliseconds_and_comm_filter() {
    let Some(_g) = root_or_skip("runqlat unkeyed -m --comm") else {
        return;
    };
    let (_pp, f) = traced("runqlat", &["-m", "-j", "--comm", "pingpong"], K);
    let (h, _) = hists(&f);
    assert_eq!(h.len(), 1, "one histogram");
    assert_eq!(h[0]["unit"], "msecs");
    assert_about_k(h[0]["count"].as_u64().unwrap(), 2 * K, "wakeups of both");
    // No task has that name: nothing counted, one empty histogram.
    let (_pp, f) = traced(
        "runqlat",
        &["-j", "--comm", "no-such-comm", "-p", "{parent}"],
        K,
    );
    let (h, _) = hists(&f);
    assert_eq!((h.len(), h[0]["count"].as_u64()), (1, Some(0)));
}

#[test]
fn per_tid_keys_are_the_threads() {
    let Some(_g) = root_or_skip("runqlat -L") else {
        return;
    };
    let (pp, f) = traced("runqlat", &["-L", "-j", "-p", "{parent}"], K);
    let (h, _) = hists(&f);
    let by = counts_by(&h, "tid");
    let tids: Vec<u32> = by.iter().map(|x| x.0).collect();
    assert_eq!(
        tids,
        vec![pp.parent, pp.child],
        "single-threaded: TID = PID"
    );
}

/// A cgroup v2 directory of our own under the hybrid or unified mount,
/// removed (its processes moved back to the root) on drop.
struct Cgroup(std::path::PathBuf);

impl Cgroup {
    fn new() -> Option<Self> {
        let root = ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"]
            .into_iter()
            .map(std::path::Path::new)
            // cgroup v2 has cgroup.procs but no v1 `tasks` file.
            .find(|p| p.join("cgroup.procs").exists() && !p.join("tasks").exists())?;
        let p = root.join(crate::util::marker("cs-runqlat"));
        std::fs::create_dir(&p).ok()?;
        Some(Self(p))
    }

    fn add(&self, pid: u32) {
        std::fs::write(self.0.join("cgroup.procs"), pid.to_string()).expect("moving a process");
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        let root = self.0.parent().unwrap().join("cgroup.procs");
        if let Ok(procs) = std::fs::read_to_string(self.0.join("cgroup.procs")) {
            for pid in procs.lines() {
                let _ = std::fs::write(&root, pid);
            }
        }
        let _ = std::fs::remove_dir(&self.0);
    }
}

#[test]
fn cgroup_filter_is_the_woken_tasks() {
    let Some(_g) = root_or_skip("runqlat -c") else {
        return;
    };
    let cg = Cgroup::new().expect("a cgroup v2 hierarchy to make a test cgroup in");
    let mut pp = crate::sched_workload::PingPong::start(K);
    cg.add(pp.parent);
    cg.add(pp.child);
    let dir = cg.0.to_string_lossy().into_owned();
    let mut run = ToolRun::start("runqlat", &["-v", "-P", "-j", "-c", &dir], Stdio::null());
    run.wait_ready(Duration::from_secs(30));
    pp.go(K);
    std::thread::sleep(Duration::from_millis(200));
    run.signal(nix::sys::signal::Signal::SIGINT);
    let f = run.wait(Duration::from_secs(30));
    assert_eq!(f.code(), 0, "{}", f.stderr);
    let (h, _) = hists(&f);
    let by = counts_by(&h, "pid");
    let pids: Vec<u32> = by.iter().map(|x| x.0).collect();
    assert_eq!(pids, vec![pp.parent, pp.child], "only the cgroup's tasks");
    for (pid, n) in by {
        assert_about_k(n, K, &format!("wakeups of {pid}"));
    }
}

#[test]
fn every_bpf_variant_loads() {
    let Some(_g) = root_or_skip("runqlat variants") else {
        return;
    };
    let me = std::process::id().to_string();
    for args in [
        &[][..],
        &["-P"],
        &["-L", "-m"],
        &["--pidnss"],
        &["-p", &me],
        &["--tid", &me, "--uid", "0"],
        &["--comm", "sh", "-P"],
        &["-c", "/sys/fs/cgroup/unified"],
    ] {
        loads("runqlat", args);
    }
}

/// Re-renders every histogram of a text output through corescope's
/// `Hist` (and, with `stats`, the stats line under it); returns the new
/// text and the output's shape (lines, with histogram rows as `ROWS`).
fn rebuild(text: &str, stats: bool) -> (String, Vec<String>) {
    let lines: Vec<&str> = text.lines().collect();
    let (mut out, mut shape) = (String::new(), Vec::new());
    let mut i = 0;
    while i < lines.len() {
        let l = lines[i];
        if let Some(unit) = l.strip_suffix(" : count    distribution") {
            let unit = unit.trim();
            let mut slots = Vec::new();
            i += 1;
            while let Some(r) = lines.get(i).filter(|r| r.contains(" -> ")) {
                let n = r.split(" : ").nth(1).unwrap().split(" |").next().unwrap();
                slots.push(n.trim().parse::<u64>().unwrap());
                i += 1;
            }
            let mut h = Hist::log2(&slots, unit);
            h.write_text(&mut out);
            shape.push(format!("HIST {unit}"));
            if stats {
                let s = lines[i];
                let sum = s
                    .split("sum ")
                    .nth(1)
                    .and_then(|x| x.split([',', ' ']).next());
                h = h.with_sum(sum.expect("a sum").parse().unwrap());
                h.write_stats(&mut out);
                i += 1;
            }
            continue;
        }
        let b = l.as_bytes();
        let time = b.len() == 8 && b[2] == b':' && b[5] == b':';
        shape.push(if time { "TIME".into() } else { l.to_string() });
        out.push_str(l);
        out.push('\n');
        i += 1;
    }
    (out, shape)
}

#[test]
fn text_layout_matches_a_live_libbpf_tools_runqlat() {
    let Some(_g) = root_or_skip("runqlat vs libbpf-tools") else {
        return;
    };
    let ours =
        ToolRun::start("runqlat", &["-T", "1", "2"], Stdio::null()).wait(Duration::from_secs(30));
    assert_eq!(ours.code(), 0, "{}", ours.stderr);
    let (text, shape) = rebuild(&ours.stdout, true);
    assert_eq!(text, ours.stdout, "our output is Hist's, byte for byte");
    if !std::path::Path::new("/usr/sbin/runqlat").exists() {
        // Debian's libbpf-tools is not installed here: the recorded
        // fixtures (src/hist/fixtures) still hold the layout.
        eprintln!("runqlat vs libbpf-tools: /usr/sbin/runqlat missing, compared ours only");
        return;
    }
    // libbpf-tools needs tracefs: mounted in a private mount namespace
    // (gone with the process: nothing is left mounted), over whatever the
    // host has there (another test may have mounted it for a moment).
    let lbt = with_tracefs("exec /usr/sbin/runqlat -T 1 2")
        .stdin(Stdio::null())
        .output()
        .expect("unshare");
    assert!(
        lbt.status.success(),
        "{}",
        String::from_utf8_lossy(&lbt.stderr)
    );
    let lbt = String::from_utf8(lbt.stdout).unwrap();
    let (text, lshape) = rebuild(&lbt, false);
    assert_eq!(text, lbt, "libbpf-tools' output is Hist's, byte for byte");
    // The same lines around the histograms (banner, blank lines, times).
    assert_eq!(
        shape, lshape,
        "ours:\n{}\nlibbpf-tools:\n{lbt}",
        ours.stdout
    );
}
