//! Root tests for hardirqs: counts per handler against /proc/interrupts
//! (the kernel's own per-IRQ counts, incremented as each interrupt is
//! handled), with disk interrupts the test makes (direct-I/O writes to a
//! file of its temp dir: one request, one completion interrupt each);
//! every BPF variant; the text layout against a live libbpf-tools hardirqs.
//!
//! The oracle brackets the tool: /proc/interrupts read before the tool
//! starts and after it exits (outer) and between its attach and the
//! Ctrl-C (inner). Every interrupt of the inner window is one the tool must
//! count; every one it counts is in the outer window. Names on a shared
//! line (`a, b`) are left out: the kernel counts the line, not each handler.

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Command, Stdio};
use std::time::Duration;

use nix::sys::signal::Signal;
use serde_json::Value;

use crate::util::{
    assert_log2_row, assert_refused, json_lines, json_summary, libbpf_tools_output, root_or_skip,
    ChildGuard, Finished, TempDir, ToolRun,
};

/// /proc/interrupts: counts by handler name (summed over the IRQs and CPUs
/// of that name), and the names seen on shared lines.
fn proc_interrupts() -> (BTreeMap<String, u64>, BTreeSet<String>) {
    let text = std::fs::read_to_string("/proc/interrupts").expect("/proc/interrupts");
    let mut lines = text.lines();
    let ncpu = lines.next().expect("header").split_whitespace().count();
    let (mut by, mut shared) = (BTreeMap::new(), BTreeSet::new());
    for l in lines {
        let Some((irq, rest)) = l.trim_start().split_once(':') else {
            continue;
        };
        if irq.parse::<u32>().is_err() {
            continue; // NMI, LOC, …: not handlers of irqactions
        }
        let f: Vec<&str> = rest.split_whitespace().collect();
        if f.len() <= ncpu + 2 {
            continue; // no handler
        }
        let n: u64 = f[..ncpu].iter().map(|c| c.parse::<u64>().unwrap()).sum();
        let descr = &f[ncpu..];
        if descr.iter().any(|w| w.ends_with(',')) {
            shared.extend(descr.iter().map(|w| w.trim_end_matches(',').to_string()));
            continue;
        }
        *by.entry(descr[descr.len() - 1].to_string()).or_insert(0) += n;
    }
    (by, shared)
}

type Reads = (BTreeMap<String, u64>, BTreeMap<String, u64>);

/// Direct-I/O writes of 4 KiB to a file of `dir`: `n` device requests.
fn disk_writes(dir: &std::path::Path, n: u32) -> Command {
    let mut c = Command::new("dd");
    c.args(["if=/dev/zero", "bs=4096", "oflag=direct"])
        .arg(format!("of={}", dir.join("f").display()))
        .arg(format!("count={n}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    c
}

/// One run of `hardirqs -v -j ARGS` bracketed by /proc/interrupts reads,
/// with `n` direct writes while it traces; Ctrl-C after.
fn bracketed(args: &[&str], n: u32) -> (Reads, Reads, BTreeSet<String>, Finished) {
    let dir = TempDir::new(0o700);
    let (outer0, _) = proc_interrupts();
    let mut argv = vec!["-v", "-j"];
    argv.extend_from_slice(args);
    let mut run = ToolRun::start("hardirqs", &argv, Stdio::null());
    run.wait_ready(Duration::from_secs(30));
    let (inner0, _) = proc_interrupts();
    let st = disk_writes(dir.path(), n).status().expect("dd");
    assert!(st.success(), "dd");
    let (inner1, _) = proc_interrupts();
    run.signal(Signal::SIGINT);
    let f = run.wait(Duration::from_secs(30));
    let (outer1, shared) = proc_interrupts();
    assert_eq!(f.code(), 0, "hardirqs {argv:?}: {}", f.stderr);
    ((outer0, outer1), (inner0, inner1), shared, f)
}

/// Counts by handler name of the `ty` records.
fn counts(lines: &[Value], ty: &str) -> BTreeMap<String, u64> {
    let mut by = BTreeMap::new();
    for v in lines.iter().filter(|v| v["type"] == ty) {
        let name = v["hardirq"].as_str().unwrap().to_string();
        *by.entry(name).or_insert(0) += v["count"].as_u64().unwrap();
    }
    by
}

/// inner ≤ ours ≤ outer for every unshared handler; the workload seen.
fn assert_bracketed(
    ours: &BTreeMap<String, u64>,
    o: &Reads,
    i: &Reads,
    shared: &BTreeSet<String>,
    n: u32,
) {
    let d = |r: &Reads, name: &str| {
        r.1.get(name).copied().unwrap_or(0) - r.0.get(name).copied().unwrap_or(0)
    };
    for name in o.1.keys().filter(|k| !shared.contains(*k)) {
        let got = ours.get(name).copied().unwrap_or(0);
        let (lo, hi) = (d(i, name), d(o, name));
        assert!(
            lo <= got && got <= hi,
            "{name}: hardirqs counted {got}, /proc/interrupts {lo} (while traced) ..= {hi} (around the run)"
        );
    }
    for name in ours.keys() {
        assert!(
            o.1.contains_key(name) || shared.contains(name),
            "{name} is no handler of /proc/interrupts"
        );
    }
    // The writes' completions: one interrupt each (some may share one).
    let total: u64 = ours.values().sum();
    assert!(
        total >= u64::from(n) / 2,
        "{total} interrupts for {n} direct writes: {ours:?}"
    );
}

#[test]
fn time_mode_counts_match_proc_interrupts() {
    let Some(_g) = root_or_skip("hardirqs totals") else {
        return;
    };
    let (o, i, shared, f) = bracketed(&[], 300);
    let lines = json_lines(&f.stdout);
    let ours = counts(&lines, "hardirq");
    assert_bracketed(&ours, &o, &i, &shared, 300);
    for v in lines.iter().filter(|v| v["type"] == "hardirq") {
        assert!(v["time_ns"].as_u64().unwrap() > 0, "{v}");
    }
    let s = json_summary(&lines);
    assert_eq!(s["counted"].as_u64(), Some(ours.values().sum()), "{s}");
    assert!(
        s["lost"].as_u64().unwrap() <= 2,
        "at most one handler per CPU at the attach: {s}"
    );
}

#[test]
fn count_mode_counts_match_proc_interrupts() {
    let Some(_g) = root_or_skip("hardirqs -C") else {
        return;
    };
    let (o, i, shared, f) = bracketed(&["-C"], 300);
    let lines = json_lines(&f.stdout);
    assert!(lines
        .iter()
        .filter(|v| v["type"] == "hardirq")
        .all(|v| v.get("time_ns").is_none()));
    assert_bracketed(&counts(&lines, "hardirq"), &o, &i, &shared, 300);
    // Counted at the entry: nothing to pair, nothing lost.
    assert_eq!(json_summary(&lines)["lost"], 0);
}

#[test]
fn histogram_counts_match_proc_interrupts() {
    let Some(_g) = root_or_skip("hardirqs -d") else {
        return;
    };
    let (o, i, shared, f) = bracketed(&["-d", "-N"], 300);
    let lines = json_lines(&f.stdout);
    for h in lines.iter().filter(|v| v["type"] == "hist") {
        assert_eq!(h["unit"], "nsecs");
        let b: u64 = (h["buckets"].as_array().unwrap().iter())
            .map(|b| b["count"].as_u64().unwrap())
            .sum();
        assert_eq!(b, h["count"].as_u64().unwrap(), "buckets sum to count: {h}");
        // A handler takes at least a few hundred ns: never all in 0 -> 1.
        assert!(h["mean"].as_f64().unwrap() > 100.0, "{h}");
    }
    assert_bracketed(&counts(&lines, "hist"), &o, &i, &shared, 300);
}

#[test]
fn every_bpf_variant_loads() {
    let Some(_g) = root_or_skip("hardirqs variants") else {
        return;
    };
    for args in [
        &[][..],
        &["-C"],
        &["-d"],
        &["-d", "-N"],
        &["-N", "--cpu", "0"],
        &["-C", "--cpu", "1"],
    ] {
        let mut argv = vec!["-j", "--duration", "1"];
        argv.extend_from_slice(args);
        let f = ToolRun::start("hardirqs", &argv, Stdio::null()).wait(Duration::from_secs(60));
        assert_eq!(f.code(), 0, "hardirqs {argv:?}: {}", f.stderr);
        let lines = json_lines(&f.stdout);
        assert!(json_summary(&lines)["counted"].is_u64());
    }
    // -C loads the entry program only.
    for (args, progs) in [(&["-C"][..], 1), (&[][..], 2), (&["-d"][..], 2)] {
        let mut argv = vec!["-v"];
        argv.extend_from_slice(args);
        let mut run = ToolRun::start("hardirqs", &argv, Stdio::null());
        assert_eq!(run.wait_ready(Duration::from_secs(30)), progs, "{args:?}");
        run.signal(Signal::SIGINT);
        assert_eq!(run.wait(Duration::from_secs(30)).code(), 0);
    }
}

#[test]
fn task_filters_are_refused() {
    let Some(_g) = root_or_skip("hardirqs task filters") else {
        return;
    };
    // libbpf-tools' -c CGROUP tests the interrupted task: refused, saying why.
    for args in [
        &["-c", "/sys/fs/cgroup"][..],
        &["--uid", "0"],
        &["--", "true"],
    ] {
        assert_refused("hardirqs", args, "interrupt handlers run in no task");
    }
}

/// A text output's shape: each line as a kind, with what must be equal;
/// one section (or total row) of each shape.
fn shape(text: &str) -> Vec<String> {
    let mut v = Vec::new();
    for l in text.lines() {
        let b = l.as_bytes();
        let kind = if b.len() == 8 && b[2] == b':' && b[5] == b':' {
            "TIME".to_string()
        } else if l.starts_with("hardirq = ") {
            "SECTION".into()
        } else if l.contains(" -> ") {
            assert_log2_row(l);
            "ROW".into()
        } else if l.starts_with("     count ") {
            continue; // our stats line
        } else if l.is_empty()
            || l.starts_with("Tracing")
            || l.contains("distribution")
            || l.starts_with("HARDIRQ")
        {
            // Banner, blank lines, headers: equal, byte for byte.
            l.to_string()
        } else {
            // "%-26s %11llu" (names here are shorter than 26)
            assert!(
                l.len() == 38 && l[26..].trim_start().parse::<u64>().is_ok(),
                "{l:?}"
            );
            "TOTAL".into()
        };
        v.push(kind);
    }
    v.dedup();
    let mut blocks: Vec<Vec<String>> = Vec::new();
    for k in v {
        match blocks.last_mut() {
            Some(b) if k != "SECTION" => b.push(k),
            _ => blocks.push(vec![k]),
        }
    }
    blocks.dedup();
    blocks.concat()
}

#[test]
fn text_layout_matches_a_live_libbpf_tools_hardirqs() {
    let Some(_g) = root_or_skip("hardirqs vs libbpf-tools") else {
        return;
    };
    let dir = TempDir::new(0o700);
    for args in ["-T 1 1", "-C 1 1", "-d 1 1", "-N 1 1"] {
        let argv: Vec<&str> = args.split(' ').collect();
        // Disk interrupts during both runs, so that there are rows.
        let _dd = ChildGuard::spawn(&mut disk_writes(dir.path(), 100_000));
        let ours = ToolRun::start("hardirqs", &argv, Stdio::null()).wait(Duration::from_secs(30));
        assert_eq!(ours.code(), 0, "{}", ours.stderr);
        let mine = shape(&ours.stdout);
        assert!(mine.len() > 3, "no rows: {}", ours.stdout);
        let Some(lbt) = libbpf_tools_output("hardirqs", args) else {
            continue;
        };
        assert_eq!(
            mine,
            shape(&lbt),
            "ours:\n{}\nlibbpf-tools:\n{lbt}",
            ours.stdout
        );
    }
}
