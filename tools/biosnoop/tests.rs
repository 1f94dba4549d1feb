//! Unit tests of biosnoop's CLI and rows (no BPF).

use super::*;
use corescope::output::{header_line, json_line, table_line};

fn args(a: &str) -> Result<Args, clap::Error> {
    corescope::cli::try_parse_from(
        Biosnoop::SHORTS,
        ["biosnoop"].into_iter().chain(a.split_whitespace()),
    )
}

/// A /sys with one disk, loop3 (7:3); removed on drop.
struct FakeSys(std::path::PathBuf);

impl FakeSys {
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for FakeSys {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn fake_sys() -> FakeSys {
    let root = std::env::temp_dir().join(format!(
        "cs-biosnoop-sys-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let _ = std::fs::remove_dir_all(&root);
    let disk = root.join("class/block/loop3");
    std::fs::create_dir_all(&disk).unwrap();
    std::fs::write(disk.join("dev"), "7:3\n").unwrap();
    FakeSys(root)
}

fn tool(flags: &str, sys: &Path) -> Biosnoop {
    let a = args(flags).unwrap();
    Biosnoop {
        opts: Opts { queued: a.queued },
        disks: DiskNames::new(sys),
    }
}

fn event(comm: &[u8], op: u8, dev: u32) -> Event {
    let mut e = Event::default();
    (e.pid, e.tid, e.dev, e.op, e.who) = (4242, 4243, dev, op, 1);
    (e.sector, e.bytes, e.lat_ns, e.queued_ns) = (2048, 8192, 1_234_567, 25_000);
    e.ts_ns = corescope::clock::monotonic_ns();
    e.comm[..comm.len()].copy_from_slice(comm);
    e
}

fn render(x: &mut Biosnoop, e: &Event) -> (String, String, serde_json::Value) {
    let out = Output::new(false).unwrap();
    x.disks.get(e.dev);
    let disk = x.disks.name(e.dev).unwrap();
    let r = row(e, disk, x.opts.queued, &out);
    let mut j = Vec::new();
    json_line("event", &r, &mut j).unwrap();
    let j = serde_json::from_slice(&j).unwrap();
    (header_line::<Io>(x), table_line(&r, x), j)
}

#[test]
fn libbpf_tools_columns() {
    let sys = fake_sys();
    let (h, r, _) = render(&mut tool("", sys.path()), &event(b"dd", b'W', 7 << 20 | 3));
    assert_eq!(
        h,
        "TIME(s)     COMM           PID     DISK    T SECTOR     BYTES   LAT(ms)"
    );
    // TIME(s) is the time since start: cut it off.
    assert_eq!(
        &r[12..],
        "dd             4242    loop3   W 2048       8192      1.235",
        "{r}"
    );
    let (h, r, _) = render(
        &mut tool("-Q", sys.path()),
        &event(b"dd", b'R', 7 << 20 | 3),
    );
    assert!(h.ends_with("BYTES   QUE(ms) LAT(ms)"), "{h}");
    assert!(r.ends_with("R 2048       8192      0.025   1.235"), "{r}");
    // A disk /sys does not know: MAJ:MIN.
    let (_, r, _) = render(
        &mut tool("", sys.path()),
        &event(b"dd", b'F', 259 << 20 | 1),
    );
    assert!(r.contains(" 259:1   F "), "{r}");
}

#[test]
fn hostile_comm_is_escaped_in_the_table_exact_in_json() {
    let sys = fake_sys();
    let comm = b"\x1b[2J\nx\xff";
    let (h, r, j) = render(&mut tool("", sys.path()), &event(comm, b'W', 7 << 20 | 3));
    assert!(r[12..].starts_with("\\e[2J\\nx\\xff "), "{r}");
    assert_eq!(h.find("PID"), r.find("4242"));
    assert!(!r.contains('\x1b') && !r.contains('\n'));
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(comm);
    assert_eq!(j["comm"], serde_json::json!({ "bytes": b64 }));
}

#[test]
fn json_fields() {
    let sys = fake_sys();
    let (_, _, mut v) = render(
        &mut tool("-Q", sys.path()),
        &event(b"dd", b'W', 7 << 20 | 3),
    );
    let o = v.as_object_mut().unwrap();
    assert!(o.remove("time_s").unwrap().is_f64());
    let want = serde_json::json!({"type": "event", "schema": 1, "comm": "dd", "pid": 4242, "tid": 4243,
        "disk": "loop3", "major": 7, "minor": 3, "op": "W", "sector": 2048, "bytes": 8192,
        "queued_ns": 25000, "latency_ns": 1234567, "error": 0, "task_from": "block_io_start"});
    assert_eq!(v, want);
    // Without -Q: no queued_ns.
    let (_, _, v) = render(&mut tool("", sys.path()), &event(b"dd", b'R', 7 << 20 | 3));
    assert!(v.get("queued_ns").is_none(), "{v}");
}

/// The hot path (row, output) allocates nothing per event after warm-up.
#[test]
fn rows_allocate_nothing_per_event() {
    use corescope::alloc_count::{null_output, steady};
    let sys = fake_sys();
    let evs = [
        event(b"a", b'R', 7 << 20 | 3),
        event(b"\x1bx", b'W', 7 << 20 | 3),
        event(b"z", b'F', 8 << 20),
    ];
    for flags in ["", "-Q", "-j", "-j -Q"] {
        let mut x = tool(flags, sys.path());
        let mut out = null_output(args(flags).unwrap().common.run.json);
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
    let a = args("-Q -d sdc -c /x -p 1 --comm dd -j --duration 2 -v").unwrap();
    assert!(a.queued && a.common.run.json);
    assert_eq!(a.disk.as_deref(), Some("sdc"));
    assert_eq!(a.common.run.duration, Some(2));
    // -d is the disk (BCC's letter), not --duration.
    assert!(args("-d").is_err());
    assert_eq!(args("--disk loop0").unwrap().disk.as_deref(), Some("loop0"));
}

#[test]
fn disk_errors_name_the_option_and_the_fix() {
    let sys = fake_sys();
    let e = disk::disk_dev_for(sys.path(), "sdz", "-d").unwrap_err();
    let s = format!("{e:#}");
    assert!(s.contains("-d sdz: no such block device"), "{s}");
    assert_eq!(
        disk::disk_dev_for(sys.path(), "loop3", "-d").unwrap(),
        7 << 20 | 3
    );
}
