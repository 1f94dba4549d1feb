//! `corescope`: the multi-call binary, every tool in one, and the commands
//! about the tools as a whole. Run as `execsnoop` (a link named after a tool,
//! with any prefix or suffix: `execsnoop-cs`) or as `corescope execsnoop …`,
//! it is that tool; `corescope check [--json]` tells whether each tool can
//! run here.

use std::ffi::OsStr;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

use corescope::tools::{Main, TOOLS};

const STDOUT: &str = "writing to stdout failed";

const EXAMPLES: &str = "EXAMPLES:
    corescope check            # can each tool run here? one line per tool
    corescope check --json     # the same, and what was probed, as JSON
    corescope execsnoop -h     # any tool, as `corescope TOOL` (or by its own name)
    corescope exporter --listen :9476 runqlat -- syscount  # their metrics on one endpoint";

/// Commands about the corescope tools as a whole; `corescope TOOL …` runs a tool
#[derive(Parser, Debug)]
#[command(name = "corescope", version, after_help = EXAMPLES)]
struct Args {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Tell, for this machine, whether each tool can run and why not (exit 1 if one cannot)
    Check {
        /// Print one JSON object instead of text
        #[arg(short = 'j', long)]
        json: bool,
    },
    /// List the tools in this binary
    List,
    /// Serve Prometheus metrics of several tools from one process:
    /// `corescope exporter --listen 127.0.0.1:9476 biolatency -D -- runqlat`
    Exporter(corescope::exporter::Args),
}

/// The tool named by `name`: exactly, or as the longest tool name inside it
/// (installed with a prefix or suffix). `corescope` itself is no tool.
fn tool_for(name: &OsStr) -> Option<(&'static str, Main)> {
    let name = name.to_str()?;
    if let Some(t) = TOOLS.iter().find(|(t, _)| *t == name) {
        return Some(*t);
    }
    if name.contains("corescope") {
        return None;
    }
    TOOLS
        .iter()
        .filter(|(t, _)| name.contains(t))
        .max_by_key(|(t, _)| t.len())
        .copied()
}

fn main() -> ExitCode {
    let mut args = std::env::args_os();
    let arg0 = args.next().unwrap_or_default();
    let base = Path::new(&arg0).file_name().unwrap_or_default();
    if let Some((name, run)) = tool_for(base) {
        return run(name);
    }
    if let Some((name, run)) = args
        .next()
        .and_then(|a| TOOLS.iter().find(|(t, _)| OsStr::new(t) == a))
        .copied()
    {
        corescope::cli::skip_arg0();
        return run(name);
    }
    corescope::main(|| {
        let args: Args = corescope::cli::parse("corescope", &[]);
        // println! would panic on a full disk or a closed pipe.
        let mut out = std::io::stdout().lock();
        match args.cmd {
            Cmd::Check { json } => {
                // Tracepoints are looked up in tracefs: mount it privately
                // if it is not (as every tool does), when we may.
                if corescope::load::check_privileges().is_ok() {
                    let _ = corescope::load::ensure_tracefs();
                }
                let report = corescope::check::run()?;
                if json {
                    writeln!(out, "{}", serde_json::to_string_pretty(&report)?).context(STDOUT)?;
                } else {
                    write!(out, "{}", report.text()).context(STDOUT)?;
                }
                out.flush().context(STDOUT)?;
                Ok(if report.all_ok() {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::FAILURE
                })
            }
            Cmd::Exporter(a) => corescope::exporter::run(a),
            Cmd::List => {
                for (t, _) in TOOLS {
                    writeln!(out, "{t}").context(STDOUT)?;
                }
                out.flush().context(STDOUT)?;
                Ok(ExitCode::SUCCESS)
            }
        }
    })
}
