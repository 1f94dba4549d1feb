//! Root tests for filetop: the real BPF programs against a helper doing a
//! known amount of file I/O (tests/helpers/syscalls.c: the oracle is the
//! helper's own calls and sizes, and the file's path and inode from stat).

use std::io::Write as _;
use std::os::unix::fs::MetadataExt as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use nix::sys::signal::Signal;
use serde_json::Value;

use crate::util::{
    json_lines, root_or_skip, syscalls_helper, ChildGuard, Finished, TempDir, ToolRun,
};

const T: Duration = Duration::from_secs(60);

/// `filetop ARGS -- helper HELPER_ARGS`: the tool exits when the helper
/// does, printing the interval cut short.
fn run(args: &[&str], helper: &[&str]) -> Finished {
    let mut a: Vec<&str> = args.to_vec();
    a.push("--");
    let h = syscalls_helper().to_str().expect("a UTF-8 temp path");
    a.push(h);
    a.extend_from_slice(helper);
    let f = ToolRun::start("filetop", &a, Stdio::null()).wait(T);
    assert_eq!(f.code(), 0, "filetop {a:?}: {}", f.stderr);
    f
}

fn rows(f: &Finished) -> Vec<Value> {
    json_lines(&f.stdout)
        .into_iter()
        .filter(|r| r["type"] == "top")
        .collect()
}

/// The rows of file `p` (by inode, and its path must be `p`'s), summed over
/// the intervals: reads, writes, rbytes, wbytes.
fn of_file(f: &Finished, p: &Path) -> [u64; 4] {
    let ino = std::fs::metadata(p).expect("stat").ino();
    let mut s = [0u64; 4];
    for r in rows(f).iter().filter(|r| r["ino"] == ino) {
        assert_eq!(r["file"], p.to_str().unwrap(), "{r}");
        assert_eq!(r["file_type"], "R", "{r}");
        for (i, k) in ["reads", "writes", "rbytes", "wbytes"].iter().enumerate() {
            s[i] += r[k].as_u64().unwrap();
        }
    }
    s
}

fn summary(f: &Finished) -> Value {
    json_lines(&f.stdout)
        .into_iter()
        .find(|r| r["type"] == "summary")
        .unwrap_or_else(|| panic!("no summary: {}", f.stdout))
}

#[test]
fn one_mib_in_4k_writes_is_256_writes_1024_kb() {
    let Some(_g) = root_or_skip("filetop 1 MiB") else {
        return;
    };
    let dir = TempDir::new(0o755);
    let p = dir.path().join("one-mib.dat");
    let ps = p.to_str().unwrap();
    let f = run(&["-j"], &["write", ps, "256", "4096"]);
    assert_eq!(of_file(&f, &p), [0, 256, 0, 1 << 20], "{}", f.stdout);
    // The table: the row with the same numbers (KB) and the path.
    let f = run(&["-C"], &["write", ps, "256", "4096"]);
    let line = f
        .stdout
        .lines()
        .find(|l| l.ends_with(ps))
        .unwrap_or_else(|| panic!("no row for {ps}: {}", f.stdout));
    let w: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(w[2..7], ["0", "256", "0", "1024", "R"], "{line}");
}

#[test]
fn all_six_syscalls_are_counted() {
    let Some(_g) = root_or_skip("filetop read/write/pread64/pwrite64/readv/writev") else {
        return;
    };
    let dir = TempDir::new(0o755);
    let p = dir.path().join("mix.dat");
    let f = run(&["-j"], &["mix", p.to_str().unwrap()]);
    // write 1000 + pwrite64 2000 + writev 1000; read 100 + pread64 200 +
    // readv 30: each size distinct within its sum, so none can be missing.
    assert_eq!(of_file(&f, &p), [3, 3, 330, 4000], "{}", f.stdout);
    assert_eq!(summary(&f)["keys_dropped"], 0);
}

#[test]
fn pid_filter_shows_only_that_process() {
    let Some(_g) = root_or_skip("filetop -p") else {
        return;
    };
    let dir = TempDir::new(0o755);
    let p = dir.path().join("pid.dat");
    let mut helper = ChildGuard::spawn(
        Command::new(syscalls_helper())
            .args(["-w", "write"])
            .arg(&p)
            .args(["256", "4096"])
            .stdin(Stdio::piped()),
    );
    let pid = helper.pid();
    let ps = pid.to_string();
    let mut tool = ToolRun::start("filetop", &["-j", "-v", "-p", &ps, "1"], Stdio::null());
    tool.wait_ready(T);
    // Another process writing meanwhile: not shown.
    let q = dir.path().join("other.dat");
    let other = Command::new(syscalls_helper())
        .arg("write")
        .arg(&q)
        .args(["16", "4096"])
        .status()
        .expect("other writer");
    assert!(other.success());
    helper
        .0
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"g")
        .expect("releasing the helper");
    assert!(helper.wait_timeout(T).success());
    std::thread::sleep(Duration::from_millis(2200));
    tool.signal(Signal::SIGINT);
    let f = tool.wait(T);
    assert_eq!(f.code(), 0, "{}", f.stderr);
    assert_eq!(of_file(&f, &p), [0, 256, 0, 1 << 20], "{}", f.stdout);
    let r = rows(&f);
    assert!(r.iter().all(|r| r["pid"] == pid), "{}", f.stdout);
}

#[test]
fn special_files_only_with_all() {
    let Some(_g) = root_or_skip("filetop -a") else {
        return;
    };
    let dev_null = |f: &Finished| {
        rows(f)
            .into_iter()
            .filter(|r| r["file"] == "/dev/null")
            .collect::<Vec<_>>()
    };
    let f = run(&["-j"], &["write", "/dev/null", "10", "4096"]);
    assert!(dev_null(&f).is_empty(), "{}", f.stdout);
    let f = run(&["-j", "-a"], &["write", "/dev/null", "10", "4096"]);
    let r = dev_null(&f);
    assert_eq!(r.len(), 1, "{}", f.stdout);
    assert_eq!(
        (r[0]["writes"].as_u64(), r[0]["file_type"].as_str()),
        (Some(10), Some("O"))
    );
    assert_eq!(r[0]["wbytes"], 40960);
    // A pipe: outside the tree, named as /proc/PID/fd names it.
    let mut a = vec!["-j", "-a", "--"];
    a.extend(["sh", "-c", "echo hi | cat >/dev/null"]);
    let f = ToolRun::start("filetop", &a, Stdio::null()).wait(T);
    let pipes: Vec<Value> = rows(&f)
        .into_iter()
        .filter(|r| r["file"] == format!("pipe:[{}]", r["ino"]))
        .collect();
    let w: u64 = pipes.iter().map(|r| r["wbytes"].as_u64().unwrap()).sum();
    assert!(
        pipes.iter().any(|r| r["comm"] == "cat" && r["rbytes"] == 3),
        "{}",
        f.stdout
    );
    assert!(w >= 3, "{}", f.stdout);
}

#[test]
fn hostile_file_names_are_escaped() {
    let Some(_g) = root_or_skip("filetop hostile names") else {
        return;
    };
    let dir = TempDir::new(0o755);
    let p = dir.path().join("e\x1b[2J\nvil \"x\"");
    let ps = p.to_str().unwrap();
    let f = run(&["-C"], &["write", ps, "4", "4096"]);
    assert!(!f.stdout.contains('\x1b'), "{:?}", f.stdout);
    assert!(f.stdout.contains(r"/e\e[2J\nvil"), "{}", f.stdout);
    let f = run(&["-j"], &["write", ps, "4", "4096"]);
    assert_eq!(of_file(&f, &p), [0, 4, 0, 4 * 4096]);
}

#[test]
fn keys_beyond_the_map_are_counted_dropped() {
    let Some(_g) = root_or_skip("filetop map full") else {
        return;
    };
    // 11000 files in one interval, 10240 keys: each file is written once,
    // so every file is either a row or one dropped key.
    let dir = TempDir::new(0o755);
    let d = dir.path().to_str().unwrap();
    let f = run(
        &["-j", "-r", "5", "600"],
        &["manyfiles", d, "11000", "1", "0"],
    );
    let iv: Vec<Value> = json_lines(&f.stdout)
        .into_iter()
        .filter(|r| r["type"] == "interval")
        .collect();
    assert_eq!(iv.len(), 1, "{}", f.stdout);
    let keys = iv[0]["keys"].as_u64().unwrap();
    let s = summary(&f);
    let dropped = s["keys_dropped"].as_u64().unwrap();
    assert_eq!(keys, 10240, "the map was full");
    assert_eq!(keys + dropped, 11000, "{s}");
    // Dropped counts are losses too, and the shown rows are the -r 5.
    assert_eq!(s["lost_detail"]["map_full"], dropped);
    assert_eq!(
        (iv[0]["shown"].as_u64(), iv[0]["total"]["writes"].as_u64()),
        (Some(5), Some(keys))
    );
}

#[test]
fn every_bpf_variant_loads() {
    let Some(_g) = root_or_skip("filetop variants") else {
        return;
    };
    let dir = TempDir::new(0o755);
    let p = dir.path().join("v.dat");
    let ps = p.to_str().unwrap();
    for args in [
        &[][..],
        &["-a"],
        &["-a", "--comm", "sc_helper", "-s", "writes"],
        &["--uid", "0"],
    ] {
        let mut a = vec!["-j", "-v"];
        a.extend_from_slice(args);
        let f = run(&a, &["write", ps, "3", "100"]);
        assert!(
            f.stderr.contains("filetop: tracing, "),
            "{args:?}: {}",
            f.stderr
        );
        assert_eq!(of_file(&f, &p), [0, 3, 0, 300], "{args:?}: {}", f.stdout);
    }
}
