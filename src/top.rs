//! The *top* shape: periodic tables of the busiest keys (BCC's tcptop,
//! biotop, filetop). The BPF side counts into a hash map keyed by the tool's
//! key struct; every interval user space drains the map (snapshot and clear
//! in one pass), sorts by a field, prints the first `-r ROWS` under a
//! `HH:MM:SS loadavg: …` line, and keeps the sum of the rows it cut off.
//!
//! How a top tool uses it (key and value are the tool's `plain::Plain`
//! structs from its `.h`; the value struct implements [`Counts`]): it
//! implements [`TopTool`] (its CLI with [`TopArgs`] flattened in, its
//! configuration, the map, the score to sort by, the row of a key, the
//! JSON form of a sum) and its `main` is
//! `run::interval::<top::Runner<Tool>>(name)`. The [`Runner`] drains the
//! map every interval, sorts and limits the rows ([`sort_limit`]), prints
//! them through a [`Screen`] (clear or blank line, the loadavg line, the
//! header; a `top` JSON record per row and an `interval` record with the
//! [`Totals`]), stops after COUNT, and puts the keys the BPF side could not
//! insert (`keys_dropped`) in the summary. See tools/filetop/mod.rs.
//!
//! Draining: `BPF_MAP_LOOKUP_AND_DELETE_BATCH` (Linux 5.6+) when the kernel
//! has it for the map, probed once when the [`Drain`] is made (a batch of
//! 0 elements: deletes nothing); otherwise element-wise (get_next_key, lookup,
//! delete; an increment between that lookup and delete is lost, a window
//! of a few µs per key). Either way one drain returns at most `max_entries`
//! keys, so its cost is bounded even while the BPF side keeps inserting;
//! keys inserted behind the drain wait for the next interval. Buffers are
//! allocated once, for `max_entries` keys. libbpf-rs's
//! `MapCore::lookup_and_delete_batch` is not used: its iterator ends
//! silently on any error (an unsupported kernel looks like an empty map, a
//! bucket larger than the batch ends the drain early) and allocates two
//! `Vec`s per key.
//!
//! Keys the BPF side could not insert (map full) are counted by it in a
//! per-CPU array slot; [`keys_dropped`] reads it and [`dropped_note`] words
//! the summary line.

use std::io;
use std::marker::PhantomData;
use std::ops::ControlFlow;
use std::os::fd::AsRawFd;
use std::time::Duration;

use anyhow::Result;
use clap::Args;
use libbpf_rs::{MapCore, MapType, Object};
use plain::Plain;
use serde::Serialize;

use crate::error::UserError;
use crate::output::{Output, Row, Table};
use crate::run::{Loaded, Open, ToolSkel};
use crate::session::{Counter, Fields, Session, Tick};

pub use crate::interval::TopInterval as IntervalArgs;

/// The options of every top tool (BCC's letters: `-C`, `-r`).
#[derive(Args, Debug, Clone, Copy, PartialEq, Eq)]
pub struct TopArgs {
    /// Don't clear the screen before each output (it is cleared only on a
    /// terminal)
    #[arg(short = 'C', long)]
    pub noclear: bool,

    /// Rows to print per output; the keys cut off still count in the totals
    #[arg(short = 'r', long = "maxrows", value_name = "ROWS", default_value_t = 20,
          value_parser = parse_rows)]
    pub rows: usize,

    #[command(flatten)]
    pub interval: IntervalArgs,
}

impl Default for TopArgs {
    fn default() -> Self {
        Self {
            noclear: false,
            rows: 20,
            interval: IntervalArgs::default(),
        }
    }
}

fn parse_rows(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err("must be a whole number of rows, at least 1".into()),
    }
}

// ---------------------------------------------------------------------------
// Draining

/// How [`Drain`] empties the map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DrainMode {
    /// `BPF_MAP_LOOKUP_AND_DELETE_BATCH`: a few syscalls per interval.
    Batch,
    /// get_next_key + lookup + delete: three syscalls per key.
    ElementWise,
}

/// Snapshots and clears a BPF hash map of `K` → `V` each interval into a
/// reused buffer (see the module doc).
pub struct Drain<K, V> {
    mode: DrainMode,
    max: usize,
    keys: Vec<u8>,
    vals: Vec<u8>,
    /// The element-wise cursor: the next key to take.
    cur: Vec<u8>,
    rows: Vec<(K, V)>,
    _kv: PhantomData<(K, V)>,
}

/// The errnos of a kernel without the batch command (EINVAL: unknown bpf
/// command) or without it for this map type (EOPNOTSUPP, ENOTSUPP = 524).
fn batch_unsupported(errno: i32) -> bool {
    errno == libc::EINVAL || errno == libc::EOPNOTSUPP || errno == 524
}

/// Whether the kernel supports `BPF_MAP_LOOKUP_AND_DELETE_BATCH` on `map`:
/// a batch of 0 elements, which returns before looking at the map.
pub fn probe_batch(map: &dyn MapCore) -> bool {
    let mut out = 0u32;
    let mut count = 0u32;
    let opts = batch_opts();
    let mut k = [0u8; 8];
    let mut v = [0u8; 8];
    // SAFETY: count is 0, so the kernel writes no key or value; `out`
    // (the out_batch token) is 4 bytes, the hash maps' token size, and
    // `k`/`v` are valid pointers all the same. The fd belongs to `map`.
    let ret = unsafe {
        libbpf_rs::libbpf_sys::bpf_map_lookup_and_delete_batch(
            map.as_fd().as_raw_fd(),
            std::ptr::null_mut(),
            (&mut out as *mut u32).cast(),
            k.as_mut_ptr().cast(),
            v.as_mut_ptr().cast(),
            &mut count,
            &opts,
        )
    };
    ret == 0 || !batch_unsupported(-ret)
}

fn batch_opts() -> libbpf_rs::libbpf_sys::bpf_map_batch_opts {
    libbpf_rs::libbpf_sys::bpf_map_batch_opts {
        sz: std::mem::size_of::<libbpf_rs::libbpf_sys::bpf_map_batch_opts>() as _,
        ..Default::default()
    }
}

fn os_err(what: &str, map: &dyn MapCore, errno: i32) -> anyhow::Error {
    anyhow::anyhow!(
        "{what} on BPF map {:?} failed: {}",
        map.name(),
        io::Error::from_raw_os_error(errno)
    )
}

impl<K: Plain + Copy + Default, V: Plain + Copy + Default> Drain<K, V> {
    /// A drain for `map` (a hash or LRU hash map of `K` → `V`), batch if
    /// the kernel has it for the map.
    pub fn new(map: &dyn MapCore) -> Result<Self> {
        let ty = map.map_type();
        if !matches!(ty, MapType::Hash | MapType::LruHash) {
            return Err(UserError::hint(
                format!("BPF map {:?} is a {ty:?} map, not a hash map", map.name()),
                "declare the top map as BPF_MAP_TYPE_HASH or BPF_MAP_TYPE_LRU_HASH \
                 (per-CPU values are not supported)",
            )
            .into());
        }
        let (ks, vs) = (map.key_size() as usize, map.value_size() as usize);
        if ks != size_of::<K>() || vs != size_of::<V>() {
            return Err(UserError::hint(
                format!(
                    "BPF map {:?} has {ks}-byte keys and {vs}-byte values, the tool expects {} and {}",
                    map.name(),
                    size_of::<K>(),
                    size_of::<V>()
                ),
                "the key and value types must be the structs of the map's .h",
            )
            .into());
        }
        let max = map.max_entries() as usize;
        let mode = if probe_batch(map) {
            DrainMode::Batch
        } else {
            DrainMode::ElementWise
        };
        Ok(Self {
            mode,
            max,
            keys: vec![0; ks * max],
            vals: vec![0; vs * max],
            cur: vec![0; ks],
            rows: Vec::with_capacity(max),
            _kv: PhantomData,
        })
    }

    /// Uses `mode` whatever the probe said (tests; a kernel bug workaround).
    pub fn force(mut self, mode: DrainMode) -> Self {
        self.mode = mode;
        self
    }

    pub fn mode(&self) -> DrainMode {
        self.mode
    }

    /// Takes every key out of `map` (at most `max_entries`), returning them
    /// in the reused buffer; the map is empty after, but for keys the BPF
    /// side inserted meanwhile.
    pub fn drain(&mut self, map: &dyn MapCore) -> Result<&mut Vec<(K, V)>> {
        let n = match self.mode {
            DrainMode::Batch => self.batch(map)?,
            DrainMode::ElementWise => self.element_wise(map)?,
        };
        let (ks, vs) = (size_of::<K>(), size_of::<V>());
        self.rows.clear();
        for i in 0..n {
            let (mut k, mut v) = (K::default(), V::default());
            // Cannot fail: both slices have exactly the struct's size.
            let _ = plain::copy_from_bytes(&mut k, &self.keys[i * ks..(i + 1) * ks]);
            let _ = plain::copy_from_bytes(&mut v, &self.vals[i * vs..(i + 1) * vs]);
            self.rows.push((k, v));
        }
        Ok(&mut self.rows)
    }

    /// Returns how many keys were taken into `self.keys` / `self.vals`.
    fn batch(&mut self, map: &dyn MapCore) -> Result<usize> {
        let (ks, vs) = (size_of::<K>(), size_of::<V>());
        let fd = map.as_fd().as_raw_fd();
        let opts = batch_opts();
        // The hash maps' batch token is a u32 bucket index.
        let (mut tok_in, mut tok_out) = (0u32, 0u32);
        let mut first = true;
        let mut got = 0usize;
        while got < self.max {
            let mut count = (self.max - got) as u32;
            let in_batch: *mut u32 = if first {
                std::ptr::null_mut()
            } else {
                &mut tok_in
            };
            // SAFETY: `keys`/`vals` have room for `max` keys and values
            // from index `got` on, and `count` ≤ `max - got`; the tokens are
            // 4-byte u32s (htab's batch token); the fd belongs to `map`.
            let ret = unsafe {
                libbpf_rs::libbpf_sys::bpf_map_lookup_and_delete_batch(
                    fd,
                    in_batch.cast(),
                    (&mut tok_out as *mut u32).cast(),
                    self.keys[got * ks..].as_mut_ptr().cast(),
                    self.vals[got * vs..].as_mut_ptr().cast(),
                    &mut count,
                    &opts,
                )
            };
            let errno = if ret < 0 { -ret } else { 0 };
            match errno {
                0 => got += count as usize,
                // The end of the map: `count` is what this call returned.
                libc::ENOENT => return Ok(got + count as usize),
                // A bucket holds more keys than the room left: they stay
                // for the next interval (only when room is short).
                libc::ENOSPC => return Ok(got),
                _ => return Err(os_err("BPF_MAP_LOOKUP_AND_DELETE_BATCH", map, errno)),
            }
            tok_in = tok_out;
            first = false;
        }
        Ok(got)
    }

    fn element_wise(&mut self, map: &dyn MapCore) -> Result<usize> {
        use libbpf_rs::libbpf_sys::{
            bpf_map_delete_elem, bpf_map_get_next_key, bpf_map_lookup_elem,
        };
        let (ks, vs) = (size_of::<K>(), size_of::<V>());
        let fd = map.as_fd().as_raw_fd();
        // SAFETY: a null key asks for the first key, written to `cur`
        // (`ks` bytes); the fd belongs to `map`.
        let mut ret =
            unsafe { bpf_map_get_next_key(fd, std::ptr::null(), self.cur.as_mut_ptr().cast()) };
        let mut got = 0usize;
        while ret == 0 && got < self.max {
            let key = &mut self.keys[got * ks..(got + 1) * ks];
            key.copy_from_slice(&self.cur);
            // The next key before this one is deleted: from a deleted key
            // the kernel would restart at the first key.
            // SAFETY: `key` and `cur` are distinct `ks`-byte buffers.
            ret = unsafe {
                bpf_map_get_next_key(fd, key.as_ptr().cast(), self.cur.as_mut_ptr().cast())
            };
            let val = &mut self.vals[got * vs..(got + 1) * vs];
            // SAFETY: `key` holds a key; `val` has the value's `vs` bytes.
            let found =
                unsafe { bpf_map_lookup_elem(fd, key.as_ptr().cast(), val.as_mut_ptr().cast()) };
            if found == 0 {
                // SAFETY: `key` holds a key of `ks` bytes.
                let del = unsafe { bpf_map_delete_elem(fd, key.as_ptr().cast()) };
                if del < 0 && -del != libc::ENOENT {
                    return Err(os_err("deleting a key", map, -del));
                }
                got += 1;
            } else if -found != libc::ENOENT {
                return Err(os_err("looking up a key", map, -found));
            }
        }
        if ret < 0 && -ret != libc::ENOENT {
            return Err(os_err("BPF_MAP_GET_NEXT_KEY", map, -ret));
        }
        Ok(got)
    }
}

// ---------------------------------------------------------------------------
// Sorting and limiting

/// A value struct of counters that add up (for the totals and the sum of
/// the rows cut off).
pub trait Counts: Copy + Default {
    fn add(&mut self, other: &Self);
}

/// A lone counter (syscount-style values).
impl Counts for u64 {
    fn add(&mut self, other: &Self) {
        *self = self.wrapping_add(*other);
    }
}

/// What one interval held, beyond the rows shown.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Totals<T> {
    /// Keys drained this interval.
    pub keys: usize,
    /// Keys shown (≤ ROWS).
    pub shown: usize,
    /// Keys cut off by ROWS.
    pub cut_keys: usize,
    /// The sum of the values of the keys cut off.
    pub cut: T,
    /// The sum of every value, shown or not.
    pub total: T,
}

impl<V> Totals<V> {
    /// The same totals with the sums turned into another type (the tool's
    /// serializable form of its values).
    pub fn map<T>(&self, mut f: impl FnMut(&V) -> T) -> Totals<T> {
        Totals {
            keys: self.keys,
            shown: self.shown,
            cut_keys: self.cut_keys,
            cut: f(&self.cut),
            total: f(&self.total),
        }
    }
}

/// Sorts `rows` by `score` (largest first; ties by key bytes, for a stable
/// screen), keeps the first `limit`, and returns the totals with the sum of
/// the rows cut off. Partial sort: O(n + limit·log limit).
pub fn sort_limit<K: Plain, V: Counts>(
    rows: &mut Vec<(K, V)>,
    limit: usize,
    score: impl Fn(&K, &V) -> u64,
) -> Totals<V> {
    let mut total = V::default();
    for (_, v) in rows.iter() {
        total.add(v);
    }
    let order = |a: &(K, V), b: &(K, V)| {
        score(&b.0, &b.1)
            .cmp(&score(&a.0, &a.1))
            .then_with(|| key_bytes(&a.0).cmp(key_bytes(&b.0)))
    };
    let keys = rows.len();
    if limit > 0 && limit < keys {
        rows.select_nth_unstable_by(limit - 1, order);
    }
    let mut cut = V::default();
    let cut_keys = keys.saturating_sub(limit);
    for (_, v) in rows.iter().skip(limit) {
        cut.add(v);
    }
    rows.truncate(limit);
    rows.sort_unstable_by(order);
    Totals {
        keys,
        shown: rows.len(),
        cut_keys,
        cut,
        total,
    }
}

fn key_bytes<K: Plain>(k: &K) -> &[u8] {
    // SAFETY: K is Plain: fixed-width integers and byte arrays (rule of
    // src/bpf/*.h), with no implicit padding (libbpf-cargo writes padding
    // as explicit `__pad` fields), so every byte is initialized.
    unsafe { plain::as_bytes(k) }
}

// ---------------------------------------------------------------------------
// Screen

/// What BCC's tools print through `clear` on xterm (`clear -x`: the
/// scrollback is kept).
pub const CLEAR: &str = "\x1b[H\x1b[2J";

/// The line above each table, as BCC prints it:
/// `print("%-8s loadavg: %s" % (strftime("%H:%M:%S"), stats.read()))`,
/// `/proc/loadavg` with its newline, so a blank line follows.
pub fn loadavg_line(hms: &str, loadavg: &str) -> String {
    format!("{hms:<8} loadavg: {loadavg}")
}

/// One JSON record of a row: `"type":"top"`, the interval number, then the
/// row's own fields.
#[derive(Serialize)]
pub struct TopRecord<'a, R> {
    pub interval: u64,
    #[serde(flatten)]
    pub row: &'a R,
}

impl<R: Row> Row for TopRecord<'_, R> {
    type Opts = R::Opts;
    fn columns(t: &mut Table<'_, '_, Self>, o: &R::Opts) {
        R::columns(&mut t.inner(|r| r.row), o);
    }
}

#[derive(Serialize)]
struct IntervalRecord<'a, T> {
    interval: u64,
    #[serde(flatten)]
    totals: &'a Totals<T>,
}

/// Prints the intervals: on a terminal the screen is cleared first (unless
/// `-C`), otherwise a blank line separates them (as BCC does); then the
/// loadavg line and the column header. In JSON: a `top` record per row and
/// an `interval` record with the [`Totals`] after them.
pub struct Screen {
    /// Clear before each output: `None` = only on a terminal (`-C`:
    /// `Some(false)`).
    pub clear: Option<bool>,
    /// Print the `HH:MM:SS loadavg:` line (tcptop's `-S` turns it off).
    pub loadavg: bool,
    /// Print `[HH:MM:SS]` instead of the loadavg line (syscount's, as
    /// BCC's syscount prints it).
    pub time_line: bool,
    /// The interval being printed, from 1.
    pub interval: u64,
}

impl Screen {
    pub fn new(args: &TopArgs) -> Self {
        Self {
            clear: args.noclear.then_some(false),
            loadavg: true,
            time_line: false,
            interval: 0,
        }
    }

    /// Starts the next interval's output.
    pub fn begin(&mut self, out: &mut Output) -> io::Result<()> {
        self.interval += 1;
        if out.json() {
            return Ok(());
        }
        // BCC: `call("clear")` or `print()`, then the loadavg line.
        let mut head = String::with_capacity(80);
        let clear = self.clear.unwrap_or_else(|| out.is_terminal());
        head.push_str(if clear { CLEAR } else { "\n" });
        if self.time_line {
            head.push_str(&format!("[{}]\n", out.clock.hms_now()));
        } else if self.loadavg {
            // Left out if unreadable, like libbpf-tools.
            if let Ok(l) = std::fs::read_to_string("/proc/loadavg") {
                head.push_str(&loadavg_line(&out.clock.hms_now(), &l));
                // print()'s own newline: a blank line under it.
                head.push('\n');
            }
        }
        out.raw(&head)?;
        out.header()
    }

    /// One row of this interval (`o`: the tool, which decides the columns).
    pub fn row<R: Row>(&self, out: &mut Output, row: &R, o: &R::Opts) -> io::Result<()> {
        let r = TopRecord {
            interval: self.interval,
            row,
        };
        out.row_as("top", &r, o)
    }

    /// Ends the interval: the `interval` JSON record, a flush.
    pub fn end<T: Serialize>(&self, out: &mut Output, totals: &Totals<T>) -> io::Result<()> {
        out.record(
            "interval",
            &IntervalRecord {
                interval: self.interval,
                totals,
            },
        )?;
        out.flush()
    }

    /// What `run::Interval::tick` returns: stop once COUNT
    /// intervals were printed.
    pub fn after(&self, args: &IntervalArgs) -> std::ops::ControlFlow<()> {
        if args.done(self.interval) {
            std::ops::ControlFlow::Break(())
        } else {
            std::ops::ControlFlow::Continue(())
        }
    }
}

// ---------------------------------------------------------------------------
// The runner

/// A top tool: its map's key and value, how a key becomes a row and how
/// rows are ranked. [`Runner`] makes it a [`run::Interval`](crate::run::Interval)
/// (drain, sort, limit, screen, COUNT, the `keys_dropped` summary counter),
/// so the tool writes only its CLI, configuration and row code; its `main`
/// is `run::interval::<top::Runner<Tool>>(name)`.
pub trait TopTool: Sized + 'static {
    /// The command line, with [`TopArgs`] flattened in.
    type Args: clap::Parser + 'static;
    type Skel: ToolSkel;
    type Key: Plain + Copy + Default + 'static;
    type Value: Plain + Copy + Default + Counts + 'static;
    /// What the columns depend on (the row's `Row::Opts`).
    type Opts: 'static;
    type Row<'a>: Row<Opts = Self::Opts>;
    /// The JSON form of a value sum (the `interval` record's totals).
    type Sum: Serialize;
    /// What rows are built in, reused from row to row (filetop's path
    /// buffer, biotop's disk names).
    type Scratch: 'static;
    const SHORTS: &'static [(&'static str, char)];
    /// Sets the `.rodata` knobs and map sizes before load.
    fn configure(a: Self::Args, open: &mut Open<'_, Self::Skel>) -> Result<Self>;
    fn top(&self) -> &TopArgs;
    /// Rows per interval (`-r`; syscount also takes BCC's `-T`).
    fn rows(&self) -> usize {
        self.top().rows
    }
    fn opts(&self) -> &Self::Opts;
    /// The line above the table (syscount's `[HH:MM:SS]`, tcptop's `-S`…).
    fn screen(&self, _s: &mut Screen) {}
    /// The map the BPF side counts into.
    fn map<'a>(skel: &'a Loaded<'_, Self::Skel>) -> &'a dyn MapCore;
    /// The sort key (largest first).
    fn score(&self, k: &Self::Key, v: &Self::Value) -> u64;
    /// The scratch, made once.
    fn scratch(&self) -> Self::Scratch;
    /// The row of one key (None: a key that cannot be shown, such as an
    /// address family the tool does not know; it still counts in the totals).
    fn row<'a>(
        &'a self,
        k: &'a Self::Key,
        v: &'a Self::Value,
        scratch: &'a mut Self::Scratch,
    ) -> Option<Self::Row<'a>>;
    fn sum(&self, v: &Self::Value) -> Self::Sum;
    /// How a row's JSON fields become Prometheus counters (`--prometheus`).
    const PROM: crate::prom::RowSpec;
    /// Keys the BPF side could not insert (map full), for the summary: by
    /// default the `map_full` slot of `cs_dropped`.
    fn keys_dropped(obj: &Object) -> u64 {
        crate::session::find_map(obj, "cs_dropped")
            .map(|m| keys_dropped(&m, crate::stream::SLOT_MAP_FULL))
            .unwrap_or(0)
    }
}

/// A [`TopTool`] run as an interval tool (see the module doc).
pub struct Runner<T: TopTool> {
    tool: T,
    drain: Option<Drain<T::Key, T::Value>>,
    screen: Screen,
    scratch: T::Scratch,
}

impl<T: TopTool> crate::run::Interval for Runner<T> {
    const SERVES_ROWS: bool = true;
    type Args = T::Args;
    type Skel = T::Skel;
    const SHORTS: &'static [(&'static str, char)] = T::SHORTS;

    fn configure(a: T::Args, open: &mut Open<'_, T::Skel>, s: &mut Session) -> Result<Self> {
        let tool = T::configure(a, open)?;
        s.set_header::<TopRecord<'_, T::Row<'_>>>(tool.opts());
        s.header_per_interval();
        let mut screen = Screen::new(tool.top());
        tool.screen(&mut screen);
        Ok(Self {
            scratch: tool.scratch(),
            tool,
            drain: None,
            screen,
        })
    }

    fn loaded(&mut self, skel: &mut Loaded<'_, T::Skel>, _: &mut Session) -> Result<()> {
        self.drain = Some(Drain::new(T::map(skel))?);
        Ok(())
    }

    fn period(&self) -> Duration {
        self.tool.top().interval.period()
    }

    fn tick(
        &mut self,
        skel: &Loaded<'_, T::Skel>,
        tick: &Tick,
        out: &mut Output,
    ) -> Result<ControlFlow<()>> {
        let Self {
            tool,
            drain,
            screen,
            scratch,
        } = self;
        // COUNT intervals were printed: the final call adds nothing.
        if tick.last && tool.top().interval.done(screen.interval) {
            return Ok(ControlFlow::Break(()));
        }
        let Some(drain) = drain.as_mut() else {
            anyhow::bail!("the map was not opened for draining");
        };
        let rows = drain.drain(T::map(skel))?;
        // Every key read counts in the metrics, not only the rows shown.
        if let Some(p) = &out.prom {
            for (k, v) in rows.iter() {
                if let Some(r) = tool.row(k, v, scratch) {
                    p.row(&T::PROM, &r);
                }
            }
        }
        let totals = sort_limit(rows, tool.rows(), |k, v| tool.score(k, v));
        screen.begin(out)?;
        for (k, v) in rows.iter() {
            if let Some(r) = tool.row(k, v, scratch) {
                screen.row(out, &r, tool.opts())?;
            }
        }
        screen.end(out, &totals.map(|v| tool.sum(v)))?;
        Ok(screen.after(&tool.top().interval))
    }

    fn summary(&mut self, obj: &Object) -> (Vec<Counter>, Fields) {
        let n = T::keys_dropped(obj);
        let c = Counter::new("keys_dropped", "keys dropped (map full)", n);
        (vec![c], Fields::new())
    }
}

// ---------------------------------------------------------------------------
// Map-full accounting

/// Keys the BPF side could not insert because the map was full: slot
/// `slot` of the per-CPU u64 array `map`, summed over CPUs (0 if unreadable).
pub fn keys_dropped(map: &dyn MapCore, slot: u32) -> u64 {
    crate::stream::percpu_sum(map, slot)
}

/// The summary line's words for [`keys_dropped`] (nothing when 0).
pub fn dropped_note(n: u64) -> Option<String> {
    (n > 0).then(|| format!("{n} keys dropped (map full)"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::Col;
    use clap::Parser;
    use libbpf_rs::{MapFlags, MapHandle};

    fn root_or_skip(test: &str) -> bool {
        crate::testing::root_or_skip(test, "creates BPF maps")
    }

    #[repr(C)]
    #[derive(Debug, Default, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
    struct Key {
        pid: u32,
        port: u16,
        __pad: u16,
    }
    // SAFETY: two integers and explicit padding: every bit pattern is valid.
    unsafe impl Plain for Key {}

    #[repr(C)]
    #[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
    struct Val {
        calls: u64,
        bytes: u64,
    }
    // SAFETY: two u64s.
    unsafe impl Plain for Val {}

    impl Counts for Val {
        fn add(&mut self, o: &Self) {
            self.calls += o.calls;
            self.bytes += o.bytes;
        }
    }

    fn key(i: u32) -> Key {
        Key {
            pid: 1000 + i,
            port: (i % 7) as u16,
            __pad: 0,
        }
    }
    fn val(i: u32) -> Val {
        Val {
            calls: u64::from(i % 13),
            bytes: u64::from(i) * 4096 + 1,
        }
    }

    /// A map made from user space (freed when the handle is dropped).
    fn create(ty: MapType, ks: usize, vs: usize, max: u32) -> MapHandle {
        let opts = libbpf_rs::libbpf_sys::bpf_map_create_opts {
            sz: size_of::<libbpf_rs::libbpf_sys::bpf_map_create_opts>() as _,
            ..Default::default()
        };
        MapHandle::create(ty, Some("cs_top_test"), ks as u32, vs as u32, max, &opts)
            .expect("creating a BPF map")
    }

    fn hash_map(ty: MapType, max: u32) -> MapHandle {
        create(ty, size_of::<Key>(), size_of::<Val>(), max)
    }

    fn fill(map: &MapHandle, n: u32) {
        for i in 0..n {
            let (k, v) = (key(i), val(i));
            // SAFETY: Plain structs without implicit padding.
            let (k, v) = unsafe { (plain::as_bytes(&k), plain::as_bytes(&v)) };
            map.update(k, v, MapFlags::NO_EXIST)
                .expect("filling the map");
        }
    }

    /// Drains a map holding `n` known keys with `mode`, twice: the first
    /// drain returns exactly them and leaves the map empty.
    fn drain_exact(ty: MapType, max: u32, n: u32, mode: DrainMode) {
        let map = hash_map(ty, max);
        fill(&map, n);
        let mut d = Drain::<Key, Val>::new(&map)
            .expect("a drain for the map")
            .force(mode);
        assert_eq!(d.mode(), mode);
        let got = d.drain(&map).expect("drain");
        let mut got: Vec<(Key, Val)> = got.clone();
        got.sort_by_key(|(k, _)| *k);
        let mut want: Vec<(Key, Val)> = (0..n).map(|i| (key(i), val(i))).collect();
        want.sort_by_key(|(k, _)| *k);
        assert_eq!(got.len(), want.len(), "{mode:?}: key count");
        assert_eq!(got, want, "{mode:?}: contents");
        assert_eq!(
            map.keys().count(),
            0,
            "{mode:?}: the map is empty after a drain"
        );
        // Refilled with fewer keys: the reused buffer holds only those.
        let few = max.min(3);
        fill(&map, few);
        let again = d.drain(&map).expect("second drain");
        assert_eq!(again.len(), few as usize, "{mode:?}: second drain");
        assert_eq!(d.drain(&map).expect("third drain").len(), 0);
    }

    /// Map type, max_entries, keys: partly full, full (the last key at
    /// max_entries), LRU, a single entry.
    const CASES: &[(MapType, u32, u32)] = &[
        (MapType::Hash, 4096, 1000),
        (MapType::Hash, 1024, 1024),
        (MapType::LruHash, 4096, 1000),
        (MapType::Hash, 1, 1),
    ];

    #[test]
    fn drain_batch_exact_and_empties() {
        if !root_or_skip("drain_batch_exact_and_empties") {
            return;
        }
        // This kernel has the batch op for hash maps: the probe says so.
        let map = hash_map(MapType::Hash, 16);
        assert!(probe_batch(&map));
        let d = Drain::<Key, Val>::new(&map).expect("drain");
        assert_eq!(d.mode(), DrainMode::Batch);
        for &(ty, max, n) in CASES {
            drain_exact(ty, max, n, DrainMode::Batch);
        }
    }

    #[test]
    fn drain_element_wise_exact_and_empties() {
        if !root_or_skip("drain_element_wise_exact_and_empties") {
            return;
        }
        for &(ty, max, n) in CASES {
            drain_exact(ty, max, n, DrainMode::ElementWise);
        }
    }

    #[test]
    fn drain_rejects_other_maps_and_probe_sees_no_batch() {
        if !root_or_skip("drain_rejects_other_maps_and_probe_sees_no_batch") {
            return;
        }
        // An array has no lookup-and-delete batch op: the probe says no
        // (ENOTSUPP), which is what selects the element-wise path.
        let arr = create(MapType::Array, 4, 16, 8);
        assert!(!probe_batch(&arr));
        let e = Drain::<u32, Val>::new(&arr)
            .err()
            .expect("an array is refused");
        assert!(e.to_string().contains("not a hash map"), "{e}");
        let map = hash_map(MapType::Hash, 8);
        let e = Drain::<Key, u64>::new(&map)
            .err()
            .expect("wrong value size");
        assert!(e.to_string().contains("16-byte values"), "{e}");
    }

    #[test]
    fn keys_dropped_sums_the_slot_over_cpus() {
        if !root_or_skip("keys_dropped_sums_the_slot_over_cpus") {
            return;
        }
        let map = create(MapType::PercpuArray, 4, 8, 4);
        let cpus = libbpf_rs::num_possible_cpus().expect("possible CPUs");
        let per_cpu: Vec<Vec<u8>> = (0..cpus)
            .map(|c| (10 * c as u64 + 7).to_ne_bytes().to_vec())
            .collect();
        map.update_percpu(&2u32.to_ne_bytes(), &per_cpu, MapFlags::ANY)
            .expect("setting slot 2");
        let want: u64 = (0..cpus as u64).map(|c| 10 * c + 7).sum();
        assert_eq!(keys_dropped(&map, 2), want);
        assert_eq!(keys_dropped(&map, 1), 0);
        assert_eq!(
            dropped_note(keys_dropped(&map, 2)),
            Some(format!("{want} keys dropped (map full)"))
        );
        assert_eq!(dropped_note(0), None);
    }

    #[test]
    fn sort_limit_keeps_the_top_rows_and_sums_the_rest() {
        let all: Vec<(Key, Val)> = (0..50).map(|i| (key(i), val(i))).collect();
        let score = |_: &Key, v: &Val| u64::from(v.calls as u32 % 5);
        let mut rows = all.clone();
        let t = sort_limit(&mut rows, 20, score);
        // The reference: a full sort, largest first, ties by key bytes.
        let mut want = all.clone();
        want.sort_by(|a, b| {
            score(&b.0, &b.1)
                .cmp(&score(&a.0, &a.1))
                .then_with(|| key_bytes(&a.0).cmp(key_bytes(&b.0)))
        });
        assert_eq!(rows, want[..20]);
        let sum = |r: &[(Key, Val)]| {
            let mut s = Val::default();
            r.iter().for_each(|(_, v)| s.add(v));
            s
        };
        assert_eq!(
            t,
            Totals {
                keys: 50,
                shown: 20,
                cut_keys: 30,
                cut: sum(&want[20..]),
                total: sum(&all),
            }
        );
        // Fewer keys than ROWS: all shown, sorted, nothing cut.
        let mut rows: Vec<(Key, Val)> = all[..5].to_vec();
        let t = sort_limit(&mut rows, 20, |_, v| v.bytes);
        let b: Vec<u64> = rows.iter().map(|(_, v)| v.bytes).collect();
        assert_eq!(b, [4 * 4096 + 1, 3 * 4096 + 1, 2 * 4096 + 1, 4097, 1]);
        assert_eq!(
            (t.keys, t.shown, t.cut_keys, t.cut),
            (5, 5, 0, Val::default())
        );
        assert_eq!(t.total, sum(&all[..5]));
    }

    #[test]
    fn loadavg_line_is_bccs() {
        // Recorded from libbpf-tools filetop (BCC prints the same format):
        // "14:25:19 loadavg: 0.02 0.01 0.00 2/170 31902", then a blank line
        // (the newline of /proc/loadavg, then print's).
        assert_eq!(
            loadavg_line("14:25:19", "0.02 0.01 0.00 2/170 31902\n"),
            "14:25:19 loadavg: 0.02 0.01 0.00 2/170 31902\n"
        );
    }

    #[derive(Serialize)]
    struct TRow {
        pid: u32,
        comm: &'static str,
        bytes: u64,
    }
    impl Row for TRow {
        type Opts = ();
        fn columns(t: &mut Table<'_, '_, Self>, _: &()) {
            t.col(Col::left("PID", 7), |r, c| c.put(r.pid));
            t.col(Col::left("COMM", 16), |r, c| c.text(r.comm.as_bytes()));
            t.col(Col::right("BYTES", 8), |r, c| c.put(r.bytes));
        }
    }

    /// A temp file removed on drop.
    struct Tmp(std::path::PathBuf);
    impl Tmp {
        fn new(name: &str) -> Self {
            let p = std::env::temp_dir().join(format!("cs-top-{}-{name}", std::process::id()));
            Self(p)
        }
        fn read(&self) -> String {
            std::fs::read_to_string(&self.0).expect("reading the output")
        }
    }
    impl Drop for Tmp {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    /// Two intervals of two rows into `tmp`; `clear`: None as without
    /// `-C` (a file is no terminal: not cleared).
    fn two_intervals(json: bool, clear: Option<bool>, tmp: &Tmp) {
        let mut out = Output::to(json, Some(&tmp.0)).expect("output");
        out.set_header::<TRow>(&());
        let mut s = Screen::new(&TopArgs::default());
        s.clear = clear;
        let t = Totals {
            keys: 3,
            shown: 2,
            cut_keys: 1,
            cut: 5u64,
            total: 35u64,
        };
        for _ in 0..2 {
            s.begin(&mut out).expect("begin");
            for (pid, b) in [(42, 20), (7, 10)] {
                let r = TRow {
                    pid,
                    comm: "sh",
                    bytes: b,
                };
                s.row(&mut out, &r, &()).expect("row");
            }
            s.end(&mut out, &t).expect("end");
        }
    }

    #[test]
    fn table_frames_like_bcc() {
        let re = regex::Regex::new(
            r"^(\x1b\[H\x1b\[2J|\n)\d\d:\d\d:\d\d loadavg: [\d.]+ [\d.]+ [\d.]+ \d+/\d+ \d+\n\n$",
        )
        .expect("regex");
        // BYTES is right-aligned, padded to its 8 characters.
        let header = "PID     COMM                BYTES\n";
        let rows = "42      sh                     20\n7       sh                     10\n";
        for clear in [None, Some(false), Some(true)] {
            let tmp = Tmp::new(&format!("table-{clear:?}"));
            two_intervals(false, clear, &tmp);
            let text = tmp.read();
            let frames: Vec<&str> = text.split_inclusive(rows).collect();
            assert_eq!(frames.len(), 2, "{text:?}");
            for f in frames {
                let head = f.strip_suffix(rows).expect("rows last");
                let head = head.strip_suffix(header).expect("column header");
                assert!(re.is_match(head), "{head:?}");
                assert_eq!(head.starts_with(CLEAR), clear == Some(true), "{head:?}");
            }
        }
    }

    #[test]
    fn the_time_line_replaces_the_loadavg_line() {
        // syscount's "[HH:MM:SS]" (BCC's and libbpf-tools' syscount).
        let tmp = Tmp::new("time-line");
        let mut out = Output::to(false, Some(&tmp.0)).expect("output");
        out.set_header::<TRow>(&());
        let mut s = Screen::new(&TopArgs::default());
        s.time_line = true;
        s.begin(&mut out).expect("begin");
        s.end(&mut out, &Totals::<u64>::default()).expect("end");
        drop(out);
        let re = regex::Regex::new(r"^\n\[\d\d:\d\d:\d\d\]\nPID     COMM                BYTES\n$")
            .expect("regex");
        let text = tmp.read();
        assert!(re.is_match(&text), "{text:?}");
    }

    #[test]
    fn a_terminal_is_cleared_unless_noclear() {
        use std::io::Read as _;
        use std::os::fd::{FromRawFd as _, OwnedFd};
        for (args, cleared) in [
            (TopArgs::default(), true),
            (
                TopArgs {
                    noclear: true,
                    ..TopArgs::default()
                },
                false,
            ),
        ] {
            let (mut m, mut sl) = (-1, -1);
            // SAFETY: two out-pointers for the fds; the other arguments may
            // be null (no name buffer, default termios and size).
            let r = unsafe {
                libc::openpty(
                    &mut m,
                    &mut sl,
                    std::ptr::null_mut(),
                    std::ptr::null(),
                    std::ptr::null(),
                )
            };
            assert_eq!(r, 0, "openpty: {}", io::Error::last_os_error());
            // SAFETY: openpty returned two fresh fds that nothing else owns.
            let (master, slave) = unsafe { (OwnedFd::from_raw_fd(m), OwnedFd::from_raw_fd(sl)) };
            let name = std::fs::read_link(format!("/proc/self/fd/{}", slave.as_raw_fd()))
                .expect("the pty's path");
            let mut out = Output::to(false, Some(&name)).expect("output on the pty");
            out.set_header::<TRow>(&());
            assert!(out.is_terminal());
            let mut s = Screen::new(&args);
            s.begin(&mut out).expect("begin");
            s.end(&mut out, &Totals::<u64>::default()).expect("end");
            let mut got = [0u8; 64];
            let n = std::fs::File::from(master)
                .read(&mut got)
                .expect("reading the pty");
            assert_eq!(
                got[..n].starts_with(CLEAR.as_bytes()),
                cleared,
                "{:?}",
                String::from_utf8_lossy(&got[..n])
            );
            drop(slave);
        }
    }

    #[test]
    fn json_has_a_record_per_row_per_interval() {
        let tmp = Tmp::new("json");
        two_intervals(true, Some(true), &tmp);
        let text = tmp.read();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 6, "{text}");
        for (i, iv) in [(0, 1), (3, 2)] {
            assert_eq!(
                lines[i],
                format!(
                    r#"{{"type":"top","schema":1,"interval":{iv},"pid":42,"comm":"sh","bytes":20}}"#
                )
            );
            assert_eq!(
                lines[i + 1],
                format!(
                    r#"{{"type":"top","schema":1,"interval":{iv},"pid":7,"comm":"sh","bytes":10}}"#
                )
            );
            assert_eq!(
                lines[i + 2],
                format!(
                    r#"{{"type":"interval","schema":1,"interval":{iv},"keys":3,"shown":2,"cut_keys":1,"cut":5,"total":35}}"#
                )
            );
        }
        // No clear sequence nor loadavg line in JSON, even when clearing.
        assert!(!text.contains('\x1b') && !text.contains("loadavg"));
    }

    #[derive(Parser, Debug)]
    struct T {
        #[command(flatten)]
        top: TopArgs,
    }

    #[test]
    fn top_args_follow_bcc() {
        let p = |a: &[&str]| T::try_parse_from(std::iter::once("t").chain(a.iter().copied()));
        let t = p(&[]).expect("defaults").top;
        assert_eq!(t, TopArgs::default());
        assert_eq!(
            (t.rows, t.interval.interval, t.interval.count),
            (20, 1, None)
        );
        assert!(!t.interval.done(1_000_000));
        let t = p(&["-C", "-r", "5", "2", "3"]).expect("all").top;
        assert!(t.noclear);
        assert_eq!(
            (t.rows, t.interval.period(), t.interval.count),
            (5, std::time::Duration::from_secs(2), Some(3))
        );
        assert!(!t.interval.done(2) && t.interval.done(3));
        assert_eq!(
            p(&["--maxrows", "7", "--noclear"]).expect("long").top.rows,
            7
        );
        for bad in [
            &["0"][..],
            &["1", "0"],
            &["-r", "0"],
            &["-r", "x"],
            &["1", "2", "3"],
        ] {
            assert!(p(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(Screen::new(&t).clear, Some(false), "-C never clears");
        assert_eq!(Screen::new(&TopArgs::default()).clear, None);
        let s = Screen {
            clear: None,
            loadavg: true,
            time_line: false,
            interval: 3,
        };
        assert!(s.after(&t.interval).is_break());
    }
}
