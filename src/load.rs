//! Pre-flight checks and the open → load → attach steps, with errors that
//! name the cause and the fix.

use std::path::Path;

use anyhow::Result;
use libbpf_rs::{OpenObject, PrintLevel};

use crate::error::UserError;
use crate::filter::Filter;
use crate::libbpf_log;

/// Implemented for every generated open skeleton by `impl_tool_skel!`.
pub trait ToolOpen {
    /// Writes the common filter into the skeleton's `.rodata`.
    fn set_common(&mut self, f: &Filter) -> Result<()>;
}

pub const CAP_DAC_READ_SEARCH: u32 = 2;
pub const CAP_SYS_ADMIN: u32 = 21;
pub const CAP_PERFMON: u32 = 38;
pub const CAP_BPF: u32 = 39;

/// Effective capability mask of this process.
pub fn cap_eff() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("CapEff:"))?;
    u64::from_str_radix(line["CapEff:".len()..].trim(), 16).ok()
}

pub fn has_cap(mask: u64, cap: u32) -> bool {
    mask & (1u64 << cap) != 0
}

pub fn privilege_error() -> UserError {
    UserError::hint(
        "permission denied: loading BPF programs needs root, or CAP_BPF and CAP_PERFMON",
        // Tracers also read tracefs (root's 0700): see ensure_tracefs.
        "run it with sudo (or grant the binary cap_bpf,cap_perfmon,cap_dac_read_search+ep)",
    )
}

/// Fails early, with a hint, when this process cannot load BPF programs.
pub fn check_privileges() -> Result<()> {
    match cap_eff() {
        Some(m)
            if has_cap(m, CAP_SYS_ADMIN) || (has_cap(m, CAP_BPF) && has_cap(m, CAP_PERFMON)) =>
        {
            Ok(())
        }
        Some(_) => Err(privilege_error().into()),
        None => Ok(()), // unknown: let the kernel decide
    }
}

pub const KERNEL_BTF: &str = "/sys/kernel/btf/vmlinux";

/// Checks the BTF source: `--btf FILE` (see [`check_custom_btf`]) or the
/// kernel's own.
pub fn check_btf(custom: Option<&Path>) -> Result<()> {
    match custom {
        Some(p) => check_custom_btf(p),
        None if Path::new(KERNEL_BTF).exists() => Ok(()),
        None => Err(UserError::hint(
            format!("this kernel has no BTF ({KERNEL_BTF} is missing)"),
            "pass --btf FILE with a BTF file for this kernel, or use a kernel built with CONFIG_DEBUG_INFO_BTF=y",
        )
        .into()),
    }
}

const BTF_HINT: &str =
    "give the BTF of the running kernel: its vmlinux BTF, or a file made from it with `bpftool gen min_core_btf`";

/// `--btf FILE` must be a readable regular file holding BTF (raw, or an ELF
/// file with a .BTF section, as libbpf reads it) with types in it, and must
/// describe the running kernel ([`probe_btf`]). Each failure is its own
/// message: libbpf alone says "Unknown error 4001" for junk and lets a
/// BTF without types or from another kernel through to a verifier rejection
/// or to silently wrong events.
pub fn check_custom_btf(p: &Path) -> Result<()> {
    use std::io::Read;
    let name = crate::escape::escape(p.as_os_str().as_encoded_bytes());
    let err = |what: String| -> anyhow::Error {
        UserError::hint(format!("--btf {name}: {what}"), BTF_HINT).into()
    };
    let meta = match std::fs::metadata(p) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(err("no such file".into()))
        }
        Err(e) => return Err(err(format!("cannot read it: {e}"))),
    };
    if meta.is_dir() {
        return Err(err("is a directory, not a BTF file".into()));
    }
    if !meta.is_file() {
        return Err(err(
            "not a regular file (a device, pipe or socket), not a BTF file".into(),
        ));
    }
    let mut magic = [0u8; 4];
    let n = std::fs::File::open(p)
        .and_then(|mut f| f.read(&mut magic))
        .map_err(|e| err(format!("cannot read it: {e}")))?;
    // Raw BTF starts with 0xeB9F (either byte order); ELF with \x7fELF.
    let raw = n >= 2 && (magic[..2] == [0x9f, 0xeb] || magic[..2] == [0xeb, 0x9f]);
    if n == 0 {
        return Err(err("is empty, not a BTF file".into()));
    }
    if !raw && magic != *b"\x7fELF" {
        return Err(err(
            "not a BTF file (neither raw BTF, magic 0xeB9F, nor an ELF file)".into(),
        ));
    }
    let (parsed, log) = libbpf_log::held(|| libbpf_rs::btf::Btf::from_path(p));
    let btf = match parsed {
        Ok(b) => b,
        Err(e) => {
            libbpf_log::dump_if_verbose(&log);
            let what = if raw {
                "corrupt BTF"
            } else {
                "an ELF file without valid BTF (.BTF section)"
            };
            return Err(err(format!("{what}: libbpf cannot parse it ({e})")));
        }
    };
    // Type 0 (void) is implicit: a header-only BTF has one.
    if btf.len() <= 1 {
        return Err(err(
            "holds no types (a BTF header only): it describes no kernel".into(),
        ));
    }
    drop(btf);
    probe_btf(p, &name)
}

/// Loads the shared layer's probe (src/bpf/probe/btf_probe.bpf.c) against
/// `--btf FILE` and runs it once in this thread: fields of our own task read
/// at FILE's offsets must be what the kernel's helpers say (TID, PID, comm)
/// and our parent's PID and comm. Only a
/// mismatch is an error; a probe that cannot load or run (old kernel) leaves
/// the check to the tool's own load (a notice with -v).
fn probe_btf(p: &Path, name: &str) -> Result<()> {
    use crate::skel::btf_probe::BtfProbeSkelBuilder;
    use libbpf_rs::skel::{OpenSkel, SkelBuilder};
    use libbpf_rs::ProgramInput;
    let skip = |why: String| {
        if libbpf_log::verbose() {
            crate::diag!("notice: --btf {name} not checked against the running kernel: {why}");
        }
        Ok(())
    };
    let mut storage = std::mem::MaybeUninit::uninit();
    let mut builder = BtfProbeSkelBuilder::default();
    if let Err(e) = builder.object_builder_mut().btf_custom_path(p) {
        return skip(e.to_string());
    }
    let (skel, log) = libbpf_log::held(|| builder.open(&mut storage).and_then(|o| o.load()));
    let skel = match skel {
        Ok(s) => s,
        Err(e) => {
            libbpf_log::dump_if_verbose(&log);
            return skip(format!("the probe did not load ({e})"));
        }
    };
    if let Err(e) = skel.progs.btf_probe.test_run(ProgramInput::default()) {
        return skip(format!("the probe did not run ({e})"));
    }
    let Some(bss) = skel.maps.bss_data.as_deref() else {
        return skip("the probe has no .bss".into());
    };
    let r = &bss.res;
    if r.ran == 0 {
        return skip("the probe did not run".into());
    }
    let cstr = |b: &[u8]| b.split(|&c| c == 0).next().unwrap_or(&[]).to_vec();
    let has = |bit: u32| u32::from(r.has) & bit != 0;
    let (tgid, tid) = ((r.pid_tgid >> 32) as u32, r.pid_tgid as u32);
    let ppid = std::os::unix::process::parent_id();
    // The helpers give PIDs as the initial PID namespace sees them: our
    // parent's PID only compares in that namespace.
    let same_ns = tgid == std::process::id();
    let mut wrong = Vec::new();
    for (bit, field, got, want, when) in [
        (1, "task_struct.pid", r.pid, tid, true),
        (2, "task_struct.tgid", r.tgid, tgid, true),
        (4, "task_struct.real_parent->tgid", r.ppid, ppid, same_ns),
    ] {
        if when && has(bit) && got != want {
            wrong.push(format!("{field} reads {got}, not {want}"));
        }
    }
    // real_parent is the thread that forked us: any thread of our parent.
    let parent_comms: Vec<Vec<u8>> = std::fs::read_dir(format!("/proc/{ppid}/task"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|t| std::fs::read(t.path().join("comm")).ok())
        .map(|c| c.strip_suffix(b"\n").unwrap_or(&c).to_vec())
        .collect();
    let parent_comm = cstr(&r.parent_comm);
    let parent_want = match parent_comms.iter().find(|c| **c == parent_comm) {
        Some(c) => c.clone(),
        None => parent_comms.first().cloned().unwrap_or_default(),
    };
    for (bit, field, got, want) in [
        (8, "task_struct.comm", cstr(&r.comm), cstr(&r.helper_comm)),
        (
            16,
            "task_struct.real_parent->comm",
            parent_comm,
            parent_want,
        ),
    ] {
        if has(bit) && !want.is_empty() && got != want {
            wrong.push(format!(
                "{field} reads \"{}\", not \"{}\"",
                crate::escape::escape(&got),
                crate::escape::escape(&want)
            ));
        }
    }
    if wrong.is_empty() {
        return Ok(());
    }
    let release = nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_else(|_| "?".into());
    Err(UserError::hint(
        format!(
            "--btf {name} does not describe the running kernel ({release}): at its offsets {}",
            wrong.join(", ")
        ),
        "give the BTF of this very kernel (BTF from another kernel or build gives wrong events): its vmlinux BTF, or `bpftool gen min_core_btf` from it",
    )
    .into())
}

/// Whether libbpf can resolve tracepoint IDs here: it reads them from
/// tracefs, at one of [`TRACEFS_PATHS`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tracefs {
    /// Mounted, and its `events/` readable by this process.
    Readable(&'static Path),
    /// Mounted, but not readable by this process (tracefs is mode 0700,
    /// owned by root): `mode` of the mount point.
    Unreadable {
        path: &'static Path,
        mode: u32,
    },
    NotMounted,
}

/// Where libbpf looks for tracefs.
pub const TRACEFS_PATHS: [&str; 2] = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"];

/// The hint for a tracefs that is mounted but not readable.
pub const TRACEFS_DAC_HINT: &str = "with CAP_BPF and CAP_PERFMON, also grant CAP_DAC_READ_SEARCH (e.g. setcap cap_bpf,cap_perfmon,cap_dac_read_search+ep), or run as root";

/// This process's access to tracefs (see [`Tracefs`]).
pub fn tracefs_status() -> Tracefs {
    use std::os::unix::fs::PermissionsExt;
    if let Some(p) = tracefs_root() {
        return Tracefs::Readable(p);
    }
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    for path in TRACEFS_PATHS {
        let mounted = mounts.lines().any(|l| {
            let mut f = l.split(' ');
            let (mp, fs) = (f.nth(1), f.next());
            mp == Some(path) && fs == Some("tracefs")
        });
        if mounted {
            let mode = std::fs::metadata(path).map_or(0, |m| m.permissions().mode() & 0o7777);
            return Tracefs::Unreadable {
                path: Path::new(path),
                mode,
            };
        }
    }
    Tracefs::NotMounted
}

fn tracefs_unreadable(path: &Path, mode: u32) -> anyhow::Error {
    UserError::hint(
        format!(
            "tracefs at {} (mode {mode:04o}) is not readable by this user: libbpf reads tracepoint IDs there",
            path.display()
        ),
        TRACEFS_DAC_HINT,
    )
    .into()
}

/// Makes tracefs available to this process (libbpf resolves tracepoint IDs
/// through it). If it is not mounted, mounts it in a private mount namespace
/// of our own, so nothing is left mounted on the host (that needs
/// CAP_SYS_ADMIN). Mounted but not readable (root's 0700 and no
/// CAP_DAC_READ_SEARCH) is its own error, naming the capability. Call while
/// single-threaded, after forking `-- CMD`.
pub fn ensure_tracefs() -> Result<()> {
    use nix::mount::{mount, MsFlags};
    match tracefs_status() {
        Tracefs::Readable(_) => return Ok(()),
        Tracefs::Unreadable { path, mode } => return Err(tracefs_unreadable(path, mode)),
        Tracefs::NotMounted => {}
    }
    let hint = "mount it once as root: mount -t tracefs nodev /sys/kernel/tracing (then CAP_BPF, CAP_PERFMON and CAP_DAC_READ_SEARCH suffice), or run as root";
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS).map_err(|e| {
        let why = if e == nix::errno::Errno::EPERM {
            "needs CAP_SYS_ADMIN".to_string()
        } else {
            format!("failed: {e}")
        };
        UserError::hint(
            format!("tracefs is not mounted, and mounting it in a private mount namespace {why}"),
            hint,
        )
    })?;
    // Keep our mounts from propagating back to the host.
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_SLAVE,
        None::<&str>,
    )
    .map_err(|e| {
        UserError::hint(
            format!("tracefs is not mounted and making / private failed: {e}"),
            hint,
        )
    })?;
    mount(
        Some("tracefs"),
        "/sys/kernel/tracing",
        Some("tracefs"),
        MsFlags::empty(),
        None::<&str>,
    )
    .map_err(|e| {
        UserError::hint(
            format!("tracefs is not mounted and mounting it failed: {e}"),
            hint,
        )
    })?;
    // Mounted as root's 0700: CAP_SYS_ADMIN without root still cannot read it.
    if let Tracefs::Unreadable { path, mode } = tracefs_status() {
        return Err(tracefs_unreadable(path, mode));
    }
    if libbpf_log::verbose() {
        crate::diag!("notice: tracefs was not mounted; mounted it at /sys/kernel/tracing in a private mount namespace");
    }
    Ok(())
}

/// Where tracefs is mounted and readable, if it is.
pub fn tracefs_root() -> Option<&'static Path> {
    TRACEFS_PATHS
        .into_iter()
        .map(Path::new)
        .find(|p| p.join("events").is_dir())
}

/// The `category/name` of a classic tracepoint section (`tp/a/b`, `tracepoint/a/b`).
pub fn tracepoint_of(section: &str) -> Option<&str> {
    section
        .strip_prefix("tp/")
        .or_else(|| section.strip_prefix("tracepoint/"))
}

/// `": needs Linux >= X"` for a tracepoint `cat/name` added in release X
/// ([`TRACEPOINT_SINCE`]), else `""`.
pub fn tracepoint_needs(tp: &str) -> String {
    TRACEPOINT_SINCE
        .iter()
        .find(|(t, _)| *t == tp)
        .map(|(_, v)| format!(": needs Linux >= {v}"))
        .unwrap_or_default()
}

/// `uname -r`, for messages ("unknown" if it cannot be read).
fn kernel_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|r| r.trim().to_string())
        .unwrap_or_else(|_| "unknown".into())
}

/// Whether tracepoint `cat/name` exists; `None` when tracefs is not mounted.
pub fn tracepoint_exists(tp: &str) -> Option<bool> {
    tracefs_root().map(|r| r.join("events").join(tp).is_dir())
}

/// Whether the running kernel has the BTF raw tracepoint `name` (what a
/// `tp_btf/NAME` program attaches to): its `btf_trace_NAME` typedef in the
/// kernel's BTF. `None` when the kernel's BTF cannot be read.
pub fn tp_btf_exists(name: &str) -> Option<bool> {
    let (btf, _log) = libbpf_log::held(libbpf_rs::btf::Btf::from_vmlinux);
    let btf = btf.ok()?;
    let ty = format!("btf_trace_{name}");
    Some(
        btf.type_by_name::<libbpf_rs::btf::types::Typedef<'_>>(&ty)
            .is_some(),
    )
}

/// Disables optional programs whose tracepoint is missing (a notice with -v),
/// and fails on a missing required one.
pub fn check_tracepoints(obj: &mut OpenObject, optional: &[&str]) -> Result<()> {
    for mut prog in obj.progs_mut() {
        if !prog.autoload() {
            continue;
        }
        let section = prog.section().to_string_lossy().into_owned();
        let Some(tp) = tracepoint_of(&section) else {
            continue;
        };
        if tracepoint_exists(tp) != Some(false) {
            continue;
        }
        let name = prog.name().to_string_lossy().into_owned();
        if optional.contains(&name.as_str()) {
            if libbpf_log::verbose() {
                crate::diag!(
                    "notice: tracepoint {} is not on this kernel; {name} left out",
                    tp.replace('/', ":")
                );
            }
            prog.set_autoload(false);
        } else {
            let needs = tracepoint_needs(tp);
            let hint = if needs.is_empty() {
                "this tool needs it: use a kernel with that tracepoint (syscall tracepoints need CONFIG_FTRACE_SYSCALLS=y)".to_string()
            } else {
                format!(
                    "this tool needs it: boot a kernel of that release or later (this one is {})",
                    kernel_release()
                )
            };
            return Err(UserError::hint(
                format!(
                    "tracepoint {} does not exist on this kernel{needs}",
                    tp.replace('/', ":"),
                ),
                hint,
            )
            .into());
        }
    }
    Ok(())
}

/// Tracepoints younger than the oldest kernels the tools run on, with the
/// release that added them (`category/name`, version): a tool that needs
/// one, and `corescope check`, say which release ([`needs_linux`]).
pub const TRACEPOINT_SINCE: &[(&str, &str)] = &[
    ("capability/cap_capable", "6.14"),
    ("sock/sock_send_length", "6.3"),
    ("sock/sock_recv_length", "6.3"),
];

/// `needs Linux >= V (category:name)` for a tracepoint of
/// [`TRACEPOINT_SINCE`], by its name alone (as a `tp_btf/` section gives it)
/// or by `category/name`.
pub fn needs_linux(tp: &str) -> Option<String> {
    TRACEPOINT_SINCE
        .iter()
        .find(|(full, _)| *full == tp || full.rsplit('/').next() == Some(tp))
        .map(|(full, v)| format!("needs Linux >= {v} ({})", full.replace('/', ":")))
}

/// The arguments of BTF raw tracepoint `name` in the running kernel's BTF
/// (its `btf_trace_<name>` prototype, without the leading context
/// pointer): `Ok(None)` when the kernel has no such tracepoint, an error
/// when its BTF cannot be read (the load then says why).
pub fn btf_tracepoint_args(name: &str) -> Result<Option<usize>> {
    use libbpf_rs::btf::{types, Btf, BtfType, ReferencesType};
    let (btf, _) = libbpf_log::held(Btf::from_vmlinux);
    let btf = btf.map_err(|e| anyhow::anyhow!("reading {KERNEL_BTF}: {e}"))?;
    let Some(t) = btf.type_by_name::<types::Typedef<'_>>(&format!("btf_trace_{name}")) else {
        return Ok(None);
    };
    // typedef → pointer → function prototype.
    let proto: Option<BtfType<'_>> = t.referenced_type().next_type();
    let n = proto
        .and_then(|p| types::FuncProto::try_from(p).ok())
        .map(|p| p.len().saturating_sub(1));
    Ok(Some(n.unwrap_or(0)))
}

/// The error of a tool whose tracepoint `tp` (`category/name`) this kernel
/// does not have: `needs Linux >= V (category:name)` when the release is
/// known.
pub fn missing_tracepoint(tool: &str, tp: &str) -> UserError {
    let what = tp.replace('/', ":");
    match needs_linux(tp) {
        Some(n) => UserError::hint(
            format!("{n}: this kernel does not have tracepoint {what}"),
            format!("run {tool} on a newer kernel (`corescope check` lists what each tool needs)"),
        ),
        None => UserError::hint(
            format!("tracepoint {what} does not exist on this kernel"),
            format!("{tool} needs it: use a kernel with that tracepoint"),
        ),
    }
}

/// Turns a failed load into one line plus a hint, using libbpf's held log.
pub fn load_error(
    err: libbpf_rs::Error,
    log: &[(PrintLevel, String)],
    btf: Option<&Path>,
) -> anyhow::Error {
    let text: String = log.iter().map(|(_, m)| m.as_str()).collect();
    let verbose = libbpf_log::verbose();
    if verbose {
        libbpf_log::dump(log);
    }
    let prog = text
        .lines()
        .find(|l| l.contains("BPF program load failed") || l.contains("failed to load"))
        .and_then(|l| l.split('\'').nth(1))
        .unwrap_or("?")
        .to_string();
    // libbpf rewrites the verifier's "invalid func unknown#195896080" of a
    // poisoned instruction into this line, naming the type and field.
    let relo = text
        .lines()
        .find_map(|l| l.split_once("failed to resolve CO-RE relocation "))
        .map(|(_, r)| {
            let r = r.split_once("] ").map_or(r, |x| x.1);
            r.split_once(" (").map_or(r, |x| x.0).to_string()
        });
    let e = if let Some(what) = relo {
        let (msg, hint) = match btf {
            Some(p) => (
                format!(
                    "--btf {} lacks what program '{prog}' needs: {what} (a CO-RE relocation failed)",
                    crate::escape::escape(p.as_os_str().as_encoded_bytes())
                ),
                "make the file for this kernel and corescope's BPF objects (`bpftool gen min_core_btf`), or use the kernel's full BTF",
            ),
            None => (
                format!("this kernel lacks what program '{prog}' needs: {what} (a CO-RE relocation failed)"),
                "use a newer kernel (run with -v for libbpf's log)",
            ),
        };
        UserError::hint(msg, hint)
    } else if text.contains("BEGIN PROG LOAD LOG") {
        UserError::hint(
            format!("the kernel's BPF verifier rejected program '{prog}' ({err})"),
            if verbose {
                "the verifier log is above"
            } else {
                "run again with -v to see the verifier log"
            },
        )
    } else if err.kind() == libbpf_rs::ErrorKind::PermissionDenied && text.is_empty() {
        privilege_error()
    } else if btf.is_some() && text.contains("failed to find valid kernel BTF") {
        // A BTF-typed program (tp_btf, fentry, typed ksyms; none in the
        // shared layer) needs the kernel's own BTF even with --btf.
        UserError::hint(
            format!("a BTF-typed program needs the kernel's own BTF ({KERNEL_BTF} is missing; --btf FILE only serves CO-RE relocations) ({err})"),
            "use a kernel built with CONFIG_DEBUG_INFO_BTF=y (run with -v for libbpf's log)",
        )
    } else if text.contains("BTF")
        && (text.contains("failed to parse target BTF")
            || text.contains("failed to find valid kernel BTF")
            || btf.is_some())
    {
        UserError::hint(
            format!("cannot use the BTF for CO-RE relocations ({err})"),
            "check --btf FILE (it must describe the running kernel), or use a kernel with /sys/kernel/btf/vmlinux",
        )
    } else if text.contains("map 'events'") && text.contains("failed to create") {
        UserError::hint(
            format!("cannot create the BPF ring buffer ({err})"),
            "BPF ring buffers need Linux 5.8 or later; a smaller --buffer-pages may also help",
        )
    } else if err.kind() == libbpf_rs::ErrorKind::PermissionDenied {
        UserError::hint(
            format!("the kernel refused to load program '{prog}' ({err})"),
            "run as root; a lockdown or seccomp policy may also forbid BPF (run with -v for libbpf's log)",
        )
    } else {
        UserError::hint(
            format!("loading the BPF programs failed: {err}"),
            "run again with -v for libbpf's log",
        )
    };
    e.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracepoint_sections() {
        assert_eq!(
            tracepoint_of("tp/syscalls/sys_enter_execve"),
            Some("syscalls/sys_enter_execve")
        );
        assert_eq!(
            tracepoint_of("tracepoint/sched/sched_process_exec"),
            Some("sched/sched_process_exec")
        );
        assert_eq!(tracepoint_of("tp_btf/sched_process_fork"), None);
    }

    #[test]
    fn caps() {
        assert!(has_cap(1 << 39, CAP_BPF));
        assert!(!has_cap(1 << 38, CAP_BPF));
    }

    #[test]
    fn verifier_rejection_is_one_line_with_hint() {
        let log = vec![
            (
                PrintLevel::Warn,
                "libbpf: prog 'handle_exec': BPF program load failed: -EACCES\n".to_string(),
            ),
            (
                PrintLevel::Warn,
                "libbpf: prog 'handle_exec': -- BEGIN PROG LOAD LOG --\nR0 invalid mem access\n"
                    .to_string(),
            ),
        ];
        let e = load_error(
            libbpf_rs::Error::from_raw_os_error(libc::EACCES),
            &log,
            None,
        );
        let u = e.downcast_ref::<UserError>().unwrap();
        assert!(
            u.msg.contains("verifier rejected program 'handle_exec'"),
            "{}",
            u.msg
        );
        assert!(!u.msg.contains('\n'));
        assert!(u.hint.as_deref().unwrap().contains("-v"));
    }

    #[test]
    fn failed_core_relocation_names_the_field_and_the_btf() {
        let log = vec![
            (
                PrintLevel::Warn,
                "libbpf: prog 'handle_exec': BPF program load failed: -EINVAL\n".to_string(),
            ),
            (
                PrintLevel::Warn,
                "libbpf: prog 'handle_exec': -- BEGIN PROG LOAD LOG --\n1: <invalid CO-RE relocation>\nfailed to resolve CO-RE relocation <byte_off> [372] struct trace_event_raw_sched_process_exec.old_pid (0:3 @ offset 16)\n-- END PROG LOAD LOG --\n"
                    .to_string(),
            ),
        ];
        let err = || libbpf_rs::Error::from_raw_os_error(libc::EINVAL);
        let e = load_error(err(), &log, Some(Path::new("/tmp/x.btf")));
        let u = e.downcast_ref::<UserError>().unwrap();
        let want = "--btf /tmp/x.btf lacks what program 'handle_exec' needs: struct trace_event_raw_sched_process_exec.old_pid";
        assert!(u.msg.starts_with(want), "{}", u.msg);
        assert!(u.hint.as_deref().unwrap().contains("min_core_btf"));
        let e = load_error(err(), &log, None);
        let u = e.downcast_ref::<UserError>().unwrap();
        assert!(
            u.msg
                .starts_with("this kernel lacks what program 'handle_exec' needs: struct"),
            "{}",
            u.msg
        );
    }

    #[test]
    fn eperm_without_log_is_a_privilege_error() {
        let e = load_error(libbpf_rs::Error::from_raw_os_error(libc::EPERM), &[], None);
        assert!(e.to_string().contains("permission denied"));
    }

    #[test]
    fn kernel_btf_missing_with_custom_btf_is_named() {
        let log = vec![
            (
                PrintLevel::Warn,
                "libbpf: kernel BTF is missing at '/sys/kernel/btf/vmlinux', was CONFIG_DEBUG_INFO_BTF enabled?\n".to_string(),
            ),
            (
                PrintLevel::Warn,
                "libbpf: failed to find valid kernel BTF\n".to_string(),
            ),
        ];
        let e = load_error(
            libbpf_rs::Error::from_raw_os_error(libc::ESRCH),
            &log,
            Some(Path::new("/tmp/min.btf")),
        );
        let u = e.downcast_ref::<UserError>().unwrap();
        assert!(u.msg.contains("needs the kernel's own BTF"), "{}", u.msg);
        assert!(u.hint.as_deref().unwrap().contains("CONFIG_DEBUG_INFO_BTF"));
    }

    #[test]
    fn btf_file_errors_each_say_what_is_wrong() {
        let dir = std::env::temp_dir().join(format!("cs-btf-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let junk = dir.join("junk");
        std::fs::write(&junk, b"this is not BTF at all").unwrap();
        let bad_raw = dir.join("bad-raw");
        std::fs::write(&bad_raw, [0x9f, 0xeb, 1, 0, 0xff, 0xff, 0, 0]).unwrap();
        // A valid header (24 bytes), no types, one empty string.
        let mut hdr = vec![0x9f, 0xeb, 1, 0];
        for v in [24u32, 0, 0, 0, 1] {
            hdr.extend(v.to_le_bytes());
        }
        hdr.push(0);
        let header_only = dir.join("header-only");
        std::fs::write(&header_only, &hdr).unwrap();
        let empty = dir.join("empty");
        std::fs::write(&empty, b"").unwrap();
        for (p, want) in [
            (Path::new("/nonexistent/x.btf"), "no such file"),
            (dir.as_path(), "is a directory"),
            (Path::new("/dev/zero"), "not a regular file"),
            (empty.as_path(), "is empty"),
            (junk.as_path(), "not a BTF file"),
            (bad_raw.as_path(), "corrupt BTF"),
            (header_only.as_path(), "holds no types"),
        ] {
            let e = check_btf(Some(p)).unwrap_err();
            let u = e.downcast_ref::<UserError>().unwrap();
            assert!(u.msg.contains(want), "{}: {}", p.display(), u.msg);
            assert!(!u.msg.contains('\n') && u.hint.is_some(), "{}", u.msg);
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
