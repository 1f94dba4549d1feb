use super::*;
use corescope::output::{header_line, json_line, table_line};

fn args(a: &str) -> Result<Args, clap::Error> {
    corescope::cli::try_parse_from(
        Filelife::SHORTS,
        ["filelife"].into_iter().chain(a.split_whitespace()),
    )
}

fn event(path: &[u8], by: u8) -> Event {
    let mut e = Event::default();
    (e.pid, e.tid, e.uid, e.cpid) = (4242, 4243, 1000, 4200);
    e.ts_ns = corescope::clock::monotonic_ns();
    e.created_ns = e.ts_ns - 300_000_000;
    (e.ino, e.dev, e.how) = (1234567, (8 << 20) | 3, by);
    e.comm[..4].copy_from_slice(b"rmrf");
    e.ccomm[..2].copy_from_slice(b"cc");
    e.path[..path.len()].copy_from_slice(path);
    e.path_len = path.len() as u16;
    e
}

fn render(e: &Event) -> (String, String, serde_json::Value) {
    let out = Output::new(false).unwrap();
    let r = row(e, &out);
    let mut j = Vec::new();
    json_line("event", &r, &mut j).unwrap();
    let j = serde_json::from_slice(&j).unwrap();
    (header_line::<Life>(&Filelife), table_line(&r, &Filelife), j)
}

#[test]
fn bcc_columns() {
    let (h, r, _) = render(&event(b"/tmp/x.tmp", 0));
    assert_eq!(h, "TIME     PID     COMM             AGE(s)  FILE");
    assert!(
        r.ends_with(" 4242    rmrf             0.30    /tmp/x.tmp"),
        "{r}"
    );
    assert_eq!(r[..8].matches(':').count(), 2, "{r}");
}

#[test]
fn json_fields() {
    let (_, _, mut v) = render(&event(b"rel/y", how::FILELIFE_RENAME.0 as u8));
    let o = v.as_object_mut().unwrap();
    assert!(o.remove("time").is_some());
    let age = o.remove("age_s").and_then(|a| a.as_f64()).unwrap();
    assert!((age - 0.3).abs() < 1e-9);
    let want = serde_json::json!({"type": "event", "schema": 1, "pid": 4242, "tid": 4243, "uid": 1000,
        "comm": "rmrf", "path": "rel/y", "path_truncated": false, "deleted_by": "rename",
        "dev_major": 8, "dev_minor": 3, "ino": 1234567, "creator_pid": 4200,
        "creator_comm": "cc"});
    assert_eq!(v, want);
}

#[test]
fn hostile_path_escaped_in_the_table_exact_in_json() {
    let p = b"/t/\x1b[2J\nx\xff";
    let (_, r, j) = render(&event(p, 0));
    assert!(r.ends_with("/t/\\e[2J\\nx\\xff"), "{r}");
    assert!(!r.contains('\x1b') && !r.contains('\n'));
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(p);
    assert_eq!(j["path"], serde_json::json!({ "bytes": b64 }));
    // A cut path is marked.
    let mut e = event(b"/long", 0);
    e.path_trunc = 1;
    let (_, r, j) = render(&e);
    assert!(r.ends_with("/long..."), "{r}");
    assert_eq!(j["path_truncated"], true);
    // path_len beyond the array is clamped, not a panic.
    e.path_len = u16::MAX;
    let (_, _, j) = render(&e);
    assert!(j["path"].is_string() || j["path"].is_object());
}

/// The hot path (row, output) allocates nothing per event after warm-up.
#[test]
fn rows_allocate_nothing_per_event() {
    use corescope::alloc_count::{null_output, steady};
    let evs = [
        event(b"/tmp/a", 0),
        event(b"\x1bx\n", 1),
        event(b"relative/z", 0),
    ];
    for flags in ["", "-j"] {
        let a = args(flags).unwrap();
        let mut out = null_output(a.common.run.json);
        let mut x = Filelife;
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
    let a = args("-p 1 -u 0 -c /x --comm sh -j -d 2 -v --max-files 5").unwrap();
    assert!(a.common.run.json && a.max_files == 5);
    assert_eq!(args("").unwrap().max_files, 65536);
    assert!(args("--max-files 0").is_err() && args("-x").is_err());
}
