//! biolatency: block I/O latency as a histogram, from a request's issue
//! (or with -Q its insertion into the OS queue) to its completion. Based on
//! biolatency(8) from BCC and libbpf-tools; the BPF side says what differs
//! (tools/biolatency/biolatency.bpf.c).

use std::fmt::Write as _;
use std::ops::ControlFlow;
use std::path::Path;
use std::time::Duration;

use corescope::disk::{disk_dev, DiskNames};
use corescope::hist::{self, Hist, HistMap, HistValue, Key};
use corescope::prelude::*;
use corescope::run::{Loaded, Open};
use corescope::session::{Counter, Fields, Tick};
use corescope::skel::biolatency::types::{
    biolatency_flag as Flag, biolatency_op as Op, cs_hist as Value,
};
use corescope::skel::biolatency::{BiolatencySkelBuilder, OpenBiolatencySkel};
use libbpf_rs::Object;

// The tests check the dev_t helpers through this module, where they were.
#[cfg(test)]
use corescope::{
    disk::{maj_min, parse_dev},
    UserError,
};

const EXAMPLES: &str = "EXAMPLES:
    biolatency             # block I/O latency, one histogram at Ctrl-C
    biolatency 1 10        # every second, 10 times (each of that second only)
    biolatency -mT 1       # milliseconds, with the time before each histogram
    biolatency -Q          # include the time queued in the OS (from insertion)
    biolatency -D          # one histogram per disk
    biolatency -F          # one histogram per operation and flags (Sync-Write…)
    biolatency --disk sda  # only disk sda
    biolatency -e          # and the average, total and count of each interval
    biolatency -j -d 10    # JSON: one record per histogram, for 10 seconds";

/// libbpf-tools' banner, printed as the (only) table header.
const BANNER: &str = "Tracing block device I/O... Hit Ctrl-C to end.";

/// Summarize block device I/O latency as a histogram.
#[derive(Parser, Debug)]
#[command(version, after_help = EXAMPLES)]
struct Args {
    /// Include the time queued in the OS (from insertion into the I/O
    /// scheduler's queue), not only the device's
    #[arg(short = 'Q', long)]
    queued: bool,
    /// Millisecond histogram (default: microseconds)
    #[arg(short = 'm', long)]
    milliseconds: bool,
    /// One histogram per disk
    #[arg(short = 'D', long)]
    disks: bool,
    /// One histogram per set of I/O flags (operation and flags)
    #[arg(short = 'F', long)]
    flags: bool,
    /// Trace only this disk (a name of /sys/class/block: sda, nvme0n1, loop3)
    #[arg(long, value_name = "NAME")]
    disk: Option<String>,
    /// Extended: the average, total and count of each interval's I/O
    #[arg(short = 'e', long)]
    extended: bool,
    #[command(flatten)]
    iv: hist::IntervalArgs,
    #[command(flatten)]
    common: CommonArgs,
}

impl Args {
    fn unit(&self) -> &'static str {
        if self.milliseconds {
            "msecs"
        } else {
            "usecs"
        }
    }
}

/// libbpf-tools' names, in its order: flags, then the operation
/// (`Sync-Write`).
const FLAG_NAMES: &[(Flag, &str)] = &[
    (Flag::BIOLAT_F_NOWAIT, "NoWait-"),
    (Flag::BIOLAT_F_BACKGROUND, "Background-"),
    (Flag::BIOLAT_F_RAHEAD, "ReadAhead-"),
    (Flag::BIOLAT_F_PREFLUSH, "PreFlush-"),
    (Flag::BIOLAT_F_FUA, "FUA-"),
    (Flag::BIOLAT_F_INTEGRITY, "Integrity-"),
    (Flag::BIOLAT_F_IDLE, "Idle-"),
    (Flag::BIOLAT_F_NOMERGE, "NoMerge-"),
    (Flag::BIOLAT_F_PRIO, "Priority-"),
    (Flag::BIOLAT_F_META, "Metadata-"),
    (Flag::BIOLAT_F_SYNC, "Sync-"),
];

fn op_name(op: u32) -> &'static str {
    match Op(op) {
        Op::BIOLAT_OP_READ => "Read",
        Op::BIOLAT_OP_WRITE => "Write",
        Op::BIOLAT_OP_FLUSH => "Flush",
        Op::BIOLAT_OP_DISCARD => "Discard",
        Op::BIOLAT_OP_SECURE_ERASE => "SecureErase",
        Op::BIOLAT_OP_WRITE_ZEROES => "WriteZeroes",
        Op::BIOLAT_OP_ZONE_APPEND => "ZoneAppend",
        Op::BIOLAT_OP_ZONE_OPEN => "ZoneOpen",
        Op::BIOLAT_OP_ZONE_CLOSE => "ZoneClose",
        Op::BIOLAT_OP_ZONE_FINISH => "ZoneFinish",
        Op::BIOLAT_OP_ZONE_RESET => "ZoneReset",
        Op::BIOLAT_OP_ZONE_RESET_ALL => "ZoneResetAll",
        Op::BIOLAT_OP_DRV_IN => "DrvIn",
        Op::BIOLAT_OP_DRV_OUT => "DrvOut",
        _ => "Unknown",
    }
}

/// The flags half of a key (biolatency.h) as libbpf-tools names it.
fn flags_name(flags: u32, buf: &mut String) {
    buf.clear();
    for (f, name) in FLAG_NAMES {
        if flags & f.0 != 0 {
            buf.push_str(name);
        }
    }
    buf.push_str(op_name(flags & 0xff));
}

/// `-e` in JSON: the interval's totals, over all its histograms.
#[derive(Serialize)]
struct Extended<'a> {
    unit: &'a str,
    count: u64,
    total: u64,
    avg: Option<u64>,
}

/// The tool: an interval tool printing its histograms (what
/// `hist::Runner` does, plus disk names, flag names and `-e`).
struct Biolatency {
    a: Args,
    map: Option<HistMap<u64, Value>>,
    steps: hist::Steps,
    disks: DiskNames,
    flags: String,
    counted: u64,
}

impl Biolatency {
    /// One interval: `-T`, each histogram (sorted by disk number, then
    /// flags), `-e`.
    fn print(&mut self, rows: &[(u64, Value)], out: &mut Output) -> Result<()> {
        let time = self.a.iv.timestamp.then(|| out.clock.hms_now());
        hist::begin_interval(out, time.as_deref())?;
        let unit = self.a.unit();
        let (mut count, mut total) = (0u64, 0u64);
        let empty = [(0u64, Value::default())];
        let rows = if rows.is_empty() { &empty[..] } else { rows };
        for (k, v) in rows {
            let h = Hist::log2(v.slots(), unit).with_sum(v.sum());
            let mut keys = [Key::Flags(""), Key::Flags("")];
            let mut n = 0;
            if self.a.disks {
                keys[n] = Key::Disk(self.disks.get((k >> 32) as u32));
                n += 1;
            }
            if self.a.flags {
                flags_name(*k as u32, &mut self.flags);
                keys[n] = Key::Flags(&self.flags);
                n += 1;
            }
            // libbpf-tools' newline before each histogram: with -D it
            // starts the section header, with -F it ends it.
            if n == 0 && !out.json() && h.stats().count > 0 {
                out.raw_line("")?;
            }
            let st = h.stats();
            count += st.count;
            total += v.sum();
            hist::emit(out, &keys[..n], &h)?;
        }
        self.counted += count;
        if self.a.extended {
            let avg = total.checked_div(count);
            if out.json() {
                let e = Extended {
                    unit,
                    count,
                    total,
                    avg,
                };
                out.record("extended", &e)?;
            } else if let Some(avg) = avg {
                // BCC's line, blank lines around it.
                let mut line = String::new();
                let _ = write!(
                    line,
                    "\navg = {avg} {unit}, total: {total} {unit}, count: {count}\n"
                );
                out.raw_line(&line)?;
            }
        }
        Ok(())
    }
}

/// The tool's `.rodata` knobs and map sizes, before load.
fn configure(open: &mut OpenBiolatencySkel<'_>, a: &Args) -> Result<()> {
    let dev = a
        .disk
        .as_deref()
        .map(|d| disk_dev(Path::new("/sys"), d))
        .transpose()?;
    hist::size_map(&mut open.maps.hists, a.disks || a.flags, 10240)?;
    // Only -Q needs the insertion and the merges.
    open.progs.biolatency_insert.set_autoload(a.queued);
    open.progs.biolatency_merge.set_autoload(a.queued);
    let ro = open.rodata()?;
    ro.targ_queued = u8::from(a.queued);
    ro.targ_per_disk = u8::from(a.disks);
    ro.targ_per_flag = u8::from(a.flags);
    ro.targ_ms = u8::from(a.milliseconds);
    ro.filter_dev = u8::from(dev.is_some());
    ro.targ_dev = dev.unwrap_or(0);
    Ok(())
}

impl Interval for Biolatency {
    const SERVES_ROWS: bool = true;
    type Args = Args;
    type Skel = BiolatencySkelBuilder;
    #[rustfmt::skip]
    const SHORTS: &'static [(&'static str, char)] = &[("pid", 'p'),
    ("cgroup", 'c'),
    ("json", 'j'),
    ("duration", 'd'),
    ("verbose", 'v'),
    ("timestamp", 'T'),];

    fn configure(a: Args, open: &mut Open<'_, Self::Skel>, s: &mut Session) -> Result<Self> {
        configure(open, &a)?;
        hist::set_banner(s, BANNER);
        Ok(Self {
            steps: a.iv.steps(),
            a,
            map: None,
            disks: DiskNames::new(Path::new("/sys")),
            flags: String::new(),
            counted: 0,
        })
    }

    fn loaded(&mut self, skel: &mut Loaded<'_, Self::Skel>, _: &mut Session) -> Result<()> {
        self.map = Some(HistMap::new(&skel.maps.hists)?);
        Ok(())
    }

    fn period(&self) -> Duration {
        self.a.iv.period()
    }

    fn tick(
        &mut self,
        skel: &Loaded<'_, Self::Skel>,
        _: &Tick,
        out: &mut Output,
    ) -> Result<ControlFlow<()>> {
        if !self.steps.print_now() {
            return Ok(ControlFlow::Break(()));
        }
        let Some(mut map) = self.map.take() else {
            return Ok(ControlFlow::Break(()));
        };
        let res = map
            .take(&skel.maps.hists, |(k, _)| *k)
            .and_then(|rows| self.print(rows, out));
        self.map = Some(map);
        res?;
        Ok(self.steps.flow())
    }

    fn summary(&mut self, _: &Object) -> (Vec<Counter>, Fields) {
        let c = Counter::new("counted", "counted", self.counted);
        (vec![c], Fields::new())
    }
}

/// The tool (its binary, or `corescope biolatency`).
pub fn main(name: &'static str) -> ExitCode {
    corescope::run::interval::<Biolatency>(name)
}

#[cfg(test)]
mod tests;
