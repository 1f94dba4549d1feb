//! One integration-test binary (ripgrep style): CLI checks that need no
//! privileges, and root tests that load real BPF programs.

mod cli;
mod packaging;
mod root_execsnoop;
mod root_filters;
mod root_lifecycle;
mod root_load;
mod root_opensnoop;
mod root_tcplife;
mod root_xdpdrop;
mod util;
