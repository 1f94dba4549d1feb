//! Root tests for tcpretrans. The traffic runs between two network
//! namespaces the test creates (A: tr0, 10.78.0.1 / fd78::1, the client;
//! B: tr1, 10.78.0.2 / fd78::2, the server) over a veth pair, and deletes
//! (a Drop guard, so also on failure). Retransmits are caused by our own
//! xdpdrop on tr1 in B dropping the client's segments for a moment; the
//! oracle is the kernel's own per-socket counter (`ss -ti`: retrans a/TOTAL)
//! and netns A's TcpRetransSegs (/proc/net/snmp).
//!
//! Off CI, without root, each test prints why it skips; with CI=true it fails.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::Value;

use crate::util::{json_lines, json_summary, root_or_skip, tool, ToolRun};

fn sh(args: &[&str]) -> String {
    let out = Command::new(args[0]).args(&args[1..]).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Namespaces `<base>-a` and `<base>-b` joined by veth tr0/tr1; deleted on drop.
struct Net {
    a: String,
    b: String,
}

impl Net {
    fn new(test: &str) -> Self {
        let base = format!("cstr-{test}-{}", std::process::id());
        let n = Net {
            a: format!("{base}-a"),
            b: format!("{base}-b"),
        };
        let (a, b) = (n.a.as_str(), n.b.as_str());
        sh(&["ip", "netns", "add", a]);
        sh(&["ip", "netns", "add", b]);
        sh(&[
            "ip", "link", "add", "tr0", "netns", a, "type", "veth", "peer", "name", "tr1", "netns",
            b,
        ]);
        for (ns, dev, v4, v6) in [
            (a, "tr0", "10.78.0.1/24", "fd78::1/64"),
            (b, "tr1", "10.78.0.2/24", "fd78::2/64"),
        ] {
            sh(&["ip", "-n", ns, "addr", "add", v4, "dev", dev]);
            sh(&["ip", "-n", ns, "addr", "add", v6, "dev", dev, "nodad"]);
            sh(&["ip", "-n", ns, "link", "set", dev, "up"]);
            sh(&["ip", "-n", ns, "link", "set", "lo", "up"]);
        }
        n
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for ns in [&self.a, &self.b] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

/// Runs `f` on a thread that entered network namespace `ns` (sockets it
/// creates stay in that namespace).
fn in_ns<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let path = format!("/run/netns/{ns}");
    std::thread::spawn(move || {
        let fd = std::fs::File::open(&path).unwrap();
        nix::sched::setns(fd, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
        f()
    })
    .join()
    .unwrap()
}

fn collect(r: impl Read + Send + 'static) -> Arc<Mutex<String>> {
    let buf = Arc::new(Mutex::new(String::new()));
    let b = buf.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(r).lines().map_while(Result::ok) {
            let mut b = b.lock().unwrap();
            b.push_str(&line);
            b.push('\n');
        }
    });
    buf
}

/// Our xdpdrop in namespace `ns`; stopped (SIGINT) or killed on drop.
struct Xdp {
    child: Child,
    err: Arc<Mutex<String>>,
}

impl Xdp {
    fn start(ns: &str, dev: &str, rules: &[String]) -> Self {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", ns])
            .arg(tool("xdpdrop"))
            .arg(dev);
        for r in rules {
            cmd.args(["--drop", r]);
        }
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let err = collect(child.stderr.take().unwrap());
        let x = Xdp { child, err };
        let end = Instant::now() + Duration::from_secs(30);
        while !x.err.lock().unwrap().contains("attached to") {
            assert!(
                Instant::now() < end,
                "xdpdrop did not attach: {}",
                x.err.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        x
    }

    /// SIGINT (ip netns exec execs xdpdrop: the same PID), then its exit.
    fn stop(mut self) {
        kill(Pid::from_raw(self.child.id() as i32), Signal::SIGINT).unwrap();
        let st = self.child.wait().unwrap();
        assert!(
            st.success(),
            "xdpdrop: {st:?}: {}",
            self.err.lock().unwrap()
        );
    }
}

impl Drop for Xdp {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The kernel's count of retransmitted segments of the established socket
/// with local port `lport` in `ns` (`ss -ti`: `retrans:CUR/TOTAL`).
fn ss_total_retrans(ns: &str, lport: u16) -> u64 {
    let filter = format!("( sport = :{lport} )");
    let out = sh(&[
        "ip",
        "netns",
        "exec",
        ns,
        "ss",
        "-tinH",
        "state",
        "established",
        &filter,
    ]);
    assert!(
        out.contains(&format!(":{lport} ")),
        "no socket :{lport} in {ns}: {out}"
    );
    out.split_whitespace()
        .find_map(|w| w.strip_prefix("retrans:"))
        .and_then(|r| r.split('/').nth(1))
        .map_or(0, |n| n.parse().unwrap())
}

/// Tcp RetransSegs of namespace `ns` (/proc/net/snmp).
fn snmp_retrans_segs(ns: &str) -> u64 {
    let snmp = sh(&["ip", "netns", "exec", ns, "cat", "/proc/net/snmp"]);
    let mut tcp = snmp.lines().filter(|l| l.starts_with("Tcp:"));
    let (names, values) = (tcp.next().unwrap(), tcp.next().unwrap());
    let i = names
        .split_whitespace()
        .position(|w| w == "RetransSegs")
        .unwrap();
    values.split_whitespace().nth(i).unwrap().parse().unwrap()
}

fn is_flow(r: &Value, l: IpAddr, lport: u16, rip: IpAddr, rport: u16) -> bool {
    r["laddr"] == l.to_string()
        && r["lport"] == lport
        && r["raddr"] == rip.to_string()
        && r["rport"] == rport
}

/// One connection from A to B: the client socket, the server's end, the
/// client's port.
fn connect(net: &Net, server: SocketAddr) -> (TcpStream, TcpStream, u16) {
    let l = in_ns(&net.b, move || TcpListener::bind(server).unwrap());
    let c = in_ns(&net.a, move || TcpStream::connect(server).unwrap());
    c.set_nodelay(true).unwrap();
    let (s, _) = l.accept().unwrap();
    let port = c.local_addr().unwrap().port();
    (c, s, port)
}

fn stop_json(mut t: ToolRun) -> Vec<Value> {
    t.signal(Signal::SIGINT);
    let f = t.wait(Duration::from_secs(20));
    assert_eq!(f.code(), 0, "stderr:\n{}", f.stderr);
    let v = json_lines(&f.stdout);
    let s = json_summary(&v);
    assert_eq!(s["lost"], 0, "{s}");
    v
}

/// Retransmits of one IPv4 and one IPv6 flow, caused by dropping the
/// client's segments at the server's veth for 1.2 s: every row has the
/// flow's exact addresses and ports and ESTABLISHED; their number is the
/// kernel's own count for each socket; count mode (-c -4) gives the IPv4
/// flow alone with that number; -6 sees only the IPv6 flow; the table
/// shows BCC's row.
#[test]
fn retransmits_of_a_dropped_flow_match_the_kernel_s_counters() {
    let Some(_g) = root_or_skip("tcpretrans retransmits") else {
        return;
    };
    let net = Net::new("rt");
    let (a4, b4): (IpAddr, IpAddr) = ("10.78.0.1".parse().unwrap(), "10.78.0.2".parse().unwrap());
    let (a6, b6): (IpAddr, IpAddr) = ("fd78::1".parse().unwrap(), "fd78::2".parse().unwrap());
    let (p4, p6) = (21311u16, 21312u16);
    let (mut c4, mut s4, cp4) = connect(&net, SocketAddr::new(b4, p4));
    let (mut c6, mut s6, cp6) = connect(&net, SocketAddr::new(b6, p6));
    assert_eq!(snmp_retrans_segs(&net.a), 0, "a fresh namespace");

    let mut tools = Vec::new();
    for args in [
        &["-j", "-v"][..],
        &["-c", "-4", "-j", "-v"],
        &["-6", "-j", "-v"],
        &["-v"],
    ] {
        let mut t = ToolRun::start("tcpretrans", args, Stdio::null());
        t.wait_ready(Duration::from_secs(30));
        tools.push(t);
    }

    let xdp = Xdp::start(
        &net.b,
        "tr1",
        &[format!("tcp dst-port {p4}"), format!("tcp dst-port {p6}")],
    );
    c4.write_all(&[4u8; 100]).unwrap();
    c6.write_all(&[6u8; 100]).unwrap();
    std::thread::sleep(Duration::from_millis(1200));
    xdp.stop();
    // The retransmit after the drops ends gets through.
    for s in [&mut s4, &mut s6] {
        s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
        let mut got = [0u8; 100];
        s.read_exact(&mut got)
            .expect("the data never arrived after the drops");
    }
    let (k4, k6) = (ss_total_retrans(&net.a, cp4), ss_total_retrans(&net.a, cp6));
    let total = snmp_retrans_segs(&net.a);
    assert!(
        k4 > 0 && k6 > 0,
        "the kernel retransmitted nothing: {k4} {k6}"
    );
    assert_eq!(k4 + k6, total, "per-socket counts vs the namespace's");
    std::thread::sleep(Duration::from_millis(300)); // rows arrive within 100 ms

    let mut tools = tools.into_iter();
    let all = stop_json(tools.next().unwrap());
    let rows = |v: &[Value], l, lp, r, rp| -> Vec<Value> {
        v.iter()
            .filter(|e| e["type"] == "event" && is_flow(e, l, lp, r, rp))
            .cloned()
            .collect()
    };
    let (r4, r6) = (rows(&all, a4, cp4, b4, p4), rows(&all, a6, cp6, b6, p6));
    assert_eq!(
        (r4.len() as u64, r6.len() as u64),
        (k4, k6),
        "rows vs the kernel's counts"
    );
    for r in r4.iter().chain(&r6) {
        assert_eq!(
            (&r["state"], &r["kind"]),
            (&"ESTABLISHED".into(), &"retransmit".into()),
            "{r}"
        );
        assert!(
            r["pid"].is_u64() && r["time"].as_str().is_some_and(|t| t.len() == 8),
            "{r}"
        );
    }
    assert_eq!(r4[0]["family"], "ipv4");
    assert_eq!(r6[0]["family"], "ipv6");
    // No row of ours with another port (the reverse direction had no drops).
    let ours = |e: &&Value| {
        e["type"] == "event" && [a4, a6, b4, b6].iter().any(|a| e["laddr"] == a.to_string())
    };
    assert_eq!(all.iter().filter(ours).count() as u64, k4 + k6);

    let counted = stop_json(tools.next().unwrap());
    let flows: Vec<&Value> = counted
        .iter()
        .filter(|r| {
            r["type"] == "flow"
                && r["laddr"]
                    .as_str()
                    .is_some_and(|a| a.starts_with("10.78.") || a.starts_with("fd78:"))
        })
        .collect();
    assert_eq!(flows.len(), 1, "{counted:?}");
    assert!(is_flow(flows[0], a4, cp4, b4, p4), "{}", flows[0]);
    assert_eq!(flows[0]["retransmits"], k4);
    assert!(!counted.iter().any(|r| r["type"] == "event"));

    let v6 = stop_json(tools.next().unwrap());
    assert_eq!(rows(&v6, a6, cp6, b6, p6).len() as u64, k6);
    assert!(rows(&v6, a4, cp4, b4, p4).is_empty(), "-6 shows IPv4");

    let mut table = tools.next().unwrap();
    table.signal(Signal::SIGINT);
    let f = table.wait(Duration::from_secs(20));
    assert_eq!(f.code(), 0, "{}", f.stderr);
    let head = "TIME     PID     IP LADDR:LPORT          T> RADDR:RPORT          STATE";
    assert_eq!(f.stdout.lines().next(), Some(head));
    let cell = |a: IpAddr, p: u16| format!("{:<20}", format!("{a}:{p}"));
    let want = format!("4  {} R> {} ESTABLISHED", cell(a4, cp4), cell(b4, p4));
    let n = f
        .stdout
        .lines()
        .filter(|l| l.len() > 17 && l[17..] == want)
        .count() as u64;
    assert_eq!(n, k4, "want {k4} rows ending {want:?}:\n{}", f.stdout);
    drop((c4, c6, s4, s6));
}

/// -l and the task filters are refused with the reason and a hint, before
/// anything is attached; bad options are usage errors.
#[test]
fn refusals_and_usage_errors() {
    let Some(_g) = root_or_skip("tcpretrans refusals") else {
        return;
    };
    let out = Command::new(tool("tcpretrans")).arg("-l").output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.starts_with("tcpretrans: error: -l (tail loss probes) needs a kprobe"),
        "{err}"
    );
    assert!(
        err.lines().nth(1).is_some_and(|l| l.starts_with("hint: ")),
        "{err}"
    );
    assert_eq!(err.lines().count(), 2, "{err}");
    for (opt, args) in [
        ("--pid", &["--pid", "1"][..]),
        ("--comm", &["-c", "--comm", "sh"]),
        ("-- CMD", &["--", "true"]),
    ] {
        let out = Command::new(tool("tcpretrans"))
            .args(args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        let want = format!("tcpretrans: error: tcpretrans takes no {opt}: retransmits are sent");
        assert!(err.starts_with(&want), "{err}");
        assert!(err.contains("\nhint: "), "{err}");
    }
    for bad in [&["-p", "1"][..], &["-4", "-6"], &["--max-flows", "0"]] {
        let out = Command::new(tool("tcpretrans")).args(bad).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
    }
}

/// A reader that goes away (`| head -1`) ends the tool with 0, in both
/// modes; so do SIGTERM and --duration, with the summary.
#[test]
fn closed_pipe_sigterm_and_duration_exit_0() {
    let Some(_g) = root_or_skip("tcpretrans endings") else {
        return;
    };
    for args in [&[][..], &["-c"]] {
        let mut kid = Command::new(tool("tcpretrans"))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = String::new();
        let mut r = BufReader::new(kid.stdout.take().unwrap());
        r.read_line(&mut first).unwrap();
        assert!(
            first.starts_with("TIME ") || first.starts_with("LADDR:LPORT "),
            "{first}"
        );
        drop(r);
        let end = Instant::now() + Duration::from_secs(10);
        let st = loop {
            if let Some(st) = kid.try_wait().unwrap() {
                break st;
            }
            if Instant::now() > end {
                let _ = kid.kill();
                panic!("{args:?}: still running after its reader left");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        assert_eq!(st.code(), Some(0), "{args:?}");
    }
    for args in [&["-j", "-v"][..], &["-c", "-j", "-v"]] {
        let mut t = ToolRun::start("tcpretrans", args, Stdio::null());
        t.wait_ready(Duration::from_secs(30));
        t.signal(Signal::SIGTERM);
        let f = t.wait(Duration::from_secs(20));
        assert_eq!(f.code(), 0, "{args:?}: {}", f.stderr);
        json_summary(&json_lines(&f.stdout));
    }
    let out = Command::new(tool("tcpretrans"))
        .args(["-c", "-j", "-d", "1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v = json_lines(&String::from_utf8_lossy(&out.stdout));
    assert!(json_summary(&v)["flows"].is_u64());
}

/// A SYN the kernel drops (a loopback listener in a namespace of ours whose
/// accept queue is full: kernels/guest/csprobe.c `synq`, the smoke test's
/// workload) is retransmitted in SYN_SENT: rows with the connecting
/// socket's own port, as many as
/// the kernel's count for that socket.
#[test]
fn syn_retransmits_show_syn_sent_and_the_connecting_port() {
    let Some(_g) = root_or_skip("tcpretrans syn") else {
        return;
    };
    let dir = crate::util::TempDir::new(0o755);
    let probe = dir.path().join("csprobe");
    let src = concat!(env!("CARGO_MANIFEST_DIR"), "/kernels/guest/csprobe.c");
    let cc = Command::new("cc")
        .args(["-O1", "-o"])
        .arg(&probe)
        .arg(src)
        .status()
        .unwrap();
    assert!(cc.success(), "cc {src}");
    let net = Net::new("syn");
    let port = 21313u16;
    let mut t = ToolRun::start("tcpretrans", &["-j", "-v"], Stdio::null());
    t.wait_ready(Duration::from_secs(30));
    let mut kid = crate::util::ChildGuard(
        Command::new("ip")
            .args(["netns", "exec", &net.a])
            .arg(&probe)
            .args(["synq", &port.to_string(), "2600"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut line = String::new();
    BufReader::new(kid.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let cport: u16 = line
        .trim()
        .strip_prefix("client_port=")
        .unwrap()
        .parse()
        .unwrap();
    std::thread::sleep(Duration::from_millis(2300)); // SYN RTO: 1 s
    let filter = format!("( sport = :{cport} )");
    let ss = sh(&[
        "ip", "netns", "exec", &net.a, "ss", "-tinH", "state", "syn-sent", &filter,
    ]);
    let k: u64 = ss
        .split_whitespace()
        .find_map(|w| w.strip_prefix("retrans:"))
        .and_then(|r| r.split('/').nth(1))
        .map_or(0, |n| n.parse().unwrap());
    assert!(k > 0, "no SYN retransmit: {ss}");
    assert!(kid.wait_timeout(Duration::from_secs(10)).success());
    std::thread::sleep(Duration::from_millis(300));
    let v = stop_json(t);
    let lo: IpAddr = "127.0.0.1".parse().unwrap();
    let rows: Vec<&Value> = v
        .iter()
        .filter(|e| e["type"] == "event" && is_flow(e, lo, cport, lo, port))
        .collect();
    assert_eq!(rows.len() as u64, k, "{v:?}");
    assert!(rows.iter().all(|r| r["state"] == "SYN_SENT"), "{rows:?}");
    // Nothing else of this namespace's with the listener's port as its own.
    assert!(!v
        .iter()
        .any(|e| e["type"] == "event" && e["lport"] == port && e["rport"] == port));
}
