use std::collections::BTreeSet;

use super::spec::{glob, is_library, match_syscalls, parse, Spec};
use super::*;

fn err(s: &str) -> String {
    let e = parse(s).unwrap_err();
    let u = e.downcast_ref::<UserError>().expect("a UserError");
    assert!(u.hint.is_some(), "{s}: no hint");
    u.msg.clone()
}

#[test]
fn specs_parse_into_their_three_kinds() {
    assert_eq!(parse("syscall:read").unwrap(), Spec::Syscall("read".into()));
    assert_eq!(
        parse("syscall:*open*").unwrap(),
        Spec::Syscall("*open*".into())
    );
    let user = |o: &str, f: &str| Spec::User {
        object: o.into(),
        func: f.into(),
    };
    assert_eq!(parse("c:malloc").unwrap(), user("c", "malloc"));
    assert_eq!(parse("./helper:func").unwrap(), user("./helper", "func"));
    assert_eq!(
        parse("/usr/bin/bash:readline").unwrap(),
        user("/usr/bin/bash", "readline")
    );
    assert_eq!(parse("vfs_read").unwrap(), Spec::Kernel("vfs_read".into()));
}

#[test]
fn bad_specs_are_one_error_with_a_hint() {
    assert!(err("syscall:").contains("no syscall name"));
    assert!(err("syscall:read;x").contains("letters, digits"));
    assert!(err(":malloc").contains("no library or binary"));
    assert!(err("c:").contains("no function name"));
    assert!(err("c:mall*").contains("patterns are for syscalls"));
    assert!(err("vfs_*").contains("kernel function is one name"));
    assert!(err("").contains("empty"));
}

#[test]
fn globs_match_like_a_shell() {
    assert!(glob("*open*", "openat"));
    assert!(glob("*open*", "open"));
    assert!(glob("*open*", "open_by_handle_at"));
    assert!(glob("*open*", "fsopen"));
    assert!(!glob("*open*", "read"));
    assert!(glob("read", "read"));
    assert!(!glob("read", "readv"));
    assert!(glob("read?", "readv"));
    assert!(!glob("read?", "read"));
    assert!(glob("p*d*", "pread64"));
    assert!(glob("*", "x"));
    assert!(glob("a*b*c", "aXbYbZc"));
    assert!(!glob("a*b*c", "aXbYbZ"));
}

#[test]
fn patterns_leave_out_the_calls_that_never_return() {
    let all: BTreeSet<String> = ["exit", "exit_group", "read", "readv", "open", "openat"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(match_syscalls("read", &all).unwrap(), ["read"]);
    assert_eq!(match_syscalls("*open*", &all).unwrap(), ["open", "openat"]);
    assert_eq!(match_syscalls("*", &all).unwrap().len(), 4);
    let msg = |r: Result<Vec<String>>| r.unwrap_err().downcast::<UserError>().unwrap().msg;
    assert!(msg(match_syscalls("exit_group", &all)).contains("never returns"));
    assert!(msg(match_syscalls("nosuch", &all)).contains("no syscall named nosuch"));
    assert!(msg(match_syscalls("*nosuch*", &all)).contains("matches no syscall"));
}

#[test]
fn library_names_match_their_files() {
    for p in [
        "/lib/x86_64-linux-gnu/libc.so.6",
        "/usr/lib/libc.so",
        "/lib/libc-2.31.so",
    ] {
        assert!(is_library(p, "c"), "{p}");
        assert!(is_library(p, "libc"), "{p}");
    }
    assert!(is_library("/lib/x86_64-linux-gnu/libc.so.6", "libc.so.6"));
    for p in [
        "/lib/x86_64-linux-gnu/libcap.so.2",
        "/lib/libc-client.so.2007",
        "/lib/libcrypt.so.1",
        "/usr/bin/c",
    ] {
        assert!(!is_library(p, "c"), "{p}");
    }
    assert!(is_library(
        "/usr/lib/x86_64-linux-gnu/libpthread.so.0",
        "pthread"
    ));
}

#[test]
fn units_and_filters_parse() {
    let a = |v: &[&str]| Args::try_parse_from([&["funclatency"], v].concat());
    let p = a(&["syscall:read"]).unwrap();
    assert_eq!(p.unit().1, "nsecs");
    assert_eq!(a(&["-u", "syscall:read"]).unwrap().unit().1, "usecs");
    assert_eq!(a(&["-m", "syscall:read"]).unwrap().unit().1, "msecs");
    assert!(a(&["-m", "-u", "syscall:read"]).is_err());
    assert!(a(&["-n", "-m", "syscall:read"]).is_err());
    let p = a(&["--min", "5", "--max", "9", "syscall:read", "1", "3"]).unwrap();
    assert_eq!(
        (p.min, p.max, p.iv.interval, p.iv.count),
        (Some(5), Some(9), Some(1), Some(3))
    );
    assert!(a(&[]).is_err(), "FUNCTION is required");
}

#[test]
fn libc_is_found_and_its_functions_have_offsets() {
    // This test binary maps libc: `c` resolves without -p.
    let files = super::spec::resolve_object("c", &[]).unwrap();
    assert_eq!(files.len(), 1, "{files:?}");
    let libc = &files[0];
    assert!(is_library(&libc.to_string_lossy(), "c"), "{libc:?}");
    let off = super::spec::function_offset(libc, "malloc").unwrap();
    assert!(off > 0);
    // The same function, named by its file.
    let path = libc.to_string_lossy().into_owned();
    let again = super::spec::resolve_object(&path, &[]).unwrap();
    assert_eq!(again, std::slice::from_ref(libc));
    let e = super::spec::function_offset(libc, "no_such_function_cs").unwrap_err();
    let u = e.downcast_ref::<UserError>().unwrap();
    assert!(
        u.msg
            .starts_with("function no_such_function_cs not found in "),
        "{}",
        u.msg
    );
    assert!(u.hint.as_deref().unwrap().contains("nm -D"), "{u:?}");
}

#[test]
fn unknown_objects_are_one_error_with_a_hint() {
    let msg = |o: &str, pids: &[u32]| {
        let e = super::spec::resolve_object(o, pids).unwrap_err();
        let u = e.downcast::<UserError>().unwrap();
        assert!(u.hint.is_some());
        u.msg
    };
    assert!(msg("/no/such/file", &[]).contains("no such file"));
    assert!(msg("no_such_lib_cs", &[]).contains("no library or program named"));
    // With -p, the processes' maps are searched first (and said so).
    let me = std::process::id();
    assert!(msg("no_such_lib_cs", &[me]).contains("mapped by the -p processes"));
    // A process that maps libc gives its own (through /proc/PID/root).
    let v = super::spec::resolve_object("c", &[me]).unwrap();
    assert!(v[0].starts_with(format!("/proc/{me}/root/")), "{v:?}");
}
