//! Root tests of the shared load layer (src/load.rs, src/check.rs): `--btf
//! FILE` is checked against the running kernel, each bad file gets its own
//! message; the documented capability set (CAP_BPF + CAP_PERFMON, no root)
//! traces, and `corescope check` agrees with the tools.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::util::{argv, json_events, json_lines, root_or_skip, tool, TempDir};

// ---- --btf ----

/// Offsets into a raw BTF blob: (name_off, info, kind-specific data start,
/// record end) of each type, in id order from 1.
fn btf_types(b: &[u8]) -> (usize, Vec<(u32, u32, usize, usize)>, usize) {
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
