use super::*;
use corescope::output::{header_line, json_line, table_line};
use corescope::sym::Frame;

fn args(a: &str) -> Result<Args, clap::Error> {
    corescope::cli::try_parse_from(
        Capable::SHORTS,
        ["capable"].into_iter().chain(a.split_whitespace()),
    )
}

fn tool(flags: &str) -> Capable {
    Capable {
        a: args(flags).unwrap(),
        sym: None,
        text: String::new(),
    }
}

fn event(comm: &[u8], cap: i32, ret: i32) -> Event {
    let mut e = Event::default();
    (e.pid, e.tid, e.uid, e.userns) = (4242, 4243, 65534, 4026531837);
    (e.cap, e.ret) = (cap, ret);
    e.ts_ns = corescope::clock::monotonic_ns();
    e.kernel_stack_id = consts::CAPABLE_STACK_OFF.0 as i64;
    e.user_stack_id = consts::CAPABLE_STACK_OFF.0 as i64;
    e.comm[..comm.len()].copy_from_slice(comm);
    e
}

fn render(x: &Capable, e: &Event, st: Option<&Stack>) -> (String, String, serde_json::Value) {
    let out = Output::new(false).unwrap();
    let r = row(e, &out, st.map(|s| Stacks::new(s, &x.a)));
    let mut j = Vec::new();
    json_line("event", &r, &mut j).unwrap();
    let j = serde_json::from_slice(&j).unwrap();
    (header_line::<Check>(x), table_line(&r, x), j)
}

#[test]
fn bcc_columns_and_names() {
    let x = tool("");
    let (h, r, _) = render(&x, &event(b"ping", 13, 0), None);
    assert_eq!(
        h,
        "TIME     UID    PID     COMM             CAP  NAME                   VERDICT"
    );
    assert!(
        r.ends_with(" 65534  4242    ping             13   CAP_NET_RAW            allow"),
        "{r}"
    );
    let (_, r, _) = render(&x, &event(b"x", 21, -1), None);
    assert!(r.ends_with("CAP_SYS_ADMIN          deny"), "{r}");
    assert_eq!(cap_name(0), Some("CAP_CHOWN"));
    assert_eq!(cap_name(40), Some("CAP_CHECKPOINT_RESTORE"));
    assert_eq!((cap_name(41), cap_name(-1)), (None, None));
    let (_, r, j) = render(&x, &event(b"x", 77, 0), None);
    assert!(r.contains(" 77   ?  "), "{r}");
    assert!(j["name"].is_null());
}

#[test]
fn json_fields() {
    let (_, _, mut v) = render(&tool("-j"), &event(b"chown", 0, -1), None);
    assert!(v.as_object_mut().unwrap().remove("time").is_some());
    let want = serde_json::json!({"type": "event", "schema": 1, "uid": 65534, "pid": 4242, "tid": 4243,
        "comm": "chown", "cap": 0, "name": "CAP_CHOWN", "verdict": "deny", "ret": -1,
        "userns": 4026531837u32});
    assert_eq!(v, want);
}

#[test]
fn stacks_under_the_row_and_in_json() {
    let x = tool("-K -j");
    let st = Stack {
        pid: 4242,
        tid: None,
        comm: b"ping".to_vec(),
        user: stacks::Part::Off,
        kernel: stacks::Part::Frames(vec![Frame {
            addr: 0xffff_1000,
            symbol: Some("cap_capable".into()),
            offset: 0x10,
            module: None,
        }]),
        count: 1,
    };
    let (_, _, j) = render(&x, &event(b"ping", 13, 0), Some(&st));
    assert_eq!(j["kernel_stack"][0]["symbol"], "cap_capable");
    assert!(j.get("user_stack").is_none() && j.get("user_missing").is_none());
    let mut s = String::new();
    stacks::bcc_frames(&mut s, &st, stacks::Style::default());
    assert_eq!(s, "    cap_capable+0x10\n");
    // Missing: a marker line, and its kind in JSON.
    let st = Stack {
        kernel: stacks::Part::Missing(stacks::Missing::Missed),
        ..st
    };
    let (_, _, j) = render(&x, &event(b"ping", 13, 0), Some(&st));
    assert_eq!(j["kernel_missing"], "missed");
}

#[test]
fn hostile_comm_is_escaped_in_the_table_exact_in_json() {
    let comm = b"\x1b[2J\nx\xff";
    let (h, r, j) = render(&tool(""), &event(comm, 13, 0), None);
    assert!(r.contains(" \\e[2J\\nx\\xff "), "{r}");
    assert_eq!(h.find("CAP "), r.find("13 "));
    assert!(!r.contains('\x1b') && !r.contains('\n'));
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(comm);
    assert_eq!(j["comm"], serde_json::json!({ "bytes": b64 }));
}

/// The hot path (row, output) allocates nothing per event after warm-up
/// (without -K / -U: symbolizing a stack allocates, as opensnoop --callers).
#[test]
fn rows_allocate_nothing_per_event() {
    use corescope::alloc_count::{null_output, steady};
    let evs = [
        event(b"a", 13, 0),
        event(b"\x1bx", 21, -1),
        event(b"z", 99, 0),
    ];
    for flags in ["", "-x", "-j"] {
        let mut x = tool(flags);
        let mut out = null_output(x.a.common.run.json);
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
    let a = args("-x -K -U --unique -p 1 -u 0 -c /x --comm sh -j -d 2 -v").unwrap();
    assert!(a.denied && a.kernel_stack && a.user_stack && a.unique && a.common.run.json);
    assert_eq!(args("").unwrap().stack_storage_size, 16384);
    assert!(args("--stack-storage-size 0").is_err() && args("-z").is_err());
}

#[test]
fn a_kernel_without_the_tracepoint_is_named() {
    assert_eq!(
        corescope::load::tracepoint_needs("capability/cap_capable"),
        ": needs Linux >= 6.14"
    );
    assert_eq!(corescope::load::tracepoint_needs("sched/sched_switch"), "");
}

#[test]
fn stack_off_is_not_an_id() {
    assert_eq!(side(-1_000_000), None);
    assert_eq!(side(-14), Some(-14)); // -EFAULT: empty, from the map reader
    assert_eq!(side(3), Some(3));
}
