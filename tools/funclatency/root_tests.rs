//! Root tests for funclatency, against workloads whose call counts are
//! known (tools/funclatency/reads.c: exactly N read() calls;
//! tools/funclatency/calls.c: its own exported function called N times,
//! each call sleeping a given time), and against libbpf-tools'
//! funclatency on the same uprobe.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::util::{
    json_lines, json_summary, root_or_skip, with_tracefs, ChildGuard, TempDir, ToolRun,
};

/// Compiles tools/funclatency/NAME.c into `dir` (exported symbols: a
/// uprobe target by name).
fn helper(name: &str, dir: &Path) -> PathBuf {
    let src = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tools/funclatency"))
        .join(format!("{name}.c"));
    let bin = dir.join(name);
    let out = Command::new("cc")
        .args(["-Wall", "-O1", "-pthread", "-rdynamic", "-o"])
        .arg(&bin)
        .arg(&src)
        .output()
        .expect("running cc");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    bin
}

/// A helper started and held at its first read of stdin.
struct Workload(ChildGuard);

impl Workload {
    fn start(bin: &Path, args: &[&str], cwd: &Path) -> Self {
        let mut c = Command::new(bin);
        c.args(args)
            .current_dir(cwd)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped());
        Self(ChildGuard::spawn(&mut c))
    }

    fn pid(&self) -> u32 {
        self.0.pid()
    }

    /// Lets it run, and waits for its exit (status 0); returns its stdout.
    fn go(&mut self) -> String {
        let mut stdin = self.0 .0.stdin.take().expect("stdin");
        stdin.write_all(b"go\n").expect("writing go");
        drop(stdin);
        let st = self.0.wait_timeout(Duration::from_secs(60));
        assert!(st.success(), "workload failed: {st:?}");
        let mut out = String::new();
        use std::io::Read as _;
        let mut pipe = self.0 .0.stdout.take().expect("stdout");
        pipe.read_to_string(&mut out).expect("reading stdout");
        out
    }
}

/// Starts funclatency with -v and `args`; returns once its probes are
/// attached (its own -v line, printed after the runner's).
fn start(args: &[&str], cwd: &Path) -> ToolRun {
    let mut cmd = Command::new(crate::util::tool("funclatency"));
    cmd.arg("-v").args(args).current_dir(cwd);
    let run = ToolRun::start_cmd(cmd, Stdio::null());
    let end = Instant::now() + Duration::from_secs(30);
    while !run.stderr_now().contains("probes attached for") {
        assert!(
            Instant::now() < end,
            "funclatency {args:?} not attached: {}",
            run.stderr_now()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    run
}

/// Ctrl-C, exit 0; the JSON hist records (buckets summing to their count)
/// and the summary.
fn stop(mut run: ToolRun) -> (Vec<Value>, Value) {
    run.signal(nix::sys::signal::Signal::SIGINT);
    let f = run.wait(Duration::from_secs(30));
    assert_eq!(f.code(), 0, "{}", f.stderr);
    let lines = json_lines(&f.stdout);
    let summary = json_summary(&lines).clone();
    let hists: Vec<Value> = lines.into_iter().filter(|v| v["type"] == "hist").collect();
    for h in &hists {
        let buckets: u64 = (h["buckets"].as_array().unwrap().iter())
            .map(|b| b["count"].as_u64().unwrap())
            .sum();
        assert_eq!(Some(buckets), h["count"].as_u64(), "{h}");
    }
    (hists, summary)
}

fn count(h: &[Value]) -> u64 {
    assert_eq!(h.len(), 1, "one histogram: {h:?}");
    h[0]["count"].as_u64().unwrap()
}

#[test]
fn a_thousand_reads_are_counted_exactly() {
    let Some(_g) = root_or_skip("funclatency syscall:read") else {
        return;
    };
    let dir = TempDir::new(0o755);
    let bin = helper("reads", dir.path());
    let mut w = Workload::start(&bin, &["1000"], dir.path());
    let pid = w.pid().to_string();
    let run = start(&["-j", "-p", &pid, "syscall:read"], dir.path());
    w.go();
    let (h, s) = stop(run);
    assert_eq!(count(&h), 1000, "the helper's 1000 reads: {h:?}");
    assert_eq!(h[0]["unit"], "nsecs");
    // The read of "go" was in flight when tracing began: its exit had no
    // enter, and is counted (unpaired), not silently dropped.
    assert_eq!(s["lost_detail"]["unpaired"], 1, "{s}");
    assert_eq!(s["lost"], 1, "{s}");
    assert_eq!(s["counted"], 1000, "{s}");
    assert_eq!(s["probes"], 2, "{s}");
}

#[test]
fn a_pattern_attaches_every_matching_syscall() {
    let Some(_g) = root_or_skip("funclatency syscall:*read*") else {
        return;
    };
    let dir = TempDir::new(0o755);
    let bin = helper("reads", dir.path());
    let mut w = Workload::start(&bin, &["1000"], dir.path());
    let pid = w.pid().to_string();
    let run = start(&["-j", "-u", "-p", &pid, "syscall:*read*"], dir.path());
    // The oracle for the pattern: tracefs' own list (the tool mounts it
    // privately when it is not mounted; so does this).
    let listing = with_tracefs("ls /sys/kernel/tracing/events/syscalls")
        .output()
        .expect("listing tracefs");
    let names = String::from_utf8(listing.stdout).unwrap();
    let n = names
        .lines()
        .filter_map(|l| l.strip_prefix("sys_enter_"))
        .filter(|s| s.contains("read") && names.contains(&format!("sys_exit_{s}\n")))
        .count() as u64;
    assert!(n >= 5, "read, readv, pread64, preadv, readlink...: {names}");
    w.go();
    let (h, s) = stop(run);
    // Only read() among them, 1000 times (the others never ran).
    assert_eq!(count(&h), 1000, "{h:?}");
    assert_eq!(h[0]["unit"], "usecs");
    assert_eq!(s["probes"].as_u64(), Some(2 * n), "{s}");
}

#[test]
fn a_helpers_own_function_is_counted_exactly_and_agrees_with_libbpf_tools() {
    let Some(_g) = root_or_skip("funclatency ./calls:cs_timed") else {
        return;
    };
    let dir = TempDir::new(0o755);
    let bin = helper("calls", dir.path());
    let mut w = Workload::start(&bin, &["500"], dir.path());
    let run = start(&["-j", "./calls:cs_timed"], dir.path());
    // libbpf-tools' funclatency on the same function, at the same time,
    // when installed (it needs tracefs: mounted in its own namespace).
    let lbt = Path::new("/usr/sbin/funclatency").exists().then(|| {
        let mut c = with_tracefs(&format!(
            "exec /usr/sbin/funclatency {}:cs_timed",
            bin.display()
        ));
        c.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let g = ChildGuard::spawn(&mut c);
        // It says nothing when attached: its banner is printed after.
        std::thread::sleep(Duration::from_secs(3));
        g
    });
    w.go();
    let (h, s) = stop(run);
    assert_eq!(count(&h), 500, "the helper's 500 calls: {h:?}");
    assert_eq!(s["lost"], 0, "{s}");
    if let Some(mut g) = lbt {
        // Its shell is the namespace's; the tool is exec'd in its place.
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(g.pid() as i32),
            nix::sys::signal::Signal::SIGINT,
        )
        .unwrap();
        g.wait_timeout(Duration::from_secs(30));
        let mut out = String::new();
        use std::io::Read as _;
        g.0.stdout.take().unwrap().read_to_string(&mut out).unwrap();
        let theirs: u64 = out
            .lines()
            .filter(|l| l.contains(" -> "))
            .map(|l| {
                l.split(':')
                    .nth(1)
                    .unwrap()
                    .split('|')
                    .next()
                    .unwrap()
                    .trim()
                    .parse::<u64>()
                    .unwrap()
            })
            .sum();
        assert_eq!(theirs, 500, "libbpf-tools counted:\n{out}");
    } else {
        eprintln!("funclatency vs libbpf-tools: /usr/sbin/funclatency missing, compared with the helper's count only");
    }
}

#[test]
fn a_childs_return_from_fork_is_not_a_call() {
    let Some(_g) = root_or_skip("funclatency syscall:*fork") else {
        return;
    };
    // sh (Debian's dash) forks once per external command, with vfork(): 20
    // calls, each returning twice (the PID in the parent, 0 in the child,
    // which never entered). `-- CMD` starts only once the probes are
    // attached: its first command is counted too.
    let script = "i=0; while [ $i -lt 20 ]; do /bin/true; i=$((i+1)); done";
    let mut run = ToolRun::start(
        "funclatency",
        &["-j", "syscall:*fork", "--", "sh", "-c", script],
        Stdio::null(),
    );
    let f = run.wait(Duration::from_secs(60));
    assert_eq!(f.code(), 0, "{}", f.stderr);
    let lines = json_lines(&f.stdout);
    let s = json_summary(&lines);
    let h: Vec<Value> = lines
        .iter()
        .filter(|v| v["type"] == "hist")
        .cloned()
        .collect();
    assert_eq!(count(&h), 20, "{h:?}");
    assert_eq!(s["lost"], 0, "the children's returns are no loss: {s}");
}

#[test]
fn threads_that_end_inside_the_function_do_not_fill_the_staging_map() {
    let Some(_g) = root_or_skip("funclatency thread exits") else {
        return;
    };
    let dir = TempDir::new(0o755);
    let bin = helper("calls", dir.path());
    // 12000 threads (more than the staging map's 10240 slots) enter
    // cs_timed and end there; then 100 calls return. Their slots must
    // have gone with their threads: the 100 are counted, nothing lost.
    let mut w = Workload::start(&bin, &["100", "0", "12000"], dir.path());
    let run = start(&["-j", "./calls:cs_timed"], dir.path());
    w.go();
    let (h, s) = stop(run);
    assert_eq!(count(&h), 100, "{h:?}");
    assert_eq!(s["lost"], 0, "{s}");
}

/// The log2 slot of `v` (floor(log2), 0 and 1 in slot 0).
fn slot(v: u64) -> u64 {
    if v < 2 {
        0
    } else {
        63 - u64::from(v.leading_zeros())
    }
}

#[test]
fn a_known_sleep_lands_in_its_log2_slot() {
    let Some(_g) = root_or_skip("funclatency sleep slot") else {
        return;
    };
    let dir = TempDir::new(0o755);
    let bin = helper("calls", dir.path());
    // 20 calls sleeping 5 ms each. Each call's time is at least 5 ms (the
    // sleep) and at most the helper's own measurement around the call,
    // which the probes fire inside: the slot of 5 ms is the lowest one
    // allowed, the slot of the helper's longest call the highest (on an
    // idle machine both are 4096 -> 8191 us, 4 -> 7 ms).
    for (flag, div) in [("-u", 1000), ("-m", 1_000_000)] {
        let mut w = Workload::start(&bin, &["20", "5000"], dir.path());
        let run = start(&["-j", flag, "./calls:cs_timed"], dir.path());
        let out = w.go();
        let max_ns: u64 = out
            .trim()
            .strip_prefix("done ")
            .and_then(|m| m.parse().ok())
            .unwrap_or_else(|| panic!("helper said {out:?}"));
        let (h, s) = stop(run);
        assert_eq!(count(&h), 20, "{flag}: {h:?}");
        assert_eq!(s["lost"], 0, "{s}");
        let (lo_slot, hi_slot) = (slot(5_000_000 / div), slot(max_ns / div));
        // 4096 -> 8191 us, 4 -> 7 ms.
        assert_eq!(lo_slot, if div == 1000 { 12 } else { 2 });
        for b in h[0]["buckets"].as_array().unwrap() {
            let (lo, n) = (b["lo"].as_u64().unwrap(), b["count"].as_u64().unwrap());
            if n > 0 {
                let sl = slot(lo.max(1));
                assert!(
                    (lo_slot..=hi_slot).contains(&sl),
                    "{flag}: {n} calls in slot {lo}: allowed {lo_slot}..={hi_slot} (longest {max_ns} ns): {h:?}"
                );
            }
        }
        // The exact sum lies within the same bounds.
        let sum = h[0]["sum"].as_u64().unwrap();
        assert!(
            sum >= 20 * (5_000_000 / div) && sum <= 20 * (max_ns / div),
            "{flag}: sum {sum}, longest {max_ns} ns"
        );
    }
}

#[test]
fn min_and_max_filter_in_the_kernel() {
    let Some(_g) = root_or_skip("funclatency --min/--max") else {
        return;
    };
    let dir = TempDir::new(0o755);
    let bin = helper("calls", dir.path());
    // 2 ms calls: --min 1 (ms) keeps them all, --min 100 none, --max 1
    // none (they take 2 ms or more).
    for (args, want) in [
        (&["--min", "1"][..], 10),
        (&["--min", "100"][..], 0),
        (&["--max", "1"][..], 0),
        (&["--min", "2", "--max", "50"][..], 10),
    ] {
        let mut w = Workload::start(&bin, &["10", "2000"], dir.path());
        let mut argv = vec!["-j", "-m"];
        argv.extend_from_slice(args);
        argv.push("./calls:cs_timed");
        let run = start(&argv, dir.path());
        w.go();
        let (h, s) = stop(run);
        assert_eq!(count(&h), want, "{args:?}: {h:?}");
        // Filtered out is not lost.
        assert_eq!(s["lost"], 0, "{args:?}: {s}");
    }
}

#[test]
fn libc_malloc_of_a_pid_counts_its_calls() {
    let Some(_g) = root_or_skip("funclatency -p PID c:malloc") else {
        return;
    };
    let dir = TempDir::new(0o755);
    let bin = helper("calls", dir.path());
    let mut w = Workload::start(&bin, &["300"], dir.path());
    let pid = w.pid().to_string();
    // c: the libc that process maps (resolved through /proc/PID/maps).
    let run = start(&["-j", "-p", &pid, "c:malloc"], dir.path());
    w.go();
    let (h, s) = stop(run);
    // One malloc per call; nothing else in the helper allocates.
    assert_eq!(count(&h), 300, "{h:?}");
    assert_eq!(s["probes"], 2, "{s}");
}

/// Runs funclatency with `args`; it must fail with one error line and one
/// hint line; returns the error line.
fn refused(args: &[&str]) -> String {
    let mut run = ToolRun::start("funclatency", args, Stdio::null());
    let f = run.wait(Duration::from_secs(30));
    assert_eq!(f.code(), 1, "{args:?}: {}", f.stderr);
    let lines: Vec<&str> = f.stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{args:?}: {}", f.stderr);
    assert!(lines[0].starts_with("funclatency: error: "), "{}", f.stderr);
    assert!(lines[1].starts_with("hint: "), "{}", f.stderr);
    assert!(f.stdout.is_empty(), "{args:?}: {}", f.stdout);
    lines[0].to_string()
}

#[test]
fn bad_functions_are_one_error_with_a_hint() {
    let Some(_g) = root_or_skip("funclatency errors") else {
        return;
    };
    let cases: &[(&str, &str)] = &[
        ("syscall:no_such_call", "no syscall named no_such_call"),
        ("syscall:*no_such*", "matches no syscall"),
        ("syscall:exit_group", "never returns"),
        (
            "no_such_lib_cs:malloc",
            "no library or program named \"no_such_lib_cs\"",
        ),
        (
            "c:no_such_function_cs",
            "function no_such_function_cs not found in",
        ),
        ("/no/such/binary:f", "/no/such/binary: no such file"),
        ("c:", "no function name"),
        (
            "/etc/hostname:f",
            "cannot read the symbols of /etc/hostname",
        ),
    ];
    for (spec, want) in cases {
        let e = refused(&[spec]);
        assert!(e.contains(want), "{spec}: {e}");
    }
    let e = refused(&["--min", "5", "--max", "2", "syscall:read"]);
    assert!(e.contains("--min 5 is above --max 2"), "{e}");
}

#[test]
fn kernel_functions_need_kprobes() {
    let Some(_g) = root_or_skip("funclatency kernel function") else {
        return;
    };
    if Path::new("/sys/bus/event_source/devices/kprobe").exists() {
        // This kernel has kprobes: the error must not appear.
        let run = start(&["-j", "vfs_read"], Path::new("/"));
        let (h, _) = stop(run);
        assert_eq!(h.len(), 1);
        return;
    }
    let e = refused(&["vfs_read"]);
    assert!(
        e.contains("not available on this kernel: cannot time vfs_read"),
        "{e}"
    );
}

#[test]
fn every_bpf_variant_loads() {
    let Some(_g) = root_or_skip("funclatency variants") else {
        return;
    };
    let me = std::process::id().to_string();
    for args in [
        &["syscall:read"][..],
        &["-u", "syscall:read"],
        &["-m", "--min", "1", "--max", "9", "syscall:*open*"],
        &["-n", "--max", "5", "syscall:clone"],
        &["-p", &me, "syscall:write"],
        &["--tid", &me, "--uid", "0", "syscall:read"],
        &["--comm", "sh", "syscall:read"],
        &["-c", "/sys/fs/cgroup/unified", "syscall:read"],
        &["c:malloc"],
        &["-u", "--min", "1", "c:free"],
        &["-m", "--max", "3", "-p", &me, "c:malloc"],
        &["--comm", "sh", "c:malloc"],
        &["-T", "syscall:read", "1", "1"],
    ] {
        let mut argv = vec!["-j", "-d", "1"];
        argv.extend_from_slice(args);
        let mut run = ToolRun::start("funclatency", &argv, Stdio::null());
        let f = run.wait(Duration::from_secs(60));
        assert_eq!(f.code(), 0, "{argv:?}: {}", f.stderr);
        let lines = json_lines(&f.stdout);
        let s = json_summary(&lines);
        assert!(s["probes"].as_u64() >= Some(2), "{argv:?}: {s}");
        assert!(
            lines.iter().any(|l| l["type"] == "hist"),
            "{argv:?}: no hist record"
        );
    }
}

#[test]
fn text_output_has_the_banner_and_libbpf_tools_layout() {
    let Some(_g) = root_or_skip("funclatency text") else {
        return;
    };
    let dir = TempDir::new(0o755);
    let bin = helper("calls", dir.path());
    let mut w = Workload::start(&bin, &["50"], dir.path());
    let run = start(&["./calls:cs_timed"], dir.path());
    w.go();
    let mut run = run;
    run.signal(nix::sys::signal::Signal::SIGINT);
    let f = run.wait(Duration::from_secs(30));
    assert_eq!(f.code(), 0, "{}", f.stderr);
    let lines: Vec<&str> = f.stdout.lines().collect();
    assert_eq!(
        lines[0],
        "Tracing 1 function for \"./calls:cs_timed\"... Hit Ctrl-C to end."
    );
    assert_eq!(lines[1], "");
    assert_eq!(lines[2], "     nsecs               : count    distribution");
    // The same histogram, re-rendered by corescope's Hist from its counts,
    // is the output byte for byte (Hist's layout is compared with
    // libbpf-tools' in the runqlat tests and src/hist/fixtures).
    let slots: Vec<u64> = (lines.iter().filter(|l| l.contains(" -> ")))
        .map(|l| {
            l.split(" : ")
                .nth(1)
                .unwrap()
                .split(" |")
                .next()
                .unwrap()
                .trim()
                .parse()
                .unwrap()
        })
        .collect();
    assert_eq!(slots.iter().sum::<u64>(), 50, "{}", f.stdout);
    let mut text = String::new();
    corescope::hist::Hist::log2(&slots, "nsecs").write_text(&mut text);
    assert!(f.stdout.contains(&text), "{}\nvs\n{text}", f.stdout);
    assert!(
        lines.last().unwrap().starts_with("     count 50, sum "),
        "{}",
        f.stdout
    );
}
