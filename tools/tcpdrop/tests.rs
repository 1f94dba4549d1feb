use super::*;
use corescope::output::{header_line, json_line, table_line};

fn reasons() -> Reasons {
    let names: [(u32, &[u8]); 5] = [
        (0, b"SKB_NOT_DROPPED_YET"),
        (1, b"SKB_CONSUMED"),
        (2, b"NOT_SPECIFIED"),
        (3, b"NO_SOCKET"),
        (77, b"TCP\x1b[2J"),
    ];
    Reasons(names.iter().map(|(v, n)| (*v, n.to_vec())).collect())
}

fn tool(stack: bool) -> Tcpdrop {
    Tcpdrop {
        reasons: reasons(),
        sym: stack.then(StackSymbolizer::new),
        addrs: Vec::new(),
        frames: Vec::new(),
        unnamed: String::new(),
    }
}

fn event(s: &str, d: &str, reason: u32, state: u8, flags: u8) -> Event {
    let ip = |a: &str| corescope::net::addr_bytes(a.parse().unwrap());
    let mut e = Event::default();
    (e.saddr, e.daddr) = (ip(s), ip(d));
    e.family = [2, 10][usize::from(s.contains(':'))];
    (e.sport, e.dport, e.reason, e.state, e.tcpflags) = (40000, 9, reason, state, flags);
    (e.pid, e.ts_ns) = (77, corescope::clock::monotonic_ns());
    e
}

fn render(t: &mut Tcpdrop, e: &Event) -> (String, String, serde_json::Value) {
    let out = Output::new(false).unwrap();
    t.prepare(e, &[]);
    let r = t.row(e, &out).unwrap();
    let mut j = Vec::new();
    json_line("event", &r, &mut j).unwrap();
    let line = table_line(&r, t);
    (
        header_line::<Drop>(t),
        line,
        serde_json::from_slice(&j).unwrap(),
    )
}

#[test]
fn reasons_come_from_the_enum_and_normal_frees_are_ignored() {
    let r = reasons();
    assert_eq!(r.max_ignored(), 2);
    assert_eq!(r.name(3), Some(&b"NO_SOCKET"[..]));
    assert_eq!(r.name(4), None);
    // 5.17-6.2: no CONSUMED, NOT_SPECIFIED = 1.
    let old = Reasons(vec![
        (0, b"SKB_NOT_DROPPED_YET".to_vec()),
        (1, b"NOT_SPECIFIED".to_vec()),
    ]);
    assert_eq!(old.max_ignored(), 1);
    // The running kernel's BTF has the enum, with NO_SOCKET.
    let k = Reasons::load(None).unwrap();
    assert!(k.0.iter().any(|(_, n)| n == b"NO_SOCKET"), "{k:?}");
    assert!(k.max_ignored() >= 1);
}

#[test]
fn table_and_json_rows() {
    let mut t = tool(false);
    let (h, r, v) = render(&mut t, &event("127.0.0.1", "127.0.0.1", 3, 0xff, 0x02));
    assert_eq!(
        h,
        "TIME     PID     IP SADDR:SPORT          > DADDR:DPORT          STATE (FLAGS)            REASON"
    );
    assert_eq!(
        &r[9..],
        "77      4  127.0.0.1:40000      > 127.0.0.1:9          - (SYN)                  NO_SOCKET"
    );
    let mut v = v;
    assert!(v.as_object_mut().unwrap().remove("time").is_some());
    let want = serde_json::json!({"type": "event", "schema": 1, "pid": 77, "family": "ipv4",
        "saddr": "127.0.0.1", "sport": 40000, "daddr": "127.0.0.1", "dport": 9,
        "state": null, "flags": ["SYN"], "reason": "NO_SOCKET", "reason_code": 3});
    assert_eq!(v, want);
    // A socket's state, several flags, an escaped name, an unnamed reason.
    let (_, r, _) = render(&mut t, &event("fd00::1", "fd00::2", 77, 1, 0x11));
    assert!(
        r.ends_with(&format!("{:<25}TCP\\e[2J", "ESTABLISHED (FIN|ACK)")),
        "{r}"
    );
    let (_, r, v) = render(&mut t, &event("fd00::1", "fd00::2", 999, 1, 0));
    assert!(r.ends_with(&format!("{:<25}999", "ESTABLISHED ()")), "{r}");
    assert_eq!(
        (&v["reason"], &v["reason_code"]),
        (&"999".into(), &999.into())
    );
}

/// The hot path (row, output) allocates nothing per event after warm-up,
/// in the table and JSON (without --stack: the stack's frames are names).
#[test]
fn rows_allocate_nothing_per_event() {
    use corescope::alloc_count::{null_output, steady};
    let e4 = event("10.0.0.1", "10.0.0.2", 3, 0xff, 0x14);
    let e6 = event("fd00::1", "::ffff:10.0.0.2", 999, 1, 0x02);
    for json in [false, true] {
        let mut t = tool(false);
        let mut out = null_output(json);
        let n = steady(|| {
            for e in [&e4, &e6] {
                t.event(e, &[], &mut out).unwrap();
            }
        });
        assert_eq!(n, 0, "json {json}");
    }
}

#[test]
fn flags_parse() {
    let a: Args =
        corescope::cli::try_parse_from(SHORTS, ["tcpdrop", "--stack", "-4", "-j"]).unwrap();
    assert!(a.stack && a.family.af() == 2 && a.run.json);
    for bad in ["-4 -6", "-s", "-c 1"] {
        let argv = ["tcpdrop"].into_iter().chain(bad.split_whitespace());
        assert!(
            corescope::cli::try_parse_from::<Args, _, _>(SHORTS, argv).is_err(),
            "{bad}"
        );
    }
}
