//! Errors a user can act on, and the process exit path.

use std::fmt;
use std::io;
use std::process::ExitCode;

/// An error with a one-line cause and a hint naming the fix.
#[derive(Debug)]
pub struct UserError {
    pub msg: String,
    pub hint: Option<String>,
}

impl UserError {
    pub fn new(msg: impl Into<String>) -> Self {
        Self {
            msg: msg.into(),
            hint: None,
        }
    }
    pub fn hint(msg: impl Into<String>, hint: impl Into<String>) -> Self {
        Self {
            msg: msg.into(),
            hint: Some(hint.into()),
        }
    }
}

impl fmt::Display for UserError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.msg)
    }
}

impl std::error::Error for UserError {}

/// Writes a diagnostic line to stderr, ignoring write errors: stderr may be
/// a closed pipe or a full disk, and a diagnostic must never end the tool
/// (`eprintln!` panics then). Use instead of `eprintln!` everywhere.
/// The line is formatted first and written with one `write`: stderr is
/// unbuffered, and `writeln!` would write it piece by piece, interleaved
/// with what `-- CMD` writes to the same stderr.
#[macro_export]
macro_rules! diag {
    ($($arg:tt)*) => {{
        let mut line = format!($($arg)*);
        line.push('\n');
        $crate::error::write_stderr(&line);
    }};
}

/// [`diag!`] without the newline (text that already ends in one).
#[macro_export]
macro_rules! diag_raw {
    ($($arg:tt)*) => {{
        $crate::error::write_stderr(&format!($($arg)*));
    }};
}

/// Writes `text` to stderr in one `write` where it fits (a pipe writes up
/// to PIPE_BUF bytes atomically), ignoring errors (see [`diag!`]).
pub fn write_stderr(text: &str) {
    use std::io::Write as _;
    let _ = io::stderr().lock().write_all(text.as_bytes());
}

/// True if the error (or its cause chain) is a closed output pipe.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
    })
}

/// A [`UserError`] in the chain, also one wrapped in an `io::Error` (write
/// errors keep their kind that way, see `output::Dest`).
fn user_error<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a UserError> {
    e.downcast_ref::<UserError>().or_else(|| {
        e.downcast_ref::<io::Error>()?
            .get_ref()?
            .downcast_ref::<UserError>()
    })
}

/// The running tool's name, for messages (argv[0]'s file name).
pub fn tool_name() -> String {
    crate::cli::args_os()
        .next()
        .and_then(|a| {
            std::path::Path::new(&a)
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "corescope".into())
}

/// Runs a tool: `Ok(code)` is its exit code; a closed stdout is a normal end
/// (exit 0, silent); any other error is printed as `tool: error: …` plus
/// `hint: …` and exits 1.
pub fn main(run: impl FnOnce() -> anyhow::Result<ExitCode>) -> ExitCode {
    let tool = tool_name();
    match run() {
        Ok(code) => code,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            let hint = e.chain().find_map(user_error).and_then(|u| u.hint.clone());
            crate::diag!("{tool}: error: {e:#}");
            if let Some(h) = hint {
                crate::diag!("hint: {h}");
            }
            ExitCode::FAILURE
        }
    }
}
