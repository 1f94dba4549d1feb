//! Root tests for mountsnoop: tools/mountsnoop/mount_helper.c, in a private
//! mount namespace it creates (unshare -m, "/" made private: nothing
//! reaches the host, and its mounts end with it), mounts a tmpfs with known
//! source, flags and data, fails a mount (ENOENT), unmounts (MNT_DETACH),
//! fails an umount (EINVAL), and (with "new") runs fsopen, fsconfig,
//! fsmount, move_mount, open_tree and umount. It records each call's own
//! result and its namespace id (readlink /proc/self/ns/mnt): each row is
//! checked against that record and the arguments the helper passes; and
//! libbpf-tools' mountsnoop (syscall tracepoints too) is run beside it as
//! an oracle. As root they run; without root they skip and say why, except
//! with CI=true, where they fail.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::Value;

use crate::util::{
    compile_helper, json_events, json_lines, json_summary, root_or_skip, ChildGuard, TempDir,
    ToolRun,
};

fn helper() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("mountsnoop-helper");
        std::fs::create_dir_all(&dir).expect("helper dir");
        compile_helper("mount_helper", &dir)
    })
    .clone()
}

/// What one helper run recorded.
struct Record {
    pid: u64,
    ns: u64,
    calls: Vec<(String, i64)>,
    dir: String,
}

/// Runs `mountsnoop ARGS -- helper REC DIR [new]`: the helper's record and
/// the tool's stdout. No mount is left: they were all in the helper's own
/// namespace, gone with it (checked).
fn run(args: &[&str], new: bool) -> (Record, String) {
    run_mode(args, if new { "new" } else { "" })
}

/// [`run`] with the helper's mode: "", "new" or "plain".
fn run_mode(args: &[&str], mode: &str) -> (Record, String) {
    let tmp = TempDir::new(0o755);
    let rec = tmp.path().join("record");
    let dir = tmp.path().join("mnt");
    std::fs::create_dir(&dir).expect("mount point");
    let (h, r, d) = (helper(), rec.clone(), dir.clone());
    let s = |p: &PathBuf| p.to_str().expect("utf-8 path").to_string();
    let (h, r, d) = (s(&h), s(&r), s(&d));
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--", &h, &r, &d]);
    if !mode.is_empty() {
        all.push(mode);
    }
    let mut t = ToolRun::start("mountsnoop", &all, Stdio::null());
    let f = t.wait(Duration::from_secs(60));
    assert_eq!(f.code(), 0, "mountsnoop {args:?}: {}", f.stderr);
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    assert!(!mounts.contains(&d), "a mount was left on {d}");
    (
        parse(&std::fs::read_to_string(&rec).expect("record"), d),
        f.stdout,
    )
}

fn parse(text: &str, dir: String) -> Record {
    let mut lines = text.lines();
    let mut field = |key: &str| -> String {
        let l = lines.next().unwrap_or_default();
        l.strip_prefix(key)
            .unwrap_or_else(|| panic!("{key} in {text:?}"))
            .to_string()
    };
    let pid = field("pid ").parse().expect("pid");
    let ns = field("ns mnt:[")
        .trim_end_matches(']')
        .parse()
        .expect("ns inum");
    let calls = lines
        .map(|l| {
            let (c, r) = l.split_once(' ').expect("CALL RET");
            (c.to_string(), r.parse().expect("ret"))
        })
        .collect();
    Record {
        pid,
        ns,
        calls,
        dir,
    }
}

fn my_ns() -> u64 {
    let l = std::fs::read_link("/proc/self/ns/mnt").expect("ns link");
    let l = l.to_string_lossy();
    l.trim_start_matches("mnt:[")
        .trim_end_matches(']')
        .parse()
        .expect("inum")
}

/// The helper's calls, in order, as mountsnoop's JSON must show them:
/// (call, the arguments, as JSON fields).
fn expected(r: &Record, new: bool) -> Vec<(&'static str, Value)> {
    use serde_json::json;
    let d = r.dir.as_str();
    let missing = format!("{d}/missing");
    let mut v = vec![
        (
            "mount",
            json!({"source": null, "target": "/", "fstype": null, "data": null,
                   "flags": 0x4_4000u64, "flags_names": "MS_REC | MS_PRIVATE"}),
        ),
        (
            "mount",
            json!({"source": "cs\"src\n\x1b", "target": d, "fstype": "tmpfs",
                   "data": "size=1m,mode=700", "flags": 6, "flags_names": "MS_NOSUID | MS_NODEV"}),
        ),
        (
            "mount",
            json!({"source": "cs-src", "target": missing, "fstype": "tmpfs", "data": null,
                   "flags": 0, "flags_names": "0x0"}),
        ),
        (
            "umount",
            json!({"target": d, "flags": 2, "flags_names": "MNT_DETACH"}),
        ),
        (
            "umount",
            json!({"target": d, "flags": 0, "flags_names": "0x0"}),
        ),
    ];
    if new {
        v.extend([
            (
                "fsopen",
                json!({"fs": "tmpfs", "flags": 1, "flags_names": "FSOPEN_CLOEXEC"}),
            ),
            (
                "fsconfig",
                json!({"fd": r.calls[5].1, "cmd": "FSCONFIG_SET_STRING",
                                 "key": "size", "value": "2m", "aux": 0}),
            ),
            (
                "fsconfig",
                json!({"fd": r.calls[5].1, "cmd": "FSCONFIG_CMD_CREATE",
                                 "key": null, "value": null, "aux": 0}),
            ),
            (
                "fsmount",
                json!({"fs_fd": r.calls[5].1, "flags": 1, "flags_names": "FSMOUNT_CLOEXEC",
                                "attr_flags": 4, "attr_flags_names": "MOUNT_ATTR_NODEV"}),
            ),
            (
                "move_mount",
                json!({"from_dfd": r.calls[8].1, "from_path": "", "to_dfd": -100,
                                   "to_path": d, "flags": 4,
                                   "flags_names": "MOVE_MOUNT_F_EMPTY_PATH"}),
            ),
            (
                "open_tree",
                json!({"dfd": -100, "path": d, "flags": 0x8_0001,
                                  "flags_names": "OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC"}),
            ),
            (
                "umount",
                json!({"target": d, "flags": 0, "flags_names": "0x0"}),
            ),
        ]);
    }
    v
}

fn check(r: &Record, new: bool, events: &[&Value]) {
    let want = expected(r, new);
    assert_eq!(r.calls.len(), want.len(), "{:?}", r.calls);
    assert_eq!(events.len(), want.len(), "{events:#?}");
    for (((call, args), (rcall, ret)), e) in want.iter().zip(&r.calls).zip(events) {
        let ctx = format!("{call} {args}\n{e}");
        assert_eq!(call, rcall, "{ctx}");
        assert_eq!(e["call"], *call, "{ctx}");
        assert_eq!(
            (e["pid"].as_u64(), e["tid"].as_u64()),
            (Some(r.pid), Some(r.pid)),
            "{ctx}"
        );
        assert_eq!(e["comm"], "mount_helper", "{ctx}");
        assert_eq!(e["mnt_ns"], r.ns, "{ctx}");
        assert_eq!(e["ret"], *ret, "{ctx}");
        let err = match ret {
            -2 => Some("ENOENT"),
            -22 => Some("EINVAL"),
            _ => None,
        };
        assert_eq!(e["error"].as_str(), err, "{ctx}");
        for (k, v) in args.as_object().expect("args") {
            assert_eq!(&e[k], v, "{k}: {ctx}");
        }
    }
}

/// JSON: every call, its arguments, result and the helper's namespace.
#[test]
fn mounts_in_a_private_namespace_match_the_record() {
    let Some(_root) = root_or_skip("mounts_in_a_private_namespace_match_the_record") else {
        return;
    };
    let (r, out) = run(&["-j"], true);
    assert_ne!(r.ns, my_ns(), "the helper has a namespace of its own");
    let v = json_lines(&out);
    let s = json_summary(&v);
    assert_eq!(s["lost"], 0, "{s}");
    check(&r, true, &json_events(&v));
    // The calls the helper is meant to make, with the results it needs.
    let rets: Vec<i64> = r.calls.iter().map(|c| c.1).collect();
    assert_eq!(&rets[..5], [0, 0, -2, 0, -22]);
}

/// The table: libbpf-tools' columns, CALL in full (the hostile source
/// escaped), and -d's blocks.
#[test]
fn table_and_detailed_rows() {
    let Some(_root) = root_or_skip("table_and_detailed_rows") else {
        return;
    };
    let (r, out) = run(&[], false);
    let mut lines = out.lines();
    assert_eq!(
        lines.next(),
        Some("COMM             PID     TID     MNT_NS      CALL")
    );
    let d = &r.dir;
    let head = format!("mount_helper     {:<7} {:<7} {:<11} ", r.pid, r.pid, r.ns);
    let want = [
        "mount(NULL, \"/\", NULL, MS_REC | MS_PRIVATE, NULL) = 0".to_string(),
        format!("mount(\"cs\\\"src\\n\\e\", \"{d}\", \"tmpfs\", MS_NOSUID | MS_NODEV, \"size=1m,mode=700\") = 0"),
        format!("mount(\"cs-src\", \"{d}/missing\", \"tmpfs\", 0x0, NULL) = -ENOENT"),
        format!("umount(\"{d}\", MNT_DETACH) = 0"),
        format!("umount(\"{d}\", 0x0) = -EINVAL"),
    ];
    let rows: Vec<&str> = lines.collect();
    let want: Vec<String> = want.iter().map(|w| format!("{head}{w}")).collect();
    assert_eq!(rows, want, "{out}");

    let (r, out) = run(&["-d"], false);
    let blocks: Vec<&str> = out.split("\n\n").filter(|b| !b.trim().is_empty()).collect();
    assert_eq!(blocks.len(), 5, "{out}");
    let b = blocks[2];
    for l in [
        format!("PID:    {}", r.pid),
        "OP:     MOUNT".into(),
        "RET:    -ENOENT".into(),
        format!("MNT_NS: {}", r.ns),
        format!("TARGET: \"{}/missing\"", r.dir),
        "DATA:   NULL".into(),
        "FLAGS:  0x0".into(),
    ] {
        assert!(b.lines().any(|x| x == l), "{l:?} in\n{b}");
    }
}

/// libbpf-tools' mountsnoop (Debian's: mount and umount) beside it: the
/// same rows for the helper's calls (PID, TID, MNT_NS, the call's strings
/// and result). It needs tracefs: mounted in its own private mount
/// namespace (unshare -m), so nothing is left mounted.
#[test]
fn agrees_with_libbpf_tools_mountsnoop() {
    let Some(_root) = root_or_skip("agrees_with_libbpf_tools_mountsnoop") else {
        return;
    };
    let lbt = "/usr/sbin/mountsnoop";
    if !std::path::Path::new(lbt).exists() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{lbt} missing (apt-get install libbpf-tools)"
        );
        eprintln!("agrees_with_libbpf_tools_mountsnoop: skipped: {lbt} not installed");
        return;
    }
    let script = format!(
        "mountpoint -q /sys/kernel/tracing || mount -t tracefs nodev /sys/kernel/tracing; exec stdbuf -oL {lbt}"
    );
    let mut c = Command::new("unshare");
    c.args(["-m", "--propagation", "private", "sh", "-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut g = ChildGuard::spawn(&mut c);
    let stdout = g.0.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead as _;
        for l in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    let header = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("libbpf-tools' header");
    assert!(header.starts_with("COMM "), "{header:?}");
    let (r, out) = run_mode(&["-j"], "plain");
    std::thread::sleep(Duration::from_millis(300));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(g.pid() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .expect("SIGINT");
    g.wait_timeout(Duration::from_secs(10));
    let theirs: Vec<String> = rx
        .try_iter()
        .filter(|l| l.starts_with("mount_helper "))
        .collect();
    let ours = json_lines(&out);
    let ours = json_events(&ours);
    assert_eq!(theirs.len(), ours.len(), "{theirs:#?}\n{ours:#?}");
    for (l, e) in theirs.iter().zip(ours) {
        // "%-16s %-7d %-7d %-11u %s"
        let rest = l[16..].split_whitespace().collect::<Vec<_>>();
        let ctx = format!("{l}\n{e}");
        assert_eq!(rest[0].parse::<u64>().ok(), e["pid"].as_u64(), "{ctx}");
        assert_eq!(rest[1].parse::<u64>().ok(), e["tid"].as_u64(), "{ctx}");
        assert_eq!(rest[2].parse::<u64>().ok(), e["mnt_ns"].as_u64(), "{ctx}");
        assert_eq!(rest[2].parse::<u64>().ok(), Some(r.ns), "{ctx}");
        let lcall = l
            .split_once(&format!("{} ", r.ns))
            .map(|x| x.1.trim_start())
            .unwrap_or("");
        // libbpf-tools: `= 0` or `= -ENOENT`; its strings raw, "" for NULL.
        let ret = match e["error"].as_str() {
            Some(n) => format!("= -{n}"),
            None => format!("= {}", e["ret"]),
        };
        assert!(lcall.ends_with(&ret), "{ctx}");
        let s = |k: &str| e[k].as_str().unwrap_or("").to_string();
        if e["call"] == "mount" {
            let head = format!(
                "mount(\"{}\", \"{}\", \"{}\", ",
                s("source"),
                s("target"),
                s("fstype")
            );
            let tail = format!(", \"{}\") {ret}", s("data"));
            let flags = lcall
                .strip_prefix(&head)
                .and_then(|x| x.strip_suffix(&tail))
                .unwrap_or_else(|| panic!("{head:?} ... {tail:?}\n{ctx}"));
            assert_eq!(Some(lbt_ms_bits(flags)), e["flags"].as_u64(), "{ctx}");
        } else {
            // Its umount flags are decoded with MS_* names: compared as
            // far as the target.
            let want = format!("umount(\"{}\", ", s("target"));
            assert!(lcall.starts_with(&want), "{want:?}\n{ctx}");
        }
    }
}

/// The bits libbpf-tools' mountsnoop names in a flags string: its table
/// names bit i by its entry i (from bit 9 on, one bit below the kernel's:
/// it prints MS_REC as MS_VERBOSE, MS_BIND as MS_MOVE), so the names are
/// mapped back through its own table, not the kernel's.
fn lbt_ms_bits(s: &str) -> u64 {
    const LBT: [&str; 32] = [
        "MS_RDONLY",
        "MS_NOSUID",
        "MS_NODEV",
        "MS_NOEXEC",
        "MS_SYNCHRONOUS",
        "MS_REMOUNT",
        "MS_MANDLOCK",
        "MS_DIRSYNC",
        "MS_NOSYMFOLLOW",
        "MS_NOATIME",
        "MS_NODIRATIME",
        "MS_BIND",
        "MS_MOVE",
        "MS_REC",
        "MS_VERBOSE",
        "MS_SILENT",
        "MS_POSIXACL",
        "MS_UNBINDABLE",
        "MS_PRIVATE",
        "MS_SLAVE",
        "MS_SHARED",
        "MS_RELATIME",
        "MS_KERNMOUNT",
        "MS_I_VERSION",
        "MS_STRICTATIME",
        "MS_LAZYTIME",
        "MS_SUBMOUNT",
        "MS_NOREMOTELOCK",
        "MS_NOSEC",
        "MS_BORN",
        "MS_ACTIVE",
        "MS_NOUSER",
    ];
    if s == "0x0" {
        return 0;
    }
    s.split(" | ")
        .map(|n| {
            let i = LBT
                .iter()
                .position(|&x| x == n)
                .unwrap_or_else(|| panic!("{n:?}"));
            1u64 << i
        })
        .sum()
}

/// `mountsnoop | head -1` ends with exit 0 once the reader is gone; SIGTERM
/// ends a run with exit 0 and its summary.
#[test]
fn closed_pipe_and_sigterm_end_cleanly() {
    let Some(_root) = root_or_skip("closed_pipe_and_sigterm_end_cleanly") else {
        return;
    };
    crate::util::closed_pipe_and_sigterm_end_cleanly("mountsnoop", || {
        run(&["-j"], false);
    });
}
