//! `corescope exporter --listen ADDR:PORT TOOL [ARGS] [-- TOOL [ARGS]]…`:
//! several tools in one process, one `/metrics` endpoint ([`crate::prom`]).
//! Each tool runs its own session on a thread of its own, with its own BPF
//! object, exactly as it runs alone with `--prometheus`, its rows going
//! nowhere; they share the metrics store. The exporter ends (exit 0) on
//! Ctrl-C / SIGTERM; when one tool ends by itself (an error, its
//! `--duration`) the others are stopped, and the exit code is 1 if any
//! tool failed, so that systemd's `Restart=on-failure` restarts it.

use std::ffi::OsString;
use std::process::ExitCode;
use std::sync::mpsc;

use anyhow::Result;

use crate::error::UserError;
use crate::tools::TOOLS;

/// The exporter's command line.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Serve http://ADDR:PORT/metrics (`:PORT`: every address)
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: String,

    /// Label sets kept per metric; further keys are counted in the series
    /// without key labels (`other`)
    #[arg(long, value_name = "N", default_value_t = crate::prom::DEFAULT_SERIES,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..100_000))]
    pub series: usize,

    /// The tools and their arguments, separated by `--`: `biolatency -D --
    /// runqlat -- syscount -P`
    #[arg(value_name = "TOOL [ARGS]", required = true, num_args = 1..,
          trailing_var_arg = true, allow_hyphen_values = true)]
    pub tools: Vec<OsString>,
}

/// `TOOL ARGS… -- TOOL ARGS…` → one command line per tool (its name first).
pub fn split(words: &[OsString]) -> Result<Vec<(&'static str, Vec<OsString>)>> {
    let mut out = Vec::new();
    for group in words.split(|w| w == "--") {
        let Some(first) = group.first() else {
            return Err(UserError::hint(
                "exporter: an empty tool between `--` separators",
                "write TOOL [ARGS] between the separators: biolatency -- runqlat",
            )
            .into());
        };
        let Some(&(name, _)) = TOOLS.iter().find(|(t, _)| first == *t) else {
            return Err(UserError::hint(
                format!("exporter: no tool called {:?}", first.to_string_lossy()),
                "`corescope list` lists the tools",
            )
            .into());
        };
        if out.iter().any(|(n, _)| *n == name) {
            return Err(UserError::hint(
                format!("exporter: {name} is given twice"),
                "give each tool once (its metrics are named after it)",
            )
            .into());
        }
        out.push((name, group.to_vec()));
    }
    Ok(out)
}

/// Runs the exporter (see the module doc).
pub fn run(a: Args) -> Result<ExitCode> {
    let tools = split(&a.tools)?;
    crate::load::check_privileges()?;
    // Mounted (privately) now, before the tools' threads exist: they share
    // this thread's mount namespace.
    crate::load::ensure_tracefs()?;
    let sink = crate::prom::Sink::new(a.series);
    let local = crate::prom::serve("--listen", &a.listen, sink.clone())?;
    crate::prom::set_exporter_sink(sink);
    crate::session::install_stop_handler()?;
    let names: Vec<&str> = tools.iter().map(|(n, _)| *n).collect();
    crate::diag!(
        "exporter: serving {} on http://{local}/metrics",
        names.join(", ")
    );
    let (done, ended) = mpsc::channel::<(&'static str, bool)>();
    let mut threads = Vec::new();
    for (name, args) in tools {
        let Some(main) = crate::tools::find(name) else {
            continue;
        };
        let done = done.clone();
        let t = std::thread::Builder::new()
            .name(format!("cs-{name}"))
            .spawn(move || {
                crate::cli::set_thread_args(args);
                let ok = main(name) == ExitCode::SUCCESS;
                let _ = done.send((name, ok));
            })
            .map_err(|e| anyhow::anyhow!("starting {name}'s thread: {e}"))?;
        threads.push(t);
    }
    drop(done);
    let mut failed = Vec::new();
    let mut first = true;
    for (name, ok) in ended.iter() {
        if first {
            // One ended (Ctrl-C ends them all at once): stop the others.
            crate::session::stop_all();
            first = false;
        }
        if !ok {
            failed.push(name);
        }
    }
    for t in threads {
        let _ = t.join();
    }
    if failed.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        crate::diag!("exporter: stopped: {} failed", failed.join(", "));
        Ok(ExitCode::FAILURE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Vec<OsString> {
        s.split_whitespace().map(OsString::from).collect()
    }

    #[test]
    fn tools_are_split_at_double_dashes() {
        let words = w("biolatency -D -- runqlat 5 -- syscount -P");
        let got = split(&words).unwrap();
        let names: Vec<_> = got.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["biolatency", "runqlat", "syscount"]);
        assert_eq!(got[1].1, w("runqlat 5"));
        for bad in [
            "nosuchtool",
            "biolatency -- -- runqlat",
            "runqlat -- runqlat",
            "-- runqlat",
        ] {
            assert!(split(&w(bad)).is_err(), "{bad}");
        }
    }
}
