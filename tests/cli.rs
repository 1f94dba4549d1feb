//! Checks that need no privileges: every tool's help and version, and that
//! each tool has its three files and its [[bin]] entry.

use std::process::Command;

use crate::util::{tool, tools};

/// Tools that trace no tasks: they have the run options, not the filters.
const NO_TASK_FILTERS: &[&str] = &["xdpdrop"];

#[test]
fn every_tool_has_help_and_version() {
    for t in tools() {
        let out = Command::new(tool(&t)).arg("--help").output().unwrap();
        assert!(out.status.success(), "{t} --help failed");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("EXAMPLES"), "{t} --help has no EXAMPLES");
        let filters = !NO_TASK_FILTERS.contains(&t.as_str());
        assert!(
            text.contains("--pid") == filters && text.contains("--json"),
            "{t} lacks common options"
        );
        let out = Command::new(tool(&t)).arg("--version").output().unwrap();
        assert!(out.status.success() && String::from_utf8_lossy(&out.stdout).contains(&t));
    }
}

#[test]
fn bad_numbers_are_usage_errors() {
    for t in tools() {
        let out = Command::new(tool(&t))
            .args(["--duration", "notanumber"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{t}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("invalid value"));
    }
}

#[test]
fn each_tool_has_its_files_and_bin_entry() {
    let root = env!("CARGO_MANIFEST_DIR");
    let manifest = std::fs::read_to_string(format!("{root}/Cargo.toml")).unwrap();
    for t in tools() {
        for f in [format!("src/bpf/{t}.bpf.c"), format!("src/bpf/{t}.h")] {
            assert!(
                std::path::Path::new(root).join(&f).exists(),
                "{t}: {f} missing"
            );
        }
        assert!(
            manifest.contains(&format!("name = \"{t}\"")),
            "{t}: no [[bin]] in Cargo.toml"
        );
    }
}
