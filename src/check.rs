//! `corescope check`: whether each tool can run on this machine, and why not.
//! What a tool needs is read from its BPF object (program sections, program
//! and map types: [`crate::skel::OBJECTS`]), so a new tool is checked without
//! an edit here.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{Context, Result};
use libbpf_rs::{MapType, ObjectBuilder, ProgramType};
use serde::Serialize;

use crate::load;

/// What the machine offers. `None`: could not be probed (no privileges).
#[derive(Debug, Serialize)]
pub struct Machine {
    pub kernel: String,
    pub root: bool,
    pub cap_bpf: bool,
    pub cap_perfmon: bool,
    pub cap_sys_admin: bool,
    /// Reading tracefs (mode 0700) without root needs it.
    pub cap_dac_read_search: bool,
    /// Root, CAP_SYS_ADMIN, or CAP_BPF with CAP_PERFMON.
    pub privileged: bool,
    /// /sys/kernel/btf/vmlinux exists.
    pub btf: bool,
    pub tracefs: bool,
    /// tracefs readable by this process, as libbpf needs it to resolve
    /// tracepoints (the tools mount it privately when it is not mounted and
    /// they have CAP_SYS_ADMIN: so does `corescope check`).
    pub tracefs_readable: bool,
    pub ringbuf: Option<bool>,
    /// kprobe program type and a way to create kprobes (PMU or tracefs).
    pub kprobes: Option<bool>,
    /// fentry/fexit (the tracing program type).
    pub fentry: Option<bool>,
    /// XDP program type; its modes are in `xdp_modes`.
    pub xdp: Option<bool>,
    pub xdp_modes: Vec<&'static str>,
}

/// One tool's verdict.
#[derive(Debug, Serialize)]
pub struct ToolCheck {
    pub tool: String,
    pub ok: bool,
    pub missing: Vec<String>,
    /// Missing only for --pid and `-- CMD` (the process-tree trackers): the
    /// tool runs, without those options.
    pub without_pid_filter: Vec<String>,
    /// Optional hooks missing here, each with the fallback the tool uses
    /// instead ([`OPTIONAL_TP_BTF`]): the tool runs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fallbacks: Vec<String>,
    /// Program sections of its BPF object (what it attaches to).
    pub programs: Vec<String>,
    /// Map types it creates.
    pub maps: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub machine: Machine,
    pub tools: Vec<ToolCheck>,
}

fn probe_prog(t: ProgramType) -> Option<bool> {
    t.is_supported().ok()
}

fn probe_map(t: MapType) -> Option<bool> {
    t.is_supported().ok()
}

fn lower(d: impl std::fmt::Debug) -> String {
    format!("{d:?}").to_lowercase()
}

impl Machine {
    pub fn probe() -> Self {
        let caps = load::cap_eff().unwrap_or(0);
        let has = |c| load::has_cap(caps, c);
        let (cap_bpf, cap_perfmon, cap_sys_admin) = (
            has(load::CAP_BPF),
            has(load::CAP_PERFMON),
            has(load::CAP_SYS_ADMIN),
        );
        let cap_dac_read_search = has(load::CAP_DAC_READ_SEARCH);
        let root = nix::unistd::geteuid().is_root();
        let privileged = cap_sys_admin || (cap_bpf && cap_perfmon);
        let tracefs = load::tracefs_root();
        let status = load::tracefs_status();
        // Mounted but not readable (tracefs is 0700): still mounted.
        let tracefs_mounted = status != load::Tracefs::NotMounted
            || std::fs::read_to_string("/proc/self/mounts")
                .is_ok_and(|m| m.lines().any(|l| l.split(' ').nth(2) == Some("tracefs")));
        let kprobe_pmu = Path::new("/sys/bus/event_source/devices/kprobe").exists()
            || tracefs.is_some_and(|t| t.join("kprobe_events").exists());
        let probe = |t| if privileged { probe_prog(t) } else { None };
        let xdp = probe(ProgramType::Xdp);
        Self {
            kernel: nix::sys::utsname::uname()
                .map(|u| u.release().to_string_lossy().into_owned())
                .unwrap_or_else(|_| "unknown".into()),
            root,
            cap_bpf,
            cap_perfmon,
            cap_sys_admin,
            cap_dac_read_search,
            privileged,
            btf: Path::new(load::KERNEL_BTF).exists(),
            tracefs: tracefs_mounted,
            tracefs_readable: tracefs.is_some(),
            ringbuf: if privileged {
                probe_map(MapType::RingBuf)
            } else {
                None
            },
            kprobes: probe(ProgramType::Kprobe).map(|k| k && kprobe_pmu),
            fentry: probe(ProgramType::Tracing),
            xdp,
            // Generic (skb) mode works on every interface; native mode
            // depends on the driver and is tried at attach (xdpdrop --mode
            // auto falls back to skb); offload is not supported.
            xdp_modes: if xdp == Some(true) {
                vec!["skb", "native (driver-dependent)"]
            } else {
                Vec::new()
            },
        }
    }
}

/// BTF tracepoints a tool may attach where the kernel has them, with what
/// it does without (the tool probes them and leaves the program out):
/// `corescope check` reports them as fallbacks, not as missing.
pub const OPTIONAL_TP_BTF: &[(&str, &str)] = &[(
    "block_io_start",
    "Linux < 6.5: the issuing task from block_rq_insert / block_rq_issue",
)];

/// What one program section needs, beyond its program type.
fn section_needs(m: &Machine, section: &str, missing: &mut BTreeSet<String>) {
    if let Some(tp) = load::tracepoint_of(section) {
        if load::tracepoint_exists(tp) == Some(false) {
            missing.insert(format!(
                "tracepoint {}{}",
                tp.replace('/', ":"),
                load::tracepoint_needs(tp)
            ));
        } else if !m.tracefs_readable && m.privileged {
            // What the tools' load::ensure_tracefs needs, as it says it.
            // (Unprivileged, that is already the missing privileges.)
            missing.insert(if m.tracefs {
                "read access to tracefs (CAP_DAC_READ_SEARCH, or root)".into()
            } else if m.cap_sys_admin {
                "tracefs (to resolve tracepoints)".into()
            } else {
                "tracefs (not mounted; mounting it needs CAP_SYS_ADMIN)".into()
            });
        }
    } else if ["kprobe/", "kretprobe/", "ksyscall/", "kretsyscall/"]
        .iter()
        .any(|p| section.starts_with(p))
    {
        if m.kprobes == Some(false) {
            missing.insert("kprobes".into());
        }
    } else if ["fentry/", "fexit/", "fmod_ret/"]
        .iter()
        .any(|p| section.starts_with(p))
        && m.fentry == Some(false)
    {
        missing.insert("fentry".into());
    } else if let Some(name) = section.strip_prefix("tp_btf/") {
        // A BTF raw tracepoint: the kernel's BTF (checked per tool) and the
        // tracepoint itself, wherever its category is.
        let found = load::tracefs_root().map(|r| {
            std::fs::read_dir(r.join("events"))
                .map(|d| d.flatten().any(|c| c.path().join(name).is_dir()))
                .unwrap_or(false)
        });
        if found == Some(false) {
            // A tracepoint younger than some supported kernels names the
            // release that added it, as the tool's own error does.
            missing.insert(load::needs_linux(name).unwrap_or_else(|| format!("tracepoint {name}")));
        }
    }
}

/// Checks one tool's BPF object against the machine.
pub fn check_tool(m: &Machine, tool: &str, obj: &[u8]) -> Result<ToolCheck> {
    let open = ObjectBuilder::default()
        .name(tool)
        .context("object name")?
        .open_memory(obj)
        .with_context(|| format!("{tool}: opening its BPF object"))?;
    let mut missing = BTreeSet::new();
    if !m.privileged {
        missing.insert("privileges (root, or CAP_BPF and CAP_PERFMON)".into());
    }
    if !m.btf {
        missing.insert(format!("BTF ({})", load::KERNEL_BTF));
    }
    let mut programs = Vec::new();
    let mut limited = BTreeSet::new();
    let mut fallbacks = BTreeSet::new();
    for p in open.progs() {
        let section = p.section().to_string_lossy().into_owned();
        // The process-tree trackers load only for --pid and `-- CMD`.
        let track = p.name().to_string_lossy().starts_with("cs_track_");
        let optional = section
            .strip_prefix("tp_btf/")
            .and_then(|n| OPTIONAL_TP_BTF.iter().find(|(tp, _)| *tp == n));
        let mut needs = BTreeSet::new();
        section_needs(m, &section, &mut needs);
        let into = if track { &mut limited } else { &mut missing };
        match optional {
            Some((tp, instead)) if !needs.is_empty() => {
                fallbacks.insert(format!("tracepoint {tp} ({instead})"));
            }
            _ => into.extend(needs),
        }
        // tp_btf programs share the tracing program type with fentry, but
        // do not need BPF trampolines: the type probe (an fentry) says
        // nothing about them.
        if !section.starts_with("tp_btf/") && probe_prog_if(m, p.prog_type()) == Some(false) {
            into.insert(format!("program type {}", lower(p.prog_type())));
        }
        programs.push(section);
    }
    let mut maps = BTreeSet::new();
    for map in open.maps() {
        let t = map.map_type();
        maps.insert(lower(t));
        let known = match t {
            MapType::RingBuf => m.ringbuf,
            _ if m.privileged => probe_map(t),
            _ => None,
        };
        if known == Some(false) {
            missing.insert(format!("map type {}", lower(t)));
        }
    }
    Ok(ToolCheck {
        tool: tool.to_string(),
        ok: missing.is_empty(),
        missing: missing.into_iter().collect(),
        without_pid_filter: limited.into_iter().collect(),
        fallbacks: fallbacks.into_iter().collect(),
        programs,
        maps: maps.into_iter().collect(),
    })
}

fn probe_prog_if(m: &Machine, t: ProgramType) -> Option<bool> {
    match t {
        ProgramType::Xdp => m.xdp,
        ProgramType::Tracing => m.fentry,
        _ if m.privileged => probe_prog(t),
        _ => None,
    }
}

/// Probes the machine and checks every tool.
pub fn run() -> Result<Report> {
    let machine = Machine::probe();
    let tools = crate::skel::OBJECTS
        .iter()
        .map(|(t, o)| check_tool(&machine, t, o))
        .collect::<Result<_>>()?;
    Ok(Report { machine, tools })
}

fn yn(b: Option<bool>) -> &'static str {
    match b {
        Some(true) => "yes",
        Some(false) => "no",
        None => "unknown (needs privileges to probe)",
    }
}

impl Report {
    /// The text report: the machine, then one line per tool.
    pub fn text(&self) -> String {
        let m = &self.machine;
        let who = if m.root {
            "root".to_string()
        } else {
            let caps: Vec<&str> = [
                (m.cap_bpf, "CAP_BPF"),
                (m.cap_perfmon, "CAP_PERFMON"),
                (m.cap_sys_admin, "CAP_SYS_ADMIN"),
                (m.cap_dac_read_search, "CAP_DAC_READ_SEARCH"),
            ]
            .iter()
            .filter(|c| c.0)
            .map(|c| c.1)
            .collect();
            if caps.is_empty() {
                "unprivileged".into()
            } else {
                caps.join(", ")
            }
        };
        let mut s = format!(
            "kernel {}; privileges: {who}; BTF: {}; tracefs: {}\n\
             ring buffer: {}; kprobes: {}; fentry: {}; XDP: {}{}\n",
            m.kernel,
            yn(Some(m.btf)),
            match (m.tracefs, m.tracefs_readable) {
                (true, true) => "yes",
                (true, false) => "yes (not readable by this user)",
                (false, _) => "no",
            },
            yn(m.ringbuf),
            yn(m.kprobes),
            yn(m.fentry),
            yn(m.xdp),
            if m.xdp_modes.is_empty() {
                String::new()
            } else {
                format!(" (modes: {})", m.xdp_modes.join(", "))
            },
        );
        let w = self.tools.iter().map(|t| t.tool.len()).max().unwrap_or(0);
        for t in &self.tools {
            if t.ok && !t.without_pid_filter.is_empty() {
                s += &format!(
                    "{:w$}  ok (without --pid and -- CMD: missing {})\n",
                    t.tool,
                    t.without_pid_filter.join(", ")
                );
            } else if t.ok && !t.fallbacks.is_empty() {
                s += &format!("{:w$}  ok (without {})\n", t.tool, t.fallbacks.join(", "));
            } else if t.ok {
                s += &format!("{:w$}  ok\n", t.tool);
            } else {
                s += &format!("{:w$}  missing: {}\n", t.tool, t.missing.join(", "));
            }
        }
        s
    }

    pub fn all_ok(&self) -> bool {
        self.tools.iter().all(|t| t.ok)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn machine(privileged: bool) -> Machine {
        Machine {
            kernel: "6.1.0".into(),
            root: privileged,
            cap_bpf: false,
            cap_perfmon: false,
            cap_sys_admin: privileged,
            cap_dac_read_search: false,
            privileged,
            btf: false,
            tracefs: true,
            tracefs_readable: true,
            ringbuf: None,
            kprobes: None,
            fentry: None,
            xdp: None,
            xdp_modes: Vec::new(),
        }
    }

    #[test]
    fn every_tool_object_opens_and_has_programs() {
        let m = machine(false);
        assert!(!crate::skel::OBJECTS.is_empty());
        for (tool, obj) in crate::skel::OBJECTS {
            let c = check_tool(&m, tool, obj).unwrap();
            assert!(!c.programs.is_empty(), "{tool}: no programs");
            assert!(!c.ok, "{tool}: ok without privileges or BTF");
            assert!(c.missing.iter().any(|x| x.starts_with("privileges")));
            assert!(c.missing.iter().any(|x| x.starts_with("BTF")));
        }
    }

    #[test]
    fn sections_map_to_needs() {
        let mut m = machine(true);
        (m.kprobes, m.fentry) = (Some(false), Some(false));
        let mut miss = BTreeSet::new();
        section_needs(&m, "kprobe/do_sys_open", &mut miss);
        section_needs(&m, "fexit/do_sys_open", &mut miss);
        section_needs(&m, "xdp", &mut miss);
        assert_eq!(miss.into_iter().collect::<Vec<_>>(), ["fentry", "kprobes"]);
    }

    /// What a tracepoint program needs of tracefs, as the tools' own
    /// load::ensure_tracefs would fail on it.
    #[test]
    fn tracepoints_need_a_readable_tracefs() {
        let needs = |m: &Machine| {
            let mut miss = BTreeSet::new();
            section_needs(m, "tp/syscalls/sys_enter_execve", &mut miss);
            miss.into_iter().collect::<Vec<_>>()
        };
        let mut m = machine(true);
        assert!(needs(&m).is_empty());
        (m.tracefs_readable, m.cap_sys_admin) = (false, false);
        assert_eq!(
            needs(&m),
            ["read access to tracefs (CAP_DAC_READ_SEARCH, or root)"]
        );
        m.tracefs = false;
        assert_eq!(
            needs(&m),
            ["tracefs (not mounted; mounting it needs CAP_SYS_ADMIN)"]
        );
    }

    /// A missing optional hook is a fallback: the tool is ok, and says
    /// without what.
    #[test]
    fn fallbacks_are_ok_and_named() {
        let t = ToolCheck {
            tool: "biosnoop".into(),
            ok: true,
            missing: Vec::new(),
            without_pid_filter: Vec::new(),
            fallbacks: vec!["tracepoint block_io_start (Linux < 6.5: …)".into()],
            programs: Vec::new(),
            maps: Vec::new(),
        };
        let r = Report {
            machine: machine(true),
            tools: vec![t],
        };
        assert!(r.all_ok());
        let text = r.text();
        let last = text.lines().last().unwrap();
        assert_eq!(
            last,
            "biosnoop  ok (without tracepoint block_io_start (Linux < 6.5: …))"
        );
        assert!(OPTIONAL_TP_BTF
            .iter()
            .any(|(tp, _)| *tp == "block_io_start"));
    }
}
