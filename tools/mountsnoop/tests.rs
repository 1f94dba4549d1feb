use super::*;
use corescope::output::{header_line, json_line, table_line};
use CallKind as K;

fn args(a: &str) -> Result<Args, clap::Error> {
    corescope::cli::try_parse_from(
        Mountsnoop::SHORTS,
        ["mountsnoop"].into_iter().chain(a.split_whitespace()),
    )
}

fn tool(a: &str) -> Mountsnoop {
    Mountsnoop {
        a: args(a).unwrap(),
    }
}

fn event(call: K, ret: i64, strs: &[(usize, &[u8])]) -> Event {
    let mut e = Event::default();
    (e.pid, e.tid, e.uid, e.mnt_ns, e.ret) = (4242, 4243, 0, 4026531841, ret);
    (e.call, e.delta_ns) = (call.0 as u8, 12_345);
    for &(i, s) in strs {
        e.str[i * 256..i * 256 + s.len()].copy_from_slice(s);
    }
    e.ts_ns = corescope::clock::monotonic_ns();
    e.comm[..5].copy_from_slice(b"mount");
    e
}

fn mount() -> Event {
    let mut e = event(
        K::MOUNTSNOOP_MOUNT,
        0,
        &[(0, b"none"), (1, b"/mnt"), (2, b"tmpfs"), (3, b"size=1m")],
    );
    e.flags = 2 | 4;
    e
}

fn render(e: &Event, m: &Mountsnoop) -> (String, String, serde_json::Value) {
    let out = Output::new(false).unwrap();
    let r = Call {
        e,
        time: out.clock.hms_of(e.ts_ns),
    };
    let mut j = Vec::new();
    json_line("event", &r, &mut j).unwrap();
    let j = serde_json::from_slice(&j).unwrap();
    (header_line::<Call>(m), table_line(&r, m), j)
}

fn call(e: &Event) -> String {
    let (_, r, _) = render(e, &tool(""));
    r.split_once("4026531841  ")
        .map(|x| x.1.to_string())
        .unwrap_or(r)
}

#[test]
fn libbpf_tools_columns() {
    let m = tool("");
    let (h, r, _) = render(&mount(), &m);
    assert_eq!(h, "COMM             PID     TID     MNT_NS      CALL");
    assert_eq!(
        r,
        "mount            4242    4243    4026531841  \
         mount(\"none\", \"/mnt\", \"tmpfs\", MS_NOSUID | MS_NODEV, \"size=1m\") = 0"
    );
    let (h, _, _) = render(&mount(), &tool("-t"));
    assert!(h.starts_with("TIME     COMM "), "{h}");
}

#[test]
fn every_call_in_strace_form() {
    let mut e = event(K::MOUNTSNOOP_MOUNT, -2, &[(1, b"/x")]);
    (e.str_null, e.flags) = (1 | 4 | 8, 0xc0ed_0000 | 1 | (1 << 12) | (1 << 9));
    assert_eq!(
        call(&e),
        "mount(NULL, \"/x\", NULL, MS_MGC_VAL | MS_RDONLY | MS_BIND | 0x200, NULL) = -ENOENT"
    );
    let mut e = event(K::MOUNTSNOOP_UMOUNT, -22, &[(1, b"/mnt")]);
    e.flags = 2 | 8;
    assert_eq!(
        call(&e),
        "umount(\"/mnt\", MNT_DETACH | UMOUNT_NOFOLLOW) = -EINVAL"
    );
    let mut e = event(K::MOUNTSNOOP_FSOPEN, 3, &[(2, b"tmpfs")]);
    e.flags = 1;
    assert_eq!(call(&e), "fsopen(\"tmpfs\", FSOPEN_CLOEXEC) = 3");
    let mut e = event(K::MOUNTSNOOP_FSCONFIG, 0, &[(0, b"size"), (3, b"2m")]);
    (e.fd1, e.cmd) = (3, 1);
    assert_eq!(
        call(&e),
        "fsconfig(3, FSCONFIG_SET_STRING, \"size\", \"2m\", 0) = 0"
    );
    let mut e = event(K::MOUNTSNOOP_FSCONFIG, 0, &[]);
    (e.fd1, e.cmd, e.str_null, e.str_other, e.aux) = (3, 2, 1, 8, 16);
    assert_eq!(
        call(&e),
        "fsconfig(3, FSCONFIG_SET_BINARY, NULL, <data>, 16) = 0"
    );
    let mut e = event(K::MOUNTSNOOP_FSMOUNT, 5, &[]);
    (e.fd1, e.flags, e.attr_flags) = (3, 1, 4 | 0x10);
    assert_eq!(
        call(&e),
        "fsmount(3, FSMOUNT_CLOEXEC, MOUNT_ATTR_NODEV | MOUNT_ATTR_NOATIME) = 5"
    );
    let mut e = event(K::MOUNTSNOOP_MOVE_MOUNT, 0, &[(0, b""), (1, b"/mnt")]);
    (e.fd1, e.fd2, e.flags) = (5, -100, 4);
    assert_eq!(
        call(&e),
        "move_mount(5, \"\", AT_FDCWD, \"/mnt\", MOVE_MOUNT_F_EMPTY_PATH) = 0"
    );
    let mut e = event(K::MOUNTSNOOP_OPEN_TREE, 6, &[(0, b"/mnt")]);
    (e.fd1, e.flags) = (-100, 1 | 0x8_0000);
    assert_eq!(
        call(&e),
        "open_tree(AT_FDCWD, \"/mnt\", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC) = 6"
    );
    // Hostile, unreadable and cut strings.
    let mut e = event(K::MOUNTSNOOP_UMOUNT, 0, &[(1, b"a\"b\n\x1b\xff")]);
    e.str_cut = 2;
    assert_eq!(call(&e), "umount(\"a\\\"b\\n\\e\\xff\"..., 0x0) = 0");
    e.str_fault = 2;
    assert_eq!(call(&e), "umount(?, 0x0) = 0");
}

#[test]
fn json_record() {
    let (_, _, v) = render(&mount(), &tool(""));
    assert_eq!(v["type"], "event");
    assert_eq!(
        (v["call"].as_str(), v["ret"].as_i64()),
        (Some("mount"), Some(0))
    );
    assert_eq!(
        (v["mnt_ns"].as_u64(), v["pid"].as_u64()),
        (Some(4026531841), Some(4242))
    );
    assert_eq!(
        (v["source"].as_str(), v["target"].as_str()),
        (Some("none"), Some("/mnt"))
    );
    assert_eq!(
        (v["fstype"].as_str(), v["data"].as_str()),
        (Some("tmpfs"), Some("size=1m"))
    );
    assert_eq!(
        (v["flags"].as_u64(), v["flags_names"].as_str()),
        (Some(6), Some("MS_NOSUID | MS_NODEV"))
    );
    assert!(v["error"].is_null() && v.get("truncated").is_none());
    assert_eq!(v["latency_us"], 12);
    let mut e = event(K::MOUNTSNOOP_UMOUNT, -16, &[(1, b"\xff")]);
    e.str_cut = 2;
    let (_, _, v) = render(&e, &tool(""));
    assert_eq!(
        (v["error"].as_str(), v["truncated"].as_bool()),
        (Some("EBUSY"), Some(true))
    );
    assert_eq!(v["target"]["bytes"], "/w==");
    assert!(v.get("source").is_none() && v.get("fstype").is_none());
    let mut e = event(K::MOUNTSNOOP_MOUNT, 0, &[]);
    e.str_null = 0xf;
    let (_, _, v) = render(&e, &tool(""));
    assert!(v["source"].is_null() && v["data"].is_null());
    let mut e = event(K::MOUNTSNOOP_FSMOUNT, 5, &[]);
    (e.fd1, e.attr_flags) = (3, 1);
    let (_, _, v) = render(&e, &tool(""));
    assert_eq!(
        (v["fs_fd"].as_i64(), v["attr_flags_names"].as_str()),
        (Some(3), Some("MOUNT_ATTR_RDONLY"))
    );
    let mut e = event(K::MOUNTSNOOP_FSCONFIG, 0, &[(0, b"size"), (3, b"2m")]);
    (e.fd1, e.cmd) = (3, 1);
    let (_, _, v) = render(&e, &tool(""));
    assert_eq!(
        (v["cmd"].as_str(), v["key"].as_str(), v["value"].as_str()),
        (Some("FSCONFIG_SET_STRING"), Some("size"), Some("2m"))
    );
}

#[test]
fn detailed_block_like_libbpf_tools() {
    let m = tool("-d");
    let (h, r, _) = render(&mount(), &m);
    assert_eq!(h, "");
    assert_eq!(
        r,
        "PID:    4242\nTID:    4243\nCOMM:   mount\nOP:     MOUNT\nRET:    0\nLAT:    12us\n\
         MNT_NS: 4026531841\nFS:     \"tmpfs\"\nSOURCE: \"none\"\nTARGET: \"/mnt\"\n\
         DATA:   \"size=1m\"\nFLAGS:  MS_NOSUID | MS_NODEV\n"
    );
    let (_, r, _) = render(&mount(), &tool("-d -t"));
    let mut lines = r.lines();
    assert!(
        lines
            .next()
            .is_some_and(|l| l.len() == 9 && l.ends_with(' ')),
        "{r}"
    );
    assert_eq!(lines.next(), Some("    PID:    4242"));
}

#[test]
fn rows_allocate_nothing_per_event() {
    use corescope::alloc_count::{null_output, steady};
    let mut mv = event(K::MOUNTSNOOP_MOVE_MOUNT, -2, &[(0, b"a\x1b"), (1, b"/mnt")]);
    mv.fd2 = -100;
    for e in [mount(), mv] {
        for (json, opts) in [(false, "-t"), (false, "-d"), (true, "")] {
            let mut m = tool(opts);
            let mut out = null_output(json);
            let n = steady(|| m.event(&e, &[], &mut out).unwrap());
            assert_eq!(n, 0, "json {json} {opts}");
        }
    }
}

#[test]
fn flags_parse() {
    let a = args("-t -d -p 1 --duration 3").unwrap();
    assert!(a.timestamp && a.detailed);
    assert!(args("-j").unwrap().common.run.json);
    for bad in ["-d -j", "-x", "-d 3"] {
        assert!(args(bad).is_err(), "{bad}");
    }
}
