//! Unit tests of filetop's CLI, paths and rows (no BPF).

use super::*;
use corescope::output::{header_line, table_line};

fn args(a: &[&str]) -> Result<Args, clap::Error> {
    corescope::cli::try_parse_from::<Args, _, _>(
        Filetop::SHORTS,
        std::iter::once("filetop").chain(a.iter().copied()),
    )
}

#[test]
fn bcc_letters() {
    let a = args(&["-a", "-C", "-s", "wbytes", "-r", "5", "-p", "7", "2", "3"]).unwrap();
    assert!(a.all && a.top.noclear);
    assert_eq!((a.sort, a.top.rows), (Sort::Wbytes, 5));
    assert_eq!(a.common.filter.pid, vec![7]);
    assert_eq!(
        (a.top.interval.interval, a.top.interval.count),
        (2, Some(3))
    );
    let d = args(&[]).unwrap();
    assert_eq!((d.sort, d.top.rows, d.all), (Sort::All, 20, false));
    for s in ["all", "reads", "writes", "rbytes", "wbytes"] {
        assert!(args(&["-s", s]).is_ok(), "{s}");
    }
    assert!(args(&["-s", "bytes"]).is_err());
}

fn value(r: u64, w: u64, rb: u64, wb: u64, raw: &[u8], flags: u8) -> Value {
    let mut v = Value {
        reads: r,
        writes: w,
        rbytes: rb,
        wbytes: wb,
        path_len: raw.len() as u16,
        r#type: b'R',
        flags,
        ..Value::default()
    };
    v.comm[..2].copy_from_slice(b"dd");
    v.path[..raw.len()].copy_from_slice(raw);
    v
}

#[test]
fn sort_fields_score_their_column() {
    let v = value(1, 2, 30, 400, b"", 0);
    assert_eq!(Sort::All.score(&v), 433);
    assert_eq!(
        [Sort::Reads, Sort::Writes, Sort::Rbytes, Sort::Wbytes].map(|s| s.score(&v)),
        [1, 2, 30, 400]
    );
}

#[test]
fn paths_are_turned_around() {
    let p = |raw: &[u8], anon: Option<&str>, trunc| {
        let mut out = Vec::new();
        path_into(raw, anon, trunc, 99, &mut out);
        String::from_utf8(out).unwrap()
    };
    assert_eq!(p(b"f.txt/dir/tmp/", None, false), "/tmp/dir/f.txt");
    assert_eq!(p(b"f.txt/dir/", None, true), "dir/f.txt");
    assert_eq!(p(b"", None, false), "/");
    assert_eq!(p(b"TCP/", Some("anon"), false), "TCP");
    assert_eq!(p(b"/", Some("anon"), false), "anon:[99]");
    assert_eq!(p(b"/", Some("pipe"), false), "pipe:[99]");
    // Bytes are kept as they are (escaped only when printed).
    assert_eq!(p(b"a\x1b[2J\nb/tmp/", None, false), "/tmp/a\x1b[2J\nb");
}

#[test]
fn rows_are_libbpf_tools_layout() {
    assert_eq!(
        header_line::<FileRow<'_>>(&()),
        format!(
            "{:<7} {:<16} {:<6} {:<6} {:<7} {:<7} {:<1} {}",
            "PID", "COMM", "READS", "WRITES", "R_KB", "W_KB", "T", "FILE"
        )
    );
    let v = value(0, 256, 0, 1 << 20, b"f/tmp/", 0);
    let mut buf = Vec::new();
    let k = Key {
        tgid: 4242,
        dev: 8,
        ino: 12,
    };
    let r = row(&k, &v, &mut buf);
    assert_eq!(
        table_line(&r, &()),
        format!(
            "{:<7} {:<16} {:<6} {:<6} {:<7} {:<7} {:<1} {}",
            4242, "dd", 0, 256, 0, 1024, "R", "/tmp/f"
        )
    );
    let j = serde_json::to_value(&r).unwrap();
    assert_eq!(
        j,
        serde_json::json!({"pid": 4242, "comm": "dd", "reads": 0, "writes": 256,
            "rbytes": 0, "wbytes": 1048576, "file_type": "R", "file": "/tmp/f", "dev": 8, "ino": 12})
    );
    // Truncated: "..." before the tail, and said in JSON.
    let v = value(1, 0, 5, 0, b"f/d/", Flags::FILETOP_TRUNCATED.0 as u8);
    let r = row(&k, &v, &mut buf);
    assert!(table_line(&r, &()).ends_with(" R ...d/f"));
    assert_eq!(serde_json::to_value(&r).unwrap()["truncated"], true);
    // A hostile name: escaped in the table, exact in JSON.
    let v = value(1, 0, 5, 0, b"e\x1b[2J\nvil/tmp/", 0);
    let r = row(&k, &v, &mut buf);
    let line = table_line(&r, &());
    assert!(line.ends_with(r"/tmp/e\e[2J\nvil"), "{line:?}");
    let j = serde_json::to_value(&r).unwrap();
    assert_eq!(j["file"], "/tmp/e\x1b[2J\nvil");
    // The path length from the kernel is bounded by the buffer.
    let mut v = value(1, 0, 5, 0, b"x/", 0);
    v.path_len = u16::MAX;
    let _ = row(&k, &v, &mut buf);
}
