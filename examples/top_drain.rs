//! Bench of the top shape's per-interval cost (no test: numbers for
//! BENCHMARKS.md): drains a hash map of N live keys with each drain mode,
//! then sorts and limits them to 20 rows. Needs root (creates BPF maps).
//!
//! `sudo cargo run --release --example top_drain [N...]` (default 1000 10000)

use std::process::ExitCode;
use std::time::{Duration, Instant};

use corescope::top::{sort_limit, Drain, DrainMode};
use libbpf_rs::{MapCore, MapFlags, MapHandle, MapType};

const RUNS: usize = 21;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn run(n: u32) -> anyhow::Result<()> {
    let opts = libbpf_rs::libbpf_sys::bpf_map_create_opts {
        sz: std::mem::size_of::<libbpf_rs::libbpf_sys::bpf_map_create_opts>() as _,
        ..Default::default()
    };
    // Capacity with headroom, as a tool would size it.
    let map = MapHandle::create(MapType::Hash, Some("cs_top_bench"), 8, 8, n * 2, &opts)?;
    let fill = || -> anyhow::Result<()> {
        for i in 0..u64::from(n) {
            map.update(
                &(i << 20 | 7).to_ne_bytes(),
                &i.to_ne_bytes(),
                MapFlags::ANY,
            )?;
        }
        Ok(())
    };
    for mode in [DrainMode::Batch, DrainMode::ElementWise] {
        let mut d = Drain::<u64, u64>::new(&map)?.force(mode);
        let (mut drains, mut sorts) = (Vec::new(), Vec::new());
        for _ in 0..RUNS {
            fill()?;
            let t = Instant::now();
            let rows = d.drain(&map)?;
            drains.push(t.elapsed());
            anyhow::ensure!(rows.len() == n as usize, "drained {} of {n}", rows.len());
            let t = Instant::now();
            let tot = sort_limit(rows, 20, |_, v| *v);
            sorts.push(t.elapsed());
            anyhow::ensure!(tot.keys == n as usize && rows.len() == 20.min(n as usize));
            anyhow::ensure!(map.keys().next().is_none(), "map not empty");
        }
        let (dr, so) = (median(drains), median(sorts));
        println!(
            "{n:>6} keys  {:<11}  drain {:>8.1} µs ({:>5.0} ns/key)  sort+limit 20: {:>6.1} µs",
            format!("{mode:?}"),
            dr.as_secs_f64() * 1e6,
            dr.as_secs_f64() * 1e9 / f64::from(n),
            so.as_secs_f64() * 1e6,
        );
    }
    Ok(())
}

fn main() -> ExitCode {
    let ns: Vec<u32> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let ns = if ns.is_empty() {
        vec![1000, 10_000]
    } else {
        ns
    };
    for n in ns {
        if let Err(e) = run(n) {
            corescope::diag!("top_drain: {e:#}");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
