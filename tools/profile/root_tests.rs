//! Root tests for profile, on tests/helpers/stackwork.c (tests/
//! stack_workload.rs): its stacks are known from its source, its CPU time
//! it measures itself (the oracle for the sample count).

use std::process::Command;

use crate::stack_workload::{build, dir, folded, loads, share, traced, Work};
use crate::util::{json_lines, json_summary, root_or_skip};

/// `main;outer;burn` in at least 80 % of the samples of the burning PID
/// (it exits before the end: symbolized from what was noted while it
/// ran), and HZ × its CPU seconds samples, ±20 %.
#[test]
fn burn_is_sampled_at_the_rate_with_its_frames() {
    let Some(_g) = root_or_skip("profile burn") else {
        return;
    };
    let d = dir();
    let work = Work::spawn(&build(d.path()), &["burn", "3"]);
    let (f, cpu) = traced("profile", &["-f", "-F", "49", "-p", "{pid}"], work);
    let lines = folded(&f.stdout);
    let (total, with) = share(&lines, "main;outer;burn");
    assert!(
        with * 100 >= total * 80,
        "main;outer;burn in {with} of {total} samples:\n{}",
        f.stdout
    );
    let want = 49.0 * cpu;
    assert!(
        (total as f64 - want).abs() <= want * 0.2,
        "{total} samples for {cpu:.2} s of CPU at 49 Hz (want {want:.0} ±20 %)"
    );
    assert!(
        lines.iter().all(|l| l.0.starts_with("stackwork;")),
        "{}",
        f.stdout
    );
    assert!(!f.stdout.contains("pid exited"), "{}", f.stdout);
    // The summary counts what was printed.
    assert!(
        f.stderr
            .contains(&format!("{} stacks, {total} samples", lines.len())),
        "{}",
        f.stderr
    );
}

/// A container in miniature: the helper runs from a directory bind-mounted
/// in a private mount namespace, so its path does not exist in ours; the
/// frames still resolve (through /proc/PID/map_files), also after it exited.
#[test]
fn process_in_a_private_mount_namespace_is_symbolized() {
    let Some(_g) = root_or_skip("profile mntns") else {
        return;
    };
    let d = dir();
    build(d.path());
    // Empty here; the helper's directory is mounted on it in the namespace
    // only (and goes with it).
    let mnt = dir();
    let inner = mnt.path().join("stackwork");
    let script = format!(
        "mount --bind {src} {dst} && exec {inner} burn 2",
        src = d.path().display(),
        dst = mnt.path().display(),
        inner = inner.display()
    );
    let mut cmd = Command::new("unshare");
    cmd.args(["--mount", "--propagation", "private", "sh", "-c", &script]);
    let work = Work::start(cmd);
    assert!(
        !inner.exists(),
        "{} is visible outside the namespace",
        inner.display()
    );
    let (f, _) = traced("profile", &["-f", "-U", "-p", "{pid}"], work);
    let (total, with) = share(&folded(&f.stdout), "main;outer;burn");
    assert!(
        total > 0 && with * 100 >= total * 80,
        "{with} of {total}:\n{}",
        f.stdout
    );
}

/// A write(2) loop: its kernel frames are there (ksys_write or vfs_write),
/// under `-d` (a `-` between user and kernel frames) and `-a` (`_[k]`).
#[test]
fn kernel_frames_of_a_write_loop_with_delimiter_and_annotations() {
    let Some(_g) = root_or_skip("profile write") else {
        return;
    };
    let d = dir();
    let work = Work::spawn(&build(d.path()), &["write", "2"]);
    let (f, _) = traced(
        "profile",
        &["-f", "-d", "-a", "-F", "199", "-p", "{pid}"],
        work,
    );
    let lines = folded(&f.stdout);
    let kernel = lines.iter().find(|l| {
        l.0.contains("main;writer;")
            && (l.0.contains(";ksys_write_[k]") || l.0.contains(";vfs_write_[k]"))
    });
    let kernel = kernel.unwrap_or_else(|| panic!("no write frames:\n{}", f.stdout));
    // User frames, then `-`, then the kernel's, all annotated.
    let (user, kern) = kernel.0.split_once(";-;").expect("the -d delimiter");
    assert!(user.contains("main;writer"), "{}", kernel.0);
    assert!(kern.split(';').all(|k| k.ends_with("_[k]")), "{}", kernel.0);
}

/// --svg: a well-formed SVG with `burn` in it; -j at the same time: stack
/// records that parse, frames with symbol, offset and module, and the
/// summary's totals agree with them.
#[test]
fn svg_and_json() {
    let Some(_g) = root_or_skip("profile svg json") else {
        return;
    };
    let d = dir();
    let svg = d.path().join("cpu.svg");
    let work = Work::spawn(&build(d.path()), &["burn", "2"]);
    let svg_arg = svg.to_str().unwrap();
    let (f, _) = traced("profile", &["-j", "--svg", svg_arg, "-p", "{pid}"], work);
    let text = std::fs::read_to_string(&svg).expect("the SVG file");
    let mut r = quick_xml::Reader::from_str(&text);
    let (mut elements, mut burn) = (0, false);
    loop {
        match r.read_event() {
            Ok(quick_xml::events::Event::Eof) => break,
            Ok(quick_xml::events::Event::Start(_) | quick_xml::events::Event::Empty(_)) => {
                elements += 1
            }
            Ok(quick_xml::events::Event::Text(t)) => {
                burn |= String::from_utf8_lossy(&t).contains("burn")
            }
            Ok(_) => {}
            Err(e) => panic!("the SVG does not parse at {}: {e}", r.buffer_position()),
        }
    }
    assert!(text.contains("<svg") && elements > 10 && burn, "{text}");

    let recs = json_lines(&f.stdout);
    let s = json_summary(&recs);
    let stacks: Vec<_> = recs.iter().filter(|r| r["type"] == "stack").collect();
    assert!(!stacks.is_empty(), "{}", f.stdout);
    let total: u64 = stacks.iter().map(|r| r["count"].as_u64().unwrap()).sum();
    assert_eq!(s["samples"].as_u64(), Some(total), "{s}");
    assert_eq!(s["stacks"].as_u64(), Some(stacks.len() as u64), "{s}");
    let burn = stacks.iter().find(|r| {
        let names: Vec<&str> = (r["user_stack"].as_array().unwrap().iter())
            .filter_map(|f| f["symbol"].as_str())
            .collect();
        names.starts_with(&["burn", "outer", "main"])
    });
    let burn = burn.unwrap_or_else(|| panic!("no burn stack in {}", f.stdout));
    assert!(
        burn["pid"].as_u64().is_some() && burn["comm"] == "stackwork",
        "{burn}"
    );
    let f0 = &burn["user_stack"][0];
    assert!(
        f0["addr"].as_u64().is_some() && f0["offset"].as_u64().is_some(),
        "{f0}"
    );
    assert!(
        f0["module"]
            .as_str()
            .is_some_and(|m| m.ends_with("stackwork")),
        "{f0}"
    );
}

/// Every flag combination that loads different BPF code.
#[test]
fn every_bpf_variant_loads() {
    let Some(_g) = root_or_skip("profile variants") else {
        return;
    };
    let me = std::process::id().to_string();
    for args in [
        &[][..],
        &["-U"],
        &["-K", "-I"],
        &["-p", &me],
        &["-L", &me, "--uid", "0", "--comm", "sh"],
        &[
            "--cgroup",
            "/sys/fs/cgroup/unified",
            "-C",
            "0",
            "--count",
            "10000000",
        ],
    ] {
        loads("profile", args);
    }
}
