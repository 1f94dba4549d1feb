//! Unit tests of tools/xdpdrop.rs: flags, rows (table and JSON), and the
//! constants shared with the BPF side.

use super::*;
use corescope::output::{header_line, json_line, table_line};
use corescope::skel::xdpdrop::types::{xdpdrop_dim as D, xdpdrop_limits as L, xdpdrop_wild as W};

fn args(a: &[&str]) -> Args {
    corescope::cli::try_parse_from(SHORTS, std::iter::once("xdpdrop").chain(a.iter().copied()))
        .unwrap()
}

fn tool(a: &[&str]) -> Tool {
    let a = args(a);
    let rules = rules::gather(&a.drop, None).unwrap();
    Tool { a, rules }
}

fn c(packets: u64, bytes: u64) -> Count {
    Count { packets, bytes }
}

fn table(rows: &Rows) -> Vec<String> {
    rows.iter()
        .map(|(_, r)| table_line(&counters::columns(), r))
        .collect()
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
    assert!(a.allow_only && a.dry_run && a.force && a.run.json);
    assert_eq!(
        (a.mode, a.interval, a.run.duration, a.run.verbose),
        (XdpMode::Skb, 5, Some(9), 1)
    );
    let d = args(&["lo"]);
    assert_eq!(
        (d.mode, d.interval, d.force, d.dry_run),
        (XdpMode::Auto, 1, false, false)
    );
    for m in ["auto", "native", "skb", "offload", "hw"] {
        assert!(
            corescope::cli::try_parse_from::<Args, _, _>(SHORTS, ["x", "lo", "--mode", m]).is_ok()
        );
    }
    for bad in [
        &["x"][..],
        &["x", "lo", "-i", "0"],
        &["x", "lo", "--mode", "xdp"],
        &["x", "lo", "--pid", "1"],
    ] {
        assert!(
            corescope::cli::try_parse_from::<Args, _, _>(SHORTS, bad).is_err(),
            "{bad:?}"
        );
    }
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
    let mut now = t.zero();
    now[0][0] = c(200, 12_000);
    now[1][St::XD_ST_DROP.0 as usize] = c(200, 12_000);
    now[1][St::XD_ST_PASS.0 as usize] = c(10, 700);
    let rows = t.rows(&now, &t.zero(), 2.0, Some("10:00:00"));
    assert_eq!(
        header_line(&counters::columns()),
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
    let mut b = Vec::new();
    json_line(rows[0].0, &rows[0].1, &mut b).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
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
    let mut b = Vec::new();
    json_line(rows[2].0, &rows[2].1, &mut b).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
    assert_eq!(
        (v["type"].as_str(), v["name"].as_str()),
        (Some("action"), Some("drop"))
    );
    assert!(v.get("rule").is_none());
}

#[test]
fn dry_run_malformed_and_totals() {
    let t = tool(&["lo", "-n", "--drop", "udp"]);
    let mut now = t.zero();
    now[1][St::XD_ST_MALFORMED.0 as usize] = c(3, 90);
    now[1][St::XD_ST_WOULD_DROP.0 as usize] = c(4, 400);
    let rows = table(&t.rows(&now, &t.zero(), 1.0, None));
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
    let mut a: Vec<&str> = vec!["lo"];
    a.extend(drops.iter().map(String::as_str));
    let t = tool(&a);
    let mut now = t.zero();
    now[0][7] = c(1, 60);
    let rows = table(&t.rows(&now, &t.zero(), 1.0, Some("10:00:00")));
    assert_eq!(rows.len(), 1 + 3);
    assert!(rows[0].ends_with("#8 tcp dst-port 7"));
}

#[test]
fn no_rules_counts_per_protocol() {
    let t = tool(&["eth0"]);
    let (prev, mut now) = (t.zero(), t.zero());
    assert_eq!(now[2].len(), L::XD_PROTO_SLOTS.0 as usize);
    now[2][17] = c(36616, 2_196_960);
    now[2][200] = c(1, 64);
    now[2][L::XD_PROTO_NONIP.0 as usize] = c(2, 120);
    now[2][L::XD_PROTO_MALFORMED.0 as usize] = c(1, 10);
    let rows = t.rows(&now, &prev, 1.0, Some("10:00:00"));
    assert_eq!(
        table(&rows),
        [
            "10:00:00        36616        36616      2196960 17 udp",
            "10:00:00            1            1           64 200",
            "10:00:00            2            2          120 non-IP",
            "10:00:00            1            1           10 malformed",
        ]
    );
    let mut b = Vec::new();
    json_line(rows[0].0, &rows[0].1, &mut b).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
    assert_eq!(
        (v["type"].as_str(), v["proto"].as_u64(), v["name"].as_str()),
        (Some("proto"), Some(17), Some("udp"))
    );
    let mut b = Vec::new();
    json_line(rows[2].0, &rows[2].1, &mut b).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
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
    ] {
        assert_eq!(r, b.0);
    }
    assert_eq!(rules::MAX_RULES, L::XD_MAX_RULES.0 as usize);
    assert_eq!(rules::WORDS, L::XD_WORDS.0 as usize);
    assert!(2 * rules::MAX_RULES + 2 <= L::XD_PORT_CLASSES.0 as usize);
    assert_eq!(ACTIONS.len(), St::XD_ST_MAX.0 as usize);
}
