//! `corescope`: commands about the corescope tools as a whole.
//! `corescope check [--json]` tells whether each tool can run here.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

const EXAMPLES: &str = "EXAMPLES:
    corescope check            # can each tool run here? one line per tool
    corescope check --json     # the same, and what was probed, as JSON";

/// Commands about the corescope tools as a whole.
#[derive(Parser, Debug)]
#[command(name = "corescope", version = corescope::cli::VERSION, after_help = EXAMPLES)]
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
}

fn main() -> ExitCode {
    corescope::main(|| {
        let args: Args = corescope::cli::parse(&[]);
        match args.cmd {
            Cmd::Check { json } => {
                // Tracepoints are looked up in tracefs: mount it privately
                // if it is not (as every tool does), when we may.
                if corescope::load::check_privileges().is_ok() {
                    let _ = corescope::load::ensure_tracefs();
                }
                let report = corescope::check::run()?;
                if json {
                    println!("{}", serde_json::to_string_pretty(&report)?);
                } else {
                    print!("{}", report.text());
                }
                Ok(if report.all_ok() {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::FAILURE
                })
            }
        }
    })
}
