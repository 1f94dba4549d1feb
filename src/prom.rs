//! Prometheus: what a tool measures, served on `/metrics` in the Prometheus
//! text format (0.0.4) while it runs (`--prometheus ADDR:PORT`, or several
//! tools in one process: `corescope exporter`, [`crate::exporter`]).
//!
//! The tool's loop feeds a [`Store`] (behind a mutex, held only to add one
//! interval's numbers or to encode one scrape) through a [`Handle`]; the
//! HTTP server ([`serve`], tiny_http, on its own threads) encodes it with
//! prometheus-client's Prometheus text encoder at each scrape. The shapes
//! feed it by themselves:
//!
//! - a histogram ([`crate::hist::emit`]) becomes a Prometheus histogram
//!   `corescope_<tool>_seconds` (or `_bytes`): log2 slot `k` holds values
//!   below `2^(k+1)` units, so its `le` bound is `2^(k+1)` units in seconds
//!   (linear slot `i`: `base + (i+1)·step`); the last slot, where the BPF
//!   side clamps what is larger, is `+Inf`. Buckets are cumulative, `_sum`
//!   is the BPF side's exact sum, `_count` the values counted;
//! - a top or interrupt row (`top::Runner`, `irqs::Runner`, through a
//!   [`RowSpec`]) becomes counters `corescope_<tool>_<what>_total` labelled
//!   by the row's key fields (pid, comm, disk…);
//! - every tool exports `corescope_events_total` (records received from the
//!   kernel; for an interval tool, rows) and `corescope_lost_events_total`,
//!   labelled `tool`.
//!
//! Histograms and rows are read from maps that are drained every interval:
//! each read is added to what the store holds, so nothing is reset between
//! scrapes (counters and buckets only grow, as Prometheus expects).
//!
//! Cardinality: a family keeps at most `max_series` label sets
//! (`--prometheus-series`, default 100). A new key past that replaces the
//! series that has not changed for the longest time if that is at least
//! [`IDLE`] ago (its counts move to the `other` series, so sums stay
//! monotonic), else it is counted in the `other` series: the one with no
//! key labels (only `tool`/`le`).

use std::collections::HashMap;
use std::fmt;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::Result;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use serde::Serialize;

use crate::error::UserError;
use crate::escape::escape_into;
use crate::hist::{Hist, Key, Scale};

/// Default bound on a family's label sets (`--prometheus-series`).
pub const DEFAULT_SERIES: usize = 100;
/// How long a series must have been unchanged to give its place to a new key.
pub const IDLE: Duration = Duration::from_secs(300);
/// HTTP responses being written at once; requests past it are dropped.
const MAX_RESPONDERS: usize = 16;

/// What a family is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Histogram,
}

/// One series: its label values and what it counts.
#[derive(Debug, Clone)]
struct Series {
    labels: Vec<(String, String)>,
    /// Counter: the value. Histogram: the sum of the values.
    value: f64,
    /// Histogram: counts per slot (not cumulative) and their total.
    slots: Vec<u64>,
    count: u64,
    changed: Instant,
}

impl Series {
    fn new(labels: Vec<(String, String)>) -> Self {
        Self {
            labels,
            value: 0.0,
            slots: Vec::new(),
            count: 0,
            changed: Instant::now(),
        }
    }

    fn absorb(&mut self, o: &Series) {
        self.value += o.value;
        self.count += o.count;
        add_slots(&mut self.slots, &o.slots);
    }
}

fn add_slots(into: &mut Vec<u64>, from: &[u64]) {
    if into.len() < from.len() {
        into.resize(from.len(), 0);
    }
    for (a, b) in into.iter_mut().zip(from) {
        *a = a.wrapping_add(*b);
    }
}

/// A metric family: its name, help, kind and bounded series.
#[derive(Debug)]
struct Family {
    name: String,
    help: String,
    kind: Kind,
    /// Histogram: the `le` bound of slot `i` (`+Inf` for the last).
    bounds: Vec<f64>,
    series: Vec<Series>,
    index: HashMap<Vec<(String, String)>, usize>,
    /// Keys past the bound ([`Store`] doc).
    other: Option<Series>,
}

impl Family {
    /// The series of `labels`, admitted if there is room (module doc).
    fn series(&mut self, labels: Vec<(String, String)>, max: usize) -> &mut Series {
        if let Some(&i) = self.index.get(&labels) {
            return &mut self.series[i];
        }
        if self.series.len() >= max.max(1) {
            let idle = self
                .series
                .iter()
                .enumerate()
                .min_by_key(|(_, s)| s.changed)
                .filter(|(_, s)| s.changed.elapsed() >= IDLE)
                .map(|(i, _)| i);
            let Some(i) = idle else {
                return self.other.get_or_insert_with(|| Series::new(Vec::new()));
            };
            let old = self.series.swap_remove(i);
            self.index.remove(&old.labels);
            if let Some(moved) = self.series.get(i) {
                self.index.insert(moved.labels.clone(), i);
            }
            self.other
                .get_or_insert_with(|| Series::new(Vec::new()))
                .absorb(&old);
        }
        self.index.insert(labels.clone(), self.series.len());
        self.series.push(Series::new(labels));
        let last = self.series.len() - 1;
        &mut self.series[last]
    }
}

/// Every family of one process (one tool, or the exporter's tools).
#[derive(Debug, Default)]
pub struct Store {
    families: Vec<Family>,
    by_name: HashMap<String, usize>,
    /// Per-family bound on label sets.
    max_series: usize,
}

impl Store {
    fn family(&mut self, name: &str, help: &str, kind: Kind) -> &mut Family {
        let i = match self.by_name.get(name) {
            Some(&i) => i,
            None => {
                self.families.push(Family {
                    name: name.to_string(),
                    help: help.to_string(),
                    kind,
                    bounds: Vec::new(),
                    series: Vec::new(),
                    index: HashMap::new(),
                    other: None,
                });
                self.by_name
                    .insert(name.to_string(), self.families.len() - 1);
                self.families.len() - 1
            }
        };
        &mut self.families[i]
    }

    /// Adds `delta` to counter `name{labels}`.
    pub fn add(&mut self, name: &str, help: &str, labels: Vec<(String, String)>, delta: f64) {
        let max = self.max_series;
        let s = self.family(name, help, Kind::Counter).series(labels, max);
        if delta != 0.0 {
            s.value += delta;
            s.changed = Instant::now();
        }
    }

    /// Sets counter `name{labels}` to `value`, a total the kernel counts
    /// (never lower than before: a counter does not go down).
    pub fn set(&mut self, name: &str, help: &str, labels: Vec<(String, String)>, value: f64) {
        let max = self.max_series;
        let s = self.family(name, help, Kind::Counter).series(labels, max);
        if value > s.value {
            s.value = value;
            s.changed = Instant::now();
        }
    }

    /// Adds one read of a histogram (`slots` counted since the last read,
    /// `sum` their values' sum in the metric's unit) to `name{labels}`.
    #[allow(clippy::too_many_arguments)]
    pub fn observe(
        &mut self,
        name: &str,
        help: &str,
        labels: Vec<(String, String)>,
        bounds: impl Fn(usize, usize) -> f64,
        slots: &[u64],
        sum: f64,
    ) {
        let max = self.max_series;
        let f = self.family(name, help, Kind::Histogram);
        // Bounds for every slot the family has seen (one set per family).
        let used = slots.iter().rposition(|&n| n > 0).map_or(0, |l| l + 1);
        let n = slots.len();
        while f.bounds.len() < used {
            let i = f.bounds.len();
            f.bounds.push(bounds(i, n));
        }
        let count = slots.iter().fold(0u64, |a, &v| a.wrapping_add(v));
        // A keyed read with nothing in it (biolatency -D when no disk did
        // I/O) is no key; an unkeyed histogram is there from the start.
        if count == 0 && !labels.is_empty() {
            return;
        }
        let s = f.series(labels, max);
        if count > 0 {
            add_slots(&mut s.slots, &slots[..used]);
            s.count = s.count.wrapping_add(count);
            s.value += sum;
            s.changed = Instant::now();
        }
    }

    /// The whole store in the Prometheus text format (0.0.4).
    pub fn encode(&self) -> String {
        // A registry's collectors are 'static: encode an owned copy.
        let mut reg = Registry::default();
        reg.register_collector(Box::new(Snapshot(
            self.families.iter().map(encode_family).collect(),
        )));
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, &reg);
        out
    }
}

/// The families laid out for the encoder.
#[derive(Debug)]
struct Snapshot(Vec<Encoded>);

type Labels = Vec<(String, String)>;

/// (labels, value or sum, count, (le, count in that slot)).
type EncodedSeries = (Labels, f64, u64, Vec<(f64, u64)>);

#[derive(Debug)]
struct Encoded {
    name: String,
    help: String,
    kind: Kind,
    series: Vec<EncodedSeries>,
}

fn encode_family(f: &Family) -> Encoded {
    let all = f.series.iter().chain(f.other.iter());
    let series = all
        .map(|s| {
            let buckets = match f.kind {
                Kind::Counter => Vec::new(),
                Kind::Histogram => (f.bounds.iter().enumerate())
                    .map(|(i, &b)| (b, s.slots.get(i).copied().unwrap_or(0)))
                    .collect(),
            };
            (s.labels.clone(), s.value, s.count, buckets)
        })
        .collect();
    Encoded {
        name: f.name.clone(),
        help: f.help.clone(),
        kind: f.kind,
        series,
    }
}

impl Collector for Snapshot {
    fn encode(&self, mut enc: DescriptorEncoder) -> Result<(), fmt::Error> {
        for e in &self.0 {
            let ty = match e.kind {
                Kind::Counter => MetricType::Counter,
                Kind::Histogram => MetricType::Histogram,
            };
            let mut me = enc.encode_descriptor(&e.name, &e.help, None, ty)?;
            for (labels, value, count, buckets) in &e.series {
                let mut fe = me.encode_family(labels)?;
                match e.kind {
                    // Whole numbers as such (`7`, not `7.0`).
                    Kind::Counter if value.fract() == 0.0 && *value < 9.0e15 => {
                        fe.encode_counter::<NoLabelSet, u64, u64>(&(*value as u64), None)?
                    }
                    Kind::Counter => fe.encode_counter::<NoLabelSet, f64, f64>(value, None)?,
                    Kind::Histogram => {
                        fe.encode_histogram::<NoLabelSet>(*value, *count, buckets, None)?
                    }
                }
            }
        }
        Ok(())
    }
}

/// The store, shared by the tools' loops and the HTTP server.
#[derive(Debug, Clone)]
pub struct Sink(Arc<Mutex<Store>>);

impl Sink {
    pub fn new(max_series: usize) -> Self {
        Self(Arc::new(Mutex::new(Store {
            max_series,
            ..Store::default()
        })))
    }

    /// The store, locked (a panic elsewhere while it was held leaves
    /// numbers that are still numbers: go on).
    pub fn lock(&self) -> MutexGuard<'_, Store> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// One tool's handle on it.
    pub fn handle(&self, tool: &'static str) -> Handle {
        Handle {
            sink: self.clone(),
            tool,
        }
    }
}

/// A tool's handle on the [`Sink`]: names its families `corescope_<tool>_…`.
#[derive(Debug, Clone)]
pub struct Handle {
    sink: Sink,
    tool: &'static str,
}

/// How a row becomes counters: the JSON fields that are labels, and the
/// numeric fields that are counters (`field`, metric suffix, help, factor
/// to the metric's unit). Fields a row leaves out are skipped.
#[derive(Debug, Clone, Copy)]
pub struct RowSpec {
    pub labels: &'static [&'static str],
    pub counters: &'static [(&'static str, &'static str, &'static str, f64)],
}

/// Bytes as a label value: escaped as the table shows them (valid UTF-8,
/// no control characters).
pub fn label_text(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len());
    escape_into(&mut s, bytes, false);
    s
}

/// A histogram unit → (metric suffix, factor to it).
fn unit_of(unit: &str) -> (&'static str, f64) {
    match unit {
        "nsecs" => ("seconds", 1e-9),
        "usecs" => ("seconds", 1e-6),
        "msecs" => ("seconds", 1e-3),
        "secs" => ("seconds", 1.0),
        "kbytes" => ("bytes", 1024.0),
        "bytes" => ("bytes", 1.0),
        _ => ("values", 1.0),
    }
}

/// The `le` bound of slot `i` of `n` (module doc).
fn bound(scale: Scale, factor: f64, i: usize, n: usize) -> f64 {
    if i + 1 >= n {
        return f64::INFINITY;
    }
    let units = match scale {
        Scale::Log2 => 2f64.powi(i as i32 + 1),
        Scale::Linear { base, step } => base as f64 + (i as f64 + 1.0) * step as f64,
    };
    units * factor
}

impl Handle {
    pub fn tool(&self) -> &'static str {
        self.tool
    }

    /// One histogram read under `keys` ([`crate::hist::emit`]).
    pub fn hist<T: Copy + Into<u64>>(&self, keys: &[Key<'_>], h: &Hist<'_, T>) {
        let (suffix, factor) = unit_of(h.unit);
        let name = format!("corescope_{}_{suffix}", self.tool);
        let help = format!(
            "What {} measures, as its histograms ({} in the tool's output)",
            self.tool, h.unit
        );
        let mut labels = Vec::with_capacity(keys.len() * 2);
        for k in keys {
            match *k {
                Key::Disk(d) => labels.push(("disk".to_string(), label_text(d))),
                Key::Flags(f) => labels.push(("flags".to_string(), f.to_string())),
                Key::Pid { pid, comm } => {
                    labels.push(("pid".to_string(), pid.to_string()));
                    labels.push(("comm".to_string(), label_text(comm)));
                }
                Key::Tid { tid, comm } => {
                    labels.push(("tid".to_string(), tid.to_string()));
                    labels.push(("comm".to_string(), label_text(comm)));
                }
                Key::Pidns { ns, comm } => {
                    labels.push(("pidns".to_string(), ns.to_string()));
                    labels.push(("comm".to_string(), label_text(comm)));
                }
                Key::Named { label, name } => labels.push((label.to_string(), label_text(name))),
            }
        }
        let slots: Vec<u64> = h.slots.iter().map(|&v| v.into()).collect();
        let sum = h.sum.unwrap_or(0) as f64 * factor;
        let scale = h.scale;
        self.sink.lock().observe(
            &name,
            &help,
            labels,
            |i, n| bound(scale, factor, i, n),
            &slots,
            sum,
        );
    }

    /// One row of an interval (what it counts since the last read) as
    /// counters, labelled by its key fields ([`RowSpec`]).
    pub fn row<R: Serialize + ?Sized>(&self, spec: &RowSpec, r: &R) {
        let Ok(serde_json::Value::Object(m)) = serde_json::to_value(r) else {
            return;
        };
        let labels: Labels = (spec.labels.iter())
            .filter_map(|&l| {
                let v = match m.get(l)? {
                    serde_json::Value::String(s) => s.clone(),
                    serde_json::Value::Null => return None,
                    v => v.to_string(),
                };
                Some((l.to_string(), v))
            })
            .collect();
        let mut store = self.sink.lock();
        for &(field, suffix, help, factor) in spec.counters {
            let Some(v) = m.get(field).and_then(serde_json::Value::as_f64) else {
                continue;
            };
            let name = format!("corescope_{}_{suffix}", self.tool);
            store.add(&name, help, labels.clone(), v * factor);
        }
    }

    /// Counter `corescope_<tool>_<suffix>{labels}` set to a total the
    /// kernel keeps (a map that is not drained: xdpdrop's counts).
    pub fn total(&self, suffix: &str, help: &str, labels: &[(&str, &str)], value: u64) {
        let name = format!("corescope_{}_{suffix}", self.tool);
        let labels = (labels.iter())
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.sink.lock().set(&name, help, labels, value as f64);
    }

    /// The run's totals so far: records received and lost.
    pub fn totals(&self, events: u64, lost: u64) {
        let mut store = self.sink.lock();
        let tool = vec![("tool".to_string(), self.tool.to_string())];
        store.set(
            "corescope_events",
            "Records received from the kernel (interval tools: rows read)",
            tool.clone(),
            events as f64,
        );
        store.set(
            "corescope_lost_events",
            "Events lost (ring buffer full, map full, runs skipped by the kernel)",
            tool,
            lost as f64,
        );
    }
}

/// How often an interval tool without INTERVAL reads its maps when it
/// serves metrics.
pub const READ_EVERY: Duration = Duration::from_secs(1);

/// The exporter's one sink, shared by its tools ([`crate::exporter`]).
static EXPORTER: std::sync::OnceLock<Sink> = std::sync::OnceLock::new();

/// Makes `sink` the sink of every session of this process (the exporter).
pub fn set_exporter_sink(sink: Sink) {
    let _ = EXPORTER.set(sink);
}

/// The exporter's sink, when running inside `corescope exporter`.
pub fn exporter_sink() -> Option<&'static Sink> {
    EXPORTER.get()
}

/// The Prometheus handle of a session: the exporter's, or with
/// `--prometheus ADDR:PORT` a new store served there (bound now, so a bad
/// address or a port in use ends the tool before it loads anything).
pub fn for_tool(tool: &'static str, run: &crate::cli::RunArgs) -> Result<Option<Handle>> {
    if let Some(sink) = exporter_sink() {
        if run.prometheus.is_some() {
            return Err(UserError::hint(
                format!("{tool}: --prometheus is the exporter's own (--listen)"),
                "leave --prometheus out of the tools' arguments in `corescope exporter`",
            )
            .into());
        }
        return Ok(Some(sink.handle(tool)));
    }
    let Some(listen) = &run.prometheus else {
        return Ok(None);
    };
    let sink = Sink::new(run.prometheus_series);
    let local = serve("--prometheus", listen, sink.clone())?;
    crate::diag!("{tool}: serving Prometheus metrics on http://{local}/metrics");
    Ok(Some(sink.handle(tool)))
}

/// ADDR:PORT (`:PORT` is every address) as socket addresses; `opt` is the
/// option that gave it (`--prometheus`, the exporter's `--listen`).
pub fn parse_listen(opt: &str, s: &str) -> Result<Vec<SocketAddr>> {
    let bad = || {
        UserError::hint(
            format!("{opt}: {s:?} is not ADDR:PORT"),
            "give an address and a port, e.g. 127.0.0.1:9476, [::1]:9476 or :9476 (every address)",
        )
    };
    let full = match s.strip_prefix(':') {
        Some(port) => format!("0.0.0.0:{port}"),
        None => s.to_string(),
    };
    let addrs: Vec<SocketAddr> = full.to_socket_addrs().map_err(|_| bad())?.collect();
    if addrs.is_empty() {
        return Err(bad().into());
    }
    Ok(addrs)
}

/// Binds `listen` and serves `/metrics` from `sink` on background threads
/// until the process ends. A slow or hostile client holds only its own
/// connection's thread (tiny_http reads each connection on a pool thread;
/// each response is written on a thread of its own, at most
/// [`MAX_RESPONDERS`] at once), never the tool's loop, which takes the
/// store's lock only between its reads.
pub fn serve(opt: &str, listen: &str, sink: Sink) -> Result<SocketAddr> {
    let addrs = parse_listen(opt, listen)?;
    let server = tiny_http::Server::http(&addrs[..]).map_err(|e| {
        UserError::hint(
            format!("{opt}: cannot listen on {listen}: {e}"),
            "choose a free port (see `ss -ltn`), or an address of this machine",
        )
    })?;
    let local = server.server_addr().to_ip().unwrap_or_else(|| addrs[0]);
    let busy = Arc::new(AtomicUsize::new(0));
    std::thread::Builder::new()
        .name("cs-prometheus".into())
        .spawn(move || {
            for req in server.incoming_requests() {
                if busy.fetch_add(1, Ordering::SeqCst) >= MAX_RESPONDERS {
                    busy.fetch_sub(1, Ordering::SeqCst);
                    continue; // dropped: the connection closes
                }
                let (sink, busy) = (sink.clone(), Arc::clone(&busy));
                let spawned = std::thread::Builder::new()
                    .name("cs-prom-resp".into())
                    .spawn(move || {
                        respond(req, &sink);
                        busy.fetch_sub(1, Ordering::SeqCst);
                    });
                if spawned.is_err() {
                    // No thread (out of resources): the request is dropped.
                    continue;
                }
            }
        })
        .map_err(|e| anyhow::anyhow!("starting the metrics server thread: {e}"))?;
    Ok(local)
}

fn respond(req: tiny_http::Request, sink: &Sink) {
    use tiny_http::{Header, Method, Response};
    let path = req.url().split('?').next().unwrap_or("");
    let get = matches!(req.method(), Method::Get | Method::Head);
    let (code, body, ty) = match (get, path) {
        (true, "/metrics") => (
            200,
            sink.lock().encode(),
            prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
        ),
        (true, "/") => (
            200,
            "corescope exporter: metrics at /metrics\n".to_string(),
            "text/plain; charset=utf-8",
        ),
        (false, _) => (405, "only GET\n".to_string(), "text/plain; charset=utf-8"),
        _ => (
            404,
            "not found: try /metrics\n".to_string(),
            "text/plain; charset=utf-8",
        ),
    };
    let mut resp = Response::from_string(body).with_status_code(code);
    if let Ok(h) = Header::from_bytes(&b"Content-Type"[..], ty.as_bytes()) {
        resp = resp.with_header(h);
    }
    // A client that went away: nothing to do.
    let _ = req.respond(resp);
}

#[cfg(test)]
mod tests;
