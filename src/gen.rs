//! Man pages (section 8) and shell completions generated from a tool's clap
//! definition. Every tool reaches this through [`crate::cli::parse`] when
//! `CORESCOPE_GENERATE=KIND[:NAME]` is set, so a new tool needs nothing here:
//!
//! - KIND: `man`, `bash`, `zsh`, `fish`, or `flags` (every option, one a line:
//!   what the tests compare the others against);
//! - NAME: the installed command name when it differs from the tool's own
//!   (`make install SUFFIX=…`).

use std::ffi::OsStr;
use std::io::Write;

use anyhow::{bail, Context, Result};
use clap::Command;
use clap_complete::Shell;

/// The environment variable [`crate::cli::parse`] looks at.
pub const ENV: &str = "CORESCOPE_GENERATE";

/// Every output kind.
pub const KINDS: &[&str] = &["man", "bash", "zsh", "fish", "flags"];

/// Parses `KIND[:NAME]` and writes the result to stdout.
pub fn generate_to_stdout(cmd: Command, req: &OsStr) -> Result<()> {
    let req = req
        .to_str()
        .with_context(|| format!("{ENV}: not UTF-8: {req:?}"))?;
    let (kind, name) = match req.split_once(':') {
        Some((k, n)) if !n.is_empty() => (k, Some(n)),
        Some((k, _)) => (k, None),
        None => (req, None),
    };
    let mut out = std::io::stdout().lock();
    generate(cmd, kind, name, &mut out)?;
    out.flush().context("writing stdout")
}

/// Writes `kind` (one of [`KINDS`]) for `cmd`, installed as `name` (by
/// default the command's own name).
pub fn generate(cmd: Command, kind: &str, name: Option<&str>, w: &mut dyn Write) -> Result<()> {
    let tool = cmd.get_name().to_string();
    let name = name.unwrap_or(&tool).to_string();
    let mut cmd = cmd.name(name.clone()).bin_name(name.clone());
    match kind {
        "man" => man(cmd, &tool, &name, w)?,
        "flags" => {
            cmd.build();
            for f in flags(&cmd) {
                writeln!(w, "{f}")?;
            }
        }
        shell => {
            let sh: Shell = shell
                .parse()
                .map_err(|_| anyhow::anyhow!("unknown kind {shell:?}; one of {KINDS:?}"))?;
            clap_complete::generate(sh, &mut cmd, name, w);
        }
    }
    Ok(())
}

/// Every documented option of a built command: `--long` and `-s`
/// spellings (not the hidden ones, which are parsed only to be refused
/// with a reason, e.g. hardirqs' task filters: cli::NoTaskFilters).
pub fn flags(cmd: &Command) -> Vec<String> {
    let mut v = Vec::new();
    for a in cmd
        .get_arguments()
        .filter(|a| !a.is_positional() && !a.is_hide_set())
    {
        if let Some(l) = a.get_long() {
            v.push(format!("--{l}"));
        }
        if let Some(s) = a.get_short() {
            v.push(format!("-{s}"));
        }
    }
    v
}

/// Escapes text for a roff line (not a request line).
fn roff(s: &str) -> String {
    let mut o = s.replace('\\', "\\e").replace('-', "\\-");
    if o.starts_with('.') || o.starts_with('\'') {
        o.insert_str(0, "\\&");
    }
    o
}

fn man(cmd: Command, tool: &str, name: &str, w: &mut dyn Write) -> Result<()> {
    let examples = cmd
        .get_after_help()
        .map(|h| h.to_string())
        .unwrap_or_default();
    let Some(examples) = examples.strip_prefix("EXAMPLES:") else {
        bail!("{tool}: after_help does not start with EXAMPLES:");
    };
    let has_version = cmd.get_version().is_some();
    let subs: Vec<Command> = cmd.get_subcommands().cloned().collect();
    let cmd_has_subcommands = !subs.is_empty();
    let m = clap_mangen::Man::new(cmd)
        .section("8")
        .source(format!("corescope {}", crate::cli::VERSION))
        .manual("System Manager's Manual");
    m.render_title(w)?;
    m.render_name_section(w)?;
    m.render_synopsis_section(w)?;
    m.render_description_section(w)?;
    m.render_options_section(w)?;
    if cmd_has_subcommands {
        subcommands(&subs, w)?;
    }
    writeln!(w, ".SH EXAMPLES")?;
    for line in examples.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let line = match line.strip_prefix(tool) {
            Some(rest) if name != tool => format!("{name}{rest}"),
            _ => line.to_string(),
        };
        let (run, what) = match line.split_once(" # ") {
            Some((r, c)) => (r.trim_end(), c.trim()),
            None => (line.as_str(), ""),
        };
        writeln!(w, ".TP\n.B {}\n{}", roff(run), roff(what))?;
    }
    if tool != "corescope" {
        writeln!(w, ".SH SEE ALSO\n.BR corescope (8)")?;
    }
    if has_version {
        m.render_version_section(w)?;
    }
    Ok(())
}

/// A COMMANDS section: each subcommand, what it does, and its options and
/// arguments (`corescope exporter --listen …`); clap_mangen's own section
/// would point to a man page per subcommand, which there is not.
fn subcommands(subs: &[Command], w: &mut dyn Write) -> Result<()> {
    writeln!(w, ".SH COMMANDS")?;
    for sub in subs.iter().filter(|s| s.get_name() != "help") {
        let about = sub.get_about().map(|h| h.to_string()).unwrap_or_default();
        writeln!(w, ".TP\n.B {}\n{}", roff(sub.get_name()), roff(&about))?;
        for a in (sub.get_arguments()).filter(|a| !a.is_hide_set() && a.get_id() != "help") {
            let value = match a.get_action().takes_values() {
                true => (a.get_value_names().unwrap_or_default().iter())
                    .map(|n| format!(" <{n}>"))
                    .collect::<String>(),
                false => String::new(),
            };
            let head = match (a.get_long(), a.get_short()) {
                (Some(l), Some(c)) => format!("-{c}, --{l}{value}"),
                (Some(l), None) => format!("--{l}{value}"),
                _ => value.trim_start().to_string(),
            };
            let help = a.get_help().map(|h| h.to_string()).unwrap_or_default();
            writeln!(w, ".RS\n.TP\n.B {}\n{}\n.RE", roff(&head), roff(&help))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, Parser};

    /// Run CMD.
    #[derive(Parser)]
    #[command(
        name = "demo",
        after_help = "EXAMPLES:\n    demo -x  # x it\n    demo --long-one 3"
    )]
    struct Demo {
        /// An x
        #[arg(short = 'x', long)]
        ex: bool,
        /// A long one
        #[arg(long, value_name = "N")]
        long_one: Option<u32>,
    }

    fn out(kind: &str, name: Option<&str>) -> String {
        let mut v = Vec::new();
        generate(Demo::command(), kind, name, &mut v).unwrap();
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn every_flag_in_man_and_completions() {
        let flags = out("flags", None);
        let flags: Vec<&str> = flags.lines().collect();
        assert!(flags.contains(&"--long-one") && flags.contains(&"-x"));
        assert!(flags.contains(&"--help"));
        let man = out("man", None);
        assert!(man.contains(".TH demo 8"), "{man}");
        assert!(man.contains(".SH EXAMPLES") && man.contains("x it"));
        for kind in ["man", "bash", "zsh", "fish"] {
            let text = out(kind, None);
            for f in &flags {
                let (man_f, fish_f) = (f.replace('-', "\\-"), f.trim_start_matches('-'));
                assert!(
                    text.contains(f) || text.contains(&man_f) || text.contains(fish_f),
                    "{kind}: {f} missing"
                );
            }
        }
    }

    #[test]
    fn installed_name_is_used() {
        let man = out("man", Some("demo-cs"));
        assert!(
            man.contains(".TH demo\\-cs 8") || man.contains(".TH demo-cs 8"),
            "{man}"
        );
        assert!(man.contains(".B demo\\-cs \\-x"), "{man}");
        assert!(out("bash", Some("demo-cs")).contains("demo-cs"));
        assert!(out("fish", Some("demo-cs")).contains("complete -c demo-cs"));
    }

    #[test]
    fn unknown_kind_fails() {
        let mut v = Vec::new();
        assert!(generate(Demo::command(), "tcsh", None, &mut v).is_err());
    }
}
