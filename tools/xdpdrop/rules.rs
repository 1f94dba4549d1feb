//! Packet rules: the rule language (`udp dst-port 53`, `src 10.0.0.0/8`, …)
//! and its compilation into the per-dimension bitmaps a BPF matcher ANDs
//! together (see src/bpf/xdpdrop.h).
//!
//! A rule is a list of conditions, all of which must hold (AND); a packet
//! matches a list of rules if it matches any of them (OR), and is credited
//! to the first one it matches. Grammar (one rule; words in any order):
//!
//! ```text
//! tcp | udp | icmp | icmpv6 | … | proto NAME|0-255
//! src ADDR[/LEN]        dst ADDR[/LEN]         (IPv4 or IPv6, CIDR)
//! src-port P[-P]        dst-port P[-P]         (also sport / dport)
//! src-mac XX:XX:XX:XX:XX:XX
//! ```

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::net::IpAddr;

use anyhow::{anyhow, Context, Result};
use libbpf_rs::{Map, MapCore, MapFlags, Object, OpenObject};
use serde::Serialize;

use corescope::error::UserError;
use corescope::escape::escape;

use super::counters::Count;

/// Most rules in one set (one bit each in the matcher's bitmaps).
pub const MAX_RULES: usize = 1024;
/// 64-bit words of a full bitmap.
pub const WORDS: usize = MAX_RULES / 64;

/// Dimension bits of [`Tables::dims`] (same values as `enum xdpdrop_dim`).
pub mod dim {
    pub const PROTO: u32 = 1 << 0;
    pub const SRC: u32 = 1 << 1;
    pub const DST: u32 = 1 << 2;
    pub const SPORT: u32 = 1 << 3;
    pub const DPORT: u32 = 1 << 4;
    pub const MAC: u32 = 1 << 5;
    pub const SRC4: u32 = 1 << 6;
    pub const SRC6: u32 = 1 << 7;
    pub const DST4: u32 = 1 << 8;
    pub const DST6: u32 = 1 << 9;
}

const PROTOS: &[(&str, u8)] = &[
    ("icmp", 1),
    ("igmp", 2),
    ("tcp", 6),
    ("udp", 17),
    ("gre", 47),
    ("esp", 50),
    ("ah", 51),
    ("icmpv6", 58),
    ("sctp", 132),
    ("udplite", 136),
];

const GRAMMAR: &str = "a rule is words ANDed together: [tcp|udp|icmp|icmpv6|proto N] \
                       [src CIDR] [dst CIDR] [src-port P[-P]] [dst-port P[-P]] [src-mac MAC], \
                       e.g. 'udp dst-port 53' or 'src 10.0.0.0/8 tcp dst-port 1024-2047'";

fn known_proto(p: u8) -> Option<&'static str> {
    PROTOS.iter().find(|(_, n)| *n == p).map(|(s, _)| *s)
}

/// Name of IP protocol `p` (`udp`), or its number if it has no name here.
pub fn proto_name(p: u8) -> String {
    known_proto(p).map_or(p.to_string(), str::to_string)
}

/// `17 udp` (number and name), or just the number.
pub fn proto_label(p: u8) -> String {
    known_proto(p).map_or(p.to_string(), |n| format!("{p} {n}"))
}

/// An IPv4 or IPv6 prefix; host bits are cleared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr {
    pub addr: IpAddr,
    pub len: u8,
}

impl Cidr {
    pub fn parse(s: &str) -> Result<Self, String> {
        let (a, l) = match s.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (s, None),
        };
        let addr: IpAddr = a
            .parse()
            .map_err(|_| format!("bad address '{s}': '{a}' is not an IPv4 or IPv6 address"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let len = match l {
            None => max,
            Some(l) => match l.parse::<u8>() {
                Ok(n) if n <= max => n,
                _ => {
                    return Err(format!(
                        "bad address '{s}': prefix length '{l}' is not 0-{max}"
                    ))
                }
            },
        };
        Ok(Self::new(addr, len))
    }

    fn new(addr: IpAddr, len: u8) -> Self {
        let addr = match addr {
            IpAddr::V4(a) => IpAddr::from(mask(&a.octets(), len)),
            IpAddr::V6(a) => IpAddr::from(mask(&a.octets(), len)),
        };
        Self { addr, len }
    }

    pub fn bytes(&self) -> Vec<u8> {
        match self.addr {
            IpAddr::V4(a) => a.octets().to_vec(),
            IpAddr::V6(a) => a.octets().to_vec(),
        }
    }

    /// True if every address of `other` is in `self`.
    pub fn covers(&self, other: &Cidr) -> bool {
        self.addr.is_ipv4() == other.addr.is_ipv4()
            && self.len <= other.len
            && Cidr::new(other.addr, self.len).addr == self.addr
    }
}

fn mask<const N: usize>(b: &[u8; N], len: u8) -> [u8; N] {
    let mut out = *b;
    for (i, byte) in out.iter_mut().enumerate() {
        let keep = (len as usize).saturating_sub(i * 8).min(8);
        *byte &= !(0xffu16 >> keep) as u8;
    }
    out
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

/// One rule; `None` means "any".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rule {
    pub proto: Option<u8>,
    pub src: Option<Cidr>,
    pub dst: Option<Cidr>,
    pub sport: Option<(u16, u16)>,
    pub dport: Option<(u16, u16)>,
    pub src_mac: Option<[u8; 6]>,
}

/// A rule error: a message and a hint naming the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    pub msg: String,
    pub hint: String,
}

fn err(msg: impl Into<String>, hint: impl Into<String>) -> RuleError {
    RuleError {
        msg: msg.into(),
        hint: hint.into(),
    }
}

fn parse_proto(s: &str) -> Result<u8, RuleError> {
    if let Some(&(_, n)) = PROTOS.iter().find(|(n, _)| n.eq_ignore_ascii_case(s)) {
        return Ok(n);
    }
    if s.eq_ignore_ascii_case("ipv6-icmp") {
        return Ok(58);
    }
    let names: Vec<&str> = PROTOS.iter().map(|(n, _)| *n).collect();
    let hint = format!(
        "protocols are {}, or proto N with N a number 0-255",
        names.join(", ")
    );
    match s.parse::<u64>() {
        Ok(n) if n <= 255 => Ok(n as u8),
        Ok(n) => Err(err(
            format!("protocol number {n} is out of range (0-255)"),
            hint,
        )),
        Err(_) => Err(err(format!("unknown protocol '{s}'"), hint)),
    }
}

fn parse_ports(s: &str) -> Result<(u16, u16), RuleError> {
    let hint = "a port is 0-65535, a range LOW-HIGH, e.g. dst-port 53 or dst-port 1024-2047";
    let one = |p: &str| match p.parse::<u64>() {
        Ok(n) if n <= 65535 => Ok(n as u16),
        Ok(n) => Err(err(format!("port {n} is out of range (0-65535)"), hint)),
        Err(_) => Err(err(format!("bad port '{p}'"), hint)),
    };
    let (lo, hi) = match s.split_once('-') {
        Some((a, b)) => (one(a)?, one(b)?),
        None => (one(s)?, one(s)?),
    };
    if lo > hi {
        return Err(err(format!("port range {lo}-{hi} is reversed"), hint));
    }
    Ok((lo, hi))
}

fn parse_mac(s: &str) -> Result<[u8; 6], RuleError> {
    let parts: Vec<&str> = s.split([':', '-']).collect();
    let mut m = [0u8; 6];
    let ok = parts.len() == 6
        && parts
            .iter()
            .zip(m.iter_mut())
            .all(|(p, b)| p.len() == 2 && u8::from_str_radix(p, 16).map(|v| *b = v).is_ok());
    if ok {
        Ok(m)
    } else {
        Err(err(
            format!("bad MAC address '{s}'"),
            "a MAC address is six hex bytes: 02:00:00:aa:bb:cc",
        ))
    }
}

fn set_once<T>(slot: &mut Option<T>, v: T, what: &str) -> Result<(), RuleError> {
    if slot.is_some() {
        return Err(err(
            format!("{what} given twice in one rule"),
            "conditions on one rule are ANDed; to OR them write two rules",
        ));
    }
    *slot = Some(v);
    Ok(())
}

impl Rule {
    /// Parses one rule (the words of one line, or of one --drop value).
    pub fn parse(s: &str) -> Result<Self, RuleError> {
        let mut r = Rule::default();
        let mut words = s.split_whitespace();
        while let Some(w) = words.next() {
            let key = w.to_ascii_lowercase();
            let mut value = |what: &str| {
                words
                    .next()
                    .ok_or_else(|| err(format!("'{what}' needs a value"), GRAMMAR.to_string()))
            };
            match key.as_str() {
                "proto" => set_once(&mut r.proto, parse_proto(value("proto")?)?, "a protocol")?,
                "src" | "dst" => {
                    let c = Cidr::parse(value(&key)?).map_err(|m| {
                        err(m, "an address is IPv4 or IPv6, optionally /LEN: 10.0.0.0/8, 192.0.2.7, 2001:db8::/32")
                    })?;
                    let slot = if key == "src" { &mut r.src } else { &mut r.dst };
                    set_once(slot, c, &key)?;
                }
                "src-port" | "sport" => set_once(&mut r.sport, parse_ports(value(&key)?)?, "src-port")?,
                "dst-port" | "dport" => set_once(&mut r.dport, parse_ports(value(&key)?)?, "dst-port")?,
                "src-mac" => set_once(&mut r.src_mac, parse_mac(value(&key)?)?, "src-mac")?,
                _ if key.bytes().all(|b| b.is_ascii_digit()) => {
                    return Err(err(
                        format!("bare number '{w}'"),
                        "write 'proto N' for a protocol number, or 'dst-port N' / 'src-port N' for a port",
                    ))
                }
                _ => match parse_proto(&key) {
                    Ok(p) => set_once(&mut r.proto, p, "a protocol")?,
                    Err(_) => {
                        let names: Vec<&str> = PROTOS.iter().map(|(n, _)| *n).collect();
                        let hint = format!("protocols are {}; {GRAMMAR}", names.join(", "));
                        return Err(err(format!("unknown protocol or keyword '{w}'"), hint));
                    }
                },
            }
        }
        r.check()?;
        Ok(r)
    }

    fn check(&self) -> Result<(), RuleError> {
        if *self == Rule::default() {
            return Err(err("empty rule", GRAMMAR));
        }
        if self.sport.is_some() || self.dport.is_some() {
            if let Some(p) = self.proto.filter(|p| *p != 6 && *p != 17) {
                return Err(err(
                    format!("ports need tcp or udp, not {}", ProtoName(p)),
                    "drop the port, or use tcp / udp (no protocol means both)",
                ));
            }
        }
        let fam: Vec<bool> = [self.src, self.dst]
            .iter()
            .flatten()
            .map(|c| c.addr.is_ipv4())
            .collect();
        if fam.len() == 2 && fam[0] != fam[1] {
            return Err(err(
                "the rule mixes IPv4 and IPv6 addresses",
                "write one rule per address family",
            ));
        }
        let v4 = fam.first().copied();
        match (self.proto, v4) {
            (Some(1), Some(false)) => Err(err(
                "icmp is IPv4-only but the rule has an IPv6 address",
                "use icmpv6",
            )),
            (Some(58), Some(true)) => Err(err(
                "icmpv6 is IPv6-only but the rule has an IPv4 address",
                "use icmp",
            )),
            _ => Ok(()),
        }
    }

    fn has_ports(&self) -> bool {
        self.sport.is_some() || self.dport.is_some()
    }

    /// Whether the rule accepts IP protocol `p` (ports imply tcp or udp).
    fn allows_proto(&self, p: u8) -> bool {
        match self.proto {
            Some(x) => x == p,
            None => !self.has_ports() || p == 6 || p == 17,
        }
    }
}

struct ProtoName(u8);

impl fmt::Display for ProtoName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match known_proto(self.0) {
            Some(n) => f.write_str(n),
            None => write!(f, "proto {}", self.0),
        }
    }
}

/// Canonical form: `udp src 10.0.0.0/8 dst-port 53`.
impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(p) = self.proto {
            parts.push(ProtoName(p).to_string());
        }
        let ports = |(a, b): (u16, u16)| {
            if a == b {
                a.to_string()
            } else {
                format!("{a}-{b}")
            }
        };
        if let Some(c) = self.src {
            parts.push(format!("src {c}"));
        }
        if let Some(c) = self.dst {
            parts.push(format!("dst {c}"));
        }
        if let Some(p) = self.sport {
            parts.push(format!("src-port {}", ports(p)));
        }
        if let Some(p) = self.dport {
            parts.push(format!("dst-port {}", ports(p)));
        }
        if let Some(m) = self.src_mac {
            let hex: Vec<String> = m.iter().map(|b| format!("{b:02x}")).collect();
            parts.push(format!("src-mac {}", hex.join(":")));
        }
        f.write_str(&parts.join(" "))
    }
}

/// Parses a `--drop` value. The error echoes the user's text escaped (a
/// rule from a script or a file must not write terminal controls).
pub fn parse_arg(s: &str) -> Result<Rule, UserError> {
    Rule::parse(s).map_err(|e| {
        let msg = format!("--drop '{s}': {}", e.msg);
        UserError::hint(escape(msg.as_bytes()), e.hint)
    })
}

/// Parses a rules file: one rule a line, `#` to the end of a line is a
/// comment, blank lines are skipped. Errors are `NAME:LINE: …` (escaped).
/// A file without a rule is an error: no rules means "drop everything",
/// which an emptied or commented-out file must not turn into.
pub fn parse_file(path: &std::path::Path, text: &str) -> Result<Vec<Rule>, UserError> {
    use std::os::unix::ffi::OsStrExt as _;
    let name = escape(path.as_os_str().as_bytes());
    let mut rules = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("");
        if line.trim().is_empty() {
            continue;
        }
        let r = Rule::parse(line).map_err(|e| {
            let msg = escape(e.msg.as_bytes());
            UserError::hint(format!("{name}:{}: {msg}", i + 1), e.hint)
        })?;
        rules.push(r);
    }
    if rules.is_empty() {
        return Err(UserError::hint(
            format!("--rules {name}: the file has no rule (only blank lines or comments)"),
            "add rules, one a line; to drop every packet, run without --rules and --drop",
        ));
    }
    Ok(rules)
}

/// The rules of a command line: each `--drop` value, then the lines of the
/// rules file if any; at most [`MAX_RULES`].
pub fn gather(args: &[String], file: Option<&std::path::Path>) -> Result<Vec<Rule>> {
    let mut v = args
        .iter()
        .map(|s| parse_arg(s))
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(p) = file {
        use std::os::unix::ffi::OsStrExt as _;
        let name = escape(p.as_os_str().as_bytes());
        let text = std::fs::read_to_string(p).map_err(|e| {
            UserError::hint(format!("--rules {name}: {e}"), "check the file's path")
        })?;
        v.extend(parse_file(p, &text)?);
    }
    check_count(v.len())?;
    Ok(v)
}

/// Fails if there are more rules than the matcher holds.
pub fn check_count(n: usize) -> Result<(), UserError> {
    if n > MAX_RULES {
        return Err(UserError::hint(
            format!("too many rules: {n} (at most {MAX_RULES})"),
            "merge rules with CIDR prefixes and port ranges",
        ));
    }
    Ok(())
}

/// What is done with the packets that match: dropped (the default), or
/// passed with everything else dropped (`allow_only`); with `dry_run`,
/// nothing is dropped, what would have been is counted. Also the options.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::Args)]
pub struct Policy {
    /// Invert the rules: pass packets matching one, drop all others
    #[arg(long)]
    pub allow_only: bool,
    /// Count what would be dropped, but pass everything
    #[arg(short = 'n', long)]
    pub dry_run: bool,
    /// Packets the rules cannot decide (a field they test was not parsed:
    /// cut or too many headers): pass or drop them [default: drop with
    /// --allow-only, else pass]
    #[arg(long, value_enum, value_name = "ACTION")]
    pub malformed: Option<Malformed>,
}

/// `--malformed`: the verdict on undecided packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Malformed {
    Pass,
    Drop,
}

/// Per-action totals (`malformed` is a part of `drop` or of `pass`, as
/// `--malformed` says; `would_drop` is a part of `pass`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Actions {
    pub drop: Count,
    pub pass: Count,
    pub aborted: Count,
    pub malformed: Count,
    pub would_drop: Count,
    /// Whether the `malformed` packets were dropped (for the labels).
    #[serde(skip)]
    pub malformed_drop: bool,
}

impl Policy {
    /// Whether undecided packets are dropped: `--malformed`, by default
    /// only under `--allow-only` (fail closed where a miss means drop).
    pub fn malformed_drop(&self) -> bool {
        self.malformed
            .map_or(self.allow_only, |m| m == Malformed::Drop)
    }

    /// The per-action totals, from what the matcher counted: packets that
    /// matched a rule (`hit`), matched none (`miss`), were undecided
    /// (`--malformed`), or aborted.
    pub fn actions(&self, hit: Count, miss: Count, malformed: Count, aborted: Count) -> Actions {
        let (mut drop, mut keep) = if self.allow_only {
            (miss, hit)
        } else {
            (hit, miss)
        };
        if self.malformed_drop() {
            drop = drop + malformed;
        } else {
            keep = keep + malformed;
        }
        let mut a = Actions {
            drop,
            pass: keep,
            aborted,
            malformed,
            would_drop: Count::default(),
            // a dry run passes them (counted in would_drop if dropped)
            malformed_drop: self.malformed_drop() && !self.dry_run,
        };
        if self.dry_run {
            (a.pass, a.would_drop, a.drop) = (a.pass + drop, drop, Count::default());
        }
        a
    }
}

impl Actions {
    /// (table label, JSON name, count), in display order.
    pub fn list(&self) -> [(&'static str, &'static str, Count); 5] {
        let mal = ["PASS (malformed)", "DROP (malformed)"][usize::from(self.malformed_drop)];
        [
            ("DROP", "drop", self.drop),
            ("PASS", "pass", self.pass),
            ("ABORTED", "aborted", self.aborted),
            (mal, "malformed", self.malformed),
            ("PASS (dry run)", "would_drop", self.would_drop),
        ]
    }
}

/// A bitmap of rules, `nwords` long.
pub type Bits = Vec<u64>;

/// One port dimension: bitmaps per class (class 0: packets without ports,
/// and ports no rule names) and the ports whose class is not 0.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PortTable {
    pub classes: Vec<Bits>,
    pub ports: Vec<(u16, u32)>,
}

/// Everything the BPF matcher needs, computed from a rule list.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Tables {
    pub nwords: usize,
    /// [`dim`] bits in use.
    pub dims: u32,
    /// Per IP protocol 0..=255 (empty when `dim::PROTO` is not in use).
    pub proto: Vec<Bits>,
    /// Rules without a constraint on: source address, destination address,
    /// source MAC, IP protocol (ports imply one); and rules that can match
    /// a non-IP frame.
    pub wild_src: Bits,
    pub wild_dst: Bits,
    pub wild_mac: Bits,
    pub wild_proto: Bits,
    pub nonip: Bits,
    /// LPM trie entries: (prefix, bitmap); a /0 entry is always included.
    pub src4: Vec<(Cidr, Bits)>,
    pub dst4: Vec<(Cidr, Bits)>,
    pub src6: Vec<(Cidr, Bits)>,
    pub dst6: Vec<(Cidr, Bits)>,
    pub sport: PortTable,
    pub dport: PortTable,
    pub macs: Vec<([u8; 6], Bits)>,
}

fn bits_of(rules: &[Rule], nwords: usize, pred: impl Fn(&Rule) -> bool) -> Bits {
    let mut b = vec![0u64; nwords];
    for (i, r) in rules.iter().enumerate() {
        if pred(r) {
            b[i / 64] |= 1 << (i % 64);
        }
    }
    b
}

fn lpm(
    rules: &[Rule],
    nw: usize,
    wild: &Bits,
    v4: bool,
    get: fn(&Rule) -> Option<Cidr>,
) -> Vec<(Cidr, Bits)> {
    let zero = Cidr::new(
        if v4 {
            IpAddr::from([0u8; 4])
        } else {
            IpAddr::from([0u8; 16])
        },
        0,
    );
    let mut prefixes: Vec<Cidr> = rules
        .iter()
        .filter_map(get)
        .filter(|c| c.addr.is_ipv4() == v4)
        .collect();
    if prefixes.is_empty() {
        return Vec::new();
    }
    prefixes.push(zero);
    prefixes.sort_by_key(|c| (c.len, c.bytes()));
    prefixes.dedup();
    prefixes
        .into_iter()
        .map(|p| {
            let mine = bits_of(rules, nw, |r| get(r).is_some_and(|q| q.covers(&p)));
            (p, mine.iter().zip(wild).map(|(a, b)| a | b).collect())
        })
        .collect()
}

fn ports(rules: &[Rule], nw: usize, get: fn(&Rule) -> Option<(u16, u16)>) -> PortTable {
    let wild = bits_of(rules, nw, |r| get(r).is_none());
    let mut cuts: BTreeSet<u32> = [0, 65536].into();
    for (lo, hi) in rules.iter().filter_map(get) {
        cuts.insert(lo as u32);
        cuts.insert(hi as u32 + 1);
    }
    let mut t = PortTable {
        classes: vec![wild.clone()],
        ports: Vec::new(),
    };
    let mut index: HashMap<Bits, u32> = HashMap::from([(wild, 0)]);
    let cuts: Vec<u32> = cuts.into_iter().collect();
    for seg in cuts.windows(2) {
        let (a, b) = (seg[0], seg[1]);
        let bits = bits_of(rules, nw, |r| match get(r) {
            Some((lo, hi)) => lo as u32 <= a && a <= hi as u32,
            None => true,
        });
        let next = t.classes.len() as u32;
        let cls = *index.entry(bits.clone()).or_insert_with(|| {
            t.classes.push(bits);
            next
        });
        if cls != 0 {
            t.ports.extend((a..b).map(|p| (p as u16, cls)));
        }
    }
    t
}

impl Tables {
    /// Compiles `rules` (at most [`MAX_RULES`]; none means no matching).
    pub fn compile(rules: &[Rule]) -> Self {
        let nw = rules.len().div_ceil(64).max(1);
        let any = |f: fn(&Rule) -> bool| rules.iter().any(f);
        let mut dims = 0;
        for (on, d) in [
            (any(|r| r.proto.is_some() || r.has_ports()), dim::PROTO),
            (any(|r| r.src.is_some()), dim::SRC),
            (any(|r| r.dst.is_some()), dim::DST),
            (any(|r| r.sport.is_some()), dim::SPORT),
            (any(|r| r.dport.is_some()), dim::DPORT),
            (any(|r| r.src_mac.is_some()), dim::MAC),
            (any(|r| r.src.is_some_and(|c| c.addr.is_ipv4())), dim::SRC4),
            (any(|r| r.src.is_some_and(|c| c.addr.is_ipv6())), dim::SRC6),
            (any(|r| r.dst.is_some_and(|c| c.addr.is_ipv4())), dim::DST4),
            (any(|r| r.dst.is_some_and(|c| c.addr.is_ipv6())), dim::DST6),
        ] {
            if on {
                dims |= d;
            }
        }
        let wild_src = bits_of(rules, nw, |r| r.src.is_none());
        let wild_dst = bits_of(rules, nw, |r| r.dst.is_none());
        let mut macs: Vec<[u8; 6]> = rules.iter().filter_map(|r| r.src_mac).collect();
        macs.sort();
        macs.dedup();
        let wild_mac = bits_of(rules, nw, |r| r.src_mac.is_none());
        Tables {
            nwords: nw,
            dims,
            proto: if dims & dim::PROTO != 0 {
                (0..=255u8)
                    .map(|p| bits_of(rules, nw, |r| r.allows_proto(p)))
                    .collect()
            } else {
                Vec::new()
            },
            wild_proto: bits_of(rules, nw, |r| r.proto.is_none() && !r.has_ports()),
            nonip: bits_of(rules, nw, |r| {
                r.proto.is_none() && r.src.is_none() && r.dst.is_none() && !r.has_ports()
            }),
            src4: lpm(rules, nw, &wild_src, true, |r| r.src),
            src6: lpm(rules, nw, &wild_src, false, |r| r.src),
            dst4: lpm(rules, nw, &wild_dst, true, |r| r.dst),
            dst6: lpm(rules, nw, &wild_dst, false, |r| r.dst),
            sport: ports(rules, nw, |r| r.sport),
            dport: ports(rules, nw, |r| r.dport),
            macs: macs
                .into_iter()
                .map(|m| {
                    let b = bits_of(rules, nw, |r| r.src_mac.is_none_or(|x| x == m));
                    (m, b)
                })
                .collect(),
            wild_src,
            wild_dst,
            wild_mac,
        }
    }

    /// Which rules a packet matches, evaluated on the tables the way the BPF
    /// program does (for tests). `proto` None = not IP; ports None = none.
    pub fn eval(&self, p: &Probe) -> Vec<usize> {
        let mut m = vec![!0u64; self.nwords];
        let mut and = |b: &Bits| m.iter_mut().zip(b).for_each(|(x, y)| *x &= y);
        let addr = |t4: &[(Cidr, Bits)], t6: &[(Cidr, Bits)], a: IpAddr, wild: &Bits| -> Bits {
            let t = if a.is_ipv4() { t4 } else { t6 };
            let host = Cidr::new(a, if a.is_ipv4() { 32 } else { 128 });
            t.iter()
                .filter(|(c, _)| c.covers(&host))
                .max_by_key(|(c, _)| c.len)
                .map_or_else(|| wild.clone(), |(_, b)| b.clone())
        };
        match (p.proto, p.src, p.dst) {
            (Some(proto), Some(s), Some(d)) => {
                if self.dims & dim::PROTO != 0 {
                    and(&self.proto[proto as usize]);
                }
                if self.dims & dim::SRC != 0 {
                    and(&addr(&self.src4, &self.src6, s, &self.wild_src));
                }
                if self.dims & dim::DST != 0 {
                    and(&addr(&self.dst4, &self.dst6, d, &self.wild_dst));
                }
                for (on, t, port) in [
                    (dim::SPORT, &self.sport, p.ports.map(|x| x.0)),
                    (dim::DPORT, &self.dport, p.ports.map(|x| x.1)),
                ] {
                    if self.dims & on != 0 {
                        let cls = port
                            .and_then(|port| t.ports.iter().find(|(q, _)| *q == port))
                            .map_or(0, |(_, c)| *c);
                        and(&t.classes[cls as usize]);
                    }
                }
            }
            _ => and(&self.nonip),
        }
        if self.dims & dim::MAC != 0 {
            let b = self.macs.iter().find(|(x, _)| Some(*x) == p.mac);
            and(&b.map_or_else(|| self.wild_mac.clone(), |(_, b)| b.clone()));
        }
        (0..self.nwords * 64)
            .filter(|i| m[i / 64] & (1 << (i % 64)) != 0)
            .collect()
    }
}

/// Index of each `xd_wild` slot (same values as `enum xdpdrop_wild`).
pub mod wild {
    pub const SRC: u32 = 0;
    pub const DST: u32 = 1;
    pub const MAC: u32 = 2;
    pub const NONIP: u32 = 3;
    pub const PROTO: u32 = 4;
}

fn find_map<'a>(obj: &'a Object, name: &str) -> Result<Map<'a>> {
    obj.maps()
        .find(|m| m.name() == name)
        .ok_or_else(|| anyhow!("BPF object has no map '{name}'"))
}

/// The matcher's maps, as declared in src/bpf/xdpdrop.bpf.c (see
/// xdpdrop.h): these functions find them by name.
impl Tables {
    /// Shrinks the matcher's maps to what these tables need, before load
    /// (a port→class array stays indexed by port while a port rule exists).
    pub fn size_maps(&self, obj: &mut OpenObject, nrules: usize) -> Result<()> {
        let port = |d: u32| if self.dims & d != 0 { 65536 } else { 1 };
        let sizes = [
            ("xd_rules", nrules),
            ("xd_src4", self.src4.len()),
            ("xd_dst4", self.dst4.len()),
            ("xd_src6", self.src6.len()),
            ("xd_dst6", self.dst6.len()),
            ("xd_mac", self.macs.len()),
            ("xd_sport_class", port(dim::SPORT)),
            ("xd_dport_class", port(dim::DPORT)),
            ("xd_sport_bits", self.sport.classes.len()),
            ("xd_dport_bits", self.dport.classes.len()),
        ];
        for mut m in obj.maps_mut() {
            if let Some((_, n)) = sizes.iter().find(|(name, _)| m.name() == *name) {
                m.set_max_entries((*n).max(1) as u32)?;
            }
        }
        Ok(())
    }

    /// Writes the tables into the matcher's maps of the loaded object.
    pub fn fill(&self, obj: &Object) -> Result<()> {
        let any = MapFlags::ANY;
        let key = |i: usize| (i as u32).to_ne_bytes();
        let proto = find_map(obj, "xd_proto")?;
        for (i, b) in self.proto.iter().enumerate() {
            proto.update(&key(i), &bits_value(b), any)?;
        }
        let w = find_map(obj, "xd_wild")?;
        for (i, b) in [
            (wild::SRC, &self.wild_src),
            (wild::DST, &self.wild_dst),
            (wild::MAC, &self.wild_mac),
            (wild::NONIP, &self.nonip),
            (wild::PROTO, &self.wild_proto),
        ] {
            w.update(&key(i as usize), &bits_value(b), any)?;
        }
        for (name, entries) in [
            ("xd_src4", &self.src4),
            ("xd_dst4", &self.dst4),
            ("xd_src6", &self.src6),
            ("xd_dst6", &self.dst6),
        ] {
            let map = find_map(obj, name)?;
            for (c, b) in entries {
                map.update(&lpm_key(c), &bits_value(b), any)
                    .with_context(|| format!("adding prefix {c}"))?;
            }
        }
        for (dir, t) in [("sport", &self.sport), ("dport", &self.dport)] {
            let bits = find_map(obj, &format!("xd_{dir}_bits"))?;
            for (i, b) in t.classes.iter().enumerate() {
                bits.update(&key(i), &bits_value(b), any)?;
            }
            if !t.ports.is_empty() {
                let keys: Vec<u8> = t.ports.iter().flat_map(|(p, _)| key(*p as usize)).collect();
                let vals: Vec<u8> = t.ports.iter().flat_map(|(_, c)| c.to_ne_bytes()).collect();
                find_map(obj, &format!("xd_{dir}_class"))?
                    .update_batch(&keys, &vals, t.ports.len() as u32, any, any)
                    .context("filling the port classes")?;
            }
        }
        let mac = find_map(obj, "xd_mac")?;
        for (m, b) in &self.macs {
            let k: Vec<u8> = m.iter().copied().chain([0, 0]).collect();
            mac.update(&k, &bits_value(b), any)?;
        }
        Ok(())
    }
}

/// A packet summary for [`Tables::eval`].
#[derive(Debug, Default, Clone, Copy)]
pub struct Probe {
    pub proto: Option<u8>,
    pub src: Option<IpAddr>,
    pub dst: Option<IpAddr>,
    pub ports: Option<(u16, u16)>,
    pub mac: Option<[u8; 6]>,
}

/// A bitmap as a map value: [`WORDS`] native-endian u64s.
pub fn bits_value(b: &Bits) -> Vec<u8> {
    let mut v = vec![0u8; WORDS * 8];
    for (i, w) in b.iter().take(WORDS).enumerate() {
        v[i * 8..i * 8 + 8].copy_from_slice(&w.to_ne_bytes());
    }
    v
}

/// An LPM trie key: prefix length (u32, native endian), then the address.
pub fn lpm_key(c: &Cidr) -> Vec<u8> {
    let mut k = (c.len as u32).to_ne_bytes().to_vec();
    k.extend(c.bytes());
    k
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn r(s: &str) -> Rule {
        Rule::parse(s).unwrap_or_else(|e| panic!("{s}: {e:?}"))
    }

    fn bad(s: &str) -> RuleError {
        Rule::parse(s).unwrap_err()
    }

    #[test]
    fn valid_rules_and_canonical_text() {
        for (input, canon) in [
            ("udp dst-port 53", "udp dst-port 53"),
            ("  UDP   dport 53 ", "udp dst-port 53"),
            ("dst-port 53 udp", "udp dst-port 53"),
            (
                "tcp src 10.1.2.3/8 dst-port 1024-2047",
                "tcp src 10.0.0.0/8 dst-port 1024-2047",
            ),
            ("src 192.0.2.7", "src 192.0.2.7/32"),
            ("dst 2001:db8::1/32 icmpv6", "icmpv6 dst 2001:db8::/32"),
            ("proto 47", "gre"),
            ("proto 200", "proto 200"),
            ("proto tcp sport 0-65535", "tcp src-port 0-65535"),
            ("src-mac 02:00:00:AA:bb:cc", "src-mac 02:00:00:aa:bb:cc"),
            (
                "src-mac 02-00-00-aa-bb-cc udp",
                "udp src-mac 02:00:00:aa:bb:cc",
            ),
            ("dst-port 22", "dst-port 22"),
            ("src 0.0.0.0/0", "src 0.0.0.0/0"),
        ] {
            assert_eq!(r(input).to_string(), canon, "{input}");
        }
        assert_eq!(r("udp dst-port 53").dport, Some((53, 53)));
        assert_eq!(r("icmp").proto, Some(1));
    }

    #[test]
    fn invalid_rules_say_why() {
        for (input, want) in [
            ("", "empty rule"),
            ("# only a comment", "unknown protocol or keyword '#'"),
            ("udp dst-port 70000", "port 70000 is out of range (0-65535)"),
            ("udp dst-port 9-3", "port range 9-3 is reversed"),
            ("udp dst-port x", "bad port 'x'"),
            ("udp dst-port", "'dst-port' needs a value"),
            ("tpc", "unknown protocol or keyword 'tpc'"),
            (
                "udp dest-port 53",
                "unknown protocol or keyword 'dest-port'",
            ),
            ("proto tpc", "unknown protocol 'tpc'"),
            ("proto 256", "protocol number 256 is out of range (0-255)"),
            (
                "src 10.0.0.0/33",
                "bad address '10.0.0.0/33': prefix length '33' is not 0-32",
            ),
            (
                "src 10.0.0/8",
                "bad address '10.0.0/8': '10.0.0' is not an IPv4 or IPv6 address",
            ),
            ("dst ::1/129", "prefix length '129' is not 0-128"),
            ("udp tcp", "a protocol given twice in one rule"),
            ("dst-port 1 dport 2", "dst-port given twice"),
            ("icmp dst-port 53", "ports need tcp or udp, not icmp"),
            ("src 10.0.0.0/8 dst ::1", "mixes IPv4 and IPv6"),
            ("icmp src ::1", "icmp is IPv4-only"),
            ("icmpv6 dst 10.0.0.1", "icmpv6 is IPv6-only"),
            ("src-mac 02:00:00:aa:bb", "bad MAC address"),
            ("53", "bare number '53'"),
        ] {
            let e = bad(input);
            assert!(e.msg.contains(want), "{input}: got '{}'", e.msg);
            assert!(!e.hint.is_empty(), "{input}: no hint");
        }
        assert!(bad("proto xyz").hint.contains("tcp, udp"));
    }

    #[test]
    fn rules_file_with_comments_and_line_numbers() {
        let text = "# web\n\ntcp dst-port 80   # http\n  udp dst-port 53\n";
        let rules = parse_file(Path::new("f.rules"), text).unwrap();
        assert_eq!(rules.len(), 2);
        assert_eq!(rules[1].to_string(), "udp dst-port 53");
        let e = parse_file(Path::new("f.rules"), "udp\n# x\ntcp dst-port 99999\n").unwrap_err();
        assert_eq!(e.msg, "f.rules:3: port 99999 is out of range (0-65535)");
        assert!(e.hint.is_some());
        let e = parse_arg("udp dport 1-").unwrap_err();
        assert_eq!(e.msg, "--drop 'udp dport 1-': bad port ''");
        assert!(check_count(MAX_RULES).is_ok() && check_count(MAX_RULES + 1).is_err());
    }

    #[test]
    fn a_rules_file_without_rules_is_an_error() {
        // No rules means "drop everything": an emptied file must not.
        for text in [
            "",
            "\n\n",
            "# all commented out\n# tcp dst-port 80\n",
            "  # x\n\t\n",
        ] {
            let e = parse_file(Path::new("deny.rules"), text).unwrap_err();
            assert_eq!(
                e.msg, "--rules deny.rules: the file has no rule (only blank lines or comments)",
                "{text:?}"
            );
            assert!(e.hint.unwrap().contains("without --rules"));
        }
    }

    #[test]
    fn user_text_in_errors_is_escaped() {
        let e = parse_arg("udp \x1b[2J\x07").unwrap_err();
        assert_eq!(
            e.msg,
            "--drop 'udp \\e[2J\\x07': unknown protocol or keyword '\\e[2J\\x07'"
        );
        let e = parse_file(
            Path::new("/tmp/\x1b]0;x\x07.rules"),
            "udp dport \u{202e}1\n",
        )
        .unwrap_err();
        assert_eq!(e.msg, "/tmp/\\e]0;x\\x07.rules:1: bad port '\\u{202e}1'");
        let e = parse_file(Path::new("\x1bc"), "#\n").unwrap_err();
        assert!(e.msg.starts_with("--rules \\ec: "), "{}", e.msg);
        for e in [
            parse_arg("\x1b"),
            parse_arg("src \x1b"),
            parse_arg("src-mac \n"),
        ] {
            let m = e.unwrap_err().msg;
            assert!(!m.bytes().any(|b| b < 0x20), "{m:?}");
        }
    }

    #[test]
    fn malformed_policy_defaults_and_actions() {
        let c = |packets, bytes| Count { packets, bytes };
        let (hit, miss, mal, ab) = (c(10, 1000), c(5, 500), c(2, 20), c(1, 10));
        let p = |allow_only, malformed| Policy {
            allow_only,
            malformed,
            ..Policy::default()
        };
        // Default: pass with drop rules, drop with --allow-only.
        assert!(!p(false, None).malformed_drop() && p(true, None).malformed_drop());
        assert!(p(false, Some(Malformed::Drop)).malformed_drop());
        assert!(!p(true, Some(Malformed::Pass)).malformed_drop());
        let a = p(false, Some(Malformed::Drop)).actions(hit, miss, mal, ab);
        assert_eq!((a.drop, a.pass, a.malformed), (c(12, 1020), miss, mal));
        assert_eq!(a.list()[3].0, "DROP (malformed)");
        let a = p(true, None).actions(hit, miss, mal, ab);
        assert_eq!((a.drop, a.pass), (c(7, 520), hit));
        let a = p(true, Some(Malformed::Pass)).actions(hit, miss, mal, ab);
        assert_eq!((a.drop, a.pass), (miss, c(12, 1020)));
        assert_eq!(a.list()[3].0, "PASS (malformed)");
        let dry = Policy {
            dry_run: true,
            ..p(true, None)
        };
        let a = dry.actions(hit, miss, mal, ab);
        assert_eq!(
            (a.drop, a.would_drop, a.pass),
            (Count::default(), c(7, 520), c(17, 1520))
        );
        assert_eq!(a.list()[3].0, "PASS (malformed)");
    }

    #[test]
    fn actions_follow_from_the_counts_and_the_policy() {
        let c = |packets, bytes| Count { packets, bytes };
        let (hit, miss, mal, ab) = (c(10, 1000), c(5, 500), c(2, 20), c(1, 10));
        let p = |allow_only, dry_run| Policy {
            allow_only,
            dry_run,
            malformed: Some(Malformed::Pass),
        };
        let a = p(false, false).actions(hit, miss, mal, ab);
        assert_eq!(
            (a.drop, a.pass, a.aborted, a.malformed),
            (hit, c(7, 520), ab, mal)
        );
        let a = p(true, false).actions(hit, miss, mal, ab);
        assert_eq!(
            (a.drop, a.pass, a.would_drop),
            (miss, c(12, 1020), Count::default())
        );
        let a = p(false, true).actions(hit, miss, mal, ab);
        assert_eq!(
            (a.drop, a.pass, a.would_drop),
            (Count::default(), c(17, 1520), hit)
        );
        let a = p(true, true).actions(hit, miss, mal, ab);
        assert_eq!((a.drop, a.would_drop), (Count::default(), miss));
        assert_eq!(a.list()[4], ("PASS (dry run)", "would_drop", miss));
    }

    #[test]
    fn cidr_cover_and_mask() {
        let c = Cidr::parse("10.1.2.3/12").unwrap();
        assert_eq!(c.to_string(), "10.0.0.0/12");
        assert!(c.covers(&Cidr::parse("10.15.255.255").unwrap()));
        assert!(!c.covers(&Cidr::parse("10.16.0.0").unwrap()));
        assert!(!c.covers(&Cidr::parse("::/0").unwrap()));
        for (a, b) in [
            ("fd00:1:2::/33", "fd00:1::/33"),
            ("fd00:1:ffff::/33", "fd00:1:8000::/33"),
            ("10.255.255.255/0", "0.0.0.0/0"),
            ("10.1.2.3/31", "10.1.2.2/31"),
        ] {
            assert_eq!(Cidr::parse(a).unwrap().to_string(), b);
        }
        assert_eq!(
            lpm_key(&c),
            [12u32.to_ne_bytes().as_slice(), &[10, 0, 0, 0]].concat()
        );
    }

    fn probe(proto: u8, src: &str, dst: &str, ports: Option<(u16, u16)>) -> Probe {
        Probe {
            proto: Some(proto),
            src: Some(src.parse().unwrap()),
            dst: Some(dst.parse().unwrap()),
            ports,
            mac: None,
        }
    }

    #[test]
    fn tables_match_like_the_rules() {
        let rules: Vec<Rule> = [
            "udp dst-port 53",
            "tcp src 10.0.0.0/8 dst-port 1000-2000",
            "src 10.1.0.0/16",
            "dst fd00::/64",
            "icmp",
            "src-mac 02:00:00:00:00:01",
            "dst-port 1500",
        ]
        .iter()
        .map(|s| r(s))
        .collect();
        let t = Tables::compile(&rules);
        assert_eq!(t.nwords, 1);
        let v4 = "10.2.3.4";
        let cases: &[(Probe, &[usize])] = &[
            (probe(17, v4, "1.1.1.1", Some((9, 53))), &[0]),
            (probe(17, v4, "1.1.1.1", Some((9, 54))), &[]),
            (probe(6, v4, "1.1.1.1", Some((9, 1500))), &[1, 6]),
            (probe(6, "11.0.0.1", "1.1.1.1", Some((9, 1500))), &[6]),
            (probe(17, "11.0.0.1", "1.1.1.1", Some((9, 1500))), &[6]),
            (probe(6, "10.1.9.9", "1.1.1.1", Some((9, 80))), &[2]),
            (probe(6, "10.1.9.9", "1.1.1.1", None), &[2]), // a non-first fragment
            (probe(17, "::1", "fd00::5", Some((1, 53))), &[0, 3]),
            (probe(58, "::1", "fd00:0:0:1::5", None), &[]),
            (probe(1, v4, "1.1.1.1", None), &[4]),
            (probe(47, v4, "1.1.1.1", None), &[]),
        ];
        for (p, want) in cases {
            assert_eq!(t.eval(p), *want, "{p:?}");
        }
        let mac = Probe {
            mac: Some([2, 0, 0, 0, 0, 1]),
            ..Default::default()
        };
        assert_eq!(t.eval(&mac), vec![5], "non-IP frame from the MAC");
        assert_eq!(t.eval(&Probe::default()), Vec::<usize>::new());
        let d = t.dims;
        assert_eq!(
            d & (dim::PROTO | dim::SRC4 | dim::DST6 | dim::MAC),
            dim::PROTO | dim::SRC4 | dim::DST6 | dim::MAC
        );
        assert_eq!(d & (dim::SRC6 | dim::DST4 | dim::SPORT), 0);
        // dst-port classes: 0 (no dst-port rule), 53, 1000-1499 and
        // 1501-2000 (the same rules), 1500.
        assert_eq!(t.dport.classes.len(), 4);
        assert_eq!(t.dport.ports.len(), 1 + 1001);
    }

    #[test]
    fn single_port_rule_is_small() {
        let t = Tables::compile(&[r("udp dst-port 53")]);
        assert_eq!(t.dims, dim::PROTO | dim::DPORT);
        assert_eq!(t.dport.ports, vec![(53, 1)]);
        assert_eq!(t.dport.classes, vec![vec![0], vec![1]]);
        assert_eq!(t.proto[17], vec![1]);
        assert_eq!(t.proto[6], vec![0]);
        assert!(t.src4.is_empty() && t.macs.is_empty());
        // An unknown protocol satisfies only rules that accept every one.
        let t = Tables::compile(&[r("udp"), r("dst-port 53"), r("src 10.0.0.0/8"), r("tcp")]);
        assert_eq!(t.wild_proto, vec![0b0100]);
    }

    #[test]
    fn many_rules_use_many_words() {
        let rules: Vec<Rule> = (0..1000)
            .map(|i| r(&format!("src 10.{}.{}.0/24", i / 256, i % 256)))
            .collect();
        let t = Tables::compile(&rules);
        assert_eq!(t.nwords, 16);
        assert_eq!(t.src4.len(), 1001);
        assert_eq!(t.eval(&probe(6, "10.3.231.9", "1.1.1.1", None)), vec![999]);
        assert_eq!(
            t.eval(&probe(6, "10.4.0.1", "1.1.1.1", None)),
            Vec::<usize>::new()
        );
        assert_eq!(bits_value(&t.src4[0].1).len(), 128);
    }

    #[test]
    fn nested_prefixes_inherit() {
        let t = Tables::compile(&[r("src 10.0.0.0/8"), r("src 10.1.0.0/16 udp"), r("tcp")]);
        assert_eq!(t.eval(&probe(17, "10.1.2.3", "1.1.1.1", None)), vec![0, 1]);
        assert_eq!(t.eval(&probe(6, "10.1.2.3", "1.1.1.1", None)), vec![0, 2]);
        assert_eq!(t.eval(&probe(6, "192.0.2.1", "1.1.1.1", None)), vec![2]);
        assert_eq!(t.eval(&probe(6, "::1", "::2", None)), vec![2]);
    }
}
