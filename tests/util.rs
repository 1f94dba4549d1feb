//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

/// Path of a tool binary built by cargo for this test run.
pub fn tool(name: &str) -> PathBuf {
    let mut p = PathBuf::from(env!("CARGO_BIN_EXE_execsnoop"));
    p.set_file_name(name);
    p
}

/// Every tool, from tools/*.rs.
pub fn tools() -> Vec<String> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tools");
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .expect("tools/")
        .filter_map(|e| {
            e.ok()?
                .file_name()
                .to_str()?
                .strip_suffix(".rs")
                .map(String::from)
        })
        .collect();
    v.sort();
    v
}
