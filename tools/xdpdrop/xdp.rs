//! Network interfaces and XDP attachment through a bpf_link, so that the
//! program is detached when the process ends, however it ends (even by
//! SIGKILL). Interface names and indexes are those of the calling
//! process's network namespace.

use std::fmt;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use anyhow::Result;
use libbpf_rs::libbpf_sys as sys;
use libbpf_rs::query::{LinkInfo, LinkInfoIter, LinkTypeInfo, ProgInfoIter};

use corescope::error::UserError;

/// How to attach an XDP program.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum XdpMode {
    /// Native (driver) mode, falling back to skb mode with a notice
    #[default]
    Auto,
    /// Native (driver) mode only
    Native,
    /// Generic (skb) mode: works on every interface, slower
    Skb,
    /// Hardware offload: not supported (refused with an error)
    #[value(alias = "hw")]
    Offload,
}

impl XdpMode {
    pub fn name(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Native => "native",
            Self::Skb => "skb",
            Self::Offload => "offload",
        }
    }

    /// Fails for a mode xdpdrop cannot attach in (hardware offload).
    pub fn check(self) -> Result<(), UserError> {
        match self {
            Self::Offload => Err(offload_error()),
            _ => Ok(()),
        }
    }

    fn flags(self) -> u32 {
        match self {
            Self::Native => sys::XDP_FLAGS_DRV_MODE,
            Self::Skb => sys::XDP_FLAGS_SKB_MODE,
            Self::Offload => sys::XDP_FLAGS_HW_MODE,
            Self::Auto => 0,
        }
    }
}

impl fmt::Display for XdpMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The index of interface `name`, or an error naming it with a hint.
pub fn ifindex(name: &str) -> Result<u32> {
    let hint = "list the interfaces with `ip -br link`; for an interface in another \
                network namespace, run the tool inside it (ip netns exec NS ...)";
    // Echoed escaped: a name from a script must not write terminal controls.
    let shown = corescope::escape::escape(name.as_bytes());
    if name.is_empty() || name.len() >= libc::IFNAMSIZ || name.contains(['/', ' ', '\0']) {
        return Err(UserError::hint(format!("invalid interface name '{shown}'"), hint).into());
    }
    let c = std::ffi::CString::new(name)?;
    // SAFETY: c is a valid NUL-terminated string for the duration of the call.
    match unsafe { libc::if_nametoindex(c.as_ptr()) } {
        0 => Err(UserError::hint(format!("no such network interface: '{shown}'"), hint).into()),
        i => Ok(i),
    }
}

/// An XDP program already attached to an interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Existing {
    pub prog_id: u32,
    pub name: String,
    /// "native", "skb" or "offload".
    pub mode: &'static str,
    /// The bpf_link holding it, if it was attached through one.
    pub link_id: Option<u32>,
}

impl fmt::Display for Existing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "id {} '{}' ({} mode", self.prog_id, self.name, self.mode)?;
        match self.link_id {
            Some(l) => write!(f, ", bpf_link id {l})"),
            None => f.write_str(")"),
        }
    }
}

/// The XDP programs attached to `ifindex`, one per mode.
pub fn existing(ifindex: u32) -> Result<Vec<Existing>> {
    let mut opts = sys::bpf_xdp_query_opts {
        sz: std::mem::size_of::<sys::bpf_xdp_query_opts>() as _,
        ..Default::default()
    };
    // SAFETY: opts is a valid, correctly sized bpf_xdp_query_opts that
    // libbpf fills in; it is not kept after the call.
    let ret = unsafe { sys::bpf_xdp_query(ifindex as i32, 0, &mut opts) };
    if ret < 0 {
        let e = std::io::Error::from_raw_os_error(-ret);
        return Err(anyhow::anyhow!(e).context("querying the interface's XDP programs"));
    }
    let mut v = Vec::new();
    for (id, mode) in [
        (opts.drv_prog_id, "native"),
        (opts.skb_prog_id, "skb"),
        (opts.hw_prog_id, "offload"),
    ] {
        if id != 0 {
            v.push(Existing {
                prog_id: id,
                name: ProgInfoIter::default()
                    .find(|p| p.id == id)
                    .map(|p| p.name.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "?".into()),
                mode,
                link_id: LinkInfoIter::default()
                    .find(|l| {
                        l.prog_id == id
                            && matches!(&l.info, LinkTypeInfo::Xdp(x) if x.ifindex == ifindex)
                    })
                    .map(|l| l.id),
            });
        }
    }
    Ok(v)
}

/// Detaches an existing program (for --force): its bpf_link if it has one,
/// else its netlink attachment.
pub fn detach_existing(ifindex: u32, e: &Existing) -> Result<()> {
    let ret = if let Some(link) = e.link_id {
        // SAFETY: plain syscall wrappers on an ID and on the fd they return,
        // which we own (closed right after through OwnedFd).
        unsafe {
            let fd = sys::bpf_link_get_fd_by_id(link);
            if fd < 0 {
                fd
            } else {
                let fd = OwnedFd::from_raw_fd(fd);
                sys::bpf_link_detach(fd.as_raw_fd())
            }
        }
    } else {
        let flags = match e.mode {
            "native" => sys::XDP_FLAGS_DRV_MODE,
            "skb" => sys::XDP_FLAGS_SKB_MODE,
            _ => sys::XDP_FLAGS_HW_MODE,
        };
        // SAFETY: a syscall wrapper with no pointers (opts may be NULL).
        unsafe { sys::bpf_xdp_detach(ifindex as i32, flags, std::ptr::null()) }
    };
    if ret < 0 {
        let err = std::io::Error::from_raw_os_error(-ret);
        return Err(UserError::new(format!("cannot detach XDP program {e}: {err}")).into());
    }
    Ok(())
}

/// An XDP program attached through a bpf_link: detached when dropped, or
/// when the process dies.
#[derive(Debug)]
pub struct XdpLink {
    fd: OwnedFd,
    pub ifindex: u32,
    /// The mode in effect: `Native` or `Skb`.
    pub mode: XdpMode,
    /// IDs of the attached program and of the link (as bpftool shows them).
    pub prog_id: u32,
    pub link_id: u32,
}

fn link_create(prog: BorrowedFd<'_>, ifindex: u32, mode: XdpMode) -> Result<OwnedFd, i32> {
    let opts = sys::bpf_link_create_opts {
        sz: std::mem::size_of::<sys::bpf_link_create_opts>() as _,
        flags: mode.flags(),
        ..Default::default()
    };
    // SAFETY: prog is a valid program fd for the call; opts is a valid,
    // correctly sized bpf_link_create_opts that outlives the call.
    let fd = unsafe { sys::bpf_link_create(prog.as_raw_fd(), ifindex as i32, sys::BPF_XDP, &opts) };
    if fd < 0 {
        return Err(-fd);
    }
    // SAFETY: a new fd returned by the kernel, owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

impl XdpLink {
    /// Attaches `prog` to interface `iface` (index `ifindex`) in `mode`.
    /// Another XDP program on the interface is an error naming it, unless
    /// `force`, which detaches it first (it is not restored afterwards).
    /// Notices (fallback to skb mode, replaced program) go to stderr.
    pub fn attach(
        tool: &str,
        prog: BorrowedFd<'_>,
        iface: &str,
        ifindex: u32,
        mode: XdpMode,
        force: bool,
    ) -> Result<Self> {
        mode.check()?;
        // Interface names may hold control characters: echoed escaped.
        let iface = &corescope::escape::escape(iface.as_bytes());
        for e in existing(ifindex)? {
            if !force {
                let how = match e.link_id {
                    Some(l) => format!(
                        "it is held by bpf_link {l} (`bpftool link show id {l}`): stop its owner"
                    ),
                    None => format!("detach it with `ip link set dev {iface} xdp off`"),
                };
                return Err(UserError::hint(
                    format!("{iface} already has an XDP program: {e}"),
                    format!("{how}, or pass --force to replace it (it is not restored on exit)"),
                )
                .into());
            }
            detach_existing(ifindex, &e)?;
            corescope::diag!("{tool}: --force: detached XDP program {e} from {iface}");
        }
        let attach = |m: XdpMode| {
            link_create(prog, ifindex, m).map(|fd| {
                let (link_id, prog_id) = LinkInfo::from_fd(fd.as_fd())
                    .map(|l| (l.id, l.prog_id))
                    .unwrap_or_default();
                Self {
                    fd,
                    ifindex,
                    mode: m,
                    prog_id,
                    link_id,
                }
            })
        };
        let res = match mode {
            XdpMode::Auto => match attach(XdpMode::Native) {
                Err(e) if e == libc::EOPNOTSUPP || e == libc::EINVAL => {
                    let r = attach(XdpMode::Skb);
                    if r.is_ok() {
                        corescope::diag!(
                            "{tool}: notice: {iface} has no native XDP support ({}); using skb (generic) mode",
                            std::io::Error::from_raw_os_error(e)
                        );
                    }
                    r
                }
                r => r,
            },
            m => attach(m),
        };
        res.map_err(|e| attach_error(iface, mode, e).into())
    }

    /// False once the program was detached behind our back (another tool's
    /// --force, or the interface was deleted).
    pub fn attached(&self) -> bool {
        match LinkInfo::from_fd(self.fd.as_fd()) {
            Ok(LinkInfo {
                info: LinkTypeInfo::Xdp(x),
                ..
            }) => x.ifindex != 0,
            _ => false,
        }
    }

    /// Detaches the program now (also done on drop).
    pub fn detach(self) {
        drop(self);
    }
}

pub fn offload_error() -> UserError {
    UserError::hint(
        "hardware offload is not supported: per-CPU counters and LPM tries cannot be offloaded to a NIC",
        "use --mode native (driver) or --mode skb (generic), or --mode auto to pick",
    )
}

fn attach_error(iface: &str, mode: XdpMode, errno: i32) -> UserError {
    let err = std::io::Error::from_raw_os_error(errno);
    match errno {
        libc::EOPNOTSUPP if mode == XdpMode::Native => UserError::hint(
            format!("{iface} does not support native XDP ({err})"),
            "use --mode skb (generic XDP), or --mode auto to fall back to it",
        ),
        libc::EBUSY | libc::EEXIST => UserError::hint(
            format!("cannot attach to {iface}: another XDP program was attached meanwhile ({err})"),
            "run again to see which one, and --force to replace it",
        ),
        libc::EINVAL => UserError::hint(
            format!("cannot attach the XDP program to {iface} in {mode} mode ({err})"),
            "try another --mode (skb works on every interface); kernel 5.9 or later is needed for XDP bpf_links",
        ),
        _ => UserError::hint(
            format!("cannot attach the XDP program to {iface} ({err})"),
            "run again with -v for libbpf's log",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_interface_names() {
        for n in ["", "a/b", "this-name-is-too-long", "no-such-if0"] {
            let e = ifindex(n).unwrap_err();
            let u = e.downcast_ref::<UserError>().unwrap();
            assert!(u.msg.contains("interface"), "{}", u.msg);
            assert!(u.hint.as_deref().unwrap().contains("ip -br link"));
        }
        assert!(ifindex("lo").is_ok());
        let e = ifindex("\x1b[2Jx").unwrap_err();
        assert_eq!(e.to_string(), "no such network interface: '\\e[2Jx'");
        let e = ifindex("a/\x07").unwrap_err();
        assert_eq!(e.to_string(), "invalid interface name 'a/\\x07'");
    }

    #[test]
    fn existing_program_is_named() {
        let e = Existing {
            prog_id: 42,
            name: "xdp_pass".into(),
            mode: "skb",
            link_id: None,
        };
        assert_eq!(e.to_string(), "id 42 'xdp_pass' (skb mode)");
        let l = Existing {
            link_id: Some(7),
            ..e
        };
        assert_eq!(l.to_string(), "id 42 'xdp_pass' (skb mode, bpf_link id 7)");
    }

    #[test]
    fn attach_errors_have_hints() {
        let e = attach_error("veth0", XdpMode::Native, libc::EOPNOTSUPP);
        assert!(e.msg.contains("native XDP") && e.hint.unwrap().contains("--mode skb"));
        assert!(offload_error().msg.contains("offload"));
    }
}
