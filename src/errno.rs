//! Errno names for a syscall's negative result (`-98` → `EADDRINUSE`),
//! written in place: Display and Serialize allocate nothing (event rows).

use std::fmt;

use serde::{Serialize, Serializer};

/// errno `0` (positive) by its name: `EADDRINUSE`; one nix does not know
/// is its number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrnoName(pub i32);

impl ErrnoName {
    /// The errno of a syscall's result: `-4095..=-1` (the kernel's error
    /// range) is one, anything else (0, an fd, a length) is none.
    pub fn of_ret(ret: i64) -> Option<Self> {
        (-4095..0).contains(&ret).then_some(Self(-ret as i32))
    }
}

impl fmt::Display for ErrnoName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match nix::errno::Errno::from_raw(self.0) {
            // nix's Debug is the constant's name.
            nix::errno::Errno::UnknownErrno => write!(f, "{}", self.0),
            e => write!(f, "{e:?}"),
        }
    }
}

impl Serialize for ErrnoName {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::ErrnoName;

    #[test]
    fn names_and_unknown_numbers() {
        assert_eq!(ErrnoName(98).to_string(), "EADDRINUSE");
        assert_eq!(ErrnoName(2).to_string(), "ENOENT");
        assert_eq!(ErrnoName(4000).to_string(), "4000");
        assert_eq!(serde_json::to_string(&ErrnoName(22)).unwrap(), "\"EINVAL\"");
        assert_eq!(ErrnoName::of_ret(-98), Some(ErrnoName(98)));
        assert_eq!(ErrnoName::of_ret(0), None);
        assert_eq!(ErrnoName::of_ret(3), None);
        assert_eq!(ErrnoName::of_ret(-5000), None);
    }
}
