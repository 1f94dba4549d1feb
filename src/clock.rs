//! Event timestamps (CLOCK_MONOTONIC from bpf_ktime_get_ns) to the TIME and
//! TIME(s) columns.

use nix::time::{clock_gettime, ClockId};

fn now_ns(id: ClockId) -> i128 {
    clock_gettime(id)
        .map(|t| t.tv_sec() as i128 * 1_000_000_000 + t.tv_nsec() as i128)
        .unwrap_or(0)
}

/// CLOCK_MONOTONIC now, in ns (the clock of `bpf_ktime_get_ns`).
pub fn monotonic_ns() -> u64 {
    now_ns(ClockId::CLOCK_MONOTONIC) as u64
}

#[derive(Debug, Clone, Copy)]
pub struct Clock {
    /// Monotonic time when tracing started.
    start_mono: u64,
    /// realtime - monotonic, in ns.
    wall_offset: i128,
    /// Local time zone offset from UTC, in seconds (taken once at start;
    /// computing it per event is not thread-safe in every libc).
    utc_offset: i64,
}

impl Clock {
    pub fn new() -> Self {
        let mono = now_ns(ClockId::CLOCK_MONOTONIC);
        let real = now_ns(ClockId::CLOCK_REALTIME);
        Self {
            start_mono: mono as u64,
            wall_offset: real - mono,
            utc_offset: local_utc_offset(),
        }
    }

    /// Restarts the elapsed-time origin (call once tracing is attached).
    pub fn reset(&mut self) {
        self.start_mono = now_ns(ClockId::CLOCK_MONOTONIC) as u64;
    }

    /// Seconds since tracing started (negative for events before it).
    pub fn elapsed(&self, ts_ns: u64) -> f64 {
        (ts_ns as i128 - self.start_mono as i128) as f64 / 1e9
    }

    /// Wall-clock time of a monotonic timestamp, in ns since the epoch.
    pub fn wall_ns(&self, ts_ns: u64) -> i128 {
        ts_ns as i128 + self.wall_offset
    }

    /// Local HH:MM:SS now (periodic output).
    pub fn hms_now(&self) -> String {
        self.hms(now_ns(ClockId::CLOCK_MONOTONIC) as u64)
    }

    /// Local HH:MM:SS of a monotonic timestamp.
    pub fn hms(&self, ts_ns: u64) -> String {
        self.hms_of(ts_ns).to_string()
    }

    /// Local HH:MM:SS of a monotonic timestamp, formatted only where it is
    /// written (a row's cell or JSON field): no String per event.
    pub fn hms_of(&self, ts_ns: u64) -> Hms {
        let secs = (self.wall_ns(ts_ns).div_euclid(1_000_000_000) as i64 + self.utc_offset)
            .rem_euclid(86_400);
        Hms(secs as u32)
    }
}

/// Seconds since local midnight, shown as HH:MM:SS (a JSON string too).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hms(u32);

impl std::fmt::Display for Hms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.0;
        write!(f, "{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    }
}

impl serde::Serialize for Hms {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::new()
    }
}

fn local_utc_offset() -> i64 {
    let now: libc::time_t =
        now_ns(ClockId::CLOCK_REALTIME).div_euclid(1_000_000_000) as libc::time_t;
    let mut tm = std::mem::MaybeUninit::<libc::tm>::zeroed();
    // SAFETY: localtime_r only writes into the tm we own; a null return
    // means failure and leaves us on UTC.
    let ok = unsafe { !libc::localtime_r(&now, tm.as_mut_ptr()).is_null() };
    if ok {
        // SAFETY: localtime_r succeeded, so tm is initialised.
        unsafe { tm.assume_init() }.tm_gmtoff
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hms_and_elapsed() {
        let c = Clock {
            start_mono: 1_000_000_000,
            wall_offset: 0,
            utc_offset: 3600,
        };
        assert_eq!(c.hms(3_600_000_000_000 + 61_000_000_000), "02:01:01");
        assert!((c.elapsed(2_500_000_000) - 1.5).abs() < 1e-9);
    }
}
