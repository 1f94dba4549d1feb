//! Root tests for tcpconnect: loopback connects made by tools/tcpconnect/
//! connpeer.c (a known PID, comm "cp_client"), traced by the real tool
//! system-wide; the oracle is what the helper itself got from the kernel
//! (its PID, getsockname's source port, ECONNREFUSED, its own connect
//! count). Rows of other processes on the machine are ignored by PID.
//! Ports 26100-26199.

use std::process::{Command, Stdio};
use std::time::Duration;

use nix::sys::signal::Signal;
use serde_json::Value;

use crate::util::{
    compile_helper, json_events, json_lines, json_summary, root_or_skip, ChildGuard, TempDir,
    ToolRun,
};

/// The helper, compiled once into a directory kept for the test run.
fn peer() -> String {
    static BIN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    BIN.get_or_init(|| {
        let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        compile_helper("connpeer", &dir).display().to_string()
    })
    .clone()
}

/// What one helper run printed: its PID and the source port of each connect.
struct Peer {
    pid: u64,
    sports: Vec<u64>,
    refused: bool,
}

fn run_peer(args: &[&str]) -> Peer {
    let mut kid = ChildGuard::spawn(
        Command::new(peer())
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped()),
    );
    let st = kid.wait_timeout(Duration::from_secs(60));
    assert!(st.success(), "connpeer {args:?}: {st}");
    let mut out = String::new();
    use std::io::Read as _;
    let _ = kid
        .0
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut out);
    let mut p = Peer {
        pid: 0,
        sports: Vec::new(),
        refused: false,
    };
    for l in out.lines() {
        match l.split_once(' ') {
            Some(("pid", v)) => p.pid = v.parse().expect("pid"),
            Some(("conn", v)) => p.sports.push(v.parse().expect("port")),
            _ if l == "refused" => p.refused = true,
            _ => panic!("connpeer: unexpected line {l:?}"),
        }
    }
    assert_ne!(p.pid, 0, "connpeer printed no pid: {out}");
    p
}

/// tcpconnect ARGS running system-wide, attached.
fn tracer(args: &[&str]) -> ToolRun {
    let args: Vec<&str> = ["-v"].iter().chain(args).copied().collect();
    let mut t = ToolRun::start("tcpconnect", &args, Stdio::null());
    t.wait_ready(Duration::from_secs(30));
    t
}

/// Ctrl-C; exit 0; the JSON records.
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

fn exact_rows(fam: &str, port: u16) {
    let Some(_root) = root_or_skip("exact_rows") else {
        return;
    };
    let t = tracer(&["-j"]);
    let port_s = port.to_string();
    let p = run_peer(&["client", fam, &port_s, "3"]);
    let r = run_peer(&["refused", fam, &(port + 1).to_string()]);
    let all = stop(t);
    let (addr, family) = match fam {
        "4" => ("127.0.0.1", "ipv4"),
        _ => ("::1", "ipv6"),
    };
    let rows = of_pid(&all, p.pid);
    assert_eq!(rows.len(), 3, "{all:?}");
    let mut sports: Vec<u64> = Vec::new();
    for e in &rows {
        assert_eq!(e["comm"], "cp_client", "{e}");
        assert_eq!(e["tid"], p.pid, "{e}");
        assert_eq!(
            (&e["family"], &e["saddr"], &e["daddr"]),
            (&family.into(), &addr.into(), &addr.into()),
            "{e}"
        );
        assert_eq!(e["dport"], u64::from(port), "{e}");
        assert_eq!(e["uid"], 0, "{e}");
        assert_eq!(e["result"], "established", "{e}");
        let lat = e["latency_us"].as_f64().unwrap_or(-1.0);
        assert!(lat > 0.0 && lat < 1e6, "latency {e}");
        sports.push(e["lport"].as_u64().unwrap_or(0));
    }
    // The rows are in connect order (one CPU's ring buffer order may
    // differ across CPUs: compare as sets).
    sports.sort();
    let mut want = p.sports.clone();
    want.sort();
    assert_eq!(sports, want, "source ports: rows vs getsockname");
    // The refused connect: one row, result "failed", the same addresses
    // and the port it was refused on; its source port is the one the
    // kernel had chosen (nonzero: the SYN went out).
    assert!(r.refused);
    let rows = of_pid(&all, r.pid);
    assert_eq!(rows.len(), 1, "{all:?}");
    let e = &rows[0];
    assert_eq!(
        (&e["result"], &e["dport"]),
        (&"failed".into(), &(u64::from(port) + 1).into()),
        "{e}"
    );
    assert_eq!(
        (&e["saddr"], &e["daddr"]),
        (&addr.into(), &addr.into()),
        "{e}"
    );
    assert!(e["lport"].as_u64().is_some_and(|p| p > 0), "{e}");
    let s = json_summary(&all);
    assert_eq!(s["lost"], 0, "{s}");
}

#[test]
fn ipv4_rows_have_the_pid_comm_addresses_and_getsockname_port() {
    exact_rows("4", 26101);
}

#[test]
fn ipv6_rows_have_the_pid_comm_addresses_and_getsockname_port() {
    exact_rows("6", 26103);
}

/// -P keeps only the listed destination ports; -4 / -6 one family.
#[test]
fn port_and_family_filters() {
    let Some(_root) = root_or_skip("port_and_family_filters") else {
        return;
    };
    for (flags, want) in [
        (
            vec!["-P", "26111,26113-26114"],
            vec![("4", 26111), ("6", 26113), ("6", 26114)],
        ),
        (
            vec!["-P", "26111-26114", "-4"],
            vec![("4", 26111), ("4", 26112)],
        ),
        (
            vec!["-P", "26111-26114", "-6"],
            vec![("6", 26113), ("6", 26114)],
        ),
    ] {
        let mut args = vec!["-j"];
        args.extend(&flags);
        let t = tracer(&args);
        let peers: Vec<(u64, &str, u16)> = [("4", 26111), ("4", 26112), ("6", 26113), ("6", 26114)]
            .into_iter()
            .map(|(f, port)| {
                (
                    run_peer(&["client", f, &port.to_string(), "2"]).pid,
                    f,
                    port,
                )
            })
            .collect();
        let all = stop(t);
        for (pid, f, port) in peers {
            let n = of_pid(&all, pid).len();
            let expect = if want.contains(&(f, port)) { 2 } else { 0 };
            assert_eq!(n, expect, "{flags:?}: IPv{f} port {port}: {all:?}");
            for e in of_pid(&all, pid) {
                assert_eq!(e["dport"], u64::from(port));
            }
        }
    }
}

/// --count: per (source, destination, port), the helper's own counts;
/// a refused connect counts (a connect() that sent a SYN, as BCC -c).
#[test]
fn count_mode_equals_the_workloads_counts() {
    let Some(_root) = root_or_skip("count_mode_equals_the_workloads_counts") else {
        return;
    };
    for json in [true, false] {
        let mut args = vec!["--count", "-P", "26121-26123"];
        if json {
            args.push("-j");
        }
        let mut t = ToolRun::start(
            "tcpconnect",
            &[&["-v"], args.as_slice()].concat(),
            Stdio::null(),
        );
        t.wait_ready(Duration::from_secs(30));
        let a = run_peer(&["client", "4", "26121", "7"]);
        let b = run_peer(&["client", "6", "26122", "3"]);
        assert!(run_peer(&["refused", "4", "26123"]).refused);
        assert_eq!((a.sports.len(), b.sports.len()), (7, 3));
        t.signal(Signal::SIGINT);
        let f = t.wait(Duration::from_secs(30));
        assert_eq!(f.code(), 0, "{}", f.stderr);
        let mut got: Vec<(String, u64, u64)> = if json {
            json_lines(&f.stdout)
                .iter()
                .filter(|v| v["type"] == "count")
                .map(|v| {
                    (
                        v["daddr"].as_str().unwrap_or("").to_string(),
                        v["dport"].as_u64().unwrap_or(0),
                        v["connects"].as_u64().unwrap_or(0),
                    )
                })
                .collect()
        } else {
            let mut lines = f.stdout.lines();
            assert_eq!(
                lines
                    .next()
                    .map(|h| h.split_whitespace().collect::<Vec<_>>()),
                Some(vec!["LADDR", "RADDR", "RPORT", "CONNECTS"]),
                "{}",
                f.stdout
            );
            lines
                .map(|l| {
                    let v: Vec<&str> = l.split_whitespace().collect();
                    assert_eq!(v.len(), 4, "{l}");
                    (
                        v[1].to_string(),
                        v[2].parse().unwrap_or(0),
                        v[3].parse().unwrap_or(0),
                    )
                })
                .collect()
        };
        got.sort();
        let want = [
            ("127.0.0.1", 26121, 7),
            ("127.0.0.1", 26123, 1),
            ("::1", 26122, 3),
        ]
        .map(|(a, p, n)| (a.to_string(), p, n));
        assert_eq!(got, want, "json={json}: {}", f.stdout);
    }
}

/// --latency: only established connects, with a plausible LAT; -m drops
/// those below the threshold (no loopback connect takes 10 s).
#[test]
fn latency_mode_rows_and_threshold() {
    let Some(_root) = root_or_skip("latency_mode_rows_and_threshold") else {
        return;
    };
    let t = tracer(&["-j", "--latency", "-P", "26131-26132"]);
    let p = run_peer(&["client", "4", "26131", "4"]);
    let r = run_peer(&["refused", "4", "26132"]);
    let all = stop(t);
    let rows = of_pid(&all, p.pid);
    assert_eq!(rows.len(), 4, "{all:?}");
    for e in &rows {
        let lat = e["latency_us"].as_f64().unwrap_or(-1.0);
        assert!(
            e["result"] == "established" && lat > 0.0 && lat < 1e6,
            "{e}"
        );
    }
    assert!(
        of_pid(&all, r.pid).is_empty(),
        "a refused connect has no latency row: {all:?}"
    );
    // Table: LAT(ms) is the last column and a number.
    let mut t = ToolRun::start(
        "tcpconnect",
        &["-v", "--latency", "-L", "-P", "26133"],
        Stdio::null(),
    );
    t.wait_ready(Duration::from_secs(30));
    let p = run_peer(&["client", "6", "26133", "2"]);
    t.signal(Signal::SIGINT);
    let f = t.wait(Duration::from_secs(30));
    let lines: Vec<Vec<&str>> = f
        .stdout
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        lines[0],
        ["PID", "COMM", "IP", "SADDR", "LPORT", "DADDR", "DPORT", "LAT(ms)"]
    );
    let ours: Vec<&Vec<&str>> = lines[1..]
        .iter()
        .filter(|l| l[0] == p.pid.to_string())
        .collect();
    assert_eq!(ours.len(), 2, "{}", f.stdout);
    for l in ours {
        assert!(p.sports.contains(&l[4].parse().unwrap_or(0)), "{l:?}");
        assert!(
            l[7].parse::<f64>().is_ok_and(|ms| ms > 0.0 && ms < 1000.0),
            "{l:?}"
        );
    }
    let t = tracer(&["-j", "--latency", "-m", "10000", "-P", "26134"]);
    let p = run_peer(&["client", "4", "26134", "3"]);
    let all = stop(t);
    assert!(of_pid(&all, p.pid).is_empty(), "-m 10000: {all:?}");
}

/// Every combination of the column flags (-T -t -L -U --latency) on real
/// connects under `-- CMD` (the process-tree filter): rows as wide as the
/// header, the helper's PID and comm in them.
#[test]
fn every_column_flag_combination_prints_well_formed_rows() {
    let Some(_root) = root_or_skip("every_column_flag_combination_prints_well_formed_rows") else {
        return;
    };
    let dir = TempDir::new(0o755);
    let flags = ["-T", "-t", "-L", "-U", "--latency"];
    for mask in 0u32..32 {
        let on: Vec<&str> = (0..5)
            .filter(|i| mask & (1 << i) != 0)
            .map(|i| flags[i])
            .collect();
        let out = dir.path().join(format!("p{mask}"));
        let script = format!("{} client 4 26141 2 >{}", peer(), out.display());
        let mut args = on.clone();
        args.extend(["--", "sh", "-c", &script]);
        let mut t = ToolRun::start("tcpconnect", &args, Stdio::null());
        let f = t.wait(Duration::from_secs(60));
        assert_eq!(f.code(), 0, "{on:?}: {}", f.stderr);
        let pid = std::fs::read_to_string(&out).unwrap_or_default();
        let pid = pid
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("pid "))
            .unwrap_or("?")
            .to_string();
        let lines: Vec<Vec<&str>> = f
            .stdout
            .lines()
            .map(|l| l.split_whitespace().collect())
            .collect();
        assert_eq!(lines.len(), 3, "{on:?}: {}", f.stdout);
        let head = &lines[0];
        for (flag, col) in [
            ("-T", "TIME"),
            ("-t", "TIME(s)"),
            ("-L", "LPORT"),
            ("-U", "UID"),
            ("--latency", "LAT(ms)"),
        ] {
            assert_eq!(head.contains(&col), on.contains(&flag), "{on:?}: {head:?}");
        }
        let col = |name: &str| head.iter().position(|h| *h == name).unwrap_or(usize::MAX);
        for row in &lines[1..] {
            assert_eq!(row.len(), head.len(), "{on:?}: {head:?} / {row:?}");
            assert_eq!(
                (row[col("PID")], row[col("COMM")]),
                (pid.as_str(), "cp_client"),
                "{on:?}"
            );
            assert_eq!(
                (row[col("DPORT")], row[col("IP")]),
                ("26141", "4"),
                "{on:?}"
            );
        }
    }
}

/// `| head -1` (a closed pipe) and SIGTERM both end the tool with exit 0.
#[test]
fn closed_pipe_and_sigterm_exit_zero() {
    let Some(_root) = root_or_skip("closed_pipe_and_sigterm_exit_zero") else {
        return;
    };
    let script = format!(
        "{} -P 26151 | head -1 >/dev/null; echo \"rc=${{PIPESTATUS[0]}}\"",
        crate::util::tool("tcpconnect").display()
    );
    let mut sh = ChildGuard::spawn(
        Command::new("bash")
            .args(["-c", &script])
            .stdout(Stdio::piped()),
    );
    // The header fills head's one line; the next row finds the pipe closed.
    std::thread::sleep(Duration::from_millis(1500));
    run_peer(&["client", "4", "26151", "3"]);
    let st = sh.wait_timeout(Duration::from_secs(20));
    let mut out = String::new();
    use std::io::Read as _;
    let _ = sh.0.stdout.take().expect("stdout").read_to_string(&mut out);
    assert!(st.success() && out.trim() == "rc=0", "{out}");
    let mut t = tracer(&["-j"]);
    t.signal(Signal::SIGTERM);
    let f = t.wait(Duration::from_secs(20));
    assert_eq!(f.code(), 0, "{}", f.stderr);
    assert!(json_lines(&f.stdout).iter().any(|v| v["type"] == "summary"));
}
