//! Event records and loss accounting.

use std::os::fd::{AsFd, AsRawFd};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use libbpf_rs::{MapCore, MapFlags};
use serde::Serialize;

/// Splits a ring-buffer record into its fixed header `E` and the payload
/// after it. Records may be shorter than a C struct with a trailing array,
/// so they are copied field by field, never cast in place.
pub fn decode<E: plain::Plain + Default>(data: &[u8]) -> Option<(E, &[u8])> {
    let n = std::mem::size_of::<E>();
    let head = data.get(..n)?;
    let mut e = E::default();
    plain::copy_from_bytes(&mut e, head).ok()?;
    Some((e, &data[n..]))
}

/// The `n` u64 fields of `map[key]`, each summed over every CPU; zeros if
/// the key is absent.
pub fn sum_u64(map: &dyn MapCore, key: u32, n: usize) -> Result<Vec<u64>> {
    let cpus = map
        .lookup_percpu(&key.to_ne_bytes(), MapFlags::ANY)
        .with_context(|| format!("reading per-CPU map {:?}", map.name()))?;
    let mut sum = vec![0u64; n];
    for v in cpus.iter().flatten() {
        for (s, b) in sum.iter_mut().zip(v.chunks_exact(8)) {
            let mut w = [0u8; 8];
            w.copy_from_slice(b);
            *s = s.wrapping_add(u64::from_ne_bytes(w));
        }
    }
    Ok(sum)
}

/// Slot `index` of a per-CPU array of `u64` counters, summed over CPUs
/// (0 if it cannot be read).
pub fn percpu_sum(map: &dyn MapCore, index: u32) -> u64 {
    sum_u64(map, index, 1)
        .ok()
        .and_then(|v| v.first().copied())
        .unwrap_or(0)
}

/// Runs of the loaded programs of `obj` (but those named in `except`) that
/// the kernel skipped because a BPF program was already running on that CPU
/// (each program's `recursion_misses`, Linux 5.12+). Classic tracepoint and
/// kprobe programs share that guard with every other tracing program on the
/// CPU; tp_btf / raw_tp programs only with themselves. Either way a softirq
/// that fires the tracepoint while the program runs is not seen.
pub fn skipped_runs(obj: &libbpf_rs::Object, except: &[&str]) -> u64 {
    use libbpf_rs::libbpf_sys::{bpf_prog_get_info_by_fd, bpf_prog_info};
    obj.progs()
        .filter(|p| p.autoload() && !except.iter().any(|e| p.name().to_str() == Some(*e)))
        .filter_map(|p| {
            let mut info = bpf_prog_info::default();
            let mut len = std::mem::size_of::<bpf_prog_info>() as u32;
            let fd = p.as_fd().as_raw_fd();
            // SAFETY: `info` is a plain C struct of `len` bytes that the
            // kernel fills in; `fd` is the fd of a loaded program of `obj`.
            let ret = unsafe { bpf_prog_get_info_by_fd(fd, &mut info, &mut len) };
            (ret == 0).then_some(info.recursion_misses)
        })
        .sum()
}

/// The `cs_dropped` slot of `CS_DROP_MAP_FULL` (src/bpf/common/common.h).
pub const SLOT_MAP_FULL: u32 = 1;

/// The kernel's per-CPU loss counters (enum corescope_drop), summed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Lost {
    /// The ring buffer was full.
    pub ring_buffer: u64,
    /// A staging map was full.
    pub map_full: u64,
    /// An end came without its recorded start: a syscall exit without its
    /// enter; a histogram tool's interval (wakeup → run, a CPU slice) that
    /// began before tracing (src/hist.bpf.h, cs_hist_missing).
    pub unpaired: u64,
    /// Forked children that could not be followed (not events themselves).
    pub untracked_forks: u64,
    /// Program runs the kernel skipped because a BPF program was already
    /// running on that CPU ([`skipped_runs`]); each may have lost an event.
    pub skipped: u64,
    /// Records shorter than their header: received, but not events (a
    /// BPF-side bug; counted, never shown as filtered).
    pub short: u64,
}

impl Lost {
    /// Events lost (untracked forks are not events).
    pub fn events(&self) -> u64 {
        self.ring_buffer + self.map_full + self.unpaired + self.skipped + self.short
    }

    pub fn read(map: &dyn MapCore) -> Self {
        let slot = |i: u32| percpu_sum(map, i);
        Self {
            ring_buffer: slot(0),
            map_full: slot(SLOT_MAP_FULL),
            unpaired: slot(2),
            untracked_forks: slot(3),
            skipped: 0,
            short: 0,
        }
    }

    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if self.ring_buffer > 0 {
            parts.push(format!(
                "{} ring buffer full (raise --buffer-pages)",
                self.ring_buffer
            ));
        }
        if self.map_full > 0 {
            parts.push(format!("{} staging map full", self.map_full));
        }
        if self.skipped > 0 {
            parts.push(format!(
                "{} program runs skipped by the kernel (nested BPF)",
                self.skipped
            ));
        }
        if self.short > 0 {
            parts.push(format!("{} records shorter than their header", self.short));
        }
        if self.unpaired > 0 {
            parts.push(format!(
                "{} ends seen without their start (a syscall exit without its enter; a histogram tool's interval begun before tracing)",
                self.unpaired
            ));
        }
        parts.join(", ")
    }
}

/// Reports new losses on stderr at most once a second.
pub struct LossReporter {
    reported: u64,
    last_notice: Option<Instant>,
}

impl LossReporter {
    pub fn new() -> Self {
        Self {
            reported: 0,
            last_notice: None,
        }
    }

    /// Returns the number of newly lost events, printing a notice if due.
    pub fn update(&mut self, tool: &str, lost: &Lost, force: bool) -> u64 {
        let total = lost.events();
        let new = total.saturating_sub(self.reported);
        if new == 0 {
            return 0;
        }
        let due = self
            .last_notice
            .is_none_or(|t| t.elapsed() >= Duration::from_secs(1));
        if due || force {
            crate::diag!("{tool}: warning: {new} events lost ({})", lost.describe());
            self.reported = total;
            self.last_notice = Some(Instant::now());
            new
        } else {
            0
        }
    }
}

impl Default for LossReporter {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default, Debug, Clone, Copy, PartialEq)]
    #[repr(C)]
    struct H {
        a: u32,
        b: u32,
    }
    // SAFETY: two u32s, any bit pattern is valid.
    unsafe impl plain::Plain for H {}

    #[test]
    fn decode_splits_header_and_payload() {
        let mut rec = Vec::new();
        rec.extend_from_slice(&7u32.to_ne_bytes());
        rec.extend_from_slice(&9u32.to_ne_bytes());
        rec.extend_from_slice(b"payload");
        let (h, p) = decode::<H>(&rec).unwrap();
        assert_eq!(h, H { a: 7, b: 9 });
        assert_eq!(p, b"payload");
        assert!(decode::<H>(&rec[..5]).is_none());
    }

    #[test]
    fn loss_accounting() {
        let l = Lost {
            ring_buffer: 3,
            map_full: 1,
            unpaired: 1,
            untracked_forks: 9,
            skipped: 2,
            short: 0,
        };
        assert_eq!(l.events(), 7);
        assert!(l.describe().contains("2 program runs skipped"));
        let mut r = LossReporter::new();
        assert_eq!(r.update("t", &l, false), 7);
        let l2 = Lost {
            ring_buffer: 4,
            ..l
        };
        assert_eq!(r.update("t", &l2, false), 0, "rate-limited");
        assert_eq!(r.update("t", &l2, true), 1, "forced at the end");
    }
}
