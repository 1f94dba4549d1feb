use super::*;

fn labels(kv: &[(&str, &str)]) -> Labels {
    kv.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn log2(i: usize, n: usize) -> f64 {
    bound(Scale::Log2, 1e-6, i, n)
}

#[test]
fn log2_slots_become_cumulative_buckets_in_seconds() {
    let mut st = Store {
        max_series: 10,
        ..Store::default()
    };
    // usecs: slot 0 holds 0 and 1, slot 3 holds 8..=15, of 64 slots.
    let mut slots = [0u64; 64];
    slots[0] = 2;
    slots[3] = 5;
    st.observe(
        "corescope_t_seconds",
        "h",
        labels(&[("disk", "loop0")]),
        log2,
        &slots,
        60e-6,
    );
    // A second read adds (never reset between scrapes).
    let mut more = [0u64; 64];
    more[1] = 1;
    st.observe(
        "corescope_t_seconds",
        "h",
        labels(&[("disk", "loop0")]),
        log2,
        &more,
        3e-6,
    );
    let text = st.encode();
    let want = [
        "# TYPE corescope_t_seconds histogram",
        r#"corescope_t_seconds_bucket{disk="loop0",le="2e-06"} 2"#,
        r#"corescope_t_seconds_bucket{disk="loop0",le="4e-06"} 3"#,
        r#"corescope_t_seconds_bucket{disk="loop0",le="8e-06"} 3"#,
        r#"corescope_t_seconds_bucket{disk="loop0",le="1.6e-05"} 8"#,
        r#"corescope_t_seconds_bucket{disk="loop0",le="+Inf"} 8"#,
        r#"corescope_t_seconds_count{disk="loop0"} 8"#,
    ];
    for w in want {
        assert!(text.contains(w), "{w:?} not in:\n{text}");
    }
    assert!(
        text.contains(r#"corescope_t_seconds_sum{disk="loop0"} 0.000063"#),
        "{text}"
    );
    // Slots past the last one used have no bucket of their own.
    assert_eq!(text.matches("_bucket{").count(), 5, "{text}");
}

#[test]
fn the_last_slot_is_inf_and_linear_bounds_follow_the_step() {
    assert_eq!(bound(Scale::Log2, 1.0, 63, 64), f64::INFINITY);
    assert_eq!(bound(Scale::Log2, 1.0, 2, 27), 8.0);
    let lin = Scale::Linear { base: 10, step: 5 };
    assert_eq!(bound(lin, 1.0, 0, 4), 15.0);
    assert_eq!(bound(lin, 1.0, 2, 4), 25.0);
    assert_eq!(bound(lin, 1.0, 3, 4), f64::INFINITY);
}

#[test]
fn counters_grow_and_totals_never_go_down() {
    let mut st = Store {
        max_series: 10,
        ..Store::default()
    };
    st.add(
        "corescope_t_calls",
        "c",
        labels(&[("syscall", "read")]),
        3.0,
    );
    st.add(
        "corescope_t_calls",
        "c",
        labels(&[("syscall", "read")]),
        4.0,
    );
    st.set("corescope_events", "e", labels(&[("tool", "t")]), 10.0);
    st.set("corescope_events", "e", labels(&[("tool", "t")]), 7.0);
    let text = st.encode();
    assert!(
        text.contains("# TYPE corescope_t_calls_total counter"),
        "{text}"
    );
    assert!(
        text.contains(r#"corescope_t_calls_total{syscall="read"} 7"#),
        "{text}"
    );
    assert!(
        text.contains(r#"corescope_events_total{tool="t"} 10"#),
        "{text}"
    );
}

#[test]
fn keys_past_the_bound_go_to_the_other_series() {
    let mut st = Store {
        max_series: 2,
        ..Store::default()
    };
    for (k, n) in [("a", 1.0), ("b", 2.0), ("c", 4.0), ("d", 8.0), ("a", 16.0)] {
        st.add("corescope_t_x", "x", labels(&[("k", k)]), n);
    }
    let text = st.encode();
    assert!(text.contains(r#"corescope_t_x_total{k="a"} 17"#), "{text}");
    assert!(text.contains(r#"corescope_t_x_total{k="b"} 2"#), "{text}");
    assert!(text.contains("corescope_t_x_total 12"), "{text}");
    assert!(
        !text.contains(r#"k="c""#) && !text.contains(r#"k="d""#),
        "{text}"
    );
}

#[test]
fn an_idle_series_gives_its_place_and_its_counts_to_other() {
    let mut st = Store {
        max_series: 1,
        ..Store::default()
    };
    st.add("corescope_t_x", "x", labels(&[("k", "old")]), 5.0);
    let f = st.family("corescope_t_x", "x", Kind::Counter);
    f.series[0].changed = Instant::now() - IDLE - Duration::from_secs(1);
    st.add("corescope_t_x", "x", labels(&[("k", "new")]), 1.0);
    let text = st.encode();
    assert!(text.contains(r#"corescope_t_x_total{k="new"} 1"#), "{text}");
    assert!(text.contains("corescope_t_x_total 5"), "{text}");
    assert!(!text.contains(r#"k="old""#), "{text}");
}

#[test]
fn label_values_are_escaped_and_rows_follow_their_spec() {
    let sink = Sink::new(10);
    let h = sink.handle("tt");
    #[derive(Serialize)]
    struct R<'a> {
        comm: &'a str,
        pid: u32,
        count: u64,
        total_ns: Option<u64>,
    }
    const SPEC: RowSpec = RowSpec {
        labels: &["pid", "comm"],
        counters: &[
            ("count", "calls", "c", 1.0),
            ("total_ns", "time_seconds", "t", 1e-9),
        ],
    };
    let comm = label_text(b"a\"b\n\x1b[2J");
    h.row(
        &SPEC,
        &R {
            comm: &comm,
            pid: 7,
            count: 3,
            total_ns: Some(2_000_000_000),
        },
    );
    h.row(
        &SPEC,
        &R {
            comm: &comm,
            pid: 7,
            count: 1,
            total_ns: None,
        },
    );
    let text = sink.lock().encode();
    assert!(!text.contains('\x1b'), "{text}");
    let line = text
        .lines()
        .find(|l| l.starts_with("corescope_tt_calls_total{"))
        .unwrap_or_default();
    assert!(
        line.contains(r#"pid="7""#) && line.ends_with(" 4"),
        "{text}"
    );
    assert!(line.contains(r#"\""#) && !line.contains('\n'), "{line}");
    assert!(text.contains("corescope_tt_time_seconds_total{"), "{text}");
}

#[test]
fn listen_addresses_parse_or_say_how() {
    assert_eq!(
        parse_listen("--prometheus", "127.0.0.1:9476").unwrap(),
        vec!["127.0.0.1:9476".parse::<SocketAddr>().unwrap()]
    );
    assert_eq!(
        parse_listen("--prometheus", ":9476").unwrap(),
        vec!["0.0.0.0:9476".parse::<SocketAddr>().unwrap()]
    );
    assert!(parse_listen("--prometheus", "[::1]:1").is_ok());
    for bad in [
        "",
        "9476",
        "127.0.0.1",
        "127.0.0.1:http0",
        "1.2.3.4:99999",
        "a b:1",
    ] {
        let e = parse_listen("--prometheus", bad).unwrap_err().to_string();
        assert!(e.contains("not ADDR:PORT"), "{bad}: {e}");
    }
}
