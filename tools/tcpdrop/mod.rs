//! tcpdrop: one row per TCP packet the kernel drops, with the kernel's drop
//! reason (skb:kfree_skb), and optionally the kernel stack. Based on
//! tcpdrop(8) from BCC; the reason names come from the running kernel's
//! `enum skb_drop_reason` (BTF), not from a table of ours.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt as _;

use corescope::cli::{NoTaskFilters, RunArgs};
use corescope::clock::Hms;
use corescope::escape::KStr;
use corescope::net::{ip_addr, tcp_state_name, Family, FamilyArgs};
use corescope::prelude::*;
use corescope::skel::tcpdrop::types::{tcpdrop_consts, tcpdrop_event as Event};
use corescope::skel::tcpdrop::{OpenTcpdropSkel, TcpdropSkelBuilder};
use corescope::stacks::StackSymbolizer;
use corescope::sym::{print_frames, Frame};
use corescope::UserError;
use libbpf_rs::btf::types::Enum;
use libbpf_rs::btf::Btf;

const EXAMPLES: &str = "EXAMPLES:
    tcpdrop                  # one row per TCP packet dropped, with the reason
    tcpdrop --stack          # with the kernel stack of each drop
    tcpdrop -4 -j            # IPv4 only, JSON Lines";

/// Short letters of the shared options.
const SHORTS: &[(&str, char)] = &[("json", 'j'), ("duration", 'd'), ("verbose", 'v')];

/// Trace TCP packets dropped by the kernel, with the kernel's drop reason.
#[derive(Parser, Debug)]
#[command(version, after_help = EXAMPLES)]
struct Args {
    /// Print the kernel stack of each drop (symbolized through /proc/kallsyms)
    #[arg(long)]
    stack: bool,
    #[command(flatten)]
    family: FamilyArgs,
    #[command(flatten)]
    run: RunArgs,
    #[command(flatten)]
    refused: NoTaskFilters,
}

/// The kernel's drop reasons: (value, name without `SKB_DROP_REASON_`),
/// sorted by value.
#[derive(Debug, Default)]
struct Reasons(Vec<(u32, Vec<u8>)>);

impl Reasons {
    /// From `enum skb_drop_reason` of the BTF at `btf` (None: the running
    /// kernel's).
    fn load(btf: Option<&std::path::Path>) -> Result<Self> {
        let b = match btf {
            Some(p) => Btf::from_path(p),
            None => Btf::from_vmlinux(),
        }
        .map_err(|e| UserError::hint(format!("reading the kernel's BTF: {e}"), "check --btf"))?;
        let Some(en) = b.type_by_name::<Enum<'_>>("skb_drop_reason") else {
            return Err(UserError::hint(
                "this kernel's BTF has no enum skb_drop_reason: kfree_skb has no drop \
                 reason before Linux 5.17",
                "run on Linux 5.17 or later",
            )
            .into());
        };
        let mut v: Vec<(u32, Vec<u8>)> = en
            .iter()
            .filter_map(|m| {
                let name = m.name.map_or(&b""[..], OsStr::as_bytes);
                let short = name.strip_prefix(b"SKB_DROP_REASON_").unwrap_or(name);
                Some((u32::try_from(m.value).ok()?, short.to_vec()))
            })
            .collect();
        v.sort();
        Ok(Reasons(v))
    }

    /// The largest value that is no drop (BCC: `reason > NOT_SPECIFIED`):
    /// NOT_SPECIFIED's, or CONSUMED's / NOT_DROPPED_YET's on a kernel
    /// without it.
    fn max_ignored(&self) -> u32 {
        let of = |n: &[u8]| self.0.iter().find(|(_, m)| m == n).map(|(v, _)| *v);
        [
            &b"NOT_SPECIFIED"[..],
            b"SKB_CONSUMED",
            b"SKB_NOT_DROPPED_YET",
        ]
        .into_iter()
        .filter_map(of)
        .max()
        .unwrap_or(0)
    }

    fn name(&self, v: u32) -> Option<&[u8]> {
        let i = self.0.binary_search_by_key(&v, |(k, _)| *k).ok()?;
        Some(&self.0[i].1)
    }
}

/// The TCP flags of header byte 13, as BCC's tcp.flags2str names them.
const FLAGS: [&str; 8] = ["FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR"];

/// `FIN|ACK`-style flags into `c`, no allocation.
fn put_flags(c: &mut corescope::output::Cell<'_, '_>, flags: u8) {
    let mut first = true;
    for (i, f) in FLAGS.iter().enumerate() {
        if flags & (1 << i) != 0 {
            c.put(format_args!("{}{f}", if first { "" } else { "|" }));
            first = false;
        }
    }
}

/// Flags as a JSON list of names.
struct Flags(u8);

impl Serialize for Flags {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = s.serialize_seq(None)?;
        for (i, f) in FLAGS.iter().enumerate() {
            if self.0 & (1 << i) != 0 {
                seq.serialize_element(f)?;
            }
        }
        seq.end()
    }
}

#[derive(Serialize)]
struct Drop<'a> {
    time: Hms,
    pid: u32,
    family: Family,
    saddr: std::net::IpAddr,
    sport: u16,
    daddr: std::net::IpAddr,
    dport: u16,
    /// The socket's TCP state; null when the packet had no socket.
    state: Option<&'static str>,
    flags: Flags,
    /// The kernel's name (without `SKB_DROP_REASON_`), or the number.
    reason: KStr<'a>,
    reason_code: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    kernel_stack: Option<&'a [Frame]>,
}

impl Row for Drop<'_> {
    type Opts = Tcpdrop;
    fn columns(t: &mut Table<'_, '_, Self>, _: &Tcpdrop) {
        // BCC: "%-8s %-7d %-2d %-20s > %-20s %s (%s)", then the reason.
        t.col(Col::left("TIME", 8), |r, c| c.put(r.time));
        t.col(Col::left("PID", 7), |r, c| c.put(r.pid));
        t.col(Col::left("IP", 2), |r, c| c.put(r.family.version()));
        t.col(Col::left("SADDR:SPORT", 20), |r, c| {
            c.put(format_args!("{}:{}", r.saddr, r.sport))
        });
        t.col(Col::left(">", 1), |_, c| c.put(">"));
        t.col(Col::left("DADDR:DPORT", 20), |r, c| {
            c.put(format_args!("{}:{}", r.daddr, r.dport))
        });
        t.col(Col::left("STATE (FLAGS)", 24), |r, c| {
            c.put(format_args!("{} (", r.state.unwrap_or("-")));
            put_flags(c, r.flags.0);
            c.put(")");
        });
        t.col(Col::left("REASON", 0), |r, c| c.text(r.reason.0));
    }
}

struct Tcpdrop {
    reasons: Reasons,
    /// With --stack: the kernel symbolizer (src/stacks.rs).
    sym: Option<StackSymbolizer>,
    /// Reused per event: the stack's addresses and frames, and the number
    /// printed for a reason the BTF does not name.
    addrs: Vec<u64>,
    frames: Vec<Frame>,
    unnamed: String,
}

impl Tcpdrop {
    /// What the row borrows and must be made first: the stack's frames
    /// (--stack) and the number of a reason the BTF does not name.
    fn prepare(&mut self, e: &Event, payload: &[u8]) {
        if let Some(sym) = self.sym.as_mut() {
            let n = (e.stack_bytes as usize).min(payload.len());
            self.addrs.clear();
            self.addrs.extend(
                payload[..n]
                    .chunks_exact(8)
                    .map(|c| u64::from_ne_bytes(c.try_into().unwrap_or_default())),
            );
            sym.kernel(&self.addrs, &mut self.frames);
            corescope::stacks::drop_tracer_glue(&mut self.frames);
        }
        if self.reasons.name(e.reason).is_none() {
            use std::fmt::Write as _;
            self.unnamed.clear();
            let _ = write!(self.unnamed, "{}", e.reason);
        }
    }

    /// One event → its row (none for an unknown address family), after
    /// [`Tcpdrop::prepare`].
    fn row(&self, e: &Event, out: &Output) -> Option<Drop<'_>> {
        let family = Family::from_af(e.family)?;
        let reason = self
            .reasons
            .name(e.reason)
            .unwrap_or(self.unnamed.as_bytes());
        let state = (e.state != tcpdrop_consts::TCPDROP_NO_STATE.0 as u8)
            .then(|| tcp_state_name(u32::from(e.state)));
        Some(Drop {
            time: out.clock.hms_of(e.ts_ns),
            pid: e.pid,
            family,
            saddr: ip_addr(family, &e.saddr),
            sport: e.sport,
            daddr: ip_addr(family, &e.daddr),
            dport: e.dport,
            state,
            flags: Flags(e.tcpflags),
            reason: KStr(reason),
            reason_code: e.reason,
            kernel_stack: self.sym.is_some().then_some(&self.frames[..]),
        })
    }
}

impl Events for Tcpdrop {
    type Args = Args;
    type Skel = TcpdropSkelBuilder;
    type Event = Event;
    type Row<'a> = Drop<'a>;
    const SHORTS: &'static [(&'static str, char)] = SHORTS;

    fn configure(a: Args, open: &mut OpenTcpdropSkel<'_>, _: &mut Session) -> Result<Self> {
        a.refused.refuse_with(
            "tcpdrop",
            "packets are dropped in softirq, in whichever task was on the CPU",
            "leave the task filters out; the rows' addresses and ports name the connection",
        )?;
        let reasons = Reasons::load(a.run.btf.as_deref())?;
        let ro = open.rodata()?;
        ro.max_ignored = reasons.max_ignored();
        ro.targ_family = a.family.af();
        ro.stacks_on = u8::from(a.stack);
        let sym = a.stack.then(|| {
            let mut s = StackSymbolizer::new();
            s.warm_kernel();
            s
        });
        Ok(Tcpdrop {
            reasons,
            sym,
            addrs: Vec::with_capacity(tcpdrop_consts::TCPDROP_STACK_DEPTH.0 as usize),
            frames: Vec::new(),
            unnamed: String::new(),
        })
    }

    fn event(&mut self, e: &Event, payload: &[u8], out: &mut Output) -> Result<()> {
        self.prepare(e, payload);
        let Some(r) = self.row(e, out) else {
            return Ok(());
        };
        out.row(&r, self)?;
        if let Some(frames) = r.kernel_stack {
            print_frames(out, frames)?;
            if !out.json() {
                out.raw_line("")?; // BCC: a blank line after each stack
            }
        }
        Ok(())
    }
}

/// The tool (its binary, or `corescope tcpdrop`).
pub fn main(name: &'static str) -> ExitCode {
    corescope::run::events::<Tcpdrop>(name)
}

#[cfg(test)]
mod tests;
