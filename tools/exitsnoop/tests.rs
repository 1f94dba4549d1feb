use super::*;
use corescope::output::{header_line, json_line, table_line};

fn args(a: &str) -> Result<Args, clap::Error> {
    corescope::cli::try_parse_from(
        Exitsnoop::SHORTS,
        ["exitsnoop"].into_iter().chain(a.split_whitespace()),
    )
}

fn event(comm: &[u8], status: u32) -> Event {
    let mut e = Event::default();
    (e.pid, e.tid, e.ppid, e.uid, e.status) = (4242, 4243, 1, 1000, status);
    e.ts_ns = corescope::clock::monotonic_ns();
    e.start_ns = e.ts_ns - 1_250_000_000;
    e.comm[..comm.len()].copy_from_slice(comm);
    e
}

fn render(flags: &str, e: &Event) -> (String, String, serde_json::Value) {
    let x = Exitsnoop {
        a: args(flags).unwrap(),
    };
    let out = Output::new(false).unwrap();
    let r = row(e, &out);
    let mut j = Vec::new();
    json_line("event", &r, &mut j).unwrap();
    let j = serde_json::from_slice(&j).unwrap();
    (header_line::<Exit>(&x), table_line(&r, &x), j)
}

#[test]
fn bcc_columns_and_exit_codes() {
    let (h, r, _) = render("", &event(b"worker", 3 << 8));
    let want = "PCOMM            PID     PPID    TID     AGE(s)  EXIT_CODE
worker           4242    1       4243    1.25    code 3";
    assert_eq!(format!("{h}\n{r}"), want);
    let (_, r, _) = render("", &event(b"ok", 0));
    assert!(r.ends_with("1.25    0"), "{r}");
    let (_, r, _) = render("", &event(b"crash", 11));
    assert!(r.ends_with("signal 11 (SEGV)"), "{r}");
    let (_, r, _) = render("", &event(b"crash", 11 | 0x80));
    assert!(r.ends_with("signal 11 (SEGV), core dumped"), "{r}");
    let (_, r, _) = render("", &event(b"rt", 34));
    assert!(r.ends_with("signal 34 (RTMIN+2)"), "{r}");
    let (h, r, _) = render("-t", &event(b"w", 0));
    assert!(h.starts_with("TIME     PCOMM "), "{h}");
    assert!(
        r[..8].matches(':').count() == 2 && r[8..].starts_with(" w "),
        "{r}"
    );
}

#[test]
fn hostile_comm_is_escaped_and_cut_in_the_table_exact_in_json() {
    let comm = b"\x1b[2J\nx\xff";
    let (h, r, j) = render("", &event(comm, 0));
    assert!(r.starts_with("\\e[2J\\nx\\xff "), "{r}");
    assert_eq!(h.find("PID"), r.find("4242"));
    assert!(!r.contains('\x1b') && !r.contains('\n'));
    // Not UTF-8: base64 of the raw bytes.
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(comm);
    assert_eq!(j["comm"], serde_json::json!({ "bytes": b64 }));
    // 15 escapes of 2 characters: cut at a whole escape (16 columns).
    let (_, r, _) = render("", &event(&[0x1b; 15], 0));
    assert!(r.starts_with(&format!("{} 4242", "\\e".repeat(8))), "{r}");
}

#[test]
fn json_fields() {
    let (_, _, mut v) = render("-j", &event(b"crash", 6 | 0x80));
    let o = v.as_object_mut().unwrap();
    assert!(o.remove("time").is_some());
    let age = o.remove("age_s").and_then(|a| a.as_f64()).unwrap();
    assert!((age - 1.25).abs() < 1e-9);
    let want = serde_json::json!({"type": "event", "schema": 1, "comm": "crash", "pid": 4242, "ppid": 1,
        "tid": 4243, "uid": 1000, "exit_code": null, "signal": "SIGABRT", "signal_number": 6,
        "core_dumped": true, "status": 0x86});
    assert_eq!(v, want);
    let (_, _, v) = render("-j", &event(b"w", 3 << 8));
    assert_eq!(
        (v["exit_code"].as_u64(), v["signal"].is_null()),
        (Some(3), true)
    );
    assert_eq!(v["core_dumped"], false);
}

/// The hot path (row, output) allocates nothing per event after warm-up.
#[test]
fn rows_allocate_nothing_per_event() {
    use corescope::alloc_count::{null_output, steady};
    let evs = [
        event(b"a", 3 << 8),
        event(b"\x1bx", 11 | 0x80),
        event(b"z", 0),
    ];
    for flags in ["", "-t", "-j"] {
        let a = args(flags).unwrap();
        let mut out = null_output(a.common.run.json);
        let mut x = Exitsnoop { a };
        let n = steady(|| {
            for e in &evs {
                x.event(e, &[], &mut out).unwrap();
            }
        });
        assert_eq!(n, 0, "{flags}");
    }
}

#[test]
fn flags_parse() {
    let a = args("-t -x -T -p 1 -u 0 -c /x --comm sh -j -d 2 -v").unwrap();
    assert!(a.timestamp && a.failed && a.per_thread && a.common.run.json);
    assert!(args("--threaded").unwrap().per_thread);
    assert!(args("-s").is_err() && args("--per-thread 1").is_err());
}
