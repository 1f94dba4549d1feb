use super::*;
use corescope::output::{header_line, json_line, table_line};

fn args(a: &str) -> Result<Args, clap::Error> {
    corescope::cli::try_parse_from(
        Args::SHORTS,
        ["tcpaccept"].into_iter().chain(a.split_whitespace()),
    )
}

fn event(l: &str, r: &str, comm: &[u8]) -> Event {
    let mut e = Event::default();
    (e.pid, e.tid, e.uid, e.lport, e.rport, e.fd) = (4242, 4243, 33, 8080, 51234, 5);
    e.ts_ns = corescope::clock::monotonic_ns() + 1_000_000;
    let ip = |a: &str| corescope::net::addr_bytes(a.parse().unwrap());
    (e.laddr, e.raddr, e.family) = (ip(l), ip(r), [2, 10][usize::from(l.contains(':'))]);
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
    (header_line::<Accept>(&a), table_line(&r, &a), j)
}

#[test]
fn table_rows_align_under_bcc_headers() {
    let (h, r, _) = render("", &event("127.0.0.1", "127.0.0.2", b"nginx"));
    let want = "PID     COMM         IP RADDR            RPORT LADDR            LPORT
4242    nginx        4  127.0.0.2        51234 127.0.0.1        8080";
    assert_eq!(format!("{h}\n{r}"), want);
    let (h, r, _) = render("-T -t", &event("::1", "fd00::2", b"a-very-long-srv!"));
    assert!(h.starts_with("TIME     TIME(s)   PID     COMM "), "{h}");
    assert!(
        r[..8].matches(':').count() == 2 && r[9..].starts_with("0.00"),
        "{r}"
    );
    assert!(
        r.ends_with("4242    a-very-long- 6  fd00::2          51234 ::1              8080"),
        "{r}"
    );
}

#[test]
fn hostile_comm_is_escaped_and_long_addresses_keep_columns() {
    let (h, r, _) = render(
        "",
        &event("::ffff:127.0.0.1", "::ffff:10.0.0.2", b"\x1b[2J\x1b[H"),
    );
    let want = "4242    \\e[2J\\e[H    6  ::ffff:10.0.0.2  51234 ::ffff:127.0.0.1 8080";
    assert_eq!(r, want);
    assert_eq!(h.find("LPORT"), r.find("8080"));
    let (_, _, j) = render("-j", &event("10.0.0.1", "10.0.0.2", b"a\"b\\"));
    assert_eq!(j["comm"], "a\"b\\");
}

#[test]
fn json_record() {
    let (_, _, mut v) = render("-j", &event("fd00::1", "::1", b"srv"));
    let o = v.as_object_mut().unwrap();
    assert!(o.remove("time").is_some() && o.remove("timestamp").is_some_and(|t| t.is_f64()));
    let want = serde_json::json!({"type": "event", "schema": 1, "uid": 33, "pid": 4242, "tid": 4243,
        "comm": "srv", "family": "ipv6", "laddr": "fd00::1", "lport": 8080, "raddr": "::1",
        "rport": 51234, "fd": 5});
    assert_eq!(v, want);
}

/// The hot path (row, output) allocates nothing per event after warm-up.
#[test]
fn rows_allocate_nothing_per_event() {
    use corescope::alloc_count::{null_output, steady};
    let (e4, e6) = (
        event("127.0.0.1", "127.0.0.1", b"a\x1b"),
        event("::1", "fd00::1", b"s"),
    );
    for flags in ["", "-T -t", "-j"] {
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
    let a = args("-T -t -P 80,8000-8100 -4").unwrap();
    assert!(a.time && a.timestamp && a.family.af() == 2);
    assert!(a.port.is_some_and(|p| p.contains(8000) && !p.contains(81)));
    let a = args("-6 -p 1 -c /x --comm sh -d 2 -v -j -- true").unwrap();
    assert!(a.family.af() == 10 && a.common.run.json && a.common.filter.cmd == ["true"]);
    for bad in "-4 -6|-P 0|-P 1,|-P 9-8|-L|-x".split('|') {
        assert!(args(bad).is_err(), "{bad}");
    }
}
