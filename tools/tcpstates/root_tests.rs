//! Root tests for tcpstates: the real BPF program against one loopback
//! connection of known PIDs and port (tools/tcptop/flow.c `states`: the
//! client connects, sleeps, closes first; the server sleeps, closes), its
//! exact state sequences and MS against the sleeps, the port and family
//! filters, and libbpf-tools' tcpstates (tracepoint-based, it runs here)
//! as an oracle on the same connection.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use nix::sys::signal::Signal;
use serde_json::Value;

use crate::util::{
    compile_helper, json_lines, root_or_skip, with_tracefs, ChildGuard, Finished, ToolRun,
};

const T: Duration = Duration::from_secs(60);
const EST_MS: f64 = 300.0;
const WAIT_MS: f64 = 200.0;

const CLIENT: [&str; 5] = [
    "CLOSE>SYN_SENT",
    "SYN_SENT>ESTABLISHED",
    "ESTABLISHED>FIN_WAIT1",
    "FIN_WAIT1>FIN_WAIT2",
    "FIN_WAIT2>CLOSE",
];
const SERVER: [&str; 5] = [
    "LISTEN>SYN_RECV",
    "SYN_RECV>ESTABLISHED",
    "ESTABLISHED>CLOSE_WAIT",
    "CLOSE_WAIT>LAST_ACK",
    "LAST_ACK>CLOSE",
];
const LISTENER: [&str; 2] = ["CLOSE>LISTEN", "LISTEN>CLOSE"];

fn flow() -> &'static str {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| compile_helper("flow", std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))))
        .to_str()
        .expect("a UTF-8 temp path")
}

/// `tcpstates -v ARGS` system-wide (the changes made in softirq are in
/// other tasks' context: a `-- CMD` filter would leave them out) while
/// `flow states FAM PORT 300 200` runs; the events of PORT, and the
/// helper's "SERVER_PID CLIENT_PID CLIENT_PORT".
fn run(args: &[&str], fam: &str, port: u16) -> (Vec<Value>, [u64; 3], Finished) {
    let ps = port.to_string();
    let mut a = vec!["-v"];
    a.extend_from_slice(args);
    let mut t = ToolRun::start("tcpstates", &a, Stdio::null());
    t.wait_ready(T);
    let h = Command::new(flow())
        .args(["states", fam, &ps, "300", "200"])
        .output()
        .expect("the helper");
    assert!(h.status.success(), "{h:?}");
    std::thread::sleep(Duration::from_millis(300));
    t.signal(Signal::SIGINT);
    let f = t.wait(T);
    assert_eq!(f.code(), 0, "tcpstates {a:?}: {}", f.stderr);
    let line = String::from_utf8_lossy(&h.stdout);
    let info: Vec<u64> = line
        .split_whitespace()
        .map(|x| x.parse().expect("number"))
        .collect();
    let ev = if args.contains(&"-j") {
        json_lines(&f.stdout)
            .into_iter()
            .filter(|r| r["type"] == "event")
            .filter(|r| r["lport"] == port || r["rport"] == port)
            .collect()
    } else {
        Vec::new()
    };
    (ev, info.try_into().expect("3 numbers"), f)
}

fn change(e: &Value) -> String {
    format!(
        "{}>{}",
        e["oldstate"].as_str().unwrap_or("?"),
        e["newstate"].as_str().unwrap_or("?")
    )
}

/// The events of each socket, in order, by its role: client, server
/// (accepted), listener.
fn by_socket(ev: &[Value], port: u16) -> [Vec<&Value>; 3] {
    let mut out: [Vec<&Value>; 3] = Default::default();
    for e in ev {
        let role = if e["rport"] == port {
            0
        } else if e["rport"] == 0 {
            2
        } else {
            1
        };
        out[role].push(e);
    }
    for (role, evs) in out.iter().enumerate() {
        let sk = evs.first().map(|e| e["skaddr"].clone());
        assert!(
            evs.iter().all(|e| Some(&e["skaddr"]) == sk.as_ref()),
            "role {role}: one socket"
        );
    }
    out
}

fn ms(e: &Value) -> f64 {
    e["ms"].as_f64().unwrap_or(-1.0)
}

fn sequences(fam: &str, port: u16) {
    let (addr, family) = if fam == "4" {
        ("127.0.0.1", "ipv4")
    } else {
        ("::1", "ipv6")
    };
    let (ev, [srv, cli, cport], _) = run(&["-j"], fam, port);
    let [c, s, l] = by_socket(&ev, port);
    let seq = |v: &[&Value]| v.iter().map(|e| change(e)).collect::<Vec<_>>();
    assert_eq!(seq(&c), CLIENT, "client: {ev:?}");
    assert_eq!(seq(&s), SERVER, "server: {ev:?}");
    assert_eq!(seq(&l), LISTENER, "listener: {ev:?}");
    for e in &ev {
        assert_eq!(e["family"], family, "{e}");
        assert_eq!(e["laddr"], addr, "{e}");
    }
    // Ports: the client's own port once connect() picked it (0 at
    // SYN_SENT, as the kernel has it then).
    assert_eq!(c[0]["lport"], 0, "{}", c[0]);
    assert!(c[1..].iter().all(|e| e["lport"] == cport), "{c:?}");
    assert!(
        s.iter().all(|e| e["lport"] == port && e["rport"] == cport),
        "{s:?}"
    );
    // Who was current in process context: connect() and close() by the
    // client, close() by the server.
    assert_eq!(
        (c[0]["pid"].as_u64(), c[2]["pid"].as_u64()),
        (Some(cli), Some(cli))
    );
    assert_eq!(s[3]["pid"].as_u64(), Some(srv));
    // MS: the time in the old state, against the sleeps.
    let within = |e: &Value, lo: f64, what: &str| {
        let m = ms(e);
        assert!(
            m >= lo && m < lo + 250.0,
            "{what}: {m} ms, want {lo}..{}: {e}",
            lo + 250.0
        );
    };
    within(c[2], EST_MS, "client ESTABLISHED");
    within(s[2], EST_MS, "server ESTABLISHED");
    within(s[3], WAIT_MS, "server CLOSE_WAIT");
    assert!(ms(l[1]) >= EST_MS + WAIT_MS, "listener: {}", l[1]);
    // The first change of each socket: MS 0, marked.
    for first in [c[0], s[0], l[0]] {
        assert_eq!(
            (ms(first), &first["first"]),
            (0.0, &Value::Bool(true)),
            "{first}"
        );
    }
    assert!(
        ms(c[1]) < 100.0 && ms(s[1]) < 100.0,
        "handshake: {c:?} {s:?}"
    );
}

#[test]
fn known_connection_ipv4() {
    let Some(_g) = root_or_skip("tcpstates IPv4 sequences") else {
        return;
    };
    sequences("4", 21331);
}

#[test]
fn known_connection_ipv6() {
    let Some(_g) = root_or_skip("tcpstates IPv6 sequences") else {
        return;
    };
    sequences("6", 21332);
}

#[test]
fn port_and_family_filters() {
    let Some(_g) = root_or_skip("tcpstates -L/-D/-4/-6") else {
        return;
    };
    let port = 21333u16;
    let ps = port.to_string();
    // -L: the server side only (listener and accepted socket).
    let (ev, ..) = run(&["-j", "-L", &ps], "4", port);
    assert_eq!(ev.len(), 7, "{ev:?}");
    assert!(ev.iter().all(|e| e["lport"] == port), "{ev:?}");
    // -D: the client's socket only, its SYN_SENT (local port 0) included.
    let (ev, ..) = run(&["-j", "-D", &ps], "4", port);
    assert_eq!(ev.iter().map(change).collect::<Vec<_>>(), CLIENT, "{ev:?}");
    // A list and a range that miss: nothing.
    let (ev, ..) = run(&["-j", "-L", "1-100,200"], "4", port);
    assert!(ev.is_empty(), "{ev:?}");
    // -6 on IPv4, -4 on IPv6: nothing; the matching family: all 12.
    let (ev, ..) = run(&["-j", "-6"], "4", port);
    assert!(ev.is_empty(), "{ev:?}");
    let (ev, ..) = run(&["-j", "-4"], "6", port);
    assert!(ev.is_empty(), "{ev:?}");
    let (ev, ..) = run(&["-j", "-6", "-w", "-T"], "6", port);
    assert_eq!(ev.len(), 12, "{ev:?}");
}

#[test]
fn table_columns() {
    let Some(_g) = root_or_skip("tcpstates table") else {
        return;
    };
    let port = 21334u16;
    let (_, [_, cli, _], f) = run(&["-T", "-D", &port.to_string()], "4", port);
    let lines: Vec<&str> = f.stdout.lines().filter(|l| !l.is_empty()).collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        [
            "TIME", "SKADDR", "C-PID", "C-COMM", "LADDR", "LPORT", "RADDR", "RPORT", "OLDSTATE",
            "->", "NEWSTATE", "MS"
        ]
    );
    let first: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(
        first[2..],
        [
            &cli.to_string(),
            "ts_cli",
            "127.0.0.1",
            "0",
            "127.0.0.1",
            &port.to_string(),
            "CLOSE",
            "->",
            "SYN_SENT",
            "0.000"
        ][..],
        "{}",
        lines[1]
    );
    assert_eq!(first[1].len(), 16, "SKADDR as %016x");
}

/// libbpf-tools' tcpstates, when installed, on the same connection as
/// ours: the same changes of the same sockets (by address), in order.
#[test]
fn agrees_with_libbpf_tools() {
    let Some(_g) = root_or_skip("tcpstates vs libbpf-tools") else {
        return;
    };
    let lbt = "/usr/sbin/tcpstates";
    if !std::path::Path::new(lbt).exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "libbpf-tools' tcpstates is needed on CI (`make deps` installs it)"
        );
        eprintln!("skip: {lbt} not installed (Debian package libbpf-tools)");
        return;
    }
    let port = 21335u16;
    let ps = port.to_string();
    // It needs tracefs: mounted in its own private mount namespace only.
    let mut theirs = ChildGuard::spawn(
        with_tracefs(&format!("exec {lbt} -L {ps}"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null()),
    );
    let mut ours = ToolRun::start("tcpstates", &["-j", "-v", "-L", &ps], Stdio::null());
    ours.wait_ready(T);
    std::thread::sleep(Duration::from_millis(1500)); // theirs attached too
    let st = Command::new(flow())
        .args(["states", "4", &ps, "300", "200"])
        .output()
        .expect("the helper");
    assert!(st.status.success());
    std::thread::sleep(Duration::from_millis(300));
    ours.signal(Signal::SIGINT);
    let f = ours.wait(T);
    // SIGINT: libbpf-tools' tools flush their output and exit.
    let pid = nix::unistd::Pid::from_raw(theirs.pid() as i32);
    let _ = nix::sys::signal::kill(pid, Signal::SIGINT);
    let mut out = String::new();
    use std::io::Read as _;
    theirs
        .0
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut out)
        .expect("its output");
    let _ = theirs.wait_timeout(T);
    let their: Vec<(String, String)> = out
        .lines()
        .skip(1)
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            (w.len() == 11).then(|| (w[0].to_string(), format!("{}>{}", w[7], w[9])))
        })
        .collect();
    let mine: Vec<(String, String)> = json_lines(&f.stdout)
        .into_iter()
        .filter(|r| r["type"] == "event")
        .map(|r| (r["skaddr"].as_str().unwrap_or("").to_string(), change(&r)))
        .collect();
    assert_eq!(mine.len(), 7, "{}", f.stdout);
    assert_eq!(mine, their, "libbpf-tools said:\n{out}");
}
