//! Root tests for tcpdrop: SYNs to a closed loopback port, made in a
//! network namespace the test creates and deletes (a Drop guard) by
//! tools/tcpdrop/closedport.c from known ports: the kernel refuses them
//! (ECONNREFUSED: no socket) and drops each SYN with NO_SOCKET; a UDP
//! datagram to the same closed port is dropped too but is no TCP packet.
//!
//! Off CI, without root, each test prints why it skips; with CI=true it fails.

use std::process::{Command, Stdio};
use std::time::Duration;

use nix::sys::signal::Signal;
use serde_json::Value;

use crate::util::{compile_helper, json_lines, json_summary, root_or_skip, tool, TempDir, ToolRun};

/// A namespace with only `lo` up; deleted on drop.
struct Ns(String);

impl Ns {
    fn new(tag: &str) -> Self {
        let n = format!("cstd-{tag}-{}", std::process::id());
        let ok = |a: &[&str]| {
            assert!(
                Command::new("ip").args(a).status().unwrap().success(),
                "{a:?}"
            )
        };
        ok(&["netns", "add", &n]);
        let ns = Ns(n);
        ok(&["-n", &ns.0, "link", "set", "lo", "up"]);
        ns
    }

    /// closedport in this namespace; asserts every connect was refused.
    fn closed(&self, bin: &std::path::Path, fam: u8, sport: u16, dport: u16, n: u32) {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.0])
            .arg(bin)
            .args([
                fam.to_string(),
                sport.to_string(),
                dport.to_string(),
                n.to_string(),
            ])
            .output()
            .unwrap();
        let s = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{s} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(s.trim(), format!("refused={n}"));
    }
}

impl Drop for Ns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

fn stop(mut t: ToolRun) -> (Vec<Value>, String) {
    std::thread::sleep(Duration::from_millis(300)); // rows come on a 100 ms tick
    t.signal(Signal::SIGINT);
    let f = t.wait(Duration::from_secs(20));
    assert_eq!(f.code(), 0, "{}", f.stderr);
    (
        if f.stdout.starts_with('{') {
            json_lines(&f.stdout)
        } else {
            Vec::new()
        },
        f.stdout,
    )
}

fn ours(v: &[Value], port: u16) -> Vec<&Value> {
    v.iter()
        .filter(|e| e["type"] == "event" && (e["dport"] == port || e["sport"] == port))
        .collect()
}

/// Three refused SYNs per family: three rows each, with the exact
/// addresses and ports, SYN, no socket, NO_SOCKET (the kernel's name, read
/// from its BTF); the UDP drop to the same port is not shown; -4 and -6
/// keep their family; --stack gives kernel frames (tcp_v4_rcv's path);
/// the table shows BCC's row plus the reason.
#[test]
fn syn_to_a_closed_port_is_no_socket_with_exact_ports() {
    let Some(_g) = root_or_skip("tcpdrop closed port") else {
        return;
    };
    let dir = TempDir::new(0o755);
    let bin = compile_helper("closedport", dir.path());
    let ns = Ns::new("cp");
    let (sport, dport) = (40311u16, 21321u16);
    let mut tools = Vec::new();
    for args in [
        &["-j", "-v"][..],
        &["-4", "-j", "-v"],
        &["-6", "-j", "-v"],
        &["--stack", "-j", "-v"],
        &["--stack", "-v"],
    ] {
        let mut t = ToolRun::start("tcpdrop", args, Stdio::null());
        t.wait_ready(Duration::from_secs(30));
        tools.push(t);
    }
    ns.closed(&bin, 4, sport, dport, 3);
    ns.closed(&bin, 6, sport + 1, dport, 3);
    let mut tools = tools.into_iter();
    let (all, _) = stop(tools.next().unwrap());
    json_summary(&all);
    let rows = ours(&all, dport);
    assert_eq!(rows.len(), 6, "{all:?}");
    for (fam, addr, sp) in [("ipv4", "127.0.0.1", sport), ("ipv6", "::1", sport + 1)] {
        let r: Vec<_> = rows.iter().filter(|r| r["family"] == fam).collect();
        assert_eq!(r.len(), 3, "{fam}: {rows:?}");
        for e in r {
            assert_eq!(
                (&e["saddr"], &e["daddr"]),
                (&addr.into(), &addr.into()),
                "{e}"
            );
            assert_eq!(
                (&e["sport"], &e["dport"]),
                (&sp.into(), &dport.into()),
                "{e}"
            );
            assert_eq!(e["reason"], "NO_SOCKET", "{e}");
            assert_eq!(e["flags"], serde_json::json!(["SYN"]), "{e}");
            assert!(e["state"].is_null(), "{e}");
            assert!(e.get("kernel_stack").is_none());
        }
    }
    let (v4, _) = stop(tools.next().unwrap());
    assert!(ours(&v4, dport).iter().all(|e| e["family"] == "ipv4"));
    assert_eq!(ours(&v4, dport).len(), 3);
    let (v6, _) = stop(tools.next().unwrap());
    assert!(ours(&v6, dport).iter().all(|e| e["family"] == "ipv6"));
    assert_eq!(ours(&v6, dport).len(), 3);
    let (st, _) = stop(tools.next().unwrap());
    let rows = ours(&st, dport);
    assert_eq!(rows.len(), 6);
    for e in rows {
        let frames = e["kernel_stack"]
            .as_array()
            .unwrap_or_else(|| panic!("{e}"));
        let syms: Vec<&str> = frames.iter().filter_map(|f| f["symbol"].as_str()).collect();
        let rcv = if e["family"] == "ipv4" {
            "tcp_v4_rcv"
        } else {
            "tcp_v6_rcv"
        };
        assert!(syms.contains(&rcv), "{rcv} not in {syms:?}");
        // The program and the tracepoint's glue are not shown: the stack
        // starts in the kernel's drop path.
        assert!(
            syms.len() > 3
                && !syms[0].starts_with("bpf_")
                && syms[..3].iter().any(|s| s.contains("drop")),
            "{syms:?}"
        );
        assert!(frames
            .iter()
            .all(|f| f["module"].is_null() || f["module"] == "kernel"));
    }
    let (_, table) = stop(tools.next().unwrap());
    let head = "TIME     PID     IP SADDR:SPORT          > DADDR:DPORT          STATE (FLAGS)            REASON";
    assert_eq!(table.lines().next(), Some(head));
    let want = format!(
        "{:<20} > {:<20} - (SYN)                  NO_SOCKET",
        format!("127.0.0.1:{sport}"),
        format!("127.0.0.1:{dport}")
    );
    let at: Vec<usize> = table
        .lines()
        .enumerate()
        .filter(|(_, l)| l.len() > 20 && l[20..] == want)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(at.len(), 3, "want 3 rows ending {want:?}:\n{table}");
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        lines[at[0] + 1].starts_with("        ") && table.contains("tcp_v4_rcv"),
        "{table}"
    );
}

/// Task filters are refused with the reason; Ctrl-C, SIGTERM, -d and a
/// closed pipe end it with 0.
#[test]
fn refusals_and_endings() {
    let Some(_g) = root_or_skip("tcpdrop endings") else {
        return;
    };
    let out = Command::new(tool("tcpdrop"))
        .args(["--pid", "1"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.starts_with("tcpdrop: error: tcpdrop takes no --pid: packets are dropped"),
        "{err}"
    );
    assert!(err.contains("\nhint: "), "{err}");
    let out = Command::new(tool("tcpdrop"))
        .args(["-j", "-d", "1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    json_summary(&json_lines(&String::from_utf8_lossy(&out.stdout)));
    let mut t = ToolRun::start("tcpdrop", &["-v"], Stdio::null());
    t.wait_ready(Duration::from_secs(30));
    t.signal(Signal::SIGTERM);
    assert_eq!(t.wait(Duration::from_secs(20)).code(), 0);
    let sh = format!("{} | head -1", tool("tcpdrop").display());
    let out = Command::new("sh").args(["-c", &sh]).output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("TIME "));
}
