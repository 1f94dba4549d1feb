//! tcpaccept: one row per TCP connection accepted (accept()/accept4()):
//! the accepting process, the remote and local ends. Based on tcpaccept(8)
//! from BCC.

use corescope::escape::cstr;
use corescope::net::{Endpoints, FamilyArgs};
use corescope::ports::{filter_bitmap, PortSet};
use corescope::prelude::*;
use corescope::run::Open;
use corescope::skel::tcpaccept::types::tcpaccept_event as Event;
use corescope::skel::tcpaccept::TcpacceptSkelBuilder;

const EXAMPLES: &str = "EXAMPLES:
    tcpaccept                # every TCP connection accepted, by the accepting process
    tcpaccept -T -t          # HH:MM:SS and seconds-since-start columns
    tcpaccept -P 80,443      # only connections accepted on local port 80 or 443
    tcpaccept -p 181         # only those PID 181 (and its descendants) accept
    tcpaccept -6 --json      # IPv6 only, JSON records";

/// Trace passive TCP connections (accept()).
#[derive(Parser, Debug)]
#[command(version, after_help = EXAMPLES)]
pub struct Args {
    /// Include a TIME column (HH:MM:SS)
    #[arg(short = 'T', long)]
    time: bool,
    /// Include a TIME(s) column: seconds since tracing started
    #[arg(short = 't', long)]
    timestamp: bool,
    /// Only these local ports: a comma list with ranges, e.g. 80,8000-8100
    #[arg(short = 'P', long, value_name = "PORTS", value_parser = PortSet::parse)]
    port: Option<PortSet>,
    #[command(flatten)]
    family: FamilyArgs,
    #[command(flatten)]
    common: CommonArgs,
}

#[derive(Serialize)]
pub struct Accept<'a> {
    time: corescope::clock::Hms,
    timestamp: f64,
    uid: u32,
    pid: u32,
    tid: u32,
    comm: KStr<'a>,
    #[serde(flatten)]
    ends: Endpoints,
    fd: u32,
}

impl Row for Accept<'_> {
    type Opts = Args;
    fn columns(t: &mut Table<'_, '_, Self>, a: &Args) {
        t.col_if(a.time, Col::left("TIME", 8), |r, c| c.put(r.time));
        t.col_if(a.timestamp, Col::left("TIME(s)", 9), |r, c| {
            c.put(format_args!("{:.3}", r.timestamp))
        });
        t.col(Col::left("PID", 7), |r, c| c.put(r.pid));
        t.col(Col::left("COMM", 12), |r, c| c.text(r.comm.0));
        t.col(Col::left("IP", 2), |r, c| c.put(r.ends.family.version()));
        t.col(Col::left("RADDR", 16), |r, c| c.put(r.ends.raddr));
        t.col(Col::left("RPORT", 5), |r, c| c.put(r.ends.rport));
        t.col(Col::left("LADDR", 16), |r, c| c.put(r.ends.laddr));
        t.col(Col::left("LPORT", 0), |r, c| c.put(r.ends.lport));
    }
}

/// One event → its row (none for an unknown address family).
fn row<'a>(e: &'a Event, out: &Output) -> Option<Accept<'a>> {
    Some(Accept {
        time: out.clock.hms_of(e.ts_ns),
        timestamp: out.clock.elapsed(e.ts_ns),
        uid: e.uid,
        pid: e.pid,
        tid: e.tid,
        comm: KStr(cstr(&e.comm)),
        ends: Endpoints::new(e.family, &e.laddr, e.lport, &e.raddr, e.rport)?,
        fd: e.fd,
    })
}

impl Events for Args {
    type Args = Args;
    type Skel = TcpacceptSkelBuilder;
    type Event = Event;
    type Row<'a> = Accept<'a>;
    #[rustfmt::skip]
    const SHORTS: &'static [(&'static str, char)] = &[("pid", 'p'), ("cgroup", 'c'),
        ("json", 'j'), ("duration", 'd'), ("verbose", 'v')];

    fn configure(a: Args, open: &mut Open<'_, Self::Skel>, _: &mut Session) -> Result<Args> {
        let ro = open.rodata()?;
        ro.targ_family = a.family.af();
        ro.lport_on = filter_bitmap(a.port.as_ref(), &mut ro.lport_bits);
        Ok(a)
    }

    fn event(&mut self, e: &Event, _: &[u8], out: &mut Output) -> Result<()> {
        row(e, out).map_or(Ok(()), |r| Ok(out.row(&r, self)?))
    }
}

/// The tool (its binary, or `corescope tcpaccept`).
pub fn main(name: &'static str) -> ExitCode {
    corescope::run::events::<Args>(name)
}

#[cfg(test)]
mod tests;
