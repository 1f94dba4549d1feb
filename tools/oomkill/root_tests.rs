//! Root tests for oomkill: a process the test starts in a memory cgroup
//! (v1, /sys/fs/cgroup/memory) limited to 8 MiB touches memory until the
//! OOM killer ends it (tools/oomkill/oom_hog.c). Oracles: the test's own
//! waitpid() (SIGKILL), the cgroup's own oom_kill counter, the PID the hog
//! wrote and the name it gave itself. The cgroup is removed after, even on
//! failure. As root they run; without root they skip and say why, except
//! with CI=true, where they fail.

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::util::{
    compile_helper, json_events, json_lines, json_summary, marker, root_or_skip, tool, ChildGuard,
    TempDir, ToolRun,
};

const MEMCG: &str = "/sys/fs/cgroup/memory";
/// A hostile name: a quote (ends BCC's `("%s")`), an escape sequence.
const NAME: &str = "oom\"hog\x1b[2J";

pub(crate) fn hog() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("oomkill-helper");
        std::fs::create_dir_all(&dir).expect("helper dir");
        compile_helper("oom_hog", &dir)
    })
    .clone()
}

/// A child memory cgroup limited to 8 MiB; on drop, whatever is left in it
/// is killed (it is ours: the cgroup is new) and it is removed. (Also
/// tests/root_json.rs's OOM kill.)
pub(crate) struct MemCg(pub(crate) PathBuf);

impl MemCg {
    pub(crate) fn new() -> Option<Self> {
        if !Path::new(MEMCG).join("memory.limit_in_bytes").is_file() {
            return None;
        }
        let p = Path::new(MEMCG).join(marker("oomkill"));
        std::fs::create_dir(&p).expect("creating the memory cgroup");
        let cg = Self(p);
        cg.write("memory.limit_in_bytes", "8M");
        // No swap here, but if there were: the hog must not escape into it.
        let _ = std::fs::write(cg.0.join("memory.swappiness"), "0");
        let _ = std::fs::write(cg.0.join("memory.memsw.limit_in_bytes"), "8M");
        Some(cg)
    }
    fn write(&self, file: &str, v: &str) {
        std::fs::write(self.0.join(file), v).unwrap_or_else(|e| panic!("{file}: {e}"));
    }
    /// The cgroup's own count of OOM kills (memory.oom_control).
    fn oom_kills(&self) -> u64 {
        let s = std::fs::read_to_string(self.0.join("memory.oom_control")).expect("oom_control");
        s.lines()
            .find_map(|l| l.strip_prefix("oom_kill "))
            .and_then(|n| n.trim().parse().ok())
            .expect("oom_kill in memory.oom_control")
    }
}

impl Drop for MemCg {
    fn drop(&mut self) {
        let end = Instant::now() + Duration::from_secs(10);
        loop {
            let procs = std::fs::read_to_string(self.0.join("cgroup.procs")).unwrap_or_default();
            for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
            if std::fs::remove_dir(&self.0).is_ok() || Instant::now() > end {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn read_pid(f: &Path) -> u32 {
    std::fs::read_to_string(f)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| panic!("no PID in {}", f.display()))
}

#[test]
fn sees_a_memory_cgroup_oom_kill() {
    let Some(_root) = root_or_skip("sees_a_memory_cgroup_oom_kill") else {
        return;
    };
    let Some(cg) = MemCg::new() else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "no memory cgroup v1 at {MEMCG}"
        );
        use std::io::Write as _;
        let _ = writeln!(
            std::io::stderr(),
            "oomkill: skipped: no memory cgroup v1 at {MEMCG}"
        );
        return;
    };
    let dir = TempDir::new(0o700);
    let pidfile = dir.path().join("pid");
    let mut t = ToolRun::start("oomkill", &["-v", "-j"], Stdio::null());
    t.wait_ready(Duration::from_secs(30));
    let mut g = ChildGuard::spawn(
        Command::new(hog())
            .arg(&cg.0)
            .arg(NAME)
            .arg(&pidfile)
            .stdin(Stdio::null()),
    );
    let st = g.wait_timeout(Duration::from_secs(60));
    let pid = read_pid(&pidfile);
    assert_eq!(pid, g.pid());
    assert_eq!(
        st.signal(),
        Some(libc::SIGKILL),
        "the hog was not OOM-killed: {st:?}"
    );
    assert_eq!(cg.oom_kills(), 1, "the cgroup counted no OOM kill");
    std::thread::sleep(Duration::from_millis(200));
    t.signal(Signal::SIGINT);
    let f = t.wait(Duration::from_secs(30));
    assert_eq!(f.code(), 0, "{}", f.stderr);
    let v = json_lines(&f.stdout);
    json_summary(&v);
    let ev: Vec<_> = json_events(&v)
        .into_iter()
        .filter(|e| e["pid"] == pid)
        .collect();
    assert_eq!(ev.len(), 1, "{}", f.stdout);
    let e = ev[0];
    assert_eq!(
        (e["comm"].as_str(), e["comm_from"].as_str()),
        (Some(NAME), Some("tracepoint"))
    );
    // A memory cgroup's OOM runs in the task that allocates: the hog.
    assert_eq!(
        (e["trigger_pid"].as_u64(), e["trigger_comm"].as_str()),
        (Some(u64::from(pid)), Some(NAME))
    );
    assert_eq!(e["uid"], 0);
    let anon = e["anon_rss_kb"].as_u64().expect("anon_rss_kb");
    // Most of the 8 MiB limit is the hog's anonymous memory.
    assert!((4096..=8192).contains(&anon), "{e}");
    assert!(e["total_vm_kb"].as_u64() >= Some(anon), "{e}");
    let la = std::fs::read_to_string("/proc/loadavg").expect("loadavg");
    let la_now: Vec<&str> = la.split_whitespace().collect();
    let la_ev: Vec<&str> = e["loadavg"]
        .as_str()
        .expect("loadavg")
        .split_whitespace()
        .collect();
    assert_eq!((la_ev.len(), la_now.len()), (5, 5), "{e}");
}

/// The table line (BCC's, escaped) and `-- CMD` (the filter on the
/// triggering task; oomkill exits with CMD's status: 128 + SIGKILL).
#[test]
fn table_line_and_cmd() {
    let Some(_root) = root_or_skip("table_line_and_cmd") else {
        return;
    };
    let Some(cg) = MemCg::new() else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "no memory cgroup v1 at {MEMCG}"
        );
        return;
    };
    let dir = TempDir::new(0o700);
    let pidfile = dir.path().join("pid");
    let out = Command::new(tool("oomkill"))
        .arg("--")
        .arg(hog())
        .arg(&cg.0)
        .arg(NAME)
        .arg(&pidfile)
        .stdin(Stdio::null())
        .output()
        .expect("oomkill");
    let (so, se) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(137), "{se}");
    assert_eq!(cg.oom_kills(), 1);
    let pid = read_pid(&pidfile);
    let mut lines = so.lines();
    assert_eq!(lines.next(), Some("Tracing OOM kills... Ctrl-C to stop."));
    let line = lines
        .next()
        .unwrap_or_else(|| panic!("no kill line:\n{so}\n{se}"));
    let q = "(\"oom\\\"hog\\e[2J\")";
    let want = format!(" Triggered by PID {pid} {q}, OOM kill of PID {pid} {q}, total-vm ");
    assert_eq!(line.get(8..8 + want.len()), Some(want.as_str()), "{line}");
    assert!(
        line.contains(", UID 0, pgtables ") && line.contains(", loadavg: "),
        "{line}"
    );
    assert!(!line.contains('\x1b'));
    assert_eq!(lines.next(), None, "one line per kill:\n{so}");
}
