//! Root tests for opensnoop: the real BPF programs against the running
//! kernel. Without root they skip with a reason, except with CI=true, where
//! they fail. Each run traces only its own `-- CMD` (a small C helper, built
//! here with frame pointers) and uses unique file names.

use std::ffi::OsStr;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::util::{
    marker, root_exclusive_or_skip, root_or_skip as root, tool, ChildGuard as Guard,
};

// ---- small utilities (kept local; see the execsnoop root tests) ----------

/// A directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(marker: &str) -> Self {
        let p = std::env::temp_dir().join(marker);
        std::fs::create_dir_all(&p).unwrap();
        Self(p.canonicalize().unwrap())
    }
    fn file(&self, name: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, b"x").unwrap();
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The workload helper (tools/opensnoop/helper.c), built once.
fn helper() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("opensnoop_helper");
        let src = concat!(env!("CARGO_MANIFEST_DIR"), "/tools/opensnoop/helper.c");
        let st = Command::new("cc")
            .args(["-O0", "-g", "-fno-omit-frame-pointer"])
            .args(["-mno-omit-leaf-frame-pointer", "-o"])
            .arg(&out)
            .arg(src)
            .status()
            .expect("running cc");
        assert!(st.success(), "cc failed on {src}");
        out
    })
}

struct Run {
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Vec<Value> {
        crate::util::json_lines_of("opensnoop", &self.stdout)
    }
    fn events(&self) -> Vec<Value> {
        self.json()
            .into_iter()
            .filter(|v| v["type"] == "event")
            .collect()
    }
    fn summary(&self) -> Value {
        self.json()
            .into_iter()
            .find(|v| v["type"] == "summary")
            .unwrap_or_else(|| panic!("no summary in {}", self.stdout))
    }
}

/// Runs `opensnoop ARGS -- HELPER HELPER_ARGS` in `cwd`, bounded in time.
fn opensnoop<S: AsRef<OsStr>>(args: &[&str], helper_args: &[S], cwd: &Path) -> Run {
    let mut cmd = vec![helper().as_os_str()];
    cmd.extend(helper_args.iter().map(|a| a.as_ref()));
    run_cmd(args, &cmd, cwd)
}

/// Runs `opensnoop ARGS -- CMD` in `cwd`, bounded in time.
fn run_cmd(args: &[&str], cmd: &[&OsStr], cwd: &Path) -> Run {
    let mut child = Guard(
        Command::new(tool("opensnoop"))
            .args(["-d", "60"])
            .args(args)
            .arg("--")
            .args(cmd)
            .current_dir(cwd)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting opensnoop"),
    );
    let mut out = child.0.stdout.take().unwrap();
    let mut err = child.0.stderr.take().unwrap();
    let t_out = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = out.read_to_end(&mut s);
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err.read_to_end(&mut s);
        s
    });
    let deadline = Instant::now() + Duration::from_secs(90);
    let status = loop {
        if let Some(st) = child.0.try_wait().unwrap() {
            break st;
        }
        assert!(Instant::now() < deadline, "opensnoop {args:?} did not end");
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = String::from_utf8(t_out.join().unwrap()).expect("stdout is UTF-8");
    let stderr = String::from_utf8_lossy(&t_err.join().unwrap()).into_owned();
    assert!(status.success(), "opensnoop {args:?}: {status}\n{stderr}");
    Run { stdout, stderr }
}

fn with_path<'a>(events: &'a [Value], path: &Path) -> Vec<&'a Value> {
    let p = path.to_str().unwrap();
    events.iter().filter(|e| e["path"] == p).collect()
}

// ---- tests -----------------------------------------------------------------

#[test]
fn existing_and_missing_files() {
    let Some(_root) = root("existing_and_missing_files") else {
        return;
    };
    let m = marker("exist");
    let dir = TempDir::new(&m);
    let there = dir.file("there");
    let missing = dir.0.join("missing");
    let args = [OsStr::new("open"), there.as_os_str(), missing.as_os_str()];
    let ev = opensnoop(&["-j"], &args, &dir.0).events();
    let ok = with_path(&ev, &there);
    assert_eq!(ok.len(), 1, "{ev:?}");
    assert!(ok[0]["fd"].as_i64().unwrap() >= 0);
    assert_eq!(ok[0]["err"], 0);
    let bad = with_path(&ev, &missing);
    assert_eq!(bad.len(), 1, "{ev:?}");
    assert_eq!(
        (bad[0]["fd"].as_i64(), bad[0]["err"].as_i64()),
        (Some(-1), Some(2))
    );

    // -x: only the failed one (and every row shown is a failure).
    let ev = opensnoop(&["-j", "-x"], &args, &dir.0).events();
    assert!(with_path(&ev, &there).is_empty(), "{ev:?}");
    assert_eq!(with_path(&ev, &missing).len(), 1);
    assert!(ev.iter().all(|e| e["err"].as_i64() != Some(0)), "{ev:?}");
}

#[test]
fn extended_fields_show_creat_flags_and_mode() {
    let Some(_root) = root("extended_fields_show_creat_flags_and_mode") else {
        return;
    };
    let m = marker("ext");
    let dir = TempDir::new(&m);
    let new = dir.0.join("created");
    let args = [OsStr::new("create"), new.as_os_str(), OsStr::new("0640")];
    let run = opensnoop(&["-e"], &args, &dir.0);
    let header = run.stdout.lines().next().unwrap();
    assert!(header.contains("FD ERR FLAGS    MODE PATH"), "{header}");
    let p = new.to_str().unwrap();
    let line = run.stdout.lines().find(|l| l.ends_with(p)).expect("row");
    let cols: Vec<&str> = line.split_whitespace().collect();
    let (flags, mode) = (cols[cols.len() - 3], cols[cols.len() - 2]);
    let flags = u32::from_str_radix(flags, 8).unwrap();
    assert_ne!(flags & libc::O_CREAT as u32, 0, "{line}");
    assert_eq!(mode, "0640", "{line}");
    assert_eq!(
        header.find("PATH"),
        line.find(p),
        "aligned:\n{header}\n{line}"
    );
    // Without O_CREAT the mode is n/a.
    assert!(
        run.stdout.lines().any(|l| l.contains(" n/a ")),
        "{}",
        run.stdout
    );

    let ev = opensnoop(&["-e", "-j"], &args, &dir.0).events();
    let e = with_path(&ev, &new);
    assert_eq!(e.len(), 1);
    assert_eq!(e[0]["mode"], 0o640);
}

#[test]
fn flag_filter_keeps_only_o_creat() {
    let Some(_root) = root("flag_filter_keeps_only_o_creat") else {
        return;
    };
    let m = marker("flag");
    let dir = TempDir::new(&m);
    let read = dir.file("read");
    let new = dir.0.join("new");
    let h = helper().to_str().unwrap();
    let script = format!(
        "{h} open '{}' && {h} create '{}' 0600",
        read.display(),
        new.display()
    );
    let sh = [OsStr::new("/bin/sh"), OsStr::new("-c"), OsStr::new(&script)];
    let ev = run_cmd(&["-j", "-f", "O_CREAT"], &sh, &dir.0).events();
    assert_eq!(with_path(&ev, &new).len(), 1, "{ev:?}");
    assert!(with_path(&ev, &read).is_empty(), "{ev:?}");
    let creat = libc::O_CREAT as u64;
    assert!(ev.iter().all(|e| e["flags"].as_u64().unwrap() & creat != 0));
}

#[test]
fn full_path_resolves_dirfd_and_cwd() {
    let Some(_root) = root("full_path_resolves_dirfd_and_cwd") else {
        return;
    };
    let m = marker("full");
    let dir = TempDir::new(&m);
    let rel = format!("{m}/name");
    // cwd is the temp dir, the dirfd is /usr/share: the path is under the latter.
    let args = ["openat", "/usr/share", rel.as_str()];
    let ev = opensnoop(&["-j", "-F"], &args, &dir.0).events();
    let e: Vec<_> = ev
        .iter()
        .filter(|e| e["filename"] == rel.as_str())
        .collect();
    assert_eq!(e.len(), 1, "{ev:?}");
    assert_eq!(e[0]["path"], format!("/usr/share/{rel}"));
    assert_eq!(e[0]["resolved"], true);
    // Without -F the path is as passed.
    let ev = opensnoop(&["-j"], &args, &dir.0).events();
    assert!(ev
        .iter()
        .any(|e| e["path"] == rel.as_str() && e["resolved"] == false));
    // A dirfd on another mount (/dev/shm is a tmpfs under devtmpfs).
    let ev = opensnoop(&["-j", "-F"], &["openat", "/dev/shm", rel.as_str()], &dir.0).events();
    assert!(
        ev.iter().any(|e| e["path"] == format!("/dev/shm/{rel}")),
        "{ev:?}"
    );

    // AT_FDCWD: under the cwd, here changed by the helper itself.
    let sub = dir.0.join("sub");
    std::fs::create_dir(&sub).unwrap();
    let args = [OsStr::new("cwd"), sub.as_os_str(), OsStr::new("rel-file")];
    let ev = opensnoop(&["-j", "-F"], &args, Path::new("/")).events();
    let want = sub.join("rel-file");
    let e = with_path(&ev, &want);
    assert_eq!(e.len(), 1, "{ev:?}");
    assert_eq!(
        (&e[0]["resolved"], &e[0]["filename"]),
        (&Value::Bool(true), &Value::from("rel-file"))
    );
}

#[test]
fn path_filter_is_applied_in_the_kernel() {
    let Some(_root) = root("path_filter_is_applied_in_the_kernel") else {
        return;
    };
    let m = marker("path");
    let dir = TempDir::new(&m);
    let yes = dir.file("wanted-file");
    let no = dir.file("other-file");
    let args = [
        OsStr::new("open"),
        yes.as_os_str(),
        no.as_os_str(),
        yes.as_os_str(),
    ];
    for pat in [
        dir.0.join("wanted").to_str().unwrap().to_string(),
        format!("*{m}/wanted"),
    ] {
        let run = opensnoop(&["-j", "--path", &pat], &args, &dir.0);
        let ev = run.events();
        assert_eq!(with_path(&ev, &yes).len(), 2, "{pat}: {ev:?}");
        assert_eq!(ev.len(), 2, "{pat}: only matching opens: {ev:?}");
        // Received from the kernel = shown: nothing was filtered in user space.
        let s = run.summary();
        assert_eq!(
            (s["events"].as_u64(), s["filtered"].as_u64()),
            (Some(2), Some(0)),
            "{s}"
        );
    }
}

#[test]
fn cmd_traces_just_cmd() {
    let Some(_root) = root("cmd_traces_just_cmd") else {
        return;
    };
    let m = marker("cmd");
    let dir = TempDir::new(&m);
    let mine = dir.file("mine");
    let other = dir.file("other");
    // Another process opening a file all along.
    let mut bg = Guard(
        Command::new(helper())
            .args([OsStr::new("loop"), OsStr::new("20000"), other.as_os_str()])
            .spawn()
            .unwrap(),
    );
    std::thread::sleep(Duration::from_millis(50));
    let args = [OsStr::new("loop"), OsStr::new("300"), mine.as_os_str()];
    let run = opensnoop(&["-j"], &args, &dir.0);
    let ev = run.events();
    assert_eq!(with_path(&ev, &mine).len(), 300, "{}", run.stderr);
    assert!(with_path(&ev, &other).is_empty());
    // It was opening all along (so it would have been seen).
    assert!(
        bg.0.try_wait().unwrap().is_none(),
        "background opener ended early"
    );
    let pids: std::collections::BTreeSet<_> = ev.iter().map(|e| e["pid"].as_u64()).collect();
    assert_eq!(pids.len(), 1, "only CMD's PID: {pids:?}");
}

#[test]
fn callers_name_the_opening_function() {
    let Some(_root) = root("callers_name_the_opening_function") else {
        return;
    };
    let m = marker("callers");
    let dir = TempDir::new(&m);
    let f = dir.file("target");
    let args = [OsStr::new("callers"), f.as_os_str()];
    let ev = opensnoop(&["-j", "--callers"], &args, &dir.0).events();
    let e = with_path(&ev, &f);
    assert_eq!(e.len(), 1, "{ev:?}");
    let frames = e[0]["callers"].as_array().expect("callers array");
    assert!(!frames.is_empty() && frames.len() <= 3, "{frames:?}");
    let names: Vec<&str> = frames.iter().filter_map(|f| f["symbol"].as_str()).collect();
    assert!(names.contains(&"corescope_distinct_opener"), "{frames:?}");

    let run = opensnoop(&["--callers=5"], &args, &dir.0);
    let lines: Vec<&str> = run.stdout.lines().collect();
    let i = lines
        .iter()
        .position(|l| l.ends_with(f.to_str().unwrap()))
        .expect("row");
    let under: Vec<&&str> = lines[i + 1..]
        .iter()
        .take_while(|l| l.starts_with("    "))
        .collect();
    assert!((1..=5).contains(&under.len()), "{lines:?}");
    assert!(
        under
            .iter()
            .any(|l| l.contains("corescope_distinct_opener+0x")),
        "{under:?}"
    );
}

#[test]
fn hostile_filename_stays_on_one_escaped_row() {
    let Some(_root) = root("hostile_filename_stays_on_one_escaped_row") else {
        return;
    };
    let m = marker("esc");
    let dir = TempDir::new(&m);
    let name = format!("a\nb\x1b[2J{m}");
    let p = dir.0.join(&name);
    let args = [OsStr::new("create"), p.as_os_str(), OsStr::new("0600")];
    let run = opensnoop(&[], &args, &dir.0);
    assert!(!run.stdout.contains('\x1b'), "raw ESC in the output");
    let want = format!("{}/a\\nb\\e[2J{m}", dir.0.display());
    let rows: Vec<&str> = run.stdout.lines().filter(|l| l.contains(&m)).collect();
    assert_eq!(rows.len(), 1, "{}", run.stdout);
    assert!(rows[0].ends_with(&want), "{}", rows[0]);
    assert!(rows[0]
        .split_whitespace()
        .next()
        .unwrap()
        .parse::<u32>()
        .is_ok());

    let ev = opensnoop(&["-j"], &args, &dir.0).events();
    let e = with_path(&ev, &p);
    assert_eq!(e.len(), 1, "{ev:?}");
    assert_eq!(
        e[0]["path"].as_str().unwrap().as_bytes(),
        p.as_os_str().as_bytes()
    );
}

#[test]
fn burst_of_2000_opens_is_complete() {
    let Some(_root) = root_exclusive_or_skip("burst_of_2000_opens_is_complete") else {
        return;
    };
    let m = marker("burst");
    let dir = TempDir::new(&m);
    let f = dir.file("burst");
    let args = [OsStr::new("burst"), OsStr::new("2000"), f.as_os_str()];
    let run = opensnoop(&["-j"], &args, &dir.0);
    let shown = with_path(&run.events(), &f).len() as u64;
    let lost = run.summary()["lost"].as_u64().unwrap();
    assert_eq!(shown + lost, 2000, "{}", run.stderr);
    assert_eq!(lost, 0);
}

#[test]
fn every_open_syscall_is_traced() {
    let Some(_root) = root("every_open_syscall_is_traced") else {
        return;
    };
    let m = marker("sys");
    let dir = TempDir::new(&m);
    let f = dir.file("target");
    let args = [OsStr::new("syscalls"), f.as_os_str()];
    let ev = opensnoop(&["-j", "-e"], &args, &dir.0).events();
    let seen: Vec<&str> = with_path(&ev, &f)
        .iter()
        .filter_map(|e| e["syscall"].as_str())
        .collect();
    // arm64 and riscv have neither open(2) nor creat(2).
    let x86 = cfg!(target_arch = "x86_64");
    let want: &[&str] = if x86 {
        &["open", "creat", "openat2"]
    } else {
        &["openat2"]
    };
    assert_eq!(seen, want, "{ev:?}");
    if x86 {
        let creat = with_path(&ev, &f)
            .into_iter()
            .find(|e| e["syscall"] == "creat");
        let creat = creat.unwrap();
        let flags = creat["flags"].as_u64().unwrap() as i32;
        assert_eq!(flags, libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC);
        assert_eq!(creat["mode"], 0o600);
    }
}

#[test]
fn full_path_is_seen_from_the_process_root() {
    let Some(_root) = root("full_path_is_seen_from_the_process_root") else {
        return;
    };
    let m = marker("chroot");
    let dir = TempDir::new(&m);
    std::fs::create_dir(dir.0.join("d")).unwrap();
    let src = concat!(env!("CARGO_MANIFEST_DIR"), "/tools/opensnoop/helper.c");
    let st = Command::new("cc")
        .args(["-static", "-O0", "-o"])
        .arg(dir.0.join("h"))
        .arg(src)
        .status()
        .unwrap();
    assert!(st.success(), "cc -static failed");
    // A chrooted process: its paths are shown as it sees them.
    let cmd = ["chroot", dir.0.to_str().unwrap(), "/h", "cwd", "/d", "rel"];
    let cmd: Vec<&OsStr> = cmd.iter().map(OsStr::new).collect();
    let ev = run_cmd(&["-j", "-F"], &cmd, &dir.0).events();
    let e: Vec<_> = ev.iter().filter(|e| e["filename"] == "rel").collect();
    assert_eq!(e.len(), 1, "{ev:?}");
    assert_eq!(e[0]["path"], "/d/rel");
}

/// Every combination of the options that change the loaded BPF code (-F,
/// --path none/prefix/substring, -f, -x, --callers) loads, attaches and
/// shows the one open that matches them all.
#[test]
fn every_filter_combination_loads_and_sees_its_open() {
    let Some(_root) = root("every_filter_combination_loads_and_sees_its_open") else {
        return;
    };
    let m = marker("combo");
    let dir = TempDir::new(&m);
    let d = dir.0.to_str().unwrap();
    // (F, path 0..3, f, x, callers)
    let combos: Vec<(bool, u8, bool, bool, bool)> = (0..48u8)
        .map(|i| {
            (
                i & 1 != 0,
                (i >> 1) % 3,
                i & 8 != 0,
                i & 16 != 0,
                i & 32 != 0,
            )
        })
        .collect();
    let check = |i: usize, &(full, path, flag, failed, callers): &(bool, u8, bool, bool, bool)| {
        // A failed O_CREAT|O_WRONLY open (no such directory) of a relative
        // path unique to the combination: it matches -x, -f O_CREAT, and
        // the patterns below.
        let rel = format!("sub{i}/file");
        let shown = if full {
            format!("{d}/{rel}")
        } else {
            rel.clone()
        };
        let pat = match path {
            1 if full => format!("{d}/sub{i}/"),
            1 => format!("sub{i}/"),
            _ => format!("*sub{i}/fi"),
        };
        let mut args = vec!["-j"];
        full.then(|| args.push("-F"));
        (path > 0).then(|| args.extend(["--path", &pat]));
        flag.then(|| args.extend(["-f", "O_CREAT"]));
        failed.then(|| args.push("-x"));
        callers.then(|| args.push("--callers"));
        let run = opensnoop(&args, &["flags", "0101", &rel], &dir.0);
        let ev = run.events();
        let e: Vec<_> = ev.iter().filter(|e| e["path"] == shown.as_str()).collect();
        assert_eq!(e.len(), 1, "{args:?}: {ev:?}\n{}", run.stderr);
        assert_eq!(
            (e[0]["err"].as_i64(), &e[0]["resolved"]),
            (Some(2), &Value::Bool(full))
        );
        assert_eq!(e[0]["callers"].is_array(), callers, "{args:?}: {:?}", e[0]);
        // The dynamic loader's opens (some failing) match none of these.
        if path > 0 || flag {
            assert_eq!(ev.len(), 1, "{args:?}: only the matching open: {ev:?}");
        }
    };
    // Loading is most of the time: a few at once.
    std::thread::scope(|s| {
        let check = &check;
        let workers: Vec<_> = combos
            .chunks(12)
            .enumerate()
            .map(|(k, chunk)| {
                s.spawn(move || {
                    for (j, c) in chunk.iter().enumerate() {
                        check(k * 12 + j, c);
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
    });
}

/// -f O_TMPFILE needs all of O_TMPFILE's bits: a plain O_DIRECTORY open
/// (which has one of them) is not shown, an O_TMPFILE one is.
#[test]
fn flag_filter_needs_every_bit_of_o_tmpfile() {
    let Some(_root) = root("flag_filter_needs_every_bit_of_o_tmpfile") else {
        return;
    };
    let m = marker("tmpfile");
    let dir = TempDir::new(&m);
    let h = helper().to_str().unwrap();
    let (odir, otmp) = (libc::O_DIRECTORY, libc::O_TMPFILE | libc::O_RDWR);
    let d = dir.0.display();
    let script = format!("{h} flags {odir:o} {d} && {h} flags {otmp:o} {d}");
    let sh = [OsStr::new("/bin/sh"), OsStr::new("-c"), OsStr::new(&script)];
    let flags = |e: &&Value| e["flags"].as_u64().unwrap() as i32;
    // Without -f both are seen (so the test can see them at all).
    let ev = run_cmd(&["-j"], &sh, &dir.0).events();
    let all: Vec<i32> = with_path(&ev, &dir.0).iter().map(flags).collect();
    assert!(all.contains(&odir) && all.contains(&otmp), "{all:?}");
    let ev = run_cmd(&["-j", "-f", "O_TMPFILE"], &sh, &dir.0).events();
    let seen: Vec<i32> = with_path(&ev, &dir.0).iter().map(flags).collect();
    assert_eq!(seen, [otmp], "{ev:?}");
    let t = libc::O_TMPFILE;
    assert!(ev.iter().all(|e| flags(&e) & t == t), "{ev:?}");
}

/// A path of 4095 bytes (the buffer less its NUL) is whole: not marked. A
/// longer one is cut, and marked: `...` in the table, path_truncated in JSON.
#[test]
fn long_path_is_marked_only_when_cut() {
    let Some(_root) = root("long_path_is_marked_only_when_cut") else {
        return;
    };
    let m = marker("long");
    let dir = TempDir::new(&m);
    // Nested directories up to 4095 bytes of path.
    let mut p = dir.0.to_str().unwrap().to_string();
    while 4095 - p.len() > 201 {
        p.push('/');
        p.push_str(&"d".repeat(200));
    }
    std::fs::create_dir_all(&p).unwrap();
    p.push('/');
    let fits = format!("{p}{}", "f".repeat(4095 - p.len()));
    let longer = format!("{fits}g");
    assert_eq!((fits.len(), longer.len()), (4095, 4096));
    let args = ["flags", "0101", &fits, &longer];
    let ev = opensnoop(&["-j"], &args, &dir.0).events();
    let e: Vec<_> = ev.iter().filter(|e| e["path"] == fits.as_str()).collect();
    assert_eq!(e.len(), 2, "both shown as its 4095 bytes: {ev:?}");
    // In order: the 4095-byte one was created, the other is too long.
    assert_eq!(
        (e[0]["err"].as_i64(), &e[0]["path_truncated"]),
        (Some(0), &Value::Bool(false))
    );
    let too_long = Some(libc::ENAMETOOLONG as i64);
    assert_eq!(
        (e[1]["err"].as_i64(), &e[1]["path_truncated"]),
        (too_long, &Value::Bool(true))
    );

    let run = opensnoop(&[], &args, &dir.0);
    let rows: Vec<&str> = run.stdout.lines().filter(|l| l.contains(&fits)).collect();
    assert_eq!(rows.len(), 2, "{}", run.stdout);
    assert!(rows[0].ends_with(&format!(" {fits}")), "{}", rows[0]);
    assert!(rows[1].ends_with(&format!(" {fits}...")), "{}", rows[1]);
}

/// A file name with a raw 0xff byte and one with the text `\xff` differ in
/// JSON: the first is {"bytes": base64 of the raw path}, the second a string.
#[test]
fn non_utf8_file_name_is_exact_in_json() {
    use base64::Engine as _;
    let Some(_root) = root("non_utf8_file_name_is_exact_in_json") else {
        return;
    };
    let m = marker("bytes");
    let dir = TempDir::new(&m);
    let mut raw = dir.0.as_os_str().as_bytes().to_vec();
    raw.extend_from_slice(b"/a\xffb");
    let raw = PathBuf::from(OsStr::from_bytes(&raw));
    let text = dir.0.join("a\\xffb");
    std::fs::write(&raw, b"x").unwrap();
    std::fs::write(&text, b"x").unwrap();
    let args = [OsStr::new("open"), raw.as_os_str(), text.as_os_str()];
    let ev = opensnoop(&["-j"], &args, &dir.0).events();
    let b64 = base64::engine::general_purpose::STANDARD;
    let mine: Vec<&Value> = ev
        .iter()
        .filter(|e| e["path"] == text.to_str().unwrap() || e["path"]["bytes"].is_string())
        .collect();
    assert_eq!(mine.len(), 2, "{ev:?}");
    let bytes = mine[0]["path"]["bytes"].as_str().unwrap();
    assert_eq!(b64.decode(bytes).unwrap(), raw.as_os_str().as_bytes());
    assert_eq!(mine[0]["path"].as_object().unwrap().len(), 1);
    assert_eq!(mine[1]["path"], text.to_str().unwrap());
    // The table shows both escaped: \xff for the byte, \\xff for the text.
    let run = opensnoop(&[], &args, &dir.0);
    let d = dir.0.display();
    assert!(run
        .stdout
        .lines()
        .any(|l| l.ends_with(&format!(" {d}/a\\xffb"))));
    assert!(run
        .stdout
        .lines()
        .any(|l| l.ends_with(&format!(" {d}/a\\\\xffb"))));
}

/// What the kernel cannot read is reported as such (fault bits
/// OPENSNOOP_S_FNAME_FAULT, OPENSNOOP_S_HOW_FAULT): `open((char *)1)` has an
/// unreadable path, `openat2(path, how = (void *)1)` unreadable flags and
/// mode (null in JSON, `?` with -e).
#[test]
fn unreadable_path_and_open_how_are_reported() {
    let Some(_root) = root("unreadable_path_and_open_how_are_reported") else {
        return;
    };
    let m = marker("badptr");
    let dir = TempDir::new(&m);
    let bin = crate::util::compile_helper("bad_pointers", &dir.0);
    let path = dir.0.join("never-opened");
    let cmd = [bin.as_os_str(), OsStr::new("open"), path.as_os_str()];
    let run = run_cmd(&["-j", "-e"], &cmd, &dir.0);
    assert!(
        run.stderr.contains("openat2 ret=-1 errno=14"),
        "{}",
        run.stderr
    );
    let ev = run.events();
    let bad = ev
        .iter()
        .filter(|e| e["path_unreadable"] == true)
        .collect::<Vec<_>>();
    assert_eq!(bad.len(), 1, "{}", run.stdout);
    assert_eq!(
        (&bad[0]["syscall"], &bad[0]["err"], &bad[0]["path"]),
        (&"open".into(), &14.into(), &"".into())
    );
    let how = with_path(&ev, &path);
    assert_eq!(how.len(), 1, "{}", run.stdout);
    assert_eq!(
        (&how[0]["syscall"], &how[0]["how_unreadable"]),
        (&"openat2".into(), &true.into())
    );
    assert_eq!(
        (&how[0]["flags"], &how[0]["mode"]),
        (&Value::Null, &Value::Null)
    );
    // Every other open knows its flags.
    assert!(ev
        .iter()
        .all(|e| e == how[0] || (e["how_unreadable"] == false && e["flags"].is_u64())));
    let run = run_cmd(&["-e"], &cmd, &dir.0);
    assert!(
        run.stdout
            .lines()
            .any(|l| l.ends_with(" 14 00000000 n/a  [unreadable]")),
        "{}",
        run.stdout
    );
    let p = path.to_str().unwrap();
    assert!(
        run.stdout
            .lines()
            .any(|l| l.ends_with(&format!(" 14 ?        ?    {p}"))),
        "{}",
        run.stdout
    );
}
