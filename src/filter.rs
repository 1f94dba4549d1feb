//! The common filters, resolved from the command line: process trees for
//! `--pid` / `-- CMD`, thread, user, cgroup and comm. They are applied in the
//! kernel (src/bpf/common/task.bpf.h).

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

use anyhow::{Context, Result};

use crate::cli::FilterArgs;
use crate::error::UserError;

const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;

#[derive(Debug, Default)]
pub struct Filter {
    /// Roots of the traced process trees (`--pid`, and the CMD's PID).
    pub pids: Vec<u32>,
    /// A `-- CMD` is run: trace its tree even before its PID is known.
    pub cmd: bool,
    pub tid: Option<u32>,
    pub uid: Option<u32>,
    pub cgroup: Option<OwnedFd>,
    pub comm: Option<[u8; 16]>,
}

impl Filter {
    pub fn from_args(a: &FilterArgs) -> Result<Self> {
        for &pid in &a.pid {
            if !Path::new(&format!("/proc/{pid}")).exists() {
                return Err(UserError::new(format!("no such process: {pid}")).into());
            }
        }
        let cgroup = a.cgroup.as_deref().map(open_cgroup).transpose()?;
        Ok(Self {
            pids: a.pid.clone(),
            cmd: !a.cmd.is_empty(),
            tid: a.tid,
            uid: a.uid,
            cgroup,
            comm: a.comm,
        })
    }

    /// Whether the in-kernel process-tree set is in use.
    pub fn pids_on(&self) -> bool {
        !self.pids.is_empty() || self.cmd
    }
}

fn open_cgroup(path: &Path) -> Result<OwnedFd> {
    let f = File::open(path).map_err(|e| {
        UserError::hint(
            format!("cannot open cgroup {}: {e}", path.display()),
            "give a cgroup v2 directory, e.g. /sys/fs/cgroup/system.slice (or under /sys/fs/cgroup/unified on hybrid systems)",
        )
    })?;
    let st = nix::sys::statfs::fstatfs(&f).context("statfs on the cgroup path")?;
    if st.filesystem_type().0 as i64 != CGROUP2_SUPER_MAGIC {
        return Err(UserError::hint(
            format!("{} is not a cgroup v2 directory", path.display()),
            "cgroup v2 is mounted at /sys/fs/cgroup, or /sys/fs/cgroup/unified on hybrid systems",
        )
        .into());
    }
    let fd: OwnedFd = f.into();
    debug_assert!(fd.as_raw_fd() >= 0);
    Ok(fd)
}

/// Parent TGID of every process in /proc.
fn parent_map() -> HashMap<u32, Vec<u32>> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return children;
    };
    for ent in dir.flatten() {
        let Some(pid) = ent.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        // A process can vanish between readdir and read: skip it.
        let Ok(stat) = std::fs::read(format!("/proc/{pid}/stat")) else {
            continue;
        };
        if let Some(ppid) = parse_stat_ppid(&stat) {
            children.entry(ppid).or_default().push(pid);
        }
    }
    children
}

/// The 4th field of /proc/PID/stat; comm (2nd) may hold spaces and ')'.
pub fn parse_stat_ppid(stat: &[u8]) -> Option<u32> {
    let close = stat.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(&stat[close + 1..]).ok()?;
    let mut it = rest.split_ascii_whitespace();
    it.next()?; // state
    it.next()?.parse().ok()
}

/// The PIDs in the process-tree set (`cs_pids`), sorted; `None` when the
/// set is not in use (its trackers are not loaded).
pub fn tracked_pids(obj: &libbpf_rs::Object) -> Option<Vec<u32>> {
    use libbpf_rs::MapCore;
    let on = obj
        .progs()
        .any(|p| p.name().to_string_lossy().starts_with("cs_track_") && p.autoload());
    let map = obj.maps().find(|m| m.name() == "cs_pids").filter(|_| on)?;
    let mut v: Vec<u32> = map
        .keys()
        .filter_map(|k| Some(u32::from_ne_bytes(k.get(..4)?.try_into().ok()?)))
        .collect();
    v.sort_unstable();
    Some(v)
}

/// With -v, at the end: what the process-tree set still holds. Once `-- CMD`
/// and its descendants are gone it should be empty; an entry left is a PID
/// that a new, unrelated process could reuse and be traced as one of them.
pub fn report_tracked(tool: &str, obj: &libbpf_rs::Object) {
    if !crate::libbpf_log::verbose() {
        return;
    }
    if let Some(left) = tracked_pids(obj) {
        let list: Vec<String> = left.iter().map(u32::to_string).collect();
        crate::diag!(
            "{tool}: process-tree filter: {} PIDs still tracked at exit: [{}]",
            left.len(),
            list.join(" ")
        );
    }
}

/// `roots` and all their current descendants, from /proc.
pub fn with_descendants(roots: &[u32]) -> Vec<u32> {
    let children = parent_map();
    let mut seen: HashSet<u32> = HashSet::new();
    let mut todo: Vec<u32> = roots.to_vec();
    while let Some(p) = todo.pop() {
        if seen.insert(p) {
            if let Some(c) = children.get(&p) {
                todo.extend(c);
            }
        }
    }
    let mut v: Vec<u32> = seen.into_iter().collect();
    v.sort_unstable();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_ppid_with_odd_comm() {
        assert_eq!(parse_stat_ppid(b"42 (a) b) c) S 7 42 42 0"), Some(7));
        assert_eq!(parse_stat_ppid(b"1 (init) S 0 1 1"), Some(0));
        assert_eq!(parse_stat_ppid(b"garbage"), None);
    }

    #[test]
    fn own_tree_contains_child() {
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        let me = std::process::id();
        let tree = with_descendants(&[me]);
        assert!(tree.contains(&me));
        assert!(tree.contains(&child.id()));
        let _ = child.kill();
        let _ = child.wait();
    }

    #[test]
    fn missing_pid_is_an_error() {
        let a = FilterArgs {
            pid: vec![u32::MAX - 1],
            ..Default::default()
        };
        let e = Filter::from_args(&a).unwrap_err();
        assert!(e.to_string().contains("no such process"));
    }
}
