//! Port lists from the command line (`80,443,8000-8100`), for filters that
//! run in the kernel as a 65536-bit bitmap (one bit per port).

use std::fmt;
use std::str::FromStr;

/// Bytes of a bitmap with one bit per port (bit `p & 7` of byte `p >> 3`).
pub const PORT_BITMAP_BYTES: usize = 65536 / 8;

/// A set of ports: comma-separated ports and inclusive ranges `LO-HI`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortSet {
    ranges: Vec<(u16, u16)>,
}

fn port(s: &str, item: &str) -> Result<u16, String> {
    match s.trim().parse::<u32>() {
        Ok(p) if (1..=65535).contains(&p) => Ok(p as u16),
        Ok(_) => Err(format!("port out of range in '{item}' (1-65535)")),
        Err(_) => Err(format!("not a port number: '{item}'")),
    }
}

impl PortSet {
    /// Parses `80`, `80,443`, `8000-8100`, `22,8000-8100` (spaces allowed
    /// around items). Rejects empty items, port 0, ports above 65535 and
    /// reversed ranges.
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut ranges = Vec::new();
        for item in s.split(',') {
            let item = item.trim();
            if item.is_empty() {
                return Err(format!("empty item in port list '{s}'"));
            }
            let (lo, hi) = match item.split_once('-') {
                Some((a, b)) => (port(a, item)?, port(b, item)?),
                None => {
                    let p = port(item, item)?;
                    (p, p)
                }
            };
            if lo > hi {
                return Err(format!("reversed port range '{item}'"));
            }
            ranges.push((lo, hi));
        }
        Ok(Self { ranges })
    }

    pub fn contains(&self, p: u16) -> bool {
        self.ranges.iter().any(|&(lo, hi)| (lo..=hi).contains(&p))
    }

    /// The inclusive ranges, as given.
    pub fn ranges(&self) -> &[(u16, u16)] {
        &self.ranges
    }

    /// Writes the set as a bitmap (bit `p & 7` of byte `p >> 3`) into `bits`,
    /// which must hold [`PORT_BITMAP_BYTES`] bytes.
    pub fn fill_bitmap(&self, bits: &mut [u8]) {
        bits.fill(0);
        for &(lo, hi) in &self.ranges {
            for p in lo..=hi {
                if let Some(b) = bits.get_mut(p as usize >> 3) {
                    *b |= 1 << (p & 7);
                }
            }
        }
    }
}

/// Fills `bits` from an optional port filter (see [`PortSet::fill_bitmap`])
/// and returns the BPF side's on/off flag: 1 if there is a filter.
pub fn filter_bitmap(set: Option<&PortSet>, bits: &mut [u8]) -> u8 {
    match set {
        Some(s) => {
            s.fill_bitmap(bits);
            1
        }
        None => {
            bits.fill(0);
            0
        }
    }
}

impl FromStr for PortSet {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::parse(s)
    }
}

impl fmt::Display for PortSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, &(lo, hi)) in self.ranges.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            if lo == hi {
                write!(f, "{lo}")?;
            } else {
                write!(f, "{lo}-{hi}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_and_ranges() {
        let s = PortSet::parse("22, 80,8000-8100").unwrap();
        assert_eq!(s.ranges(), &[(22, 22), (80, 80), (8000, 8100)]);
        for p in [22, 80, 8000, 8050, 8100] {
            assert!(s.contains(p), "{p}");
        }
        for p in [1, 21, 81, 7999, 8101, 65535] {
            assert!(!s.contains(p), "{p}");
        }
        assert_eq!(s.to_string(), "22,80,8000-8100");
        assert!(PortSet::parse("65535").unwrap().contains(65535));
        assert!(PortSet::parse("5-5").unwrap().contains(5));
    }

    #[test]
    fn bitmap_matches_contains() {
        let s = PortSet::parse("1,7-9,65535").unwrap();
        let mut bits = vec![0xffu8; PORT_BITMAP_BYTES];
        s.fill_bitmap(&mut bits);
        for p in 0..=65535u16 {
            let set = bits[p as usize >> 3] & (1 << (p & 7)) != 0;
            assert_eq!(set, s.contains(p), "{p}");
        }
    }

    #[test]
    fn errors() {
        for (bad, why) in [
            ("", "empty item"),
            ("80,", "empty item"),
            ("80,,81", "empty item"),
            ("http", "not a port"),
            ("0", "out of range"),
            ("65536", "out of range"),
            ("-5", "not a port"),
            ("9000-8000", "reversed"),
            ("80-", "not a port"),
            ("1-2-3", "not a port"),
        ] {
            let e = PortSet::parse(bad).unwrap_err();
            assert!(e.contains(why), "{bad:?}: {e}");
        }
    }
}
