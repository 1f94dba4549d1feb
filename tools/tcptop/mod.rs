//! tcptop: TCP bytes sent and received per process and connection, every
//! interval, busiest first. Based on tcptop(8) from BCC and libbpf-tools,
//! on the sock:sock_send_length / sock:sock_recv_length tracepoints
//! (Linux 6.3+) instead of their tcp_sendmsg / tcp_cleanup_rbuf kprobes; the
//! BPF side says what differs (tools/tcptop/tcptop.bpf.c). A top-shape tool
//! ([`corescope::top`]).

use corescope::load;
use corescope::net::{Endpoints, FamilyArgs};
use corescope::prelude::*;
use corescope::run::Loaded;
use corescope::skel::tcptop::types::{tcptop_key as Key, tcptop_value as Value};
use corescope::skel::tcptop::{OpenTcptopSkel, TcptopSkelBuilder};
use corescope::top::{self, Counts, Screen, TopArgs, TopTool};
use libbpf_rs::MapCore;

const EXAMPLES: &str = "EXAMPLES:
    tcptop              # TCP send/receive top, every second
    tcptop -C           # don't clear the screen
    tcptop -p 181       # only PID 181 (and its descendants)
    tcptop -s sent      # sorted by bytes sent
    tcptop -4           # IPv4 sockets only
    tcptop 5 10         # every 5 seconds, 10 times
    tcptop -j -d 10     # JSON: one record per row per interval, for 10 s";

/// The two tracepoints (Linux 6.3+), as `category/name`.
pub const TRACEPOINTS: [&str; 2] = ["sock/sock_send_length", "sock/sock_recv_length"];

/// What to sort by (BCC's names).
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sort {
    /// Bytes sent + bytes received
    #[default]
    All,
    Sent,
    Received,
}

impl Sort {
    pub fn score(self, v: &Value) -> u64 {
        match self {
            Sort::All => v.sent.wrapping_add(v.received),
            Sort::Sent => v.sent,
            Sort::Received => v.received,
        }
    }
}

/// Summarize TCP send/receive throughput by process and connection.
#[derive(Parser, Debug)]
#[command(version, after_help = EXAMPLES)]
struct Args {
    /// Skip the system summary line (the HH:MM:SS loadavg line)
    #[arg(short = 'S', long)]
    nosummary: bool,
    /// Sort by this column
    #[arg(short = 's', long, value_enum, default_value_t)]
    sort: Sort,
    #[command(flatten)]
    family: FamilyArgs,
    #[command(flatten)]
    top: TopArgs,
    #[command(flatten)]
    common: CommonArgs,
}

/// One row: a process's traffic on one connection this interval.
#[derive(Serialize)]
pub struct FlowRow<'a> {
    pub pid: u32,
    pub comm: KStr<'a>,
    #[serde(flatten)]
    pub ends: Endpoints,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
}

impl Row for FlowRow<'_> {
    type Opts = ();
    fn columns(t: &mut Table<'_, '_, Self>, _: &()) {
        // libbpf-tools: "%-6d %-12.12s %-21s %-21s %6ld %6ld", with BCC's
        // PID width (7); an address:port is "laddr:lport" as both print it.
        t.col(Col::left("PID", 7), |r, c| c.put(r.pid));
        t.col(Col::left("COMM", 12), |r, c| c.text(r.comm.0));
        t.col(Col::left("LADDR", 21), |r, c| {
            c.put(format_args!("{}:{}", r.ends.laddr, r.ends.lport))
        });
        t.col(Col::left("RADDR", 21), |r, c| {
            c.put(format_args!("{}:{}", r.ends.raddr, r.ends.rport))
        });
        t.col(Col::right("RX_KB", 6), |r, c| c.put(r.rx_bytes / 1024));
        t.col(Col::right("TX_KB", 6), |r, c| c.put(r.tx_bytes / 1024));
    }
}

/// The row of one key (none for an address family the BPF side never
/// stores).
pub fn row<'a>(k: &'a Key, v: &Value) -> Option<FlowRow<'a>> {
    Some(FlowRow {
        pid: k.pid,
        comm: KStr(corescope::escape::cstr(&k.comm)),
        ends: Endpoints::new(k.family, &k.laddr, k.lport, &k.raddr, k.rport)?,
        rx_bytes: v.received,
        tx_bytes: v.sent,
    })
}

impl Counts for Value {
    fn add(&mut self, o: &Self) {
        self.sent = self.sent.wrapping_add(o.sent);
        self.received = self.received.wrapping_add(o.received);
    }
}

/// The JSON form of a [`Value`] sum (the `interval` record's totals).
#[derive(Serialize, Default, Clone, Copy)]
struct Sum {
    rx_bytes: u64,
    tx_bytes: u64,
}

fn sum(v: &Value) -> Sum {
    Sum {
        rx_bytes: v.received,
        tx_bytes: v.sent,
    }
}

/// Whether the kernel's prototype is the five-argument (sk, family,
/// protocol, ret, flags) rather than (sk, ret, flags), as seen on 6.12 and
/// 6.18 (tcptop.bpf.c); a clear error when a tracepoint is missing.
fn probe_kernel(tool: &str) -> Result<bool> {
    let mut wide = false;
    for tp in TRACEPOINTS {
        let name = tp.rsplit('/').next().unwrap_or(tp);
        match load::btf_tracepoint_args(name) {
            Ok(None) => return Err(load::missing_tracepoint(tool, tp).into()),
            Ok(Some(n)) => wide |= n >= 5,
            // No readable kernel BTF: the load says so, with its hint.
            Err(_) => {}
        }
    }
    Ok(wide)
}

struct Tcptop {
    a: Args,
}

impl TopTool for Tcptop {
    type Args = Args;
    type Skel = TcptopSkelBuilder;
    type Key = Key;
    type Value = Value;
    type Opts = ();
    type Row<'a> = FlowRow<'a>;
    type Sum = Sum;
    type Scratch = ();
    const SHORTS: &'static [(&'static str, char)] = &[
        ("pid", 'p'),
        ("cgroup", 'c'),
        ("json", 'j'),
        ("duration", 'd'),
        ("verbose", 'v'),
    ];

    fn configure(a: Args, open: &mut OpenTcptopSkel<'_>) -> Result<Self> {
        let wide = probe_kernel("tcptop")?;
        let ro = open.rodata()?;
        ro.targ_family = a.family.af();
        ro.wide_args = u8::from(wide);
        Ok(Self { a })
    }

    fn top(&self) -> &TopArgs {
        &self.a.top
    }

    fn opts(&self) -> &() {
        &()
    }

    /// -S: no `HH:MM:SS loadavg:` line (BCC's "system summary line").
    fn screen(&self, s: &mut Screen) {
        s.loadavg = !self.a.nosummary;
    }

    fn map<'a>(skel: &'a Loaded<'_, TcptopSkelBuilder>) -> &'a dyn MapCore {
        &skel.maps.flows
    }

    fn score(&self, _: &Key, v: &Value) -> u64 {
        self.a.sort.score(v)
    }

    fn scratch(&self) {}

    fn row<'a>(&'a self, k: &'a Key, v: &'a Value, _: &'a mut ()) -> Option<FlowRow<'a>> {
        row(k, v)
    }

    const PROM: corescope::prom::RowSpec = corescope::prom::RowSpec {
        // No ports: a client's ephemeral ports would make a series per connection.
        labels: &["pid", "comm", "family", "laddr", "raddr"],
        counters: &[
            (
                "rx_bytes",
                "received_bytes",
                "TCP payload bytes received",
                1.0,
            ),
            ("tx_bytes", "sent_bytes", "TCP payload bytes sent", 1.0),
        ],
    };

    fn sum(&self, v: &Value) -> Sum {
        sum(v)
    }
}

/// The tool (its binary, or `corescope tcptop`).
pub fn main(name: &'static str) -> ExitCode {
    corescope::run::interval::<top::Runner<Tcptop>>(name)
}

#[cfg(test)]
mod tests;
