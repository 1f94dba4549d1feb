//! xdpdrop: drop packets at XDP by rules (or all of them), with per-rule and
//! per-action counters. Based on BCC's xdp_drop_count.py and xdp-filter.

use std::collections::BTreeMap;
use std::ops::ControlFlow::{Break, Continue};
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use corescope::cli::RunArgs;
use corescope::counters::{self, counts, Count, CounterRow};
use corescope::net::{self, XdpLink, XdpMode};
use corescope::output::Output;
use corescope::prelude::*;
use corescope::rules::{self, Rule, Tables};
use corescope::skel::xdpdrop::types::xdpdrop_stat as St;
use corescope::skel::xdpdrop::{XdpdropSkel, XdpdropSkelBuilder};
use corescope::UserError;
use libbpf_rs::skel::{OpenSkel, Skel};

const SHORTS: &[(&str, char)] = &[("json", 'j'), ("duration", 'd'), ("verbose", 'v')];

const EXAMPLES: &str = "EXAMPLES:
    xdpdrop eth0                           # drop everything; dropped pkt/s per IP protocol
    xdpdrop eth0 --drop 'udp dst-port 53'  # drop UDP to port 53, pass the rest
    xdpdrop eth0 --drop 'src 192.0.2.0/24' --drop 'src 2001:db8::/32'
    xdpdrop eth0 --drop 'tcp dst-port 6000-6063 src-mac 02:00:00:00:00:01'
    xdpdrop eth0 --rules deny.rules        # one rule a line, # comments
    xdpdrop eth0 --allow-only --rules allow.rules   # pass matches, drop the rest (ARP too)
    xdpdrop eth0 -n --drop udp             # dry run: count what would be dropped
    xdpdrop eth0 -j -i 5 -d 60 --drop icmp # JSON records every 5 s, for a minute
    xdpdrop eth0 --mode skb --force        # generic XDP, replacing an attached program";

/// Drop packets at XDP by rules (all packets if none), with live counters.
#[derive(Parser, Debug)]
#[command(name = "xdpdrop", version, after_help = EXAMPLES)]
struct Args {
    /// Network interface to attach to
    iface: String,
    /// Drop packets matching RULE (repeatable; words ANDed, rules ORed), e.g. 'udp dst-port 53'
    #[arg(long, value_name = "RULE")]
    drop: Vec<String>,
    /// Read rules from FILE: one rule a line, # starts a comment
    #[arg(long, value_name = "FILE")]
    rules: Option<PathBuf>,
    /// Invert the rules: pass packets matching one, drop all others
    #[arg(long)]
    allow_only: bool,
    /// Count what would be dropped, but pass everything
    #[arg(short = 'n', long)]
    dry_run: bool,
    /// XDP mode
    #[arg(short = 'm', long, value_enum, default_value_t)]
    mode: XdpMode,
    /// Replace an XDP program already attached to IFACE (it is not restored)
    #[arg(short = 'f', long)]
    force: bool,
    /// Print the counters every SECS seconds
    #[arg(short = 'i', long, value_name = "SECS", default_value_t = 1,
          value_parser = clap::value_parser!(u64).range(1..))]
    interval: u64,
    #[command(flatten)]
    run: RunArgs,
}

/// Action counters (enum xdpdrop_stat): index, table label, JSON name.
const ACTIONS: [(St, &str, &str); 5] = [
    (St::XD_ST_DROP, "DROP", "drop"),
    (St::XD_ST_PASS, "PASS", "pass"),
    (St::XD_ST_ABORTED, "ABORTED", "aborted"),
    (St::XD_ST_MALFORMED, "PASS (malformed)", "malformed"),
    (St::XD_ST_WOULD_DROP, "PASS (dry run)", "would_drop"),
];

/// Counters summed over CPUs: per rule, per action, per protocol slot.
type Snap = Vec<Vec<Count>>;

/// Rows of one block: JSON record type, row.
type Rows = Vec<(&'static str, CounterRow<Key>)>;

/// What a row counts, in JSON: `"rule": N` (from 1), `"proto": P` or neither.
type Key = BTreeMap<&'static str, usize>;

struct Tool {
    a: Args,
    rules: Vec<Rule>,
}

impl Tool {
    fn zero(&self) -> Snap {
        let protos = if self.rules.is_empty() { 258 } else { 0 };
        [self.rules.len(), ACTIONS.len(), protos]
            .map(|n| vec![Count::default(); n])
            .into()
    }

    fn read(&self, s: &XdpdropSkel<'_>) -> Result<Snap> {
        let maps = [&s.maps.xd_rules, &s.maps.xd_stats, &s.maps.xd_protos];
        maps.iter()
            .zip(self.zero())
            .map(|(m, z)| counts(*m, z.len()))
            .collect()
    }

    /// Rows from `prev` to `now` in `secs` (`time` None: the totals): protocols
    /// with drops (no rules), or the rules (when over 32, those hit) and actions.
    fn rows(&self, now: &Snap, prev: &Snap, secs: f64, time: Option<&str>) -> Rows {
        let row = |key, name: String, label, (c, p): (&Count, &Count)| {
            CounterRow::new(time, key, name, label, *c, *p, secs)
        };
        let mut v = Vec::new();
        for (i, cp) in now[2].iter().zip(&prev[2]).enumerate() {
            let (name, label) = match i {
                256.. => (["non-IP", "malformed"][i - 256].to_string(), None),
                p => (
                    rules::proto_name(p as u8).map_or(p.to_string(), String::from),
                    Some(p),
                ),
            };
            let key = Key::from_iter(label.map(|p| ("proto", p)));
            let label = label.map_or(name.clone(), |p| rules::proto_label(p as u8));
            if cp.0.packets > cp.1.packets {
                v.push(("proto", row(key, name, label, cp)));
            }
        }
        for (i, cp) in now[0].iter().zip(&prev[0]).enumerate() {
            if self.rules.len() <= 32 || self.a.run.json || cp.0.packets > cp.1.packets {
                let (text, key) = (self.rules[i].to_string(), Key::from([("rule", i + 1)]));
                v.push((
                    "rule",
                    row(key, text.clone(), format!("#{} {text}", i + 1), cp),
                ));
            }
        }
        for (st, label, name) in ACTIONS.iter().filter(|_| !self.rules.is_empty()) {
            let cp = (&now[1][st.0 as usize], &prev[1][st.0 as usize]);
            if st.0 <= 2 || (*st == St::XD_ST_WOULD_DROP && self.a.dry_run) || cp.0.packets > 0 {
                v.push((
                    "action",
                    row(Key::new(), name.to_string(), label.to_string(), cp),
                ));
            }
        }
        v
    }

    /// At exit: the totals (table rows, JSON summary) and one line on stderr.
    fn finish(&self, now: &Snap, secs: f64, link: (&str, u32), out: &mut Output) -> Result<()> {
        let (mut by_rule, mut by_proto) = (Vec::new(), Vec::new());
        for (ty, c) in self.rows(now, &self.zero(), secs, None) {
            if !out.json() {
                out.row_as(ty, &c)?;
            }
            match ty {
                "rule" => by_rule.push(c),
                "proto" => by_proto.push(c),
                _ => {}
            }
        }
        let n = |i: St| now[1][i.0 as usize];
        let actions: BTreeMap<_, _> = ACTIONS.iter().map(|(i, _, name)| (*name, n(*i))).collect();
        let a = &self.a;
        let s = serde_json::json!({
            "iface": a.iface, "mode": link.0, "prog_id": link.1, "duration_s": secs,
            "dry_run": a.dry_run, "allow_only": a.allow_only,
            "rules": by_rule, "protos": by_proto, "actions": actions,
        });
        out.record("summary", &s)?;
        out.flush()?;
        let dry = format!(", {} would drop", n(St::XD_ST_WOULD_DROP).packets);
        eprintln!(
            "xdpdrop: detached from {} after {secs:.1}s: {} dropped, {} passed ({} malformed{}), {} aborted",
            a.iface, n(St::XD_ST_DROP).packets, n(St::XD_ST_PASS).packets,
            n(St::XD_ST_MALFORMED).packets, if a.dry_run { &dry } else { "" }, n(St::XD_ST_ABORTED).packets
        );
        Ok(())
    }
}

fn main() -> ExitCode {
    corescope::main(|| {
        let a: Args = parse(SHORTS);
        let rules = rules::gather(&a.drop, a.rules.as_deref())?;
        if a.allow_only && rules.is_empty() {
            let hint = "give the rules of what to pass with --drop or --rules";
            return Err(UserError::hint("--allow-only needs at least one rule", hint).into());
        }
        if a.mode == XdpMode::Offload {
            return Err(net::offload_error().into());
        }
        let ifindex = net::ifindex(&a.iface)?;
        let mut session = Session::without_filters("xdpdrop", &a.run, counters::columns())?;
        session.defer_header(); // printed once attached
        let mut storage = MaybeUninit::uninit();
        let mut open = session.open(&mut storage, XdpdropSkelBuilder::default())?;
        let t = Tables::compile(&rules);
        open.maps.events.set_max_entries(4096)?; // xdpdrop sends no events
        t.size_maps(open.open_object_mut(), rules.len())?;
        let ro = open.maps.rodata_data.as_deref_mut().context("no .rodata")?;
        let c = &mut ro.xd_cfg;
        (c.nwords, c.dims, c.drop_all) = (t.nwords as u32, t.dims, u8::from(rules.is_empty()));
        (c.allow_only, c.dry_run) = (u8::from(a.allow_only), u8::from(a.dry_run));
        let skel = session.load(open)?;
        t.fill(skel.object())?;
        let fd = skel.progs.xdpdrop.as_fd();
        let link = XdpLink::attach("xdpdrop", fd, &a.iface, ifindex, a.mode, a.force)?;
        let info = (link.mode.name(), link.prog_id);
        let what = match (rules.len(), a.allow_only) {
            (0, _) => "dropping every packet".to_string(),
            (n, false) => format!("dropping packets that match {n} rule(s)"),
            (n, true) => format!("passing only packets that match {n} rule(s)"),
        };
        let dry = [" (dry run: nothing is dropped)", ""][usize::from(!a.dry_run)];
        let (iface, mode, id) = (&a.iface, info.0, info.1);
        eprintln!(
            "xdpdrop: attached to {iface} ({mode} mode, prog id {id}), {what}{dry}; Ctrl-C to stop"
        );
        let interval = Duration::from_secs(a.interval);
        let tool = Tool { a, rules };
        let (mut link, mut gone, mut prev) = (Some(link), false, tool.zero());
        let code = session.every(interval, |tick, out| {
            if tick.last {
                drop(link.take()); // detach, then read the final counts
            } else if !link.as_ref().is_some_and(XdpLink::attached) {
                let why = "by another tool's --force, or the interface is gone";
                eprintln!("xdpdrop: error: the XDP program was detached ({why})");
                gone = true;
                return Ok(Break(()));
            }
            let now = tool.read(&skel)?;
            let hms = out.clock.hms_now();
            for (ty, r) in tool.rows(&now, &prev, tick.since_last.as_secs_f64(), Some(&hms)) {
                out.row_as(ty, &r)?;
            }
            if tick.last {
                tool.finish(&now, tick.elapsed.as_secs_f64(), info, out)?;
            }
            prev = now;
            Ok(Continue(()))
        })?;
        Ok(if gone { ExitCode::FAILURE } else { code })
    })
}

#[cfg(test)]
#[path = "xdpdrop/tests.rs"]
mod tests;
