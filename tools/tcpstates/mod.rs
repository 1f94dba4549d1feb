//! tcpstates: one row per TCP state change, with the time spent in the
//! previous state. Based on tcpstates(8) from BCC and libbpf-tools; the BPF
//! side says what differs (tools/tcpstates/tcpstates.bpf.c).

use corescope::escape::cstr;
use corescope::lru;
use corescope::net::{Endpoints, FamilyArgs};
use corescope::ports::{filter_bitmap, PortSet};
use corescope::prelude::*;
use corescope::session::{find_map, Counter};
use corescope::skel::tcpstates::types::{
    tcpstates_event as Event, tcpstates_flags as Flags, tcpstates_stat,
};
use corescope::skel::tcpstates::{OpenTcpstatesSkel, TcpstatesSkelBuilder};

const EXAMPLES: &str = "EXAMPLES:
    tcpstates                # every TCP state change
    tcpstates -T             # with a HH:MM:SS column
    tcpstates -w             # wide columns (full IPv6 addresses)
    tcpstates -L 80,443      # only local port 80 or 443
    tcpstates -D 8000-8100   # only remote ports 8000 to 8100
    tcpstates -4             # IPv4 sockets only
    tcpstates -j -d 10       # JSON Lines for 10 seconds";

/// Trace TCP state changes, with the time spent in the previous state.
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
    /// Only these local ports: a comma list with ranges, e.g. 80,8000-8100
    #[arg(short = 'L', long, value_name = "LIST", value_parser = PortSet::parse)]
    localport: Option<PortSet>,
    /// Only these remote ports: a comma list with ranges
    #[arg(short = 'D', long, value_name = "LIST", value_parser = PortSet::parse)]
    remoteport: Option<PortSet>,
    #[command(flatten)]
    family: FamilyArgs,
    /// Sockets timed at once; the changes of sockets beyond are shown with
    /// MS unknown (counted)
    #[arg(long, default_value_t = 65536, value_parser = clap::value_parser!(u32).range(1..=1 << 24))]
    max_sockets: u32,
    #[command(flatten)]
    common: CommonArgs,
}

/// A TCP state's name (src/net.rs: BCC's names, `UNKNOWN` for others).
pub fn state(n: u32) -> &'static str {
    corescope::net::tcp_state_name(n)
}

/// The SKADDR column: the socket's kernel address, as %016llx.
#[derive(Debug, Clone, Copy)]
pub struct SkAddr(pub u64);

impl Serialize for SkAddr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(&format_args!("{:016x}", self.0))
    }
}

#[derive(Serialize)]
struct Change<'a> {
    time: corescope::clock::Hms,
    timestamp: f64,
    skaddr: SkAddr,
    pid: u32,
    tid: u32,
    comm: KStr<'a>,
    #[serde(flatten)]
    ends: Endpoints,
    oldstate: &'static str,
    newstate: &'static str,
    /// Time in the old state, ms; `null` when not known (socket map full).
    ms: Option<f64>,
    /// No earlier change of this socket was seen (MS 0).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    first: bool,
}

impl Row for Change<'_> {
    type Opts = Args;
    fn columns(t: &mut Table<'_, '_, Self>, a: &Args) {
        // libbpf-tools: "%016llx %-7d %-10.10s %-15s %-5d %-15s %-5d %-11s
        // -> %-11s %.3f" (-w: %-16.16s COMM, IP, %-39s addresses), with
        // BCC's C-PID / C-COMM headers.
        let (w, aw) = if a.wide { (16, 39) } else { (10, 15) };
        t.col_if(a.time, Col::left("TIME", 8), |r, c| c.put(r.time));
        t.col_if(a.timestamp, Col::left("TIME(s)", 9), |r, c| {
            c.put(format_args!("{:.6}", r.timestamp))
        });
        t.col(Col::left("SKADDR", 16), |r, c| {
            c.put(format_args!("{:016x}", r.skaddr.0))
        });
        t.col(Col::left("C-PID", 7), |r, c| c.put(r.pid));
        t.col(Col::left("C-COMM", w), |r, c| c.text(r.comm.0));
        t.col_if(a.wide, Col::left("IP", 2), |r, c| {
            c.put(r.ends.family.version())
        });
        t.col(Col::left("LADDR", aw), |r, c| c.put(r.ends.laddr));
        t.col(Col::left("LPORT", 5), |r, c| c.put(r.ends.lport));
        t.col(Col::left("RADDR", aw), |r, c| c.put(r.ends.raddr));
        t.col(Col::left("RPORT", 5), |r, c| c.put(r.ends.rport));
        t.col(Col::left("OLDSTATE", 11), |r, c| c.put(r.oldstate));
        t.col(Col::left("->", 2), |_, c| c.put("->"));
        t.col(Col::left("NEWSTATE", 11), |r, c| c.put(r.newstate));
        t.col(Col::left("MS", 0), |r, c| match r.ms {
            Some(ms) => c.put(format_args!("{ms:.3}")),
            None => c.put("?"),
        });
    }
}

/// One event → its row (none for an unknown address family).
fn row<'a>(e: &'a Event, out: &Output) -> Option<Change<'a>> {
    let ends = Endpoints::new(e.family, &e.laddr, e.lport, &e.raddr, e.rport)?;
    let untimed = e.flags & Flags::TCPSTATES_UNTIMED.0 as u8 != 0;
    Some(Change {
        time: out.clock.hms_of(e.ts_ns),
        timestamp: out.clock.elapsed(e.ts_ns),
        skaddr: SkAddr(e.skaddr),
        pid: e.pid,
        tid: e.tid,
        comm: KStr(cstr(&e.comm)),
        ends,
        oldstate: state(e.oldstate),
        newstate: state(e.newstate),
        ms: (!untimed).then(|| e.delta_ns as f64 / 1e6),
        first: e.flags & Flags::TCPSTATES_FIRST.0 as u8 != 0,
    })
}

fn counters(obj: &libbpf_rs::Object) -> Vec<Counter> {
    let idx = tcpstates_stat::TCPSTATES_STAT_UNTIMED.0;
    let untimed = find_map(obj, "ts_stats").map_or(0, |m| corescope::stream::percpu_sum(&m, idx));
    let u = lru::usage_in(obj, "timestamps", "ts_live");
    vec![
        Counter::new(
            "untimed",
            "changes with MS unknown (socket map full)",
            untimed,
        ),
        Counter::new("sockets_at_exit", "sockets still timed", u.entries),
        Counter::new("evicted", "evicted", u.evicted),
    ]
}

impl Events for Args {
    type Args = Args;
    type Skel = TcpstatesSkelBuilder;
    type Event = Event;
    type Row<'a> = Change<'a>;
    #[rustfmt::skip]
    const SHORTS: &'static [(&'static str, char)] = &[("pid", 'p'), ("cgroup", 'c'),
        ("json", 'j'), ("duration", 'd'), ("verbose", 'v')];

    fn configure(a: Args, open: &mut OpenTcpstatesSkel<'_>, s: &mut Session) -> Result<Args> {
        lru::set_capacity(&mut open.maps.timestamps, a.max_sockets)?;
        let ro = open.rodata()?;
        ro.max_sockets = a.max_sockets;
        ro.targ_family = a.family.af();
        ro.lport_on = filter_bitmap(a.localport.as_ref(), &mut ro.lport_bits);
        ro.rport_on = filter_bitmap(a.remoteport.as_ref(), &mut ro.rport_bits);
        s.summary_counters(counters);
        Ok(a)
    }

    fn event(&mut self, e: &Event, _: &[u8], out: &mut Output) -> Result<()> {
        row(e, out).map_or(Ok(()), |r| Ok(out.row(&r, self)?))
    }
}

/// The tool (its binary, or `corescope tcpstates`).
pub fn main(name: &'static str) -> ExitCode {
    corescope::run::events::<Args>(name)
}

#[cfg(test)]
mod tests;
