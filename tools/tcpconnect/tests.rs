use super::*;
use corescope::output::{csv_header_line, csv_line, header_line, json_line, table_line};

fn args(a: &str) -> Result<Args, clap::Error> {
    corescope::cli::try_parse_from(
        SHORTS,
        ["tcpconnect"].into_iter().chain(a.split_whitespace()),
    )
}

fn event(s: &str, d: &str, comm: &[u8], result: u8) -> Event {
    let mut e = Event::default();
    (e.pid, e.tid, e.uid, e.lport, e.dport) = (4242, 4243, 1000, 51234, 8080);
    (e.lat_ns, e.result) = (1_234_567, result);
    e.ts_ns = corescope::clock::monotonic_ns() + 1_000_000;
    let ip = |a: &str| corescope::net::addr_bytes(a.parse().unwrap());
    (e.saddr, e.daddr, e.family) = (ip(s), ip(d), [2, 10][usize::from(s.contains(':'))]);
    e.comm[..comm.len()].copy_from_slice(comm);
    e
}

fn render(flags: &str, e: &Event) -> (String, String, serde_json::Value) {
    let (a, mut j) = (args(flags).unwrap(), Vec::new());
    let out = Output::new(false).unwrap();
    let mut e = *e;
    e.ts_ns = corescope::clock::monotonic_ns() + 1_000_000;
    let r = row(&e, &out).unwrap();
    json_line("event", &r, &mut j).unwrap();
    let j = serde_json::from_slice(&j).unwrap();
    (header_line::<Conn>(&a), table_line(&r, &a), j)
}

#[test]
fn table_rows_align_under_bcc_headers() {
    let (h, r, _) = render("", &event("127.0.0.1", "127.0.0.2", b"curl", 0));
    let want = "PID     COMM         IP SADDR            DADDR            DPORT
4242    curl         4  127.0.0.1        127.0.0.2        8080";
    assert_eq!(format!("{h}\n{r}"), want);
    let (h, r, _) = render("-L -U", &event("::1", "fd00::2", b"a-very-long-cmd!", 1));
    let want = "UID    PID     COMM         IP SADDR            LPORT  DADDR            DPORT
1000   4242    a-very-long- 6  ::1              51234  fd00::2          8080";
    assert_eq!(format!("{h}\n{r}"), want);
    let (h, r, _) = render("--latency -T -t", &event("127.0.0.1", "127.0.0.1", b"x", 0));
    assert!(h.starts_with("TIME     TIME(s)   PID "), "{h}");
    assert!(h.ends_with("DPORT  LAT(ms)"), "{h}");
    assert!(
        r[..8].matches(':').count() == 2 && r[9..].starts_with("0.00"),
        "{r}"
    );
    assert!(r.ends_with(" 8080   1.23"), "{r}");
}

#[test]
fn hostile_comm_is_escaped_and_cut_and_long_addresses_keep_columns() {
    let (h, r, _) = render(
        "",
        &event("127.0.0.1", "127.0.0.1", b"ab\x1b[2J\x1b[Hcdef", 0),
    );
    assert!(r.starts_with("4242    ab\\e[2J\\e[Hc 4  127.0.0.1 "), "{r}");
    assert_eq!(h.find("SADDR"), r.find("127.0."));
    let (h, r, _) = render("", &event("::ffff:127.0.0.1", "::ffff:10.0.0.2", b"x", 0));
    let want = "4242    x            6  ::ffff:127.0.0.1 ::ffff:10.0.0.2  8080";
    assert_eq!(r, want);
    assert_eq!(h.find("DPORT"), r.find("8080"));
    let (_, _, j) = render("-j", &event("127.0.0.1", "127.0.0.1", b"\xff\x01q", 0));
    // Not UTF-8: the bytes, base64 (the shared KStr convention).
    assert_eq!(j["comm"], serde_json::json!({"bytes": "/wFx"}));
}

#[test]
fn csv_and_json() {
    let a = args("-L -U").unwrap();
    let out = Output::new(false).unwrap();
    let e = event("10.0.0.1", "10.0.0.2", b"a,b", 1);
    let r = row(&e, &out).unwrap();
    assert_eq!(
        csv_header_line::<Conn>(&a),
        "UID,PID,COMM,IP,SADDR,LPORT,DADDR,DPORT"
    );
    assert_eq!(
        csv_line(&r, &a),
        "1000,4242,\"a,b\",4,10.0.0.1,51234,10.0.0.2,8080"
    );
    let (_, _, mut v) = render("-j", &event("fd00::1", "::1", b"srv", 1));
    let o = v.as_object_mut().unwrap();
    assert!(o.remove("time").is_some() && o.remove("timestamp").is_some_and(|t| t.is_f64()));
    let want = serde_json::json!({"type": "event", "schema": 1, "uid": 1000, "pid": 4242, "tid": 4243,
        "comm": "srv", "family": "ipv6", "saddr": "fd00::1", "lport": 51234, "daddr": "::1",
        "dport": 8080, "result": "failed", "latency_us": 1234.567});
    assert_eq!(v, want);
}

#[test]
fn count_rows_table() {
    let r = CountRow {
        family: Family::Ipv4,
        saddr: "127.0.0.1".parse().unwrap(),
        daddr: "127.0.0.2".parse().unwrap(),
        dport: 80,
        connects: 7,
    };
    let want = "LADDR                     RADDR                     RPORT  CONNECTS
127.0.0.1                 127.0.0.2                 80     7";
    assert_eq!(
        format!("{}\n{}", header_line::<CountRow>(&()), table_line(&r, &())),
        want
    );
    let mut j = Vec::new();
    json_line("count", &r, &mut j).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&j).unwrap();
    let want = serde_json::json!({"type": "count", "schema": 1, "family": "ipv4", "saddr": "127.0.0.1",
        "daddr": "127.0.0.2", "dport": 80, "connects": 7});
    assert_eq!(v, want);
}

/// The hot path (row, output) allocates nothing per event after warm-up,
/// in the table (every column), CSV-free JSON and --latency.
#[test]
fn rows_allocate_nothing_per_event() {
    use corescope::alloc_count::{null_output, steady};
    let e4 = event("127.0.0.1", "127.0.0.1", b"a\x1b", 0);
    let e6 = event("::1", "fd00::1", b"srv", 1);
    for flags in ["", "-T -t -L -U", "--latency -L", "-j", "-j --latency"] {
        let mut a = args(flags).unwrap();
        let mut out = null_output(a.common.run.json);
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
    let a = args("-T -t -L -U -P 80,8000-8100 -4 -u 0 --max-pending 9").unwrap();
    assert!(a.time && a.timestamp && a.lport && a.print_uid && a.family.af() == 2);
    assert!(a.port.is_some_and(|p| p.contains(8050) && !p.contains(81)));
    assert_eq!((a.common.filter.uid, a.max_pending), (Some(0), 9));
    let a = args("--latency -m 1.5 -6 -p 1 -c /x --comm sh -d 2 -v -- true").unwrap();
    assert!(a.latency && a.min_ms == Some(1.5) && a.family.af() == 10);
    assert_eq!(a.common.filter.cmd, ["true"]);
    let a = args("--count -P 443 --max-flows 5 -j").unwrap();
    assert!(a.count && a.max_flows == 5 && a.common.run.json);
    for bad in "-4 -6|-m 1|--latency -m -1|--latency -m x|--count --latency|--count -L|-P 0|\
                -P 80,|--max-pending 0|--max-flows 0|-x"
        .split('|')
    {
        assert!(args(bad).is_err(), "{bad}");
    }
}
