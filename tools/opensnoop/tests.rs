//! Golden tests of opensnoop: synthetic events rendered as table rows and JSON
//! (no root needed), and flag parsing.
use super::openflags::RDONLY;
use super::*;
use corescope::output::{header_line, json_line, table_line};

fn args(a: &[&str]) -> Args {
    corescope::cli::try_parse_from(
        Opensnoop::SHORTS,
        std::iter::once("opensnoop").chain(a.iter().copied()),
    )
    .unwrap()
}

fn fails(a: &[&str]) -> bool {
    corescope::cli::try_parse_from::<Args, _, _>(
        Opensnoop::SHORTS,
        std::iter::once("opensnoop").chain(a.iter().copied()),
    )
    .is_err()
}

/// An event and its payload: callers, directory prefix, filename + NUL.
fn event(ret: i32, callers: &[u64], dir: &[u8], file: &[u8]) -> (Event, Vec<u8>) {
    let mut e = Event {
        pid: 4242,
        tid: 4243,
        uid: 1000,
        ret,
        nr_callers: callers.len() as u8,
        dir_len: dir.len() as u16,
        fname_len: file.len() as u16 + 1,
        ..Default::default()
    };
    e.comm[..3].copy_from_slice(b"cat");
    let mut p: Vec<u8> = callers.iter().flat_map(|a| a.to_ne_bytes()).collect();
    p.extend_from_slice(dir);
    p.extend_from_slice(file);
    p.push(0);
    if !dir.is_empty() {
        e.status = status::OPENSNOOP_S_RESOLVED.0 as u16;
    }
    (e, p)
}

fn tool(a: &Args) -> Opensnoop {
    Opensnoop {
        a: a.clone(),
        sym: Symbolizer::new(),
    }
}

fn header(a: &Args) -> String {
    header_line::<Open>(&tool(a))
}

fn render(a: &Args, e: &Event, p: &[u8]) -> String {
    let out = Output::new(false).unwrap();
    table_line(&row(e, p, a, &out), &tool(a))
}

fn json(a: &Args, e: &Event, p: &[u8]) -> serde_json::Value {
    let out = Output::new(true).unwrap();
    let mut buf = Vec::new();
    json_line("event", &row(e, p, a, &out), &mut buf).unwrap();
    assert_eq!(buf.iter().filter(|&&b| b == b'\n').count(), 1);
    serde_json::from_slice(&buf).unwrap()
}

#[test]
fn default_rows_match_bcc_layout() {
    let a = args(&[]);
    let h = header(&a);
    assert_eq!(h, "PID    COMM               FD ERR PATH");
    let (e, p) = event(3, &[], b"", b"/etc/passwd");
    let r = render(&a, &e, &p);
    assert_eq!(r, "4242   cat                 3   0 /etc/passwd");
    let (e, p) = event(-2, &[], b"", b"/no/such");
    let r2 = render(&a, &e, &p);
    assert_eq!(r2, "4242   cat                -1   2 /no/such");
    assert_eq!(h.find("PATH"), r.find('/'));
    // -t: the first column is the TID.
    let a = args(&["-t", "4243"]);
    assert!(header(&a).starts_with("TID "));
    assert!(render(&a, &e, &p).starts_with("4243 "));
}

#[test]
fn optional_columns_stay_aligned() {
    let a = args(&["-T", "-U", "-e"]);
    let h = header(&a);
    assert_eq!(
        h,
        "TIME(s)        UID    PID    COMM               FD ERR FLAGS    MODE PATH"
    );
    let (mut e, p) = event(5, &[], b"", b"/tmp/new");
    let now = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC).unwrap();
    e.ts_ns = now.tv_sec() as u64 * 1_000_000_000 + now.tv_nsec() as u64 + 1_500_000_000;
    e.flags = (libc::O_CREAT | libc::O_WRONLY) as u32;
    e.mode = 0o640;
    let r = render(&a, &e, &p);
    let t = r.split(' ').next().unwrap();
    assert!(
        t.len() == 11 && (1.0..2.0).contains(&t.parse::<f64>().unwrap()),
        "{r}"
    );
    assert!(
        r.ends_with("1000   4242   cat                 5   0 00000101 0640 /tmp/new"),
        "{r}"
    );
    assert_eq!(h.find("PATH"), r.find("/tmp"));
    assert_eq!(h.find("UID"), r.find("1000"));
    e.flags = libc::O_RDONLY as u32;
    let r = render(&a, &e, &p);
    assert!(r.ends_with(" 00000000 n/a  /tmp/new"), "{r}");
    assert_eq!(h.find("PATH"), r.find("/tmp"));
}

#[test]
fn hostile_path_stays_on_one_escaped_row() {
    let a = args(&[]);
    let (e, p) = event(3, &[], b"", b"/tmp/a\nb\x1b[2J\xff");
    let r = render(&a, &e, &p);
    assert!(r.ends_with(" /tmp/a\\nb\\e[2J\\xff"), "{r}");
    assert!(!r.contains('\n') && !r.contains('\x1b'));
    let (e, p) = event(3, &[], b"", b"/tmp/a\nb\x1bc");
    let v = json(&args(&["-j"]), &e, &p);
    assert_eq!(v["path"], "/tmp/a\nb\x1bc");
}

#[test]
fn json_has_numbers_and_flags() {
    let a = args(&["-j", "-e"]);
    let (mut e, p) = event(-13, &[], b"", b"/root/x");
    e.flags = libc::O_CREAT as u32;
    e.mode = 0o600;
    e.syscall = 2;
    let v = json(&a, &e, &p);
    assert_eq!(v["type"], "event");
    assert_eq!((v["fd"].as_i64(), v["err"].as_i64()), (Some(-1), Some(13)));
    assert_eq!(
        (v["pid"].as_u64(), v["tid"].as_u64()),
        (Some(4242), Some(4243))
    );
    assert_eq!(v["flags"], libc::O_CREAT);
    assert_eq!(v["mode"], 0o600);
    assert_eq!(v["syscall"], "openat2");
    assert_eq!(v["resolved"], false);
    assert!(v.get("callers").is_none() && v.get("filename").is_none());
    e.flags = 0;
    assert!(json(&a, &e, &p)["mode"].is_null());
}

#[test]
fn full_path_prefix_and_resolved_flag() {
    let a = args(&["-F", "-j"]);
    let (e, p) = event(3, &[], b"/usr/share/", b"rel/name");
    assert!(render(&a, &e, &p).ends_with(" /usr/share/rel/name"));
    let v = json(&a, &e, &p);
    assert_eq!(v["path"], "/usr/share/rel/name");
    assert_eq!(
        (&v["resolved"], &v["filename"]),
        (&true.into(), &"rel/name".into())
    );
    // A directory chain too deep to walk whole is marked.
    let (mut e, p) = event(3, &[], b"/deep/", b"x");
    e.status |= status::OPENSNOOP_S_DIR_TRUNC.0 as u16;
    assert!(render(&a, &e, &p).ends_with(" .../deep/x"));
    assert_eq!(json(&a, &e, &p)["path_truncated"], true);
}

#[test]
fn truncated_paths_are_marked_at_the_cut_end() {
    let trunc = |e: &mut Event, st: status| e.status |= st.0 as u16;
    // The filename lost its end (longer than the kernel's buffer).
    let (mut e, p) = event(-36, &[], b"", b"/long/nam");
    trunc(&mut e, status::OPENSNOOP_S_FNAME_TRUNC);
    let a = args(&[]);
    assert!(
        render(&a, &e, &p).ends_with(" /long/nam..."),
        "{}",
        render(&a, &e, &p)
    );
    assert_eq!(json(&args(&["-j"]), &e, &p)["path_truncated"], true);
    // -F: the end cut is not shown as a top cut; both when both.
    let a = args(&["-F"]);
    let (mut e, p) = event(-36, &[], b"/usr/", b"nam");
    trunc(&mut e, status::OPENSNOOP_S_FNAME_TRUNC);
    assert!(
        render(&a, &e, &p).ends_with(" /usr/nam..."),
        "{}",
        render(&a, &e, &p)
    );
    trunc(&mut e, status::OPENSNOOP_S_DIR_TRUNC);
    assert!(render(&a, &e, &p).ends_with(" .../usr/nam..."));
    // Whole: no marker.
    let (e, p) = event(3, &[], b"", b"/long/name");
    assert!(render(&args(&[]), &e, &p).ends_with(" 0 /long/name"));
    assert_eq!(json(&args(&["-j"]), &e, &p)["path_truncated"], false);
}

#[test]
fn escaped_comm_keeps_columns() {
    let a = args(&[]);
    let h = header(&a);
    let (mut e, p) = event(3, &[], b"", b"/f");
    e.comm = [0; 16];
    e.comm[..9].copy_from_slice(&[0x1b; 9]); // 18 characters escaped
    let r = render(&a, &e, &p);
    assert_eq!(r, format!("4242   {}    3   0 /f", "\\e".repeat(8)));
    assert_eq!(h.find("PATH"), r.find("/f"));
}

#[test]
fn non_utf8_path_is_base64_bytes_in_json() {
    let a = args(&["-j", "-F"]);
    let (e, p) = event(3, &[], b"/d\xff/", b"a\xffb");
    let v = json(&a, &e, &p);
    // "/d\xff/a\xffb" and "a\xffb" in base64.
    assert_eq!(v["path"], serde_json::json!({"bytes": "L2T/L2H/Yg=="}));
    assert_eq!(v["filename"], serde_json::json!({"bytes": "Yf9i"}));
    assert_eq!(v["comm"], "cat");
    // The text `\xff` stays a string: the two cannot be confused.
    let (e, p) = event(3, &[], b"", b"a\\xffb");
    assert_eq!(json(&a, &e, &p)["path"], "a\\xffb");
}

#[test]
fn callers_are_read_from_the_payload() {
    let a = args(&["--callers=4"]);
    let (e, p) = event(
        3,
        &[0x401000, 0x402000, 0x3131_3131_3131_3131, 0],
        b"",
        b"/f",
    );
    let out = Output::new(false).unwrap();
    let r = row(&e, &p, &a, &out);
    let addrs: Vec<u64> = r.callers.iter().flatten().map(|f| f.addr).collect();
    assert_eq!(
        addrs,
        [0x401000, 0x402000],
        "stops at 0 and at non-addresses"
    );
    assert!(render(&a, &e, &p).ends_with(" /f"));
    assert!(row(&e, &p, &args(&[]), &out).callers.is_none());
}

#[test]
fn name_filter_is_a_substring() {
    let (e, p) = event(3, &[], b"", b"/f");
    let out = Output::new(false).unwrap();
    for (flags, want) in [
        (&["-n", "at"][..], true),
        (&["-n", "dog"], false),
        (&[], true),
    ] {
        let a = args(flags);
        assert_eq!(name_wanted(&row(&e, &p, &a, &out), &a), want, "{flags:?}");
    }
}

#[test]
fn every_flag_parses() {
    let a = args(&[
        "-T",
        "-U",
        "-x",
        "-p",
        "1",
        "-t",
        "2",
        "-u",
        "0",
        "-d",
        "3",
        "-n",
        "cat",
        "-e",
        "-f",
        "O_WRONLY",
        "-f",
        "rdwr",
        "-f",
        "O_RDONLY",
        "-F",
        "-b",
        "64",
        "-c",
        "/sys/fs/cgroup",
        "--comm",
        "sh",
        "-j",
        "--path",
        "/etc/",
        "--callers",
        "-v",
        "--btf",
        "/x",
    ]);
    assert!(a.timestamp && a.print_uid && a.failed && a.extended_fields && a.full_path);
    assert_eq!(a.common.filter.pid, vec![1]);
    assert_eq!(
        (a.common.filter.tid, a.common.filter.uid),
        (Some(2), Some(0))
    );
    assert_eq!(
        (a.common.run.duration, a.common.run.buffer_pages),
        (Some(3), 64)
    );
    assert!(a.common.run.json && a.common.filter.cgroup.is_some());
    assert_eq!(a.callers, Some(3));
    let want = [libc::O_WRONLY as u32, libc::O_RDWR as u32, RDONLY];
    assert_eq!(a.flag_filter, want);
    assert_eq!(a.path, Some((b"/etc/".to_vec(), false)));
    // BCC's spellings, numbers, substring patterns, N callers.
    let a = args(&[
        "--extended_fields",
        "--flag_filter",
        "0100",
        "--path",
        "*passwd*",
    ]);
    assert!(a.extended_fields);
    assert_eq!(a.flag_filter, [0o100]);
    assert_eq!(a.path, Some((b"passwd".to_vec(), true)));
    assert_eq!(args(&["--callers=7"]).callers, Some(7));
    assert_eq!(args(&["-f", "0x40"]).flag_filter, [0x40]);
    for bad in [
        &["-f", "O_BOGUS"][..],
        &["-f", "0"],
        &["--path", "*"],
        &["--path", &"x".repeat(65)],
        &["--callers=0"],
        &["--callers=17"],
        &["-b", "3"],
        &["-p", "x"],
    ] {
        assert!(fails(bad), "{bad:?} should be refused");
    }
}

/// The hot path (row, -n check, output) allocates nothing per event after
/// warm-up, in the table and in JSON, with every column shown (but --callers,
/// which symbolizes).
#[test]
fn rows_allocate_nothing_per_event() {
    use corescope::alloc_count::{null_output, steady};
    let (e, p) = event(-2, &[], b"/etc/", b"passwd");
    let (e2, p2) = event(3, &[], b"", b"/tmp/x");
    let mut e2 = e2;
    e2.flags = 0o100 | 1; // O_CREAT | O_WRONLY: a MODE value
    for flags in [
        &[][..],
        &["-T", "-U", "-e", "-F", "-n", "ca"],
        &["-j"],
        &["-j", "-e"],
    ] {
        let a = args(flags);
        let mut out = null_output(a.common.run.json);
        let mut t = tool(&a);
        let n = steady(|| {
            t.event(&e, &p, &mut out).unwrap();
            t.event(&e2, &p2, &mut out).unwrap();
        });
        assert_eq!(n, 0, "{flags:?}");
    }
}

/// What the kernel could not read is said so: an unreadable filename
/// (PATH `[unreadable]`), an unreadable open_how (FLAGS and MODE `?`, null
/// in JSON).
#[test]
fn unreadable_fields_are_shown_as_such() {
    let a = args(&["-e"]);
    let (mut e, p) = event(-14, &[], b"", b"");
    e.status = status::OPENSNOOP_S_FNAME_FAULT.0 as u16;
    assert!(
        render(&a, &e, &p).ends_with(" 14 00000000 n/a  [unreadable]"),
        "{}",
        render(&a, &e, &p)
    );
    let v = json(&a, &e, &p);
    assert_eq!(
        (&v["path_unreadable"], &v["how_unreadable"]),
        (&true.into(), &false.into())
    );
    let (mut e, p) = event(-14, &[], b"", b"/tmp/x");
    (e.syscall, e.status) = (2, status::OPENSNOOP_S_HOW_FAULT.0 as u16);
    assert!(
        render(&a, &e, &p).ends_with(" 14 ?        ?    /tmp/x"),
        "{}",
        render(&a, &e, &p)
    );
    let v = json(&a, &e, &p);
    assert_eq!(
        (&v["flags"], &v["mode"], &v["how_unreadable"]),
        (
            &serde_json::Value::Null,
            &serde_json::Value::Null,
            &true.into()
        )
    );
    assert_eq!(v["path_unreadable"], false);
}
