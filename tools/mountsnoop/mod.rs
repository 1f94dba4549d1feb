//! mountsnoop: one row per mount-family syscall — mount, umount2, fsopen,
//! fsconfig, fsmount, move_mount, open_tree — with its arguments (flags by
//! name), result and the caller's mount namespace. Based on mountsnoop(8)
//! from libbpf-tools (its columns, `-d` detailed mode, `-t`).

use std::fmt::{self, Write as _};

use corescope::clock::Hms;
use corescope::errno::ErrnoName;
use corescope::escape::{cstr, escape_into};
use corescope::prelude::*;
use corescope::skel::mountsnoop::types::{
    mountsnoop_call as CallKind, mountsnoop_consts as consts, mountsnoop_event as Event,
};
use corescope::skel::mountsnoop::{MountsnoopSkelBuilder, OpenMountsnoopSkel};

const EXAMPLES: &str = "EXAMPLES:
    mountsnoop               # every mount-family syscall, one line each
    mountsnoop -t            # with a TIME column (HH:MM:SS)
    mountsnoop -d            # detailed: one line per argument
    mountsnoop -p 181        # calls by PID 181 and its descendants
    mountsnoop -j -- unshare -m sh -c 'mount -t tmpfs none /mnt'";

/// Trace mount, umount2, fsopen, fsconfig, fsmount, move_mount and
/// open_tree syscalls.
#[derive(Parser, Debug)]
#[command(version, after_help = EXAMPLES)]
struct Args {
    /// Include a TIME column (HH:MM:SS, local time)
    #[arg(short = 't', long)]
    timestamp: bool,
    /// Detailed output: one line per value (libbpf-tools' -d); not with
    /// --json
    #[arg(short = 'd', long, conflicts_with = "json")]
    detailed: bool,
    #[command(flatten)]
    common: CommonArgs,
}

/// Programs left out (with a notice under -v) on a kernel without their
/// tracepoints (these syscalls came in Linux 5.2).
const OPTIONAL: &[&str] = &[
    "handle_enter_fsopen",
    "handle_exit_fsopen",
    "handle_enter_fsconfig",
    "handle_exit_fsconfig",
    "handle_enter_fsmount",
    "handle_exit_fsmount",
    "handle_enter_move_mount",
    "handle_exit_move_mount",
    "handle_enter_open_tree",
    "handle_exit_open_tree",
];

/// Flag names: (bits, name), matched in order; bits left over are shown
/// in hex.
type Names = &'static [(u64, &'static str)];

const MS: Names = &[
    (1, "MS_RDONLY"),
    (2, "MS_NOSUID"),
    (4, "MS_NODEV"),
    (8, "MS_NOEXEC"),
    (16, "MS_SYNCHRONOUS"),
    (32, "MS_REMOUNT"),
    (64, "MS_MANDLOCK"),
    (128, "MS_DIRSYNC"),
    (256, "MS_NOSYMFOLLOW"),
    (1 << 10, "MS_NOATIME"),
    (1 << 11, "MS_NODIRATIME"),
    (1 << 12, "MS_BIND"),
    (1 << 13, "MS_MOVE"),
    (1 << 14, "MS_REC"),
    (1 << 15, "MS_SILENT"),
    (1 << 16, "MS_POSIXACL"),
    (1 << 17, "MS_UNBINDABLE"),
    (1 << 18, "MS_PRIVATE"),
    (1 << 19, "MS_SLAVE"),
    (1 << 20, "MS_SHARED"),
    (1 << 21, "MS_RELATIME"),
    (1 << 22, "MS_KERNMOUNT"),
    (1 << 23, "MS_I_VERSION"),
    (1 << 24, "MS_STRICTATIME"),
    (1 << 25, "MS_LAZYTIME"),
    (1 << 26, "MS_SUBMOUNT"),
    (1 << 27, "MS_NOREMOTELOCK"),
    (1 << 28, "MS_NOSEC"),
    (1 << 29, "MS_BORN"),
    (1 << 30, "MS_ACTIVE"),
    (1 << 31, "MS_NOUSER"),
];
const UMOUNT: Names = &[
    (1, "MNT_FORCE"),
    (2, "MNT_DETACH"),
    (4, "MNT_EXPIRE"),
    (8, "UMOUNT_NOFOLLOW"),
];
const FSOPEN: Names = &[(1, "FSOPEN_CLOEXEC")];
const FSMOUNT: Names = &[(1, "FSMOUNT_CLOEXEC")];
/// The atime field (0x70) holds one value; 0 is MOUNT_ATTR_RELATIME.
const MOUNT_ATTR: Names = &[
    (1, "MOUNT_ATTR_RDONLY"),
    (2, "MOUNT_ATTR_NOSUID"),
    (4, "MOUNT_ATTR_NODEV"),
    (8, "MOUNT_ATTR_NOEXEC"),
    (0x10, "MOUNT_ATTR_NOATIME"),
    (0x20, "MOUNT_ATTR_STRICTATIME"),
    (0x80, "MOUNT_ATTR_NODIRATIME"),
    (0x10_0000, "MOUNT_ATTR_IDMAP"),
    (0x20_0000, "MOUNT_ATTR_NOSYMFOLLOW"),
];
const MOVE_MOUNT: Names = &[
    (1, "MOVE_MOUNT_F_SYMLINKS"),
    (2, "MOVE_MOUNT_F_AUTOMOUNTS"),
    (4, "MOVE_MOUNT_F_EMPTY_PATH"),
    (0x10, "MOVE_MOUNT_T_SYMLINKS"),
    (0x20, "MOVE_MOUNT_T_AUTOMOUNTS"),
    (0x40, "MOVE_MOUNT_T_EMPTY_PATH"),
    (0x100, "MOVE_MOUNT_SET_GROUP"),
    (0x200, "MOVE_MOUNT_BENEATH"),
];
const OPEN_TREE: Names = &[
    (1, "OPEN_TREE_CLONE"),
    (0x100, "AT_SYMLINK_NOFOLLOW"),
    (0x800, "AT_NO_AUTOMOUNT"),
    (0x1000, "AT_EMPTY_PATH"),
    (0x8000, "AT_RECURSIVE"),
    (0x8_0000, "OPEN_TREE_CLOEXEC"),
];
const FSCONFIG_CMDS: [&str; 9] = [
    "FSCONFIG_SET_FLAG",
    "FSCONFIG_SET_STRING",
    "FSCONFIG_SET_BINARY",
    "FSCONFIG_SET_PATH",
    "FSCONFIG_SET_PATH_EMPTY",
    "FSCONFIG_SET_FD",
    "FSCONFIG_CMD_CREATE",
    "FSCONFIG_CMD_RECONFIGURE",
    "FSCONFIG_CMD_CREATE_EXCL",
];

/// mount(2)'s legacy magic in the upper 16 bits (MS_MGC_VAL).
const MS_MGC_MSK: u64 = 0xffff_0000;
const MS_MGC_VAL: u64 = 0xc0ed_0000;

/// Flags by name, `A | B`, `0x0` for none, unknown bits in hex (written
/// in place).
#[derive(Clone, Copy)]
struct Flags {
    v: u64,
    names: Names,
}

impl fmt::Display for Flags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut v = self.v;
        if v == 0 {
            return f.write_str("0x0");
        }
        let mut sep = "";
        if std::ptr::eq(self.names, MS) && v & MS_MGC_MSK == MS_MGC_VAL {
            f.write_str("MS_MGC_VAL")?;
            v &= !MS_MGC_MSK;
            sep = " | ";
        }
        for &(bit, name) in self.names {
            if v & bit == bit {
                write!(f, "{sep}{name}")?;
                v &= !bit;
                sep = " | ";
            }
        }
        if v != 0 {
            write!(f, "{sep}{v:#x}")?;
        }
        Ok(())
    }
}

impl Serialize for Flags {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A dirfd: AT_FDCWD by name.
#[derive(Clone, Copy)]
struct Dfd(i32);

impl fmt::Display for Dfd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            -100 => f.write_str("AT_FDCWD"),
            fd => write!(f, "{fd}"),
        }
    }
}

/// A syscall result: `0`, an fd, or `-ENOENT`.
#[derive(Clone, Copy)]
struct Ret(i64);

impl fmt::Display for Ret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match ErrnoName::of_ret(self.0) {
            Some(n) => write!(f, "-{n}"),
            None => write!(f, "{}", self.0),
        }
    }
}

/// One string argument of the event: absent (not this call's), a NULL
/// pointer, unreadable, or its bytes (and whether they filled the buffer).
#[derive(Clone, Copy)]
enum Arg<'a> {
    Null,
    Unreadable,
    /// A pointer to something that is not a string (not read).
    Other,
    Str(&'a [u8], bool),
}

fn arg(e: &Event, i: usize) -> Arg<'_> {
    let bit = 1u8 << i;
    if e.str_null & bit != 0 {
        Arg::Null
    } else if e.str_other & bit != 0 {
        Arg::Other
    } else if e.str_fault & bit != 0 {
        Arg::Unreadable
    } else {
        let n = consts::MOUNTSNOOP_STR.0 as usize;
        let s = e.str.get(i * n..(i + 1) * n).unwrap_or_default();
        Arg::Str(cstr(s), e.str_cut & bit != 0)
    }
}

impl Arg<'_> {
    /// strace style: `"text"` (escaped, `"` too), `"text"...` when it may
    /// be cut, `NULL`, `?` when it could not be read.
    fn write(self, out: &mut String) {
        match self {
            Arg::Null => out.push_str("NULL"),
            Arg::Unreadable => out.push('?'),
            Arg::Other => out.push_str("<data>"),
            Arg::Str(b, cut) => {
                out.push('"');
                escape_into(out, b, true);
                out.push('"');
                if cut {
                    out.push_str("...");
                }
            }
        }
    }
}

impl Serialize for Arg<'_> {
    /// JSON: the string (exact, KStr), null for NULL, unreadable or not a
    /// string (see `unreadable` and `truncated` in the record).
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Arg::Str(b, _) => KStr(b).serialize(s),
            _ => s.serialize_none(),
        }
    }
}

fn call_name(c: u8) -> &'static str {
    [
        "mount",
        "umount",
        "fsopen",
        "fsconfig",
        "fsmount",
        "move_mount",
        "open_tree",
    ]
    .get(usize::from(c))
    .copied()
    .unwrap_or("unknown")
}

fn is(e: &Event, k: CallKind) -> bool {
    u32::from(e.call) == k.0
}

/// The flags of the event's call, with their names.
fn flags(e: &Event) -> Flags {
    let names = match () {
        _ if is(e, CallKind::MOUNTSNOOP_MOUNT) => MS,
        _ if is(e, CallKind::MOUNTSNOOP_UMOUNT) => UMOUNT,
        _ if is(e, CallKind::MOUNTSNOOP_FSOPEN) => FSOPEN,
        _ if is(e, CallKind::MOUNTSNOOP_FSMOUNT) => FSMOUNT,
        _ if is(e, CallKind::MOUNTSNOOP_MOVE_MOUNT) => MOVE_MOUNT,
        _ if is(e, CallKind::MOUNTSNOOP_OPEN_TREE) => OPEN_TREE,
        _ => &[],
    };
    Flags { v: e.flags, names }
}

fn fsconfig_cmd(cmd: i32) -> &'static str {
    usize::try_from(cmd)
        .ok()
        .and_then(|c| FSCONFIG_CMDS.get(c))
        .copied()
        .unwrap_or("UNKNOWN")
}

/// One call: the event itself (its JSON written field by field, only the
/// call's own arguments).
struct Call<'a> {
    e: &'a Event,
    time: Hms,
}

impl Serialize for Call<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap as _;
        use CallKind as K;
        let e = self.e;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("time", &self.time)?;
        m.serialize_entry("pid", &e.pid)?;
        m.serialize_entry("tid", &e.tid)?;
        m.serialize_entry("uid", &e.uid)?;
        m.serialize_entry("comm", &KStr(cstr(&e.comm)))?;
        m.serialize_entry("mnt_ns", &e.mnt_ns)?;
        m.serialize_entry("call", call_name(e.call))?;
        m.serialize_entry("ret", &e.ret)?;
        m.serialize_entry("error", &ErrnoName::of_ret(e.ret))?;
        m.serialize_entry("latency_us", &(e.delta_ns / 1000))?;
        let strs: &[(usize, &str)] = match () {
            _ if is(e, K::MOUNTSNOOP_MOUNT) => {
                &[(0, "source"), (1, "target"), (2, "fstype"), (3, "data")]
            }
            _ if is(e, K::MOUNTSNOOP_UMOUNT) => &[(1, "target")],
            _ if is(e, K::MOUNTSNOOP_FSOPEN) => &[(2, "fs")],
            _ if is(e, K::MOUNTSNOOP_FSCONFIG) => &[(0, "key"), (3, "value")],
            _ if is(e, K::MOUNTSNOOP_MOVE_MOUNT) => &[(0, "from_path"), (1, "to_path")],
            _ if is(e, K::MOUNTSNOOP_OPEN_TREE) => &[(0, "path")],
            _ => &[],
        };
        for &(i, name) in strs {
            m.serialize_entry(name, &arg(e, i))?;
        }
        if is(e, K::MOUNTSNOOP_FSCONFIG) {
            m.serialize_entry("fd", &e.fd1)?;
            m.serialize_entry("cmd", fsconfig_cmd(e.cmd))?;
            m.serialize_entry("aux", &e.aux)?;
        } else {
            m.serialize_entry("flags", &e.flags)?;
            m.serialize_entry("flags_names", &flags(e))?;
        }
        if is(e, K::MOUNTSNOOP_FSMOUNT) {
            m.serialize_entry("fs_fd", &e.fd1)?;
            m.serialize_entry("attr_flags", &e.attr_flags)?;
            let attr = Flags {
                v: u64::from(e.attr_flags),
                names: MOUNT_ATTR,
            };
            m.serialize_entry("attr_flags_names", &attr)?;
        }
        if is(e, K::MOUNTSNOOP_MOVE_MOUNT) {
            m.serialize_entry("from_dfd", &e.fd1)?;
            m.serialize_entry("to_dfd", &e.fd2)?;
        }
        if is(e, K::MOUNTSNOOP_OPEN_TREE) {
            m.serialize_entry("dfd", &e.fd1)?;
        }
        // Only set bits of this call's strings are ever reported.
        if e.str_fault != 0 {
            m.serialize_entry("unreadable", &true)?;
        }
        if e.str_cut != 0 {
            m.serialize_entry("truncated", &true)?;
        }
        m.end()
    }
}

/// CALL: `mount("none", "/mnt", "tmpfs", MS_NOSUID, "size=1m") = 0`.
fn write_call(e: &Event, out: &mut String) {
    use CallKind as K;
    let a = |i| arg(e, i);
    let _ = write!(out, "{}(", call_name(e.call));
    match () {
        _ if is(e, K::MOUNTSNOOP_MOUNT) => {
            for i in 0..3 {
                a(i).write(out);
                out.push_str(", ");
            }
            let _ = write!(out, "{}, ", flags(e));
            a(3).write(out);
        }
        _ if is(e, K::MOUNTSNOOP_UMOUNT) => {
            a(1).write(out);
            let _ = write!(out, ", {}", flags(e));
        }
        _ if is(e, K::MOUNTSNOOP_FSOPEN) => {
            a(2).write(out);
            let _ = write!(out, ", {}", flags(e));
        }
        _ if is(e, K::MOUNTSNOOP_FSCONFIG) => {
            let _ = write!(out, "{}, {}, ", e.fd1, fsconfig_cmd(e.cmd));
            a(0).write(out);
            out.push_str(", ");
            a(3).write(out);
            let _ = write!(out, ", {}", e.aux);
        }
        _ if is(e, K::MOUNTSNOOP_FSMOUNT) => {
            let attr = Flags {
                v: u64::from(e.attr_flags),
                names: MOUNT_ATTR,
            };
            let _ = write!(out, "{}, {}, {attr}", e.fd1, flags(e));
        }
        _ if is(e, K::MOUNTSNOOP_MOVE_MOUNT) => {
            let _ = write!(out, "{}, ", Dfd(e.fd1));
            a(0).write(out);
            let _ = write!(out, ", {}, ", Dfd(e.fd2));
            a(1).write(out);
            let _ = write!(out, ", {}", flags(e));
        }
        _ if is(e, K::MOUNTSNOOP_OPEN_TREE) => {
            let _ = write!(out, "{}, ", Dfd(e.fd1));
            a(0).write(out);
            let _ = write!(out, ", {}", flags(e));
        }
        _ => {}
    }
    let _ = write!(out, ") = {}", Ret(e.ret));
}

/// `-d`: libbpf-tools' detailed block, one `NAME:   value` line each, a
/// blank line after (string values quoted and escaped here).
fn write_detailed(e: &Event, time: Option<Hms>, out: &mut String) {
    use CallKind as K;
    let ind = if time.is_some() { "    " } else { "" };
    if let Some(t) = time {
        let _ = writeln!(out, "{t} ");
    }
    let _ = writeln!(out, "{ind}PID:    {}", e.pid);
    let _ = writeln!(out, "{ind}TID:    {}", e.tid);
    out.push_str(ind);
    out.push_str("COMM:   ");
    escape_into(out, cstr(&e.comm), false);
    out.push('\n');
    let op = call_name(e.call);
    let _ = write!(out, "{ind}OP:     ");
    for c in op.chars() {
        out.push(c.to_ascii_uppercase());
    }
    let _ = writeln!(out, "\n{ind}RET:    {}", Ret(e.ret));
    let _ = writeln!(out, "{ind}LAT:    {}us", e.delta_ns / 1000);
    let _ = writeln!(out, "{ind}MNT_NS: {}", e.mnt_ns);
    let s = |out: &mut String, name: &str, i: usize| {
        out.push_str(ind);
        out.push_str(name);
        arg(e, i).write(out);
        out.push('\n');
    };
    match () {
        _ if is(e, K::MOUNTSNOOP_MOUNT) => {
            s(out, "FS:     ", 2);
            s(out, "SOURCE: ", 0);
            s(out, "TARGET: ", 1);
            s(out, "DATA:   ", 3);
            let _ = writeln!(out, "{ind}FLAGS:  {}", flags(e));
        }
        _ if is(e, K::MOUNTSNOOP_UMOUNT) => {
            s(out, "TARGET: ", 1);
            let _ = writeln!(out, "{ind}FLAGS:  {}", flags(e));
        }
        _ if is(e, K::MOUNTSNOOP_FSOPEN) => {
            s(out, "FS:     ", 2);
            let _ = writeln!(out, "{ind}FLAGS:  {}", flags(e));
        }
        _ if is(e, K::MOUNTSNOOP_FSCONFIG) => {
            let _ = writeln!(out, "{ind}FD:     {}", e.fd1);
            let _ = writeln!(out, "{ind}CMD:    {}", fsconfig_cmd(e.cmd));
            s(out, "KEY:    ", 0);
            s(out, "VALUE:  ", 3);
            let _ = writeln!(out, "{ind}AUX:    {}", e.aux);
        }
        _ if is(e, K::MOUNTSNOOP_FSMOUNT) => {
            let attr = Flags {
                v: u64::from(e.attr_flags),
                names: MOUNT_ATTR,
            };
            let _ = writeln!(out, "{ind}FS_FD:       {}", e.fd1);
            let _ = writeln!(out, "{ind}FLAGS:       {}", flags(e));
            let _ = writeln!(out, "{ind}ATTR_FLAGS:  {attr}");
        }
        _ if is(e, K::MOUNTSNOOP_MOVE_MOUNT) => {
            let _ = writeln!(out, "{ind}FROM_DFD:       {}", Dfd(e.fd1));
            s(out, "FROM_PATHNAME:  ", 0);
            let _ = writeln!(out, "{ind}TO_DFD:         {}", Dfd(e.fd2));
            s(out, "TO_PATHNAME:    ", 1);
            let _ = writeln!(out, "{ind}FLAGS:          {}", flags(e));
        }
        _ if is(e, K::MOUNTSNOOP_OPEN_TREE) => {
            let _ = writeln!(out, "{ind}DFD:    {}", Dfd(e.fd1));
            s(out, "PATH:   ", 0);
            let _ = writeln!(out, "{ind}FLAGS:  {}", flags(e));
        }
        _ => {}
    }
}

impl Row for Call<'_> {
    type Opts = Mountsnoop;
    fn columns(t: &mut Table<'_, '_, Self>, m: &Mountsnoop) {
        if m.a.detailed {
            // One unnamed column (no header line): the block of lines.
            let time = m.a.timestamp;
            t.col(Col::left("", 0), |r, c| {
                write_detailed(r.e, time.then_some(r.time), c.buf())
            });
            return;
        }
        // libbpf-tools: "%-16s %-7d %-7d %-11u %s".
        t.col_if(m.a.timestamp, Col::left("TIME", 8), |r, c| c.put(r.time));
        t.col(Col::left("COMM", 16), |r, c| c.text(cstr(&r.e.comm)));
        t.col(Col::left("PID", 7), |r, c| c.put(r.e.pid));
        t.col(Col::left("TID", 7), |r, c| c.put(r.e.tid));
        t.col(Col::left("MNT_NS", 11), |r, c| c.put(r.e.mnt_ns));
        t.col(Col::left("CALL", 0), |r, c| write_call(r.e, c.buf()));
    }
}

struct Mountsnoop {
    a: Args,
}

impl Events for Mountsnoop {
    type Args = Args;
    type Skel = MountsnoopSkelBuilder;
    type Event = Event;
    type Row<'a> = Call<'a>;
    // No short letter for --duration: -d is libbpf-tools' detailed mode.
    #[rustfmt::skip]
    const SHORTS: &'static [(&'static str, char)] = &[("pid", 'p'), ("cgroup", 'c'),
        ("uid", 'u'), ("json", 'j'), ("verbose", 'v')];

    fn configure(a: Args, _: &mut OpenMountsnoopSkel<'_>, s: &mut Session) -> Result<Self> {
        s.optional_programs(OPTIONAL);
        Ok(Self { a })
    }

    fn event(&mut self, e: &Event, _: &[u8], out: &mut Output) -> Result<()> {
        let r = Call {
            e,
            time: out.clock.hms_of(e.ts_ns),
        };
        Ok(out.row(&r, self)?)
    }
}

/// The tool (its binary, or `corescope mountsnoop`).
pub fn main(name: &'static str) -> ExitCode {
    corescope::run::events::<Mountsnoop>(name)
}

#[cfg(test)]
mod tests;
