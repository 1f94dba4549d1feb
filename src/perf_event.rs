//! Software perf events for sampling tools (profile): `perf_event_open(2)`
//! of a CPU_CLOCK event on one CPU, and a BPF program attached to it.
//! libbpf-rs attaches to a perf event but does not open one.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd};

use libbpf_rs::libbpf_sys as sys;
use libbpf_rs::{Link, ProgramMut};

/// How often a sampling event fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sample {
    /// About this many times per second of CPU time (the kernel adjusts
    /// the period: `-F HZ`).
    Freq(u64),
    /// Once every this many nanoseconds of CPU clock (`--count N`).
    Period(u64),
}

/// Opens a software CPU_CLOCK sampling event counting everything that runs
/// on `cpu` (any task). Samples go nowhere until a program is attached.
pub fn open_cpu_clock(cpu: u32, sample: Sample) -> io::Result<OwnedFd> {
    let mut attr = sys::perf_event_attr {
        type_: sys::PERF_TYPE_SOFTWARE,
        size: std::mem::size_of::<sys::perf_event_attr>() as u32,
        config: u64::from(sys::PERF_COUNT_SW_CPU_CLOCK),
        ..Default::default()
    };
    match sample {
        Sample::Freq(hz) => {
            attr.__bindgen_anon_1.sample_freq = hz;
            attr.set_freq(1);
        }
        Sample::Period(ns) => attr.__bindgen_anon_1.sample_period = ns,
    }
    let cpu = i32::try_from(cpu).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: perf_event_open reads `attr` (a valid, fully initialised
    // perf_event_attr whose `size` is its own) during the call only; pid -1
    // with a CPU is "every task on that CPU"; no group fd.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_perf_event_open,
            &attr as *const sys::perf_event_attr,
            -1 as libc::pid_t,
            cpu,
            -1 as libc::c_int,
            libc::c_ulong::from(sys::PERF_FLAG_FD_CLOEXEC),
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    let fd = i32::try_from(fd).map_err(|_| io::Error::from_raw_os_error(libc::EBADF))?;
    // SAFETY: a fresh file descriptor the kernel just returned; nothing
    // else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Attaches `prog` (a `SEC("perf_event")` program) to the event `fd`. The
/// link owns the event from then on: dropping it detaches the program and
/// closes the event. On failure the event is closed here.
pub fn attach(prog: &ProgramMut<'_>, fd: OwnedFd) -> libbpf_rs::Result<Link> {
    let link = prog.attach_perf_event(fd.as_raw_fd())?;
    // libbpf closes the event's fd when the link is destroyed.
    let _ = fd.into_raw_fd();
    Ok(link)
}

/// The CPUs that are online (/sys/devices/system/cpu/online: `0-3,5`).
pub fn online_cpus() -> io::Result<Vec<u32>> {
    let s = std::fs::read_to_string("/sys/devices/system/cpu/online")?;
    parse_cpu_list(s.trim())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, format!("bad CPU list {s:?}")))
}

/// A kernel CPU list (`0-3,5`).
pub fn parse_cpu_list(s: &str) -> Option<Vec<u32>> {
    let mut v = Vec::new();
    for part in s.split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (u32, u32) = (a.parse().ok()?, b.parse().ok()?);
                if a > b {
                    return None;
                }
                v.extend(a..=b);
            }
            None => v.push(part.parse().ok()?),
        }
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list("0"), Some(vec![0]));
        assert_eq!(parse_cpu_list("0-3,5"), Some(vec![0, 1, 2, 3, 5]));
        assert_eq!(parse_cpu_list("0-1,4-5"), Some(vec![0, 1, 4, 5]));
        assert_eq!(parse_cpu_list("3-1"), None);
        assert_eq!(parse_cpu_list("x"), None);
        assert!(online_cpus().is_ok_and(|c| !c.is_empty()));
    }

    /// A CPU clock event opens and counts (as root; perf_event_paranoid
    /// may refuse others).
    #[test]
    fn root_cpu_clock_opens() {
        if !crate::testing::root_or_skip("root_cpu_clock_opens", "perf_event_open") {
            return;
        }
        let fd = open_cpu_clock(0, Sample::Freq(49)).expect("perf_event_open");
        assert!(fd.as_raw_fd() >= 0);
        let e = open_cpu_clock(1 << 20, Sample::Period(1_000_000)).unwrap_err();
        assert!(
            matches!(e.raw_os_error(), Some(libc::EINVAL | libc::ENODEV)),
            "{e}"
        );
    }
}
