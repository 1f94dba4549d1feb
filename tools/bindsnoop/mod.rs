//! bindsnoop: one row per bind() on an IPv4 or IPv6 socket — process,
//! result, protocol, the socket options set before it, bound device, port
//! and address. Based on bindsnoop(8) from BCC and libbpf-tools (which use
//! kprobes on inet_bind/inet6_bind); here the syscall tracepoints, the
//! socket found from the fd in the task's file table.

use std::net::IpAddr;

use corescope::clock::Hms;
use corescope::errno::ErrnoName;
use corescope::escape::cstr;
use corescope::net::{ip_addr, Family, FamilyArgs};
use corescope::ports::{filter_bitmap, PortSet};
use corescope::prelude::*;
use corescope::skel::bindsnoop::types::{
    bindsnoop_event as Event, bindsnoop_flags as Flags, bindsnoop_opts as Opts,
};
use corescope::skel::bindsnoop::{BindsnoopSkelBuilder, OpenBindsnoopSkel};

const EXAMPLES: &str = "EXAMPLES:
    bindsnoop                # every bind() on an IPv4/IPv6 socket
    bindsnoop -t -U          # with TIME (HH:MM:SS) and UID columns
    bindsnoop -x             # only failed binds (EADDRINUSE, EACCES...)
    bindsnoop -P 80,8000-8100  # only these ports
    bindsnoop -6             # only IPv6 sockets
    bindsnoop -p 181         # binds by PID 181 and its descendants

OPTS are the socket options set before the bind:
    SOL_IP     IP_FREEBIND              F....
    SOL_IP     IP_TRANSPARENT           .T...
    SOL_IP     IP_BIND_ADDRESS_NO_PORT  ..N..
    SOL_SOCKET SO_REUSEADDR             ...R.
    SOL_SOCKET SO_REUSEPORT             ....r
IF is the SO_BINDTODEVICE interface index (0: none).";

/// Trace bind() on IPv4 and IPv6 sockets.
#[derive(Parser, Debug)]
#[command(version, after_help = EXAMPLES)]
struct Args {
    /// Include a TIME column (HH:MM:SS, local time)
    #[arg(short = 't', long)]
    timestamp: bool,
    /// Include a UID column
    #[arg(short = 'U', long)]
    print_uid: bool,
    /// Only failed binds (a negative RET). libbpf-tools' -x adds failed
    /// binds to the successful ones; here every bind is shown by default
    #[arg(short = 'x', long)]
    failed: bool,
    /// Only these ports: a comma list with ranges, e.g. 80,8000-8100 (the
    /// bound port of a successful bind, else the requested one)
    #[arg(short = 'P', long, value_name = "PORTS", value_parser = PortSet::parse)]
    ports: Option<PortSet>,
    #[command(flatten)]
    family: FamilyArgs,
    #[command(flatten)]
    common: CommonArgs,
}

/// OPTS: BCC's `FTNRr` letters, `.` for an option not set.
#[derive(Clone, Copy)]
struct OptLetters(u8);

impl std::fmt::Display for OptLetters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use std::fmt::Write as _;
        for (i, l) in "FTNRr".chars().enumerate() {
            f.write_char(if self.0 & (1 << i) != 0 { l } else { '.' })?;
        }
        Ok(())
    }
}

impl Serialize for OptLetters {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The socket options one by one, for JSON.
#[derive(Serialize)]
struct SockOpts {
    freebind: bool,
    transparent: bool,
    bind_address_no_port: bool,
    reuseaddr: bool,
    reuseport: bool,
}

impl SockOpts {
    fn new(o: u8) -> Self {
        let has = |b: Opts| o & b.0 as u8 != 0;
        Self {
            freebind: has(Opts::BINDSNOOP_FREEBIND),
            transparent: has(Opts::BINDSNOOP_TRANSPARENT),
            bind_address_no_port: has(Opts::BINDSNOOP_NO_PORT),
            reuseaddr: has(Opts::BINDSNOOP_REUSEADDR),
            reuseport: has(Opts::BINDSNOOP_REUSEPORT),
        }
    }
}

/// The L4 protocol's name (sk_protocol), as BCC names IPPROTO_*.
fn proto_name(p: u16) -> Option<&'static str> {
    Some(match p {
        1 => "ICMP",
        6 => "TCP",
        17 => "UDP",
        58 => "ICMPV6",
        132 => "SCTP",
        136 => "UDPLITE",
        255 => "RAW",
        262 => "MPTCP",
        _ => return None,
    })
}

fn sock_type_name(t: u16) -> &'static str {
    match t {
        1 => "stream",
        2 => "dgram",
        3 => "raw",
        4 => "rdm",
        5 => "seqpacket",
        6 => "dccp",
        10 => "packet",
        _ => "unknown",
    }
}

#[derive(Serialize)]
struct Bind<'a> {
    time: Hms,
    pid: u32,
    tid: u32,
    uid: u32,
    comm: KStr<'a>,
    /// 0, or a negative errno.
    ret: i32,
    /// The errno's name when `ret` < 0.
    error: Option<ErrnoName>,
    /// `TCP`, `UDP`, ... (`UNK` when not known: see `proto_num`).
    proto: &'static str,
    proto_num: u16,
    sock_type: &'static str,
    family: Family,
    /// The address asked for (null if it could not be read).
    addr: Option<IpAddr>,
    /// The bound port after a successful bind (the one chosen for port 0),
    /// else the one asked for.
    port: u16,
    requested_port: u16,
    opts: OptLetters,
    options: SockOpts,
    /// SO_BINDTODEVICE's interface index (0: none).
    bound_if: u32,
    fd: i32,
    /// The sockaddr's own family field (it can differ from the socket's
    /// in a failed bind) and the addrlen argument.
    sa_family: u16,
    addrlen: u32,
}

impl Row for Bind<'_> {
    type Opts = Bindsnoop;
    fn columns(t: &mut Table<'_, '_, Self>, b: &Bindsnoop) {
        // libbpf-tools: "%-7d %-16s %-3d %-5s %-5s %-4d %-5d %-48s".
        t.col_if(b.a.timestamp, Col::left("TIME", 8), |r, c| c.put(r.time));
        t.col_if(b.a.print_uid, Col::left("UID", 6), |r, c| c.put(r.uid));
        t.col(Col::left("PID", 7), |r, c| c.put(r.pid));
        t.col(Col::left("COMM", 16), |r, c| c.text(r.comm.0));
        t.col(Col::left("RET", 3), |r, c| c.put(r.ret));
        t.col(Col::left("PROTO", 5), |r, c| c.put(r.proto));
        t.col(Col::left("OPTS", 5), |r, c| c.put(r.opts));
        t.col(Col::left("IF", 4), |r, c| c.put(r.bound_if));
        t.col(Col::left("PORT", 5), |r, c| c.put(r.port));
        t.col(Col::left("ADDR", 0), |r, c| match r.addr {
            Some(a) => c.put(a),
            None => c.put("?"),
        });
    }
}

fn row<'a>(e: &'a Event, out: &Output) -> Option<Bind<'a>> {
    let family = Family::from_af(e.family)?;
    let read = e.flags & Flags::BINDSNOOP_SA_READ.0 as u8 != 0;
    Some(Bind {
        time: out.clock.hms_of(e.ts_ns),
        pid: e.pid,
        tid: e.tid,
        uid: e.uid,
        comm: KStr(cstr(&e.comm)),
        ret: e.ret,
        error: ErrnoName::of_ret(e.ret.into()),
        proto: proto_name(e.proto).unwrap_or("UNK"),
        proto_num: e.proto,
        sock_type: sock_type_name(e.sock_type),
        family,
        addr: read.then(|| ip_addr(family, &e.addr)),
        port: e.port,
        requested_port: e.sa_port,
        opts: OptLetters(e.opts),
        options: SockOpts::new(e.opts),
        bound_if: e.bound_dev_if,
        fd: e.fd,
        sa_family: e.sa_family,
        addrlen: e.addrlen,
    })
}

struct Bindsnoop {
    a: Args,
}

impl Events for Bindsnoop {
    type Args = Args;
    type Skel = BindsnoopSkelBuilder;
    type Event = Event;
    type Row<'a> = Bind<'a>;
    #[rustfmt::skip]
    const SHORTS: &'static [(&'static str, char)] = &[("pid", 'p'), ("cgroup", 'c'),
        ("uid", 'u'), ("json", 'j'), ("duration", 'd'), ("verbose", 'v')];

    fn configure(a: Args, open: &mut OpenBindsnoopSkel<'_>, _: &mut Session) -> Result<Self> {
        let ro = open.rodata()?;
        ro.failed_only = u8::from(a.failed);
        ro.targ_family = a.family.af();
        ro.port_on = filter_bitmap(a.ports.as_ref(), &mut ro.port_bits);
        Ok(Self { a })
    }

    fn event(&mut self, e: &Event, _: &[u8], out: &mut Output) -> Result<()> {
        row(e, out).map_or(Ok(()), |r| Ok(out.row(&r, self)?))
    }
}

/// The tool (its binary, or `corescope bindsnoop`).
pub fn main(name: &'static str) -> ExitCode {
    corescope::run::events::<Bindsnoop>(name)
}

#[cfg(test)]
mod tests;
