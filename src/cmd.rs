//! `-- CMD`: a child started stopped before its exec, released once it is
//! in the kernel filter, so its exec and everything after it are traced.

use std::ffi::{CString, OsString};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::process::ExitCode;

use anyhow::{Context, Result};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{fork, ForkResult, Pid};

use crate::error::UserError;

pub struct HeldChild {
    pid: Pid,
    name: String,
    /// Writing one byte here lets the child exec; dropping it makes it exit.
    go: Option<OwnedFd>,
    /// Receives the child's errno if its exec fails; EOF on success.
    exec_err: Option<OwnedFd>,
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

        let (go_r, go_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).context("pipe")?;
        let (err_r, err_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).context("pipe")?;
        let (go_r_fd, go_w_fd, err_r_fd, err_w_fd) = (
            go_r.as_raw_fd(),
            go_w.as_raw_fd(),
            err_r.as_raw_fd(),
            err_w.as_raw_fd(),
        );

        // SAFETY: the child only calls close, read, execv (execve with the
        // current environment), write and _exit on data prepared before the
        // fork; the process is single-threaded here.
        match unsafe { fork() }.context("fork")? {
            ForkResult::Child => {
                // SAFETY: raw fds inherited from the parent; see above.
                unsafe {
                    libc::close(go_w_fd);
                    libc::close(err_r_fd);
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
                let _ = waitpid(self.pid, None);
                return Err(UserError::hint(
                    format!("cannot run {}: {}", self.name, errno.desc()),
                    "check the command after `--` (it is looked up in PATH)",
                )
                .into());
            }
        }
        Ok(())
    }

    /// The child's exit status once it has ended (128 + signal if killed),
    /// as an exit code and as a number.
    pub fn try_wait(&self) -> Result<Option<(ExitCode, u8)>> {
        let code = match waitpid(self.pid, Some(WaitPidFlag::WNOHANG)).context("waitpid")? {
            WaitStatus::Exited(_, code) => code as u8,
            WaitStatus::Signaled(_, sig, _) => 128u8.wrapping_add(sig as u8),
            _ => return Ok(None),
        };
        Ok(Some((ExitCode::from(code), code)))
    }
}
