//! xdpdrop: drop packets at XDP by rules (or all of them), with per-rule and
//! per-action counters. Based on BCC's xdp_drop_count.py and xdp-filter.

use std::collections::BTreeMap;
use std::ops::ControlFlow::{self, Break, Continue};
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::time::Duration;

use corescope::cli::RunArgs;
use corescope::escape::escape;
use corescope::prelude::*;
use corescope::session::{Counter, Fields};
use corescope::skel::xdpdrop::types::xdpdrop_stat as St;
use corescope::skel::xdpdrop::{OpenXdpdropSkel, XdpdropSkel, XdpdropSkelBuilder};
use corescope::{Tick, UserError};
use libbpf_rs::skel::{OpenSkel, Skel};

pub mod counters;
pub mod rules;
use corescope::xdp;

use counters::{counts, Count, CounterRow};
use rules::{proto_label, proto_name, Actions, Policy, Rule, Tables};
use xdp::{XdpLink, XdpMode};

const EXAMPLES: &str = "EXAMPLES:
    xdpdrop eth0                           # drop everything; dropped pkt/s per IP protocol
    xdpdrop eth0 --drop 'udp dst-port 53'  # drop UDP to port 53, pass the rest
    xdpdrop eth0 --drop 'tcp src 10.0.0.0/8 dst-port 6000-6063' --drop 'src 2001:db8::/32'
    xdpdrop eth0 --rules deny.rules        # one rule a line, # comments
    xdpdrop eth0 --allow-only --rules allow.rules   # pass matches, drop the rest (ARP too)
    xdpdrop eth0 --drop 'udp dst-port 53' --malformed drop   # also drop what may be UDP/53
    xdpdrop eth0 -n -j -i 5 --drop udp     # dry run: count only; JSON every 5 s
    xdpdrop eth0 --mode skb --force        # generic XDP, replacing an attached program";

/// Drop packets at XDP by rules (all packets if none), with live counters.
#[derive(Parser, Debug)]
#[command(version, after_help = EXAMPLES)]
struct Args {
    /// Network interface to attach to
    iface: String,
    /// Drop packets matching RULE (repeatable; words ANDed, rules ORed), e.g. 'udp dst-port 53'
    #[arg(long, value_name = "RULE")]
    drop: Vec<String>,
    /// Read rules from FILE: one rule a line, # starts a comment
    #[arg(long, value_name = "FILE")]
    rules: Option<PathBuf>,
    #[command(flatten)]
    policy: Policy,
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

/// Counters summed over CPUs: per rule, per protocol slot (no rules: 258),
/// per action.
#[derive(Clone, Default)]
struct Snap(Vec<Count>, Vec<Count>, Actions);

/// What a row counts, in JSON: `"rule": N` (from 1), `"proto": P` or neither.
type Key = BTreeMap<&'static str, usize>;

/// Rows of one block: JSON record type, row.
type Rows = Vec<(&'static str, CounterRow<Key>)>;

struct Xdpdrop {
    a: Args,
    rules: Vec<Rule>,
    tables: Tables,
    ifindex: u32,
    link: Option<XdpLink>,
    /// The counts at the previous tick.
    prev: Snap,
    /// The program was detached under us: exit 1.
    gone: bool,
    /// Filled by the last tick, handed to the summary.
    totals: Totals,
}

impl Xdpdrop {
    /// The BPF side counts each packet once: on its rule (or its protocol
    /// without rules), or as no match, malformed or aborted.
    fn read(&self, s: &XdpdropSkel<'_>) -> Result<Snap> {
        let m = &s.maps;
        let rules = counts(&m.xd_rules, self.rules.len())?;
        let protos = counts(&m.xd_protos, 258 * usize::from(self.rules.is_empty()))?;
        let st = counts(&m.xd_stats, St::XD_ST_MAX.0 as usize)?;
        let raw = |i: St| st[i.0 as usize];
        let (miss, mal) = (raw(St::XD_ST_NOMATCH), raw(St::XD_ST_MALFORMED));
        let hit = rules.iter().chain(&protos).copied().sum();
        let acts = self
            .a
            .policy
            .actions(hit, miss, mal, raw(St::XD_ST_ABORTED));
        Ok(Snap(rules, protos, acts))
    }

    /// Rows from `prev` to `now` in `secs` (`time` None: the totals): protocols
    /// with drops (no rules), or the rules (when over 32, those hit) and actions.
    fn rows(&self, now: &Snap, prev: &Snap, secs: f64, time: Option<&str>) -> Rows {
        let row = |key, name: String, label, (c, p): (&Count, &Count)| {
            CounterRow::new(time, key, name, label, *c, *p, secs)
        };
        let mut v = Vec::new();
        let at = |v: &Vec<Count>, i: usize| v.get(i).copied().unwrap_or_default();
        for (i, c) in now.1.iter().enumerate() {
            let named = ["non-IP", "malformed"]
                .get(i.wrapping_sub(256))
                .map(|s| s.to_string());
            let key = Key::from_iter(named.is_none().then_some(("proto", i)));
            let name = named.clone().unwrap_or_else(|| proto_name(i as u8));
            let label = named.unwrap_or_else(|| proto_label(i as u8));
            let p = at(&prev.1, i);
            if c.packets > p.packets {
                v.push(("proto", row(key, name, label, (c, &p))));
            }
        }
        for (i, c) in now.0.iter().enumerate() {
            let p = at(&prev.0, i);
            if self.rules.len() <= 32 || self.a.run.json || c.packets > p.packets {
                let (t, key) = (self.rules[i].to_string(), Key::from([("rule", i + 1)]));
                v.push((
                    "rule",
                    row(key, t.clone(), format!("#{} {t}", i + 1), (c, &p)),
                ));
            }
        }
        let acts = now.2.list().into_iter().zip(prev.2.list());
        for (i, ((label, name, c), (.., p))) in acts.enumerate() {
            let shown = i <= 2 || c.packets > 0 || (name == "would_drop" && self.a.policy.dry_run);
            if shown && !self.rules.is_empty() {
                v.push((
                    "action",
                    row(Key::new(), name.into(), label.into(), (&c, &p)),
                ));
            }
        }
        v
    }

    /// At exit: the totals as table rows, and what the shared summary adds
    /// for xdpdrop: its fields (link, policy, per-rule / per-protocol /
    /// per-action totals) and the action totals as counters (the stderr
    /// line).
    fn finish(&self, now: &Snap, secs: f64, link: (&str, u32), out: &mut Output) -> Result<Totals> {
        let (mut by_rule, mut by_proto) = (Vec::new(), Vec::new());
        for (ty, c) in self.rows(now, &Snap::default(), secs, None) {
            out.total_row(&c, &())?;
            match ty {
                "rule" => by_rule.push(c),
                "proto" => by_proto.push(c),
                _ => {}
            }
        }
        let a = &self.a;
        let malformed = if a.policy.malformed_drop() {
            "drop"
        } else {
            "pass"
        };
        let fields = serde_json::json!({
            "iface": a.iface, "mode": link.0, "prog_id": link.1,
            "dry_run": a.policy.dry_run, "allow_only": a.policy.allow_only,
            "malformed": malformed,
            "rules": by_rule, "protos": by_proto, "actions": now.2,
        });
        let serde_json::Value::Object(fields) = fields else {
            anyhow::bail!("xdpdrop: the summary fields are not a JSON object");
        };
        let dry = a.policy.dry_run;
        let list = now.2.list().into_iter();
        let counters = list
            .filter(|l| l.1 != "would_drop" || dry)
            .map(|(_, n, c)| Counter::new(counter_key(n), counter_label(n), c.packets))
            .collect();
        corescope::diag!(
            "xdpdrop: detached from {} after {secs:.1}s",
            escape(a.iface.as_bytes())
        );
        Ok((counters, fields))
    }
}

/// What [`Xdpdrop::finish`] gives the summary: counters and fields.
type Totals = (Vec<Counter>, Fields);

/// The summary's counter of an action (`Actions::list`'s JSON name): not the
/// bare name, which `malformed` (the policy) already is.
fn counter_key(action: &str) -> &'static str {
    match action {
        "drop" => "drop_packets",
        "pass" => "pass_packets",
        "aborted" => "aborted_packets",
        "malformed" => "malformed_packets",
        _ => "would_drop_packets",
    }
}

/// The word after an action's count on the stderr summary line.
fn counter_label(action: &str) -> &'static str {
    match action {
        "drop" => "drop",
        "pass" => "pass",
        "aborted" => "aborted",
        "malformed" => "malformed",
        _ => "would drop",
    }
}

impl Interval for Xdpdrop {
    const SERVES_ROWS: bool = true;
    type Args = Args;
    type Skel = XdpdropSkelBuilder;
    const SHORTS: &'static [(&'static str, char)] =
        &[("json", 'j'), ("duration", 'd'), ("verbose", 'v')];

    fn configure(a: Args, open: &mut OpenXdpdropSkel<'_>, s: &mut Session) -> Result<Self> {
        let rules = rules::gather(&a.drop, a.rules.as_deref())?;
        if a.policy.allow_only && rules.is_empty() {
            let hint = "give the rules of what to pass with --drop or --rules";
            return Err(UserError::hint("--allow-only needs at least one rule", hint).into());
        }
        if a.policy.malformed.is_some() && rules.is_empty() {
            let hint = "without rules every packet is dropped; give rules with --drop or --rules";
            return Err(UserError::hint("--malformed needs at least one rule", hint).into());
        }
        a.mode.check()?; // before anything is loaded
        let ifindex = xdp::ifindex(&a.iface)?;
        let t = Tables::compile(&rules);
        t.size_maps(open.open_object_mut(), rules.len())?;
        let c = &mut open.rodata()?.xd_cfg;
        (c.nwords, c.dims, c.drop_all) = (t.nwords as u32, t.dims, u8::from(rules.is_empty()));
        (c.allow_only, c.dry_run) = (u8::from(a.policy.allow_only), u8::from(a.policy.dry_run));
        c.malformed_drop = u8::from(a.policy.malformed_drop());
        s.set_header::<CounterRow<Key>>(&());
        let (link, prev, gone, totals) = (None, Snap::default(), false, Totals::default());
        Ok(Self {
            a,
            rules,
            tables: t,
            ifindex,
            link,
            prev,
            gone,
            totals,
        })
    }

    /// Fills the rule maps, attaches to the interface.
    fn loaded(&mut self, skel: &mut XdpdropSkel<'_>, _: &mut Session) -> Result<()> {
        self.tables.fill(skel.object())?;
        let (a, fd) = (&self.a, skel.progs.xdpdrop.as_fd());
        let link = XdpLink::attach("xdpdrop", fd, &a.iface, self.ifindex, a.mode, a.force)?;
        let what = match (self.rules.len(), a.policy.allow_only) {
            (0, _) => "dropping every packet".to_string(),
            (n, false) => format!("dropping what matches {n} rule(s)"),
            (n, true) => format!("passing only what matches {n} rule(s)"),
        };
        let dry = [" (dry run: nothing is dropped)", ""][usize::from(!a.policy.dry_run)];
        let (iface, mode, id) = (escape(a.iface.as_bytes()), link.mode.name(), link.prog_id);
        corescope::diag!(
            "xdpdrop: attached to {iface} ({mode} mode, prog id {id}), {what}{dry}; Ctrl-C to stop"
        );
        self.link = Some(link);
        Ok(())
    }

    fn period(&self) -> Duration {
        Duration::from_secs(self.a.interval)
    }

    fn tick(
        &mut self,
        skel: &XdpdropSkel<'_>,
        tick: &Tick,
        out: &mut Output,
    ) -> Result<ControlFlow<()>> {
        let info = self.link.as_ref().map(|l| (l.mode.name(), l.prog_id));
        if tick.last {
            drop(self.link.take()); // detach, then read the final counts
        } else if !self.link.as_ref().is_some_and(XdpLink::attached) {
            let why = "by another tool's --force, or the interface is gone";
            corescope::diag!("xdpdrop: error: the XDP program was detached ({why})");
            self.gone = true;
            return Ok(Break(()));
        }
        let now = self.read(skel)?;
        let hms = out.clock.hms_now();
        for (ty, r) in self.rows(&now, &self.prev, tick.since_last.as_secs_f64(), Some(&hms)) {
            if let Some(p) = &out.prom {
                let l = [("kind", ty), ("name", r.name.as_str())];
                p.total(
                    "packets",
                    "Packets counted (by rule, protocol or action)",
                    &l,
                    r.total.packets,
                );
                p.total("bytes", "Bytes of the packets counted", &l, r.total.bytes);
            }
            out.row_as(ty, &r, &())?;
        }
        if tick.last {
            let info = info.unwrap_or(("none", 0));
            self.totals = self.finish(&now, tick.elapsed.as_secs_f64(), info, out)?;
        }
        self.prev = now;
        Ok(Continue(()))
    }

    fn summary(&mut self, _: &libbpf_rs::Object) -> Totals {
        std::mem::take(&mut self.totals)
    }

    fn exit_code(&self, code: ExitCode) -> ExitCode {
        if self.gone {
            ExitCode::FAILURE
        } else {
            code
        }
    }
}

/// The tool (its binary, or `corescope xdpdrop`).
pub fn main(name: &'static str) -> ExitCode {
    corescope::run::interval::<Xdpdrop>(name)
}

#[cfg(test)]
mod tests;
