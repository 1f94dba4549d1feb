//! Root tests of the shared load layer (src/load.rs, src/check.rs): `--btf
//! FILE` is checked against the running kernel, each bad file gets its own
//! message; the documented capability set (CAP_BPF + CAP_PERFMON, no root)
//! traces, and `corescope check` agrees with the tools.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::util::{argv, json_events, json_lines, root_or_skip, tool, TempDir};

// ---- --btf ----

/// One type of a raw BTF blob: name_off, info, where its kind-specific
/// data starts, where its record ends.
type BtfType = (u32, u32, usize, usize);

/// The string section's offset, the types in id order from 1, and the end
/// of the type section, of a raw BTF blob.
fn btf_types(b: &[u8]) -> (usize, Vec<BtfType>, usize) {
    let u32_at = |o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap());
    assert_eq!(&b[..2], &[0x9f, 0xeb], "raw little-endian BTF");
    let hdr = u32_at(4) as usize;
    let (type_off, type_len, str_off) = (u32_at(8) as usize, u32_at(12) as usize, u32_at(16));
    let (start, end) = (hdr + type_off, hdr + type_off + type_len);
    let mut v = Vec::new();
    let mut o = start;
    while o < end {
        let (name, info) = (u32_at(o), u32_at(o + 4));
        let (kind, vlen) = ((info >> 24) & 0x1f, (info & 0xffff) as usize);
        let extra = match kind {
            1 | 14 | 17 => 4,        // int, var, decl_tag
            3 => 12,                 // array
            4 | 5 | 15 => 12 * vlen, // struct, union, datasec
            6 | 13 => 8 * vlen,      // enum, func_proto
            19 => 12 * vlen,         // enum64
            _ => 0,                  // ptr, fwd, typedef, modifiers, func, float, type_tag
        };
        v.push((name, info, o + 12, o + 12 + extra));
        o += 12 + extra;
    }
    (hdr + str_off as usize, v, end)
}

fn btf_str(b: &[u8], strs: usize, off: u32) -> &[u8] {
    let s = &b[strs + off as usize..];
    &s[..s.iter().position(|&c| c == 0).unwrap_or(0)]
}

/// This kernel's BTF with `struct task_struct`'s member `tgid` moved 4 bytes
/// on: a BTF whose types differ from the running kernel's, as one from
/// another kernel does.
fn btf_with_moved_tgid(dir: &Path) -> PathBuf {
    let mut b = std::fs::read("/sys/kernel/btf/vmlinux").expect("kernel BTF");
    let (strs, types, _) = btf_types(&b);
    let &(_, info, data, _) = types
        .iter()
        .find(|(n, info, _, _)| (info >> 24) & 0x1f == 4 && btf_str(&b, strs, *n) == b"task_struct")
        .expect("struct task_struct");
    let kflag = info >> 31 == 1;
    let m = (0..(info & 0xffff) as usize)
        .map(|i| data + 12 * i)
        .find(|&m| {
            let n = u32::from_le_bytes(b[m..m + 4].try_into().unwrap());
            btf_str(&b, strs, n) == b"tgid"
        })
        .expect("task_struct.tgid");
    let off = u32::from_le_bytes(b[m + 8..m + 12].try_into().unwrap());
    // With kflag the low 24 bits are the bit offset, the high 8 a bitfield size.
    let moved = if kflag {
        (off & 0xff00_0000) | ((off & 0xff_ffff) + 32)
    } else {
        off + 32
    };
    b[m + 8..m + 12].copy_from_slice(&moved.to_le_bytes());
    let p = dir.join("moved-tgid.btf");
    std::fs::write(&p, b).unwrap();
    p
}

fn execsnoop_btf(btf: &Path) -> (Output, String) {
    let out = Command::new(tool("execsnoop"))
        .arg("--json")
        .arg("--btf")
        .arg(btf)
        .args(["--", "/bin/true"])
        .output()
        .expect("execsnoop");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    (out, err)
}

/// Every kind of bad --btf file is refused before tracing, each with its own
/// message and a hint; this kernel's own BTF traces with the right parent.
#[test]
fn btf_file_is_checked_against_the_running_kernel() {
    let Some(_root) = root_or_skip("btf_file_is_checked_against_the_running_kernel") else {
        return;
    };
    let dir = TempDir::new(0o755);
    let d = dir.path();
    let write = |name: &str, bytes: &[u8]| {
        let p = d.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    };
    let junk = write("junk.btf", b"definitely not a BTF file, just text\n");
    let mut corrupt = vec![0x9f, 0xeb, 1, 0];
    corrupt.extend([0xff; 20]);
    let corrupt = write("corrupt.btf", &corrupt);
    let mut hdr = vec![0x9f, 0xeb, 1, 0];
    for v in [24u32, 0, 0, 0, 1] {
        hdr.extend(v.to_le_bytes());
    }
    hdr.push(0);
    let header_only = write("header-only.btf", &hdr);
    let moved = btf_with_moved_tgid(d);
    let mut cases: Vec<(PathBuf, &str)> = vec![
        (d.join("missing.btf"), "no such file"),
        (d.to_path_buf(), "is a directory"),
        ("/dev/zero".into(), "not a regular file"),
        (junk, "not a BTF file"),
        (corrupt, "corrupt BTF"),
        (header_only, "holds no types"),
        (moved, "does not describe the running kernel"),
    ];
    // Real BTF from other kernels, when the kernel matrix has fetched them
    // (target/kernels/, `make test-kernels`): an extra case, the hand-made
    // one above stands without them.
    let kernels = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/target/kernels"));
    let release = nix::sys::utsname::uname().unwrap();
    for e in std::fs::read_dir(kernels).into_iter().flatten().flatten() {
        let p = e.path().join("min_core.btf");
        if p.is_file() && e.file_name() != release.release() {
            cases.push((p, "does not describe the running kernel"));
        }
    }
    for (p, want) in &cases {
        let (out, err) = execsnoop_btf(p);
        assert_eq!(out.status.code(), Some(1), "--btf {}: {err}", p.display());
        let lines: Vec<&str> = err.lines().collect();
        assert!(
            lines.len() == 2
                && lines[0].starts_with("execsnoop: error: --btf ")
                && lines[0].contains(want)
                && lines[1].starts_with("hint: "),
            "--btf {}: want {want:?}: {err}",
            p.display()
        );
        assert!(out.stdout.is_empty(), "--btf {}: traced", p.display());
    }
    // This kernel's BTF (a copy): traces, the parent right (CO-RE offsets
    // from the file).
    let own = d.join("own.btf");
    std::fs::copy("/sys/kernel/btf/vmlinux", &own).unwrap();
    let mut kid = Command::new(tool("execsnoop"))
        .arg("--json")
        .arg("--btf")
        .arg(&own)
        .args(["--", "/bin/true"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let tool_pid = u64::from(kid.id());
    let _ = &mut kid;
    let out = kid.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let v = json_lines(&String::from_utf8_lossy(&out.stdout));
    let ev = json_events(&v);
    let ev = ev
        .iter()
        .find(|e| argv(e) == ["/bin/true"])
        .unwrap_or_else(|| panic!("no /bin/true event: {v:?}"));
    assert_eq!(ev["ppid"].as_u64(), Some(tool_pid), "{ev}");
}

// ---- privileges ----

/// Runs `sh -c script` in a private mount namespace of its own (`unshare
/// -m`: nothing it mounts reaches the host), with tracefs mounted there
/// (root's mode 0700) when `tracefs`. `$RUN` in the script runs a command as
/// nobody with only `caps` (setpriv).
fn in_private_mount_ns(tracefs: bool, caps: &str, script: &str) -> Output {
    let caps = caps
        .split(',')
        .map(|c| format!("+{c}"))
        .collect::<Vec<_>>()
        .join(",");
    let run = format!(
        "setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps={caps} --ambient-caps={caps}"
    );
    let mount = if tracefs {
        // Ours, whatever the host has mounted there (another test may
        // have mounted tracefs for a moment: a private copy of it).
        "umount /sys/kernel/tracing 2>/dev/null; mount -t tracefs nodev /sys/kernel/tracing || exit 99;"
    } else {
        // Not mounted there, whatever the host has.
        "umount /sys/kernel/tracing 2>/dev/null; umount /sys/kernel/debug/tracing 2>/dev/null;"
    };
    Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c"])
        .arg(format!("{mount} {script}"))
        .env("RUN", run)
        .output()
        .expect("unshare")
}

/// `corescope check`'s verdict per tool and its exit code, with `caps`.
fn check_as(tracefs: bool, caps: &str) -> (Vec<(String, bool, String)>, Option<i32>) {
    let cs = tool("corescope");
    let out = in_private_mount_ns(
        tracefs,
        caps,
        &format!("$RUN {} check --json", cs.display()),
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "check --json ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let tools = v["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .map(|t| {
            (
                t["tool"].as_str().unwrap_or("?").to_string(),
                t["ok"] == true,
                t["missing"].to_string(),
            )
        })
        .collect();
    (tools, out.status.code())
}

/// With the documented capability set and no root, each tracer and
/// `corescope check` agree: CAP_BPF + CAP_PERFMON + CAP_DAC_READ_SEARCH
/// with tracefs mounted (0700) trace an exec, and check says ok; without
/// CAP_DAC_READ_SEARCH, or with tracefs not mounted (mounting it needs
/// CAP_SYS_ADMIN), the tools refuse naming the missing capability and check
/// says the same is missing.
#[test]
fn documented_capabilities_trace_and_check_agrees_with_the_tools() {
    let Some(_root) = root_or_skip("documented_capabilities_trace_and_check_agrees_with_the_tools")
    else {
        return;
    };
    if Command::new("setpriv").arg("--version").output().is_err() {
        panic!("setpriv (util-linux) is needed for this test");
    }
    let tracers = ["execsnoop", "opensnoop", "tcplife"];
    let documented = "bpf,perfmon,dac_read_search";
    for (tracefs, caps, works, why) in [
        (true, documented, true, ""),
        (true, "bpf,perfmon", false, "CAP_DAC_READ_SEARCH"),
        (false, documented, false, "CAP_SYS_ADMIN"),
    ] {
        let (verdicts, code) = check_as(tracefs, caps);
        for t in tracers {
            let exe = tool(t);
            let args = match t {
                "execsnoop" => "--json -- /bin/true",
                _ => "--json -d 1",
            };
            let out = in_private_mount_ns(tracefs, caps, &format!("$RUN {} {args}", exe.display()));
            let err = String::from_utf8_lossy(&out.stderr).into_owned();
            let (_, check_ok, missing) = verdicts
                .iter()
                .find(|v| v.0 == t)
                .unwrap_or_else(|| panic!("check has no {t}: {verdicts:?}"));
            let ctx = format!("{t} with {caps}, tracefs mounted: {tracefs}");
            assert_eq!(
                out.status.code() == Some(0),
                *check_ok,
                "{ctx}: the tool and check disagree: tool {:?} {err}; check: {missing}",
                out.status.code()
            );
            assert_eq!(*check_ok, works, "{ctx}: {err}; check: {missing}");
            if works {
                if t == "execsnoop" {
                    let v = json_lines(&String::from_utf8_lossy(&out.stdout));
                    assert!(
                        json_events(&v).iter().any(|e| argv(e) == ["/bin/true"]),
                        "{ctx}: no exec traced: {v:?} {err}"
                    );
                }
            } else {
                assert!(
                    err.lines().count() == 2 && err.contains(why) && err.contains("hint: "),
                    "{ctx}: want an error naming {why}: {err}"
                );
                assert!(missing.contains(why), "{ctx}: check: {missing}");
            }
        }
        // (check's exit code also counts xdpdrop, which needs CAP_NET_ADMIN.)
        assert!(code.is_some(), "check died");
    }
}
