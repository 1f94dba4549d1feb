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
mod tests;
