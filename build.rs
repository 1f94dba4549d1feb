//! Compiles every `src/bpf/*.bpf.c` into a libbpf-rs skeleton in OUT_DIR and
//! writes `OUT_DIR/skels.rs`, one module per tool. A new tool's `.bpf.c` is
//! picked up without editing this file.

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
    let bpf_dir = manifest.join("src/bpf");

    let mut sources: Vec<PathBuf> = fs::read_dir(&bpf_dir)
        .expect("read src/bpf")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(".bpf.c"))
        .collect();
    sources.sort();

    let clang = env::var_os("BPF_CLANG").unwrap_or_else(|| "clang".into());
    let mut mods = String::new();
    for src in &sources {
        let file = src
            .file_name()
            .and_then(|f| f.to_str())
            .expect("utf-8 file name");
        let name = file.trim_end_matches(".bpf.c");
        let skel = out.join(format!("{name}.skel.rs"));
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
            ])
            .reference_obj(true)
            .build_and_generate(&skel)
            .unwrap_or_else(|e| panic!("corescope: compiling {}: {e:#}", src.display()));
        let camel = camel(name);
        writeln!(
            mods,
            "/// Generated from src/bpf/{name}.bpf.c.\npub mod {name} {{\n    #![allow(clippy::all, clippy::undocumented_unsafe_blocks, missing_docs)]\n    include!(concat!(env!(\"OUT_DIR\"), \"/{name}.skel.rs\"));\n    \
             crate::impl_tool_skel!({name}, Open{camel}Skel, {name}_event);\n}}"
        )
        .expect("write to String");
    }
    // The shared layer's own BPF probe (not a tool): checks a --btf file
    // against the running kernel (src/load.rs).
    let probe = bpf_dir.join("probe/btf_probe.bpf.c");
    SkeletonBuilder::new()
        .source(&probe)
        .obj(out.join("btf_probe.bpf.o"))
        .clang(&clang)
        .clang_args([
            "-Wall".as_ref(),
            "-Wextra".as_ref(),
            "-Wno-unused-parameter".as_ref(),
            "-I".as_ref(),
            vmlinux.as_os_str(),
            "-I".as_ref(),
            bpf_dir.as_os_str(),
        ])
        .reference_obj(true)
        .build_and_generate(out.join("btf_probe.skel.rs"))
        .unwrap_or_else(|e| panic!("corescope: compiling {}: {e:#}", probe.display()));
    mods.push_str("/// Generated from src/bpf/probe/btf_probe.bpf.c (not a tool).\npub mod btf_probe {\n    #![allow(clippy::all, clippy::undocumented_unsafe_blocks, missing_docs)]\n    include!(concat!(env!(\"OUT_DIR\"), \"/btf_probe.skel.rs\"));\n}\n");
    // Every tool's BPF object, for `corescope check` (what each tool needs is
    // read from its program sections and map types, not kept by hand).
    mods.push_str("/// Every tool's BPF object (ELF), by tool name.\npub const OBJECTS: &[(&str, &[u8])] = &[\n");
    for src in &sources {
        let name = src
            .file_name()
            .and_then(|f| f.to_str())
            .expect("utf-8 file name")
            .trim_end_matches(".bpf.c");
        writeln!(
            mods,
            "    (\"{name}\", include_bytes!(concat!(env!(\"OUT_DIR\"), \"/{name}.bpf.o\"))),"
        )
        .expect("write to String");
    }
    mods.push_str("];\n");
    fs::write(out.join("skels.rs"), mods).expect("write skels.rs");

    multicall(&manifest, &out);

    println!("cargo:rerun-if-changed={}", bpf_dir.display());
    println!(
        "cargo:rerun-if-changed={}",
        manifest.join("vmlinux").display()
    );
    println!("cargo:rerun-if-env-changed=BPF_CLANG");
    version(&manifest);
}

/// Writes `OUT_DIR/multicall.rs` for the multi-call `corescope` binary
/// (src/bin/corescope.rs): one module per tools/<tool>.rs and the `TOOLS`
/// table of their `main`s. A tool's `fn main` is private to its module, so
/// each source is copied with `fn main()` made `pub(crate)`; nothing else
/// changes but relative `#[path]`s, made absolute.
fn multicall(manifest: &std::path::Path, out: &std::path::Path) {
    let dir = manifest.join("tools");
    let mut tools: Vec<String> = fs::read_dir(&dir)
        .expect("read tools/")
        .filter_map(|e| {
            e.ok()?
                .file_name()
                .to_str()?
                .strip_suffix(".rs")
                .map(String::from)
        })
        .collect();
    tools.sort();
    let mc = out.join("multicall");
    fs::create_dir_all(&mc).expect("create OUT_DIR/multicall");
    let mut mods = String::new();
    let mut table = String::from(
        "/// A tool's entry point.\npub type Main = fn() -> std::process::ExitCode;\n\n/// Every tool of this build and its entry point.\npub const TOOLS: &[(&str, Main)] = &[\n",
    );
    for t in &tools {
        let src = fs::read_to_string(dir.join(format!("{t}.rs"))).expect("read a tool");
        let n = src.matches("\nfn main() -> ExitCode {").count();
        assert!(
            n == 1,
            "corescope: tools/{t}.rs must have one `fn main() -> ExitCode {{` at the start of a line (found {n})"
        );
        let src = src
            .replace(
                "\nfn main() -> ExitCode {",
                "\npub(crate) fn main() -> ExitCode {",
            )
            // `#[path]`s stay relative to tools/ (in test builds of it).
            .replace("#[path = \"", &format!("#[path = \"{}/", dir.display()));
        let copy = mc.join(format!("{t}.rs"));
        fs::write(&copy, src).expect("write a tool copy");
        writeln!(mods, "#[path = {:?}]\nmod {t};", copy.display().to_string())
            .expect("write to String");
        writeln!(table, "    ({t:?}, {t}::main),").expect("write to String");
    }
    table.push_str("];\n");
    fs::write(out.join("multicall.rs"), mods + &table).expect("write multicall.rs");
    println!("cargo:rerun-if-changed={}", dir.display());
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
    let describe = git(&["describe", "--tags", "--always"]);
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
