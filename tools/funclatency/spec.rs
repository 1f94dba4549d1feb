//! What funclatency traces: the FUNCTION argument parsed ([`Spec`]) and
//! resolved on this machine ([`Target`]): syscall names from tracefs, a
//! library or binary path and the function's file offset from its ELF
//! symbols (blazesym), or a kernel function where kprobes exist.

use std::collections::BTreeSet;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

use anyhow::Result;
use blazesym::inspect::source::{Elf, Source};
use blazesym::inspect::Inspector;
use blazesym::SymType;
use corescope::UserError;

/// The FUNCTION argument, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Spec {
    /// `syscall:PATTERN`: the syscalls whose name matches (`*`, `?`).
    Syscall(String),
    /// `LIB:FUNC` (`c:malloc`: libc) or `/path/to/bin:FUNC`.
    User { object: String, func: String },
    /// A bare name: a kernel function (kprobe).
    Kernel(String),
}

const SPEC_HINT: &str =
    "FUNCTION is syscall:NAME (or a pattern: 'syscall:*open*'), LIB:FUNC (c:malloc), /path/to/binary:FUNC, or a kernel function name";

/// Parses FUNCTION; a malformed one is one line plus the forms it can take.
pub fn parse(s: &str) -> Result<Spec> {
    let bad = |why: &str| -> anyhow::Error {
        UserError::hint(format!("bad FUNCTION {s:?}: {why}"), SPEC_HINT).into()
    };
    if let Some(pat) = s.strip_prefix("syscall:") {
        if pat.is_empty() {
            return Err(bad("no syscall name after 'syscall:'"));
        }
        if !pat
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_*?".contains(&b))
        {
            return Err(bad(
                "a syscall name has only letters, digits, '_' (and * ? in a pattern)",
            ));
        }
        return Ok(Spec::Syscall(pat.to_string()));
    }
    match s.rsplit_once(':') {
        Some((object, func)) => {
            if object.is_empty() {
                return Err(bad("no library or binary before ':'"));
            }
            if func.is_empty() {
                return Err(bad("no function name after ':'"));
            }
            if func.contains(['*', '?']) {
                return Err(bad(
                    "patterns are for syscalls only; name one user function",
                ));
            }
            Ok(Spec::User {
                object: object.to_string(),
                func: func.to_string(),
            })
        }
        None if s.is_empty() => Err(bad("empty")),
        None if s.contains(['*', '?', '/']) => {
            Err(bad("a kernel function is one name, without a pattern"))
        }
        None => Ok(Spec::Kernel(s.to_string())),
    }
}

/// Whether `name` matches glob `pat` (`*` any run, `?` one character).
pub fn glob(pat: &str, name: &str) -> bool {
    let (p, n) = (pat.as_bytes(), name.as_bytes());
    let (mut i, mut j) = (0, 0);
    // Where the last `*` was, and the name position it matched up to.
    let mut star: Option<(usize, usize)> = None;
    while j < n.len() {
        if i < p.len() && (p[i] == b'?' || p[i] == n[j]) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == b'*' {
            star = Some((i, j));
            i += 1;
        } else if let Some((si, sj)) = star {
            i = si + 1;
            j = sj + 1;
            star = Some((si, sj + 1));
        } else {
            return false;
        }
    }
    p[i..].iter().all(|&c| c == b'*')
}

/// Syscalls that never return to their caller: no latency to measure (and
/// their entries would stay staged).
pub const NO_RETURN: [&str; 2] = ["exit", "exit_group"];

/// Syscalls whose exit also runs in the new task (returning 0 there).
pub const FORKLIKE: [&str; 4] = ["clone", "clone3", "fork", "vfork"];

/// The syscalls that have both an enter and an exit tracepoint under
/// `events` (tracefs `events/`), sorted.
pub fn syscalls(events: &Path) -> Result<BTreeSet<String>> {
    let dir = events.join("syscalls");
    let rd = std::fs::read_dir(&dir).map_err(|e| {
        UserError::hint(
            format!(
                "cannot list the syscall tracepoints ({}: {e})",
                dir.display()
            ),
            "syscall tracepoints need a kernel with CONFIG_FTRACE_SYSCALLS=y",
        )
    })?;
    let names: BTreeSet<String> = rd
        .flatten()
        .filter_map(|e| {
            let n = e.file_name();
            n.to_str()?.strip_prefix("sys_enter_").map(String::from)
        })
        .collect();
    Ok(names
        .into_iter()
        .filter(|n| dir.join(format!("sys_exit_{n}")).is_dir())
        .collect())
}

/// The syscalls `pat` names among `all`: an exact name must exist, a
/// pattern must match at least one (never-returning ones are left out of
/// a pattern and refused by name).
pub fn match_syscalls(pat: &str, all: &BTreeSet<String>) -> Result<Vec<String>> {
    let is_pattern = pat.contains(['*', '?']);
    if !is_pattern {
        if NO_RETURN.contains(&pat) {
            return Err(UserError::hint(
                format!("syscall {pat} never returns: it has no latency"),
                "name a syscall that returns",
            )
            .into());
        }
        if all.contains(pat) {
            return Ok(vec![pat.to_string()]);
        }
        return Err(UserError::hint(
            format!("no syscall named {pat} on this kernel (no syscalls:sys_enter_{pat} tracepoint)"),
            "the names are those of tracefs events/syscalls/sys_enter_*; a pattern such as 'syscall:*open*' matches several",
        )
        .into());
    }
    let v: Vec<String> = all
        .iter()
        .filter(|n| glob(pat, n) && !NO_RETURN.contains(&n.as_str()))
        .cloned()
        .collect();
    if v.is_empty() {
        return Err(UserError::hint(
            format!("pattern {pat:?} matches no syscall on this kernel"),
            "the names are those of tracefs events/syscalls/sys_enter_* (e.g. 'syscall:*read*')",
        )
        .into());
    }
    Ok(v)
}

/// Whether mapped file `path` is library `name` (`c` → libc.so.6,
/// libc-2.31.so; `libc` and `libc.so.6` also name it).
pub fn is_library(path: &str, name: &str) -> bool {
    let base = path.rsplit('/').next().unwrap_or(path);
    // A full file name (libc.so.6); a bare `c` is not a file called c.
    if name.contains(".so") {
        return base == name;
    }
    let stem = if name.starts_with("lib") {
        name.to_string()
    } else {
        format!("lib{name}")
    };
    let Some(rest) = base.strip_prefix(stem.as_str()) else {
        return false;
    };
    // libc.so, libc.so.6, libc-2.31.so; not libcap.so nor libc-client.so.
    let versioned = rest
        .strip_prefix('-')
        .is_some_and(|v| v.starts_with(|c: char| c.is_ascii_digit()) && v.contains(".so"));
    rest == ".so" || rest.starts_with(".so.") || versioned
}

/// The file of library `name` mapped by process `pid` (read through
/// /proc/PID/root, so a container's own library), if it maps one.
fn mapped_library(pid: &str, name: &str) -> Option<PathBuf> {
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).ok()?;
    let path = maps
        .lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .find(|p| p.starts_with('/') && is_library(p, name))?;
    Some(if pid == "self" {
        PathBuf::from(path)
    } else {
        Path::new(&format!("/proc/{pid}/root")).join(path.trim_start_matches('/'))
    })
}

/// Where Debian and others keep shared libraries.
const LIB_DIRS: [&str; 8] = [
    "/lib/x86_64-linux-gnu",
    "/usr/lib/x86_64-linux-gnu",
    "/lib/aarch64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu",
    "/lib64",
    "/usr/lib64",
    "/lib",
    "/usr/lib",
];

fn library_in_dirs(name: &str) -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = LIB_DIRS
        .iter()
        .filter_map(|d| std::fs::read_dir(d).ok())
        .flat_map(|rd| rd.flatten())
        .filter(|e| e.file_name().to_str().is_some_and(|n| is_library(n, name)))
        .map(|e| e.path())
        .collect();
    // The versioned name (libc.so.6) is the library itself; libc.so may be
    // a linker script.
    found.sort_by_key(|p| (!p.to_string_lossy().contains(".so."), p.clone()));
    found.into_iter().next()
}

fn in_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// The file `object` names: a path (with a '/'), else a library mapped by
/// one of `pids` (or by this process, without -p: libc), found in the
/// library directories, or an executable on PATH.
pub fn resolve_object(object: &str, pids: &[u32]) -> Result<Vec<PathBuf>> {
    if object.contains('/') {
        let p = PathBuf::from(object);
        if !p.is_file() {
            return Err(UserError::hint(
                format!("{object}: no such file"),
                "give the path of an executable or shared library, or a library name (c:malloc)",
            )
            .into());
        }
        return Ok(vec![p]);
    }
    let mut found = Vec::new();
    for pid in pids {
        if let Some(p) = mapped_library(&pid.to_string(), object) {
            found.push(p);
        }
    }
    if pids.is_empty() || found.is_empty() {
        let own = mapped_library("self", object);
        if let Some(p) = own
            .or_else(|| library_in_dirs(object))
            .or_else(|| in_path(object))
        {
            found.push(p);
        }
    }
    // One probe per file: several processes map the same library.
    let mut seen = BTreeSet::new();
    found.retain(|p| std::fs::metadata(p).map_or(true, |m| seen.insert((m.dev(), m.ino()))));
    if found.is_empty() {
        let how = if pids.is_empty() {
            "in the library directories or on PATH"
        } else {
            "mapped by the -p processes, in the library directories or on PATH"
        };
        return Err(UserError::hint(
            format!("no library or program named {object:?} found {how}"),
            "give the library's or binary's path (/usr/lib/x86_64-linux-gnu/libfoo.so.1:func), or -p PID of a process that uses it",
        )
        .into());
    }
    Ok(found)
}

/// The file offset of function `func` in ELF file `path` (its symbol table
/// or dynamic symbols), for a uprobe.
pub fn function_offset(path: &Path, func: &str) -> Result<u64> {
    let inspector = Inspector::new();
    let mut elf = Elf::new(path);
    elf.debug_syms = false;
    let src = Source::Elf(elf);
    let found = inspector.lookup(&src, &[func]).map_err(|e| {
        UserError::hint(
            format!("cannot read the symbols of {}: {e}", path.display()),
            "the file must be an ELF executable or shared library",
        )
    })?;
    let offset = found
        .iter()
        .flatten()
        .filter(|s| s.sym_type == SymType::Function)
        .find_map(|s| s.file_offset);
    offset.ok_or_else(|| {
        UserError::hint(
            format!("function {func} not found in {}", path.display()),
            format!(
                "its functions are listed by: nm -D --defined-only {} (or nm for a binary's own)",
                path.display()
            ),
        )
        .into()
    })
}

/// Whether the kernel can probe its own functions: a kprobe PMU or tracefs
/// kprobe_events (fentry would need BPF trampolines, also probed by
/// `corescope check`).
pub fn kprobes_available() -> bool {
    Path::new("/sys/bus/event_source/devices/kprobe").exists()
        || corescope::load::tracefs_root().is_some_and(|t| t.join("kprobe_events").exists())
}
