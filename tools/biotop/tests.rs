//! Unit tests of biotop's CLI and rows (no BPF).

use super::*;
use corescope::output::{header_line, table_line};
use corescope::top::Screen;

fn args(a: &[&str]) -> Result<Args, clap::Error> {
    corescope::cli::try_parse_from::<Args, _, _>(
        Biotop::SHORTS,
        std::iter::once("biotop").chain(a.iter().copied()),
    )
}

#[test]
fn bcc_letters() {
    let a = args(&["-C", "-s", "io", "-r", "5", "-p", "7", "2", "3"]).unwrap();
    assert!(a.top.noclear);
    assert_eq!((a.sort, a.top.rows), (Sort::Io, 5));
    assert_eq!(a.common.filter.pid, vec![7]);
    assert_eq!(
        (a.top.interval.interval, a.top.interval.count),
        (2, Some(3))
    );
    let d = args(&[]).unwrap();
    assert_eq!((d.sort, d.top.rows), (Sort::All, 20));
    for s in ["all", "io", "bytes", "time"] {
        assert!(args(&["-s", s]).is_ok(), "{s}");
    }
    assert!(args(&["-s", "reads"]).is_err());
    assert_eq!(args(&["-d", "3"]).unwrap().common.run.duration, Some(3));
}

fn value(io: u64, bytes: u64, ns: u64) -> Value {
    Value { io, bytes, ns }
}

fn key(pid: u32, comm: &[u8], op: u8) -> Key {
    let mut k = Key {
        pid,
        dev: 7 << 20 | 3,
        op,
        ..Key::default()
    };
    k.comm[..comm.len()].copy_from_slice(comm);
    k
}

#[test]
fn sort_fields_score_their_column() {
    let v = value(3, 4096, 7_000_000);
    assert_eq!(Sort::All.score(&v), 3 + 4096 + 7000);
    assert_eq!(
        [Sort::Io, Sort::Bytes, Sort::Time].map(|s| s.score(&v)),
        [3, 4096, 7_000_000]
    );
}

#[test]
fn rows_are_libbpf_tools_layout() {
    assert_eq!(
        header_line::<IoRow<'_>>(&()),
        format!(
            "{:<7} {:<16} {:<1} {:<3} {:<3} {:<8} {:>5} {:>7} {:>6}",
            "PID", "COMM", "D", "MAJ", "MIN", "DISK", "I/O", "Kbytes", "AVGms"
        )
    );
    let k = key(4242, b"dd", b'W');
    let v = value(256, 1 << 20, 256 * 1_500_000);
    let r = row(&k, &v, b"loop3");
    assert_eq!(
        table_line(&r, &()),
        format!(
            "{:<7} {:<16} {:<1} {:<3} {:<3} {:<8} {:>5} {:>7} {:>6.2}",
            4242, "dd", "W", 7, 3, "loop3", 256, 1024, 1.5
        )
    );
    let j = serde_json::to_value(&r).unwrap();
    assert_eq!(
        j,
        serde_json::json!({"pid": 4242, "comm": "dd", "op": "W", "major": 7, "minor": 3,
            "disk": "loop3", "io": 256, "bytes": 1048576, "total_ns": 384000000u64,
            "avg_ms": 1.5})
    );
    // A hostile name: escaped in the table, exact in JSON.
    let k = key(1, b"e\x1b[2J\nvil", b'R');
    let r = row(&k, &v, b"d\x1bk");
    let line = table_line(&r, &());
    assert!(
        line.starts_with(r"1       e\e[2J\nvil      R 7   3   d\ek     "),
        "{line:?}"
    );
    let j = serde_json::to_value(&r).unwrap();
    assert_eq!(
        (j["comm"].as_str(), j["disk"].as_str()),
        (Some("e\x1b[2J\nvil"), Some("d\x1bk"))
    );
    // An unknown op byte is '?'.
    assert_eq!(row(&key(1, b"x", 0), &v, b"d").op, '?');
}

#[test]
fn totals_add_every_field() {
    let mut t = value(1, 2, 3);
    t.add(&value(10, 20, 30));
    assert_eq!((t.io, t.bytes, t.ns), (11, 22, 33));
    let s = sum(&t);
    assert_eq!((s.io, s.bytes, s.total_ns), (11, 22, 33));
}

/// A row of an interval (row, output) allocates nothing after warm-up.
#[test]
fn rows_allocate_nothing_per_row() {
    use corescope::alloc_count::{null_output, steady};
    let ks = [key(1, b"a", b'R'), key(2, b"\x1bx", b'W')];
    let v = value(3, 12288, 9_000);
    for json in [false, true] {
        let mut out = null_output(json);
        let screen = Screen::new(&TopArgs::default());
        let n = steady(|| {
            for k in &ks {
                screen.row(&mut out, &row(k, &v, b"loop3"), &()).unwrap();
            }
        });
        assert_eq!(n, 0, "json {json}");
    }
}
