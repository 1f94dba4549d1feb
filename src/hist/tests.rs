use super::*;

/// One piece of a recorded libbpf-tools output, as the tool would print it.
#[derive(Debug)]
enum Piece {
    /// A line the tool prints itself (its banner, an interval's blank line).
    Line(String),
    /// A `-T` time line.
    Time(String),
    /// A section header (`\npid = N comm`, `\ndisk = NAME\t`).
    Section(Vec<OwnedKey>),
    /// A histogram: its unit and slot counts.
    Hist(String, Vec<u64>),
}

#[derive(Debug)]
enum OwnedKey {
    Disk(Vec<u8>),
    Pid(u32, Vec<u8>),
}

impl OwnedKey {
    fn key(&self) -> Key<'_> {
        match self {
            OwnedKey::Disk(d) => Key::Disk(d),
            OwnedKey::Pid(pid, comm) => Key::Pid { pid: *pid, comm },
        }
    }
}

fn section_key(line: &str) -> Option<OwnedKey> {
    if let Some(d) = line.strip_prefix("disk = ") {
        let d = d
            .strip_suffix('\t')
            .expect("libbpf-tools ends a disk key with a tab");
        return Some(OwnedKey::Disk(d.as_bytes().to_vec()));
    }
    let rest = line.strip_prefix("pid = ")?;
    let (pid, comm) = rest.split_once(' ').expect("pid = N COMM");
    Some(OwnedKey::Pid(
        pid.parse().unwrap(),
        comm.as_bytes().to_vec(),
    ))
}

fn is_time(line: &str) -> bool {
    let b = line.as_bytes();
    b.len() == 8 && b[2] == b':' && b[5] == b':'
}

/// Splits a recorded output into pieces, reading each histogram's slot
/// counts out of its rows (and checking the row bounds are slot i's).
fn parse_fixture(text: &str) -> Vec<Piece> {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut pieces = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i].strip_suffix('\n').expect("whole lines");
        let next = lines.get(i + 1).and_then(|l| l.strip_suffix('\n'));
        if line.is_empty() {
            if let Some(k) = next.and_then(section_key) {
                pieces.push(Piece::Section(vec![k]));
                i += 2;
                continue;
            }
        }
        if let Some(unit) = line.strip_suffix(" : count    distribution").map(str::trim) {
            let mut slots = Vec::new();
            i += 1;
            while let Some(row) = lines.get(i).and_then(|l| l.strip_suffix('\n')) {
                let Some((bounds, rest)) = row.split_once(" : ") else {
                    break;
                };
                let Some((lo, hi)) = bounds.split_once(" -> ") else {
                    break;
                };
                let (lo, hi): (u64, u64) = (lo.trim().parse().unwrap(), hi.trim().parse().unwrap());
                assert_eq!((lo, hi), log2_bounds(slots.len()), "row {row:?}");
                let count = rest.split_once(" |").unwrap().0.trim();
                slots.push(count.parse().unwrap());
                i += 1;
            }
            pieces.push(Piece::Hist(unit.to_string(), slots));
            continue;
        }
        pieces.push(if is_time(line) {
            Piece::Time(line.to_string())
        } else {
            Piece::Line(line.to_string())
        });
        i += 1;
    }
    pieces
}

/// Renders the pieces: the tool's own lines as they are, the rest through
/// this module.
fn render(pieces: &[Piece]) -> String {
    let mut out = String::new();
    for p in pieces {
        match p {
            Piece::Line(l) => {
                out.push_str(l);
                out.push('\n');
            }
            Piece::Time(t) => {
                out.push_str(&time_line(t));
                out.push('\n');
            }
            Piece::Section(keys) => {
                let keys: Vec<Key<'_>> = keys.iter().map(OwnedKey::key).collect();
                write_section_header(&mut out, &keys);
            }
            Piece::Hist(unit, slots) => Hist::log2(slots, unit).write_text(&mut out),
        }
    }
    out
}

fn check_fixture(text: &str, hists: usize) -> Vec<Piece> {
    let pieces = parse_fixture(text);
    let n = pieces
        .iter()
        .filter(|p| matches!(p, Piece::Hist(_, s) if s.iter().any(|&c| c > 0)))
        .count();
    assert!(n >= hists, "{n} histograms parsed, want {hists}+");
    // Everything but the tool's banner and blank lines went through this
    // module (nothing passed through unparsed).
    for p in &pieces {
        if let Piece::Line(l) = p {
            assert!(l.is_empty() || l.starts_with("Tracing "), "unparsed: {l:?}");
        }
    }
    let got = render(&pieces);
    if got != text {
        let line = got
            .lines()
            .zip(text.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(0);
        panic!(
            "differs from libbpf-tools at line {}:\n got: {:?}\nwant: {:?}",
            line + 1,
            got.lines().nth(line),
            text.lines().nth(line)
        );
    }
    pieces
}

#[test]
fn runqlat_matches_libbpf_tools_byte_for_byte() {
    check_fixture(include_str!("fixtures/runqlat.txt"), 1);
}

#[test]
fn runqlat_m_matches_libbpf_tools_byte_for_byte() {
    let p = check_fixture(include_str!("fixtures/runqlat-m.txt"), 1);
    assert!(p
        .iter()
        .any(|p| matches!(p, Piece::Hist(u, _) if u == "msecs")));
}

#[test]
fn runqlat_timestamps_match_libbpf_tools_byte_for_byte() {
    let p = check_fixture(include_str!("fixtures/runqlat-T.txt"), 2);
    assert_eq!(p.iter().filter(|p| matches!(p, Piece::Time(_))).count(), 2);
}

#[test]
fn runqlat_per_pid_sections_match_libbpf_tools_byte_for_byte() {
    let p = check_fixture(include_str!("fixtures/runqlat-P.txt"), 3);
    assert!(p.iter().filter(|p| matches!(p, Piece::Section(_))).count() >= 3);
}

#[test]
fn biolatency_per_disk_sections_match_libbpf_tools_byte_for_byte() {
    let p = check_fixture(include_str!("fixtures/biolatency-D.txt"), 1);
    // The recording did 2000 + 500 direct I/Os on the loop device.
    let loop_slots = p.iter().enumerate().find_map(|(i, piece)| match piece {
        Piece::Section(k) if matches!(&k[0], OwnedKey::Disk(d) if d.starts_with(b"loop")) => {
            match &p[i + 1] {
                Piece::Hist(_, s) => Some(s),
                _ => None,
            }
        }
        _ => None,
    });
    let slots = loop_slots.expect("a loop device section");
    assert_eq!(Hist::log2(slots, "usecs").stats().count, 2500);
}

#[test]
fn parser_catches_a_changed_row() {
    // The byte-for-byte check can fail: one star less is caught.
    let text = include_str!("fixtures/runqlat.txt").replacen("**|", "* |", 1);
    let got = render(&parse_fixture(&text));
    assert_ne!(got, text);
}

fn text<T: Copy + Into<u64>>(h: &Hist<'_, T>) -> String {
    let mut s = String::new();
    h.write_text(&mut s);
    s
}

fn stats_line<T: Copy + Into<u64>>(h: &Hist<'_, T>) -> String {
    let mut s = String::new();
    h.write_stats(&mut s);
    s
}

#[test]
fn log2_layout_by_hand() {
    // From the C format strings: "%*s%-*s : count    distribution" with
    // 5/19, rows "%*lld -> %-*lld : %-8d |" with 10, then 40 stars scaled
    // to the largest slot, "|"; slots 0 to the last non-empty.
    let h = Hist::log2(&[1u32, 0, 4, 2, 0, 0], "usecs");
    let want = "     usecs               : count    distribution\n\
                \x20        0 -> 1          : 1        |**********                              |\n\
                \x20        2 -> 3          : 0        |                                        |\n\
                \x20        4 -> 7          : 4        |****************************************|\n\
                \x20        8 -> 15         : 2        |********************                    |\n";
    assert_eq!(text(&h), want);
}

#[test]
fn empty_histogram_prints_no_histogram_and_count_0() {
    let h = Hist::log2(&[0u64; 27], "usecs");
    assert_eq!(text(&h), "");
    assert_eq!(stats_line(&h), "     count 0\n");
    let s = h.stats();
    assert_eq!((s.count, s.mean, s.p50, s.p99), (0, None, None, None));
    let h = Hist::log2(&[] as &[u64], "usecs").with_sum(0);
    assert_eq!(text(&h), "");
    assert_eq!(stats_line(&h), "     count 0, sum 0 usecs\n");
    let lin = Hist::linear(&[0u32; 4], 0, 1, "length");
    assert_eq!(text(&lin), "");
}

#[test]
fn single_slot() {
    let h = Hist::log2(&[0u32, 0, 1], "usecs");
    let s = h.stats();
    // One value in [4, 8): the middle for the mean, interpolated ranks.
    assert_eq!(s.count, 1);
    assert_eq!(s.mean, Some(6.0));
    assert_eq!(s.p50, Some(6.0));
    assert_eq!(s.p90, Some(4.0 + 4.0 * 0.9));
    assert!((s.p99.unwrap() - 7.96).abs() < 1e-9);
    assert_eq!(
        stats_line(&h),
        "     count 1, mean ~6.0, p50 ~6.0, p90 ~7.6, p99 ~8.0 usecs\n"
    );
    assert!(text(&h).ends_with(
        "         4 -> 7          : 1        |****************************************|\n"
    ));
}

#[test]
fn percentiles_and_mean_on_hand_made_slots() {
    // 100 values: 50 in 0 -> 1, 40 in 2 -> 3, 10 in 1024 -> 2047.
    let mut slots = [0u64; 11];
    slots[0] = 50;
    slots[1] = 40;
    slots[10] = 10;
    let h = Hist::log2(&slots, "usecs");
    let s = h.stats();
    // p50: rank 50 ends slot 0 ([0, 2)): 2.0.
    assert_eq!(s.p50, Some(2.0));
    // p90: rank 90 ends slot 1 ([2, 4)): 4.0.
    assert_eq!(s.p90, Some(4.0));
    // p99: rank 99, 9 of the 10 in [1024, 2048): 1024 + 1024 * 0.9.
    assert!((s.p99.unwrap() - (1024.0 + 1024.0 * 0.9)).abs() < 1e-9);
    // Mean from midpoints: (50*1 + 40*3 + 10*1536) / 100.
    assert!((s.mean.unwrap() - 155.3).abs() < 1e-9);
    assert!(!s.mean_exact);
    // With the sum, the mean is exact.
    let s = h.with_sum(12345).stats();
    assert!(s.mean_exact);
    assert!((s.mean.unwrap() - 123.45).abs() < 1e-9);
    assert_eq!(
        stats_line(&h.with_sum(12345)),
        "     count 100, sum 12345, mean 123.5, p50 ~2.0, p90 ~4.0, p99 ~1945.6 usecs\n"
    );
    // Percentiles never go down with p, and stay inside the shown range.
    let h = Hist::log2(&[3u32, 1, 4, 1, 5, 9, 2, 6], "usecs");
    let s = h.stats();
    let (a, b, c) = (s.p50.unwrap(), s.p90.unwrap(), s.p99.unwrap());
    assert!(0.0 <= a && a <= b && b <= c && c <= 256.0, "{a} {b} {c}");
}

#[test]
fn past_slot_32_the_wide_variant() {
    let mut slots = [0u64; 40];
    slots[0] = 2;
    slots[33] = 1;
    let t = text(&Hist::log2(&slots, "nsecs"));
    let lines: Vec<&str> = t.lines().collect();
    // Header "%*s%-*s" with 15/29; rows with width 20 and 20 stars.
    assert_eq!(
        lines[0],
        format!(
            "{}nsecs{} : count    distribution",
            " ".repeat(15),
            " ".repeat(24)
        )
    );
    assert_eq!(
        lines[1],
        "                   0 -> 1                    : 2        |********************|"
    );
    assert_eq!(
        lines[34],
        "          8589934592 -> 17179869183          : 1        |**********          |"
    );
    assert_eq!(lines.len(), 35);
    // Slot 32 alone is still the narrow layout.
    let t = text(&Hist::log2(&slots[..33], "nsecs"));
    assert!(t.starts_with("     nsecs               : count"));
    // The last slot's bounds do not overflow.
    let mut top = [0u64; 64];
    top[63] = 1;
    let t = text(&Hist::log2(&top, "nsecs"));
    assert!(t.ends_with(
        " 9223372036854775808 -> 18446744073709551615 : 1        |********************|\n"
    ));
    let s = Hist::log2(&top, "nsecs").stats();
    assert!(s.p99.unwrap() > 9.2e18);
}

#[test]
fn big_counts_do_not_overflow_the_stars() {
    // The C code computes count * 40 in 32 bits; we do not.
    let t = text(&Hist::log2(&[200_000_000u64, 100_000_000], "usecs"));
    assert!(
        t.contains(": 100000000 |********************                    |"),
        "{t}"
    );
}

#[test]
fn linear_layout_by_hand() {
    // "     %-13s : count     distribution", rows "        %-10d : %-8d |",
    // from the first to the last non-empty slot, empty ones left out.
    let h = Hist::linear(&[0u32, 2, 0, 4, 1], 0, 1, "runqlen");
    let want = "     runqlen       : count     distribution\n\
                \x20       1          : 2        |********************                    |\n\
                \x20       3          : 4        |****************************************|\n\
                \x20       4          : 1        |**********                              |\n";
    assert_eq!(text(&h), want);
    // base + i * step; percentiles inside [lo, lo + step).
    let h = Hist::linear(&[1u32, 1], 100, 200, "MHz");
    assert!(text(&h).contains("        300        : 1 "));
    assert_eq!(h.bounds(1), (300, 499));
    let s = h.stats();
    // [100, 300) and [300, 500): p50 at the end of the first, mean 300.
    assert_eq!(s.p50, Some(300.0));
    assert_eq!(s.mean, Some(300.0));
}

#[test]
fn section_headers_are_libbpf_tools_strings() {
    let mut b = String::new();
    write_section_header(&mut b, &[]);
    assert_eq!(b, "");
    write_section_header(&mut b, &[Key::Disk(b"sda")]);
    assert_eq!(b, "\ndisk = sda\t\n");
    b.clear();
    write_section_header(&mut b, &[Key::Disk(b"sda"), Key::Flags("Sync-Write")]);
    assert_eq!(b, "\ndisk = sda\tflags = Sync-Write\n");
    b.clear();
    write_section_header(&mut b, &[Key::Flags("Read")]);
    assert_eq!(b, "flags = Read\n");
    b.clear();
    let comm = b"a\x1b[2Jb";
    write_section_header(&mut b, &[Key::Pid { pid: 42, comm }]);
    assert_eq!(b, "\npid = 42 a\\e[2Jb\n");
    b.clear();
    write_section_header(
        &mut b,
        &[Key::Tid {
            tid: 7,
            comm: b"sh",
        }],
    );
    assert_eq!(b, "\ntid = 7 sh\n");
    b.clear();
    let k = Key::Pidns {
        ns: 4026531836,
        comm: b"sh",
    };
    write_section_header(&mut b, &[k]);
    assert_eq!(b, "\npidns = 4026531836 sh\n");
}

fn json(keys: &[Key<'_>], h: &Hist<'_, u32>) -> serde_json::Value {
    let mut b = Vec::new();
    crate::output::json_line("hist", &h.record(keys), &mut b).unwrap();
    assert!(b.ends_with(b"\n") && b.iter().filter(|&&c| c == b'\n').count() == 1);
    serde_json::from_slice(&b).unwrap()
}

#[test]
fn json_records_are_valid_and_complete() {
    let h = Hist::log2(&[1u32, 0, 3, 0], "usecs").with_sum(20);
    let comm = b"w\xff\"x";
    let v = json(&[Key::Disk(b"sd\"a"), Key::Pid { pid: 9, comm }], &h);
    assert_eq!(v["type"], "hist");
    assert_eq!(v["unit"], "usecs");
    assert_eq!(v["disk"], "sd\"a");
    assert_eq!(v["pid"], 9);
    // Not UTF-8: exact bytes, base64 (see escape::KStr).
    assert_eq!(v["comm"]["bytes"], "d/8ieA==");
    let b = serde_json::json!([
        {"lo": 0, "hi": 1, "count": 1},
        {"lo": 2, "hi": 3, "count": 0},
        {"lo": 4, "hi": 7, "count": 3},
    ]);
    assert_eq!(v["buckets"], b);
    assert_eq!(v["count"], 4);
    assert_eq!(v["sum"], 20);
    assert_eq!(v["mean"], 5.0);
    // p50: rank 2, the first of the 3 in [4, 8): 4 + 4/3, to 1/1000.
    assert_eq!(v["p50"], 5.333);
    // Buckets sum to count.
    let total: u64 = v["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["count"].as_u64().unwrap())
        .sum();
    assert_eq!(total, 4);
    // Without a sum: no `sum` field; empty: nulls and no buckets.
    let v = json(&[], &Hist::log2(&[0u32; 3], "msecs"));
    assert_eq!(v["unit"], "msecs");
    assert!(v.get("sum").is_none() && v.get("disk").is_none());
    assert_eq!(v["buckets"], serde_json::json!([]));
    assert_eq!(v["count"], 0);
    assert!(v["mean"].is_null() && v["p50"].is_null() && v["p99"].is_null());
    // Linear: inclusive bounds of each shown slot.
    let v = json(
        &[Key::Flags("Read")],
        &Hist::linear(&[0, 5, 0, 1], 10, 10, "len"),
    );
    assert_eq!(v["flags"], "Read");
    let b = serde_json::json!([{"lo": 20, "hi": 29, "count": 5}, {"lo": 40, "hi": 49, "count": 1}]);
    assert_eq!(v["buckets"], b);
}

/// A file under the temp dir, removed on drop.
struct TempFile(std::path::PathBuf);
impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn emitted(json: bool) -> String {
    let f = TempFile(
        std::env::temp_dir().join(format!("corescope-hist-{}-{json}.out", std::process::id())),
    );
    let mut out = Output::to(json, Some(&f.0)).unwrap();
    begin_interval(&mut out, Some("10:28:23")).unwrap();
    let slots = [0u32, 2, 1];
    emit(
        &mut out,
        &[Key::Disk(b"loop0")],
        &Hist::log2(&slots, "usecs"),
    )
    .unwrap();
    out.flush().unwrap();
    drop(out);
    std::fs::read_to_string(&f.0).unwrap()
}

#[test]
fn emit_prints_table_or_json() {
    let want = "\n10:28:23\n\ndisk = loop0\t\n\
                \x20    usecs               : count    distribution\n\
                \x20        0 -> 1          : 0        |                                        |\n\
                \x20        2 -> 3          : 2        |****************************************|\n\
                \x20        4 -> 7          : 1        |********************                    |\n\
                \x20    count 3, mean ~4.0, p50 ~3.5, p90 ~6.8, p99 ~7.9 usecs\n";
    assert_eq!(emitted(false), want);
    let j = emitted(true);
    assert_eq!(j.lines().count(), 1);
    let v: serde_json::Value = serde_json::from_str(&j).unwrap();
    assert_eq!(v["type"], "hist");
    assert_eq!(v["disk"], "loop0");
    assert_eq!(v["count"], 3);
}

#[derive(clap::Parser, Debug)]
struct T {
    #[command(flatten)]
    iv: IntervalArgs,
}

fn parse_iv(args: &[&str]) -> Result<IntervalArgs, clap::Error> {
    crate::cli::try_parse_from::<T, _, _>(
        &[("timestamp", 'T')],
        std::iter::once("t").chain(args.iter().copied()),
    )
    .map(|t| t.iv)
}

#[test]
fn interval_and_count_arguments() {
    let iv = parse_iv(&[]).unwrap();
    assert_eq!((iv.interval, iv.count, iv.timestamp), (None, None, false));
    assert_eq!(iv.period(), std::time::Duration::MAX);
    let iv = parse_iv(&["-T", "2", "3"]).unwrap();
    assert_eq!(
        (iv.interval, iv.count, iv.timestamp),
        (Some(2), Some(3), true)
    );
    assert_eq!(iv.period(), std::time::Duration::from_secs(2));
    assert!(parse_iv(&["0"]).is_err());
    assert!(parse_iv(&["1", "0"]).is_err());
    assert!(parse_iv(&["x"]).is_err());
    assert!(parse_iv(&["1", "2", "3"]).is_err());
}

#[test]
fn steps_stop_after_count_and_skip_the_final_call() {
    let mut s = parse_iv(&["1", "2"]).unwrap().steps();
    assert!(s.print_now());
    assert_eq!(s.flow(), std::ops::ControlFlow::Continue(()));
    assert!(s.print_now());
    assert_eq!(s.flow(), std::ops::ControlFlow::Break(()));
    // Session::every's final call (tick.last) after COUNT: nothing more.
    assert!(!s.print_now());
    assert_eq!(s.printed(), 2);
    // Without COUNT, every tick prints, the last one too.
    let mut s = parse_iv(&["1"]).unwrap().steps();
    for _ in 0..5 {
        assert!(s.print_now());
        assert_eq!(s.flow(), std::ops::ControlFlow::Continue(()));
    }
}

// ---- the BPF half (src/hist.bpf.h), run through BPF_PROG_TEST_RUN ----

mod bpf {
    use super::*;
    use crate::skel::hist_test::types::cs_hist;
    use crate::skel::hist_test::HistTestSkelBuilder;
    use libbpf_rs::skel::{OpenSkel, SkelBuilder};
    use libbpf_rs::ProgramInput;

    /// Both ends of every log2 slot (128 values: 0 and 1, then 2^k and
    /// 2^(k+1) - 1 for k in 1..64, up to u64::MAX).
    fn inputs() -> Vec<u64> {
        let mut v = vec![0, 1];
        for k in 1..64 {
            let p = 1u64 << k;
            v.extend([p, p + (p - 1)]);
        }
        assert_eq!((v.len(), v[127]), (128, u64::MAX));
        v
    }

    struct Ran {
        log2: Vec<u32>,
        lin: Vec<u32>,
        fresh: u32,
        rows: Vec<(u32, cs_hist)>,
        again: usize,
        map_full: u64,
    }

    /// Loads the test program, runs it once over `vals`, reads the map
    /// back with `HistMap` (twice: the second must find it empty).
    fn run(vals: &[u64], base: u64, step: u64, nkeys: u32) -> Ran {
        let mut storage = std::mem::MaybeUninit::uninit();
        let open = HistTestSkelBuilder::default().open(&mut storage).unwrap();
        let mut skel = open.load().unwrap();
        {
            let bss = skel.maps.bss_data.as_deref_mut().unwrap();
            bss.input[..vals.len()].copy_from_slice(vals);
            bss.n = vals.len() as u32;
            bss.lin_base = base;
            bss.nkeys = nkeys;
        }
        // lin_step is 1 by default, in .data.
        skel.maps.data_data.as_deref_mut().unwrap().lin_step = step;
        skel.progs
            .hist_test
            .test_run(ProgramInput::default())
            .unwrap();
        let bss = skel.maps.bss_data.as_deref().unwrap();
        let n = vals.len();
        let mut map = HistMap::<u32, cs_hist>::new(&skel.maps.ht_hists).unwrap();
        let rows = map.take(&skel.maps.ht_hists, |(k, _)| *k).unwrap().to_vec();
        let again = map.take(&skel.maps.ht_hists, |(k, _)| *k).unwrap().len();
        let map_full = crate::stream::percpu_sum(&skel.maps.cs_dropped, 1);
        Ran {
            log2: bss.log2_out[..n].to_vec(),
            lin: bss.lin_out[..n].to_vec(),
            fresh: bss.fresh_count,
            rows,
            again,
            map_full,
        }
    }

    #[test]
    fn log2_slots_follow_the_documented_convention() {
        if !crate::testing::root_or_skip("hist bpf log2", "loads a BPF program") {
            return;
        }
        let vals = inputs();
        let r = run(&vals, 0, 1, 0);
        for (&v, &slot) in vals.iter().zip(&r.log2) {
            // floor(log2(v)), 0 and 1 in slot 0 (module doc, "Slots").
            let want = if v < 2 { 0 } else { 63 - v.leading_zeros() };
            assert_eq!(slot, want, "log2 slot of {v}");
            // ...and the slot the text prints for it holds v.
            let (lo, hi) = log2_bounds(slot as usize);
            assert!(lo <= v && v <= hi, "{v} printed in {lo} -> {hi}");
        }
        // The C helper can be wrong: a shifted convention (BCC's, +1) fails.
        let four = vals.iter().position(|&v| v == 4).unwrap();
        assert_eq!(r.log2[four], 2, "4 is in slot 2 (4 -> 7), not BCC's 3");
        assert_eq!(r.log2[vals.len() - 1], 63, "u64::MAX in the last slot");
    }

    #[test]
    fn linear_slots_follow_the_documented_convention() {
        if !crate::testing::root_or_skip("hist bpf linear", "loads a BPF program") {
            return;
        }
        let vals: Vec<u64> = (0..128).map(|i| i * 3).collect();
        let r = run(&vals, 20, 10, 0);
        let h = Hist::linear(&[0u64; 64], 20, 10, "x");
        for (&v, &slot) in vals.iter().zip(&r.lin) {
            let want = if v < 20 { 0 } else { ((v - 20) / 10).min(63) };
            assert_eq!(u64::from(slot), want, "linear slot of {v}");
            let (lo, hi) = h.bounds(slot as usize);
            assert!(
                v < 20 || slot == 63 || (lo <= v && v <= hi),
                "{v} in {lo}..={hi}"
            );
        }
        // step 0 counts as 1.
        let r = run(&[5, 6, 7], 5, 0, 0);
        assert_eq!(r.lin, vec![0, 1, 2]);
    }

    #[test]
    fn the_keyed_map_counts_sums_and_its_losses() {
        if !crate::testing::root_or_skip("hist bpf map", "loads a BPF program") {
            return;
        }
        // Values 0..100 over 5 keys, in a map of 4 entries: key 4 never
        // fits, and each of its 20 values is counted as lost (map_full).
        let vals: Vec<u64> = (0..100).collect();
        let r = run(&vals, 0, 1, 5);
        assert_eq!(r.fresh, 4, "four keys created, each once");
        assert_eq!(r.map_full, 20);
        let keys: Vec<u32> = r.rows.iter().map(|(k, _)| *k).collect();
        assert_eq!(keys, vec![0, 1, 2, 3]);
        for (k, v) in &r.rows {
            let mine: Vec<u64> = vals
                .iter()
                .copied()
                .filter(|x| x % 5 == u64::from(*k))
                .collect();
            assert_eq!(v.sum(), mine.iter().sum::<u64>(), "sum of key {k}");
            let mut slots = [0u64; 64];
            for &x in &mine {
                slots[if x < 2 {
                    0
                } else {
                    63 - x.leading_zeros() as usize
                }] += 1;
            }
            assert_eq!(v.slots(), &slots[..], "slots of key {k}");
            assert_eq!(v.comm(), format!("k{k}").as_bytes());
            let h = Hist::log2(v.slots(), "usecs").with_sum(v.sum());
            assert_eq!(h.stats().count, 20);
        }
        assert_eq!(r.again, 0, "the reader cleared the map");
    }
}
