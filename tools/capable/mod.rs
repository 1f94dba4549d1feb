//! capable: one row per capability check (the kernel's cap_capable), with
//! its verdict. Based on capable(8) from BCC and libbpf-tools (which need a
//! kprobe); this one uses the capability:cap_capable tracepoint (Linux
//! 6.14+). See capable.bpf.c for what the tracepoint gives and lacks.

use corescope::clock::Hms;
use corescope::escape::cstr;
use corescope::prelude::*;
use corescope::session::find_map;
use corescope::skel::capable::types::{capable_consts as consts, capable_event as Event};
use corescope::skel::capable::{CapableSkelBuilder, OpenCapableSkel};
use corescope::stacks::{self, JsonFrame, JsonStack, Stack, StackKey, StackSymbolizer};

const EXAMPLES: &str = "EXAMPLES:
    capable                  # every capability check, with its verdict
    capable -x               # only denied checks
    capable -p 181           # PID 181 and its descendants
    capable -K               # with each check's kernel stack
    capable -KU --unique     # kernel and user stacks, each (process, capability, verdict) once
    capable -j -- ping -c1 ::1   # run a command, its checks as JSON";

/// Trace capability checks (cap_capable) and their verdicts.
#[derive(Parser, Debug)]
#[command(version, after_help = EXAMPLES)]
struct Args {
    /// Only denied checks (filtered in the kernel)
    #[arg(short = 'x', long)]
    denied: bool,
    /// Show the kernel stack of each check
    #[arg(short = 'K', long)]
    kernel_stack: bool,
    /// Show the user-space stack of each check
    #[arg(short = 'U', long)]
    user_stack: bool,
    /// Show each (process, capability, verdict) once (as BCC's --unique,
    /// with the verdict: a denial after an allowed check still shows)
    #[arg(long)]
    unique: bool,
    /// Stacks the stack map holds (with -K / -U; a full map shows
    /// [Missed Kernel Stack])
    #[arg(long, default_value_t = 16384, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=1 << 20))]
    stack_storage_size: u32,
    #[command(flatten)]
    common: CommonArgs,
}

/// Capability names by number (include/uapi/linux/capability.h).
#[rustfmt::skip]
const CAPS: [&str; 41] = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN",
    "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT",
    "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD",
    "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
    "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE"];

fn cap_name(cap: i32) -> Option<&'static str> {
    usize::try_from(cap).ok().and_then(|i| CAPS.get(i)).copied()
}

/// The stacks of a check in its JSON record (with -K / -U).
#[derive(Serialize)]
struct Stacks<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    kernel_stack: Option<Vec<JsonFrame<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    kernel_missing: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_stack: Option<Vec<JsonFrame<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_missing: Option<&'static str>,
}

impl<'a> Stacks<'a> {
    fn new(st: &'a Stack, a: &Args) -> Self {
        let j = JsonStack::new(st);
        Stacks {
            kernel_missing: j.kernel_missing,
            user_missing: j.user_missing,
            kernel_stack: a.kernel_stack.then_some(j.kernel_stack),
            user_stack: a.user_stack.then_some(j.user_stack),
        }
    }
}

#[derive(Serialize)]
struct Check<'a> {
    time: Hms,
    uid: u32,
    pid: u32,
    tid: u32,
    comm: KStr<'a>,
    cap: i32,
    /// `CAP_…`; null for a number this tool does not know.
    name: Option<&'static str>,
    /// `allow` or `deny`.
    verdict: &'static str,
    /// What cap_capable() returned: 0, or -EPERM.
    ret: i32,
    /// The user namespace checked against (its inode number, as in
    /// /proc/PID/ns/user).
    userns: u32,
    #[serde(flatten)]
    stacks: Option<Stacks<'a>>,
}

impl Row for Check<'_> {
    type Opts = Capable;
    fn columns(t: &mut Table<'_, '_, Self>, _: &Capable) {
        t.col(Col::left("TIME", 8), |r, c| c.put(r.time));
        t.col(Col::left("UID", 6), |r, c| c.put(r.uid));
        t.col(Col::left("PID", 7), |r, c| c.put(r.pid));
        t.col(Col::left("COMM", 16), |r, c| c.text(r.comm.0));
        t.col(Col::left("CAP", 4), |r, c| c.put(r.cap));
        t.col(Col::left("NAME", 22), |r, c| c.put(r.name.unwrap_or("?")));
        t.col(Col::left("VERDICT", 0), |r, c| c.put(r.verdict));
    }
}

fn row<'a>(e: &'a Event, out: &Output, stacks: Option<Stacks<'a>>) -> Check<'a> {
    Check {
        time: out.clock.hms_of(e.ts_ns),
        uid: e.uid,
        pid: e.pid,
        tid: e.tid,
        comm: KStr(cstr(&e.comm)),
        cap: e.cap,
        name: cap_name(e.cap),
        verdict: if e.ret == 0 { "allow" } else { "deny" },
        ret: e.ret,
        userns: e.userns,
        stacks,
    }
}

/// The stack map's id of a side, `None` when not collected.
fn side(id: i64) -> Option<i64> {
    // The enum's value is a C int (its Rust type may be unsigned).
    (id != i64::from(consts::CAPABLE_STACK_OFF.0 as i32)).then_some(id)
}

struct Capable {
    a: Args,
    /// With -K / -U only (blazesym is not built otherwise).
    sym: Option<StackSymbolizer>,
    /// The frames' text under a row, reused.
    text: String,
}

impl Capable {
    /// One check's row and, with -K / -U, its stacks (symbolized now: the
    /// process may be gone later).
    fn emit(&mut self, e: &Event, out: &mut Output, st: Option<&Stack>) -> Result<()> {
        let stacks = st.map(|s| Stacks::new(s, &self.a));
        out.row(&row(e, out, stacks), self)?;
        if let (Some(s), false) = (st, out.json()) {
            self.text.clear();
            stacks::bcc_frames(&mut self.text, s, stacks::Style::default());
            out.raw(&self.text)?;
        }
        Ok(())
    }
}

impl Events for Capable {
    type Args = Args;
    type Skel = CapableSkelBuilder;
    type Event = Event;
    type Row<'a> = Check<'a>;
    #[rustfmt::skip]
    const SHORTS: &'static [(&'static str, char)] = &[("pid", 'p'), ("cgroup", 'c'),
        ("uid", 'u'), ("json", 'j'), ("duration", 'd'), ("verbose", 'v')];

    fn configure(a: Args, open: &mut OpenCapableSkel<'_>, _: &mut Session) -> Result<Self> {
        let stacks = a.kernel_stack || a.user_stack;
        let n = if stacks { a.stack_storage_size } else { 1 };
        open.maps.stacks.set_max_entries(n)?;
        if !a.unique {
            open.maps.seen.set_max_entries(1)?;
        }
        let ro = open.rodata()?;
        ro.denied_only = u8::from(a.denied);
        ro.kernel_stacks = u8::from(a.kernel_stack);
        ro.user_stacks = u8::from(a.user_stack);
        ro.unique = u8::from(a.unique);
        // The kernel's symbols read now, not at the first check (seconds in
        // a debug build: short-lived processes would be gone meanwhile).
        let sym = stacks.then(|| {
            let mut s = StackSymbolizer::new();
            if a.kernel_stack {
                s.warm_kernel();
            }
            s
        });
        Ok(Self {
            sym,
            a,
            text: String::new(),
        })
    }

    fn event(&mut self, e: &Event, _: &[u8], out: &mut Output) -> Result<()> {
        self.emit(e, out, None)
    }

    /// With -K / -U the stacks are read from the stack map by id.
    fn event_with(
        &mut self,
        e: &Event,
        payload: &[u8],
        out: &mut Output,
        obj: &libbpf_rs::Object,
    ) -> Result<()> {
        let Some(sym) = self.sym.as_mut() else {
            return self.event(e, payload, out);
        };
        let map = find_map(obj, "stacks")?;
        let key = StackKey {
            pid: e.pid,
            tid: None,
            comm: &e.comm,
            user_id: side(e.user_stack_id),
            kernel_id: side(e.kernel_stack_id),
            count: 1,
        };
        let st = sym.stack(&map, &key);
        self.emit(e, out, Some(&st))
    }
}

/// The tool (its binary, or `corescope capable`).
pub fn main(name: &'static str) -> ExitCode {
    corescope::run::events::<Capable>(name)
}

#[cfg(test)]
mod tests;
