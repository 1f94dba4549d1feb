use super::*;
use corescope::output::{header_line, json_line, table_line};

fn args(a: &str) -> Result<Args, clap::Error> {
    corescope::cli::try_parse_from(
        Sigsnoop::SHORTS,
        ["sigsnoop"].into_iter().chain(a.split_whitespace()),
    )
}

fn event(source: Source, comm: &[u8], sig: i32, ret: i32) -> Event {
    let mut e = Event::default();
    (e.pid, e.tid, e.uid, e.tpid, e.sig, e.ret) = (4242, 4243, 1000, 77, sig, ret);
    e.source = source.0 as u8;
    e.ts_ns = corescope::clock::monotonic_ns();
    e.comm[..comm.len()].copy_from_slice(comm);
    if source == Source::SIGSNOOP_GENERATE {
        e.tcomm[..5].copy_from_slice(b"sleep");
        (e.result, e.group) = (1, 1);
    }
    if source == Source::SIGSNOOP_TGKILL {
        e.ttgid = 70;
    }
    e
}

fn render(flags: &str, e: &Event) -> (String, String, serde_json::Value) {
    let s = Sigsnoop {
        a: args(flags).unwrap(),
    };
    let out = Output::new(false).unwrap();
    let r = SigRow(signal_row(e, &out));
    let mut j = Vec::new();
    json_line("event", &r, &mut j).unwrap();
    let j = serde_json::from_slice(&j).unwrap();
    (header_line::<SigRow>(&s), table_line(&r, &s), j)
}

#[test]
fn libbpf_tools_columns_numbers_and_names() {
    let e = event(Source::SIGSNOOP_GENERATE, b"bash", 10, 0);
    let (h, r, _) = render("", &e);
    assert_eq!(
        h,
        "TIME     PID     COMM             SIG       TPID    RESULT"
    );
    assert_eq!(&r[8..], " 4242    bash             10        77      0");
    assert_eq!(r[..8].matches(':').count(), 2);
    let (_, r, _) = render("-n", &e);
    assert_eq!(&r[8..], " 4242    bash             SIGUSR1   77      0");
    // kill(pid, 0) has no name; a failure shows its errno.
    let (_, r, _) = render("-n", &event(Source::SIGSNOOP_KILL, b"sh", 0, -3));
    assert!(r.ends_with(" 0         77      -3"), "{r}");
    let (_, r, _) = render("-n", &event(Source::SIGSNOOP_TKILL, b"sh", 35, 0));
    assert!(r.contains(" SIGRTMIN+3 77 "), "{r}");
}

#[test]
fn json_records_by_source() {
    let (_, _, mut v) = render("", &event(Source::SIGSNOOP_GENERATE, b"bash", 10, 0));
    assert!(v.as_object_mut().unwrap().remove("time").is_some());
    let want = serde_json::json!({"type": "event", "schema": 1, "pid": 4242, "tid": 4243, "uid": 1000,
        "comm": "bash", "sig": 10, "signal": "SIGUSR1", "tpid": 77, "target_comm": "sleep",
        "ret": 0, "source": "signal_generate", "delivery": "ignored", "group": true});
    assert_eq!(v, want);
    let (_, _, mut v) = render("", &event(Source::SIGSNOOP_TGKILL, b"sh", 0, -1));
    assert!(v.as_object_mut().unwrap().remove("time").is_some());
    let want = serde_json::json!({"type": "event", "schema": 1, "pid": 4242, "tid": 4243, "uid": 1000,
        "comm": "sh", "sig": 0, "signal": null, "tpid": 77, "ttgid": 70, "ret": -1,
        "source": "tgkill"});
    assert_eq!(v, want);
}

#[test]
fn hostile_comm_is_escaped_and_cut_in_the_table_exact_in_json() {
    let comm = b"\x1b]0;x\x07\n\xfe";
    let (h, r, j) = render("", &event(Source::SIGSNOOP_KILL, comm, 9, 0));
    assert!(r[17..].starts_with("\\e]0;x\\x07\\n\\xfe "), "{r}");
    assert_eq!(h.find("SIG"), r.find("9 "));
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(comm);
    assert_eq!(j["comm"], serde_json::json!({ "bytes": b64 }));
}

/// The hot path (row, output) allocates nothing per event after warm-up.
#[test]
fn rows_allocate_nothing_per_event() {
    use corescope::alloc_count::{null_output, steady};
    let evs = [
        event(Source::SIGSNOOP_GENERATE, b"a\x1b", 10, 0),
        event(Source::SIGSNOOP_TGKILL, b"b", 40, -3),
    ];
    for flags in ["", "-n", "-j"] {
        let a = args(flags).unwrap();
        let mut out = null_output(a.common.run.json);
        let mut s = Sigsnoop { a };
        let n = steady(|| {
            for e in &evs {
                s.event(e, &[], &mut out).unwrap();
            }
        });
        assert_eq!(n, 0, "{flags}");
    }
}

#[test]
fn flags_parse() {
    let a = args("-x -k -n -s usr1 --tpid 5 -p 1 -u 0 --comm sh -j -d 1").unwrap();
    assert!(a.failed && a.kill && a.name && a.common.run.json);
    assert_eq!(
        (a.signal, a.target.tpid),
        (Some(libc::SIGUSR1 as u32), Some(5))
    );
    assert_eq!(args("-s 0").unwrap().signal, Some(0));
    assert_eq!(args("-s SIGRTMIN+1").unwrap().signal, Some(33));
    for bad in ["-s 65", "-s nope", "--tpid 0", "--tpid -1", "-T 1"] {
        assert!(args(bad).is_err(), "{bad}");
    }
}
