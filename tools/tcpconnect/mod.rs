//! tcpconnect: one row per active TCP connection (connect()): the
//! connecting process, addresses, ports; `--count` counts connects per
//! destination, `--latency` is tcpconnlat (SYN_SENT → ESTABLISHED time).
//! Based on tcpconnect(8) and tcpconnlat(8) from BCC and libbpf-tools.

use std::net::IpAddr;
use std::ops::ControlFlow;
use std::time::Duration;

use corescope::escape::cstr;
use corescope::lru;
use corescope::net::{ip_addr, Family, FamilyArgs};
use corescope::ports::{filter_bitmap, PortSet};
use corescope::prelude::*;
use corescope::run::{Loaded, Open};
use corescope::session::{Counter, Tick};
use corescope::skel::tcpconnect::types::{
    tcpconnect_event as Event, tcpconnect_key as Key, tcpconnect_result,
};
use corescope::skel::tcpconnect::TcpconnectSkelBuilder;
use corescope::top::Drain;
use libbpf_rs::MapCore;

const EXAMPLES: &str = "EXAMPLES:
    tcpconnect               # every TCP connect(), when established or failed
    tcpconnect -t -U         # seconds since start and UID columns
    tcpconnect -L            # with the source port (LPORT) column
    tcpconnect -P 80,443     # only connects to port 80 or 443
    tcpconnect -u 1000       # only connects by UID 1000
    tcpconnect --count       # count connects per destination, printed at the end
    tcpconnect --latency     # tcpconnlat: time from SYN to established (LAT(ms))
    tcpconnect --latency -m 1    # only connects that took 1 ms or more
    tcpconnect -- curl -s http://127.0.0.1:8080/   # run curl, show its connects";

/// Trace active TCP connections (connect()).
#[derive(Parser, Debug)]
#[command(version, after_help = EXAMPLES)]
pub struct Args {
    /// Include a TIME column (HH:MM:SS) of the connect()
    #[arg(short = 'T', long)]
    time: bool,
    /// Include a TIME(s) column: seconds since tracing started
    #[arg(short = 't', long)]
    timestamp: bool,
    /// Include the source port column (LPORT)
    #[arg(short = 'L', long)]
    lport: bool,
    /// Include a UID column
    #[arg(short = 'U', long)]
    print_uid: bool,
    /// Only these destination ports: a comma list with ranges, e.g. 80,8000-8100
    #[arg(short = 'P', long, value_name = "PORTS", value_parser = PortSet::parse)]
    port: Option<PortSet>,
    #[command(flatten)]
    family: FamilyArgs,
    /// Count connects per source address, destination address and port
    /// (counted in the kernel); print the counts at the end
    #[arg(long, conflicts_with_all = ["latency", "time", "timestamp", "lport", "print_uid"])]
    count: bool,
    /// tcpconnlat: only established connects, with the time from SYN to
    /// ESTABLISHED (LAT(ms))
    #[arg(long)]
    latency: bool,
    /// With --latency: only connects that took at least MS milliseconds
    #[arg(short = 'm', long, value_name = "MS", requires = "latency", value_parser = min_ms)]
    min_ms: Option<f64>,
    /// Connects in SYN_SENT tracked at once; those beyond are counted as lost
    #[arg(long, default_value_t = 65536, value_parser = clap::value_parser!(u32).range(1..=1 << 24))]
    max_pending: u32,
    /// --count: distinct destinations counted; those beyond are counted as lost
    #[arg(long, default_value_t = 16384, value_parser = clap::value_parser!(u32).range(1..=1 << 24))]
    max_flows: u32,
    #[command(flatten)]
    common: CommonArgs,
}

fn min_ms(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && (0.0..=3_600_000.0).contains(&v) => Ok(v),
        _ => Err(format!(
            "not a duration in milliseconds (0 to 3600000): '{s}'"
        )),
    }
}

#[rustfmt::skip]
const SHORTS: &[(&str, char)] = &[("pid", 'p'), ("cgroup", 'c'), ("uid", 'u'),
    ("json", 'j'), ("duration", 'd'), ("verbose", 'v')];

#[derive(Serialize)]
pub struct Conn<'a> {
    time: corescope::clock::Hms,
    timestamp: f64,
    uid: u32,
    pid: u32,
    tid: u32,
    comm: KStr<'a>,
    family: Family,
    saddr: IpAddr,
    lport: u16,
    daddr: IpAddr,
    dport: u16,
    /// `"established"` or `"failed"` (closed in SYN_SENT: refused, timed out).
    result: &'static str,
    latency_us: f64,
}

impl Row for Conn<'_> {
    type Opts = Args;
    fn columns(t: &mut Table<'_, '_, Self>, a: &Args) {
        t.col_if(a.time, Col::left("TIME", 8), |r, c| c.put(r.time));
        t.col_if(a.timestamp, Col::left("TIME(s)", 9), |r, c| {
            c.put(format_args!("{:.3}", r.timestamp))
        });
        t.col_if(a.print_uid, Col::left("UID", 6), |r, c| c.put(r.uid));
        t.col(Col::left("PID", 7), |r, c| c.put(r.pid));
        t.col(Col::left("COMM", 12), |r, c| c.text(r.comm.0));
        t.col(Col::left("IP", 2), |r, c| c.put(r.family.version()));
        t.col(Col::left("SADDR", 16), |r, c| c.put(r.saddr));
        t.col_if(a.lport, Col::left("LPORT", 6), |r, c| c.put(r.lport));
        t.col(Col::left("DADDR", 16), |r, c| c.put(r.daddr));
        match a.latency {
            true => t.col(Col::left("DPORT", 6), |r, c| c.put(r.dport)),
            false => t.col(Col::left("DPORT", 0), |r, c| c.put(r.dport)),
        }
        t.col_if(a.latency, Col::left("LAT(ms)", 0), |r, c| {
            c.put(format_args!("{:.2}", r.latency_us / 1000.0))
        });
    }
}

/// One event → its row (none for an unknown address family).
fn row<'a>(e: &'a Event, out: &Output) -> Option<Conn<'a>> {
    let family = Family::from_af(e.family)?;
    let result = match tcpconnect_result(u32::from(e.result)) {
        tcpconnect_result::TCPCONNECT_ESTABLISHED => "established",
        _ => "failed",
    };
    Some(Conn {
        time: out.clock.hms_of(e.ts_ns),
        timestamp: out.clock.elapsed(e.ts_ns),
        uid: e.uid,
        pid: e.pid,
        tid: e.tid,
        comm: KStr(cstr(&e.comm)),
        family,
        saddr: ip_addr(family, &e.saddr),
        lport: e.lport,
        daddr: ip_addr(family, &e.daddr),
        dport: e.dport,
        result,
        latency_us: e.lat_ns as f64 / 1000.0,
    })
}

/// The `.rodata` knobs and map sizes both modes share.
fn configure_bpf(a: &Args, open: &mut Open<'_, TcpconnectSkelBuilder>) -> Result<()> {
    lru::set_capacity(&mut open.maps.pending, a.max_pending)?;
    open.maps.counts.set_max_entries(a.max_flows)?;
    // --count decides at connect(): nothing is staged, nothing ends.
    open.progs.tc_done.set_autoload(!a.count);
    let ro = open.rodata()?;
    ro.max_pending = a.max_pending;
    ro.count_mode = u8::from(a.count);
    ro.latency_mode = u8::from(a.latency);
    ro.min_lat_ns = a.min_ms.map_or(0, |ms| (ms * 1e6) as u64);
    ro.targ_family = a.family.af();
    ro.dport_on = filter_bitmap(a.port.as_ref(), &mut ro.dport_bits);
    Ok(())
}

impl Events for Args {
    type Args = Args;
    type Skel = TcpconnectSkelBuilder;
    type Event = Event;
    type Row<'a> = Conn<'a>;
    const SHORTS: &'static [(&'static str, char)] = SHORTS;

    fn configure(a: Args, open: &mut Open<'_, Self::Skel>, s: &mut Session) -> Result<Args> {
        configure_bpf(&a, open)?;
        s.summary_counters(|obj| {
            let u = lru::usage_in(obj, "pending", "tc_live");
            vec![
                Counter::new("connecting_at_exit", "still connecting", u.entries),
                Counter::new("evicted", "evicted", u.evicted),
            ]
        });
        s.harmless_skips(&["tc_connect"]); // acts in process context only
        Ok(a)
    }

    fn event(&mut self, e: &Event, _: &[u8], out: &mut Output) -> Result<()> {
        row(e, out).map_or(Ok(()), |r| Ok(out.row(&r, self)?))
    }
}

/// `--count`: connects per destination, read from the kernel's map at the end.
pub struct Counting;

#[derive(Serialize)]
pub struct CountRow {
    family: Family,
    saddr: IpAddr,
    daddr: IpAddr,
    dport: u16,
    connects: u64,
}

impl Row for CountRow {
    type Opts = ();
    fn columns(t: &mut Table<'_, '_, Self>, _: &()) {
        t.col(Col::left("LADDR", 25), |r, c| c.put(r.saddr));
        t.col(Col::left("RADDR", 25), |r, c| c.put(r.daddr));
        t.col(Col::left("RPORT", 6), |r, c| c.put(r.dport));
        t.col(Col::left("CONNECTS", 0), |r, c| c.put(r.connects));
    }
}

/// The counts map as rows, most connects first.
fn count_rows(map: &dyn MapCore) -> Result<Vec<CountRow>> {
    // Read once, at the end: the top shape's drain (destination -> count).
    let mut drain = Drain::<Key, u64>::new(map)?;
    let mut rows: Vec<CountRow> = drain
        .drain(map)?
        .iter()
        .filter_map(|&(key, connects)| {
            let family = Family::from_af(key.family)?;
            Some(CountRow {
                family,
                saddr: ip_addr(family, &key.saddr),
                daddr: ip_addr(family, &key.daddr),
                dport: key.dport,
                connects,
            })
        })
        .collect();
    rows.sort_by(|x, y| {
        (y.connects, x.saddr, x.daddr, x.dport).cmp(&(x.connects, y.saddr, y.daddr, y.dport))
    });
    Ok(rows)
}

impl Interval for Counting {
    type Args = Args;
    type Skel = TcpconnectSkelBuilder;
    const SHORTS: &'static [(&'static str, char)] = SHORTS;

    fn configure(a: Args, open: &mut Open<'_, Self::Skel>, s: &mut Session) -> Result<Self> {
        configure_bpf(&a, open)?;
        s.set_header::<CountRow>(&());
        s.header_per_interval(); // printed at the end, above the counts
        s.harmless_skips(&["tc_connect"]);
        Ok(Self)
    }

    fn period(&self) -> Duration {
        // Only the last tick prints (BCC -c prints once, at the end).
        Duration::from_secs(u32::MAX as u64)
    }

    fn tick(
        &mut self,
        skel: &Loaded<'_, Self::Skel>,
        tick: &Tick,
        out: &mut Output,
    ) -> Result<ControlFlow<()>> {
        if tick.last {
            out.header()?;
            for r in count_rows(&skel.maps.counts)? {
                out.row_as("count", &r, &())?;
            }
        }
        Ok(ControlFlow::Continue(()))
    }
}

/// The tool (its binary, or `corescope tcpconnect`): `--count` runs the
/// interval shape (counts read at the end), otherwise the event stream.
pub fn main(name: &'static str) -> ExitCode {
    let args = corescope::cli::args_os();
    let count = corescope::cli::try_parse_tool_from::<Args, _, _>(name, SHORTS, args)
        .is_ok_and(|(a, _)| a.count);
    match count {
        true => corescope::run::interval::<Counting>(name),
        false => corescope::run::events::<Args>(name),
    }
}

#[cfg(test)]
mod tests;
