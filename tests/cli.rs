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

/// `--help` / `--version` into a full stdout: one clear error and exit 1 (not
/// a silent 0 or a panic); into a closed pipe: a normal end; a usage error
/// with stderr on /dev/full: still exit 2.
#[test]
fn help_and_usage_errors_on_unwritable_output() {
    use std::os::fd::OwnedFd;
    use std::process::Stdio;
    let full = || {
        let f = std::fs::OpenOptions::new().write(true).open("/dev/full");
        Stdio::from(f.expect("/dev/full"))
    };
    for t in tools() {
        for arg in ["--help", "--version"] {
            let out = Command::new(tool(&t))
                .arg(arg)
                .stdout(full())
                .output()
                .unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{t} {arg} >/dev/full: {err}");
            assert!(
                err.lines().count() == 1
                    && err.contains("error: writing to stdout")
                    && err.contains("No space left on device"),
                "{t} {arg} >/dev/full: {err}"
            );
            let (r, w): (OwnedFd, OwnedFd) = nix::unistd::pipe().unwrap();
            drop(r);
            let out = Command::new(tool(&t))
                .arg(arg)
                .stdout(Stdio::from(w))
                .output()
                .unwrap();
            assert_eq!(out.status.code(), Some(0), "{t} {arg} into a closed pipe");
        }
        let st = Command::new(tool(&t))
            .arg("--no-such-option")
            .stderr(full())
            .status()
            .unwrap();
        assert_eq!(st.code(), Some(2), "{t}: usage error, stderr full");
    }
}

#[test]
fn every_tool_has_output_file_option() {
    for t in tools() {
        let out = Command::new(tool(&t)).arg("--help").output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("-o, --output <FILE>"),
            "{t} --help has no -o/--output:\n{text}"
        );
    }
}

/// `corescope list` (and `check`, same path) into a full stdout: a clear
/// error and exit 1; into a closed pipe: exit 0; never a panic.
#[test]
fn corescope_list_on_unwritable_stdout() {
    use std::os::fd::OwnedFd;
    use std::process::Stdio;
    let f = std::fs::OpenOptions::new().write(true).open("/dev/full");
    let out = Command::new(tool("corescope"))
        .arg("list")
        .stdout(Stdio::from(f.expect("/dev/full")))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("error: writing to stdout failed: No space left"),
        "{err}"
    );
    let (r, w): (OwnedFd, OwnedFd) = nix::unistd::pipe().unwrap();
    drop(r);
    let out = Command::new(tool("corescope"))
        .arg("list")
        .stdout(Stdio::from(w))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
