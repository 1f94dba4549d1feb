//! Unit tests of syscount's CLI, names and rows (no BPF).

use super::*;
use corescope::output::{header_line, table_line};

fn args(a: &[&str]) -> Result<Args, clap::Error> {
    corescope::cli::try_parse_from::<Args, _, _>(
        Syscount::SHORTS,
        std::iter::once("syscount").chain(a.iter().copied()),
    )
}

#[test]
fn bcc_letters_and_the_top_shape() {
    let a = args(&["-PLmx", "-p", "4", "-T", "5", "2", "3"]).unwrap();
    assert!(a.process && a.latency && a.milliseconds && a.failures);
    assert_eq!(a.common.filter.pid, vec![4]);
    assert_eq!(a.top_rows, Some(5));
    assert_eq!(
        (a.top.interval.interval, a.top.interval.count),
        (2, Some(3))
    );
    let a = args(&["-e", "enoent", "--syscall", "openat", "-C", "-r", "7"]).unwrap();
    assert_eq!((a.errno, a.syscall), (Some(2), Some(257)));
    assert!(a.top.noclear);
    assert_eq!((a.top.rows, a.top_rows), (7, None));
    for bad in [
        &["-x", "-e", "EPERM"][..], // one error filter
        &["-m"],                    // -m needs -L
        &["-T", "3", "-r", "4"],    // one row count
        &["-T", "0"],
        &["-e", "ENOTANERRNO"],
        &["-e", "0"],
        &["--syscall", "no_such_call"],
        &["--syscall", "5000"],
    ] {
        assert!(args(bad).is_err(), "{bad:?} accepted");
    }
}

#[test]
fn the_table_is_sorted_unique_and_knows_the_usual_names() {
    assert!(names::TABLE.windows(2).all(|w| w[0].0 < w[1].0));
    let mut n: Vec<&str> = names::TABLE.iter().map(|x| x.1).collect();
    n.sort_unstable();
    n.dedup();
    assert_eq!(n.len(), names::TABLE.len(), "a name twice");
    // x86_64's ABI (arch/x86/entry/syscalls/syscall_64.tbl).
    for (nr, name) in [(0, "read"), (1, "write"), (59, "execve"), (110, "getppid")] {
        assert_eq!(names::name(nr), Some(name));
        assert_eq!(names::parse_syscall(name), Ok(nr));
    }
    assert_eq!(names::name(257), Some("openat"));
    assert_eq!(names::name(462), Some("mseal"));
    assert_eq!(names::name(1000), None);
    assert_eq!(names::parse_errno("EACCES"), Ok(13));
    assert_eq!(names::parse_errno("ENOENT"), Ok(2));
    assert!(names::list_text().starts_with("  0: read\n  1: write\n"));
}

fn value(count: u64, total_ns: u64, comm: &[u8]) -> Value {
    let mut v = Value {
        count,
        total_ns,
        ..Value::default()
    };
    v.comm[..comm.len()].copy_from_slice(comm);
    v
}

#[test]
fn rows_are_bccs_layout() {
    let by_call = Shape::default();
    assert_eq!(
        header_line::<SysRow<'_>>(&by_call),
        "SYSCALL                   COUNT"
    );
    let v = value(10_000, 0, b"");
    let r = row(&by_call, &Key { id: 110 }, &v);
    assert_eq!(
        table_line(&r, &by_call),
        format!("{:<22} {:>8}", "getppid", 10000)
    );
    let r = row(&by_call, &Key { id: 999 }, &v);
    assert_eq!(
        table_line(&r, &by_call),
        format!("{:<22} {:>8}", "[unknown: 999]", 10000)
    );
    // -P -L: "PID    COMM" as "%-6d %-15s", the time as "%16.3f" µs.
    let s = Shape {
        process: true,
        latency: true,
        ms: false,
    };
    assert_eq!(
        header_line::<SysRow<'_>>(&s),
        "PID    COMM               COUNT        TIME (us)"
    );
    let v = value(4, 1_000_093_029, b"syscount");
    let r = row(&s, &Key { id: 28897 }, &v);
    assert_eq!(
        table_line(&r, &s),
        format!(
            "{:<6} {:<15} {:>8} {:>16.3}",
            28897, "syscount", 4, 1_000_093.029
        )
    );
    // -m: "%16.6f" ms.
    let ms = Shape { ms: true, ..s };
    assert!(header_line::<SysRow<'_>>(&ms).ends_with("       TIME (ms)"));
    assert!(table_line(&r, &ms).ends_with("     1000.093029"));
    // A hostile name: escaped, cut to its column, the columns after it hold.
    let v = value(1, 0, b"a\x1b[2J\nbcdefghijk");
    let r = row(&s, &Key { id: 1 }, &v);
    let line = table_line(&r, &s);
    assert!(!line.contains('\x1b') && !line.contains('\n'), "{line:?}");
    assert_eq!(
        line.find(" 1 "),
        header_line::<SysRow<'_>>(&s).find("COUNT").map(|i| i + 3)
    );
}

#[test]
fn json_rows_have_exact_values() {
    let s = Shape {
        process: false,
        latency: true,
        ms: true,
    };
    let v = value(3, 123_456, b"");
    let r = row(&s, &Key { id: 0 }, &v);
    let j = serde_json::to_value(&r).unwrap();
    assert_eq!(
        j,
        serde_json::json!({"syscall": "read", "nr": 0, "count": 3, "total_ns": 123456})
    );
    let p = Shape::default();
    let p = Shape { process: true, ..p };
    let v = value(3, 0, b"sh");
    let j = serde_json::to_value(row(&p, &Key { id: 42 }, &v)).unwrap();
    assert_eq!(j, serde_json::json!({"pid": 42, "comm": "sh", "count": 3}));
}
