use super::*;
use corescope::output::{header_line, json_line, table_line};

fn args(a: &str) -> Result<Args, clap::Error> {
    corescope::cli::try_parse_from(
        SHORTS,
        ["tcpretrans"].into_iter().chain(a.split_whitespace()),
    )
}

fn key(l: &str, lport: u16, r: &str, rport: u16) -> Key {
    let ip = |a: &str| corescope::net::addr_bytes(a.parse().unwrap());
    let mut k = Key::default();
    (k.laddr, k.raddr, k.lport, k.rport) = (ip(l), ip(r), lport, rport);
    k.family = [2, 10][usize::from(l.contains(':'))];
    k
}

fn event(l: &str, r: &str, state: u32) -> Event {
    let mut e = Event::default();
    (e.pid, e.state, e.kind) = (0, state, 1);
    e.ts_ns = corescope::clock::monotonic_ns();
    e.flow = key(l, 22, r, 34619);
    e
}

fn render(flags: &str, e: &Event) -> (String, String, serde_json::Value) {
    let (a, mut j) = (args(flags).unwrap(), Vec::new());
    let out = Output::new(false).unwrap();
    let r = row(e, &out).unwrap();
    json_line("event", &r, &mut j).unwrap();
    let j = serde_json::from_slice(&j).unwrap();
    (header_line::<Retrans>(&a), table_line(&r, &a), j)
}

#[test]
fn table_rows_align_under_bcc_headers() {
    let (h, r, _) = render("", &event("10.153.223.157", "69.53.245.40", 1));
    assert_eq!(
        h,
        "TIME     PID     IP LADDR:LPORT          T> RADDR:RPORT          STATE"
    );
    // BCC's own example line (tools/tcpretrans_example.txt), past the time.
    let want = "0       4  10.153.223.157:22    R> 69.53.245.40:34619   ESTABLISHED";
    assert_eq!(&r[9..], want);
    assert_eq!(r[..8].matches(':').count(), 2, "{r}");
    let (_, r, _) = render("", &event("fd00::1", "fd00::2", 2));
    assert_eq!(
        &r[9..],
        "0       6  fd00::1:22           R> fd00::2:34619        SYN_SENT"
    );
    // A long IPv6 address overflows its column, keeps one space and takes
    // back the next column's padding (STATE stays in place).
    let (_, r, _) = render("", &event("fd00:1:2:3:4:5:6:7", "::1", 99));
    assert!(
        r.ends_with("6  fd00:1:2:3:4:5:6:7:22 R> ::1:34619           UNKNOWN"),
        "{r}"
    );
}

#[test]
fn json_record() {
    let (_, _, mut v) = render("-j", &event("10.0.0.1", "10.0.0.2", 4));
    let o = v.as_object_mut().unwrap();
    assert!(o.remove("time").is_some_and(|t| t.is_string()));
    let want = serde_json::json!({"type": "event", "schema": 1, "pid": 0, "family": "ipv4",
        "laddr": "10.0.0.1", "lport": 22, "raddr": "10.0.0.2", "rport": 34619,
        "state": "FIN_WAIT1", "kind": "retransmit"});
    assert_eq!(v, want);
    // An unknown family is no row.
    let mut e = event("10.0.0.1", "10.0.0.2", 1);
    e.flow.family = 1;
    assert!(row(&e, &Output::new(false).unwrap()).is_none());
}

#[test]
fn count_mode_sorts_by_count_and_prints_bcc_columns() {
    let f = flows([
        (key("10.0.0.1", 5, "10.0.0.2", 80), 3),
        (key("::1", 7, "::1", 9), 9),
        (key("10.0.0.1", 4, "10.0.0.2", 80), 3),
        (Key::default(), 5), // no family: dropped
    ]);
    let ports: Vec<(u16, u64)> = f.iter().map(|f| (f.ends.lport, f.retransmits)).collect();
    assert_eq!(ports, [(7, 9), (4, 3), (5, 3)]);
    assert_eq!(
        header_line::<Flow>(&()),
        "LADDR:LPORT              RADDR:RPORT              RETRANSMITS"
    );
    assert_eq!(
        table_line(&f[1], &()),
        "10.0.0.1:4               10.0.0.2:80              3"
    );
    let mut j = Vec::new();
    json_line("flow", &f[0], &mut j).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&j).unwrap();
    let want = serde_json::json!({"type": "flow", "schema": 1, "family": "ipv6", "laddr": "::1",
        "lport": 7, "raddr": "::1", "rport": 9, "retransmits": 9});
    assert_eq!(v, want);
}

/// The hot path (row, output) allocates nothing per event after warm-up,
/// in the table and JSON.
#[test]
fn rows_allocate_nothing_per_event() {
    use corescope::alloc_count::{null_output, steady};
    let e4 = event("10.0.0.1", "10.0.0.2", 1);
    let e6 = event("fd00:1:2:3:4:5:6:7", "::ffff:10.0.0.2", 2);
    for flags in ["", "-j"] {
        let mut a = args(flags).unwrap();
        let mut out = null_output(a.run.json);
        let n = steady(|| {
            for e in [&e4, &e6] {
                a.event(e, &[], &mut out).unwrap();
            }
        });
        assert_eq!(n, 0, "{flags}");
    }
}

#[test]
fn every_flag_parses_and_bad_ones_fail() {
    let a = args("-c -4 --max-flows 9 -j -d 2 -v --btf /x").unwrap();
    assert!(a.count && a.family.af() == 2 && a.max_flows == 9 && a.run.json);
    assert_eq!(a.run.duration, Some(2));
    let a = args("-6 -l").unwrap();
    assert!(a.family.af() == 10 && a.lossprobe && !a.count);
    for bad in "-4 -6|--max-flows 0|-p 1|-c 5|-C".split('|') {
        assert!(args(bad).is_err(), "{bad}");
    }
    // Task filters parse, to be refused with the reason (see root_tests).
    let a = args("--pid 1 --comm sh -- true").unwrap();
    assert_eq!(a.refused.given(), Some("--pid"));
}
