//! `[interval [count]]`, the positional arguments of BCC's periodic tools,
//! in their two flavours: a histogram tool prints once at the end unless
//! given an INTERVAL ([`HistInterval`], with `-T`), a top tool every second
//! by default ([`TopInterval`]). Both count the outputs against COUNT the
//! same way ([`Steps`], [`reached`]).

use std::ops::ControlFlow;
use std::time::Duration;

/// Whether `n` outputs reach COUNT (never without one).
pub fn reached(count: Option<u64>, n: u64) -> bool {
    count.is_some_and(|c| n >= c)
}

/// `[interval [count]]` as BCC's histogram tools take them, and `-T`.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct HistInterval {
    /// Print a histogram every INTERVAL seconds, each of that interval only
    /// (default: one, at the end: Ctrl-C or --duration)
    #[arg(value_name = "INTERVAL", value_parser = clap::value_parser!(u64).range(1..))]
    pub interval: Option<u64>,

    /// Stop after COUNT intervals
    #[arg(value_name = "COUNT", requires = "interval",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub count: Option<u64>,

    /// Print the time (HH:MM:SS) before each interval's histograms
    #[arg(long)]
    pub timestamp: bool,
}

impl HistInterval {
    /// The period for `Session::every`: INTERVAL, or never (one print at
    /// the end).
    pub fn period(&self) -> Duration {
        self.interval.map_or(Duration::MAX, Duration::from_secs)
    }

    /// A counter of the intervals printed.
    pub fn steps(&self) -> Steps {
        Steps {
            count: self.count,
            printed: 0,
        }
    }
}

/// Counts the intervals printed against `COUNT` (see [`HistInterval`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Steps {
    count: Option<u64>,
    printed: u64,
}

impl Steps {
    /// Whether to print at this tick: at every tick (the last one, at
    /// Ctrl-C or --duration, prints the interval cut short) until COUNT
    /// intervals are printed; `Session::every`'s final call after COUNT is
    /// then skipped.
    pub fn print_now(&mut self) -> bool {
        if reached(self.count, self.printed) {
            return false;
        }
        self.printed += 1;
        true
    }

    /// Stop once COUNT intervals are printed.
    pub fn flow(&self) -> ControlFlow<()> {
        if reached(self.count, self.printed) {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }

    /// Intervals printed so far.
    pub fn printed(&self) -> u64 {
        self.printed
    }
}

/// `[interval [count]]` as BCC's periodic tools take them: seconds between
/// outputs (default 1) and how many outputs before exiting (default:
/// until Ctrl-C).
#[derive(clap::Args, Debug, Clone, Copy, PartialEq, Eq)]
pub struct TopInterval {
    /// Seconds between outputs
    #[arg(value_name = "INTERVAL", default_value_t = 1,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub interval: u64,

    /// Number of outputs, then exit (default: until Ctrl-C)
    #[arg(value_name = "COUNT", value_parser = clap::value_parser!(u64).range(1..))]
    pub count: Option<u64>,
}

impl Default for TopInterval {
    fn default() -> Self {
        Self {
            interval: 1,
            count: None,
        }
    }
}

impl TopInterval {
    /// The interval as a duration (any u64 of seconds fits; a tick too far
    /// to represent is handled by the runner's loop, `Session::every`).
    pub fn period(&self) -> Duration {
        Duration::from_secs(self.interval)
    }

    /// Whether `shown` outputs complete the run.
    pub fn done(&self, shown: u64) -> bool {
        reached(self.count, shown)
    }
}
