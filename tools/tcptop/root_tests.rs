//! Root tests for tcptop: the real BPF programs against loopback TCP
//! traffic of known size (tools/tcptop/flow.c: the oracle is the helper's
//! own counts — bytes it wrote, bytes its receiver read — its PIDs and the
//! ports of its sockets, from getsockname()).

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use nix::sys::signal::Signal;
use serde_json::Value;

use crate::util::{compile_helper, json_lines, root_or_skip, tool, ChildGuard, Finished, ToolRun};

const T: Duration = Duration::from_secs(120);
const N: u64 = 5_000_000;

/// The traffic helper, compiled once per test run.
fn flow() -> &'static str {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| compile_helper("flow", std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))))
        .to_str()
        .expect("a UTF-8 temp path")
}

/// `tcptop ARGS -- CMD…`: the tool exits when CMD does, printing the
/// interval cut short.
fn run(args: &[&str], cmd: &[&str]) -> Finished {
    let mut a: Vec<&str> = args.to_vec();
    a.push("--");
    a.extend_from_slice(cmd);
    let f = ToolRun::start("tcptop", &a, Stdio::null()).wait(T);
    assert_eq!(f.code(), 0, "tcptop {a:?}: {}", f.stderr);
    f
}

/// The tool's records of type `ty` (`-- CMD` shares stdout: the helper's
/// own line is not JSON and is left out; every other line must parse).
fn records(f: &Finished, ty: &str) -> Vec<Value> {
    let json: String = f
        .stdout
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| format!("{l}\n"))
        .collect();
    json_lines(&json)
        .into_iter()
        .filter(|r| r["type"] == ty)
        .collect()
}

/// "SENDER_PID RECEIVER_PID SENDER_PORT RECEIVER_PORT RECEIVED" of
/// `flow pair`, the last such line of `text`.
fn pair_info(text: &str) -> [u64; 5] {
    let l = text
        .lines()
        .rev()
        .find(|l| l.split_whitespace().count() == 5)
        .unwrap_or_else(|| panic!("no pair line in {text}"));
    let v: Vec<u64> = l
        .split_whitespace()
        .map(|x| x.parse().expect("a number"))
        .collect();
    v.try_into().expect("5 numbers")
}

/// The rows of `pid`, summed over the intervals: (rx, tx), and every row's
/// endpoints checked against `want` (laddr, lport, raddr, rport, family).
fn of_pid(rows: &[Value], pid: u64, want: (&str, u64, &str, u64, &str)) -> (u64, u64) {
    let mut s = (0, 0);
    for r in rows.iter().filter(|r| r["pid"] == pid) {
        let got = (
            r["laddr"].as_str().unwrap_or("?"),
            r["lport"].as_u64().unwrap_or(0),
            r["raddr"].as_str().unwrap_or("?"),
            r["rport"].as_u64().unwrap_or(0),
            r["family"].as_str().unwrap_or("?"),
        );
        assert_eq!(got, want, "{r}");
        s.0 += r["rx_bytes"].as_u64().unwrap_or(0);
        s.1 += r["tx_bytes"].as_u64().unwrap_or(0);
    }
    s
}

/// 5 000 000 bytes over one loopback connection of family `fam`: the
/// sender's rows say 5 000 000 sent, the receiver's 5 000 000 received,
/// with the sockets' own addresses and ports; the table says 4882 KB.
fn five_million(fam: &str) {
    let (addr, family) = if fam == "4" {
        ("127.0.0.1", "ipv4")
    } else {
        ("::1", "ipv6")
    };
    let f = run(&["-j"], &[flow(), "pair", fam, "5000000"]);
    let [cli, srv, cport, sport, got] = pair_info(&f.stderr_or_stdout());
    assert_eq!(got, N, "the receiver's own count");
    let rows = records(&f, "top");
    assert_eq!(
        of_pid(&rows, cli, (addr, cport, addr, sport, family)),
        (0, N),
        "{}",
        f.stdout
    );
    assert_eq!(
        of_pid(&rows, srv, (addr, sport, addr, cport, family)),
        (N, 0),
        "{}",
        f.stdout
    );
    assert!(
        rows.iter().all(|r| r["pid"] == cli || r["pid"] == srv),
        "{}",
        f.stdout
    );
    let comms: Vec<&str> = rows.iter().filter_map(|r| r["comm"].as_str()).collect();
    assert!(
        comms.contains(&"tt_cli") && comms.contains(&"tt_srv"),
        "{comms:?}"
    );
    // The intervals' totals add up to the same bytes.
    let iv = records(&f, "interval");
    let total = |k: &str| {
        iv.iter()
            .map(|i| i["total"][k].as_u64().unwrap_or(0))
            .sum::<u64>()
    };
    assert_eq!(
        (total("rx_bytes"), total("tx_bytes")),
        (N, N),
        "{}",
        f.stdout
    );
    let s = records(&f, "summary");
    assert_eq!(s.len(), 1, "{}", f.stdout);
    assert_eq!(s[0]["keys_dropped"], 0);

    // The table, with a long interval (one screen): BCC's columns and KB.
    let f = run(&["-C", "600"], &[flow(), "pair", fam, "5000000"]);
    let [cli, srv, cport, sport, _] = pair_info(&f.stdout);
    let line_of = |pid: u64| {
        f.stdout
            .lines()
            .find(|l| {
                let w: Vec<&str> = l.split_whitespace().collect();
                w.len() == 6 && w[0] == pid.to_string() && w[1].starts_with("tt_")
            })
            .unwrap_or_else(|| panic!("no row for {pid}: {}", f.stdout))
            .split_whitespace()
            .collect::<Vec<_>>()
    };
    assert_eq!(
        line_of(cli),
        [
            &cli.to_string(),
            "tt_cli",
            &format!("{addr}:{cport}"),
            &format!("{addr}:{sport}"),
            "0",
            "4882"
        ]
    );
    assert_eq!(
        line_of(srv),
        [
            &srv.to_string(),
            "tt_srv",
            &format!("{addr}:{sport}"),
            &format!("{addr}:{cport}"),
            "4882",
            "0"
        ]
    );
    assert!(f.stdout.contains(" loadavg: "), "{}", f.stdout);
    let header = f
        .stdout
        .lines()
        .find(|l| l.starts_with("PID"))
        .expect("a header");
    assert_eq!(
        header.split_whitespace().collect::<Vec<_>>(),
        ["PID", "COMM", "LADDR", "RADDR", "RX_KB", "TX_KB"]
    );
}

trait Both {
    fn stderr_or_stdout(&self) -> String;
}
impl Both for Finished {
    /// The helper's own line is on stdout, among JSON records.
    fn stderr_or_stdout(&self) -> String {
        self.stdout
            .lines()
            .filter(|l| !l.starts_with('{'))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

#[test]
fn five_million_bytes_ipv4() {
    let Some(_g) = root_or_skip("tcptop IPv4 5 000 000 bytes") else {
        return;
    };
    five_million("4");
}

#[test]
fn five_million_bytes_ipv6() {
    let Some(_g) = root_or_skip("tcptop IPv6 5 000 000 bytes") else {
        return;
    };
    five_million("6");
}

#[test]
fn pid_filter_shows_only_that_process() {
    let Some(_g) = root_or_skip("tcptop -p") else {
        return;
    };
    let mut helper = ChildGuard::spawn(
        Command::new(flow())
            .args(["pair", "4", "5000000", "wait"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped()),
    );
    let mut out = BufReader::new(helper.0.stdout.take().expect("stdout"));
    let mut ready = String::new();
    out.read_line(&mut ready).expect("ready line");
    assert_eq!(ready.trim(), format!("ready {}", helper.pid()));
    let ps = helper.pid().to_string();
    let mut t = ToolRun::start("tcptop", &["-j", "-v", "-p", &ps, "1"], Stdio::null());
    t.wait_ready(T);
    // Another pair meanwhile (not a descendant): never shown.
    let other = Command::new(flow())
        .args(["pair", "4", "1000000"])
        .output()
        .expect("the other pair");
    assert!(other.status.success());
    let [ocli, osrv, ..] = pair_info(&String::from_utf8_lossy(&other.stdout));
    helper
        .0
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"go\n")
        .expect("releasing the helper");
    let mut rest = String::new();
    out.read_to_string(&mut rest).expect("the helper's line");
    assert!(helper.wait_timeout(T).success());
    let [cli, srv, cport, sport, got] = pair_info(&rest);
    assert_eq!((cli, got), (u64::from(helper.pid()), N));
    std::thread::sleep(Duration::from_millis(2200));
    t.signal(Signal::SIGTERM);
    let f = t.wait(T);
    assert_eq!(f.code(), 0, "SIGTERM: {}", f.stderr);
    let rows = records(&f, "top");
    let v4 = ("127.0.0.1", cport, "127.0.0.1", sport, "ipv4");
    assert_eq!(of_pid(&rows, cli, v4), (0, N), "{}", f.stdout);
    // Its receiver is a child forked after the start: -p follows it.
    let v4 = ("127.0.0.1", sport, "127.0.0.1", cport, "ipv4");
    assert_eq!(of_pid(&rows, srv, v4), (N, 0), "{}", f.stdout);
    assert!(
        rows.iter().all(|r| r["pid"] == cli || r["pid"] == srv),
        "only the helper (not {ocli}/{osrv}): {}",
        f.stdout
    );
    assert_eq!(records(&f, "summary").len(), 1, "{}", f.stdout);
}

#[test]
fn family_filters_keep_one_family() {
    let Some(_g) = root_or_skip("tcptop -4/-6") else {
        return;
    };
    let both = format!("{0} pair 4 100000 && {0} pair 6 200000", flow());
    for (flag, family, bytes) in [("-4", "ipv4", 100_000u64), ("-6", "ipv6", 200_000)] {
        let f = run(&["-j", flag, "600"], &["sh", "-c", &both]);
        let rows = records(&f, "top");
        assert_eq!(rows.len(), 2, "{flag}: {}", f.stdout);
        for r in &rows {
            assert_eq!(r["family"], family, "{flag}: {r}");
        }
        let tx: u64 = rows
            .iter()
            .map(|r| r["tx_bytes"].as_u64().unwrap_or(0))
            .sum();
        let rx: u64 = rows
            .iter()
            .map(|r| r["rx_bytes"].as_u64().unwrap_or(0))
            .sum();
        assert_eq!((tx, rx), (bytes, bytes), "{flag}: {}", f.stdout);
    }
    // Without either: both families.
    let f = run(&["-j", "600"], &["sh", "-c", &both]);
    assert_eq!(records(&f, "top").len(), 4, "{}", f.stdout);
}

#[test]
fn sort_rows_and_totals() {
    let Some(_g) = root_or_skip("tcptop -s -r") else {
        return;
    };
    // Sender and receiver moved the same bytes: -s picks the side, -r 1
    // keeps it, the other is in the cut totals.
    for (sort, side) in [("sent", "tt_cli"), ("received", "tt_srv")] {
        let f = run(
            &["-j", "-s", sort, "-r", "1", "600"],
            &[flow(), "pair", "4", "300000"],
        );
        let rows = records(&f, "top");
        assert_eq!(rows.len(), 1, "{sort}: {}", f.stdout);
        assert_eq!(rows[0]["comm"], side, "{sort}");
        let iv = records(&f, "interval");
        assert_eq!(iv.len(), 1, "{}", f.stdout);
        assert_eq!(
            (iv[0]["keys"].as_u64(), iv[0]["cut_keys"].as_u64()),
            (Some(2), Some(1))
        );
        assert_eq!(iv[0]["total"]["tx_bytes"], 300_000);
        assert_eq!(iv[0]["total"]["rx_bytes"], 300_000);
        let cut = &iv[0]["cut"];
        assert_eq!(
            cut["tx_bytes"].as_u64().unwrap() + cut["rx_bytes"].as_u64().unwrap(),
            300_000
        );
    }
}

#[test]
fn no_summary_line_with_s() {
    let Some(_g) = root_or_skip("tcptop -S") else {
        return;
    };
    let f = run(&["-C", "-S", "600"], &[flow(), "pair", "4", "1000"]);
    assert!(!f.stdout.contains("loadavg"), "{}", f.stdout);
    assert!(
        f.stdout.lines().any(|l| l.starts_with("PID ")),
        "{}",
        f.stdout
    );
    assert!(
        f.stdout.lines().any(|l| l.contains(" tt_cli ")),
        "{}",
        f.stdout
    );
}

#[test]
fn hostile_comm_is_escaped() {
    let Some(_g) = root_or_skip("tcptop hostile comm") else {
        return;
    };
    let name = "e\x1b[2J\nv\"l";
    let mut a = vec!["-C", "600", "--", flow(), "pair", "4", "1000"];
    let mut cmd = Command::new(tool("tcptop"));
    cmd.args(&a).env("TT_NAME", name);
    let f = ToolRun::start_cmd(cmd, Stdio::null()).wait(T);
    assert_eq!(f.code(), 0, "{}", f.stderr);
    assert!(!f.stdout.contains('\x1b'), "{:?}", f.stdout);
    assert!(f.stdout.contains(r"e\e[2J\nv"), "{}", f.stdout);
    a[0] = "-j";
    let mut cmd = Command::new(tool("tcptop"));
    cmd.args(&a).env("TT_NAME", name);
    let f = ToolRun::start_cmd(cmd, Stdio::null()).wait(T);
    let rows = records(&f, "top");
    assert!(
        rows.iter()
            .any(|r| r["comm"] == name && r["tx_bytes"] == 1000),
        "{}",
        f.stdout
    );
}

#[test]
fn keys_beyond_the_map_are_counted_dropped() {
    let Some(_g) = root_or_skip("tcptop map full") else {
        return;
    };
    // 6000 connections, one byte each way once: 12 000 keys of one event
    // each in one interval, for 10 240 slots: each is a row or dropped.
    let f = run(
        &["-j", "-r", "5", "600"],
        &[flow(), "many", "4", "6000", "1"],
    );
    let iv = records(&f, "interval");
    assert_eq!(iv.len(), 1, "{}", f.stdout);
    let keys = iv[0]["keys"].as_u64().unwrap_or(0);
    let s = &records(&f, "summary")[0];
    let dropped = s["keys_dropped"].as_u64().unwrap_or(0);
    assert_eq!(keys, 10240, "the map was full");
    assert_eq!(keys + dropped, 12_000, "{s}");
    assert_eq!(s["lost_detail"]["map_full"], dropped);
    let t = &iv[0]["total"];
    assert_eq!(
        t["tx_bytes"].as_u64().unwrap() + t["rx_bytes"].as_u64().unwrap(),
        keys
    );
    assert_eq!(iv[0]["shown"], 5);
}

#[test]
fn every_bpf_variant_loads() {
    let Some(_g) = root_or_skip("tcptop variants") else {
        return;
    };
    for args in [
        &[][..],
        &["-4"],
        &["-6", "-s", "sent"],
        &["--comm", "tt_cli"],
        &["--uid", "0", "-S"],
        &["--tid", "1"],
    ] {
        let mut a = vec!["-j", "-v", "600"];
        a.extend_from_slice(args);
        let f = run(
            &a,
            &[
                flow(),
                "pair",
                if args.contains(&"-6") { "6" } else { "4" },
                "7777",
            ],
        );
        assert!(
            f.stderr.contains("tcptop: tracing, "),
            "{args:?}: {}",
            f.stderr
        );
        let rows = records(&f, "top");
        let tx: u64 = rows
            .iter()
            .map(|r| r["tx_bytes"].as_u64().unwrap_or(0))
            .sum();
        let want = if args.contains(&"--tid") { 0 } else { 7777 };
        assert_eq!(tx, want, "{args:?}: {}", f.stdout);
        if args.contains(&"--comm") {
            assert!(rows.iter().all(|r| r["comm"] == "tt_cli"), "{}", f.stdout);
        }
    }
}

#[test]
fn closed_stdout_is_a_normal_end() {
    let Some(_g) = root_or_skip("tcptop | head -1") else {
        return;
    };
    let mut c = ChildGuard::spawn(
        Command::new(tool("tcptop"))
            .args(["-C", "1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    let mut out = BufReader::new(c.0.stdout.take().expect("stdout"));
    let mut first = String::new();
    out.read_line(&mut first).expect("a first line");
    drop(out);
    let st = c.wait_timeout(Duration::from_secs(10));
    assert_eq!(st.code(), Some(0), "| head -1");
}
