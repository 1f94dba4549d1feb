//! Packaging: man pages and completions generated from every tool's clap
//! definition, `make install`/`uninstall`, and `corescope check`. `make
//! dist` and the Debian package (slow: offline builds from the tarball) are
//! tested by `make test-dist` (packaging/test-dist.sh).

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};

use crate::util::{root_or_skip, tool, tools, TempDir};

/// Every installed program: the tools and `corescope`.
fn programs() -> Vec<String> {
    let mut v = tools();
    v.push("corescope".into());
    v
}

fn generate(prog: &str, kind: &str) -> String {
    let out = Command::new(tool(prog))
        .env("CORESCOPE_GENERATE", kind)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{prog}: CORESCOPE_GENERATE={kind}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn every_flag_in_man_page_and_completions() {
    for p in programs() {
        let flags = generate(&p, "flags");
        let flags: Vec<&str> = flags.lines().collect();
        assert!(
            flags.contains(&"--help") && flags.contains(&"--version"),
            "{p}: {flags:?}"
        );
        let man = generate(&p, "man");
        assert!(man.contains(&format!(".TH {} 8", p)), "{p}: no .TH");
        assert!(
            man.contains(".SH EXAMPLES"),
            "{p}: man page without EXAMPLES"
        );
        let (bash, zsh, fish) = (
            generate(&p, "bash"),
            generate(&p, "zsh"),
            generate(&p, "fish"),
        );
        for f in &flags {
            assert!(
                man.contains(&f.replace('-', "\\-")),
                "{p}: {f} not in its man page"
            );
            assert!(bash.contains(f), "{p}: {f} not in its bash completion");
            assert!(zsh.contains(f), "{p}: {f} not in its zsh completion");
            let fish_f = match f.strip_prefix("--") {
                Some(l) => format!("-l {l}"),
                None => format!("-s {}", &f[1..]),
            };
            assert!(
                fish.contains(&fish_f),
                "{p}: {f} not in its fish completion"
            );
        }
    }
    // Tool-specific flags are there too, not only the common ones.
    assert!(generate("execsnoop", "flags")
        .lines()
        .any(|f| f == "--timestamp" || f == "-T"));
}

#[test]
fn short_and_long_help_have_examples_and_version_has_git() {
    for p in programs() {
        for h in ["-h", "--help"] {
            let out = Command::new(tool(&p)).arg(h).output().unwrap();
            assert!(out.status.success(), "{p} {h}");
            assert!(
                String::from_utf8_lossy(&out.stdout).contains("EXAMPLES:"),
                "{p} {h}"
            );
        }
        let out = Command::new(tool(&p)).arg("--version").output().unwrap();
        let v = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            v.starts_with(&format!("{p} {}", env!("CARGO_PKG_VERSION"))),
            "{v}"
        );
        let git = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.git")).exists();
        assert_eq!(v.contains("(git "), git, "{p} --version: {v}");
    }
}

/// Runs make in the source tree (not as a sub-make of an outer `make test`).
fn make(args: &[&str]) -> Output {
    let out = Command::new("make")
        .arg("--no-print-directory")
        .arg("-C")
        .arg(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .env_remove("MAKEFLAGS")
        .env_remove("MAKELEVEL")
        .env_remove("MFLAGS")
        .output()
        .expect("running make");
    assert!(
        out.status.success(),
        "make {args:?}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Every file under `dir`, relative to it.
fn files(dir: &Path) -> BTreeSet<String> {
    fn walk(root: &Path, d: &Path, out: &mut BTreeSet<String>) {
        for e in std::fs::read_dir(d).unwrap().map(Result::unwrap) {
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.insert(p.strip_prefix(root).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    let mut s = BTreeSet::new();
    walk(dir, dir, &mut s);
    s
}

/// Where `make install` puts each kind of file, under DESTDIR.
struct Dirs {
    sbin: &'static str,
    man: &'static str,
    unit: &'static str,
}

/// `make install PREFIX=/usr` with no other directory set.
const USR: Dirs = Dirs {
    sbin: "usr/sbin",
    man: "usr/share/man",
    unit: "usr/lib/systemd/system",
};

/// The files `make install PREFIX=/usr` puts, for tool names `name(t)`, in
/// `dirs`; the exporter's unit, and its defaults file in /etc.
fn expected(name: impl Fn(&str) -> String, man_ext: &str, dirs: &Dirs) -> BTreeSet<String> {
    let mut want = BTreeSet::new();
    for p in programs() {
        let n = if p == "corescope" {
            p.clone()
        } else {
            name(&p)
        };
        want.insert(format!("{}/{n}", dirs.sbin));
        want.insert(format!("{}/man8/{n}.8{man_ext}", dirs.man));
        want.insert(format!("usr/share/bash-completion/completions/{n}"));
        want.insert(format!("usr/share/zsh/vendor-completions/_{n}"));
        want.insert(format!("usr/share/fish/vendor_completions.d/{n}.fish"));
    }
    want.insert(format!("{}/corescope-exporter.service", dirs.unit));
    want.insert("etc/default/corescope-exporter".into());
    want
}

#[test]
fn make_install_lays_out_files_and_uninstall_removes_them() {
    let dir = TempDir::new(0o755);
    let d = format!("DESTDIR={}", dir.path().display());
    // The directory variables, as a distro sets them.
    let vars = [
        "PREFIX=/usr",
        &d,
        "SUFFIX=-cs",
        "SBINDIR=/usr/bin",
        "MANDIR=/usr/man",
        "SYSTEMDUNITDIR=/lib/systemd/system",
    ];
    let dirs = Dirs {
        sbin: "usr/bin",
        man: "usr/man",
        unit: "lib/systemd/system",
    };
    make(&[&["install"], &vars[..]].concat());
    let want = expected(|t| format!("{t}-cs"), "", &dirs);
    assert_eq!(files(dir.path()), want);
    // The unit runs the multi-call binary where SBINDIR put it.
    let unit = std::fs::read_to_string(
        dir.path()
            .join("lib/systemd/system/corescope-exporter.service"),
    )
    .unwrap();
    assert!(
        unit.lines()
            .any(|l| l == "ExecStart=/usr/bin/corescope exporter $CORESCOPE_EXPORTER_ARGS")
            && unit
                .lines()
                .any(|l| l == "EnvironmentFile=-/etc/default/corescope-exporter"),
        "{unit}"
    );
    let shipped = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/packaging/corescope-exporter.default"
    ))
    .unwrap();
    let defaults = dir.path().join("etc/default/corescope-exporter");
    assert_eq!(std::fs::read_to_string(&defaults).unwrap(), shipped);
    // The man page and completions use the installed name.
    let man = std::fs::read_to_string(dir.path().join("usr/man/man8/execsnoop-cs.8")).unwrap();
    assert!(
        man.contains(".TH execsnoop-cs 8") && man.contains(".B execsnoop\\-cs"),
        "{man}"
    );
    let fish = dir
        .path()
        .join("usr/share/fish/vendor_completions.d/execsnoop-cs.fish");
    assert!(std::fs::read_to_string(fish)
        .unwrap()
        .contains("complete -c execsnoop-cs"));
    // The tools are hard links to the multi-call binary.
    use std::os::unix::fs::MetadataExt;
    let ino = |n: &str| {
        std::fs::metadata(dir.path().join("usr/bin").join(n))
            .unwrap()
            .ino()
    };
    for t in tools() {
        assert_eq!(ino(&format!("{t}-cs")), ino("corescope"), "{t}-cs");
    }
    let out = Command::new(dir.path().join("usr/bin/execsnoop-cs"))
        .arg("--version")
        .output()
        .unwrap();
    assert!(out.status.success());
    make(&[&["uninstall"], &vars[..]].concat());
    assert_eq!(files(dir.path()), BTreeSet::new(), "uninstall left files");

    // An edited defaults file is the admin's: install keeps it, and so
    // does uninstall (it removes only the file as install put it).
    let edited = format!("{shipped}CORESCOPE_EXPORTER_ARGS=\"--listen [::1]:9476 runqlat\"\n");
    std::fs::create_dir_all(defaults.parent().unwrap()).unwrap();
    std::fs::write(&defaults, &edited).unwrap();
    let out = make(&[&["install"], &vars[..]].concat());
    assert!(String::from_utf8_lossy(&out.stdout).contains("kept"));
    assert_eq!(std::fs::read_to_string(&defaults).unwrap(), edited);
    make(&[&["uninstall"], &vars[..]].concat());
    assert_eq!(
        files(dir.path()),
        BTreeSet::from(["etc/default/corescope-exporter".to_string()])
    );
    assert_eq!(std::fs::read_to_string(&defaults).unwrap(), edited);
}

/// What every distro package build runs, on a clean clone:
/// `make -j2 install PREFIX=/usr DESTDIR=…`. Its command-line variables must
/// not reach the build of libbpf-sys's vendored libbpf (its own `make
/// install` into Cargo's OUT_DIR): with them it installs libbpf.a and its
/// headers into DESTDIR and the link fails. The clean tree (the files git
/// would commit, at a fixed path) builds into a target directory kept
/// between runs, with libbpf-sys's build removed so it is built again under
/// this run's make; DESTDIR must then hold exactly the installed files.
#[test]
fn make_install_on_a_clean_clone_installs_only_our_files() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let work = root.join("target/packaging-clean");
    let (src, target) = (work.join("src"), work.join("target"));
    let _ = std::fs::remove_dir_all(&src);
    std::fs::create_dir_all(&src).unwrap();
    std::fs::create_dir_all(&target).unwrap();
    let ls = Command::new("git")
        .arg("-C")
        .arg(root)
        .args([
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ])
        .output();
    let Ok(ls) = ls.map(|o| o.stdout) else {
        panic!("git ls-files in {}", root.display());
    };
    let mut copied = 0;
    for f in ls.split(|&b| b == 0).filter(|f| !f.is_empty()) {
        let rel = Path::new(std::str::from_utf8(f).unwrap());
        let (from, to) = (root.join(rel), src.join(rel));
        if !from.exists() {
            continue; // deleted in the work tree, not committed yet
        }
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(&from, &to).unwrap();
        copied += 1;
    }
    assert!(
        copied > 20 && src.join("Makefile").is_file(),
        "{copied} files"
    );
    std::os::unix::fs::symlink(&target, src.join("target")).unwrap();
    // libbpf-sys's build (the C libbpf and its build script's run), in
    // both profiles: built again by this run's make.
    for profile in ["release", "debug"] {
        for sub in ["build", ".fingerprint", "deps"] {
            let d = target.join(profile).join(sub);
            for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                if e.file_name().to_string_lossy().contains("libbpf_sys")
                    || e.file_name().to_string_lossy().contains("libbpf-sys")
                {
                    let p = e.path();
                    let _ = std::fs::remove_dir_all(&p).or_else(|_| std::fs::remove_file(&p));
                }
            }
        }
    }
    let stage = TempDir::new(0o755);
    let out = Command::new("make")
        .arg("--no-print-directory")
        .arg("-C")
        .arg(&src)
        .args([
            "-j2",
            "install",
            "PREFIX=/usr",
            "SBINDIR=/usr/bin",
            "MANDIR=/usr/man",
        ])
        .arg(format!("DESTDIR={}", stage.path().display()))
        .env_remove("MAKEFLAGS")
        .env_remove("MAKELEVEL")
        .env_remove("MFLAGS")
        .env_remove("CARGO_TARGET_DIR")
        .output()
        .expect("running make");
    let log = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "make install on a clean clone: {log}");
    assert!(
        log.contains("Compiling libbpf-sys"),
        "libbpf-sys was not rebuilt by this run: {log}"
    );
    let dirs = Dirs {
        sbin: "usr/bin",
        man: "usr/man",
        ..USR
    };
    assert_eq!(
        files(stage.path()),
        expected(|t| t.to_string(), "", &dirs),
        "{log}"
    );
    let out = Command::new(stage.path().join("usr/bin/corescope"))
        .arg("--version")
        .output()
        .unwrap();
    assert!(out.status.success(), "the installed corescope runs");
}

#[test]
fn multi_call_binary_runs_every_tool() {
    let mc = tool("corescope");
    let out = Command::new(&mc).arg("list").output().unwrap();
    let list = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(list.lines().collect::<Vec<_>>(), tools());
    let dir = TempDir::new(0o755);
    for t in tools() {
        // As `corescope TOOL` and through a link named like the tool.
        let link = dir.path().join(format!("cs-{t}-x"));
        std::os::unix::fs::symlink(&mc, &link).unwrap();
        for mut cmd in [Command::new(&mc), Command::new(&link)] {
            if cmd.get_program() == mc.as_os_str() {
                cmd.arg(&t);
            }
            let out = cmd.arg("--help").output().unwrap();
            assert!(out.status.success(), "{cmd:?}");
            let own = Command::new(tool(&t)).arg("--help").output().unwrap();
            let strip = |b: &[u8]| {
                String::from_utf8_lossy(b)
                    .lines()
                    .filter(|l| !l.starts_with("Usage:"))
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            assert_eq!(strip(&out.stdout), strip(&own.stdout), "{cmd:?}");
        }
        let out = Command::new(&mc)
            .args([t.as_str(), "--duration", "x"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{t}: usage errors exit 2");
    }
}

#[test]
fn root_multi_call_binary_traces() {
    let Some(_root) = root_or_skip("root_multi_call_binary_traces") else {
        return;
    };
    let out = Command::new(tool("corescope"))
        .args(["execsnoop", "--json", "--", "/bin/true"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.starts_with("execsnoop: "), "{stderr}");
    let v = crate::util::json_lines_of("execsnoop", &String::from_utf8_lossy(&out.stdout));
    let evs = crate::util::json_events(&v);
    assert!(
        evs.iter().any(|e| crate::util::argv(e) == ["/bin/true"]),
        "{v:?}"
    );
}

#[test]
fn root_check_reports_every_tool_ok() {
    let Some(_root) = root_or_skip("root_check_reports_every_tool_ok") else {
        return;
    };
    let out = Command::new(tool("corescope"))
        .arg("check")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for t in tools() {
        let line = text
            .lines()
            .find(|l| l.split_whitespace().next() == Some(t.as_str()));
        let line = line.unwrap_or_else(|| panic!("no line for {t}:\n{text}"));
        assert!(line.ends_with(" ok"), "{line}");
    }
    let out = Command::new(tool("corescope"))
        .args(["check", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let m = &v["machine"];
    // As root everything is probed: no unknowns.
    for k in ["ringbuf", "kprobes", "fentry", "xdp"] {
        assert!(m[k].is_boolean(), "{k}: {m}");
    }
    let names: Vec<&str> = v["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["tool"].as_str().unwrap())
        .collect();
    assert_eq!(names, tools());
    for t in v["tools"].as_array().unwrap() {
        assert_eq!(t["ok"], true, "{t}");
        assert!(!t["programs"].as_array().unwrap().is_empty(), "{t}");
    }
}

#[test]
fn check_without_privileges_says_what_is_missing() {
    // As a user without capabilities (setpriv drops them even for root).
    let out = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
        ])
        .arg(tool("corescope"))
        .arg("check")
        .output();
    let Ok(out) = out else { return };
    if nix::unistd::geteuid().is_root() {
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{text}");
        for t in tools() {
            assert!(
                text.lines()
                    .any(|l| l.starts_with(&t) && l.contains("missing: privileges")),
                "{t}:\n{text}"
            );
        }
    }
}
