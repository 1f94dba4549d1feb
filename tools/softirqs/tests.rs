use super::*;
use corescope::cli::try_parse_from;
use corescope::output::{header_line, table_line};

fn parse(args: &[&str]) -> Result<Args, clap::Error> {
    try_parse_from::<Args, _, _>(
        Softirqs::SHORTS,
        std::iter::once("softirqs").chain(args.iter().copied()),
    )
}

#[test]
fn flags_as_libbpf_tools() {
    let a = parse(&["-NTC", "2", "3"]).unwrap();
    assert!(a.irq.nanoseconds && a.irq.iv.timestamp && a.runs);
    assert_eq!((a.irq.iv.interval, a.irq.iv.count), (Some(2), Some(3)));
    assert!(parse(&["-d", "-N"]).unwrap().irq.dist);
    assert!(parse(&["-C", "-d"]).is_err());
    let e = parse(&["-p", "1"]).unwrap().irq.tasks.refuse("softirqs");
    assert!(e.unwrap_err().to_string().contains("takes no --pid"));
}

#[test]
fn names_are_the_kernels_vectors() {
    // kernel/softirq.c softirq_to_name, in the order of enum NR_SOFTIRQS.
    assert_eq!(
        NAMES[..10],
        [
            "hi", "timer", "net_tx", "net_rx", "block", "irq_poll", "tasklet", "sched", "hrtimer",
            "rcu"
        ]
    );
    assert_eq!(name(3), "net_rx");
    assert_eq!(name(99), "?");
}

fn row(vec: u32, count: u64, ns: u64) -> VecRow<'static> {
    VecRow {
        interval: 1,
        time: None,
        softirq: name(vec),
        vec,
        count,
        time_ns: ns,
    }
}

#[test]
fn table_is_libbpf_tools_layout() {
    let us = Shown {
        ns: false,
        count: false,
    };
    let c = Shown {
        ns: true,
        count: true,
    };
    // printf("%-16s %6s%5s\n", "SOFTIRQ", "TOTAL_", units) (Debian's 0.26);
    // with -C (newer libbpf-tools): "%-16s %-6s%-5s  %-11s".
    assert_eq!(
        header_line::<VecRow<'_>>(&us),
        format!("{:<16} TOTAL_usecs", "SOFTIRQ")
    );
    assert_eq!(
        header_line::<VecRow<'_>>(&c),
        format!("{:<16} TOTAL_nsecs  TOTAL_count", "SOFTIRQ")
    );
    // "%-16s %11llu" and "  %11llu".
    assert_eq!(
        table_line(&row(1, 5, 756_900), &us),
        format!("{:<16} {:>11}", "timer", 756)
    );
    assert_eq!(
        table_line(&row(3, 12, 4_000), &c),
        format!("{:<16} {:>11}  {:>11}", "net_rx", 4000, 12)
    );
}

#[test]
fn json_has_the_vector_count_and_exact_time() {
    let v = serde_json::to_value(row(7, 3, 999)).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"interval": 1, "softirq": "sched", "vec": 7, "count": 3, "time_ns": 999})
    );
}

#[test]
fn histogram_sections_are_named_as_libbpf_tools() {
    let v = Value::default();
    let keys = [hist_key(&3, &v)];
    // printf("softirq = %s\n", vec_names[vec]).
    let mut b = String::new();
    corescope::hist::write_section_header(&mut b, &keys);
    assert_eq!(b, "softirq = net_rx\n");
}
