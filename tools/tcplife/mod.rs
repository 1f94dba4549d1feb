//! tcplife: one row per TCP session when it closes: owning process,
//! addresses, ports, payload bytes each way, duration. Based on tcplife(8)
//! from BCC and libbpf-tools.

use corescope::escape::cstr;
use corescope::lru;
use corescope::net::{Endpoints, FamilyArgs};
use corescope::ports::{filter_bitmap, PortSet};
use corescope::prelude::*;
use corescope::session::{find_map, Counter};
use corescope::skel::tcplife::types::{tcplife_event as Event, tcplife_stat};
use corescope::skel::tcplife::{OpenTcplifeSkel, TcplifeSkelBuilder};

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
#[command(version, after_help = EXAMPLES)]
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
}

impl Row for Life<'_> {
    type Opts = Args;
    fn columns(t: &mut Table<'_, '_, Self>, a: &Args) {
        let (w, aw, kw) = if a.wide { (16, 39, 6) } else { (10, 15, 5) };
        t.col_if(a.time, Col::left("TIME", 8), |r, c| c.put(r.time));
        t.col_if(a.timestamp, Col::left("TIME(s)", 9), |r, c| {
            c.put(format_args!("{:.6}", r.timestamp))
        });
        t.col(Col::left("PID", 7), |r, c| c.put(r.pid));
        // BCC's %-10.10s (%-16.16s wide): cut to the column, at whole
        // escapes; CSV in full.
        t.col(Col::left("COMM", w), |r, c| match r.comm.0 {
            [] => c.put("[unknown]"),
            comm => c.text(comm),
        });
        t.col_if(a.wide || a.csv, Col::left("IP", 2), |r, c| {
            c.put(r.ends.family.version())
        });
        t.col(Col::left("LADDR", aw), |r, c| c.put(r.ends.laddr));
        t.col(Col::left("LPORT", 5), |r, c| c.put(r.ends.lport));
        t.col(Col::left("RADDR", aw), |r, c| c.put(r.ends.raddr));
        t.col(Col::left("RPORT", 5), |r, c| c.put(r.ends.rport));
        t.col(Col::right("TX_KB", kw), |r, c| c.put(r.tx_bytes / 1024));
        t.col(Col::right("RX_KB", kw), |r, c| c.put(r.rx_bytes / 1024));
        t.col(Col::left("MS", 0), |r, c| {
            c.put(format_args!("{:.2}", r.duration_us as f64 / 1000.0))
        });
    }
}

/// One event → its row (none for an unknown address family).
fn row<'a>(e: &'a Event, out: &Output) -> Option<Life<'a>> {
    let ends = Endpoints::new(e.family, &e.laddr, e.lport, &e.raddr, e.rport)?;
    // Indexed by enum tcplife_owner (tcplife.h).
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
    })
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

impl Events for Args {
    type Args = Args;
    type Skel = TcplifeSkelBuilder;
    type Event = Event;
    type Row<'a> = Life<'a>;
    #[rustfmt::skip]
    const SHORTS: &'static [(&'static str, char)] = &[("pid", 'p'), ("cgroup", 'c'),
        ("json", 'j'), ("duration", 'd'), ("verbose", 'v')];

    fn configure(a: Args, open: &mut OpenTcplifeSkel<'_>, s: &mut Session) -> Result<Args> {
        lru::set_capacity(&mut open.maps.sessions, a.max_sessions)?;
        let ro = open.rodata()?;
        ro.max_sessions = a.max_sessions;
        ro.targ_family = a.family.af();
        ro.lport_on = filter_bitmap(a.localport.as_ref(), &mut ro.lport_bits);
        ro.rport_on = filter_bitmap(a.remoteport.as_ref(), &mut ro.rport_bits);
        a.csv.then(|| s.set_csv());
        s.summary_counters(counters);
        s.harmless_skips(&["handle_set_state_task"]); // acts in process context only
        Ok(a)
    }

    fn event(&mut self, e: &Event, _: &[u8], out: &mut Output) -> Result<()> {
        row(e, out).map_or(Ok(()), |r| Ok(out.row(&r, self)?))
    }
}

/// The tool (its binary, or `corescope tcplife`).
pub fn main(name: &'static str) -> ExitCode {
    corescope::run::events::<Args>(name)
}

#[cfg(test)]
mod tests;
