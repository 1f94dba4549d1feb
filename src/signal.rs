//! Signal numbers and names, as the kernel numbers them, for the tools that
//! show signals (exitsnoop, sigsnoop, killsnoop). Names are written where
//! they are shown ([`Sig`] is `Display` and `Serialize`): nothing allocated
//! per event.

use std::fmt;

/// The kernel's first real-time signal (glibc reserves 32 and 33 and calls
/// 34 `SIGRTMIN`; numbers here are the kernel's).
pub const SIGRTMIN: u32 = 32;
/// The last signal (`_NSIG`).
pub const SIGRTMAX: u32 = 64;

/// The standard signals of this architecture (libc's numbering).
const NAMES: &[(libc::c_int, &str)] = &[
    (libc::SIGHUP, "HUP"),
    (libc::SIGINT, "INT"),
    (libc::SIGQUIT, "QUIT"),
    (libc::SIGILL, "ILL"),
    (libc::SIGTRAP, "TRAP"),
    (libc::SIGABRT, "ABRT"),
    (libc::SIGBUS, "BUS"),
    (libc::SIGFPE, "FPE"),
    (libc::SIGKILL, "KILL"),
    (libc::SIGUSR1, "USR1"),
    (libc::SIGSEGV, "SEGV"),
    (libc::SIGUSR2, "USR2"),
    (libc::SIGPIPE, "PIPE"),
    (libc::SIGALRM, "ALRM"),
    (libc::SIGTERM, "TERM"),
    (libc::SIGSTKFLT, "STKFLT"),
    (libc::SIGCHLD, "CHLD"),
    (libc::SIGCONT, "CONT"),
    (libc::SIGSTOP, "STOP"),
    (libc::SIGTSTP, "TSTP"),
    (libc::SIGTTIN, "TTIN"),
    (libc::SIGTTOU, "TTOU"),
    (libc::SIGURG, "URG"),
    (libc::SIGXCPU, "XCPU"),
    (libc::SIGXFSZ, "XFSZ"),
    (libc::SIGVTALRM, "VTALRM"),
    (libc::SIGPROF, "PROF"),
    (libc::SIGWINCH, "WINCH"),
    (libc::SIGIO, "IO"),
    (libc::SIGPWR, "PWR"),
    (libc::SIGSYS, "SYS"),
];

/// Other names accepted on the command line.
const ALIASES: &[(libc::c_int, &str)] = &[
    (libc::SIGIOT, "IOT"),
    (libc::SIGPOLL, "POLL"),
    (libc::SIGCHLD, "CLD"),
];

/// A signal number, shown by name: `SIGSEGV`, `SIGRTMIN+2`; a number that
/// names no signal (0, or out of range) is shown as the number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sig(pub u32);

impl Sig {
    /// The name without `SIG` (`SEGV`, `RTMIN+2`), for a known standard
    /// signal; real-time ones are [`None`] here (see `Display`).
    pub fn base(self) -> Option<&'static str> {
        NAMES
            .iter()
            .find(|&&(n, _)| n as u32 == self.0)
            .map(|&(_, s)| s)
    }

    /// Whether it is a signal at all (1 to 64).
    pub fn is_signal(self) -> bool {
        (1..=SIGRTMAX).contains(&self.0)
    }

    /// The name without the `SIG` prefix (`SEGV`, `RTMIN+2`), or the number.
    pub fn short(self) -> Short {
        Short(self)
    }
}

/// [`Sig`] without the `SIG` prefix (BCC exitsnoop's `signal 11 (SEGV)`).
#[derive(Debug, Clone, Copy)]
pub struct Short(Sig);

fn write_name(f: &mut fmt::Formatter<'_>, s: Sig, prefix: &str) -> fmt::Result {
    match (s.base(), s.0) {
        (Some(n), _) => write!(f, "{prefix}{n}"),
        (None, SIGRTMIN) => write!(f, "{prefix}RTMIN"),
        (None, n) if n > SIGRTMIN && n <= SIGRTMAX => write!(f, "{prefix}RTMIN+{}", n - SIGRTMIN),
        (None, n) => write!(f, "{n}"),
    }
}

impl fmt::Display for Sig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_name(f, *self, "SIG")
    }
}

impl fmt::Display for Short {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_name(f, self.0, "")
    }
}

impl serde::Serialize for Sig {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A signal from the command line: a number (0 to 64), or a name with or
/// without `SIG`, in any case (`USR1`, `sigterm`, `SIGRTMIN+3`, `RTMAX-1`).
pub fn parse(s: &str) -> Result<u32, String> {
    if let Ok(n) = s.parse::<u32>() {
        return match n <= SIGRTMAX {
            true => Ok(n),
            false => Err(format!("signal {n} is out of range (0-{SIGRTMAX})")),
        };
    }
    let up = s.to_ascii_uppercase();
    let name = up.strip_prefix("SIG").unwrap_or(&up);
    let rt = |rest: &str, base: u32, sign: i64| -> Option<u32> {
        let off: i64 = match rest {
            "" => 0,
            r => r
                .strip_prefix(if sign > 0 { '+' } else { '-' })?
                .parse()
                .ok()?,
        };
        let n = i64::from(base) + sign * off;
        (i64::from(SIGRTMIN)..=i64::from(SIGRTMAX))
            .contains(&n)
            .then_some(n as u32)
    };
    let found = NAMES
        .iter()
        .chain(ALIASES)
        .find(|&&(_, n)| n == name)
        .map(|&(n, _)| n as u32)
        .or_else(|| name.strip_prefix("RTMIN").and_then(|r| rt(r, SIGRTMIN, 1)))
        .or_else(|| name.strip_prefix("RTMAX").and_then(|r| rt(r, SIGRTMAX, -1)));
    found.ok_or_else(|| {
        format!("unknown signal {s:?} (give a number, or a name such as USR1, SIGTERM, RTMIN+2)")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers() {
        assert_eq!(Sig(11).to_string(), "SIGSEGV");
        assert_eq!(Sig(11).short().to_string(), "SEGV");
        assert_eq!(Sig(libc::SIGUSR1 as u32).to_string(), "SIGUSR1");
        assert_eq!(Sig(32).to_string(), "SIGRTMIN");
        assert_eq!(Sig(34).to_string(), "SIGRTMIN+2");
        assert_eq!(Sig(64).short().to_string(), "RTMIN+32");
        assert_eq!(Sig(0).to_string(), "0");
        assert_eq!(Sig(65).to_string(), "65");
        assert!(!Sig(0).is_signal() && Sig(64).is_signal() && !Sig(65).is_signal());
    }

    #[test]
    fn parse_accepts_what_kill_accepts() {
        assert_eq!(parse("9"), Ok(9));
        assert_eq!(parse("0"), Ok(0));
        assert_eq!(parse("usr1"), Ok(libc::SIGUSR1 as u32));
        assert_eq!(parse("SIGTERM"), Ok(15));
        assert_eq!(parse("sigIot"), Ok(libc::SIGABRT as u32));
        assert_eq!(parse("RTMIN"), Ok(32));
        assert_eq!(parse("SIGRTMIN+3"), Ok(35));
        assert_eq!(parse("rtmax-1"), Ok(63));
        for bad in ["65", "-1", "FOO", "RTMIN+40", "RTMAX+1", "RTMIN-1", ""] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        // Every name shown parses back to its number.
        for n in 1..=SIGRTMAX {
            assert_eq!(parse(&Sig(n).to_string()), Ok(n), "{n}");
        }
    }
}
