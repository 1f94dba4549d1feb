//! Unit tests of tools/xdpdrop/mod.rs: flags, rows (table and JSON), and the
//! constants shared with the BPF side.

use super::*;
use corescope::output::{header_line, json_line, table_line};
use corescope::skel::xdpdrop::types::{xdpdrop_dim as D, xdpdrop_limits as L, xdpdrop_wild as W};

fn args(a: &[&str]) -> Args {
    corescope::cli::try_parse_from(
        Xdpdrop::SHORTS,
        std::iter::once("xdpdrop").chain(a.iter().copied()),
    )
    .unwrap()
}

fn tool(a: &[&str]) -> Xdpdrop {
    let a = args(a);
    let rules = rules::gather(&a.drop, None).unwrap();
    let tables = Tables::compile(&rules);
    let (link, prev, gone, totals) = (None, Snap::default(), false, Totals::default());
    #[rustfmt::skip]
    let t = Xdpdrop { a, rules, tables, ifindex: 1, link, prev, gone, totals };
    t
}

fn c(packets: u64, bytes: u64) -> Count {
    Count { packets, bytes }
}

fn table(rows: &Rows) -> Vec<String> {
    rows.iter().map(|(_, r)| table_line(r, &())).collect()
}

fn json(row: &(&str, CounterRow<Key>)) -> serde_json::Value {
    let mut b = Vec::new();
    json_line(row.0, &row.1, &mut b).unwrap();
    serde_json::from_slice(&b).unwrap()
}

fn parses(a: &[&str]) -> bool {
    corescope::cli::try_parse_from::<Args, _, _>(Xdpdrop::SHORTS, a).is_ok()
}

#[test]
fn every_flag_parses() {
    let a = args(&[
        "veth0",
        "--drop",
        "udp dst-port 53",
        "--drop",
        "icmp",
        "--rules",
        "/x",
        "--allow-only",
        "-n",
        "-m",
        "skb",
        "-f",
        "-i",
        "5",
        "-j",
        "-d",
        "9",
        "-v",
        "--btf",
        "/b",
    ]);
    assert_eq!(a.iface, "veth0");
    assert_eq!(a.drop, ["udp dst-port 53", "icmp"]);
    assert_eq!(a.rules.as_deref(), Some(std::path::Path::new("/x")));
    assert!(a.policy.allow_only && a.policy.dry_run && a.force && a.run.json);
    assert_eq!(a.mode, XdpMode::Skb);
    assert_eq!((a.interval, a.run.duration, a.run.verbose), (5, Some(9), 1));
    let long = args(&[
        "lo",
        "--dry-run",
        "--mode",
        "native",
        "--force",
        "--interval",
        "2",
    ]);
    assert!(long.policy.dry_run && long.force && long.mode == XdpMode::Native);
    let d = args(&["lo"]);
    assert_eq!((d.mode, d.interval, d.force), (XdpMode::Auto, 1, false));
    assert_eq!(d.policy, Policy::default());
    for m in ["auto", "native", "skb", "offload", "hw"] {
        assert!(parses(&["x", "lo", "--mode", m]), "{m}");
    }
    assert!(!parses(&["x"]), "IFACE is required");
    assert!(!parses(&["x", "lo", "-i", "0"]));
    assert!(!parses(&["x", "lo", "--mode", "xdp"]));
    let m = args(&["lo", "--malformed", "drop"]);
    assert_eq!(m.policy.malformed, Some(rules::Malformed::Drop));
    assert!(!parses(&["x", "lo", "--malformed", "maybe"]));
    assert!(!parses(&["x", "lo", "--pid", "1"]), "no process filters");
}

#[test]
fn rule_rows_and_actions() {
    let t = tool(&[
        "lo",
        "--drop",
        "udp dst-port 53",
        "--drop",
        "src 10.0.0.0/8",
    ]);
    let acts = Actions {
        drop: c(200, 12_000),
        pass: c(10, 700),
        ..Actions::default()
    };
    let now = Snap(vec![c(200, 12_000), c(0, 0)], vec![], acts);
    let rows = t.rows(&now, &Snap::default(), 2.0, Some("10:00:00"));
    assert_eq!(
        header_line::<CounterRow<Key>>(&()),
        "TIME            PKT/S         PKTS        BYTES COUNTER"
    );
    assert_eq!(
        table(&rows),
        [
            "10:00:00          100          200        12000 #1 udp dst-port 53",
            "10:00:00            0            0            0 #2 src 10.0.0.0/8",
            "10:00:00          100          200        12000 DROP",
            "10:00:00            5           10          700 PASS",
            "10:00:00            0            0            0 ABORTED",
        ]
    );
    let v = json(&rows[0]);
    assert_eq!(v["type"], "rule");
    assert_eq!(
        (v["rule"].as_u64(), v["name"].as_str()),
        (Some(1), Some("udp dst-port 53"))
    );
    assert_eq!(
        (v["packets"].as_u64(), v["bytes"].as_u64()),
        (Some(200), Some(12000))
    );
    assert_eq!(
        (v["interval_packets"].as_u64(), v["pps"].as_f64()),
        (Some(200), Some(100.0))
    );
    let v = json(&rows[2]);
    assert_eq!(
        (v["type"].as_str(), v["name"].as_str()),
        (Some("action"), Some("drop"))
    );
    assert!(v.get("rule").is_none());
    // The next interval: rates from the difference.
    let later = Snap(vec![c(260, 15_600), c(1, 90)], vec![], acts);
    let rows = table(&t.rows(&later, &now, 1.0, Some("10:00:01")));
    assert_eq!(
        rows[0],
        "10:00:01           60          260        15600 #1 udp dst-port 53"
    );
    assert_eq!(
        rows[1],
        "10:00:01            1            1           90 #2 src 10.0.0.0/8"
    );
}

#[test]
fn dry_run_malformed_and_totals() {
    let t = tool(&["lo", "-n", "--drop", "udp"]);
    let acts = Actions {
        pass: c(7, 490),
        malformed: c(3, 90),
        would_drop: c(4, 400),
        ..Actions::default()
    };
    let rows = table(&t.rows(
        &Snap(vec![c(4, 400)], vec![], acts),
        &Snap::default(),
        1.0,
        None,
    ));
    assert_eq!(
        rows[0],
        "total               4            4          400 #1 udp"
    );
    assert_eq!(
        rows[4],
        "total               3            3           90 PASS (malformed)"
    );
    assert_eq!(
        rows[5],
        "total               4            4          400 PASS (dry run)"
    );
}

#[test]
fn many_rules_show_only_active_ones_in_the_table() {
    let drops: Vec<String> = (0..40)
        .map(|p| format!("--drop=tcp dst-port {p}"))
        .collect();
    let a: Vec<&str> = std::iter::once("lo")
        .chain(drops.iter().map(String::as_str))
        .collect();
    let t = tool(&a);
    let mut rules = vec![c(0, 0); 40];
    rules[7] = c(1, 60);
    let now = Snap(rules, vec![], Actions::default());
    let rows = table(&t.rows(&now, &Snap::default(), 1.0, Some("10:00:00")));
    assert_eq!(rows.len(), 1 + 3);
    assert!(rows[0].ends_with("#8 tcp dst-port 7"));
}

#[test]
fn no_rules_counts_per_protocol() {
    let t = tool(&["eth0"]);
    let mut protos = vec![c(0, 0); L::XD_PROTO_SLOTS.0 as usize];
    protos[17] = c(36616, 2_196_960);
    protos[200] = c(1, 64);
    protos[L::XD_PROTO_NONIP.0 as usize] = c(2, 120);
    protos[L::XD_PROTO_MALFORMED.0 as usize] = c(1, 10);
    let now = Snap(vec![], protos, Actions::default());
    let rows = t.rows(&now, &Snap::default(), 1.0, Some("10:00:00"));
    assert_eq!(
        table(&rows),
        [
            "10:00:00        36616        36616      2196960 17 udp",
            "10:00:00            1            1           64 200",
            "10:00:00            2            2          120 non-IP",
            "10:00:00            1            1           10 malformed",
        ]
    );
    let v = json(&rows[0]);
    assert_eq!(
        (v["type"].as_str(), v["proto"].as_u64()),
        (Some("proto"), Some(17))
    );
    assert_eq!(v["name"], "udp");
    let v = json(&rows[2]);
    assert!(v.get("proto").is_none() && v["name"] == "non-IP");
}

#[test]
fn constants_match_the_bpf_side() {
    use rules::{dim, wild};
    for (r, b) in [
        (dim::PROTO, D::XD_D_PROTO),
        (dim::SRC, D::XD_D_SRC),
        (dim::DST, D::XD_D_DST),
        (dim::SPORT, D::XD_D_SPORT),
        (dim::DPORT, D::XD_D_DPORT),
        (dim::MAC, D::XD_D_MAC),
        (dim::SRC4, D::XD_D_SRC4),
        (dim::SRC6, D::XD_D_SRC6),
        (dim::DST4, D::XD_D_DST4),
        (dim::DST6, D::XD_D_DST6),
    ] {
        assert_eq!(r, b.0);
    }
    for (r, b) in [
        (wild::SRC, W::XD_W_SRC),
        (wild::DST, W::XD_W_DST),
        (wild::MAC, W::XD_W_MAC),
        (wild::NONIP, W::XD_W_NONIP),
        (wild::PROTO, W::XD_W_PROTO),
    ] {
        assert_eq!(r, b.0);
    }
    assert_eq!(rules::MAX_RULES, L::XD_MAX_RULES.0 as usize);
    assert_eq!(rules::WORDS, L::XD_WORDS.0 as usize);
    assert!(2 * rules::MAX_RULES + 2 <= L::XD_PORT_CLASSES.0 as usize);
    assert_eq!(L::XD_PROTO_SLOTS.0, 258);
    assert_eq!(St::XD_ST_MAX.0, 3);
}

/// xdpdrop's BPF object holds only what it uses (#11: the BPF headers are
/// opt-in): its XDP program and maps, no ring buffer, no loss counters, no
/// process-tree programs, no task filter.
#[test]
fn the_bpf_object_has_no_event_or_task_tracing_parts() {
    let (_, elf) = corescope::skel::OBJECTS
        .iter()
        .find(|(t, _)| *t == "xdpdrop")
        .unwrap();
    let obj = libbpf_rs::ObjectBuilder::default()
        .open_memory(elf)
        .unwrap();
    let progs: Vec<String> = obj
        .progs()
        .map(|p| p.name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(progs, ["xdpdrop"]);
    let maps: Vec<String> = obj
        .maps()
        .map(|m| m.name().to_string_lossy().into_owned())
        .collect();
    for gone in ["events", "cs_dropped", "cs_pids", "cs_cgroup"] {
        assert!(!maps.iter().any(|m| m == gone), "{gone} in {maps:?}");
    }
    assert!(
        obj.maps()
            .all(|m| m.map_type() != libbpf_rs::MapType::RingBuf),
        "{maps:?}"
    );
}
