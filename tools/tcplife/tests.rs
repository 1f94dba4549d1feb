use super::*;
use corescope::output::{csv_header_line, csv_line, header_line, json_line, table_line};

fn args(a: &str) -> Result<Args, clap::Error> {
    corescope::cli::try_parse_from(
        Args::SHORTS,
        ["tcplife"].into_iter().chain(a.split_whitespace()),
    )
}

fn event(v6: bool, comm: &[u8], owner: u8) -> Event {
    let [l, r] = [["10.0.0.1", "127.0.0.1"], ["fd00::1", "::1"]][usize::from(v6)];
    event_at(l, r, comm, owner)
}

fn event_at(l: &str, r: &str, comm: &[u8], owner: u8) -> Event {
    let mut e = Event::default();
    (e.pid, e.lport, e.rport, e.owner) = (4242, 8080, 51234, owner);
    (e.tx_bytes, e.rx_bytes, e.span_ns) = (5000, 3_000_000, 12_340_000);
    e.ts_ns = corescope::clock::monotonic_ns() + 1_000_000;
    let ip = |a: &str| corescope::net::addr_bytes(a.parse().unwrap());
    let v6 = l.contains(':');
    (e.laddr, e.raddr, e.family) = (ip(l), ip(r), [2, 10][usize::from(v6)]);
    e.comm[..comm.len()].copy_from_slice(comm);
    e
}

fn render(flags: &str, e: &Event) -> (String, String, serde_json::Value) {
    let (a, mut j) = (args(flags).unwrap(), Vec::new());
    let out = Output::new(false).unwrap();
    // 1 ms after the clock's start, whatever the time it took to get here
    // (a loaded machine: the TIME(s) column must read 0.00…).
    let mut e = *e;
    e.ts_ns = corescope::clock::monotonic_ns() + 1_000_000;
    let r = row(&e, &out).unwrap();
    json_line("event", &r, &mut j).unwrap();
    let j = serde_json::from_slice(&j).unwrap();
    match a.csv {
        true => (csv_header_line::<Life>(&a), csv_line(&r, &a), j),
        false => (header_line::<Life>(&a), table_line(&r, &a), j),
    }
}

#[test]
fn table_rows_align_under_bcc_headers() {
    let (h, r, _) = render("", &event(false, b"server-process1", 2));
    let want = "PID     COMM       LADDR           LPORT RADDR           RPORT TX_KB RX_KB MS
4242    server-pro 10.0.0.1        8080  127.0.0.1       51234     4  2929 12.34";
    assert_eq!(format!("{h}\n{r}"), want);
    let (_, r, _) = render("", &event(false, b"", 0));
    assert!(r.starts_with("4242    [unknown]  10.0.0.1 "));
    let (h, r, _) = render("-w -T -t", &event(true, b"srv\x1b[2J", 2));
    assert!(h.starts_with("TIME     TIME(s)   PID     COMM             IP LADDR "));
    assert!(r[..8].matches(':').count() == 2 && r[9..].starts_with("0.00"));
    let want = "4242    srv\\e[2J         6  fd00::1                                 8080  ::1                                     51234      4   2929 12.34";
    assert_eq!((&r[19..], h.find("LPORT")), (want, r.find("8080")));
}

#[test]
fn escaped_comm_and_mapped_address_keep_columns() {
    // An escaped comm is cut to the column at whole escapes, never
    // leaving a dangling backslash.
    let (h, r, _) = render("", &event(false, b"abcdefghi\x1b", 2));
    let want = "4242    abcdefghi  10.0.0.1        8080  127.0.0.1       51234     4  2929 12.34";
    assert_eq!(r, want);
    assert_eq!(h.find("LADDR"), r.find("10.0."));
    let (_, r, _) = render("", &event(false, b"abcdefgh\x01", 2));
    assert!(r.starts_with("4242    abcdefgh   10.0.0.1 "), "{r}");
    // Wide: 16 characters, eight whole `\e`.
    let (h, r, _) = render("-w", &event(false, &[0x1b; 9], 2));
    assert!(
        r.starts_with(&format!("4242    {} 4  10.0.0.1 ", "\\e".repeat(8))),
        "{r}"
    );
    assert_eq!(h.find("LADDR"), r.find("10.0."));
    // An IPv4-mapped address (16 characters in a 15 one) takes back
    // the port's padding: RADDR and the rest stay in place.
    let (h, r, _) = render(
        "",
        &event_at("::ffff:127.0.0.1", "::ffff:10.0.0.2", b"srv", 2),
    );
    let want = "4242    srv        ::ffff:127.0.0.1 8080 ::ffff:10.0.0.2 51234     4  2929 12.34";
    assert_eq!(r, want);
    assert_eq!(h.find("RADDR"), r.find("::ffff:10"));
    assert_eq!(h.find("MS"), r.find("12.34"));
    // CSV: in full.
    let (_, r, _) = render("-s", &event(false, b"ab\x1b[2J\x1b[H", 2));
    assert!(r.contains(",ab\\e[2J\\e[H,4,"), "{r}");
}

#[test]
fn csv_and_json() {
    let (h, r, _) = render("-s -T", &event(false, b"a,b", 2));
    assert_eq!(h, "TIME,PID,COMM,IP,LADDR,LPORT,RADDR,RPORT,TX_KB,RX_KB,MS");
    let want = "4242,\"a,b\",4,10.0.0.1,8080,127.0.0.1,51234,4,2929,12.34";
    assert_eq!(r.split_once(',').map(|x| x.1), Some(want), "{r}");
    let (_, _, mut v) = render("-j", &event(true, b"server", 2));
    let o = v.as_object_mut().unwrap();
    assert!(o.remove("time").is_some() && o.remove("timestamp").is_some_and(|t| t.is_f64()));
    let want = serde_json::json!({"type": "event", "schema": 1, "pid": 4242, "comm": "server",
        "owner": "accept", "family": "ipv6", "laddr": "fd00::1", "lport": 8080, "raddr": "::1",
        "rport": 51234, "tx_bytes": 5000, "rx_bytes": 3_000_000, "duration_us": 12340});
    assert_eq!(v, want);
}

/// The hot path (row, output) allocates nothing per event after warm-up,
/// in the table (every column), CSV and JSON.
#[test]
fn rows_allocate_nothing_per_event() {
    use corescope::alloc_count::{null_output, steady};
    let (e4, e6) = (event(false, b"a,b", 2), event(true, b"srv\x1b", 1));
    for flags in ["", "-w -T -t", "-s -T -t", "-j"] {
        let a = args(flags).unwrap();
        let mut out = null_output(a.common.run.json);
        a.csv.then(|| out.set_csv());
        let mut a = a;
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
    let a = args("-T -t -w -L 80,8000-8100 -D 443 -4 --max-sessions 9").unwrap();
    assert!(a.time && a.timestamp && a.wide && a.family.af() == 2 && a.max_sessions == 9);
    assert!(a.localport.is_some_and(|p| p.to_string() == "80,8000-8100") && !a.csv);
    assert!(a
        .remoteport
        .is_some_and(|p| p.contains(443) && !p.contains(442)));
    let a = args("-s -6 -p 1 -c /x --comm sh -d 2 -v --uid 0 --tid 1 -- true").unwrap();
    assert!(a.csv && a.family.af() == 10 && a.common.filter.cmd == ["true"]);
    assert!(args("-j --buffer-pages 64 --btf /x").is_ok_and(|a| a.common.run.json));
    for bad in "-4 -6|-s -j|--max-sessions 0|-L 0|-L 80,|-D 1,,2|-w 1".split('|') {
        assert!(args(bad).is_err(), "{bad}");
    }
    for bad in "9000-8000 reversed|http not a port|65536 range".split('|') {
        let (ports, why) = bad.split_once(' ').unwrap_or_default();
        let e = args(&format!("-D {ports}")).unwrap_err().to_string();
        assert!(e.contains(why), "{e}");
    }
}
