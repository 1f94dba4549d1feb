use super::*;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

fn root_or_skip(test: &str) -> bool {
    crate::testing::root_or_skip(test, "kallsyms addresses, map_files, BPF")
}

#[inline(never)]
fn corescope_stacks_probe() -> u64 {
    corescope_stacks_probe as *const () as usize as u64
}

fn frame(name: &str, offset: u64, module: &str) -> Frame {
    Frame {
        addr: 0x1000 + offset,
        symbol: Some(name.into()),
        offset,
        module: Some(module.into()),
    }
}

fn sample() -> Stack {
    Stack {
        pid: 4242,
        tid: None,
        comm: b"burner".to_vec(),
        // Innermost first, as the stack map holds them.
        user: Part::Frames(vec![
            frame("burn", 0x1a, "/usr/bin/burner"),
            frame("outer", 0x22, "/usr/bin/burner"),
            frame("main", 0x9, "/usr/bin/burner"),
        ]),
        kernel: Part::Frames(vec![
            frame("vfs_write", 0x4, "kernel"),
            frame("do_syscall_64", 0x5b, "kernel"),
        ]),
        count: 17,
    }
}

#[test]
fn own_function_is_symbolized() {
    let mut s = StackSymbolizer::new();
    let addr = corescope_stacks_probe();
    let mut out = Vec::new();
    assert_eq!(
        s.user(std::process::id(), &[addr, addr + 1], &mut out),
        Ok(())
    );
    assert_eq!(out.len(), 2);
    for f in &out {
        let name = f.symbol.as_deref().unwrap_or("");
        assert!(name.contains("corescope_stacks_probe"), "{f:?}");
    }
    assert_eq!((out[0].offset, out[1].offset), (0, 1));
    // Demangled: a Rust path, not `_ZN…E`.
    let name = out[0].symbol.as_deref().unwrap_or("");
    assert!(name.contains("::") && !name.starts_with("_ZN"), "{name}");
    assert!(out[0].module.is_some(), "{:?}", out[0]);
    // Cached: symbolized again from the cache, same answer.
    let mut again = Vec::new();
    assert_eq!(s.user(std::process::id(), &[addr], &mut again), Ok(()));
    assert_eq!(again[0], out[0]);
}

#[test]
fn vdso_address_is_symbolized() {
    let vdso = own_vdso().expect("this process has a [vdso] mapping");
    let addrs: Vec<u64> = (vdso.start..vdso.end).step_by(8).collect();
    let mut out = Vec::new();
    let mut s = StackSymbolizer::new();
    assert_eq!(s.user(std::process::id(), &addrs, &mut out), Ok(()));
    let hit = out.iter().find(|f| {
        f.symbol
            .as_deref()
            .is_some_and(|n| n.contains("clock_gettime"))
    });
    let hit = hit.unwrap_or_else(|| panic!("no clock_gettime in the vDSO: {out:?}"));
    let module = hit.module.as_ref().map(|m| m.0.clone()).unwrap_or_default();
    assert_eq!(module, b"[vdso]", "{hit:?}");
}

/// An anonymous executable page (a JIT's code) and the perf map naming it;
/// both removed on drop.
struct FakeJit {
    addr: *mut libc::c_void,
    map: std::path::PathBuf,
}

impl Drop for FakeJit {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.map);
        // SAFETY: unmaps exactly the page mmap returned; nothing points into it.
        unsafe { libc::munmap(self.addr, 4096) };
    }
}

#[test]
fn perf_map_names_jit_code() {
    // SAFETY: a fresh private anonymous mapping; no existing memory changes.
    let addr = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            4096,
            libc::PROT_READ | libc::PROT_EXEC,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    assert_ne!(addr, libc::MAP_FAILED);
    let jit = FakeJit {
        addr,
        map: format!("/tmp/perf-{}.map", std::process::id()).into(),
    };
    let start = addr as u64;
    std::fs::write(&jit.map, format!("{start:x} 100 cs_fake_jit_fn\n")).unwrap();
    let mut out = Vec::new();
    let mut s = StackSymbolizer::new();
    assert_eq!(
        s.user(std::process::id(), &[start + 0x10], &mut out),
        Ok(())
    );
    assert_eq!(out[0].symbol.as_deref(), Some("cs_fake_jit_fn"), "{out:?}");
    assert_eq!(out[0].offset, 0x10);
    drop(jit);
}

/// The address of a kallsyms text symbol (real only as root).
fn kallsyms_addr(name: &str) -> Option<u64> {
    let ks = std::fs::read_to_string("/proc/kallsyms").ok()?;
    ks.lines().find_map(|l| {
        let mut it = l.split_whitespace();
        let (a, t, n) = (it.next()?, it.next()?, it.next()?);
        (n == name && (t == "T" || t == "t") && it.next().is_none())
            .then(|| u64::from_str_radix(a, 16).ok())
            .flatten()
    })
}

#[test]
fn root_kernel_address_is_symbolized() {
    if !root_or_skip("root_kernel_address_is_symbolized") {
        return;
    }
    let addr = kallsyms_addr("vfs_read").expect("vfs_read in /proc/kallsyms");
    assert_ne!(addr, 0, "kallsyms hides addresses");
    let mut s = StackSymbolizer::new();
    let mut out = Vec::new();
    s.kernel(&[addr + 4, addr], &mut out);
    assert_eq!(out[0].symbol.as_deref(), Some("vfs_read"), "{out:?}");
    assert_eq!((out[0].offset, out[1].offset), (4, 0));
    let st = Stack {
        pid: 1,
        tid: None,
        comm: b"x".to_vec(),
        user: Part::Off,
        kernel: Part::Frames(out),
        count: 1,
    };
    let mut b = Vec::new();
    write_bcc(&mut b, &st, Style::default()).unwrap();
    assert!(
        String::from_utf8_lossy(&b).starts_with("    vfs_read+0x4 [kernel]\n"),
        "{}",
        String::from_utf8_lossy(&b)
    );
}

#[test]
fn bcc_multi_line_golden() {
    let mut b = Vec::new();
    write_bcc(&mut b, &sample(), Style::default()).unwrap();
    let want = "    vfs_write+0x4 [kernel]\n    do_syscall_64+0x5b [kernel]\n    burn+0x1a [burner]\n    outer+0x22 [burner]\n    main+0x9 [burner]\n    -                burner (4242)\n        17\n\n";
    assert_eq!(String::from_utf8_lossy(&b), want);
    b.clear();
    let style = Style {
        delimiter: true,
        annotate: true,
    };
    write_bcc(&mut b, &sample(), style).unwrap();
    assert!(String::from_utf8_lossy(&b)
        .contains("do_syscall_64+0x5b [kernel]\n    --\n    burn+0x1a [burner]\n"));

    let missed = Stack {
        user: Part::Missing(Missing::Collision),
        kernel: Part::Frames(vec![Frame::unknown(0xffff_ffff_8100_0000)]),
        comm: b"a\x1bb".to_vec(),
        ..sample()
    };
    b.clear();
    write_bcc(&mut b, &missed, style).unwrap();
    let want =
        "    [unknown]\n    [Missed User Stack]\n    -                a\\eb (4242)\n        17\n\n";
    assert_eq!(String::from_utf8_lossy(&b), want);
}

#[test]
fn folded_golden_delimiter_and_annotations() {
    let mut s = String::new();
    folded_line(&mut s, &sample(), Style::default());
    assert_eq!(s, "burner;main;outer;burn;do_syscall_64;vfs_write 17");
    let style = Style {
        delimiter: true,
        annotate: false,
    };
    folded_line(&mut s, &sample(), style);
    assert_eq!(s, "burner;main;outer;burn;-;do_syscall_64;vfs_write 17");
    let style = Style {
        delimiter: true,
        annotate: true,
    };
    folded_line(&mut s, &sample(), style);
    assert_eq!(
        s,
        "burner;main;outer;burn;-;do_syscall_64_[k];vfs_write_[k] 17"
    );
    // Missing halves: placeholders, no delimiter; `;` in a comm escaped.
    let st = Stack {
        comm: b"a;b".to_vec(),
        user: Part::Missing(Missing::Missed),
        kernel: Part::Missing(Missing::Collision),
        ..sample()
    };
    folded_line(&mut s, &st, style);
    assert_eq!(s, "a\\x3bb;[Missed User Stack];[Missed Kernel Stack] 17");
    let st = Stack {
        user: Part::Missing(Missing::PidExited),
        kernel: Part::Off,
        ..sample()
    };
    folded_line(&mut s, &st, style);
    assert_eq!(s, "burner;[unknown] (pid exited) 17");
}

#[test]
fn svg_flame_graph_is_written() {
    let mut lines = Vec::new();
    let mut s = String::new();
    folded_line(&mut s, &sample(), Style::default());
    lines.push(s.clone());
    let other = Stack {
        user: Part::Frames(vec![frame("idle_loop", 0, "/usr/bin/burner")]),
        kernel: Part::Off,
        count: 3,
        ..sample()
    };
    folded_line(&mut s, &other, Style::default());
    lines.push(s.clone());
    let mut svg = Vec::new();
    write_svg(&mut svg, "CPU", "samples", lines.iter().map(String::as_str)).unwrap();
    let svg = String::from_utf8(svg).unwrap();
    assert!(svg.starts_with("<?xml"), "{}", &svg[..svg.len().min(200)]);
    assert!(svg.contains("<svg"));
    assert!(svg.trim_end().ends_with("</svg>"));
    for name in ["burner", "main", "outer", "burn", "vfs_write", "idle_loop"] {
        assert!(
            svg.contains(&format!(">{name}<")) || svg.contains(&format!("{name} (")),
            "{name} not in the SVG"
        );
    }
    assert!(svg.contains("20 samples"), "total count missing");
}

#[test]
fn json_frames() {
    let st = Stack {
        user: Part::Frames(vec![
            Frame {
                module: Some(KString(b"/lib/a\xff.so".to_vec())),
                ..frame("burn", 0x1a, "")
            },
            Frame::unknown(0x77),
        ]),
        kernel: Part::Missing(Missing::Collision),
        ..sample()
    };
    let j = serde_json::to_value(JsonStack::new(&st)).unwrap();
    assert_eq!(j["pid"], 4242);
    assert_eq!(j["comm"], "burner");
    assert_eq!(j["count"], 17);
    assert_eq!(j["user_stack"][0]["symbol"], "burn");
    assert_eq!(j["user_stack"][0]["offset"], 0x1a);
    assert_eq!(
        j["user_stack"][0]["module"],
        serde_json::json!({"bytes": "L2xpYi9h/y5zbw=="})
    );
    assert_eq!(j["user_stack"][1]["symbol"], serde_json::Value::Null);
    assert_eq!(j["user_missing"], serde_json::Value::Null);
    assert_eq!(j["kernel_stack"], serde_json::json!([]));
    assert_eq!(j["kernel_missing"], "collision");
}

#[test]
fn stats_warning_names_the_fix_after_collisions() {
    assert_eq!(StackStats::default().warning(), None);
    let w = StackStats {
        missed_user: 2,
        missed_kernel: 1,
        collisions: 0,
        pid_exited: 0,
        ..StackStats::default()
    }
    .warning()
    .unwrap();
    assert_eq!(w, ("3 stack traces could not be displayed".into(), None));
    let (msg, hint) = StackStats {
        missed_user: 1,
        missed_kernel: 1,
        collisions: 1,
        pid_exited: 2,
        ..StackStats::default()
    }
    .warning()
    .unwrap();
    assert!(
        msg.contains("(1 hash collisions)") && msg.contains("2 user stacks"),
        "{msg}"
    );
    assert!(hint.unwrap().contains("--stack-storage-size"));
}

/// This test binary, run again as a child that sleeps in a test of its own
/// (`child_sleeper`); killed and reaped on drop. `exe` is the path the
/// child runs as (its /proc/PID/maps names it).
struct Sleeper {
    child: Child,
    exe: String,
    /// The private mount point, removed on drop.
    dir: Option<std::path::PathBuf>,
}

const SLEEPER_ARGS: [&str; 4] = [
    "stacks::tests::child_sleeper",
    "--exact",
    "--ignored",
    "--test-threads=1",
];

impl Sleeper {
    fn spawn() -> Self {
        let exe = std::env::current_exe().unwrap();
        let child = Command::new(&exe)
            .args(SLEEPER_ARGS)
            .env("CS_STACKS_SLEEPER", "1")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        Self {
            child,
            exe: exe.to_string_lossy().into_owned(),
            dir: None,
        }
    }

    /// A container in miniature: the child runs from a tmpfs mounted in a
    /// private mount namespace, so its executable's path does not exist
    /// in ours (only /proc/PID/map_files reaches it). The tmpfs goes with
    /// the namespace when the child dies.
    fn spawn_in_mount_ns() -> Self {
        let exe = std::env::current_exe().unwrap();
        let dir = std::env::temp_dir().join(format!("cs-stacks-mntns-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let inner = dir.join("sleeper");
        let script = format!(
            "mount -t tmpfs cs-stacks {d} && cp {exe} {i} && exec {i} \"$@\"",
            d = dir.display(),
            exe = exe.display(),
            i = inner.display()
        );
        let child = Command::new("unshare")
            .args([
                "--mount",
                "--propagation",
                "private",
                "sh",
                "-c",
                &script,
                "sh",
            ])
            .args(SLEEPER_ARGS)
            .env("CS_STACKS_SLEEPER", "1")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        Self {
            child,
            exe: inner.to_string_lossy().into_owned(),
            dir: Some(dir),
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Where `addr` of this process's executable is in the child (same
    /// file contents, another load address).
    fn translate(&self, addr: u64) -> u64 {
        let base = |pid: u32, exe: &str| -> Option<u64> {
            let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).ok()?;
            let l = maps.lines().find(|l| l.ends_with(exe))?;
            u64::from_str_radix(l.split('-').next()?, 16).ok()
        };
        let me = std::env::current_exe().unwrap();
        let me = me.to_string_lossy().into_owned();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let (Some(me), Some(child)) =
                (base(std::process::id(), &me), base(self.pid(), &self.exe))
            {
                return addr - me + child;
            }
            assert!(
                Instant::now() < deadline,
                "child maps never showed {}",
                self.exe
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Sleeper {
    fn drop(&mut self) {
        self.kill();
        if let Some(d) = &self.dir {
            let _ = std::fs::remove_dir(d);
        }
    }
}

/// Not a test of its own (ignored): the body of [`Sleeper`]'s child.
#[test]
#[ignore = "the child process of the exited-process test"]
fn child_sleeper() {
    if std::env::var_os("CS_STACKS_SLEEPER").is_some() {
        std::thread::sleep(Duration::from_secs(60));
    }
}

#[test]
fn root_exited_process_symbolized_from_cache_or_counted() {
    if !root_or_skip("root_exited_process_symbolized_from_cache_or_counted") {
        return;
    }
    let addr = corescope_stacks_probe();
    let mut s = StackSymbolizer::new();
    let mut out = Vec::new();

    // Noted while alive: resolved after it is gone.
    let mut noted = Sleeper::spawn();
    let pid = noted.pid();
    let child_addr = noted.translate(addr);
    assert!(s.note_pid(pid), "note_pid failed for a live child");
    noted.kill();
    assert!(!Path::new(&format!("/proc/{pid}")).exists());
    assert_eq!(s.user(pid, &[child_addr], &mut out), Ok(()));
    let name = out[0].symbol.as_deref().unwrap_or("");
    assert!(name.contains("corescope_stacks_probe"), "{:?}", out[0]);
    assert_eq!(s.stats.pid_exited, 0);
    // Forgotten: nothing left to resolve it from (the cached address too).
    s.forget_pid(pid);
    assert_eq!(
        s.user(pid, &[child_addr], &mut out),
        Err(Missing::PidExited)
    );
    assert_eq!(s.stats.pid_exited, 1);
    s.stats.pid_exited = 0;

    // Never noted: `[unknown] (pid exited)`, counted.
    let mut gone = Sleeper::spawn();
    let pid = gone.pid();
    let child_addr = gone.translate(addr);
    gone.kill();
    assert_eq!(
        s.user(pid, &[child_addr], &mut out),
        Err(Missing::PidExited)
    );
    assert_eq!(s.stats.pid_exited, 1);
    assert!(!s.note_pid(pid), "note_pid of an exited process succeeded");
}

/// A raw_tp/sys_enter program, written as instructions (no skeleton: the
/// shape has no BPF object of its own), that records this process's user
/// and kernel stacks into a real STACK_TRACE map, and user stacks into a
/// one-bucket map where two different stacks collide (-EEXIST, whose id it
/// stores in an array). Detached and freed on drop (the fds close).
struct StackProg {
    stacks: libbpf_rs::MapHandle,
    tiny: libbpf_rs::MapHandle,
    last_eexist: libbpf_rs::MapHandle,
    _prog: std::os::fd::OwnedFd,
    _link: std::os::fd::OwnedFd,
}

fn insn(code: u32, dst: u8, src: u8, off: i16, imm: i32) -> libbpf_rs::libbpf_sys::bpf_insn {
    libbpf_rs::libbpf_sys::bpf_insn {
        code: code as u8,
        _bitfield_align_1: [],
        _bitfield_1: libbpf_rs::libbpf_sys::bpf_insn::new_bitfield_1(dst, src),
        off,
        imm,
    }
}

impl StackProg {
    fn load() -> Self {
        use libbpf_rs::libbpf_sys as sys;
        use libbpf_rs::{MapHandle, MapType};
        use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
        let opts = sys::bpf_map_create_opts {
            sz: std::mem::size_of::<sys::bpf_map_create_opts>() as _,
            ..Default::default()
        };
        let depth = (MAX_DEPTH * 8) as u32;
        let stacks = MapHandle::create(
            MapType::StackTrace,
            Some("cs_t_stacks"),
            4,
            depth,
            256,
            &opts,
        )
        .unwrap();
        let tiny =
            MapHandle::create(MapType::StackTrace, Some("cs_t_tiny"), 4, depth, 1, &opts).unwrap();
        let last_eexist =
            MapHandle::create(MapType::Array, Some("cs_t_eexist"), 4, 8, 1, &opts).unwrap();
        let fd = |m: &MapHandle| m.as_fd().as_raw_fd();
        let (ld, call, exit) = (
            sys::BPF_LD | sys::BPF_IMM | sys::BPF_DW,
            sys::BPF_JMP | sys::BPF_CALL,
            sys::BPF_JMP | sys::BPF_EXIT,
        );
        let mov_k = sys::BPF_ALU64 | sys::BPF_MOV | sys::BPF_K;
        let mov_x = sys::BPF_ALU64 | sys::BPF_MOV | sys::BPF_X;
        let map_ld = |reg: u8, m: &MapHandle| {
            [
                insn(ld, reg, sys::BPF_PSEUDO_MAP_FD as u8, 0, fd(m)),
                insn(0, 0, 0, 0, 0),
            ]
        };
        let tgid = std::process::id() as i32;
        let mut p = vec![
            insn(mov_x, 6, 1, 0, 0), // r6 = ctx
            insn(call, 0, 0, 0, sys::BPF_FUNC_get_current_pid_tgid as i32),
            insn(sys::BPF_ALU64 | sys::BPF_RSH | sys::BPF_K, 0, 0, 0, 32), // r0 = tgid
            insn(sys::BPF_JMP | sys::BPF_JNE | sys::BPF_K, 0, 0, 0, tgid), // off patched
        ];
        let filter = p.len() - 1;
        for (m, flags) in [
            (&stacks, sys::BPF_F_USER_STACK as i32),
            (&stacks, 0),
            (&tiny, sys::BPF_F_USER_STACK as i32),
        ] {
            p.extend(map_ld(2, m));
            p.push(insn(mov_x, 1, 6, 0, 0));
            p.push(insn(mov_k, 3, 0, 0, flags));
            p.push(insn(call, 0, 0, 0, sys::BPF_FUNC_get_stackid as i32));
        }
        p.push(insn(mov_x, 7, 0, 0, 0)); // r7 = the tiny map's id
        p.push(insn(sys::BPF_ST | sys::BPF_MEM | sys::BPF_W, 10, 0, -4, 0));
        p.push(insn(mov_x, 2, 10, 0, 0));
        p.push(insn(
            sys::BPF_ALU64 | sys::BPF_ADD | sys::BPF_K,
            2,
            0,
            0,
            -4,
        ));
        p.extend(map_ld(1, &last_eexist));
        p.push(insn(call, 0, 0, 0, sys::BPF_FUNC_map_lookup_elem as i32));
        p.push(insn(sys::BPF_JMP | sys::BPF_JEQ | sys::BPF_K, 0, 0, 2, 0));
        p.push(insn(
            sys::BPF_JMP | sys::BPF_JNE | sys::BPF_K,
            7,
            0,
            1,
            -libc::EEXIST,
        ));
        p.push(insn(sys::BPF_STX | sys::BPF_MEM | sys::BPF_DW, 0, 7, 0, 0));
        let out = p.len();
        p.push(insn(mov_k, 0, 0, 0, 0));
        p.push(insn(exit, 0, 0, 0, 0));
        p[filter].off = (out - filter - 1) as i16;

        let name = c"cs_t_stacks";
        // SAFETY: the pointers are valid for the call (a C string literal
        // and a live Vec of instructions); null opts are allowed.
        let prog = unsafe {
            sys::bpf_prog_load(
                sys::BPF_PROG_TYPE_RAW_TRACEPOINT,
                name.as_ptr(),
                c"GPL".as_ptr(),
                p.as_ptr(),
                p.len() as _,
                std::ptr::null_mut(),
            )
        };
        assert!(
            prog >= 0,
            "BPF_PROG_LOAD: {}",
            std::io::Error::last_os_error()
        );
        // SAFETY: a fresh fd that nothing else owns.
        let prog = unsafe { OwnedFd::from_raw_fd(prog) };
        // SAFETY: a valid C string and the program's fd.
        let link = unsafe { sys::bpf_raw_tracepoint_open(c"sys_enter".as_ptr(), prog.as_raw_fd()) };
        assert!(
            link >= 0,
            "raw_tracepoint_open: {}",
            std::io::Error::last_os_error()
        );
        // SAFETY: a fresh fd that nothing else owns.
        let link = unsafe { OwnedFd::from_raw_fd(link) };
        Self {
            stacks,
            tiny,
            last_eexist,
            _prog: prog,
            _link: link,
        }
    }
}

#[inline(never)]
fn syscalls_from_two_places() {
    for _ in 0..20 {
        // SAFETY: getppid has no arguments and no effect.
        unsafe { libc::syscall(libc::SYS_getppid) };
        let _ = std::fs::metadata("/proc/self");
    }
}

#[test]
fn root_real_stack_trace_map() {
    if !root_or_skip("root_real_stack_trace_map") {
        return;
    }
    let prog = StackProg::load();
    syscalls_from_two_places();
    let mut s = StackSymbolizer::new();
    let me = std::process::id();
    let (mut kernel_syscall, mut user_libc) = (false, false);
    let mut addrs = Vec::new();
    let ids: Vec<Vec<u8>> = prog.stacks.keys().collect();
    assert!(!ids.is_empty(), "no stack recorded");
    for k in &ids {
        let id = u32::from_ne_bytes(k[..4].try_into().unwrap()) as i64;
        assert_eq!(read_stack(&prog.stacks, id, &mut addrs), Ok(()));
        let kernel_side = addrs[0] >= 0xffff_8000_0000_0000;
        let key = StackKey {
            pid: me,
            tid: None,
            comm: b"t\0\0\0",
            user_id: (!kernel_side).then_some(id),
            kernel_id: kernel_side.then_some(id),
            count: 1,
        };
        let st = s.stack(&prog.stacks, &key);
        assert_eq!(st.comm, b"t");
        let frames = match (&st.user, &st.kernel) {
            (Part::Frames(f), Part::Off) | (Part::Off, Part::Frames(f)) => f,
            other => panic!("{other:?}"),
        };
        // A kernel stack loses the tracepoint's own frames at its top
        // (bpf_trace_run*: drop_tracer_frames); a user stack nothing.
        let tracer = if kernel_side {
            addrs.len() - frames.len()
        } else {
            0
        };
        assert_eq!(frames.len() + tracer, addrs.len());
        if kernel_side {
            let mut raw = Vec::new();
            s.kernel(&addrs, &mut raw);
            let mut kept = raw.clone();
            drop_tracer_frames(&mut kept);
            assert_eq!(kept, *frames);
            assert!(tracer <= 4, "{tracer} frames dropped: {raw:?}");
        }
        for f in frames {
            let sym = f.symbol.as_deref().unwrap_or("");
            let module = f
                .module
                .as_ref()
                .map(|m| crate::escape::escape(&m.0))
                .unwrap_or_default();
            kernel_syscall |= kernel_side && sym.contains("syscall");
            user_libc |= !kernel_side && module.contains("libc") && !sym.is_empty();
        }
    }
    assert!(
        kernel_syscall,
        "no *syscall* kernel frame in {} stacks",
        ids.len()
    );
    assert!(user_libc, "no libc user frame in {} stacks", ids.len());

    // Negative ids and ids not in the map; -EFAULT is no stack to walk
    // (empty, as BCC shows it), not a missed one.
    assert_eq!(
        read_stack(&prog.stacks, -(libc::EFAULT as i64), &mut addrs),
        Ok(())
    );
    assert!(addrs.is_empty());
    assert_eq!(
        read_stack(&prog.stacks, -(libc::ENOMEM as i64), &mut addrs),
        Err(Missing::Missed)
    );
    assert_eq!(read_stack(&prog.tiny, 5, &mut addrs), Err(Missing::Missed));

    // A collision the kernel really returned, through the whole path.
    let v = prog
        .last_eexist
        .lookup(&0u32.to_ne_bytes(), MapFlags::ANY)
        .unwrap()
        .unwrap();
    let eexist = i64::from_ne_bytes(v[..8].try_into().unwrap());
    assert_eq!(
        eexist,
        -(libc::EEXIST as i64),
        "no collision in a one-bucket map"
    );
    let key = StackKey {
        pid: me,
        tid: None,
        comm: b"t",
        user_id: Some(eexist),
        kernel_id: Some(-(libc::EFAULT as i64)),
        count: 3,
    };
    let before = s.stats;
    let st = s.stack(&prog.tiny, &key);
    assert_eq!(st.user, Part::Missing(Missing::Collision));
    assert_eq!(st.kernel, Part::Frames(Vec::new()));
    assert_eq!(s.stats.collisions, before.collisions + 1);
    assert_eq!(s.stats.missed_user, before.missed_user + 1);
    assert_eq!(s.stats.missed_kernel, before.missed_kernel);
    let (_, hint) = s.stats.warning().unwrap();
    assert!(hint.unwrap().contains("--stack-storage-size"));
}

#[test]
fn root_process_in_another_mount_namespace_is_symbolized() {
    if !root_or_skip("root_process_in_another_mount_namespace_is_symbolized") {
        return;
    }
    let child = Sleeper::spawn_in_mount_ns();
    let addr = child.translate(corescope_stacks_probe());
    assert!(
        !Path::new(&child.exe).exists(),
        "{} is visible here",
        child.exe
    );
    let mut s = StackSymbolizer::new();
    let mut out = Vec::new();
    assert_eq!(s.user(child.pid(), &[addr], &mut out), Ok(()));
    let name = out[0].symbol.as_deref().unwrap_or("");
    assert!(name.contains("corescope_stacks_probe"), "{:?}", out[0]);
}

/// BCC prints nothing for an empty side (-EFAULT), and `-d` separates
/// only two sides that both have frames.
#[test]
fn empty_side_prints_nothing_and_no_delimiter() {
    let style = Style {
        delimiter: true,
        annotate: false,
    };
    let user_mode = Stack {
        kernel: Part::Frames(Vec::new()),
        ..sample()
    };
    let mut s = String::new();
    folded_line(&mut s, &user_mode, style);
    assert_eq!(s, "burner;main;outer;burn 17");
    let mut b = String::new();
    bcc_text(&mut b, &user_mode, style);
    assert!(
        b.starts_with("    burn+0x1a [burner]\n") && !b.contains("--"),
        "{b}"
    );
    let kthread = Stack {
        user: Part::Frames(Vec::new()),
        tid: Some(77),
        ..sample()
    };
    folded_line(&mut s, &kthread, style);
    assert_eq!(s, "burner;do_syscall_64;vfs_write 17");
    b.clear();
    bcc_text(&mut b, &kthread, style);
    // Per-thread counts show the TID, as BCC offcputime.
    assert!(
        b.ends_with("    -                burner (77)\n        17\n\n"),
        "{b}"
    );
    assert_eq!(
        serde_json::to_value(JsonStack::new(&kthread)).unwrap()["tid"],
        77
    );
    assert!(serde_json::to_value(JsonStack::new(&sample()))
        .unwrap()
        .get("tid")
        .is_none());
}

#[test]
fn tracer_frames_are_dropped_from_the_top_only() {
    let mut f = vec![
        frame(
            "bpf_prog_c6f6803d4528c9e6_offcputime_switch",
            0x3e9,
            "kernel",
        ),
        frame("bpf_trace_run4", 0x166, "kernel"),
        frame("__traceiter_sched_switch", 0x3e, "kernel"),
        frame("__schedule", 0x618, "kernel"),
        frame("bpf_trace_run4", 0x1, "kernel"),
    ];
    drop_tracer_frames(&mut f);
    let names: Vec<_> = f.iter().map(|f| f.symbol.clone().unwrap()).collect();
    assert_eq!(names, ["__schedule", "bpf_trace_run4"]);
}

/// tcpdrop's stacks: an unnamed (misnamed) JIT frame first, then the glue.
#[test]
fn tracer_glue_after_an_unnamed_program_frame_is_dropped() {
    let mut f = vec![
        frame("__stop_runtime_ptr_USER_PTR_MAX", 0x3c4f_fa68, "kernel"),
        frame("bpf_trace_run4", 0x166, "kernel"),
        frame("sk_skb_reason_drop", 0x90, "kernel"),
        frame("tcp_v4_rcv", 0x91, "kernel"),
        frame("bpf_trace_run4", 0x1, "kernel"),
    ];
    drop_tracer_glue(&mut f);
    let names: Vec<_> = f.iter().map(|f| f.symbol.clone().unwrap()).collect();
    assert_eq!(
        names,
        ["sk_skb_reason_drop", "tcp_v4_rcv", "bpf_trace_run4"]
    );
    let mut none = vec![frame("tcp_v4_rcv", 1, "kernel")];
    drop_tracer_glue(&mut none);
    assert_eq!(none.len(), 1);
}

#[test]
fn frame_pointer_note_when_most_user_stacks_have_one_frame() {
    let st = |user_stacks, one_frame_user| StackStats {
        user_stacks,
        one_frame_user,
        ..StackStats::default()
    };
    assert_eq!(st(9, 9).frame_pointer_note(), None, "too few to say");
    assert_eq!(st(10, 5).frame_pointer_note(), None);
    let note = st(10, 6).frame_pointer_note().unwrap();
    assert!(
        note.contains("6 of 10") && note.contains("frame pointers"),
        "{note}"
    );
}

/// The key layout user space reads (runner::key_of) against the values
/// src/stacks.bpf.h uses.
#[test]
fn key_fields_and_constants() {
    use crate::skel::profile::types as t;
    // libbpf-cargo types a negative enum value as its u32 bits.
    let off = t::cs_stack_consts::CS_STACK_OFF.0 as i32;
    assert_eq!(runner::STACK_OFF, i64::from(off));
    assert_eq!(runner::PID_NEW, t::cs_stack_consts::CS_PID_NEW.0);
    assert_eq!(runner::PID_EXEC, t::cs_stack_consts::CS_PID_EXEC.0);
    let k = t::cs_stack_key {
        pid: 5,
        tid: 0,
        user_stack_id: runner::STACK_OFF,
        kernel_stack_id: -14,
        comm: *b"abc\0\0\0\0\0\0\0\0\0\0\0\0\0",
    };
    let sk = RawStackKey::stack_key(&k, 9);
    assert_eq!(
        (sk.pid, sk.tid, sk.user_id, sk.kernel_id, sk.count),
        (5, None, None, Some(-14), 9)
    );
    assert_eq!(crate::escape::cstr(sk.comm), b"abc");
    let k = t::cs_stack_key {
        tid: 6,
        user_stack_id: 3,
        ..k
    };
    assert_eq!(RawStackKey::stack_key(&k, 1).tid, Some(6));
    assert_eq!(RawStackKey::stack_key(&k, 1).user_id, Some(3));
}

#[test]
fn maps_lines_of_executable_files_only() {
    let l = parse_maps_line(b"55d0c8a00000-55d0c8a05000 r-xp 00002000 fe:01 1234   /usr/bin/a b")
        .unwrap();
    assert_eq!(
        l,
        MapsLine {
            range: b"55d0c8a00000-55d0c8a05000",
            start: 0x55d0_c8a0_0000,
            end: 0x55d0_c8a0_5000,
            offset: 0x2000,
            path: b"/usr/bin/a b",
        }
    );
    for other in [
        &b"7ffd1000-7ffd3000 r-xp 00000000 00:00 0                          [vdso]"[..],
        b"55d0c8a00000-55d0c8a05000 r--p 00000000 fe:01 1234   /usr/bin/a",
        b"7f0000000000-7f0000001000 rwxp 00000000 00:00 0 ",
        b"garbage",
    ] {
        assert_eq!(
            parse_maps_line(other),
            None,
            "{}",
            String::from_utf8_lossy(other)
        );
    }
}
