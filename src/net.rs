//! Network addresses as the BPF side sends them: `__u8[16]` plus an address
//! family (`AF_INET`: the first 4 bytes; `AF_INET6`: all 16), network order.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::Serialize;

pub const AF_INET: u16 = libc::AF_INET as u16;
pub const AF_INET6: u16 = libc::AF_INET6 as u16;

/// IP version of an event, serialized as `"ipv4"` / `"ipv6"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    Ipv4,
    Ipv6,
}

impl Family {
    pub fn from_af(af: u16) -> Option<Self> {
        match af {
            AF_INET => Some(Self::Ipv4),
            AF_INET6 => Some(Self::Ipv6),
            _ => None,
        }
    }

    /// `4` or `6` (the IP column of BCC's network tools).
    pub fn version(self) -> u8 {
        match self {
            Self::Ipv4 => 4,
            Self::Ipv6 => 6,
        }
    }

    pub fn af(self) -> u16 {
        match self {
            Self::Ipv4 => AF_INET,
            Self::Ipv6 => AF_INET6,
        }
    }
}

/// `-4/--ipv4` and `-6/--ipv6` of BCC's network tools: flatten into a
/// tool's arguments.
#[derive(clap::Args, Debug, Clone, Copy, Default)]
pub struct FamilyArgs {
    /// Only IPv4
    #[arg(short = '4', long, conflicts_with = "ipv6")]
    pub ipv4: bool,
    /// Only IPv6
    #[arg(short = '6', long)]
    pub ipv6: bool,
}

impl FamilyArgs {
    /// The family to keep, as `AF_INET` / `AF_INET6`; 0 for both.
    pub fn af(&self) -> u16 {
        match (self.ipv4, self.ipv6) {
            (true, _) => AF_INET,
            (_, true) => AF_INET6,
            _ => 0,
        }
    }
}

/// The address in `bytes` (network order) for `family`.
pub fn ip_addr(family: Family, bytes: &[u8; 16]) -> IpAddr {
    match family {
        Family::Ipv4 => IpAddr::V4(Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3])),
        Family::Ipv6 => IpAddr::V6(Ipv6Addr::from(*bytes)),
    }
}

/// Both ends of a connection, from the BPF side's raw form. Serializes as
/// `family`, `laddr`, `lport`, `raddr`, `rport` (flatten it into a row).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Endpoints {
    pub family: Family,
    pub laddr: IpAddr,
    pub lport: u16,
    pub raddr: IpAddr,
    pub rport: u16,
}

impl Endpoints {
    /// `None` for a family other than `AF_INET` / `AF_INET6`.
    pub fn new(
        af: u16,
        laddr: &[u8; 16],
        lport: u16,
        raddr: &[u8; 16],
        rport: u16,
    ) -> Option<Self> {
        let family = Family::from_af(af)?;
        Some(Self {
            family,
            laddr: ip_addr(family, laddr),
            lport,
            raddr: ip_addr(family, raddr),
            rport,
        })
    }
}

/// The BPF side's form of `ip`: its bytes in network order, IPv4 in the
/// first 4 of 16 (the inverse of [`ip_addr`]).
pub fn addr_bytes(ip: IpAddr) -> [u8; 16] {
    match ip {
        IpAddr::V4(a) => {
            let mut b = [0u8; 16];
            b[..4].copy_from_slice(&a.octets());
            b
        }
        IpAddr::V6(a) => a.octets(),
    }
}

/// The name of TCP state `state` as BCC's network tools print it
/// (`TCP_ESTABLISHED` = 1 … `TCP_NEW_SYN_RECV` = 12, include/net/tcp_states.h);
/// `"UNKNOWN"` for any other value.
pub fn tcp_state_name(state: u32) -> &'static str {
    const NAMES: [&str; 12] = [
        "ESTABLISHED",
        "SYN_SENT",
        "SYN_RECV",
        "FIN_WAIT1",
        "FIN_WAIT2",
        "TIME_WAIT",
        "CLOSE",
        "CLOSE_WAIT",
        "LAST_ACK",
        "LISTEN",
        "CLOSING",
        "NEW_SYN_RECV",
    ];
    let i = usize::try_from(state).ok().and_then(|s| s.checked_sub(1));
    i.and_then(|i| NAMES.get(i)).copied().unwrap_or("UNKNOWN")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_both_families() {
        let mut b = [0u8; 16];
        b[..4].copy_from_slice(&[127, 0, 0, 1]);
        assert_eq!(ip_addr(Family::Ipv4, &b).to_string(), "127.0.0.1");
        let mut b = [0u8; 16];
        b[15] = 1;
        assert_eq!(ip_addr(Family::Ipv6, &b).to_string(), "::1");
        let mapped: [u8; 16] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 2, 3];
        assert_eq!(
            ip_addr(Family::Ipv6, &mapped).to_string(),
            "::ffff:10.1.2.3"
        );
        assert_eq!(Family::from_af(10), Some(Family::Ipv6));
        assert_eq!(Family::from_af(1), None);
        assert_eq!(serde_json::to_string(&Family::Ipv4).unwrap(), "\"ipv4\"");
        assert_eq!(Family::Ipv6.version(), 6);
        let ends = Endpoints::new(AF_INET, &[127; 16], 80, &[10; 16], 8080).unwrap();
        let j = serde_json::to_string(&ends).unwrap();
        assert_eq!(
            j,
            r#"{"family":"ipv4","laddr":"127.127.127.127","lport":80,"raddr":"10.10.10.10","rport":8080}"#
        );
        assert!(Endpoints::new(1, &[0; 16], 1, &[0; 16], 1).is_none());
        for a in ["10.1.2.3", "::1", "fd00::7"] {
            let ip: IpAddr = a.parse().unwrap();
            let fam = if ip.is_ipv4() {
                Family::Ipv4
            } else {
                Family::Ipv6
            };
            assert_eq!(ip_addr(fam, &addr_bytes(ip)), ip);
        }
        let names = [
            (0, "UNKNOWN"),
            (1, "ESTABLISHED"),
            (2, "SYN_SENT"),
            (12, "NEW_SYN_RECV"),
        ];
        for (n, name) in names
            .into_iter()
            .chain([(13, "UNKNOWN"), (u32::MAX, "UNKNOWN")])
        {
            assert_eq!(tcp_state_name(n), name, "{n}");
        }
    }
}
