use super::*;
use corescope::output::{header_line, json_line, table_line};
use corescope::skel::sigsnoop::types::sigsnoop_source as Source;

fn args(a: &str) -> Result<Args, clap::Error> {
    corescope::cli::try_parse_from(
        Killsnoop::SHORTS,
        ["killsnoop"].into_iter().chain(a.split_whitespace()),
    )
}

fn event(comm: &[u8], sig: i32, tpid: i32, ret: i32) -> Event {
    let mut e = Event::default();
    (e.pid, e.tid, e.tpid, e.sig, e.ret) = (4242, 4242, tpid, sig, ret);
    e.source = Source::SIGSNOOP_KILL.0 as u8;
    e.ts_ns = corescope::clock::monotonic_ns();
    e.comm[..comm.len()].copy_from_slice(comm);
    e
}

fn render(e: &Event) -> (String, String, serde_json::Value) {
    let out = Output::new(false).unwrap();
    let r = Kill(signal_row(e, &out));
    let mut j = Vec::new();
    json_line("event", &r, &mut j).unwrap();
    let j = serde_json::from_slice(&j).unwrap();
    (
        header_line::<Kill>(&Killsnoop),
        table_line(&r, &Killsnoop),
        j,
    )
}

#[test]
fn bcc_columns() {
    let (h, r, _) = render(&event(b"bash", 9, 13885, 0));
    assert_eq!(h, "TIME      PID     COMM             SIG  TPID    RESULT");
    assert_eq!(&r[8..], "  4242    bash             9    13885   0");
    let (_, r, _) = render(&event(b"bash", 15, -1, -3));
    assert!(r.ends_with(" 15   -1      -3"), "{r}");
    // An escaped comm is cut to the column; SIG stays in place.
    let (h, r, _) = render(&event(&[0x1b; 15], 9, 1, 0));
    assert_eq!(h.find("SIG"), r.find("9 "));
}

#[test]
fn json_is_sigsnoops() {
    let (_, _, v) = render(&event(b"sh", 10, 77, -1));
    assert_eq!(
        (v["source"].as_str(), v["signal"].as_str()),
        (Some("kill"), Some("SIGUSR1"))
    );
    assert_eq!(
        (v["tpid"].as_i64(), v["ret"].as_i64()),
        (Some(77), Some(-1))
    );
    assert!(v.get("delivery").is_none() && v.get("target_comm").is_none());
}

#[test]
fn rows_allocate_nothing_per_event() {
    use corescope::alloc_count::{null_output, steady};
    let e = event(b"a\x1b", 9, 1, -3);
    for json in [false, true] {
        let mut out = null_output(json);
        let n = steady(|| Killsnoop.event(&e, &[], &mut out).unwrap());
        assert_eq!(n, 0, "json {json}");
    }
}

#[test]
fn flags_parse() {
    let a = args("-x -s KILL -T 7 -p 1 -j").unwrap();
    assert!(a.failed && a.common.run.json);
    assert_eq!((a.signal, a.tpid), (Some(9), Some(7)));
    for bad in ["-k", "-n", "-T 0", "-s 99"] {
        assert!(args(bad).is_err(), "{bad}");
    }
}
