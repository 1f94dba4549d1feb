//! corescope's shared layer: everything a tool needs except its CLI and its
//! event → row mapping. A tool calls, in order:
//! [`cli::parse`] → [`Session::new`] → [`Session::open`] (then writes its own
//! `.rodata` knobs) → [`Session::load`] → [`Session::stream`] (events) or
//! [`Session::every`] (periodic: counters, histograms), all inside [`main`],
//! which turns errors into one line plus a hint and sets the exit code.

pub mod check;
pub mod cli;
pub mod clock;
pub mod cmd;
pub mod counters;
pub mod error;
pub mod escape;
pub mod filter;
#[cfg(any(debug_assertions, feature = "gen"))]
pub mod gen;
pub mod hist;
pub mod libbpf_log;
pub mod load;
pub mod lru;
pub mod net;
pub mod openflags;
pub mod output;
pub mod ports;
pub mod rules;
pub mod session;
pub mod stream;
pub mod sym;
pub mod xdp;

pub use error::{main, UserError};
pub use session::{Session, Tick};

/// The generated skeletons, one module per `src/bpf/<tool>.bpf.c`.
pub mod skel {
    include!(concat!(env!("OUT_DIR"), "/skels.rs"));
}

/// What tool files usually need.
pub mod prelude {
    pub use crate::cli::{parse, CommonArgs};
    pub use crate::escape::{escape_into, KStr};
    pub use crate::output::{Col, Row};
    pub use crate::Session;
    pub use anyhow::Result;
    pub use clap::Parser;
    pub use serde::Serialize;
    pub use std::mem::MaybeUninit;
    pub use std::process::ExitCode;
}

/// Implements the shared-layer traits for one generated skeleton; build.rs
/// invokes it once per tool. The event type is `struct <tool>_event` by
/// convention (see src/bpf/common/common.bpf.h).
#[doc(hidden)]
#[macro_export]
macro_rules! impl_tool_skel {
    ($name:ident, $open:ident, $event:ident) => {
        // SAFETY: event structs are made of fixed-width integers and u8
        // arrays only (rule of src/bpf/*.h), so every bit pattern is valid.
        unsafe impl plain::Plain for types::$event {}

        impl<'o> $crate::load::ToolOpen for $open<'o> {
            fn set_common(&mut self, f: &$crate::filter::Filter) -> anyhow::Result<()> {
                let ro = self
                    .maps
                    .rodata_data
                    .as_deref_mut()
                    .ok_or_else(|| anyhow::anyhow!("BPF object has no .rodata section"))?;
                let c = &mut ro.cs_cfg;
                c.self_tgid = std::process::id();
                c.tid = f.tid.unwrap_or(0);
                c.uid = f.uid.unwrap_or(0);
                c.uid_on = f.uid.is_some() as u8;
                c.pids_on = f.pids_on() as u8;
                c.cgroup_on = f.cgroup.is_some() as u8;
                c.comm_on = f.comm.is_some() as u8;
                c.comm = f.comm.unwrap_or_default();
                Ok(())
            }
        }
    };
}
