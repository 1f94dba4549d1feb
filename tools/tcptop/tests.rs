//! Unit tests of tcptop's CLI and rows (no BPF).

use super::*;
use corescope::output::{header_line, table_line};

fn args(a: &[&str]) -> Result<Args, clap::Error> {
    corescope::cli::try_parse_from::<Args, _, _>(
        Tcptop::SHORTS,
        std::iter::once("tcptop").chain(a.iter().copied()),
    )
}

#[test]
fn bcc_letters() {
    let a = args(&[
        "-C", "-S", "-s", "sent", "-r", "5", "-4", "-p", "7", "2", "3",
    ])
    .unwrap();
    assert!(a.top.noclear && a.nosummary && a.family.af() == 2);
    assert_eq!((a.sort, a.top.rows), (Sort::Sent, 5));
    assert_eq!(a.common.filter.pid, vec![7]);
    assert_eq!(
        (a.top.interval.interval, a.top.interval.count),
        (2, Some(3))
    );
    let d = args(&[]).unwrap();
    assert_eq!(
        (d.sort, d.top.rows, d.nosummary, d.family.af()),
        (Sort::All, 20, false, 0)
    );
    assert_eq!(args(&["-6", "-c", "/x", "-j"]).unwrap().family.af(), 10);
    for bad in [&["-4", "-6"][..], &["-s", "bytes"], &["-r", "0"], &["0"]] {
        assert!(args(bad).is_err(), "{bad:?}");
    }
}

fn key(pid: u32, fam: u16, comm: &[u8]) -> Key {
    let mut k = Key {
        pid,
        family: fam,
        lport: 36889,
        rport: 48276,
        ..Key::default()
    };
    if fam == 2 {
        k.laddr[..4].copy_from_slice(&[127, 0, 0, 1]);
        k.raddr[..4].copy_from_slice(&[10, 0, 0, 2]);
    } else {
        k.laddr[15] = 1;
        k.raddr[15] = 1;
    }
    k.comm[..comm.len()].copy_from_slice(comm);
    k
}

#[test]
fn sort_fields_score_their_column() {
    let v = Value {
        sent: 30,
        received: 400,
    };
    assert_eq!(
        [Sort::All, Sort::Sent, Sort::Received].map(|s| s.score(&v)),
        [430, 30, 400]
    );
}

#[test]
fn rows_are_bcc_layout() {
    assert_eq!(
        header_line::<FlowRow<'_>>(&()),
        format!(
            "{:<7} {:<12} {:<21} {:<21} {:>6} {:>6}",
            "PID", "COMM", "LADDR", "RADDR", "RX_KB", "TX_KB"
        )
    );
    let k = key(4242, 2, b"tt_srv");
    let v = Value {
        sent: 0,
        received: 5_000_000,
    };
    let r = row(&k, &v).unwrap();
    assert_eq!(
        table_line(&r, &()),
        format!(
            "{:<7} {:<12} {:<21} {:<21} {:>6} {:>6}",
            4242, "tt_srv", "127.0.0.1:36889", "10.0.0.2:48276", 4882, 0
        )
    );
    assert_eq!(
        serde_json::to_value(&r).unwrap(),
        serde_json::json!({"pid": 4242, "comm": "tt_srv", "family": "ipv4",
            "laddr": "127.0.0.1", "lport": 36889, "raddr": "10.0.0.2", "rport": 48276,
            "rx_bytes": 5000000, "tx_bytes": 0})
    );
    let k6 = key(1, 10, b"x");
    let r = row(&k6, &v).unwrap();
    assert!(
        table_line(&r, &()).contains(" ::1:36889 "),
        "{}",
        table_line(&r, &())
    );
    // A family the BPF side never stores: no row rather than a wrong one.
    assert!(row(&key(1, 1, b"x"), &v).is_none());
}

#[test]
fn hostile_comm_is_escaped_in_the_table_exact_in_json() {
    let k = key(1, 2, b"e\x1b[2J\nv\"l");
    let r = row(&k, &Value::default()).unwrap();
    let line = table_line(&r, &());
    assert!(!line.contains('\x1b') && !line.contains('\n'), "{line:?}");
    assert!(line.contains(r"e\e[2J\nv"), "{line:?}");
    assert_eq!(serde_json::to_value(&r).unwrap()["comm"], "e\x1b[2J\nv\"l");
    // Not UTF-8: the JSON byte form.
    let k = key(1, 2, b"\xff\xfe");
    let r = row(&k, &Value::default()).unwrap();
    assert_eq!(serde_json::to_value(&r).unwrap()["comm"]["bytes"], "//4=");
}

#[test]
fn rows_allocate_nothing_per_event() {
    use corescope::alloc_count::{null_output, steady};
    let (k4, k6) = (key(7, 2, b"a,b"), key(8, 10, b"srv\x1b"));
    let v = Value {
        sent: 12345,
        received: 99,
    };
    for json in [false, true] {
        let mut out = null_output(json);
        let screen = Screen::new(&TopArgs::default());
        let n = steady(|| {
            for k in [&k4, &k6] {
                if let Some(r) = row(k, &v) {
                    screen.row(&mut out, &r, &()).unwrap();
                }
            }
        });
        assert_eq!(n, 0, "json={json}");
    }
}

#[test]
fn missing_tracepoint_names_the_release() {
    for tp in TRACEPOINTS {
        let e = load::missing_tracepoint("tcptop", tp);
        assert!(
            e.msg
                .starts_with(&format!("needs Linux >= 6.3 ({})", tp.replace('/', ":"))),
            "{}",
            e.msg
        );
        assert!(e
            .hint
            .as_deref()
            .is_some_and(|h| h.contains("corescope check")));
    }
    assert_eq!(
        load::needs_linux("sock_send_length").as_deref(),
        Some("needs Linux >= 6.3 (sock:sock_send_length)")
    );
    assert_eq!(load::needs_linux("sched_switch"), None);
    // On this kernel (6.3+) both exist, with the later prototype here.
    if let Ok(n) = load::btf_tracepoint_args("sock_send_length") {
        assert!(matches!(n, Some(3) | Some(5)), "{n:?}");
    }
    assert!(matches!(
        load::btf_tracepoint_args("no_such_tracepoint_x"),
        Ok(None) | Err(_)
    ));
}
