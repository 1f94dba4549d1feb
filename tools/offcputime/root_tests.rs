//! Root tests for offcputime, on tests/helpers/stackwork.c (tests/
//! stack_workload.rs): `sleeper()` sleeps 5 × 200 ms, so its stack is off
//! CPU for 1 s (the oracle), and libbpf-tools' offcputime watching the same
//! sleeps when it is installed.

use std::io::BufReader;
use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::Signal;

use crate::stack_workload::{build, dir, folded, loads, share, traced, Work};
use crate::util::{json_lines, json_summary, root_or_skip, with_tracefs, ToolRun};

/// 5 sleeps of 200 ms in sleeper(): its stack (user and kernel) holds
/// about 1 s (±20 %) off CPU, with the sleep's kernel frames.
#[test]
fn sleeper_is_off_cpu_for_its_sleeps() {
    let Some(_g) = root_or_skip("offcputime sleeper") else {
        return;
    };
    let d = dir();
    let work = Work::spawn(&build(d.path()), &["sleep", "5", "200"]);
    let (f, _) = traced("offcputime", &["-f", "-p", "{pid}"], work);
    let lines = folded(&f.stdout);
    let (_, us) = share(&lines, "main;sleeper;");
    assert!(
        (800_000..=1_200_000).contains(&us),
        "{us} us off CPU in sleeper (want 1 s ±20 %):\n{}",
        f.stdout
    );
    let sleep = lines
        .iter()
        .find(|l| l.0.contains("main;sleeper;"))
        .unwrap();
    assert!(
        sleep.0.contains("nanosleep") && sleep.0.ends_with("schedule"),
        "{}",
        sleep.0
    );
    assert!(
        !f.stdout.contains("bpf_prog_"),
        "the tracer's own frames shown"
    );
}

/// The same sleeps seen by ours (JSON, per thread) and by libbpf-tools'
/// offcputime at once: both totals for sleeper's stack within 5 % of each
/// other (and of 1 s). -m keeps only blocks of at least 100 ms.
#[test]
fn totals_agree_with_libbpf_tools() {
    let Some(_g) = root_or_skip("offcputime vs libbpf-tools") else {
        return;
    };
    let d = dir();
    let mut work = Work::spawn(&build(d.path()), &["sleep", "5", "200", "hold"]);
    let pid = work.pid.to_string();
    let args = ["-v", "-j", "-m", "100000", "-p", &pid];
    let mut ours = ToolRun::start("offcputime", &args, Stdio::null());
    ours.wait_ready(Duration::from_secs(30));
    let lbt_bin = "/usr/sbin/offcputime";
    let lbt = std::path::Path::new(lbt_bin).exists().then(|| {
        // libbpf-tools needs tracefs: mounted in a private mount
        // namespace (gone with the process: nothing is left mounted).
        let mut c = with_tracefs(&format!("exec {lbt_bin} -m 100000 -p {pid} 4"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("unshare");
        let out = BufReader::new(c.stdout.take().unwrap());
        // It prints nothing before tracing: ready once it holds a BPF link.
        let fds = format!("/proc/{}/fd", c.id());
        let linked = || {
            (std::fs::read_dir(&fds).into_iter().flatten().flatten())
                .filter_map(|e| std::fs::read_link(e.path()).ok())
                .any(|l| l.to_string_lossy().contains("bpf_link"))
        };
        let t = std::time::Instant::now();
        while !linked() {
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "libbpf-tools offcputime never attached"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        (c, out)
    });
    work.go_held();
    let lbt_us = lbt.map(|(mut c, mut out)| {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut out, &mut text).unwrap();
        assert!(
            c.wait().unwrap().success(),
            "libbpf-tools offcputime failed"
        );
        // Blocks: frames, `    -  comm (tid)`, the count; a blank line.
        let us: u64 = (text.split("\n\n"))
            .filter(|b| b.lines().any(|l| l.trim().starts_with("sleeper")))
            .filter_map(|b| b.lines().last()?.trim().parse::<u64>().ok())
            .sum();
        (us, text)
    });
    std::thread::sleep(Duration::from_millis(300));
    ours.signal(Signal::SIGINT);
    let f = ours.wait(Duration::from_secs(60));
    work.exit();
    assert_eq!(f.code(), 0, "{}", f.stderr);
    let recs = json_lines(&f.stdout);
    let s = json_summary(&recs);
    let stacks: Vec<_> = recs.iter().filter(|r| r["type"] == "stack").collect();
    let ours_us: u64 = (stacks.iter())
        .filter(|r| (r["user_stack"].as_array().unwrap().iter()).any(|f| f["symbol"] == "sleeper"))
        .inspect(|r| assert_eq!(r["tid"].as_u64(), Some(pid.parse().unwrap()), "{r}"))
        .map(|r| r["count"].as_u64().unwrap())
        .sum();
    assert_eq!(
        s["off_cpu_us"].as_u64(),
        Some(stacks.iter().map(|r| r["count"].as_u64().unwrap()).sum()),
        "{s}"
    );
    assert!(
        (800_000..=1_200_000).contains(&ours_us),
        "{ours_us}: {}",
        f.stdout
    );
    match lbt_us {
        Some((lbt_us, text)) => {
            let diff = ours_us.abs_diff(lbt_us);
            assert!(
                diff * 20 <= lbt_us,
                "ours {ours_us} us, libbpf-tools {lbt_us} us:\n{text}"
            );
        }
        None => eprintln!("offcputime vs libbpf-tools: {lbt_bin} missing, compared with 1 s only"),
    }
}

/// Every flag combination that loads different BPF code.
#[test]
fn every_bpf_variant_loads() {
    let Some(_g) = root_or_skip("offcputime variants") else {
        return;
    };
    let me = std::process::id().to_string();
    for args in [
        &[][..],
        &["-u", "-U"],
        &["-k", "-K", "--state", "2"],
        &["-m", "10", "-M", "1000000", "--state", "0"],
        &["-p", &me],
        &["-t", &me, "--uid", "0", "--comm", "sh"],
        &["--cgroup", "/sys/fs/cgroup/unified"],
    ] {
        loads("offcputime", args);
    }
}
