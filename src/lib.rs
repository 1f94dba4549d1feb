//! corescope's shared layer and its tools. The tools ([`tools`], one folder
//! each under tools/) are modules of this library, registered by build.rs;
//! the shared layer is everything a tool needs except its CLI, its
//! configuration and its rows. The runner ([`run`]) owns a tool's
//! lifecycle: a tool implements one shape ([`run::Events`] or
//! [`run::Interval`]) and its `main` is `run::events::<Tool>(name)` (or
//! `run::interval`), which runs [`cli::parse`] → [`Session::new`] →
//! [`Session::open`] → the tool's configuration → [`Session::load`] →
//! [`Session::stream`] or [`Session::every`] inside [`main`], which turns
//! errors into one line plus a hint and sets the exit code.

#[cfg(test)]
pub mod alloc_count;
pub mod check;
pub mod cli;
pub mod clock;
pub mod cmd;
pub mod delta;
pub mod disk;
pub mod errno;
pub mod error;
pub mod escape;
pub mod exporter;
pub mod filter;
#[cfg(any(debug_assertions, feature = "gen"))]
pub mod gen;
pub mod hist;
pub mod interval;
pub mod irqs;
pub mod libbpf_log;
pub mod load;
pub mod lru;
pub mod net;
pub mod output;
pub mod perf_event;
pub mod ports;
pub mod prom;
pub mod run;
pub mod session;
pub mod signal;
pub mod stacks;
pub mod stream;
pub mod sym;
pub mod top;
pub mod xdp;

pub use error::{main, UserError};

/// Test support shared by the library's own root tests.
#[cfg(test)]
pub(crate) mod testing {
    /// tests/util.rs's policy: as root the test runs; otherwise it skips,
    /// saying `why` root is needed, except with CI=true, where that fails.
    pub fn root_or_skip(test: &str, why: &str) -> bool {
        if nix::unistd::geteuid().is_root() {
            return true;
        }
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{test}: root tests must run in CI (CI=true), but euid is {}",
            nix::unistd::geteuid()
        );
        // Straight to fd 2: libtest hides the output of passing tests.
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), "{test}: skipped: needs root ({why})");
        false
    }
}
pub use session::{Session, Tick};

// Tool modules are library code that uses the shared layer as its clients
// do, by the crate's name (`corescope::…`).
extern crate self as corescope;

/// Every tool: one module per folder of tools/ (`tools/<tool>/mod.rs`, its
/// CLI, configuration and rows), registered by build.rs from the folders.
/// The per-tool binaries (tools/<tool>/main.rs, [`launcher!`]) and the
/// multi-call `corescope` run them through [`tools::TOOLS`].
pub mod tools {
    /// A tool's entry point, given the tool's name (its folder's).
    pub type Main = fn(&'static str) -> std::process::ExitCode;

    include!(concat!(env!("OUT_DIR"), "/tools.rs"));

    /// The entry point of the tool called `name`, found at compile time
    /// by a launcher ([`launcher!`](crate::launcher)): a `[[bin]]` without
    /// its folder does not build, and a per-tool binary holds only its tool.
    pub const fn find(name: &str) -> Option<Main> {
        let mut i = 0;
        while i < TOOLS.len() {
            if same(TOOLS[i].0.as_bytes(), name.as_bytes()) {
                return Some(TOOLS[i].1);
            }
            i += 1;
        }
        None
    }

    /// `a == b`, in a `const fn`.
    const fn same(a: &[u8], b: &[u8]) -> bool {
        if a.len() != b.len() {
            return false;
        }
        let mut i = 0;
        while i < a.len() {
            if a[i] != b[i] {
                return false;
            }
            i += 1;
        }
        true
    }
}

/// The generated skeletons, one module per `tools/<tool>/<tool>.bpf.c`.
pub mod skel {
    include!(concat!(env!("OUT_DIR"), "/skels.rs"));
}

/// The `main` of a per-tool binary (`tools/<tool>/main.rs`): runs the tool
/// named like the binary (cargo's `[[bin]]` name), so the file is the same
/// for every tool. The tool is looked up at compile time ([`tools::find`]).
#[macro_export]
macro_rules! launcher {
    () => {
        const MAIN: $crate::tools::Main = match $crate::tools::find(env!("CARGO_BIN_NAME")) {
            Some(main) => main,
            None => panic!(concat!(
                "no tool folder tools/",
                env!("CARGO_BIN_NAME"),
                "/ (with mod.rs) for this [[bin]] of Cargo.toml"
            )),
        };

        fn main() -> std::process::ExitCode {
            MAIN(env!("CARGO_BIN_NAME"))
        }
    };
}

/// What tool files usually need.
pub mod prelude {
    pub use crate::cli::CommonArgs;
    pub use crate::escape::{escape_into, KStr};
    pub use crate::output::{Col, Output, Row, Table};
    pub use crate::run::{Events, Interval, Rodata};
    pub use crate::Session;
    pub use anyhow::Result;
    pub use clap::Parser;
    pub use serde::Serialize;
    pub use std::process::ExitCode;
}

/// `plain::Plain` for a skeleton's map key and value structs
/// `types::<tool>_key` / `types::<tool>_value` (build.rs invokes it for
/// those the skeleton has), so user space reads the map in place
/// (`top::Drain`, `hist::HistMap`).
#[doc(hidden)]
#[macro_export]
macro_rules! impl_plain {
    ($t:ident) => {
        // SAFETY: key and value structs are made of fixed-width integers
        // and u8 arrays only (rule of tools/*/*.h), with padding made
        // explicit by libbpf-cargo, so every bit pattern is valid.
        unsafe impl plain::Plain for types::$t {}
    };
}

/// Implements the shared-layer traits for one generated skeleton; build.rs
/// invokes it once per tool with its three generated types (builder, open
/// and loaded skeleton) and what the skeleton has (the BPF headers are
/// opt-in, src/bpf/common/): `cfg` when it has the common filter (`cs_cfg`
/// in `.rodata`, task.bpf.h), `no_cfg` otherwise; `event T` when it has the
/// event type `struct <tool>_event` (by convention).
#[doc(hidden)]
#[macro_export]
macro_rules! impl_tool_skel {
    ($b:ident, $open:ident, $skel:ident, $cfg:ident; event $event:ident;) => {
        // SAFETY: event structs are made of fixed-width integers and u8
        // arrays only (rule of tools/*/*.h), so every bit pattern is valid.
        unsafe impl plain::Plain for types::$event {}
        $crate::impl_tool_skel!($b, $open, $skel, $cfg;);
    };
    ($b:ident, $open:ident, $skel:ident, $cfg:ident;) => {
        impl $crate::run::ToolSkel for $b {
            type Open<'o> = $open<'o>;
            type Loaded<'o> = $skel<'o>;
        }
        impl<'o> $crate::run::Rodata for $open<'o> {
            type Data = types::rodata;
            fn rodata(&mut self) -> anyhow::Result<&mut types::rodata> {
                self.maps
                    .rodata_data
                    .as_deref_mut()
                    .ok_or_else(|| anyhow::anyhow!("BPF object has no .rodata section"))
            }
        }
        $crate::impl_tool_skel!(@filter $open, $cfg);
    };
    (@filter $open:ident, cfg) => {
        impl<'o> $crate::load::ToolOpen for $open<'o> {
            fn set_common(&mut self, f: &$crate::filter::Filter) -> anyhow::Result<()> {
                let ro = $crate::run::Rodata::rodata(self)?;
                let c = &mut ro.cs_cfg;
                c.self_tgid = std::process::id();
                c.tid = f.tid.unwrap_or(0);
                c.uid = f.uid.unwrap_or(0);
                c.uid_on = f.uid.is_some() as u8;
                c.pids_on = f.pids_on() as u8;
                c.cgroup_on = f.cgroup.is_some() as u8;
                c.comm_on = f.comm.is_some() as u8;
                c.comm = f.comm.unwrap_or_default();
                // For cs_trace_task_of(): a cgroup v2 directory's inode
                // number is its cgroup id.
                c.cgroup_id = match &f.cgroup {
                    Some(fd) => nix::sys::stat::fstat(fd)?.st_ino,
                    None => 0,
                };
                Ok(())
            }
        }
    };
    // No task filter on the BPF side: only a session without filters
    // (`cli::Shared::RunOnly`, `Session::without_filters`) may open it.
    (@filter $open:ident, no_cfg) => {
        impl<'o> $crate::load::ToolOpen for $open<'o> {
            fn set_common(&mut self, f: &$crate::filter::Filter) -> anyhow::Result<()> {
                let none = !f.pids_on()
                    && f.tid.is_none()
                    && f.uid.is_none()
                    && f.cgroup.is_none()
                    && f.comm.is_none();
                anyhow::ensure!(none, "this tool's BPF object has no task filter");
                Ok(())
            }
        }
    };
}
