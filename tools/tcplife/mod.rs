//! tcplife: one row per TCP session when it closes: owning process,
//! addresses, ports, payload bytes each way, duration. Based on tcplife(8)
//! from BCC and libbpf-tools.

use anyhow::Context;
use corescope::escape::cstr;
use corescope::lru;
use corescope::net::{Endpoints, FamilyArgs};
use corescope::output::{Line, Output};
use corescope::ports::{filter_bitmap, PortSet};
use corescope::prelude::*;
use corescope::session::{find_map, Counter};
use corescope::skel::tcplife::types::{tcplife_event as Event, tcplife_stat};
use corescope::skel::tcplife::TcplifeSkelBuilder;

const SHORTS: &[(&str, char)] = &[
    ("pid", 'p'),
    ("cgroup", 'c'),
    ("json", 'j'),
    ("duration", 'd'),
    ("verbose", 'v'),
];

const EXAMPLES: &str = "EXAMPLES:
    tcplife                  # one row per TCP session, when it closes
    tcplife -w -T            # wide columns (full IPv6 addresses), HH:MM:SS column
    tcplife -s -t            # comma-separated values, seconds since start column
    tcplife -p 181           # sessions owned by PID 181 and its descendants
    tcplife -L 80,443        # only local port 80 or 443
    tcplife -D 8000-8100     # only remote ports 8000 to 8100
    tcplife -- curl -s http://127.0.0.1:8080/   # run curl, show its sessions";

/// Trace the lifespan of TCP sessions: one row per session when it closes.
#[derive(Parser, Debug)]
#[command(name = "tcplife", version, after_help = EXAMPLES)]
struct Args {
    /// Include a TIME column (HH:MM:SS)
    #[arg(short = 'T', long)]
    time: bool,
    /// Include a TIME(s) column: seconds since tracing started
    #[arg(short = 't', long)]
    timestamp: bool,
    /// Wide columns (fit IPv6 addresses), with an IP version column
    #[arg(short = 'w', long)]
    wide: bool,
    /// Comma-separated values (with an IP version column)
    #[arg(short = 's', long, conflicts_with = "json")]
    csv: bool,
    /// Only these local ports: a comma list with ranges, e.g. 80,8000-8100
    #[arg(short = 'L', long, value_name = "LIST", value_parser = PortSet::parse)]
    localport: Option<PortSet>,
    /// Only these remote ports: a comma list with ranges
    #[arg(short = 'D', long, value_name = "LIST", value_parser = PortSet::parse)]
    remoteport: Option<PortSet>,
    #[command(flatten)]
    family: FamilyArgs,
    /// Open sessions tracked at once; sessions beyond are counted as lost
    #[arg(long, default_value_t = 65536, value_parser = clap::value_parser!(u32).range(1..=1 << 24))]
    max_sessions: u32,
    #[command(flatten)]
    common: CommonArgs,
}

fn columns(a: &Args) -> Vec<Col> {
    let (w, aw, kw) = if a.wide { (16, 39, 6) } else { (10, 15, 5) };
    let mut c = Vec::new();
    a.time.then(|| c.push(Col::left("TIME", 8)));
    a.timestamp.then(|| c.push(Col::left("TIME(s)", 9)));
    c.extend([Col::left("PID", 7), Col::left("COMM", w)]);
    (a.wide || a.csv).then(|| c.push(Col::left("IP", 2)));
    c.extend([Col::left("LADDR", aw), Col::left("LPORT", 5)]);
    c.extend([Col::left("RADDR", aw), Col::left("RPORT", 5)]);
    c.extend([Col::right("TX_KB", kw), Col::right("RX_KB", kw)]);
    c.push(Col::left("MS", 0));
    c
}

#[derive(Serialize)]
struct Life<'a> {
    time: corescope::clock::Hms,
    timestamp: f64,
    pid: u32,
    comm: KStr<'a>,
    owner: &'static str,
    #[serde(flatten)]
    ends: Endpoints,
    tx_bytes: u64,
    rx_bytes: u64,
    duration_us: u64,
    #[serde(skip)]
    opts: &'a Args,
}

impl Row for Life<'_> {
    fn cells(&self, l: &mut Line<'_>) {
        let o = self.opts;
        o.time.then(|| l.cell(self.time));
        o.timestamp
            .then(|| l.cell(format_args!("{:.6}", self.timestamp)));
        l.cell(self.pid);
        // BCC's %-10.10s (%-16.16s wide): Line cuts it to the column, at
        // whole escapes; CSV in full.
        match self.comm.0 {
            [] => l.cell("[unknown]"),
            c => l.text(c),
        }
        let n = &self.ends;
        (o.wide || o.csv).then(|| l.cell(n.family.version()));
        let (tx, rx) = (self.tx_bytes / 1024, self.rx_bytes / 1024);
        let v: [&dyn std::fmt::Display; 6] = [&n.laddr, &n.lport, &n.raddr, &n.rport, &tx, &rx];
        v.iter().for_each(|v| l.cell(v));
        l.cell(format_args!("{:.2}", self.duration_us as f64 / 1000.0));
    }
}

fn row<'a>(e: &'a Event, o: &'a Args, out: &Output) -> Option<Life<'a>> {
    let ends = Endpoints::new(e.family, &e.laddr, e.lport, &e.raddr, e.rport)?;
    // Indexed by enum tcplife_owner (src/bpf/tcplife.h).
    let owner = ["unknown", "connect", "accept", "close"].get(usize::from(e.owner));
    Some(Life {
        time: out.clock.hms_of(e.ts_ns),
        timestamp: out.clock.elapsed(e.ts_ns),
        pid: e.pid,
        comm: KStr(cstr(&e.comm)),
        owner: owner.copied().unwrap_or("unknown"),
        ends,
        tx_bytes: e.tx_bytes,
        rx_bytes: e.rx_bytes,
        duration_us: e.span_ns / 1000,
        opts: o,
    })
}

/// One event → its row (none for an unknown address family).
fn show(e: &Event, o: &Args, out: &mut Output) -> Result<()> {
    row(e, o, out).map_or(Ok(()), |r| Ok(out.row(&r)?))
}

/// Summary: sessions closed with no record, still open (any owner), LRU evictions.
fn counters(obj: &libbpf_rs::Object) -> Vec<Counter> {
    let idx = tcplife_stat::TCPLIFE_STAT_PREEXISTING.0;
    let pre = find_map(obj, "tl_stats").map_or(0, |m| corescope::stream::percpu_sum(&m, idx));
    let label = "sessions opened before tracing closed (not shown)";
    let u = lru::usage_in(obj, "sessions", "tl_live");
    vec![
        Counter::new("preexisting", label, pre),
        Counter::new("open_at_exit", "still open", u.entries),
        Counter::new("evicted", "evicted", u.evicted),
    ]
}

/// The tool (its binary, or `corescope tcplife`).
pub fn main() -> ExitCode {
    corescope::main(|| {
        let args: Args = parse(SHORTS);
        let mut session = Session::new("tcplife", &args.common, columns(&args))?;
        args.csv.then(|| session.set_csv());
        let mut storage = MaybeUninit::uninit();
        let mut open = session.open(&mut storage, TcplifeSkelBuilder::default())?;
        lru::set_capacity(&mut open.maps.sessions, args.max_sessions)?;
        let ro = open.maps.rodata_data.as_deref_mut().context("no .rodata")?;
        ro.max_sessions = args.max_sessions;
        ro.targ_family = args.family.af();
        ro.lport_on = filter_bitmap(args.localport.as_ref(), &mut ro.lport_bits);
        ro.rport_on = filter_bitmap(args.remoteport.as_ref(), &mut ro.rport_bits);
        session.summary_counters(counters);
        session.harmless_skips(&["handle_set_state_task"]); // acts in process context only
        let skel = session.load(open)?;
        session.stream(&skel, |e: &Event, _: &[u8], out: &mut Output| {
            show(e, &args, out)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use corescope::output::{csv_header_line, csv_line, header_line, json_line, table_line};

    fn args(a: &str) -> Result<Args, clap::Error> {
        corescope::cli::try_parse_from(SHORTS, ["tcplife"].into_iter().chain(a.split_whitespace()))
    }

    fn event(v6: bool, comm: &[u8], owner: u8) -> Event {
        let [l, r] = [["10.0.0.1", "127.0.0.1"], ["fd00::1", "::1"]][usize::from(v6)];
        event_at(l, r, comm, owner)
    }

    fn event_at(l: &str, r: &str, comm: &[u8], owner: u8) -> Event {
        let mut e = Event::default();
        (e.pid, e.lport, e.rport, e.owner) = (4242, 8080, 51234, owner);
        (e.tx_bytes, e.rx_bytes, e.span_ns) = (5000, 3_000_000, 12_340_000);
        e.ts_ns = corescope::clock::monotonic_ns() + 1_000_000;
        let ip = |a: &str| corescope::net::addr_bytes(a.parse().unwrap());
        let v6 = l.contains(':');
        (e.laddr, e.raddr, e.family) = (ip(l), ip(r), [2, 10][usize::from(v6)]);
        e.comm[..comm.len()].copy_from_slice(comm);
        e
    }

    fn render(flags: &str, e: &Event) -> (String, String, serde_json::Value) {
        let (a, mut j) = (args(flags).unwrap(), Vec::new());
        let out = Output::new(false, vec![]).unwrap();
        let (c, r) = (columns(&a), row(e, &a, &out).unwrap());
        json_line("event", &r, &mut j).unwrap();
        let j = serde_json::from_slice(&j).unwrap();
        match a.csv {
            true => (csv_header_line(&c), csv_line(&c, &r), j),
            false => (header_line(&c), table_line(&c, &r), j),
        }
    }

    #[test]
    fn table_rows_align_under_bcc_headers() {
        let (h, r, _) = render("", &event(false, b"server-process1", 2));
        let want = "PID     COMM       LADDR           LPORT RADDR           RPORT TX_KB RX_KB MS
4242    server-pro 10.0.0.1        8080  127.0.0.1       51234     4  2929 12.34";
        assert_eq!(format!("{h}\n{r}"), want);
        let (_, r, _) = render("", &event(false, b"", 0));
        assert!(r.starts_with("4242    [unknown]  10.0.0.1 "));
        let (h, r, _) = render("-w -T -t", &event(true, b"srv\x1b[2J", 2));
        assert!(h.starts_with("TIME     TIME(s)   PID     COMM             IP LADDR "));
        assert!(r[..8].matches(':').count() == 2 && r[9..].starts_with("0.00"));
        let want = "4242    srv\\e[2J         6  fd00::1                                 8080  ::1                                     51234      4   2929 12.34";
        assert_eq!((&r[19..], h.find("LPORT")), (want, r.find("8080")));
    }

    #[test]
    fn escaped_comm_and_mapped_address_keep_columns() {
        // An escaped comm is cut to the column at whole escapes, never
        // leaving a dangling backslash.
        let (h, r, _) = render("", &event(false, b"abcdefghi\x1b", 2));
        let want =
            "4242    abcdefghi  10.0.0.1        8080  127.0.0.1       51234     4  2929 12.34";
        assert_eq!(r, want);
        assert_eq!(h.find("LADDR"), r.find("10.0."));
        let (_, r, _) = render("", &event(false, b"abcdefgh\x01", 2));
        assert!(r.starts_with("4242    abcdefgh   10.0.0.1 "), "{r}");
        // Wide: 16 characters, eight whole `\e`.
        let (h, r, _) = render("-w", &event(false, &[0x1b; 9], 2));
        assert!(
            r.starts_with(&format!("4242    {} 4  10.0.0.1 ", "\\e".repeat(8))),
            "{r}"
        );
        assert_eq!(h.find("LADDR"), r.find("10.0."));
        // An IPv4-mapped address (16 characters in a 15 one) takes back
        // the port's padding: RADDR and the rest stay in place.
        let (h, r, _) = render(
            "",
            &event_at("::ffff:127.0.0.1", "::ffff:10.0.0.2", b"srv", 2),
        );
        let want =
            "4242    srv        ::ffff:127.0.0.1 8080 ::ffff:10.0.0.2 51234     4  2929 12.34";
        assert_eq!(r, want);
        assert_eq!(h.find("RADDR"), r.find("::ffff:10"));
        assert_eq!(h.find("MS"), r.find("12.34"));
        // CSV: in full.
        let (_, r, _) = render("-s", &event(false, b"ab\x1b[2J\x1b[H", 2));
        assert!(r.contains(",ab\\e[2J\\e[H,4,"), "{r}");
    }

    #[test]
    fn csv_and_json() {
        let (h, r, _) = render("-s -T", &event(false, b"a,b", 2));
        assert_eq!(h, "TIME,PID,COMM,IP,LADDR,LPORT,RADDR,RPORT,TX_KB,RX_KB,MS");
        let want = "4242,\"a,b\",4,10.0.0.1,8080,127.0.0.1,51234,4,2929,12.34";
        assert_eq!(r.split_once(',').map(|x| x.1), Some(want), "{r}");
        let (_, _, mut v) = render("-j", &event(true, b"server", 2));
        let o = v.as_object_mut().unwrap();
        assert!(o.remove("time").is_some() && o.remove("timestamp").is_some_and(|t| t.is_f64()));
        let want = serde_json::json!({"type": "event", "pid": 4242, "comm": "server",
            "owner": "accept", "family": "ipv6", "laddr": "fd00::1", "lport": 8080, "raddr": "::1",
            "rport": 51234, "tx_bytes": 5000, "rx_bytes": 3_000_000, "duration_us": 12340});
        assert_eq!(v, want);
    }

    /// The hot path (row, output) allocates nothing per event after warm-up,
    /// in the table (every column), CSV and JSON.
    #[test]
    fn rows_allocate_nothing_per_event() {
        use corescope::alloc_count::{allocations, null_output};
        let (e4, e6) = (event(false, b"a,b", 2), event(true, b"srv\x1b", 1));
        for flags in ["", "-w -T -t", "-s -T -t", "-j"] {
            let a = args(flags).unwrap();
            let mut out = null_output(a.common.run.json, columns(&a));
            a.csv.then(|| out.set_csv());
            let mut go = |n| {
                for _ in 0..n {
                    for e in [&e4, &e6] {
                        show(e, &a, &mut out).unwrap();
                    }
                }
            };
            go(2);
            assert_eq!(allocations(|| go(500)), 0, "{flags}");
        }
    }

    #[test]
    fn every_flag_parses_and_bad_ones_fail() {
        let a = args("-T -t -w -L 80,8000-8100 -D 443 -4 --max-sessions 9").unwrap();
        assert!(a.time && a.timestamp && a.wide && a.family.af() == 2 && a.max_sessions == 9);
        assert!(a.localport.is_some_and(|p| p.to_string() == "80,8000-8100") && !a.csv);
        assert!(a
            .remoteport
            .is_some_and(|p| p.contains(443) && !p.contains(442)));
        let a = args("-s -6 -p 1 -c /x --comm sh -d 2 -v --uid 0 --tid 1 -- true").unwrap();
        assert!(a.csv && a.family.af() == 10 && a.common.filter.cmd == ["true"]);
        assert!(args("-j --buffer-pages 64 --btf /x").is_ok_and(|a| a.common.run.json));
        for bad in "-4 -6|-s -j|--max-sessions 0|-L 0|-L 80,|-D 1,,2|-w 1".split('|') {
            assert!(args(bad).is_err(), "{bad}");
        }
        for bad in "9000-8000 reversed|http not a port|65536 range".split('|') {
            let (ports, why) = bad.split_once(' ').unwrap_or_default();
            let e = args(&format!("-D {ports}")).unwrap_err().to_string();
            assert!(e.contains(why), "{e}");
        }
    }
}
