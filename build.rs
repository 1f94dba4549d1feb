//! Finds the tools (the folders of tools/), compiles each one's
//! `tools/<tool>/<tool>.bpf.c` into a libbpf-rs skeleton in OUT_DIR and
//! writes `OUT_DIR/skels.rs` (one module per tool) and `OUT_DIR/tools.rs`
//! (the tool modules and their table). A new tool's folder is picked up
//! without editing this file; no source is copied or rewritten.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::PathBuf;

use libbpf_cargo::SkeletonBuilder;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::Layer as _;

/// Kernel-style architecture name of the vmlinux/ folder for a Rust target arch.
fn kernel_arch(rust_arch: &str) -> Option<&'static str> {
    Some(match rust_arch {
        "x86_64" => "x86",
        "aarch64" => "arm64",
        "powerpc64" => "powerpc",
        "s390x" => "s390",
        "riscv64" => "riscv",
        "loongarch64" => "loongarch",
        _ => return None,
    })
}

/// Same rule as libbpf-cargo: `tcp_life` -> `TcpLife`.
fn camel(name: &str) -> String {
    name.split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

fn main() {
    // clang's diagnostics reach cargo as `cargo:warning=` lines instead of
    // being dropped (libbpf-cargo logs them through `tracing`).
    // Only the compiler's own output; libbpf-cargo's other notes are noise.
    let only_compiler =
        tracing_subscriber::filter::filter_fn(|m| m.target().starts_with("compiler-"));
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .event_format(libbpf_cargo::util::CargoWarningFormatter)
                .with_filter(only_compiler),
        )
        .init();

    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR"));
    let rust_arch = env::var("CARGO_CFG_TARGET_ARCH").expect("CARGO_CFG_TARGET_ARCH");
    let arch = kernel_arch(&rust_arch)
        .unwrap_or_else(|| panic!("corescope: no kernel arch name for target arch {rust_arch}"));
    let vmlinux = manifest.join("vmlinux").join(arch);
    if !vmlinux.join("vmlinux.h").exists() {
        panic!(
            "corescope: {} is missing; generate it on a {arch} machine with `make vmlinux`",
            vmlinux.join("vmlinux.h").display()
        );
    }
    // Shared BPF headers (common/, probe/); each tool's own are in its folder.
    let bpf_dir = manifest.join("src/bpf");
    let src_dir = manifest.join("src");
    let tools_dir = manifest.join("tools");
    let tools = tool_names(&tools_dir);

    let clang = env::var_os("BPF_CLANG").unwrap_or_else(|| "clang".into());
    let compile = |src: &std::path::Path, name: &str| {
        SkeletonBuilder::new()
            .source(src)
            .obj(out.join(format!("{name}.bpf.o")))
            .clang(&clang)
            .clang_args([
                "-Wall".as_ref(),
                "-Wextra".as_ref(),
                "-Wno-unused-parameter".as_ref(),
                "-I".as_ref(),
                vmlinux.as_os_str(),
                "-I".as_ref(),
                bpf_dir.as_os_str(),
                // Shared pieces' BPF halves beside their Rust halves
                // (src/lru.bpf.h).
                "-I".as_ref(),
                src_dir.as_os_str(),
            ])
            .reference_obj(true)
            .build_and_generate(out.join(format!("{name}.skel.rs")))
            .unwrap_or_else(|e| panic!("corescope: compiling {}: {e:#}", src.display()));
    };
    let mut mods = String::new();
    for name in &tools {
        compile(&tools_dir.join(name).join(format!("{name}.bpf.c")), name);
        let camel = camel(name);
        // The BPF headers are opt-in (src/bpf/common/): only what the
        // skeleton has gets its impls: the event type of an event tool, the
        // common filter of a task-tracing tool.
        let skel = fs::read_to_string(out.join(format!("{name}.skel.rs")))
            .unwrap_or_else(|e| panic!("corescope: reading {name}.skel.rs: {e}"));
        let event = if skel.contains(&format!("pub struct {name}_event ")) {
            format!(" event {name}_event;")
        } else {
            String::new()
        };
        let cfg = if skel.contains("pub cs_cfg: ") {
            "cfg"
        } else {
            "no_cfg"
        };
        // A histogram tool's value type (src/hist.bpf.h).
        let mut hist = if skel.contains("pub struct cs_hist ") {
            "\n    crate::impl_hist_value!();".to_string()
        } else {
            String::new()
        };
        // A keyed map's key and value structs (`struct <tool>_key`, `struct
        // <tool>_value`: top and named-histogram tools), read as bytes.
        let mut key = String::new();
        for t in [format!("{name}_key"), format!("{name}_value")] {
            if skel.contains(&format!("pub struct {t} ")) {
                write!(key, "\n    crate::impl_plain!({t});").expect("write to String");
            }
        }
        // A stack tool's key and knobs (src/stacks.bpf.h).
        if skel.contains("pub struct cs_stack_key ") {
            hist.push_str(&format!("\n    crate::impl_stack_key!(Open{camel}Skel);"));
        }
        writeln!(
            mods,
            "/// Generated from tools/{name}/{name}.bpf.c.\npub mod {name} {{\n    #![allow(clippy::all, clippy::undocumented_unsafe_blocks, missing_docs)]\n    include!(concat!(env!(\"OUT_DIR\"), \"/{name}.skel.rs\"));\n    \
             crate::impl_tool_skel!({camel}SkelBuilder, Open{camel}Skel, {camel}Skel, {cfg};{event});{hist}{key}\n}}"
        )
        .expect("write to String");
    }
    // The shared layer's own BPF probe (not a tool): checks a --btf file
    // against the running kernel (src/load.rs).
    compile(&bpf_dir.join("probe/btf_probe.bpf.c"), "btf_probe");
    mods.push_str("/// Generated from src/bpf/probe/btf_probe.bpf.c (not a tool).\npub mod btf_probe {\n    #![allow(clippy::all, clippy::undocumented_unsafe_blocks, missing_docs)]\n    include!(concat!(env!(\"OUT_DIR\"), \"/btf_probe.skel.rs\"));\n}\n");
    // The slot helpers of src/hist.bpf.h run through BPF_PROG_TEST_RUN by
    // the unit tests of src/hist/ (not a tool; tests only).
    compile(&src_dir.join("hist/hist_test.bpf.c"), "hist_test");
    mods.push_str("/// Generated from src/hist/hist_test.bpf.c (tests of src/hist.bpf.h).\n#[cfg(test)]\npub mod hist_test {\n    #![allow(clippy::all, clippy::undocumented_unsafe_blocks, missing_docs, dead_code)]\n    include!(concat!(env!(\"OUT_DIR\"), \"/hist_test.skel.rs\"));\n    crate::impl_hist_value!();\n}\n");
    // Every tool's BPF object, for `corescope check` (what each tool needs is
    // read from its program sections and map types, not kept by hand).
    mods.push_str("/// Every tool's BPF object (ELF), by tool name.\npub const OBJECTS: &[(&str, &[u8])] = &[\n");
    for name in &tools {
        writeln!(
            mods,
            "    (\"{name}\", include_bytes!(concat!(env!(\"OUT_DIR\"), \"/{name}.bpf.o\"))),"
        )
        .expect("write to String");
    }
    mods.push_str("];\n");
    fs::write(out.join("skels.rs"), mods).expect("write skels.rs");

    registry(&tools_dir, &tools, &out);

    println!("cargo:rerun-if-changed={}", bpf_dir.display());
    println!(
        "cargo:rerun-if-changed={}",
        src_dir.join("hist/hist_test.bpf.c").display()
    );
    for h in fs::read_dir(&src_dir).expect("read src/").flatten() {
        if h.file_name().to_string_lossy().ends_with(".bpf.h") {
            println!("cargo:rerun-if-changed={}", h.path().display());
        }
    }
    // New folders, and every tool's BPF sources and headers.
    println!("cargo:rerun-if-changed={}", tools_dir.display());
    println!(
        "cargo:rerun-if-changed={}",
        manifest.join("vmlinux").display()
    );
    println!("cargo:rerun-if-env-changed=BPF_CLANG");
    version(&manifest);
}

/// Every tool: the folders of tools/ that hold a `mod.rs` (the folder's name
/// is the tool's name: written nowhere else but its `[[bin]]`).
fn tool_names(dir: &std::path::Path) -> Vec<String> {
    let mut tools: Vec<String> = fs::read_dir(dir)
        .expect("read tools/")
        .filter_map(|e| {
            let e = e.ok()?;
            e.path().join("mod.rs").is_file().then_some(())?;
            e.file_name().to_str().map(String::from)
        })
        .collect();
    tools.sort();
    for t in &tools {
        let ok = t.chars().next().is_some_and(|c| c.is_ascii_lowercase())
            && t.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        assert!(
            ok,
            "corescope: tools/{t}/: a tool's folder name must be a lowercase Rust identifier"
        );
        let bpf = dir.join(t).join(format!("{t}.bpf.c"));
        assert!(bpf.is_file(), "corescope: tools/{t}/ has no {t}.bpf.c");
    }
    tools
}

/// Writes `OUT_DIR/tools.rs`, included by the library (src/lib.rs, module
/// `tools`): one module per tools/<tool>/mod.rs, each declared where it is
/// (no copy: compiled once, errors point at the real file), and the `TOOLS`
/// table of their `main`s that the binaries use (tools/<tool>/main.rs, the
/// multi-call src/bin/corescope.rs). Also
/// `OUT_DIR/root_tests.rs`, the root tests (tools/<tool>/root_tests.rs) as
/// modules `root_<tool>` of the integration tests (tests/tests.rs).
fn registry(dir: &std::path::Path, tools: &[String], out: &std::path::Path) {
    let mut mods = String::new();
    let mut table = String::from(
        "/// Every tool of this build (its folder's name) and its entry point.\npub const TOOLS: &[(&str, Main)] = &[\n",
    );
    let mut roots = String::new();
    for t in tools {
        let src = dir.join(t).join("mod.rs");
        writeln!(
            mods,
            "#[path = {:?}]\npub mod {t};",
            src.display().to_string()
        )
        .expect("write to String");
        writeln!(table, "    ({t:?}, {t}::main),").expect("write to String");
        let root = dir.join(t).join("root_tests.rs");
        if root.is_file() {
            writeln!(
                roots,
                "#[path = {:?}]\nmod root_{t};",
                root.display().to_string()
            )
            .expect("write to String");
        }
    }
    table.push_str("];\n");
    fs::write(out.join("tools.rs"), mods + &table).expect("write tools.rs");
    fs::write(out.join("root_tests.rs"), roots).expect("write root_tests.rs");
}

/// Sets `CORESCOPE_VERSION` for `--version`: the crate version, plus
/// `git describe` when built from a git checkout (rebuilt when HEAD moves).
fn version(manifest: &std::path::Path) {
    use std::process::Command;
    let pkg = env::var("CARGO_PKG_VERSION").expect("CARGO_PKG_VERSION");
    let git = |args: &[&str]| {
        Command::new("git")
            .arg("-C")
            .arg(manifest)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    };
    // Only the checkout's own .git: an unpacked `make dist` tarball (no
    // .git) inside another repository (a packaging one) is no checkout.
    let describe = manifest
        .join(".git")
        .exists()
        .then(|| git(&["describe", "--tags", "--always"]))
        .flatten();
    let v = match &describe {
        Some(d) => format!("{pkg} (git {d})"),
        None => pkg,
    };
    println!("cargo:rustc-env=CORESCOPE_VERSION={v}");
    if describe.is_some() {
        // HEAD, and the branch it points to (a loose ref or packed-refs).
        let mut watch = vec!["HEAD".to_string(), "packed-refs".to_string()];
        watch.extend(git(&["symbolic-ref", "-q", "HEAD"]));
        for w in watch {
            // A missing path would make cargo rerun this script every build.
            if let Some(p) = git(&["rev-parse", "--path-format=absolute", "--git-path", &w])
                .filter(|p| std::path::Path::new(p).exists())
            {
                println!("cargo:rerun-if-changed={p}");
            }
        }
    }
}
