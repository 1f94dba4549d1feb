//! Golden tests of execsnoop: synthetic events rendered as table rows and JSON
//! (no root needed), and flag parsing.
use super::*;
use corescope::output::{header_line, json_line, table_line};

fn args(a: &[&str]) -> Args {
    corescope::cli::try_parse_from(
        Execsnoop::SHORTS,
        std::iter::once("execsnoop").chain(a.iter().copied()),
    )
    .unwrap()
}

fn event(comm: &str, ret: i32) -> Event {
    let mut e = Event {
        pid: 4242,
        tid: 4242,
        ppid: 1,
        uid: 1000,
        retval: ret,
        cpu: 1,
        ..Default::default()
    };
    e.comm[..comm.len()].copy_from_slice(comm.as_bytes());
    e.pcomm[..4].copy_from_slice(b"bash");
    e
}

/// Payload as the kernel sends it: filename + NUL, then argv strings.
fn payload(e: &mut Event, file: &[u8], argv: &[&[u8]]) -> Vec<u8> {
    let mut p = file.to_vec();
    p.push(0);
    e.fname_len = p.len() as u16;
    for a in argv {
        p.extend_from_slice(a);
        p.push(0);
    }
    e.args_len = (p.len() - e.fname_len as usize) as u32;
    e.argc = argv.len() as u32;
    p
}

fn tool(a: &Args) -> Execsnoop {
    let (argv, joined) = (Argv::default(), Vec::new());
    Execsnoop {
        a: a.clone(),
        argv,
        joined,
    }
}

/// `f` of the row of event `e` (payload `p`) with options `a`, and the tool.
fn with_row<T>(
    a: &Args,
    e: &Event,
    p: &[u8],
    f: impl FnOnce(&Exec, &mut Vec<u8>, &Execsnoop) -> T,
) -> T {
    let mut t = tool(a);
    let out = Output::new(false).unwrap();
    let at = t.argv.decode(e, p, caps(a));
    let mut joined = Vec::new();
    f(&row(&t.argv, e, p, at, &out), &mut joined, &t)
}

fn render(a: &Args, e: &Event, p: &[u8]) -> String {
    with_row(a, e, p, |r, _, t| table_line(r, t))
}

fn json(a: &Args, e: &Event, p: &[u8]) -> serde_json::Value {
    let mut buf = Vec::new();
    with_row(a, e, p, |r, _, _| json_line("event", r, &mut buf)).unwrap();
    serde_json::from_slice(&buf).unwrap()
}

fn header(a: &Args) -> String {
    header_line::<Exec>(&tool(a))
}

#[test]
fn default_row_matches_bcc_layout() {
    let a = args(&[]);
    assert_eq!(header(&a), "PCOMM            PID     PPID    RET ARGS");
    let mut e = event("ls", 0);
    let p = payload(&mut e, b"/bin/ls", &[b"ls", b"-l", b"/tmp"]);
    assert_eq!(
        render(&a, &e, &p),
        "ls               4242    1         0 /bin/ls -l /tmp"
    );
}

#[test]
fn optional_columns_stay_aligned() {
    let a = args(&["-U", "-M", "-C", "-x"]);
    let h = header(&a);
    assert_eq!(
        h,
        "UID    COMM             PID     PCOMM            PPID    CPU RET ARGS"
    );
    let mut e = event("cat", -2);
    let p = payload(&mut e, b"/no/cat", &[b"cat"]);
    let r = render(&a, &e, &p);
    assert_eq!(
        r,
        "1000   cat              4242    bash             1       1    -2 /no/cat"
    );
    assert_eq!(h.find("ARGS"), r.find("/no/cat"));
}

#[test]
fn hostile_args_stay_on_one_escaped_row() {
    let a = args(&[]);
    let mut e = event("sh", 0);
    let p = payload(&mut e, b"/bin/echo", &[b"echo", b"a\nb\x1b[2Jc", b"\xff"]);
    let r = render(&a, &e, &p);
    assert_eq!(
        r,
        "sh               4242    1         0 /bin/echo a\\nb\\e[2Jc \\xff"
    );
    let q = render(&args(&["-q"]), &e, &p);
    assert!(q.ends_with(r#""/bin/echo" "a\nb\e[2Jc" "\xff""#), "{q}");
}

#[test]
fn truncation_is_marked() {
    let a = args(&["--max-args", "3", "--max-arg-size", "5"]);
    let mut e = event("x", 0);
    let p = payload(&mut e, b"/bin/x", &[b"x", b"abcdefgh", b"ok", b"dropped"]);
    assert_eq!(json(&a, &e, &p)["args_truncated"], true);
    assert_eq!(
        render(&a, &e, &p).rsplit("0 ").next().unwrap(),
        "/bin/x abcd... ok ..."
    );
    // Cut by the kernel's byte cap: the last string has no NUL.
    let mut e = event("y", 0);
    let mut p = payload(&mut e, b"/bin/y", &[b"y", b"full"]);
    p.extend_from_slice(b"par");
    e.args_len += 3;
    e.flags = flag::EXECSNOOP_F_ARGS_TRUNC.0 as u16;
    assert!(render(&args(&[]), &e, &p).ends_with("/bin/y full par..."));
}

#[test]
fn json_has_full_argv_and_numbers() {
    let a = args(&["-j"]);
    let mut e = event("ls", 0);
    let p = payload(&mut e, b"/bin/ls", &[b"ls", b"-l"]);
    let v = json(&a, &e, &p);
    assert_eq!(v["type"], "event");
    assert_eq!(v["pid"], 4242);
    assert_eq!(v["ret"], 0);
    assert_eq!(v["filename"], "/bin/ls");
    assert_eq!(v["argv"], serde_json::json!(["ls", "-l"]));
    assert_eq!(v["args_truncated"], false);
}

#[test]
fn name_and_line_filters() {
    let mut e = event("bash", 0);
    let p = payload(&mut e, b"/bin/bash", &[b"bash", b"-c", b"make tpkg"]);
    for (flags, want) in [
        (&["-n", "^ba"][..], true),
        (&["-n", "zsh"], false),
        (&["-l", "tpkg"], true),
        (&["-l", "bash$"], false), // -l matches the args, not the comm
    ] {
        let a = args(flags);
        let got = with_row(&a, &e, &p, |r, j, t| wanted(&t.a, j, r));
        assert_eq!(got, want, "{flags:?}");
    }
}

#[test]
fn every_flag_parses() {
    let a = args(&[
        "-T",
        "-t",
        "-x",
        "-U",
        "-q",
        "-n",
        "a",
        "-l",
        "b",
        "--max-args",
        "5",
        "--max-arg-size",
        "64",
        "--full-args",
        "-P",
        "1",
        "-M",
        "-C",
        "-p",
        "1",
        "-u",
        "0",
        "-c",
        "/sys/fs/cgroup",
        "--comm",
        "sh",
        "-j",
        "-d",
        "2",
        "-v",
        "--tid",
        "1",
        "--buffer-pages",
        "64",
        "--btf",
        "/x",
    ]);
    assert!(a.time && a.timestamp && a.fails && a.print_uid && a.quote && a.full_args);
    assert_eq!(
        (a.ppid, a.common.filter.pid.clone(), a.common.run.duration),
        (Some(1), vec![1], Some(2))
    );
    assert!(corescope::cli::try_parse_from::<Args, _, _>(
        Execsnoop::SHORTS,
        ["execsnoop", "--max-args", "0"]
    )
    .is_err());
    assert!(corescope::cli::try_parse_from::<Args, _, _>(
        Execsnoop::SHORTS,
        ["execsnoop", "-n", "("]
    )
    .is_err());
}

#[test]
fn escaped_comm_is_cut_to_its_column() {
    // 13 bytes, 17 characters escaped: cut at whole escapes to 16.
    let a = args(&["-M"]);
    let h = header(&a);
    let mut e = event("\x1b[2J\x1b[2J\x1b[2J\x1b", 0);
    e.pcomm = e.comm;
    let p = payload(&mut e, b"/bin/ls", &[b"ls"]);
    let r = render(&a, &e, &p);
    let c = "\\e[2J\\e[2J\\e[2J";
    assert_eq!(r, format!("{c}  4242    {c}  1         0 /bin/ls"));
    assert_eq!(h.find("ARGS"), r.find("/bin/ls"));
}

#[test]
fn kernel_cut_arguments_are_marked_and_the_rest_kept() {
    // The kernel cut argv[2] to its budget and kept the ones after it.
    let a = args(&[]);
    let mut e = event("java", 0);
    let p = payload(
        &mut e,
        b"/bin/java",
        &[b"java", b"-cp", b"aaaa", b"Main", b"x"],
    );
    e.arg_cut[0] = 1 << 2;
    e.flags = flag::EXECSNOOP_F_ARGS_TRUNC.0 as u16;
    assert!(render(&a, &e, &p).ends_with(" 0 /bin/java -cp aaaa... Main x"));
    // Two more arguments than were captured (--max-args): " ..." and argc.
    e.argc = 7;
    assert!(render(&a, &e, &p).ends_with(" 0 /bin/java -cp aaaa... Main x ..."));
    let v = json(&a, &e, &p);
    assert_eq!(
        (&v["argc"], &v["args_truncated"]),
        (&7.into(), &true.into())
    );
    // An argument that fits exactly is not marked.
    let mut e = event("x", 0);
    let p = payload(&mut e, b"/bin/x", &[b"x", &[b'f'; 127]]);
    assert_eq!(json(&a, &e, &p)["args_truncated"], false);
}

#[test]
fn script_row_shows_what_was_execd() {
    let a = args(&[]);
    let mut e = event("s.sh", 0);
    let p = payload(
        &mut e,
        b"./s.sh",
        &[b"/bin/sh", b"-e", b"./s.sh", b"a", b"b"],
    );
    e.flags = flag::EXECSNOOP_F_INTERP.0 as u16;
    assert!(render(&a, &e, &p).ends_with(" 0 ./s.sh a b"));
    let v = json(&a, &e, &p);
    assert_eq!(
        v["argv"],
        serde_json::json!(["/bin/sh", "-e", "./s.sh", "a", "b"])
    );
    assert_eq!(v["interpreter"], serde_json::json!(["/bin/sh", "-e"]));
    // -l matches the line shown.
    let l = args(&["-l", "^\\./s\\.sh a b$"]);
    assert!(with_row(&l, &e, &p, |r, j, t| wanted(&t.a, j, r)));
    // --max-args counts what is shown: the filename and the script's own.
    let mut e = event("s.sh", 0);
    let p = payload(
        &mut e,
        b"./s.sh",
        &[b"/bin/sh", b"-e", b"./s.sh", b"a", b"b", b"c"],
    );
    e.flags = flag::EXECSNOOP_F_INTERP.0 as u16;
    let a3 = args(&["--max-args", "3"]);
    assert!(render(&a3, &e, &p).ends_with(" 0 ./s.sh a b ..."));
    // A binary: no interpreter, argv[1..] after the filename.
    let mut e = event("ls", 0);
    let p = payload(&mut e, b"/bin/ls", &[b"ls", b"/bin/ls"]);
    assert!(render(&a, &e, &p).ends_with(" 0 /bin/ls /bin/ls"));
}

#[test]
fn ppid_zero_is_rejected() {
    let e =
        corescope::cli::try_parse_from::<Args, _, _>(Execsnoop::SHORTS, ["execsnoop", "-P", "0"])
            .unwrap_err()
            .to_string();
    assert!(e.contains("0 is not a process"), "{e}");
    assert_eq!(args(&["-P", "7"]).ppid, Some(7));
}

/// The hot path (argv split, row, -n/-l checks, output) allocates nothing
/// per event after warm-up, in the table (every column) and in JSON, for a
/// binary and a script.
#[test]
fn rows_allocate_nothing_per_event() {
    use corescope::alloc_count::{null_output, steady};
    let mut e = event("ls", 0);
    let p = payload(&mut e, b"/bin/ls", &[b"ls", b"-l", b"a\x1bb", &[b'x'; 200]]);
    let mut e2 = event("s.sh", 0);
    let p2 = payload(&mut e2, b"./s.sh", &[b"/bin/sh", b"-e", b"./s.sh", b"a"]);
    e2.flags = flag::EXECSNOOP_F_INTERP.0 as u16;
    for flags in [
        &[][..],
        &[
            "-T", "-t", "-U", "-M", "-C", "-q", "-x", "-n", "s", "-l", "a",
        ],
        &["-j"],
        &["-j", "--full-args"],
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

/// argv the kernel could not read (a memory fault) is said so: ARGS ends in
/// " [unreadable]" (not " ...", which is arguments left out on purpose).
#[test]
fn unreadable_args_are_shown_as_such() {
    let a = args(&["-x"]);
    let mut e = event("bad", -14);
    let p = payload(&mut e, b"/bin/true", &[b"m1"]);
    e.argc = 2;
    e.flags = flag::EXECSNOOP_F_ARGS_FAULT.0 as u16;
    assert!(
        render(&a, &e, &p).ends_with(" -14 /bin/true [unreadable]"),
        "{}",
        render(&a, &e, &p)
    );
    let v = json(&a, &e, &p);
    assert_eq!(
        (&v["args_unreadable"], &v["args_truncated"]),
        (&true.into(), &true.into())
    );
    e.flags = 0;
    assert!(render(&a, &e, &p).ends_with(" -14 /bin/true ..."));
    assert_eq!(json(&a, &e, &p)["args_unreadable"], false);
}
