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
    fn mode_only_with_creat_or_tmpfile() {
        assert!(has_mode(libc::O_CREAT as u32) && has_mode(libc::O_TMPFILE as u32));
        assert!(!has_mode(libc::O_WRONLY as u32) && !has_mode(libc::O_DIRECTORY as u32));
    }
}
