//! Root tests for syscount: the real BPF programs against a helper that
//! makes a known number of syscalls (tests/helpers/syscalls.c: the oracle is
//! the helper's own count), and the table against a live libbpf-tools
//! syscount on the same workload.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::Duration;

use nix::sys::signal::Signal;
use serde_json::Value;

use crate::util::{
    json_lines, root_or_skip, syscalls_helper, with_tracefs, ChildGuard, Finished, ToolRun,
};

const T: Duration = Duration::from_secs(60);

/// `syscount ARGS -- helper HELPER_ARGS`: the tool exits when the helper
/// does, printing the interval cut short.
fn run(args: &[&str], helper: &[&str]) -> Finished {
    let mut a: Vec<&str> = args.to_vec();
    a.push("--");
    let h = syscalls_helper().to_str().expect("a UTF-8 temp path");
    a.push(h);
    a.extend_from_slice(helper);
    let f = ToolRun::start("syscount", &a, Stdio::null()).wait(T);
    assert_eq!(f.code(), 0, "syscount {a:?}: {}", f.stderr);
    f
}

/// The `top` records of a JSON run.
fn rows(f: &Finished) -> Vec<Value> {
    json_lines(&f.stdout)
        .into_iter()
        .filter(|r| r["type"] == "top")
        .collect()
}

/// Counts summed over the intervals, by the value of field `by`.
fn counts(f: &Finished, by: &str) -> BTreeMap<String, u64> {
    let mut m = BTreeMap::new();
    for r in rows(f) {
        let k = match &r[by] {
            Value::String(s) => s.clone(),
            v => v.to_string(),
        };
        *m.entry(k).or_default() += r["count"].as_u64().expect("count");
    }
    m
}

fn summary(f: &Finished) -> Value {
    json_lines(&f.stdout)
        .into_iter()
        .find(|r| r["type"] == "summary")
        .unwrap_or_else(|| panic!("no summary: {}", f.stdout))
}

#[test]
fn pid_filter_counts_exactly_the_getppids() {
    let Some(_g) = root_or_skip("syscount -p") else {
        return;
    };
    // The helper waits on stdin until syscount has attached.
    let mut helper = ChildGuard::spawn(
        Command::new(syscalls_helper())
            .args(["-w", "getppid", "10000"])
            .stdin(Stdio::piped()),
    );
    let pid = helper.pid().to_string();
    let mut tool = ToolRun::start("syscount", &["-j", "-v", "-p", &pid, "1"], Stdio::null());
    tool.wait_ready(T);
    // Another process's getppid calls, not traced.
    let other = run(&["-j", "--comm", "nobody-has-it"], &["getppid", "500"]);
    assert!(rows(&other).is_empty(), "{}", other.stdout);
    helper
        .0
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"g")
        .expect("releasing the helper");
    assert!(helper.wait_timeout(T).success());
    // Past the next interval's end: every count has been printed.
    std::thread::sleep(Duration::from_millis(2200));
    tool.signal(Signal::SIGINT);
    let f = tool.wait(T);
    assert_eq!(f.code(), 0, "{}", f.stderr);
    let c = counts(&f, "syscall");
    assert_eq!(c.get("getppid"), Some(&10_000), "{c:?}");
    // Only the helper: its wait (read) and nothing of anyone else's.
    assert!(c.keys().all(|k| k == "getppid" || k == "read"), "{c:?}");
    for r in rows(&f) {
        assert!(r["interval"].as_u64().is_some_and(|i| i >= 1), "{r}");
        assert_eq!(r["syscall"] == "getppid", r["nr"] == 110, "{r}");
    }
    assert_eq!(summary(&f)["keys_dropped"], 0);
}

#[test]
fn failures_count_the_failed_opens() {
    let Some(_g) = root_or_skip("syscount -x/-e") else {
        return;
    };
    let dir = crate::util::TempDir::new(0o755);
    let d = dir.path().to_str().expect("UTF-8");
    let opens = |c: &BTreeMap<String, u64>| c.get("openat").or(c.get("open")).copied();
    let f = run(&["-j", "-x"], &["openfail", "300", d]);
    let c = counts(&f, "syscall");
    assert_eq!(opens(&c), Some(300), "{c:?}");
    for e in ["ENOENT", "2", "enoent"] {
        let c = counts(&run(&["-j", "-e", e], &["openfail", "300", d]), "syscall");
        assert_eq!(opens(&c), Some(300), "-e {e}: {c:?}");
    }
    // Another errno: none of them.
    let c = counts(
        &run(&["-j", "-e", "EACCES"], &["openfail", "300", d]),
        "syscall",
    );
    assert_eq!(opens(&c), None, "{c:?}");
    // Without -x the 300 are counted as well (they are syscalls).
    let c = counts(&run(&["-j"], &["openfail", "300", d]), "syscall");
    assert!(opens(&c) >= Some(300), "{c:?}");
    // Successful getppid calls are never failures.
    let c = counts(&run(&["-j", "-x"], &["getppid", "1000"]), "syscall");
    assert_eq!(c.get("getppid"), None, "{c:?}");
}

#[test]
fn per_process_latency_and_one_syscall() {
    let Some(_g) = root_or_skip("syscount -P -L --syscall") else {
        return;
    };
    let f = run(
        &["-j", "-P", "-L", "--syscall", "getppid"],
        &["getppid", "10000"],
    );
    let r = rows(&f);
    assert_eq!(r.len(), 1, "one process, one interval: {}", f.stdout);
    assert_eq!(r[0]["count"], 10_000);
    assert_eq!(r[0]["comm"], "sc_helper");
    assert!(r[0]["total_ns"].as_u64().is_some_and(|n| n > 0), "{}", r[0]);
    assert!(r[0].get("syscall").is_none() && r[0]["pid"].as_u64().is_some());
    // -L per syscall, sorted by time; --syscall by number too.
    let f = run(&["-j", "-L", "--syscall", "110"], &["getppid", "10000"]);
    let c = counts(&f, "syscall");
    assert_eq!(c, BTreeMap::from([("getppid".to_string(), 10_000)]));
    // The interval record: the totals of every key, shown or not.
    let iv: Vec<Value> = json_lines(&f.stdout)
        .into_iter()
        .filter(|r| r["type"] == "interval")
        .collect();
    let total: u64 = iv
        .iter()
        .map(|r| r["total"]["count"].as_u64().unwrap())
        .sum();
    assert_eq!(total, 10_000);
}

#[test]
fn rows_cut_by_top_still_count_in_the_totals() {
    let Some(_g) = root_or_skip("syscount -T") else {
        return;
    };
    let dir = crate::util::TempDir::new(0o755);
    let p = dir.path().join("f");
    let p = p.to_str().expect("UTF-8");
    // Many syscalls (execve, open, write, close, …), one row shown.
    let f = run(&["-j", "-T", "1", "60"], &["write", p, "10", "4096"]);
    let r = rows(&f);
    assert_eq!(r.len(), 1, "{}", f.stdout);
    let iv = json_lines(&f.stdout)
        .into_iter()
        .find(|r| r["type"] == "interval")
        .expect("an interval record");
    assert_eq!(iv["shown"], 1);
    assert!(iv["cut_keys"].as_u64().is_some_and(|n| n >= 2), "{iv}");
    let shown = r[0]["count"].as_u64().unwrap();
    let cut = iv["cut"]["count"].as_u64().unwrap();
    assert_eq!(shown + cut, iv["total"]["count"].as_u64().unwrap(), "{iv}");
    assert!(shown >= 10, "write is the most frequent: {}", r[0]);
}

#[test]
fn hostile_comm_is_escaped() {
    let Some(_g) = root_or_skip("syscount -P hostile comm") else {
        return;
    };
    // The name a process gets from its exec: the file's name.
    let evil = "a\x1b[2J\nb\"c";
    let dir = crate::util::TempDir::new(0o755);
    let bin = dir.path().join(evil);
    std::fs::copy(syscalls_helper(), &bin).expect("copying the helper");
    let bin = bin.to_str().expect("UTF-8");
    let go = |args: &[&str]| {
        let mut a = args.to_vec();
        a.extend_from_slice(&["--", bin, "getppid", "100"]);
        let f = ToolRun::start("syscount", &a, Stdio::null()).wait(T);
        assert_eq!(f.code(), 0, "{}", f.stderr);
        f
    };
    let f = go(&["-P", "-C"]);
    assert!(!f.stdout.contains('\x1b'), "{:?}", f.stdout);
    assert!(f.stdout.contains(r"a\e[2J\nb"), "{}", f.stdout);
    let f = go(&["-P", "-j"]);
    let r = rows(&f);
    assert!(r.iter().any(|r| r["comm"] == evil), "{}", f.stdout);
}

#[test]
fn every_bpf_variant_loads() {
    let Some(_g) = root_or_skip("syscount variants") else {
        return;
    };
    // Each .rodata knob removes or keeps different code; -L loads the
    // enter program too.
    for args in [
        &[][..],
        &["-L"],
        &["-P"],
        &["-x"],
        &["-e", "EBADF"],
        &["--syscall", "getppid"],
        &["-L", "-P", "-x", "--syscall", "getppid", "-m"],
        &["-L", "-e", "ENOENT", "--comm", "sc_helper"],
        &["--uid", "0", "--tid", "1"],
    ] {
        let mut a = vec!["-j", "-v"];
        a.extend_from_slice(args);
        let f = run(&a, &["getppid", "10"]);
        assert!(
            f.stderr.contains("syscount: tracing, "),
            "{args:?}: {}",
            f.stderr
        );
        // libbpf's -v log: the enter program is left out without -L.
        let skipped = f.stderr.contains("prog 'syscount_enter': skipped loading");
        assert_eq!(skipped, !args.contains(&"-L"), "{args:?}: {}", f.stderr);
    }
}

#[test]
fn list_needs_no_root_and_has_the_common_names() {
    let f = ToolRun::start("syscount", &["-l"], Stdio::null()).wait(T);
    assert_eq!(f.code(), 0);
    for l in ["  0: read", "110: getppid", "257: openat", "435: clone3"] {
        assert!(f.stdout.lines().any(|x| x == l), "{l:?} missing");
    }
}

/// Newer syscalls than the build host's headers (the script's EXTRA): each
/// number, called with arguments it rejects, fires the kernel's own
/// `syscalls:sys_enter_<name>` event (the kernel's table is the oracle).
#[test]
fn newer_syscall_numbers_are_the_kernels() {
    let Some(_g) = root_or_skip("syscount newer syscalls") else {
        return;
    };
    // In a private mount namespace (nothing left mounted): tracefs, each
    // syscall's enter event enabled for the helper's name only, the helper
    // calling each number (arguments that fail), the trace read back. The
    // event toggles are the kernel's (global): set back at the end.
    let script = r#"
helper=$1; shift
mount -t tracefs none /sys/kernel/tracing 2>/dev/null
cd /sys/kernel/tracing || exit 1
echo > trace
for e in "$@"; do
  d=events/syscalls/sys_enter_${e#*:}
  [ -d "$d" ] || { echo "missing ${e#*:}"; continue; }
  echo 'comm == "cs_nrcheck"' > $d/filter
  echo 1 > $d/enable
done
nrs=""
for e in "$@"; do nrs="$nrs ${e%%:*}"; done
"$helper" -n cs_nrcheck raw $nrs
for e in "$@"; do
  d=events/syscalls/sys_enter_${e#*:}
  [ -d "$d" ] && { echo 0 > $d/enable; echo 0 > $d/filter; }
done
grep -o 'sys_[a-z_0-9]*(' trace | sort -u
"#;
    let newer: Vec<String> = corescope::tools::syscount::names::TABLE
        .iter()
        .filter(|(nr, _)| *nr > 450)
        .map(|(nr, n)| format!("{nr}:{n}"))
        .collect();
    assert!(!newer.is_empty());
    let out = Command::new("unshare")
        .args(["-m", "sh", "-c", script, "sh"])
        .arg(syscalls_helper())
        .args(&newer)
        .stdin(Stdio::null())
        .output()
        .expect("unshare");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut checked = 0;
    for e in &newer {
        let name = e.split(':').nth(1).unwrap();
        if text.contains(&format!("missing {name}\n")) {
            continue; // not on this kernel: nothing to check
        }
        assert!(
            text.contains(&format!("sys_{name}(")),
            "{e}: the kernel's sys_enter_{name} did not fire; output:\n{text}"
        );
        checked += 1;
    }
    assert!(checked > 0, "no newer syscall on this kernel? {text}");
}

#[test]
fn table_is_libbpf_tools_layout_live() {
    let Some(_g) = root_or_skip("syscount vs libbpf-tools") else {
        return;
    };
    if !std::path::Path::new("/usr/sbin/syscount").exists() {
        eprintln!("syscount vs libbpf-tools: /usr/sbin/syscount missing, not compared");
        return;
    }
    let mut helper = ChildGuard::spawn(
        Command::new(syscalls_helper())
            .args(["-w", "getppid", "10000"])
            .stdin(Stdio::piped()),
    );
    let pid = helper.pid().to_string();
    // One screen, printed at Ctrl-C (like libbpf-tools without -i).
    let mut ours = ToolRun::start("syscount", &["-v", "-C", "-p", &pid, "600"], Stdio::null());
    ours.wait_ready(T);
    let mut lbt = ToolRun::start_cmd(
        with_tracefs(&format!("exec stdbuf -oL /usr/sbin/syscount -p {pid}")),
        Stdio::null(),
    );
    lbt.wait_stdout(T, |l| l.starts_with("Tracing syscalls"));
    helper
        .0
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"g")
        .expect("releasing the helper");
    assert!(helper.wait_timeout(T).success());
    std::thread::sleep(Duration::from_millis(300));
    ours.signal(Signal::SIGINT);
    lbt.signal(Signal::SIGINT);
    let (o, l) = (ours.wait(T), lbt.wait(T));
    assert_eq!(o.code(), 0, "{}", o.stderr);
    // From the header on: the same lines (names, counts, widths).
    let table = |s: &str| -> Vec<String> {
        let mut v: Vec<String> = s
            .lines()
            .skip_while(|l| !l.starts_with("SYSCALL"))
            .take_while(|l| !l.is_empty())
            .map(String::from)
            .collect();
        v[1..].sort();
        v
    };
    let (to, tl) = (table(&o.stdout), table(&l.stdout));
    assert_eq!(to, tl, "ours:\n{}\nlibbpf-tools:\n{}", o.stdout, l.stdout);
    assert!(
        to.contains(&format!("{:<22} {:>8}", "getppid", 10000)),
        "{to:?}"
    );
    // The time line above it, as libbpf-tools prints it.
    let stamp = |s: &str| {
        s.lines()
            .find(|l| l.starts_with('['))
            .map(|l| l.len() == 10 && l.ends_with(']'))
    };
    assert_eq!(stamp(&o.stdout), Some(true), "{}", o.stdout);
    assert_eq!(stamp(&l.stdout), Some(true), "{}", l.stdout);
}
