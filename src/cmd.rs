//! `-- CMD`: a child started stopped before its exec, released once it is
//! in the kernel filter, so its exec and everything after it are traced.
//! It stays in the tool's process group (a terminal's Ctrl-C reaches both);
//! when the tool ends first it stops CMD ([`HeldChild::finish`]), and a
//! parent-death signal covers a tool that is killed outright: CMD never
//! outlives the tool.

use std::ffi::{CString, OsString};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{fork, ForkResult, Pid};
use serde::Serialize;

use crate::error::UserError;

/// How long CMD may take to end by itself once the tool has stopped (it
/// may have had the same Ctrl-C), then after SIGTERM before SIGKILL.
const SETTLE: Duration = Duration::from_millis(200);
const GRACE: Duration = Duration::from_secs(2);

pub struct HeldChild {
    pid: Pid,
    name: String,
    /// Writing one byte here lets the child exec; dropping it makes it exit.
    go: Option<OwnedFd>,
    /// Receives the child's errno if its exec fails; EOF on success.
    exec_err: Option<OwnedFd>,
    /// Set once the child has been reaped.
    status: Option<CmdStatus>,
    /// The tool's name, for the stderr line of [`HeldChild::finish`].
    tool: &'static str,
}

/// How CMD ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CmdEnd {
    /// It exited by itself.
    Exited,
    /// A signal the tool did not send killed it (e.g. the terminal's Ctrl-C).
    Signal,
    /// The tool ended first and stopped it with SIGTERM.
    Terminated,
    /// It was still running [`GRACE`] after SIGTERM: SIGKILL.
    Killed,
}

/// CMD's end, as the summary reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CmdStatus {
    pub ended: CmdEnd,
    /// Its exit code, or 128 + the signal that killed it (as a shell's `$?`).
    pub code: u8,
    /// The signal that killed it, if one did.
    pub signal: Option<Signal>,
}

impl CmdStatus {
    fn from_wait(st: WaitStatus, sent: Option<Signal>) -> Option<Self> {
        let (code, signal) = match st {
            WaitStatus::Exited(_, code) => (code as u8, None),
            WaitStatus::Signaled(_, sig, _) => (128u8.wrapping_add(sig as u8), Some(sig)),
            _ => return None,
        };
        let ended = match (sent, signal) {
            (Some(Signal::SIGKILL), _) => CmdEnd::Killed,
            (Some(_), _) => CmdEnd::Terminated,
            (None, Some(_)) => CmdEnd::Signal,
            (None, None) => CmdEnd::Exited,
        };
        Some(Self {
            ended,
            code,
            signal,
        })
    }

    /// The tool's exit code: CMD's status if it ended by itself, else 0 (the
    /// tool's run ended normally and it stopped CMD).
    pub fn exit_code(&self) -> ExitCode {
        match self.ended {
            CmdEnd::Exited | CmdEnd::Signal => ExitCode::from(self.code),
            CmdEnd::Terminated | CmdEnd::Killed => ExitCode::SUCCESS,
        }
    }
}

/// `cmd` itself if it holds a `/`, else the first executable file named
/// `cmd` in $PATH.
fn resolve(cmd: &std::ffi::OsStr) -> Option<std::path::PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    if cmd.as_bytes().contains(&b'/') {
        return Some(cmd.into());
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
    std::env::split_paths(&path).map(|d| d.join(cmd)).find(|p| {
        p.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    })
}

impl HeldChild {
    /// Forks; the child waits for [`HeldChild::release`] before exec'ing `argv`.
    /// Call before any other thread exists (the child runs only
    /// async-signal-safe code).
    pub fn spawn(argv: &[OsString]) -> Result<Self> {
        let cargs: Vec<CString> = argv
            .iter()
            .map(|a| CString::new(a.as_bytes()))
            .collect::<Result<_, _>>()
            .context("CMD arguments must not contain NUL bytes")?;
        // Look CMD up in PATH here, so the child makes exactly one exec
        // (no failed attempts show up in the trace).
        let first = argv.first().context("no CMD given")?;
        let path = resolve(first).ok_or_else(|| {
            UserError::hint(
                format!("cannot run {}: command not found", first.to_string_lossy()),
                "check the command after `--` (it is looked up in PATH)",
            )
        })?;
        let cpath = CString::new(path.as_os_str().as_bytes()).context("CMD path has a NUL byte")?;
        let name = argv
            .first()
            .map(|a| a.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut ptrs: Vec<*const libc::c_char> = cargs.iter().map(|c| c.as_ptr()).collect();
        ptrs.push(std::ptr::null());

        let parent = nix::unistd::getpid().as_raw();

        let (go_r, go_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).context("pipe")?;
        let (err_r, err_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).context("pipe")?;
        let (go_r_fd, go_w_fd, err_r_fd, err_w_fd) = (
            go_r.as_raw_fd(),
            go_w.as_raw_fd(),
            err_r.as_raw_fd(),
            err_w.as_raw_fd(),
        );

        // SAFETY: the child only calls close, read, prctl, getppid,
        // sigemptyset, sigaction, sigprocmask, execv (execve with the current
        // environment), write and _exit (all async-signal-safe) on data
        // prepared before the fork; the process is single-threaded here.
        match unsafe { fork() }.context("fork")? {
            ForkResult::Child => {
                // SAFETY: raw fds inherited from the parent; see above.
                unsafe {
                    libc::close(go_w_fd);
                    libc::close(err_r_fd);
                    // SIGTERM if the tool dies without stopping us (SIGKILL);
                    // it may already be gone.
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                    if libc::getppid() != parent {
                        libc::_exit(126);
                    }
                    let mut b = 0u8;
                    loop {
                        let n = libc::read(go_r_fd, (&mut b as *mut u8).cast(), 1);
                        if n == 1 {
                            break;
                        }
                        if n == 0 || *libc::__errno_location() != libc::EINTR {
                            libc::_exit(126); // parent went away before releasing us
                        }
                    }
                    // CMD starts as from a shell: no signal ignored (Rust
                    // ignores SIGPIPE in the tool), none blocked. Handlers
                    // are reset by exec; ignored signals would be inherited.
                    let mut dfl: libc::sigaction = std::mem::zeroed();
                    dfl.sa_sigaction = libc::SIG_DFL;
                    libc::sigemptyset(&mut dfl.sa_mask);
                    for sig in 1..libc::SIGRTMAX() {
                        // Fails harmlessly for SIGKILL, SIGSTOP and libc's own.
                        libc::sigaction(sig, &dfl, std::ptr::null_mut());
                    }
                    let mut none: libc::sigset_t = std::mem::zeroed();
                    libc::sigemptyset(&mut none);
                    libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
                    libc::execv(cpath.as_ptr(), ptrs.as_ptr());
                    let errno = *libc::__errno_location();
                    libc::write(err_w_fd, (&errno as *const i32).cast(), 4);
                    libc::_exit(127);
                }
            }
            ForkResult::Parent { child } => {
                drop(go_r);
                drop(err_w);
                Ok(Self {
                    pid: child,
                    name,
                    go: Some(go_w),
                    exec_err: Some(err_r),
                    status: None,
                    tool: "corescope",
                })
            }
        }
    }

    pub fn pid(&self) -> u32 {
        self.pid.as_raw() as u32
    }

    /// Lets the child exec; fails if the exec itself fails.
    pub fn release(&mut self) -> Result<()> {
        if let Some(go) = self.go.take() {
            nix::unistd::write(&go, &[1]).context("releasing CMD")?;
        }
        if let Some(err) = self.exec_err.take() {
            let mut buf = [0u8; 4];
            let n = nix::unistd::read(&err, &mut buf).unwrap_or(0);
            if n == 4 {
                let errno = nix::errno::Errno::from_raw(i32::from_ne_bytes(buf));
                if let Ok(st) = waitpid(self.pid, None) {
                    self.status = CmdStatus::from_wait(st, None);
                }
                return Err(UserError::hint(
                    format!("cannot run {}: {}", self.name, errno.desc()),
                    "check the command after `--` (it is looked up in PATH)",
                )
                .into());
            }
        }
        Ok(())
    }

    /// Names the tool in the line [`HeldChild::finish`] prints.
    pub fn set_tool(&mut self, tool: &'static str) {
        self.tool = tool;
    }

    /// CMD's status once it has ended by itself (reaping it), else `None`.
    pub fn try_wait(&mut self) -> Result<Option<CmdStatus>> {
        if self.status.is_none() {
            let st = waitpid(self.pid, Some(WaitPidFlag::WNOHANG)).context("waitpid")?;
            self.status = CmdStatus::from_wait(st, None);
        }
        Ok(self.status)
    }

    /// Ends CMD if it is still running: a moment to end by itself, then
    /// SIGTERM, then SIGKILL after [`GRACE`]; reaps it, says so on stderr
    /// and returns how it ended. `None` if it was never released (it exits
    /// by itself when the tool's end of its pipe closes).
    pub fn finish(&mut self) -> Option<CmdStatus> {
        if self.go.is_some() {
            return None;
        }
        if let Ok(Some(st)) = self.try_wait() {
            return Some(st);
        }
        let mut status = None;
        for (limit, sig) in [
            (SETTLE, None),
            (GRACE, Some(Signal::SIGTERM)),
            (Duration::from_secs(5), Some(Signal::SIGKILL)),
        ] {
            match self.wait_for(limit, sig) {
                Wait::Ended(st) => {
                    status = Some(st);
                    break;
                }
                Wait::Running => {}
                Wait::Gone => return None,
            }
        }
        let status = status?;
        self.status = Some(status);
        if matches!(status.ended, CmdEnd::Terminated | CmdEnd::Killed) {
            let how = match status.signal {
                Some(sig) => format!("ended by {}", sig.as_str()),
                None => format!("exited with {}", status.code),
            };
            let sent = match status.ended {
                CmdEnd::Killed => "SIGTERM, then SIGKILL",
                _ => "SIGTERM",
            };
            crate::diag!(
                "{}: CMD {} (PID {}) was still running: sent {sent}; it {how}",
                self.tool,
                self.name,
                self.pid
            );
        }
        Some(status)
    }

    /// Sends `sig` (if any), then waits up to `limit` for the exit.
    fn wait_for(&mut self, limit: Duration, sig: Option<Signal>) -> Wait {
        if let Some(sig) = sig {
            // Not yet reaped: the PID is still our child's.
            let _ = kill(self.pid, sig);
        }
        let end = Instant::now() + limit;
        loop {
            let Ok(st) = waitpid(self.pid, Some(WaitPidFlag::WNOHANG)) else {
                return Wait::Gone; // not our child any more: never signal it
            };
            if let Some(s) = CmdStatus::from_wait(st, sig) {
                // Killed by another signal than the SIGTERM we sent (e.g. a
                // pending Ctrl-C): that one ended it.
                let other = s.signal.is_some_and(|got| Some(got) != sig);
                return Wait::Ended(if other && sig == Some(Signal::SIGTERM) {
                    CmdStatus {
                        ended: CmdEnd::Signal,
                        ..s
                    }
                } else {
                    s
                });
            }
            if Instant::now() >= end {
                return Wait::Running;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

enum Wait {
    Ended(CmdStatus),
    Running,
    Gone,
}

impl Drop for HeldChild {
    /// An error ended the tool: CMD must not outlive it.
    fn drop(&mut self) {
        self.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(w: WaitStatus, sent: Option<Signal>) -> CmdStatus {
        CmdStatus::from_wait(w, sent).unwrap()
    }

    #[test]
    fn how_cmd_ended_and_the_tool_exit_code() {
        let p = Pid::from_raw(42);
        let s = st(WaitStatus::Exited(p, 7), None);
        assert_eq!((s.ended, s.code, s.signal), (CmdEnd::Exited, 7, None));
        assert_eq!(s.exit_code(), ExitCode::from(7));
        let s = st(WaitStatus::Signaled(p, Signal::SIGINT, false), None);
        assert_eq!((s.ended, s.code), (CmdEnd::Signal, 130));
        assert_eq!(s.exit_code(), ExitCode::from(130));
        let t = Some(Signal::SIGTERM);
        let s = st(WaitStatus::Signaled(p, Signal::SIGTERM, false), t);
        assert_eq!((s.ended, s.code), (CmdEnd::Terminated, 143));
        assert_eq!(s.exit_code(), ExitCode::SUCCESS, "the tool ended first");
        let s = st(WaitStatus::Exited(p, 0), t);
        assert_eq!(s.ended, CmdEnd::Terminated, "it handled SIGTERM");
        let s = st(
            WaitStatus::Signaled(p, Signal::SIGKILL, false),
            Some(Signal::SIGKILL),
        );
        assert_eq!((s.ended, s.code), (CmdEnd::Killed, 137));
        assert!(CmdStatus::from_wait(WaitStatus::StillAlive, None).is_none());
        assert_eq!(
            serde_json::to_string(&CmdEnd::Terminated).unwrap(),
            "\"terminated\""
        );
    }
}
