//! open(2) flags by name, for the tools that filter or show them.

/// `O_RDONLY` as a filter: the access mode bits are zero, so it gets a bit no
/// open flag uses.
pub const RDONLY: u32 = 1 << 31;

#[rustfmt::skip]
pub const FLAGS: &[(&str, i32)] = &[
    ("WRONLY", libc::O_WRONLY), ("RDWR", libc::O_RDWR), ("CREAT", libc::O_CREAT),
    ("EXCL", libc::O_EXCL), ("NOCTTY", libc::O_NOCTTY), ("TRUNC", libc::O_TRUNC),
    ("APPEND", libc::O_APPEND), ("NONBLOCK", libc::O_NONBLOCK), ("NDELAY", libc::O_NDELAY),
    ("DSYNC", libc::O_DSYNC), ("SYNC", libc::O_SYNC), ("ASYNC", libc::O_ASYNC),
    ("DIRECT", libc::O_DIRECT), ("DIRECTORY", libc::O_DIRECTORY),
    ("NOFOLLOW", libc::O_NOFOLLOW), ("NOATIME", libc::O_NOATIME),
    ("CLOEXEC", libc::O_CLOEXEC), ("PATH", libc::O_PATH), ("TMPFILE", libc::O_TMPFILE),
    ("RDONLY", RDONLY as i32),
];

/// A flag name (O_ optional, any case) or a number (0x hex, 0 octal).
pub fn parse_flag(s: &str) -> Result<u32, String> {
    let up = s.to_ascii_uppercase();
    let name = up.strip_prefix("O_").unwrap_or(&up);
    if let Some(&(_, v)) = FLAGS.iter().find(|(n, _)| *n == name) {
        return Ok(v as u32);
    }
    let num = match (s.strip_prefix("0x"), s.strip_prefix('0')) {
        (Some(h), _) => u32::from_str_radix(h, 16),
        (None, Some(o)) if !o.is_empty() => u32::from_str_radix(o, 8),
        _ => s.parse(),
    };
    num.ok()
        .filter(|&m| m != 0 && m & RDONLY == 0)
        .ok_or_else(|| "a flag name such as O_WRONLY, or a number (0x hex, 0 octal)".into())
}

/// `-f` as the kernel applies it: an open is wanted when it has every bit
/// of one of `sets` (so O_TMPFILE, which includes O_DIRECTORY's bit, does
/// not match a plain O_DIRECTORY open, nor O_SYNC an O_DSYNC one), or when
/// `rdonly` and its access mode is O_RDONLY. Nothing asked: every open.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct FlagFilter {
    pub sets: Vec<u32>,
    pub rdonly: bool,
}

impl FlagFilter {
    /// From the `-f` values ([`parse_flag`]), at most `max` distinct ones
    /// besides O_RDONLY.
    pub fn new(flags: &[u32], max: usize) -> Result<Self, String> {
        let mut f = Self::default();
        for &v in flags {
            if v == RDONLY {
                f.rdonly = true;
            } else if !f.sets.contains(&v) {
                f.sets.push(v);
            }
        }
        if f.sets.len() > max {
            return Err(format!("at most {max} different -f flags"));
        }
        Ok(f)
    }

    /// The same test as the BPF side (src/bpf/opensnoop.bpf.c).
    pub fn matches(&self, flags: u32) -> bool {
        (self.sets.is_empty() && !self.rdonly)
            || (self.rdonly && flags & libc::O_ACCMODE as u32 == 0)
            || self.sets.iter().any(|&m| m & !flags == 0)
    }
}

/// Whether open(2) uses its mode argument (O_CREAT or O_TMPFILE).
pub fn has_mode(flags: u32) -> bool {
    let tmp = libc::O_TMPFILE as u32;
    flags & libc::O_CREAT as u32 != 0 || flags & tmp == tmp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_by_name_or_number() {
        assert_eq!(parse_flag("O_WRONLY"), Ok(libc::O_WRONLY as u32));
        assert_eq!(parse_flag("creat"), Ok(libc::O_CREAT as u32));
        assert_eq!(parse_flag("O_RDONLY"), Ok(RDONLY));
        assert_eq!(parse_flag("0x40"), Ok(0x40));
        assert_eq!(parse_flag("0100"), Ok(0o100));
        assert!(parse_flag("O_BOGUS").is_err() && parse_flag("0").is_err());
    }

    #[test]
    fn multi_bit_flags_match_all_their_bits() {
        let f = |names: &[&str]| {
            let v: Vec<u32> = names.iter().map(|n| parse_flag(n).unwrap()).collect();
            FlagFilter::new(&v, 16).unwrap()
        };
        let (dir, tmp) = (libc::O_DIRECTORY as u32, libc::O_TMPFILE as u32);
        assert_ne!(tmp & dir, 0, "O_TMPFILE includes O_DIRECTORY's bit");
        let t = f(&["O_TMPFILE"]);
        assert!(!t.matches(dir) && !t.matches(dir | libc::O_RDONLY as u32));
        assert!(t.matches(tmp | libc::O_RDWR as u32));
        // O_DIRECTORY is in O_TMPFILE: an O_TMPFILE open is a directory one.
        assert!(f(&["O_DIRECTORY"]).matches(tmp));
        let s = f(&["O_SYNC"]);
        assert!(!s.matches(libc::O_DSYNC as u32) && s.matches(libc::O_SYNC as u32));
        // Any of several; O_RDONLY is the access mode.
        let w = f(&["O_WRONLY", "O_RDWR", "O_TMPFILE"]);
        assert!(w.matches(1) && w.matches(2) && !w.matches(dir) && !w.matches(0));
        let r = f(&["O_RDONLY", "O_CREAT"]);
        assert!(r.matches(0) && r.matches(0o101) && !r.matches(1));
        assert!(FlagFilter::default().matches(0) && FlagFilter::default().matches(dir));
        // Repeats count once; too many distinct ones are refused.
        assert_eq!(f(&["O_SYNC", "O_SYNC", "O_RDONLY"]).sets.len(), 1);
        assert!(FlagFilter::new(&[1, 2, 4], 2).is_err());
    }

    #[test]
    fn mode_only_with_creat_or_tmpfile() {
        assert!(has_mode(libc::O_CREAT as u32) && has_mode(libc::O_TMPFILE as u32));
        assert!(!has_mode(libc::O_WRONLY as u32) && !has_mode(libc::O_DIRECTORY as u32));
    }
}
