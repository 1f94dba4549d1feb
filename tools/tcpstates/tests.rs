//! Unit tests of tcpstates' CLI and rows (no BPF).

use super::*;
use corescope::output::{header_line, table_line};

fn args(a: &str) -> Result<Args, clap::Error> {
    corescope::cli::try_parse_from::<Args, _, _>(
        <Args as Events>::SHORTS,
        std::iter::once("tcpstates").chain(a.split_whitespace()),
    )
}

fn event(v6: bool, comm: &[u8], flags: u8) -> Event {
    let mut e = Event {
        skaddr: 0xffff_8880_061b_ca00,
        ts_ns: 0,
        delta_ns: 300_142_040,
        pid: 4242,
        tid: 4243,
        oldstate: 1,
        newstate: 4,
        family: if v6 { 10 } else { 2 },
        lport: 45624,
        rport: 47151,
        flags,
        ..Event::default()
    };
    if v6 {
        e.laddr[15] = 1;
        e.raddr[15] = 1;
    } else {
        e.laddr[..4].copy_from_slice(&[127, 0, 0, 1]);
        e.raddr[..4].copy_from_slice(&[127, 0, 0, 1]);
    }
    e.comm[..comm.len()].copy_from_slice(comm);
    e
}

#[test]
fn flags_parse_and_bad_ones_fail() {
    let a = args("-T -t -w -L 80,8000-8100 -D 443 -4 --max-sockets 9").unwrap();
    assert!(a.time && a.timestamp && a.wide && a.family.af() == 2 && a.max_sockets == 9);
    assert!(a
        .localport
        .is_some_and(|p| p.contains(8050) && !p.contains(81)));
    assert!(a.remoteport.is_some_and(|p| p.contains(443)));
    let a = args("-6 -p 1 -c /x --comm sh -d 2 -v -j -- true").unwrap();
    assert!(a.family.af() == 10 && a.common.filter.cmd == ["true"]);
    for bad in "-4 -6|--max-sockets 0|-L 0|-D 1,,2|-w 1".split('|') {
        assert!(args(bad).is_err(), "{bad}");
    }
}

#[test]
fn states_are_the_kernels() {
    assert_eq!(
        (state(1), state(7), state(10), state(12)),
        ("ESTABLISHED", "CLOSE", "LISTEN", "NEW_SYN_RECV")
    );
    assert_eq!(
        (state(0), state(13), state(u32::MAX)),
        ("UNKNOWN", "UNKNOWN", "UNKNOWN")
    );
}

#[test]
fn rows_are_libbpf_tools_layout_with_bcc_headers() {
    let a = args("").unwrap();
    assert_eq!(
        header_line::<Change<'_>>(&a),
        format!(
            "{:<16} {:<7} {:<10} {:<15} {:<5} {:<15} {:<5} {:<11} {:<2} {:<11} {}",
            "SKADDR",
            "C-PID",
            "C-COMM",
            "LADDR",
            "LPORT",
            "RADDR",
            "RPORT",
            "OLDSTATE",
            "->",
            "NEWSTATE",
            "MS"
        )
    );
    let out = corescope::alloc_count::null_output(false);
    let e = event(false, b"ts_cli", 0);
    let r = row(&e, &out).unwrap();
    assert_eq!(
        table_line(&r, &a),
        "ffff8880061bca00 4242    ts_cli     127.0.0.1       45624 127.0.0.1       47151 ESTABLISHED -> FIN_WAIT1   300.142"
    );
    let j = serde_json::to_value(&r).unwrap();
    assert_eq!(j["skaddr"], "ffff8880061bca00");
    assert_eq!(
        (j["oldstate"].as_str(), j["newstate"].as_str()),
        (Some("ESTABLISHED"), Some("FIN_WAIT1"))
    );
    assert_eq!(j["ms"], 300.14204);
    assert!(j.get("first").is_none());
    // Wide: IP column, 39-wide addresses, 16-wide comm.
    let w = args("-w").unwrap();
    let e6 = event(true, b"a-long-command-x", 1);
    let r = row(&e6, &out).unwrap();
    let line = table_line(&r, &w);
    assert!(line.contains(" a-long-command-x 6  ::1 "), "{line}");
    assert_eq!(serde_json::to_value(&r).unwrap()["first"], true);
    // Untimed (socket map full): MS "?" in the table, null in JSON.
    let e = event(false, b"x", 2);
    let r = row(&e, &out).unwrap();
    assert!(table_line(&r, &a).ends_with(" ?"));
    assert!(serde_json::to_value(&r).unwrap()["ms"].is_null());
    // Unknown family: no row.
    let mut e = event(false, b"x", 0);
    e.family = 1;
    assert!(row(&e, &out).is_none());
}

#[test]
fn hostile_comm_is_escaped() {
    let out = corescope::alloc_count::null_output(false);
    let a = args("").unwrap();
    let e = event(false, b"e\x1b[2J\nvil", 0);
    let r = row(&e, &out).unwrap();
    let line = table_line(&r, &a);
    assert!(!line.contains('\x1b') && !line.contains('\n'), "{line:?}");
    assert!(line.contains(r"e\e[2J\nv"), "{line:?}");
    assert_eq!(serde_json::to_value(&r).unwrap()["comm"], "e\x1b[2J\nvil");
}

#[test]
fn rows_allocate_nothing_per_event() {
    use corescope::alloc_count::{null_output, steady};
    let (e4, e6) = (event(false, b"a,b", 0), event(true, b"srv\x1b", 2));
    for flags in ["", "-w -T -t", "-j"] {
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
