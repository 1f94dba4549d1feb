//! Root tests for bindsnoop: tools/bindsnoop/bind_helper.c binds TCP and
//! UDP sockets, IPv4 and IPv6, with SO_REUSEADDR, SO_REUSEPORT,
//! IP_FREEBIND and IP_BIND_ADDRESS_NO_PORT, to ports the test picked, one
//! bind failing with EADDRINUSE, plus a Unix socket and a non-socket fd
//! (not reported), and records each bind's own result (getsockname() for
//! the bound port): each row is checked field by field against that
//! record. As root they run; without root they skip and say why, except
//! with CI=true, where they fail.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::Value;

use crate::util::{
    compile_helper, json_events, json_lines, json_summary, root_or_skip, TempDir, ToolRun,
};

fn helper() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bindsnoop-helper");
        std::fs::create_dir_all(&dir).expect("helper dir");
        compile_helper("bind_helper", &dir)
    })
    .clone()
}

/// Three ports free now (TCP on 127.0.0.1, UDP on 0.0.0.0, TCP on ::1:
/// what the helper binds them as), released before the helper runs.
fn free_ports() -> [u16; 3] {
    let t = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
    let u = std::net::UdpSocket::bind("0.0.0.0:0").expect("port");
    let t6 = std::net::TcpListener::bind("[::1]:0").expect("port");
    let port = |a: std::io::Result<std::net::SocketAddr>| a.expect("local_addr").port();
    [
        port(t.local_addr()),
        port(u.local_addr()),
        port(t6.local_addr()),
    ]
}

/// One bind as the helper recorded it.
#[derive(Debug)]
struct Bind {
    fd: i64,
    proto: String,
    family: &'static str,
    addr: String,
    requested: u64,
    port: u64,
    ret: i64,
    opts: String,
}

/// Runs bindsnoop `args` `-- helper`: the helper's PID, its binds, and
/// the tool's stdout.
fn run(args: &[&str]) -> (u64, Vec<Bind>, String) {
    run_with(free_ports(), args)
}

/// [`run`] with the helper's ports P1 P2 P3 given.
fn run_with(ports: [u16; 3], args: &[&str]) -> (u64, Vec<Bind>, String) {
    let dir = TempDir::new(0o755);
    let rec = dir.path().join("binds");
    let [p1, p2, p3] = ports.map(|p| p.to_string());
    let h = helper();
    let mut all: Vec<&str> = args.to_vec();
    let rec_s = rec.to_str().expect("utf-8 path");
    let h_s = h.to_str().expect("utf-8 path");
    all.extend(["--", h_s, rec_s, &p1, &p2, &p3]);
    let mut t = ToolRun::start("bindsnoop", &all, Stdio::null());
    let f = t.wait(Duration::from_secs(60));
    assert_eq!(f.code(), 0, "bindsnoop {args:?}: {}", f.stderr);
    let text = std::fs::read_to_string(&rec).expect("the helper's record");
    let mut lines = text.lines();
    let pid = lines
        .next()
        .and_then(|l| l.strip_prefix("pid "))
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("helper record {text:?}"));
    let binds: Vec<Bind> = lines
        .map(|l| {
            let w: Vec<&str> = l.split(' ').collect();
            assert_eq!(w.len(), 8, "{l:?}");
            let n = |i: usize| w[i].parse::<i64>().unwrap_or_else(|_| panic!("{l:?}"));
            Bind {
                fd: n(0),
                proto: w[1].into(),
                family: if w[2] == "4" { "ipv4" } else { "ipv6" },
                addr: w[3].into(),
                requested: n(4) as u64,
                port: n(5) as u64,
                ret: n(6),
                opts: w[7].into(),
            }
        })
        .collect();
    assert_eq!(binds.len(), 6, "{text}");
    (pid, binds, f.stdout)
}

/// Every row equals the helper's record, and the helper's binds are all
/// there (the Unix socket and the /dev/null fd are not).
fn check(pid: u64, want: &[&Bind], events: &[&Value]) {
    assert_eq!(events.len(), want.len(), "{want:#?}\n{events:#?}");
    for (b, e) in want.iter().zip(events) {
        let ctx = format!("{b:?}\n{e}");
        assert_eq!(
            (e["pid"].as_u64(), e["tid"].as_u64()),
            (Some(pid), Some(pid)),
            "{ctx}"
        );
        assert_eq!(e["comm"], "bind_helper", "{ctx}");
        assert_eq!(e["fd"], b.fd, "{ctx}");
        assert_eq!(e["proto"], b.proto.as_str(), "{ctx}");
        assert_eq!(e["family"], b.family, "{ctx}");
        assert_eq!(e["addr"], b.addr.as_str(), "{ctx}");
        assert_eq!(e["requested_port"], b.requested, "{ctx}");
        assert_eq!(e["port"], b.port, "{ctx}");
        assert_eq!(e["ret"], b.ret, "{ctx}");
        assert_eq!(e["opts"], b.opts.as_str(), "{ctx}");
        let err = (b.ret == -98).then_some("EADDRINUSE");
        assert_eq!(e["error"].as_str(), err, "{ctx}");
        assert_eq!(e["bound_if"], 0, "{ctx}");
        assert_eq!(e["uid"], 0, "{ctx}");
    }
}

/// JSON: every field of every bind, in order.
#[test]
fn binds_match_the_helpers_record() {
    let Some(_root) = root_or_skip("binds_match_the_helpers_record") else {
        return;
    };
    let (pid, binds, out) = run(&["-j"]);
    let v = json_lines(&out);
    let s = json_summary(&v);
    assert_eq!(
        (s["lost"].as_u64(), s["events"].as_u64()),
        (Some(0), Some(6)),
        "{s}"
    );
    check(pid, &binds.iter().collect::<Vec<_>>(), &json_events(&v));
    // The cases the helper is meant to make, so that the test covers them.
    let kinds: Vec<(&str, &str, i64, &str)> = binds
        .iter()
        .map(|b| (b.proto.as_str(), b.family, b.ret, b.opts.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("TCP", "ipv4", 0, "...R."),
            ("UDP", "ipv4", 0, "....."),
            ("TCP", "ipv6", 0, "....r"),
            ("UDP", "ipv6", 0, "....."),
            ("TCP", "ipv4", -98, "....."),
            ("TCP", "ipv4", 0, "F.N.."),
        ]
    );
    assert_ne!(
        binds[3].port, 0,
        "the kernel chose a port for the port-0 bind"
    );
    assert_eq!(
        binds[5].port, 0,
        "IP_BIND_ADDRESS_NO_PORT leaves the port 0"
    );
}

/// The table: libbpf-tools' columns, the same values.
#[test]
fn table_rows_in_libbpf_tools_columns() {
    let Some(_root) = root_or_skip("table_rows_in_libbpf_tools_columns") else {
        return;
    };
    let (pid, binds, out) = run(&["-U"]);
    let mut lines = out.lines();
    assert_eq!(
        lines.next(),
        Some("UID    PID     COMM             RET PROTO OPTS  IF   PORT  ADDR")
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split_whitespace().collect()).collect();
    let want: Vec<Vec<String>> = binds
        .iter()
        .map(|b| {
            let mut r = vec!["0".to_string(), pid.to_string(), "bind_helper".into()];
            r.extend([
                b.ret.to_string(),
                b.proto.clone(),
                b.opts.clone(),
                "0".into(),
            ]);
            r.extend([b.port.to_string(), b.addr.clone()]);
            r
        })
        .collect();
    assert_eq!(rows, want, "{out}");
}

/// -x (failed only), -P (ports, in the kernel), -4 and -6.
#[test]
fn failed_ports_and_family_filters() {
    let Some(_root) = root_or_skip("failed_ports_and_family_filters") else {
        return;
    };
    let ev = |out: &str| json_lines(out);
    // -x: the EADDRINUSE bind only.
    let (pid, binds, out) = run(&["-j", "-x"]);
    let v = ev(&out);
    let want: Vec<&Bind> = binds.iter().filter(|b| b.ret < 0).collect();
    assert_eq!(want.len(), 1);
    check(pid, &want, &json_events(&v));

    // -P P1,P3: P1's two binds (the success by its bound port, the
    // failure by its requested one) and P3's; not P2's, nor the ports
    // the kernel chose.
    let ports = free_ports();
    let list = format!("{},{}", ports[0], ports[2]);
    let (pid, binds, out) = run_with(ports, &["-j", "-P", &list]);
    let want: Vec<&Bind> = binds
        .iter()
        .filter(|b| b.port == u64::from(ports[0]) || b.port == u64::from(ports[2]))
        .collect();
    assert_eq!(want.len(), 3, "{binds:?}");
    check(pid, &want, &json_events(&ev(&out)));
    // A range: P2 only (it is not the other two).
    let list = format!("{}-{}", ports[1], ports[1]);
    let (pid, binds, out) = run_with(ports, &["-j", "-P", &list]);
    let want: Vec<&Bind> = binds
        .iter()
        .filter(|b| b.port == u64::from(ports[1]))
        .collect();
    assert_eq!(want.len(), 1, "{binds:?}");
    check(pid, &want, &json_events(&ev(&out)));

    // -4 / -6.
    for (flag, fam) in [("-4", "ipv4"), ("-6", "ipv6")] {
        let (pid, binds, out) = run(&["-j", flag]);
        let want: Vec<&Bind> = binds.iter().filter(|b| b.family == fam).collect();
        check(pid, &want, &json_events(&ev(&out)));
    }
}

/// `bindsnoop | head -1` ends with exit 0 once the reader is gone; SIGTERM
/// ends a run with exit 0 and its summary.
#[test]
fn closed_pipe_and_sigterm_end_cleanly() {
    let Some(_root) = root_or_skip("closed_pipe_and_sigterm_end_cleanly") else {
        return;
    };
    crate::util::closed_pipe_and_sigterm_end_cleanly("bindsnoop", || {
        run(&["-j"]);
    });
}
