//! Root tests for filelife: a helper (tools/filelife/life_helper.c) makes
//! files with a known life in a temp dir; each row is checked against what
//! the helper itself measured (its inode from fstat, the time from the
//! create's return to the unlink's return) and its PID. As root they run;
//! without root they skip and say why, except with CI=true, where they fail.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::Value;

use crate::util::{
    compile_helper, json_events, json_lines, json_summary, root_or_skip, tool, ChildGuard, TempDir,
    ToolRun,
};

fn helper() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("filelife-helper");
        std::fs::create_dir_all(&dir).expect("helper dir");
        compile_helper("life_helper", &dir)
    })
    .clone()
}

/// Runs the helper to its end: its PID and stdout.
fn run_helper(args: &[&str]) -> (u32, String) {
    let mut g = ChildGuard::spawn(
        Command::new(helper())
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped()),
    );
    let pid = g.pid();
    let st = g.wait_timeout(Duration::from_secs(20));
    assert!(st.success(), "helper {args:?}: {st:?}");
    let mut out = String::new();
    if let Some(mut o) = g.0.stdout.take() {
        use std::io::Read as _;
        o.read_to_string(&mut out).expect("helper stdout");
    }
    (pid, out)
}

fn start(args: &[&str]) -> ToolRun {
    let mut all = vec!["-v"];
    all.extend_from_slice(args);
    let mut t = ToolRun::start("filelife", &all, Stdio::null());
    t.wait_ready(Duration::from_secs(30));
    t
}

/// Ctrl-C; the JSON records (checked: valid, one summary last).
fn stop_json(mut t: ToolRun) -> Vec<Value> {
    // Rows are delivered lazily (up to 100 ms): let them arrive.
    std::thread::sleep(Duration::from_millis(300));
    t.signal(nix::sys::signal::Signal::SIGINT);
    let f = t.wait(Duration::from_secs(30));
    assert_eq!(f.code(), 0, "stderr: {}", f.stderr);
    let v = json_lines(&f.stdout);
    json_summary(&v);
    v
}

fn rows_of(v: &[Value], pid: u32) -> Vec<Value> {
    json_events(v)
        .into_iter()
        .filter(|e| e["pid"] == pid)
        .cloned()
        .collect()
}

fn dir_str(d: &TempDir) -> String {
    d.path().to_str().expect("temp path").to_string()
}

/// A file that lived ~300 ms, made by each creating syscall: one row, the
/// helper's PID, inode and path, the age within 20 ms of its own measure.
#[test]
fn age_pid_inode_and_path_of_each_creating_syscall() {
    let Some(_root) = root_or_skip("age_pid_inode_and_path_of_each_creating_syscall") else {
        return;
    };
    let dir = TempDir::new(0o755);
    let d = dir_str(&dir);
    let t = start(&["-j"]);
    let mut runs = Vec::new();
    for sc in ["openat", "open", "creat", "openat2"] {
        let name = format!("f-{sc}");
        let (pid, out) = run_helper(&["life", sc, &d, &name, "300"]);
        runs.push((sc, name, pid, out));
    }
    let v = stop_json(t);
    for (sc, name, pid, out) in runs {
        let mut it = out
            .split_whitespace()
            .map(|n| n.parse::<u64>().expect("helper output"));
        let (ino, age_ns) = (it.next().expect("ino"), it.next().expect("age"));
        let rows = rows_of(&v, pid);
        assert_eq!(rows.len(), 1, "{sc}: rows of PID {pid}: {rows:?}");
        let r = &rows[0];
        let age = r["age_s"].as_f64().expect("age_s");
        let want = age_ns as f64 / 1e9;
        assert!(
            age >= 0.3 && (age - want).abs() < 0.02,
            "{sc}: age {age}, helper measured {want}: {r}"
        );
        assert_eq!(r["path"], format!("{d}/{name}"), "{sc}: {r}");
        assert_eq!(r["ino"], ino, "{sc}: {r}");
        assert_eq!(r["comm"], "life_helper", "{sc}: {r}");
        assert_eq!(r["creator_pid"], pid, "{sc}: {r}");
        assert_eq!(r["deleted_by"], "unlink", "{sc}: {r}");
        assert_eq!(r["tid"], pid, "{sc}: {r}");
    }
}

/// Not shown: a file created before tracing and deleted during it, and a
/// file that an O_CREAT open found already there (no creation).
#[test]
fn preexisting_file_and_o_creat_of_an_existing_file_are_not_shown() {
    let Some(_root) = root_or_skip("preexisting_file_and_o_creat_of_an_existing_file") else {
        return;
    };
    let dir = TempDir::new(0o755);
    let d = dir_str(&dir);
    std::fs::write(dir.path().join("old"), b"x").expect("old file");
    std::fs::write(dir.path().join("again"), b"x").expect("again file");
    let t = start(&["-j"]);
    let mut g = ChildGuard::spawn(Command::new("rm").arg(dir.path().join("old")));
    assert!(g.wait_timeout(Duration::from_secs(10)).success());
    let rm = g.pid();
    let (pid, _) = run_helper(&["existing", &d, "again"]);
    // And a new one by the same helper binary is shown (the tool works).
    let (newp, _) = run_helper(&["life", "openat", &d, "new", "10"]);
    let v = stop_json(t);
    assert!(rows_of(&v, rm).is_empty(), "pre-existing file shown");
    assert!(
        rows_of(&v, pid).is_empty(),
        "O_CREAT of an existing file shown"
    );
    assert_eq!(rows_of(&v, newp).len(), 1, "{v:?}");
    assert!(!dir.path().join("old").exists() && !dir.path().join("again").exists());
}

/// A renamed file keeps its life (inode and device survive the rename); a
/// rename over a tracked file deletes that one (deleted_by rename).
#[test]
fn rename_keeps_the_file_and_rename_over_deletes() {
    let Some(_root) = root_or_skip("rename_keeps_the_file_and_rename_over_deletes") else {
        return;
    };
    let dir = TempDir::new(0o755);
    let d = dir_str(&dir);
    let t = start(&["-j"]);
    let (rp, _) = run_helper(&["rename", &d, "before", "after", "150"]);
    let (op, _) = run_helper(&["over", &d, "victim", "newer"]);
    let v = stop_json(t);
    let rows = rows_of(&v, rp);
    assert_eq!(rows.len(), 1, "{rows:?}");
    let r = &rows[0];
    assert_eq!(r["path"], format!("{d}/after"), "{r}");
    assert_eq!(r["deleted_by"], "unlink", "{r}");
    let age = r["age_s"].as_f64().expect("age");
    assert!((0.3..0.6).contains(&age), "{r}");

    let rows = rows_of(&v, op);
    assert_eq!(rows.len(), 2, "{rows:?}");
    let by: Vec<_> = rows.iter().map(|r| r["deleted_by"].as_str()).collect();
    assert_eq!(by, [Some("rename"), Some("unlink")], "{rows:?}");
    // Both under the name they had when deleted; two different files.
    assert!(
        rows.iter().all(|r| r["path"] == format!("{d}/victim")),
        "{rows:?}"
    );
    assert_ne!(rows[0]["ino"], rows[1]["ino"], "{rows:?}");
    let (a0, a1) = (rows[0]["age_s"].as_f64(), rows[1]["age_s"].as_f64());
    assert!(
        a0.zip(a1).is_some_and(|(a, b)| a >= 0.1 && b >= 0.2),
        "{rows:?}"
    );
}

/// The table escapes a hostile file name (newline, ESC, a non-UTF-8 byte);
/// JSON keeps it exact (base64 when not UTF-8). -p: that process only.
#[test]
fn hostile_names_escaped_and_pid_filter() {
    let Some(_root) = root_or_skip("hostile_names_escaped_and_pid_filter") else {
        return;
    };
    use std::os::unix::ffi::OsStrExt as _;
    let dir = TempDir::new(0o755);
    let d = dir_str(&dir);
    let hostile = std::ffi::OsStr::from_bytes(b"a\nb\x1b[2J\\\xff");
    // A shell that waits for a line, then runs the helper: its PID is known
    // before the tool starts, for -p.
    let mut sh = ChildGuard::spawn(
        Command::new("sh")
            .arg("-c")
            .arg("read x; exec \"$0\" life openat \"$1\" \"$2\" 50")
            .arg(helper())
            .arg(&d)
            .arg(hostile)
            .stdin(Stdio::piped())
            .stdout(Stdio::null()),
    );
    let pid = sh.pid().to_string();
    let mut t = start(&["-p", &pid]);
    let (other, _) = run_helper(&["life", "openat", &d, "other", "10"]);
    {
        use std::io::Write as _;
        let mut i = sh.0.stdin.take().expect("stdin");
        i.write_all(b"go\n").expect("go");
    }
    assert!(sh.wait_timeout(Duration::from_secs(10)).success());
    let row = t.wait_stdout(Duration::from_secs(10), |l| l.contains(&pid));
    t.signal(nix::sys::signal::Signal::SIGINT);
    let f = t.wait(Duration::from_secs(30));
    assert_eq!(f.code(), 0, "{}", f.stderr);
    let want = format!("{d}/a\\nb\\e[2J\\\\\\xff");
    assert!(row.ends_with(&want), "{row:?} does not end with {want:?}");
    assert!(!row.contains('\x1b'));
    let head = f.stdout.lines().next().unwrap_or_default();
    assert!(
        head.starts_with("TIME     PID     COMM             AGE(s)  FILE"),
        "{head}"
    );
    assert_eq!(f.stdout.lines().count(), 2, "only PID {pid}:\n{}", f.stdout);
    assert!(!f.stdout.contains(&format!(" {other} ")));

    // JSON: the raw bytes.
    let t = start(&["-j"]);
    let (p, _) = run_helper(&["life", "openat", &d, "x\u{1b}\ny", "10"]);
    let v = stop_json(t);
    let rows = rows_of(&v, p);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["path"], format!("{d}/x\u{1b}\ny"));
}

/// --max-files: a creation beyond it is a counted loss, not a silent one;
/// with `-- CMD` only CMD's files are tracked.
#[test]
fn full_map_is_counted_as_lost() {
    let Some(_root) = root_or_skip("full_map_is_counted_as_lost") else {
        return;
    };
    let dir = TempDir::new(0o755);
    let d = dir_str(&dir);
    let out = Command::new(tool("filelife"))
        .args(["-j", "--max-files", "1", "--"])
        .arg(helper())
        .args(["two", &d, "first", "second"])
        .stdin(Stdio::null())
        .output()
        .expect("running filelife");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let v = json_lines(&String::from_utf8_lossy(&out.stdout));
    let ev = json_events(&v);
    assert_eq!(ev.len(), 1, "{v:?}");
    assert_eq!(ev[0]["path"], format!("{d}/first"));
    let s = json_summary(&v);
    assert_eq!(s["lost"], 1, "{s}");
}

/// A closed stdout (`filelife | head -1`) is a normal end: exit 0, soon.
#[test]
fn closed_pipe_ends_it() {
    let Some(_root) = root_or_skip("filelife_closed_pipe_ends_it") else {
        return;
    };
    use std::io::BufRead as _;
    let dir = TempDir::new(0o755);
    let d = dir_str(&dir);
    let mut g = ChildGuard::spawn(
        Command::new(tool("filelife"))
            .args(["-d", "60"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null()),
    );
    let mut first = String::new();
    {
        let out = g.0.stdout.take().expect("stdout");
        std::io::BufReader::new(out)
            .read_line(&mut first)
            .expect("first line");
    } // closed here, as `head -1` does
    assert!(first.starts_with("TIME     PID     COMM"), "{first}");
    run_helper(&["life", "openat", &d, "f", "10"]); // a row for the closed pipe
    let st = g.wait_timeout(Duration::from_secs(10));
    assert_eq!(st.code(), Some(0), "{st:?}");
}
