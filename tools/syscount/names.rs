//! Syscall and errno names. The syscall numbers are the x86_64 table
//! (syscalls_x86_64.rs), generated from the kernel's ABI headers by
//! gen-syscalls.sh: syscall numbers are ABI, never reused or renumbered, so
//! a table made at build time stays true on every later kernel, which can
//! only add numbers (shown as `[unknown: N]` until the table has them).
//! BCC and libbpf-tools use a built-in table too (or `ausyscall`, not
//! installed on most machines). The run-time alternatives are no better:
//! tracefs lists syscall event names without their numbers, and BTF has the
//! functions, not the table. On another architecture the table is empty
//! (numbers only) until its own is generated.

#[cfg(target_arch = "x86_64")]
#[path = "syscalls_x86_64.rs"]
mod table;

#[cfg(not(target_arch = "x86_64"))]
mod table {
    pub const TABLE: &[(u32, &str)] = &[];
    pub const ERRNOS: &[(&str, i32)] = &[];
}

pub use table::{ERRNOS, TABLE};

/// The name of syscall `nr` (the table is sorted by number).
pub fn name(nr: u32) -> Option<&'static str> {
    TABLE
        .binary_search_by_key(&nr, |&(n, _)| n)
        .ok()
        .map(|i| TABLE[i].1)
}

/// `--syscall`: a name of the table or a number.
pub fn parse_syscall(s: &str) -> Result<u32, String> {
    if let Ok(n) = s.parse::<u32>() {
        return if n < 1024 {
            Ok(n)
        } else {
            Err("syscall numbers are below 1024".into())
        };
    }
    TABLE
        .iter()
        .find(|&&(_, n)| n == s)
        .map(|&(nr, _)| nr)
        .ok_or_else(|| format!("no syscall named {s:?} here (syscount -l lists them)"))
}

/// `-e`: an errno name (ENOENT) or a positive number.
pub fn parse_errno(s: &str) -> Result<i32, String> {
    if let Ok(n) = s.parse::<i32>() {
        return if (1..4096).contains(&n) {
            Ok(n)
        } else {
            Err("an errno is a number from 1 to 4095".into())
        };
    }
    let up = s.to_ascii_uppercase();
    ERRNOS
        .iter()
        .find(|&&(n, _)| n == up)
        .map(|&(_, v)| v)
        .ok_or_else(|| format!("unknown errno {s:?} (a name like ENOENT, or a number)"))
}

/// `-l`: `NR: name` lines, as libbpf-tools' syscount prints them.
pub fn list_text() -> String {
    let mut s = String::with_capacity(TABLE.len() * 24);
    for (nr, name) in TABLE {
        s.push_str(&format!("{nr:3}: {name}\n"));
    }
    s
}

pub fn print_list() -> std::io::Result<()> {
    use std::io::Write as _;
    let mut o = std::io::stdout().lock();
    o.write_all(list_text().as_bytes())?;
    o.flush()
}
