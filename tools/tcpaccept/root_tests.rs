//! Root tests for tcpaccept: a server with a known PID (tools/tcpconnect/
//! connpeer.c `server`, comm "cp_server", accept() and accept4() in turn)
//! accepts K loopback connections from a client the test runs (`dial`,
//! comm "cp_dialer"), traced by the real tool system-wide. The oracle is
//! what the server itself got from getpeername()/getsockname() for each
//! accepted socket. Rows of other processes are ignored by PID.
//! Ports 26200-26299.

use std::io::{BufRead, BufReader, Read};
use std::process::{ChildStdout, Command, Stdio};
use std::time::Duration;

use nix::sys::signal::Signal;
use serde_json::Value;

use crate::util::{
    compile_helper, json_events, json_lines, json_summary, root_or_skip, ChildGuard, ToolRun,
};

fn peer() -> String {
    static BIN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    BIN.get_or_init(|| {
        let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        compile_helper("connpeer", &dir).display().to_string()
    })
    .clone()
}

/// A listening server (ready), its PID and its stdout.
struct Server {
    kid: ChildGuard,
    out: BufReader<ChildStdout>,
    pid: u64,
}

fn server(fam: &str, port: u16, k: usize) -> Server {
    let mut kid = ChildGuard::spawn(
        Command::new(peer())
            .args(["server", fam, &port.to_string(), &k.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped()),
    );
    let mut out = BufReader::new(kid.0.stdout.take().expect("stdout"));
    let mut line = String::new();
    out.read_line(&mut line).expect("server ready");
    let pid = line
        .trim()
        .strip_prefix("ready ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("server: {line:?}"));
    Server { kid, out, pid }
}

impl Server {
    /// Waits for its exit; the "RADDR RPORT LADDR LPORT" of each accept.
    fn finish(mut self) -> Vec<String> {
        let st = self.kid.wait_timeout(Duration::from_secs(60));
        assert!(st.success(), "server: {st}");
        let mut s = String::new();
        let _ = self.out.read_to_string(&mut s);
        let mut v: Vec<String> = s
            .lines()
            .map(|l| l.strip_prefix("peer ").unwrap_or(l).to_string())
            .collect();
        v.sort();
        v
    }
}

/// Runs the client: K connects; returns its PID.
fn dial(fam: &str, port: u16, k: usize) -> u64 {
    let mut kid = ChildGuard::spawn(
        Command::new(peer())
            .args(["dial", fam, &port.to_string(), &k.to_string()])
            .stdin(Stdio::null()),
    );
    let pid = u64::from(kid.pid());
    let st = kid.wait_timeout(Duration::from_secs(60));
    assert!(st.success(), "dial: {st}");
    pid
}

fn tracer(args: &[&str]) -> ToolRun {
    let args: Vec<&str> = ["-v"].iter().chain(args).copied().collect();
    let mut t = ToolRun::start("tcpaccept", &args, Stdio::null());
    t.wait_ready(Duration::from_secs(30));
    t
}

fn stop(mut t: ToolRun) -> Vec<Value> {
    t.signal(Signal::SIGINT);
    let f = t.wait(Duration::from_secs(30));
    assert_eq!(f.code(), 0, "stderr: {}", f.stderr);
    json_lines(&f.stdout)
}

fn of_pid(all: &[Value], pid: u64) -> Vec<Value> {
    json_events(all)
        .into_iter()
        .filter(|e| e["pid"] == pid)
        .cloned()
        .collect()
}

/// "RADDR RPORT LADDR LPORT" of a row, as the server prints them.
fn ends(e: &Value) -> String {
    let s = |k: &str| e[k].as_str().map_or_else(|| e[k].to_string(), String::from);
    format!(
        "{} {} {} {}",
        s("raddr"),
        s("rport"),
        s("laddr"),
        s("lport")
    )
}

fn exact_rows(fam: &str, port: u16) {
    let Some(_root) = root_or_skip("exact_rows") else {
        return;
    };
    const K: usize = 5;
    let srv = server(fam, port, K);
    let t = tracer(&["-j"]);
    let cli = dial(fam, port, K);
    let (srv_pid, want) = (srv.pid, srv.finish());
    let all = stop(t);
    assert_eq!(want.len(), K);
    let rows = of_pid(&all, srv_pid);
    assert_eq!(rows.len(), K, "{all:?}");
    let family = if fam == "4" { "ipv4" } else { "ipv6" };
    for e in &rows {
        assert_eq!(
            (&e["comm"], &e["tid"]),
            (&"cp_server".into(), &srv_pid.into()),
            "{e}"
        );
        assert_eq!(
            (&e["family"], &e["uid"]),
            (&family.into(), &0.into()),
            "{e}"
        );
        assert!(e["fd"].as_u64().is_some_and(|fd| fd > 2), "{e}");
    }
    let mut got: Vec<String> = rows.iter().map(ends).collect();
    got.sort();
    assert_eq!(got, want, "rows vs the server's getpeername/getsockname");
    // The connecting side never shows (it accepted nothing).
    assert!(of_pid(&all, cli).is_empty(), "{all:?}");
    assert_eq!(json_summary(&all)["lost"], 0);
}

#[test]
fn ipv4_rows_name_the_accepting_pid_and_exact_ends() {
    exact_rows("4", 26201);
}

#[test]
fn ipv6_rows_name_the_accepting_pid_and_exact_ends() {
    exact_rows("6", 26202);
}

/// -P keeps only the listed local ports, -4 / -6 one family, -p one
/// server's accepts.
#[test]
fn port_family_and_pid_filters() {
    let Some(_root) = root_or_skip("port_family_and_pid_filters") else {
        return;
    };
    let servers = [("4", 26211), ("4", 26212), ("6", 26213)];
    let cases: [(&[&str], &[u16]); 4] = [
        (&["-P", "26211,26213"], &[26211, 26213]),
        (&["-P", "26211-26213", "-4"], &[26211, 26212]),
        (&["-P", "26211-26213", "-6"], &[26213]),
        (&["-p", "PID2"], &[26212]),
    ];
    for (flags, want) in cases {
        let srvs: Vec<Server> = servers.iter().map(|&(f, p)| server(f, p, 2)).collect();
        let pid2 = srvs[1].pid.to_string();
        let mut args: Vec<&str> = vec!["-j"];
        args.extend(
            flags
                .iter()
                .map(|&f| if f == "PID2" { pid2.as_str() } else { f }),
        );
        let t = tracer(&args);
        for &(f, p) in &servers {
            dial(f, p, 2);
        }
        let pids: Vec<u64> = srvs.iter().map(|s| s.pid).collect();
        for s in srvs {
            assert_eq!(s.finish().len(), 2);
        }
        let all = stop(t);
        for (pid, &(_, port)) in pids.iter().zip(&servers) {
            let rows = of_pid(&all, *pid);
            let n = if want.contains(&port) { 2 } else { 0 };
            assert_eq!(rows.len(), n, "{flags:?} port {port}: {all:?}");
            assert!(rows.iter().all(|e| e["lport"] == port), "{all:?}");
        }
    }
}

/// The table, with -T and -t: the header, and each row's cells at the
/// server's PID and ends.
#[test]
fn table_columns_with_time_flags() {
    let Some(_root) = root_or_skip("table_columns_with_time_flags") else {
        return;
    };
    for flags in [&[][..], &["-T"], &["-t"], &["-T", "-t"]] {
        let srv = server("4", 26221, 2);
        let mut t = tracer(flags);
        dial("4", 26221, 2);
        let (pid, want) = (srv.pid.to_string(), srv.finish());
        t.signal(Signal::SIGINT);
        let f = t.wait(Duration::from_secs(30));
        assert_eq!(f.code(), 0, "{}", f.stderr);
        let lines: Vec<Vec<&str>> = f
            .stdout
            .lines()
            .map(|l| l.split_whitespace().collect())
            .collect();
        let mut head = vec!["PID", "COMM", "IP", "RADDR", "RPORT", "LADDR", "LPORT"];
        let lead = flags.len();
        if flags.contains(&"-t") {
            head.insert(0, "TIME(s)");
        }
        if flags.contains(&"-T") {
            head.insert(0, "TIME");
        }
        assert_eq!(lines[0], head, "{flags:?}");
        let mut got: Vec<String> = lines[1..]
            .iter()
            .filter(|l| l.get(lead) == Some(&pid.as_str()))
            .map(|l| {
                assert_eq!(l.len(), head.len(), "{l:?}");
                assert_eq!((l[lead + 1], l[lead + 2]), ("cp_server", "4"));
                l[lead + 3..].join(" ")
            })
            .collect();
        got.sort();
        assert_eq!(got, want, "{flags:?}: {}", f.stdout);
    }
}

/// `| head -1` (a closed pipe) and SIGTERM both end the tool with exit 0.
#[test]
fn closed_pipe_and_sigterm_exit_zero() {
    let Some(_root) = root_or_skip("closed_pipe_and_sigterm_exit_zero") else {
        return;
    };
    let script = format!(
        "{} -P 26231 | head -1 >/dev/null; echo \"rc=${{PIPESTATUS[0]}}\"",
        crate::util::tool("tcpaccept").display()
    );
    let mut sh = ChildGuard::spawn(
        Command::new("bash")
            .args(["-c", &script])
            .stdout(Stdio::piped()),
    );
    std::thread::sleep(Duration::from_millis(1500));
    let srv = server("4", 26231, 3);
    dial("4", 26231, 3);
    srv.finish();
    let st = sh.wait_timeout(Duration::from_secs(20));
    let mut out = String::new();
    let _ = sh.0.stdout.take().expect("stdout").read_to_string(&mut out);
    assert!(st.success() && out.trim() == "rc=0", "{out}");
    let mut t = tracer(&["-j"]);
    t.signal(Signal::SIGTERM);
    let f = t.wait(Duration::from_secs(20));
    assert_eq!(f.code(), 0, "{}", f.stderr);
    assert!(json_lines(&f.stdout).iter().any(|v| v["type"] == "summary"));
}
