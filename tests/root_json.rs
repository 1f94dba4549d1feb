//! Every tool's JSON records against docs/json.md: each tool runs with
//! `-j`, in the modes that make each of its record types, over one small
//! workload (execs, files, signals, a mount, TCP on loopback, a refused
//! connect, SYN retransmits in a private network namespace, direct I/O on a
//! loop device, an OOM kill in a memory cgroup, UDP through xdpdrop in its
//! own namespace). Every line goes through the one checker
//! (`util::json_lines_of`); the test fails when a run wrote no record or a
//! record type docs/json.md lists for a tool was never seen.
//!
//! Not provoked per tool: `lost` (one writer, src/session.rs, for every
//! event tool: execsnoop's run with a stalled reader and a 4 KiB ring makes
//! it, as tests/root_filters.rs does).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read as _;
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::block_workload::Loop;
use crate::json_schema::schema;
use crate::util::{json_lines_of, root_exclusive_or_skip, tool, ChildGuard, TempDir, ToolRun};

/// Each tool's runs: its arguments after `-v -j` (interval tools print every
/// second; the others at the end).
fn runs() -> Vec<(&'static str, Vec<&'static str>)> {
    let mut v: Vec<(&str, Vec<&str>)> = [
        "bindsnoop",
        "biosnoop",
        "capable",
        "execsnoop",
        "exitsnoop",
        "filelife",
        "killsnoop",
        "mountsnoop",
        "oomkill",
        "opensnoop",
        "sigsnoop",
        "tcpaccept",
        "tcpconnect",
        "tcpdrop",
        "tcplife",
        "tcpretrans",
        "tcpstates",
        "runqlat",
        "cpudist",
        "profile",
        "offcputime",
    ]
    .into_iter()
    .map(|t| (t, vec![]))
    .collect();
    v.extend([
        ("runqlat", vec!["-P"]),
        ("cpudist", vec!["-L"]),
        ("biolatency", vec!["-D", "-e", "1"]),
        ("biolatency", vec!["-F"]),
        ("funclatency", vec!["syscall:read"]),
        ("hardirqs", vec!["-T", "1"]),
        ("hardirqs", vec!["-d", "1"]),
        ("softirqs", vec!["-T", "1"]),
        ("softirqs", vec!["-d", "1"]),
        ("syscount", vec!["-L", "1"]),
        ("syscount", vec!["-P", "1"]),
        ("filetop", vec!["-a", "1"]),
        ("biotop", vec!["1"]),
        ("tcptop", vec!["1"]),
        ("tcpconnect", vec!["--count"]),
        ("tcpretrans", vec!["-c"]),
        ("opensnoop", vec!["-F", "--callers"]),
    ]);
    v
}

/// xdpdrop on `lo` of a new network namespace, dry run, printing every
/// second, with UDP sent to port 5001 for 2 s: with `rule` its rule and
/// action rows, without it its protocol rows. Returns its stdout.
fn xdpdrop(dir: &std::path::Path, rule: Option<&str>) -> std::thread::JoinHandle<String> {
    let tag = if rule.is_some() { "rules" } else { "protos" };
    let (out, err) = (
        dir.join(format!("xdp-{tag}.out")),
        dir.join(format!("xdp-{tag}.err")),
    );
    let rule = rule.map_or(String::new(), |r| format!("--drop '{r}'"));
    let script = format!(
        "ip link set lo up || exit 2
        {xdp} lo -v -j -n -i 1 {rule} >{out} 2>{err} & p=$!
        i=0; until grep -q 'attached to' {err}; do
            kill -0 $p 2>/dev/null && [ $i -lt 600 ] || exit 3; sleep 0.1; i=$((i+1))
        done
        i=0; while [ $i -lt 20 ]; do bash -c 'echo x >/dev/udp/127.0.0.1/5001'; sleep 0.1; i=$((i+1)); done
        kill -INT $p; wait $p",
        xdp = tool("xdpdrop").display(),
        out = out.display(),
        err = err.display(),
    );
    let mut c = Command::new("unshare");
    c.args(["-n", "sh", "-c", &script]).stdin(Stdio::null());
    let mut g = ChildGuard::spawn(&mut c);
    std::thread::spawn(move || {
        let st = g.wait_timeout(Duration::from_secs(120));
        let e = std::fs::read_to_string(&err).unwrap_or_default();
        assert!(st.success(), "xdpdrop {tag}: {st:?}\n{e}");
        std::fs::read_to_string(&out).unwrap_or_else(|e| panic!("xdpdrop {tag}: {e}"))
    })
}

/// execsnoop with a 4 KiB ring and a reader that waits until 1000 execs are
/// done: it must lose some, and say so in `lost` records.
fn execsnoop_losing(dir: &std::path::Path) -> String {
    let done = dir.join("storm-done");
    let script = format!(
        "i=0; while [ $i -lt 1000 ]; do /bin/true; i=$((i+1)); done; : > {}",
        done.display()
    );
    let mut g = ChildGuard::spawn(
        Command::new(tool("execsnoop"))
            .args(["-j", "--buffer-pages", "1", "--", "/bin/sh", "-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null()),
    );
    let end = Instant::now() + Duration::from_secs(120);
    while !done.exists() {
        assert!(Instant::now() < end, "the exec storm did not finish");
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut out = String::new();
    if let Some(mut o) = g.0.stdout.take() {
        o.read_to_string(&mut out).expect("execsnoop's stdout");
    }
    assert!(g.wait_timeout(Duration::from_secs(30)).success());
    out
}

/// The workload the tools watch, from this process and its children.
fn workload(dir: &std::path::Path) {
    // Execs, exits, opens, a file created and deleted, signals, a mount.
    let d = dir.display();
    let sh = format!(
        ": > {d}/f; cat {d}/f >/dev/null; rm {d}/f; kill -0 $$; sleep 5 & kill -TERM $!; wait
        mkdir {d}/m && unshare -m sh -c 'mount -t tmpfs none {d}/m && umount {d}/m'"
    );
    let st = Command::new("sh").args(["-c", &sh]).status().expect("sh");
    assert!(st.success(), "the shell workload: {st:?}");
    // TCP: bind, listen, connect, accept, bytes both ways, close; a connect
    // to a closed port (its SYN is dropped: no socket).
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = l.local_addr().expect("addr");
    let mut c = TcpStream::connect(addr).expect("connect");
    let (mut s, _) = l.accept().expect("accept");
    use std::io::Write as _;
    for _ in 0..20 {
        c.write_all(&[1; 4096]).expect("write");
        s.write_all(&[2; 4096]).expect("write");
        std::thread::sleep(Duration::from_millis(50));
    }
    drop((c, s, l));
    let closed = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
    // Block I/O.
    let lo = Loop::new();
    drop(lo.direct_io(4, 4));
    std::thread::sleep(Duration::from_millis(200));
}

/// SYN retransmits (tcpretrans): a loopback SYN the kernel drops, in a new
/// network namespace, retransmitted after ~1 s (kernels/guest/csprobe.c).
fn syn_retransmits(dir: &std::path::Path) -> ChildGuard {
    let probe = dir.join("csprobe");
    let src = concat!(env!("CARGO_MANIFEST_DIR"), "/kernels/guest/csprobe.c");
    let cc = Command::new("cc")
        .args(["-O1", "-o"])
        .arg(&probe)
        .arg(src)
        .status();
    assert!(cc.is_ok_and(|s| s.success()), "cc {src}");
    let script = format!(
        "ip link set lo up && exec {} synq 21414 2600",
        probe.display()
    );
    ChildGuard::spawn(
        Command::new("unshare")
            .args(["-n", "sh", "-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null()),
    )
}

/// An OOM kill in a memory cgroup (tools/oomkill's root test's helpers);
/// None without cgroup v1 memory (which fails with CI=true).
fn oom_kill(dir: &std::path::Path) -> Option<()> {
    use crate::root_oomkill::{hog, MemCg};
    let Some(cg) = MemCg::new() else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "no memory cgroup v1: oomkill's event record cannot be made"
        );
        return None;
    };
    let mut g = ChildGuard::spawn(
        Command::new(hog())
            .arg(&cg.0)
            .arg("cs_json_hog")
            .arg(dir.join("hog.pid"))
            .stdin(Stdio::null()),
    );
    let st = g.wait_timeout(Duration::from_secs(60));
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        st.signal(),
        Some(libc::SIGKILL),
        "the hog was not OOM-killed"
    );
    Some(())
}

#[test]
fn json_schema_every_tool() {
    let Some(_root) = root_exclusive_or_skip("json_schema_every_tool") else {
        return;
    };
    let started = Instant::now();
    let dir = TempDir::new(0o755);
    let xdp = [
        xdpdrop(dir.path(), Some("udp dst-port 5001")),
        xdpdrop(dir.path(), None),
    ];
    let mut running: Vec<(String, String, ToolRun)> = runs()
        .into_iter()
        .map(|(t, args)| {
            let mut a = vec!["-v", "-j"];
            a.extend(&args);
            (
                t.to_string(),
                args.join(" "),
                ToolRun::start(t, &a, Stdio::null()),
            )
        })
        .collect();
    for (_, _, r) in &mut running {
        r.wait_ready(Duration::from_secs(120));
    }
    let mut syn = syn_retransmits(dir.path());
    workload(dir.path());
    let oom = oom_kill(dir.path());
    assert!(
        syn.wait_timeout(Duration::from_secs(30)).success(),
        "csprobe synq"
    );
    // Two more intervals for the interval tools.
    std::thread::sleep(Duration::from_millis(2200));
    for (_, _, r) in &running {
        r.signal(Signal::SIGINT);
    }
    let mut outputs: Vec<(String, String, String)> = Vec::new();
    for (t, args, mut r) in running {
        let f = r.wait(Duration::from_secs(120));
        assert_eq!(f.code(), 0, "{t} {args}: {}", f.stderr);
        outputs.push((t, args, f.stdout));
    }
    for (h, a) in xdp.into_iter().zip(["--drop …", ""]) {
        let out = h
            .join()
            .unwrap_or_else(|_| panic!("xdpdrop {a}: see above"));
        outputs.push(("xdpdrop".into(), a.into(), out));
    }
    outputs.push((
        "execsnoop".into(),
        "(losing)".into(),
        execsnoop_losing(dir.path()),
    ));

    let mut seen: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut counts = String::new();
    for (t, args, out) in &outputs {
        let recs = json_lines_of(t, out);
        assert!(!recs.is_empty(), "{t} {args}: no record at all");
        let mut n: BTreeMap<&str, usize> = BTreeMap::new();
        for r in &recs {
            let ty = r["type"].as_str().unwrap_or_default();
            *n.entry(ty).or_default() += 1;
            seen.entry(t.clone()).or_default().insert(ty.to_string());
        }
        counts.push_str(&format!("  {t} {args}: {n:?}\n"));
    }
    use std::io::Write as _;
    let _ = write!(std::io::stderr(), "records checked:\n{counts}");
    let mut missing = Vec::new();
    for (t, want) in &schema().types {
        let got = seen.get(t).cloned().unwrap_or_default();
        for ty in want.difference(&got) {
            let excused = (ty == "lost" && t != "execsnoop") || (oom.is_none() && t == "oomkill");
            if !excused {
                missing.push(format!("{t} `{ty}`"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "record types docs/json.md lists but no run wrote: {missing:?}\n{counts}"
    );
    let _ = writeln!(
        std::io::stderr(),
        "json_schema_every_tool: {} runs in {:.1}s",
        outputs.len(),
        started.elapsed().as_secs_f64()
    );
}
