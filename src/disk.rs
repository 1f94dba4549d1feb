//! Block devices by number: the kernel's dev_t of a disk (`MAJ:MIN` as
//! /sys names it) and back to its name, for the block tools (biolatency,
//! biosnoop, biotop). The BPF half, the request's disk as that dev_t, is
//! src/block.bpf.h.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::UserError;

/// The kernel's dev_t: MAJOR << 20 | MINOR (CS_MINORBITS, block.bpf.h).
pub const MINORBITS: u32 = 20;

/// The major number of a kernel dev_t.
pub fn major(dev: u32) -> u32 {
    dev >> MINORBITS
}

/// The minor number of a kernel dev_t.
pub fn minor(dev: u32) -> u32 {
    dev & ((1 << MINORBITS) - 1)
}

/// `MAJ:MIN` (as /sys/dev/block names it) of a kernel dev_t.
pub fn maj_min(dev: u32) -> String {
    format!("{}:{}", major(dev), minor(dev))
}

/// The kernel dev_t of `MAJ:MIN` (a /sys/class/block/NAME/dev file).
pub fn parse_dev(s: &str) -> Option<u32> {
    let (maj, min) = s.trim().split_once(':')?;
    let (maj, min): (u32, u32) = (maj.parse().ok()?, min.parse().ok()?);
    (maj < 1 << 12 && min < 1 << MINORBITS).then_some(maj << MINORBITS | min)
}

/// The dev_t of disk `name` under `sys` (/sys), for a disk filter; `opt`
/// is the option as the user wrote it (`--disk`, `-d`), for the errors.
pub fn disk_dev_for(sys: &Path, name: &str, opt: &str) -> Result<u32> {
    let hint = "see `lsblk -d` or /proc/partitions for the disks' names";
    if name.is_empty() || name.contains('/') || name.starts_with('.') {
        return Err(UserError::hint(format!("{opt} {name:?}: not a disk name"), hint).into());
    }
    let dir = sys.join("class/block").join(name);
    let Ok(text) = std::fs::read_to_string(dir.join("dev")) else {
        return Err(UserError::hint(format!("{opt} {name}: no such block device"), hint).into());
    };
    if dir.join("partition").exists() {
        // Requests are counted on the whole disk (request_queue::disk).
        let parent = std::fs::canonicalize(&dir)
            .ok()
            .and_then(|p| Some(p.parent()?.file_name()?.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "its disk".into());
        return Err(UserError::hint(
            format!("{opt} {name}: a partition; block I/O is counted per disk"),
            format!("use {opt} {parent}"),
        )
        .into());
    }
    parse_dev(&text).ok_or_else(|| {
        UserError::hint(
            format!("{opt} {name}: unreadable device number {text:?}"),
            hint,
        )
        .into()
    })
}

/// [`disk_dev_for`] with biolatency's option name, `--disk`.
pub fn disk_dev(sys: &Path, name: &str) -> Result<u32> {
    disk_dev_for(sys, name, "--disk")
}

/// Disk names by dev_t: those of /sys at start (so a disk gone by the time
/// it is printed keeps its name), and any new one looked up when first seen.
pub struct DiskNames {
    sys: PathBuf,
    names: HashMap<u32, Vec<u8>>,
}

impl DiskNames {
    pub fn new(sys: &Path) -> Self {
        let mut names = HashMap::new();
        if let Ok(d) = std::fs::read_dir(sys.join("class/block")) {
            for e in d.flatten() {
                let dev = std::fs::read_to_string(e.path().join("dev"));
                if let Some(dev) = dev.ok().as_deref().and_then(parse_dev) {
                    names.insert(dev, e.file_name().as_encoded_bytes().to_vec());
                }
            }
        }
        Self {
            sys: sys.to_path_buf(),
            names,
        }
    }

    /// The disk's name; `MAJ:MIN` when /sys does not know it (libbpf-tools
    /// prints `Unknown`). A name already known costs a hash lookup, no
    /// allocation.
    pub fn get(&mut self, dev: u32) -> &[u8] {
        let sys = &self.sys;
        self.names.entry(dev).or_insert_with(|| {
            let link = sys.join("dev/block").join(maj_min(dev));
            std::fs::read_link(link)
                .ok()
                .and_then(|p| Some(p.file_name()?.as_encoded_bytes().to_vec()))
                .unwrap_or_else(|| maj_min(dev).into_bytes())
        })
    }

    /// The name [`DiskNames::get`] found for `dev` before (a borrow of
    /// `self` alone, for a row that also borrows the tool).
    pub fn name(&self, dev: u32) -> Option<&[u8]> {
        self.names.get(&dev).map(Vec::as_slice)
    }
}
