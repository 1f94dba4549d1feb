//! Checks that need no privileges: every tool's help and version, and that
//! each tool has its folder's files and its [[bin]] entry.

use std::process::Command;

use crate::util::{tool, tools};

/// Tools that trace no tasks: they have the run options, not the filters.
/// (hardirqs, softirqs, tcpretrans and tcpdrop parse the filters only to refuse
/// them: hidden.)
const NO_TASK_FILTERS: &[&str] = &["xdpdrop", "hardirqs", "softirqs", "tcpretrans", "tcpdrop"];

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

/// A tool is its folder (tools/<tool>/, see README "Layout"); its `[[bin]]`
/// is the one thing outside it, and Cargo.toml and tools/ must agree.
#[test]
fn each_tool_has_its_files_and_bin_entry() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let launcher = std::fs::read_to_string(root.join("tools/execsnoop/main.rs")).unwrap();
    assert!(launcher.contains("corescope::launcher!();"), "{launcher}");
    for t in tools() {
        for f in [
            "mod.rs",
            "main.rs",
            &format!("{t}.bpf.c"),
            &format!("{t}.h"),
        ] {
            let f = format!("tools/{t}/{f}");
            assert!(root.join(&f).exists(), "{t}: {f} missing");
        }
        let main = std::fs::read_to_string(root.join(format!("tools/{t}/main.rs"))).unwrap();
        assert_eq!(
            main, launcher,
            "{t}: tools/{t}/main.rs is not the shared launcher"
        );
        let entry = format!("[[bin]]\nname = \"{t}\"\npath = \"tools/{t}/main.rs\"\n");
        assert!(
            manifest.contains(&entry),
            "{t}: no [[bin]] in Cargo.toml:\n{entry}"
        );
    }
    // …and no [[bin]] but `corescope` is without its folder.
    let mut bins: Vec<&str> = manifest
        .split("[[bin]]\nname = \"")
        .skip(1)
        .filter_map(|b| b.split('"').next())
        .filter(|b| *b != "corescope")
        .collect();
    bins.sort_unstable();
    assert_eq!(
        bins,
        tools(),
        "Cargo.toml's tool [[bin]]s and tools/ differ"
    );
    // The multi-call binary has the same tools (build.rs registers them).
    let out = Command::new(tool("corescope"))
        .arg("list")
        .output()
        .unwrap();
    assert!(out.status.success());
    let listed: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(listed, tools());
}

/// `cargo fmt` formats crate roots and the modules they name in source;
/// tools are registered by build.rs (an include!), so it does not reach
/// them: check their formatting here (`make fmt` formats them).
#[test]
fn tool_sources_are_formatted() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for t in tools() {
        for f in ["mod.rs", "root_tests.rs"] {
            let p = root.join(format!("tools/{t}/{f}"));
            p.exists().then(|| files.push(p));
        }
    }
    // The toolchain's rustfmt, beside the cargo running the tests (sudo
    // may leave it off PATH).
    let rustfmt = std::env::var_os("RUSTFMT")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            let cargo = std::path::PathBuf::from(std::env::var_os("CARGO").unwrap_or_default());
            Some(cargo.with_file_name("rustfmt"))
                .filter(|p| p.is_file())
                .unwrap_or_else(|| "rustfmt".into())
        });
    let out = Command::new(rustfmt)
        .args(["--check", "--edition", "2021"])
        .args(&files)
        .output()
        .expect("rustfmt (part of the toolchain, as cargo fmt)");
    assert!(
        out.status.success(),
        "tool sources are not formatted (run `make fmt`):\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
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
