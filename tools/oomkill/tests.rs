use super::*;
use corescope::output::{header_line, json_line, table_line};

fn event(have: u32) -> Event {
    let mut e = Event::default();
    (e.pid, e.uid, e.tpid, e.ttid, e.oom_score_adj, e.have) = (4242, 1000, 4242, 4243, -17, have);
    (e.total_vm_kb, e.anon_rss_kb, e.file_rss_kb) = (20480, 8000, 1200);
    (e.shmem_rss_kb, e.pgtables_kb) = (4, 64);
    e.ts_ns = corescope::clock::monotonic_ns();
    e.comm[..3].copy_from_slice(b"hog");
    e.tcomm[..7].copy_from_slice(b"trigger");
    e
}

const ALL: u32 = 31;

fn render(e: &Event, b: &Bufs) -> (String, String, serde_json::Value) {
    let x = Oomkill {
        bufs: Bufs::default(),
    };
    let out = Output::new(false).unwrap();
    let r = row(e, b, &out);
    let mut j = Vec::new();
    json_line("event", &r, &mut j).unwrap();
    (
        header_line::<Kill>(&x),
        table_line(&r, &x),
        serde_json::from_slice(&j).unwrap(),
    )
}

fn bufs(from: CommFrom, comm: &[u8]) -> Bufs {
    Bufs {
        loadavg: b"0.50 0.40 0.30 2/300 4567".to_vec(),
        comm: comm.to_vec(),
        comm_from: Some(from),
    }
}

#[test]
fn bcc_line_with_the_tracepoints_fields() {
    let (h, r, _) = render(&event(ALL), &bufs(CommFrom::Tracepoint, b""));
    assert_eq!(h, "Tracing OOM kills... Ctrl-C to stop.");
    let want = " Triggered by PID 4242 (\"trigger\"), OOM kill of PID 4242 (\"hog\"), \
                total-vm 20480kB, anon-rss 8000kB, file-rss 1200kB, shmem-rss 4kB, UID 1000, \
                pgtables 64kB, oom_score_adj -17, loadavg: 0.50 0.40 0.30 2/300 4567";
    assert_eq!(&r[8..], want);
    assert_eq!(r[..8].matches(':').count(), 2);
}

#[test]
fn an_old_kernel_has_only_the_pid() {
    // An older kernel: no comm, counts or UID in the tracepoint; the comm from /proc.
    let (_, r, j) = render(&event(0), &bufs(CommFrom::Proc, b"hog2"));
    assert!(
        r.ends_with("OOM kill of PID 4242 (\"hog2\"), loadavg: 0.50 0.40 0.30 2/300 4567"),
        "{r}"
    );
    assert_eq!(
        (j["comm"].as_str(), j["comm_from"].as_str()),
        (Some("hog2"), Some("proc"))
    );
    assert!(j["uid"].is_null() && j["total_vm_kb"].is_null() && j["oom_score_adj"].is_null());
    let (_, r, j) = render(&event(0), &bufs(CommFrom::Unknown, b""));
    assert!(r.contains("OOM kill of PID 4242 (?), loadavg"), "{r}");
    assert_eq!(j["comm_from"], "unknown");
}

#[test]
fn hostile_comms_are_escaped_quotes_included() {
    let mut e = event(ALL);
    e.comm = [0; 16];
    e.comm[..7].copy_from_slice(b"a\"b\x1b[2J");
    e.tcomm = [0; 16];
    e.tcomm[..3].copy_from_slice(b"\n\xff)");
    let (_, r, j) = render(&e, &bufs(CommFrom::Tracepoint, b""));
    assert!(
        r.contains(
            "Triggered by PID 4242 (\"\\n\\xff)\"), OOM kill of PID 4242 (\"a\\\"b\\e[2J\"),"
        ),
        "{r}"
    );
    assert_eq!(j["comm"], "a\"b\x1b[2J");
    assert!(j["trigger_comm"]["bytes"].is_string(), "{j}");
}

#[test]
fn json_fields() {
    let (_, _, mut v) = render(&event(ALL), &bufs(CommFrom::Tracepoint, b""));
    assert!(v.as_object_mut().unwrap().remove("time").is_some());
    let want = serde_json::json!({"type": "event", "schema": 1, "trigger_pid": 4242, "trigger_tid": 4243,
        "trigger_comm": "trigger", "pid": 4242, "comm": "hog", "comm_from": "tracepoint",
        "uid": 1000, "total_vm_kb": 20480, "anon_rss_kb": 8000, "file_rss_kb": 1200,
        "shmem_rss_kb": 4, "pgtables_kb": 64, "oom_score_adj": -17,
        "loadavg": "0.50 0.40 0.30 2/300 4567"});
    assert_eq!(v, want);
}

/// The event path (reading /proc/loadavg, the row, the output) allocates
/// nothing per event after warm-up.
#[test]
fn rows_allocate_nothing_per_event() {
    use corescope::alloc_count::{null_output, steady};
    // The second has no comm: /proc/PID/comm of this process is read.
    let mut old = event(0);
    old.pid = std::process::id();
    let evs = [event(ALL), old];
    for json in [false, true] {
        let mut out = null_output(json);
        let mut x = Oomkill {
            bufs: Bufs::default(),
        };
        let n = steady(|| {
            for e in &evs {
                x.event(e, &[], &mut out).unwrap();
            }
        });
        assert_eq!(n, 0, "json {json}");
    }
}

#[test]
fn the_victims_comm_from_proc() {
    let mut e = event(0);
    e.pid = std::process::id();
    let mut b = Bufs::default();
    b.fill(&e);
    let want = std::fs::read_to_string("/proc/self/comm").unwrap();
    assert_eq!(
        (b.comm_from, b.comm.as_slice()),
        (Some(CommFrom::Proc), want.trim_end().as_bytes())
    );
    assert!(!b.loadavg.is_empty() && !b.loadavg.ends_with(b"\n"));
    e.pid = u32::MAX; // no such process
    b.fill(&e);
    assert_eq!(b.comm_from, Some(CommFrom::Unknown));
}
