//! One integration-test binary (ripgrep style): CLI checks that need no
//! privileges, and root tests that load real BPF programs.

mod block_workload;
mod cli;
mod json_schema;
mod packaging;
mod prometheus;
mod root_filters;
mod root_json;
mod root_lifecycle;
mod root_load;
mod sched_workload;
mod stack_workload;
mod util;

// Each tool's root tests (tools/<tool>/root_tests.rs), as `root_<tool>`.
include!(concat!(env!("OUT_DIR"), "/root_tests.rs"));
