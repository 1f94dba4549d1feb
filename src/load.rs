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
        "run it with sudo (or grant the binary cap_bpf,cap_perfmon+ep)",
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

/// Checks that a BTF source exists: `--btf FILE` or the kernel's own.
pub fn check_btf(custom: Option<&Path>) -> Result<()> {
    match custom {
        Some(p) if !p.is_file() => Err(UserError::hint(
            format!("--btf {}: no such file", p.display()),
            "give a BTF file for this kernel, e.g. made with `bpftool gen min_core_btf`",
        )
        .into()),
        Some(_) => Ok(()),
        None if Path::new(KERNEL_BTF).exists() => Ok(()),
        None => Err(UserError::hint(
            format!("this kernel has no BTF ({KERNEL_BTF} is missing)"),
            "pass --btf FILE with a BTF file for this kernel, or use a kernel built with CONFIG_DEBUG_INFO_BTF=y",
        )
        .into()),
    }
}

/// `--btf FILE` stands in for the kernel's BTF in CO-RE relocations only:
/// Makes tracefs available to this process (libbpf resolves tracepoint IDs
/// through it). If it is not mounted, mounts it in a private mount namespace
/// of our own, so nothing is left mounted on the host. Call while
/// single-threaded, after forking `-- CMD`.
pub fn ensure_tracefs() -> Result<()> {
    use nix::mount::{mount, MsFlags};
    if tracefs_root().is_some() {
        return Ok(());
    }
    let hint = "mount it: mount -t tracefs nodev /sys/kernel/tracing";
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS).map_err(|e| {
        UserError::hint(
            format!("tracefs is not mounted and a private mount namespace failed: {e}"),
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
    if libbpf_log::verbose() {
        crate::diag!("notice: tracefs was not mounted; mounted it at /sys/kernel/tracing in a private mount namespace");
    }
    Ok(())
}

/// Where tracefs is mounted, if it is.
pub fn tracefs_root() -> Option<&'static Path> {
    ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"]
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

/// Whether tracepoint `cat/name` exists; `None` when tracefs is not mounted.
pub fn tracepoint_exists(tp: &str) -> Option<bool> {
    tracefs_root().map(|r| r.join("events").join(tp).is_dir())
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
            return Err(UserError::hint(
                format!("tracepoint {} does not exist on this kernel", tp.replace('/', ":")),
                "this tool needs it: use a kernel with that tracepoint (syscall tracepoints need CONFIG_FTRACE_SYSCALLS=y)",
            )
            .into());
        }
    }
    Ok(())
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
    let e = if text.contains("BEGIN PROG LOAD LOG") {
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
    fn missing_btf_file_has_hint() {
        let e = check_btf(Some(Path::new("/nonexistent/x.btf"))).unwrap_err();
        let u = e.downcast_ref::<UserError>().unwrap();
        assert!(u.msg.contains("no such file") && u.hint.is_some());
    }
}
