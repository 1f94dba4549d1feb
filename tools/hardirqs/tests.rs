use super::*;
use corescope::cli::try_parse_from;
use corescope::hist;
use corescope::output::{header_line, table_line};

fn parse(args: &[&str]) -> Result<Args, clap::Error> {
    try_parse_from::<Args, _, _>(
        Hardirqs::SHORTS,
        std::iter::once("hardirqs").chain(args.iter().copied()),
    )
}

#[test]
fn flags_as_libbpf_tools() {
    let a = parse(&["-NT", "1", "5"]).unwrap();
    assert!(a.irq.nanoseconds && a.irq.iv.timestamp);
    assert_eq!((a.irq.iv.interval, a.irq.iv.count), (Some(1), Some(5)));
    assert_eq!(a.shown(), Shown::Nsecs);
    assert_eq!(parse(&["-C"]).unwrap().shown(), Shown::Count);
    assert!(parse(&["-d"]).unwrap().irq.dist);
    assert!(parse(&["--distributed"]).unwrap().irq.dist);
    // Count and distribution cannot go together (libbpf-tools refuses too).
    assert!(parse(&["-C", "-d"]).is_err());
    assert!(parse(&["-C", "-N"]).is_err());
}

#[test]
fn task_filters_are_refused_with_the_reason() {
    for args in [
        &["-c", "/sys/fs/cgroup"][..],
        &["-p", "1"],
        &["--comm", "sh"],
        &["--", "true"],
    ] {
        let a = parse(args).unwrap();
        let e = a.irq.tasks.refuse("hardirqs").unwrap_err().to_string();
        assert!(e.contains("interrupt handlers run in no task"), "{e}");
    }
    assert!(parse(&[]).unwrap().irq.tasks.refuse("hardirqs").is_ok());
}

fn row(name: &str, count: u64, ns: Option<u64>) -> String {
    let r = IrqRow {
        interval: 1,
        time: None,
        hardirq: KStr(name.as_bytes()),
        count,
        time_ns: ns,
    };
    let o = if ns.is_none() {
        Shown::Count
    } else {
        Shown::Usecs
    };
    table_line(&r, &o)
}

#[test]
fn table_is_libbpf_tools_layout() {
    // printf("%-26s %6s%5s\n", "HARDIRQ", "TOTAL_", units) and "%-26s %11llu".
    assert_eq!(
        header_line::<IrqRow<'_>>(&Shown::Usecs),
        format!("{:<26} {:>6}{:>5}", "HARDIRQ", "TOTAL_", "usecs")
    );
    assert_eq!(
        header_line::<IrqRow<'_>>(&Shown::Count),
        format!("{:<26} {:>11}", "HARDIRQ", "TOTAL_count")
    );
    assert_eq!(
        row("virtio1-req.0", 3, Some(31_999)),
        format!("{:<26} {:>11}", "virtio1-req.0", 31)
    );
    assert_eq!(
        row("virtio3-tx", 12, None),
        format!("{:<26} {:>11}", "virtio3-tx", 12)
    );
    // A name longer than the column is kept whole (the number moves).
    let long = "a-handler-name-of-thirty-one-b";
    assert_eq!(row(long, 1, None), format!("{long} {:>11}", 1));
    // Kernel bytes are escaped.
    assert!(row("bad\nname", 1, None).starts_with("bad\\nname "));
}

#[test]
fn json_has_the_count_and_exact_time() {
    let r = IrqRow {
        interval: 2,
        time: Some("12:00:00"),
        hardirq: KStr(b"eth0"),
        count: 4,
        time_ns: Some(12_345),
    };
    let v = serde_json::to_value(&r).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"interval": 2, "time": "12:00:00", "hardirq": "eth0", "count": 4, "time_ns": 12345})
    );
}

#[test]
fn histogram_sections_are_named_as_libbpf_tools() {
    let mut k = IrqKey::default();
    k.name[..7].copy_from_slice(b"virtio0");
    let v = Value::default();
    let keys = [hist_key(&k, &v)];
    // printf("hardirq = %s\n", name): no blank line before it.
    let mut b = String::new();
    hist::write_section_header(&mut b, &keys);
    assert_eq!(b, "hardirq = virtio0\n");
    let slots = [0u64, 2, 1];
    let h = hist::Hist::log2(&slots, "usecs");
    let j = serde_json::to_value(h.record(&keys)).unwrap();
    assert_eq!(
        (j["hardirq"].as_str(), j["count"].as_u64()),
        (Some("virtio0"), Some(3))
    );
}
