//! tcpretrans: one row per TCP retransmit (addresses, ports, TCP state), or
//! with `-c` a count per flow printed at the end. Based on tcpretrans(8)
//! from BCC, on the tcp:tcp_retransmit_skb tracepoint.

use std::ops::ControlFlow;
use std::time::Duration;

use corescope::cli::{NoTaskFilters, RunArgs};
use corescope::clock::Hms;
use corescope::net::{tcp_state_name, Endpoints, FamilyArgs};
use corescope::prelude::*;
use corescope::session::{Counter, Fields, Tick};
use corescope::skel::tcpretrans::types::{tcpretrans_event as Event, tcpretrans_key as Key};
use corescope::skel::tcpretrans::{OpenTcpretransSkel, TcpretransSkel, TcpretransSkelBuilder};
use corescope::top::Drain;
use corescope::UserError;

const EXAMPLES: &str = "EXAMPLES:
    tcpretrans               # one row per TCP retransmit
    tcpretrans -c            # count retransmits per flow; print the counts on Ctrl-C
    tcpretrans -c -d 60      # the same over one minute
    tcpretrans -6 -j         # IPv6 only, JSON Lines";

/// Short letters of the shared options (BCC's tcpretrans has none of them;
/// its -c is the count mode, so --cgroup has no short letter here).
const SHORTS: &[(&str, char)] = &[("json", 'j'), ("duration", 'd'), ("verbose", 'v')];

/// Trace TCP retransmits: addresses, ports and TCP state, or counts per flow.
#[derive(Parser, Debug)]
#[command(version, after_help = EXAMPLES)]
struct Args {
    /// Count retransmits per flow instead; print the counts at the end
    /// (Ctrl-C, --duration)
    #[arg(short = 'c', long)]
    count: bool,
    /// Include tail loss probes (refused: needs a kprobe on tcp_send_loss_probe)
    #[arg(short = 'l', long)]
    lossprobe: bool,
    #[command(flatten)]
    family: FamilyArgs,
    /// Flows counted at once with -c; retransmits of flows beyond are counted as lost
    #[arg(long, default_value_t = 10240, value_parser = clap::value_parser!(u32).range(1..=1 << 24))]
    max_flows: u32,
    #[command(flatten)]
    run: RunArgs,
    #[command(flatten)]
    refused: NoTaskFilters,
}

impl Args {
    /// What both modes refuse, and the knobs both set.
    fn configure(&self, open: &mut OpenTcpretransSkel<'_>) -> Result<()> {
        self.refused.refuse_with(
            "tcpretrans",
            "retransmits are sent from the retransmit timer (softirq) or while an ACK is \
             processed, in whichever task was on the CPU, not the socket's",
            "leave the task filters out; the rows' addresses and ports name the connection",
        )?;
        if self.lossprobe {
            return Err(UserError::hint(
                "-l (tail loss probes) needs a kprobe on tcp_send_loss_probe, which has no \
                 tracepoint, and this tool attaches no kprobes",
                "leave -l out: a loss probe that resends the last segment is shown as a \
                 retransmit (R) all the same",
            )
            .into());
        }
        open.maps.flows.set_max_entries(self.max_flows)?;
        let ro = open.rodata()?;
        ro.targ_family = self.family.af();
        ro.count_mode = u8::from(self.count);
        Ok(())
    }
}

/// One retransmit. `kind` is BCC's T column (`R`: retransmit).
#[derive(Serialize)]
struct Retrans {
    time: Hms,
    pid: u32,
    #[serde(flatten)]
    ends: Endpoints,
    state: &'static str,
    kind: &'static str,
    /// BCC's letter for `kind`.
    #[serde(skip)]
    letter: &'static str,
}

/// `(letter, kind)` by enum tcpretrans_type (tcpretrans.h).
const KINDS: [(&str, &str); 2] = [("?", "unknown"), ("R", "retransmit")];

/// `ADDR:PORT` as BCC prints it (no brackets around IPv6 addresses).
fn put_end(c: &mut corescope::output::Cell<'_, '_>, ip: std::net::IpAddr, port: u16) {
    c.put(format_args!("{ip}:{port}"));
}

impl Row for Retrans {
    type Opts = Args;
    fn columns(t: &mut Table<'_, '_, Self>, _: &Args) {
        // BCC: "%-8s %-7d %-2d %-20s %1s> %-20s %s".
        t.col(Col::left("TIME", 8), |r, c| c.put(r.time));
        t.col(Col::left("PID", 7), |r, c| c.put(r.pid));
        t.col(Col::left("IP", 2), |r, c| c.put(r.ends.family.version()));
        t.col(Col::left("LADDR:LPORT", 20), |r, c| {
            put_end(c, r.ends.laddr, r.ends.lport)
        });
        t.col(Col::left("T>", 2), |r, c| {
            c.put(format_args!("{}>", r.letter))
        });
        t.col(Col::left("RADDR:RPORT", 20), |r, c| {
            put_end(c, r.ends.raddr, r.ends.rport)
        });
        t.col(Col::left("STATE", 0), |r, c| c.put(r.state));
    }
}

fn endpoints(k: &Key) -> Option<Endpoints> {
    Endpoints::new(k.family, &k.laddr, k.lport, &k.raddr, k.rport)
}

/// One event → its row (none for an unknown address family).
fn row(e: &Event, out: &Output) -> Option<Retrans> {
    let (letter, kind) = KINDS.get(usize::from(e.kind)).unwrap_or(&KINDS[0]);
    Some(Retrans {
        time: out.clock.hms_of(e.ts_ns),
        pid: e.pid,
        ends: endpoints(&e.flow)?,
        state: tcp_state_name(e.state),
        kind,
        letter,
    })
}

impl Events for Args {
    type Args = Args;
    type Skel = TcpretransSkelBuilder;
    type Event = Event;
    type Row<'a> = Retrans;
    const SHORTS: &'static [(&'static str, char)] = SHORTS;

    fn configure(a: Args, open: &mut OpenTcpretransSkel<'_>, _: &mut Session) -> Result<Args> {
        a.configure(open)?;
        Ok(a)
    }

    fn event(&mut self, e: &Event, _: &[u8], out: &mut Output) -> Result<()> {
        row(e, out).map_or(Ok(()), |r| Ok(out.row(&r, self)?))
    }
}

/// Count mode's row: one flow and its retransmits.
#[derive(Serialize, Debug, PartialEq, Eq)]
struct Flow {
    #[serde(flatten)]
    ends: Endpoints,
    retransmits: u64,
}

impl Row for Flow {
    type Opts = ();
    fn columns(t: &mut Table<'_, '_, Self>, _: &()) {
        t.col(Col::left("LADDR:LPORT", 24), |r, c| {
            put_end(c, r.ends.laddr, r.ends.lport)
        });
        t.col(Col::left("RADDR:RPORT", 24), |r, c| {
            put_end(c, r.ends.raddr, r.ends.rport)
        });
        t.col(Col::left("RETRANSMITS", 0), |r, c| c.put(r.retransmits));
    }
}

/// The flows of count mode, most retransmits first (then by addresses).
fn flows(entries: impl IntoIterator<Item = (Key, u64)>) -> Vec<Flow> {
    let mut v: Vec<Flow> = entries
        .into_iter()
        .filter_map(|(k, n)| {
            Some(Flow {
                ends: endpoints(&k)?,
                retransmits: n,
            })
        })
        .collect();
    let ord = |f: &Flow| (f.ends.laddr, f.ends.lport, f.ends.raddr, f.ends.rport);
    v.sort_by(|a, b| {
        b.retransmits
            .cmp(&a.retransmits)
            .then_with(|| ord(a).cmp(&ord(b)))
    });
    v
}

/// Count mode (`-c`): the BPF side counts per flow; the counts are read
/// and printed once, at the end.
struct Count {
    shown: u64,
}

impl Interval for Count {
    type Args = Args;
    type Skel = TcpretransSkelBuilder;
    const SHORTS: &'static [(&'static str, char)] = SHORTS;

    fn configure(a: Args, open: &mut OpenTcpretransSkel<'_>, s: &mut Session) -> Result<Self> {
        a.configure(open)?;
        s.set_header::<Flow>(&());
        Ok(Count { shown: 0 })
    }

    fn loaded(&mut self, _: &mut TcpretransSkel<'_>, _: &mut Session) -> Result<()> {
        corescope::diag!("tcpretrans: counting retransmits per flow; Ctrl-C to print the counts");
        Ok(())
    }

    /// Never: the counts are printed by the last tick only.
    fn period(&self) -> Duration {
        Duration::MAX
    }

    fn tick(
        &mut self,
        skel: &TcpretransSkel<'_>,
        tick: &Tick,
        out: &mut Output,
    ) -> Result<ControlFlow<()>> {
        if !tick.last {
            return Ok(ControlFlow::Continue(()));
        }
        // Read once, at the end: the top shape's drain (flow -> count).
        let map = &skel.maps.flows;
        let mut drain = Drain::<Key, u64>::new(map)?;
        for f in flows(drain.drain(map)?.iter().copied()) {
            out.row_as("flow", &f, &())?;
            self.shown += 1;
        }
        Ok(ControlFlow::Continue(()))
    }

    fn summary(&mut self, _: &libbpf_rs::Object) -> (Vec<Counter>, Fields) {
        (
            vec![Counter::new("flows", "flows", self.shown)],
            Fields::new(),
        )
    }
}

/// The tool (its binary, or `corescope tcpretrans`): count mode is an
/// interval tool that prints once, the default an event tool.
pub fn main(name: &'static str) -> ExitCode {
    let args = corescope::cli::args_os();
    // A bad command line goes to the event runner, which reports it.
    let parsed = corescope::cli::try_parse_tool_from::<Args, _, _>(name, SHORTS, args);
    if parsed.is_ok_and(|(a, _)| a.count) {
        corescope::run::interval::<Count>(name)
    } else {
        corescope::run::events::<Args>(name)
    }
}

#[cfg(test)]
mod tests;
