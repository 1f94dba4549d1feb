//! xdpdrop against the running kernel (root). Every test builds its own
//! pair of network namespaces joined by a veth pair (A: xd0, where xdpdrop
//! runs; B: xd1, the sender), with addresses that exist only there, and
//! deletes them on the way out (a Drop guard, so also on failure).
//!
//! Off CI, without root, each test prints why it skips; with CI=true it fails.

use std::io::{BufRead, BufReader, Read};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::os::fd::{FromRawFd, OwnedFd};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::util::{root_or_skip as root, tool};

// ---- small utilities (root, namespaces, traffic, running xdpdrop) ----

fn sh(args: &[&str]) -> std::process::Output {
    let out = Command::new(args[0]).args(&args[1..]).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

const MAC_A: &str = "02:77:00:00:00:01";
const MAC_B: &str = "02:77:00:00:00:02";
const A4: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 1);
const B4: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 2);
const A6: Ipv6Addr = Ipv6Addr::new(0xfd77, 0, 0, 0, 0, 0, 0, 1);
const B6: Ipv6Addr = Ipv6Addr::new(0xfd77, 0, 0, 0, 0, 0, 0, 2);

/// Namespaces `<tag>-a` (xd0: 10.77.0.1, fd77::1) and `<tag>-b` (xd1:
/// 10.77.0.2, fd77::2), with static neighbour entries (so ARP / ND are
/// not needed, e.g. under --allow-only). Deleted on drop.
struct Net {
    a: String,
    b: String,
}

impl Net {
    fn new(test: &str) -> Self {
        let base = format!("csxd-{test}-{}", std::process::id());
        let n = Net {
            a: format!("{base}-a"),
            b: format!("{base}-b"),
        };
        let (a, b) = (n.a.as_str(), n.b.as_str());
        sh(&["ip", "netns", "add", a]);
        sh(&["ip", "netns", "add", b]);
        sh(&[
            "ip", "link", "add", "xd0", "netns", a, "address", MAC_A, "type", "veth", "peer",
            "name", "xd1", "netns", b, "address", MAC_B,
        ]);
        for (ns, dev, mine, mine6, peer, peer6, mac) in [
            (
                a,
                "xd0",
                "10.77.0.1/24",
                "fd77::1/64",
                "10.77.0.2",
                "fd77::2",
                MAC_B,
            ),
            (
                b,
                "xd1",
                "10.77.0.2/24",
                "fd77::2/64",
                "10.77.0.1",
                "fd77::1",
                MAC_A,
            ),
        ] {
            sh(&["ip", "-n", ns, "addr", "add", mine, "dev", dev]);
            sh(&["ip", "-n", ns, "addr", "add", mine6, "dev", dev, "nodad"]);
            sh(&["ip", "-n", ns, "link", "set", dev, "up"]);
            sh(&["ip", "-n", ns, "link", "set", "lo", "up"]);
            for p in [peer, peer6] {
                n.neigh(ns, dev, p, mac);
            }
        }
        n
    }

    /// A permanent neighbour entry: no ARP / ND needed.
    fn neigh(&self, ns: &str, dev: &str, ip: &str, mac: &str) {
        let n = ["nud", "permanent"];
        sh(&[
            "ip", "-n", ns, "neigh", "replace", ip, "lladdr", mac, "dev", dev, n[0], n[1],
        ]);
    }

    fn addr(&self, ns: &str, dev: &str, cidr: &str) {
        sh(&["ip", "-n", ns, "addr", "add", cidr, "dev", dev, "nodad"]);
    }

    /// The `ip link` line of xd0 shows an XDP program.
    fn xdp_on(&self, dev: &str) -> bool {
        let out = sh(&["ip", "-n", &self.a, "link", "show", "dev", dev]);
        String::from_utf8_lossy(&out.stdout).contains("prog/xdp")
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for ns in [&self.a, &self.b] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

/// Runs `f` on a thread that entered network namespace `ns` (sockets it
/// creates stay in that namespace).
fn in_ns<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let path = format!("/run/netns/{ns}");
    std::thread::spawn(move || {
        let fd = std::fs::File::open(&path).unwrap();
        nix::sched::setns(fd, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
        f()
    })
    .join()
    .unwrap()
}

/// UDP sockets bound in `ns` to each of `addrs`.
fn listen(ns: &str, addrs: &[SocketAddr]) -> Vec<UdpSocket> {
    let addrs = addrs.to_vec();
    in_ns(ns, move || {
        addrs
            .iter()
            .map(|a| {
                let s = UdpSocket::bind(a).unwrap();
                s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
                s
            })
            .collect()
    })
}

/// Sends `n` datagrams from `from` (port 0: any) to `to`, in `ns`.
fn send(ns: &str, from: IpAddr, to: SocketAddr, n: usize) {
    in_ns(ns, move || {
        let s = UdpSocket::bind((from, 0)).unwrap();
        for i in 0..n {
            s.send_to(format!("xdpdrop test {i}").as_bytes(), to)
                .unwrap();
        }
    })
}

/// Datagrams received on `s`, waiting until `want` arrived or `wait` passed.
fn received(s: &UdpSocket, want: usize, wait: Duration) -> usize {
    let (mut n, end, mut buf) = (0, Instant::now() + wait, [0u8; 2048]);
    while Instant::now() < end && (n < want || want == 0) {
        if s.recv(&mut buf).is_ok() {
            n += 1;
        }
    }
    // Anything else that arrives late is counted too.
    while s.recv(&mut buf).is_ok() {
        n += 1;
    }
    n
}

fn checksum(b: &[u8]) -> u16 {
    let mut sum: u32 = b
        .chunks(2)
        .map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]) as u32)
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// ICMP / ICMPv6 echo requests to `dst` from namespace `ns`: replies seen.
fn ping(ns: &str, dst: IpAddr, count: u16) -> usize {
    in_ns(ns, move || {
        let (fam, proto, req, rep) = match dst {
            IpAddr::V4(_) => (libc::AF_INET, libc::IPPROTO_ICMP, 8u8, 0u8),
            IpAddr::V6(_) => (libc::AF_INET6, libc::IPPROTO_ICMPV6, 128, 129),
        };
        // SAFETY: plain socket(2); the fd is owned right away.
        let fd = unsafe { libc::socket(fam, libc::SOCK_RAW, proto) };
        assert!(fd >= 0, "raw socket: {}", std::io::Error::last_os_error());
        // SAFETY: a new fd owned by nobody else. A UdpSocket is only a
        // socket fd wrapper: send_to / recv / timeouts work on raw sockets.
        let s = UdpSocket::from(unsafe { OwnedFd::from_raw_fd(fd) });
        s.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let id = (std::process::id() as u16) ^ 0x5a5a;
        for seq in 0..count {
            let mut p = vec![req, 0, 0, 0];
            p.extend(id.to_be_bytes());
            p.extend(seq.to_be_bytes());
            p.extend(b"corescope");
            if dst.is_ipv4() {
                let c = checksum(&p);
                p[2..4].copy_from_slice(&c.to_be_bytes());
            } // ICMPv6: the kernel computes the checksum
            s.send_to(&p, (dst, 0)).unwrap();
        }
        let (mut seen, end, mut buf) = (
            Vec::new(),
            Instant::now() + Duration::from_secs(2),
            [0u8; 1500],
        );
        while Instant::now() < end && seen.len() < count as usize {
            let Ok(n) = s.recv(&mut buf) else { continue };
            // IPv4 raw sockets return the IP header too.
            let icmp = if dst.is_ipv4() {
                &buf[((buf[0] & 0xf) as usize * 4)..n]
            } else {
                &buf[..n]
            };
            if icmp.len() >= 8 && icmp[0] == rep && icmp[4..6] == id.to_be_bytes() {
                let seq = u16::from_be_bytes([icmp[6], icmp[7]]);
                if !seen.contains(&seq) {
                    seen.push(seq);
                }
            }
        }
        seen.len()
    })
}

/// A running xdpdrop (in namespace A), its output collected as it comes.
struct Xdp {
    child: Child,
    out: Arc<Mutex<String>>,
    err: Arc<Mutex<String>>,
}

fn collect(r: impl Read + Send + 'static) -> Arc<Mutex<String>> {
    let buf = Arc::new(Mutex::new(String::new()));
    let b = buf.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(r).lines().map_while(Result::ok) {
            let mut b = b.lock().unwrap();
            b.push_str(&line);
            b.push('\n');
        }
    });
    buf
}

impl Xdp {
    /// Starts xdpdrop in `ns` and waits until it says it attached (or ended).
    fn start(ns: &str, args: &[&str]) -> Self {
        let mut child = Command::new("ip")
            .args(["netns", "exec", ns])
            .arg(tool("xdpdrop"))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let out = collect(child.stdout.take().unwrap());
        let err = collect(child.stderr.take().unwrap());
        let mut x = Xdp { child, out, err };
        let end = Instant::now() + Duration::from_secs(30);
        while Instant::now() < end {
            if x.stderr().contains("attached to") || x.child.try_wait().unwrap().is_some() {
                return x;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("xdpdrop did not attach: {}", x.stderr());
    }

    fn stderr(&self) -> String {
        self.err.lock().unwrap().clone()
    }

    /// The program ID it reported.
    fn prog_id(&self) -> u32 {
        let e = self.stderr();
        let i = e.find("prog id ").expect("prog id") + 8;
        e[i..].split(')').next().unwrap().parse().unwrap()
    }

    /// Sends `sig` (ip netns exec execs xdpdrop: same PID), waits for the
    /// end; returns the status, stdout and stderr.
    fn stop(mut self, sig: nix::sys::signal::Signal) -> (ExitStatus, String, String) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        nix::sys::signal::kill(pid, sig).unwrap();
        let st = self.wait();
        std::thread::sleep(Duration::from_millis(100)); // readers drain
        (st, self.out.lock().unwrap().clone(), self.stderr())
    }

    fn wait(&mut self) -> ExitStatus {
        let end = Instant::now() + Duration::from_secs(20);
        while Instant::now() < end {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("xdpdrop did not exit: {}", self.stderr());
    }
}

impl Drop for Xdp {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Runs xdpdrop to its end (an error, or -d) in `ns`.
fn run(ns: &str, args: &[&str]) -> (ExitStatus, String, String) {
    let out = Command::new("ip")
        .args(["netns", "exec", ns])
        .arg(tool("xdpdrop"))
        .args(args)
        .output()
        .unwrap();
    let s = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status, s(&out.stdout), s(&out.stderr))
}

/// The JSON summary record of a run with -j (of xdpdrop, or of execsnoop
/// beside it: checked as a tool this test ran).
fn summary(stdout: &str) -> serde_json::Value {
    crate::util::json_lines(stdout)
        .into_iter()
        .find(|v| v["type"] == "summary")
        .unwrap_or_else(|| panic!("no summary in: {stdout}"))
}

fn rule_packets(s: &serde_json::Value) -> Vec<u64> {
    s["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["packets"].as_u64().unwrap())
        .collect()
}

fn action(s: &serde_json::Value, a: &str) -> u64 {
    s["actions"][a]["packets"].as_u64().unwrap()
}

const WAIT: Duration = Duration::from_secs(3);
use nix::sys::signal::Signal::{SIGINT, SIGKILL, SIGTERM};

fn sa(ip: impl Into<IpAddr>, port: u16) -> SocketAddr {
    SocketAddr::new(ip.into(), port)
}

// ---- the tests ----

#[test]
fn udp_to_a_dropped_port_never_arrives_and_is_counted_exactly() {
    let Some(_root) = root("udp_to_a_dropped_port_never_arrives_and_is_counted_exactly") else {
        return;
    };
    let net = Net::new("udp");
    let socks = listen(&net.a, &[sa(A4, 5001), sa(A4, 5002), sa(A6, 5001)]);
    let x = Xdp::start(&net.a, &["xd0", "-j", "--drop", "udp dst-port 5001"]);
    assert!(net.xdp_on("xd0"), "{}", x.stderr());
    send(&net.b, B4.into(), sa(A4, 5001), 100);
    send(&net.b, B6.into(), sa(A6, 5001), 10);
    send(&net.b, B4.into(), sa(A4, 5002), 20);
    assert_eq!(received(&socks[1], 20, WAIT), 20, "other port must pass");
    assert_eq!(ping(&net.b, A4.into(), 3), 3, "ping must pass");
    assert_eq!(ping(&net.b, A6.into(), 2), 2, "ping6 must pass");
    assert_eq!(received(&socks[0], 0, Duration::from_millis(300)), 0);
    assert_eq!(received(&socks[2], 0, Duration::from_millis(10)), 0);
    let (st, out, err) = x.stop(SIGINT);
    assert_eq!(st.code(), Some(0), "{err}");
    let s = summary(&out);
    assert_eq!(rule_packets(&s), [110], "{s}");
    assert_eq!(action(&s, "drop"), 110);
    assert_eq!(action(&s, "aborted"), 0);
    assert!(action(&s, "pass") >= 25, "{s}");
    assert!(err.contains("detached from xd0"), "{err}");
    assert!(!net.xdp_on("xd0"), "still attached after SIGINT");
}

#[test]
fn cidr_rules_ipv4_and_ipv6() {
    let Some(_root) = root("cidr_rules_ipv4_and_ipv6") else {
        return;
    };
    let net = Net::new("cidr");
    net.addr(&net.a, "xd0", "10.77.0.129/24");
    net.addr(&net.b, "xd1", "10.77.0.130/24");
    net.addr(&net.b, "xd1", "fd77::8002/64");
    net.neigh(&net.a, "xd0", "10.77.0.130", MAC_B);
    net.neigh(&net.a, "xd0", "fd77::8002", MAC_B);
    net.neigh(&net.b, "xd1", "10.77.0.129", MAC_A);
    let a129: Ipv4Addr = "10.77.0.129".parse().unwrap();
    let b130: Ipv4Addr = "10.77.0.130".parse().unwrap();
    let b6x: Ipv6Addr = "fd77::8002".parse().unwrap();
    let socks = listen(&net.a, &[sa(A4, 6000), sa(A6, 6000), sa(a129, 6000)]);
    let rules = [
        "src 10.77.0.0/25",
        "src fd77::/113",
        "dst 10.77.0.128/25 udp",
    ];
    let args: Vec<&str> = ["xd0", "-j"]
        .into_iter()
        .chain(rules.iter().flat_map(|r| ["--drop", *r]))
        .collect();
    let x = Xdp::start(&net.a, &args);
    send(&net.b, B4.into(), sa(A4, 6000), 7); // src in 10.77.0.0/25: dropped
    send(&net.b, B6.into(), sa(A6, 6000), 5); // src in fd77::/113: dropped
    send(&net.b, b130.into(), sa(a129, 6000), 3); // dst in 10.77.0.128/25: dropped
    send(&net.b, b130.into(), sa(A4, 6000), 11); // passes
    send(&net.b, b6x.into(), sa(A6, 6000), 13); // passes
    assert_eq!(received(&socks[0], 11, WAIT), 11);
    assert_eq!(received(&socks[1], 13, WAIT), 13);
    assert_eq!(received(&socks[2], 0, Duration::from_millis(100)), 0);
    let (st, out, err) = x.stop(SIGINT);
    assert_eq!(st.code(), Some(0), "{err}");
    assert_eq!(rule_packets(&summary(&out)), [7, 5, 3]);
}

#[test]
fn port_range() {
    let Some(_root) = root("port_range") else {
        return;
    };
    let net = Net::new("range");
    let ports = [6999, 7000, 7005, 7009, 7010];
    let addrs: Vec<SocketAddr> = ports.iter().map(|p| sa(A4, *p)).collect();
    let socks = listen(&net.a, &addrs);
    let x = Xdp::start(&net.a, &["xd0", "-j", "--drop", "udp dst-port 7000-7009"]);
    for p in ports {
        send(&net.b, B4.into(), sa(A4, p), 4);
    }
    assert_eq!(received(&socks[0], 4, WAIT), 4);
    assert_eq!(received(&socks[4], 4, WAIT), 4);
    for s in &socks[1..4] {
        assert_eq!(received(s, 0, Duration::from_millis(100)), 0);
    }
    let (st, out, _) = x.stop(SIGINT);
    assert_eq!(st.code(), Some(0));
    assert_eq!(rule_packets(&summary(&out)), [12]);
}

#[test]
fn allow_only_passes_matches_and_drops_the_rest() {
    let Some(_root) = root("allow_only_passes_matches_and_drops_the_rest") else {
        return;
    };
    let net = Net::new("allow");
    let socks = listen(&net.a, &[sa(A4, 8000), sa(A4, 8001)]);
    let x = Xdp::start(
        &net.a,
        &["xd0", "-j", "--allow-only", "--drop", "udp dst-port 8000"],
    );
    send(&net.b, B4.into(), sa(A4, 8001), 9);
    send(&net.b, B4.into(), sa(A4, 8000), 6);
    assert_eq!(received(&socks[1], 0, Duration::from_millis(10)), 0);
    assert_eq!(received(&socks[0], 6, WAIT), 6);
    assert_eq!(ping(&net.b, A4.into(), 2), 0, "ping must be dropped");
    let (st, out, _) = x.stop(SIGINT);
    assert_eq!(st.code(), Some(0));
    let s = summary(&out);
    assert_eq!(rule_packets(&s), [6]);
    assert!(action(&s, "drop") >= 9 + 2, "{s}");
    assert_eq!(s["allow_only"], true);
}

#[test]
fn dry_run_passes_and_counts() {
    let Some(_root) = root("dry_run_passes_and_counts") else {
        return;
    };
    let net = Net::new("dry");
    let socks = listen(&net.a, &[sa(A4, 5001)]);
    let x = Xdp::start(&net.a, &["xd0", "-j", "-n", "--drop", "udp dst-port 5001"]);
    send(&net.b, B4.into(), sa(A4, 5001), 40);
    assert_eq!(received(&socks[0], 40, WAIT), 40);
    let (st, out, err) = x.stop(SIGTERM);
    assert_eq!(st.code(), Some(0), "SIGTERM ends cleanly too: {err}");
    let s = summary(&out);
    assert_eq!(rule_packets(&s), [40]);
    assert_eq!((action(&s, "would_drop"), action(&s, "drop")), (40, 0));
    assert!(!net.xdp_on("xd0"));
}

#[test]
fn rules_file() {
    let Some(_root) = root("rules_file") else {
        return;
    };
    let net = Net::new("file");
    // Removed on drop, even when an assertion fails.
    let tmp = crate::util::TempDir::new(0o755);
    let dir = tmp.path().to_path_buf();
    let file = dir.join("drop.rules");
    let text = format!("# test rules\nudp dst-port 5001   # first\n\n  src-mac {MAC_B} udp dst-port 5003\ntcp dst-port 9\n");
    std::fs::write(&file, text).unwrap();
    let socks = listen(&net.a, &[sa(A4, 5001), sa(A4, 5002), sa(A4, 5003)]);
    let x = Xdp::start(&net.a, &["xd0", "-j", "--rules", file.to_str().unwrap()]);
    send(&net.b, B4.into(), sa(A4, 5001), 3);
    send(&net.b, B4.into(), sa(A4, 5003), 4);
    send(&net.b, B4.into(), sa(A4, 5002), 5);
    assert_eq!(received(&socks[1], 5, WAIT), 5);
    assert_eq!(received(&socks[0], 0, Duration::from_millis(100)), 0);
    assert_eq!(received(&socks[2], 0, Duration::from_millis(10)), 0);
    let (st, out, _) = x.stop(SIGINT);
    assert_eq!(st.code(), Some(0));
    let s = summary(&out);
    assert_eq!(rule_packets(&s), [3, 4, 0]);
    assert_eq!(
        s["rules"][1]["name"],
        format!("udp dst-port 5003 src-mac {MAC_B}")
    );
}

/// Compiles a two-line XDP_PASS program (clang is a build dependency).
fn pass_prog(dir: &std::path::Path) -> String {
    std::fs::create_dir_all(dir).unwrap();
    let (c, o) = (dir.join("pass.c"), dir.join("pass.o"));
    std::fs::write(
        &c,
        "__attribute__((section(\"xdp\"), used)) int xdp_pass_test(void *ctx) { return 2; }\n\
         char _license[] __attribute__((section(\"license\"), used)) = \"GPL\";\n",
    )
    .unwrap();
    sh(&[
        "clang",
        "-O2",
        "-g",
        "-target",
        "bpf",
        "-c",
        c.to_str().unwrap(),
        "-o",
        o.to_str().unwrap(),
    ]);
    o.to_str().unwrap().to_string()
}

#[test]
fn another_xdp_program_is_refused_without_force() {
    let Some(_root) = root("another_xdp_program_is_refused_without_force") else {
        return;
    };
    let net = Net::new("force");
    // Removed on drop, even when an assertion fails.
    let tmp = crate::util::TempDir::new(0o755);
    let dir = tmp.path().to_path_buf();
    let obj = pass_prog(&dir);
    // A program attached through netlink (no bpf_link), as ip link does it.
    sh(&[
        "ip",
        "-n",
        &net.a,
        "link",
        "set",
        "dev",
        "xd0",
        "xdpgeneric",
        "obj",
        &obj,
        "sec",
        "xdp",
    ]);
    let (st, _, err) = run(&net.a, &["xd0", "-d", "1"]);
    assert_eq!(st.code(), Some(1));
    assert!(
        err.contains("xd0 already has an XDP program: id ")
            && err.contains("'xdp_pass_test' (skb mode)"),
        "{err}"
    );
    assert!(err.contains("hint:") && err.contains("--force"), "{err}");
    let link = String::from_utf8(sh(&["ip", "-n", &net.a, "link", "show", "xd0"]).stdout).unwrap();
    assert!(
        link.contains("name xdp_pass_test"),
        "ours must not replace it: {link}"
    );
    // --force replaces it; the old one is gone for good.
    let x = Xdp::start(&net.a, &["xd0", "--force"]);
    assert!(
        x.stderr().contains("--force: detached XDP program id"),
        "{}",
        x.stderr()
    );
    // A second xdpdrop is refused too, naming the first (held by a bpf_link).
    let (st, _, err) = run(&net.a, &["xd0", "--mode", "skb"]);
    assert_eq!(st.code(), Some(1));
    let want = format!("id {} 'xdpdrop' (native mode, bpf_link id", x.prog_id());
    assert!(err.contains(&want), "{err}");
    assert!(net.xdp_on("xd0"));
    let (st, _, _) = x.stop(SIGINT);
    assert_eq!(st.code(), Some(0));
    assert!(!net.xdp_on("xd0"));
}

#[test]
fn forced_out_instance_notices_and_fails() {
    let Some(_root) = root("forced_out_instance_notices_and_fails") else {
        return;
    };
    let net = Net::new("forced");
    let first = Xdp::start(&net.a, &["xd0", "--drop", "udp"]);
    let (st, _, err) = run(&net.a, &["xd0", "--force", "-d", "1"]);
    assert_eq!(st.code(), Some(0), "{err}");
    let mut first = first;
    let st = first.wait();
    assert_eq!(st.code(), Some(1));
    assert!(
        first
            .stderr()
            .contains("error: the XDP program was detached"),
        "{}",
        first.stderr()
    );
    assert!(!net.xdp_on("xd0"));
}

#[test]
fn duration_intervals_table_and_json() {
    let Some(_root) = root("duration_intervals_table_and_json") else {
        return;
    };
    let net = Net::new("dur");
    let (st, out, err) = run(
        &net.a,
        &["xd0", "-j", "-d", "2", "-i", "1", "--drop", "udp"],
    );
    assert_eq!(st.code(), Some(0), "{err}");
    let recs = crate::util::json_lines_of("xdpdrop", &out);
    let times: std::collections::BTreeSet<&str> = recs
        .iter()
        .filter(|r| r["type"] == "rule")
        .map(|r| r["time"].as_str().unwrap())
        .collect();
    assert!((1..=3).contains(&times.len()), "one block a second: {out}");
    assert_eq!(recs.last().unwrap()["type"], "summary");
    assert!(recs.iter().all(|r| r["type"] != "event"), "{out}");
    let (st, out, _) = run(&net.a, &["xd0", "-d", "1", "--drop", "udp"]);
    assert_eq!(st.code(), Some(0));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        "TIME            PKT/S         PKTS        BYTES COUNTER"
    );
    assert!(
        lines.last().unwrap().starts_with("total ") && lines.last().unwrap().ends_with(" ABORTED"),
        "{out}"
    );
    assert!(lines.iter().any(|l| l.ends_with(" #1 udp")), "{out}");
    assert!(!net.xdp_on("xd0"));
}

#[test]
fn sigkill_leaves_no_program_attached() {
    let Some(_root) = root("sigkill_leaves_no_program_attached") else {
        return;
    };
    let net = Net::new("kill");
    let x = Xdp::start(&net.a, &["xd0", "--drop", "tcp dst-port 22"]);
    assert!(net.xdp_on("xd0"));
    let (st, _, _) = x.stop(SIGKILL);
    assert_eq!(st.code(), None);
    // The bpf_link is released with the last fd; allow the kernel a moment.
    let end = Instant::now() + Duration::from_secs(5);
    while net.xdp_on("xd0") && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!net.xdp_on("xd0"), "SIGKILL left the XDP program attached");
}

#[test]
fn modes_native_skb_and_auto_fallback() {
    let Some(_root) = root("modes_native_skb_and_auto_fallback") else {
        return;
    };
    let net = Net::new("modes");
    let link = |dev: &str| {
        String::from_utf8(sh(&["ip", "-n", &net.a, "link", "show", dev]).stdout).unwrap()
    };
    let x = Xdp::start(&net.a, &["xd0", "--mode", "skb"]);
    assert!(x.stderr().contains("(skb mode"), "{}", x.stderr());
    assert!(link("xd0").contains("xdpgeneric"), "{}", link("xd0"));
    assert_eq!(x.stop(SIGINT).0.code(), Some(0));
    let x = Xdp::start(&net.a, &["xd0", "--mode", "native"]);
    assert!(x.stderr().contains("(native mode"), "{}", x.stderr());
    assert!(
        link("xd0").contains(" xdp ") && !link("xd0").contains("xdpgeneric"),
        "{}",
        link("xd0")
    );
    assert_eq!(x.stop(SIGINT).0.code(), Some(0));
    // lo has no native XDP: auto falls back with a one-line notice.
    let x = Xdp::start(&net.a, &["lo"]);
    let notices: Vec<String> = x
        .stderr()
        .lines()
        .filter(|l| l.contains("notice"))
        .map(String::from)
        .collect();
    assert_eq!(notices.len(), 1, "{}", x.stderr());
    assert!(
        notices[0].contains("using skb (generic) mode"),
        "{notices:?}"
    );
    assert_eq!(x.stop(SIGINT).0.code(), Some(0));
    assert!(!link("lo").contains("prog/xdp"));
}

#[test]
fn bad_input_is_one_clear_error_and_nothing_is_attached() {
    let Some(_root) = root("bad_input_is_one_clear_error_and_nothing_is_attached") else {
        return;
    };
    let net = Net::new("bad");
    // Removed on drop, even when an assertion fails.
    let tmp = crate::util::TempDir::new(0o755);
    let dir = tmp.path().to_path_buf();
    let file = dir.join("bad.rules");
    std::fs::write(&file, "# ok so far\nudp dst-port 53\n\ntcp dst-prot 80\n").unwrap();
    let f = file.to_str().unwrap();
    // No rule in it: an error, not "no rules = drop all" (-d: the old
    // behaviour ends too, and fails the test).
    let (empty, comments) = (dir.join("empty.rules"), dir.join("comments.rules"));
    std::fs::write(&empty, "").unwrap();
    std::fs::write(&comments, "# tcp dst-port 80\n\n  # udp\n").unwrap();
    let (empty, comments) = (empty.to_str().unwrap(), comments.to_str().unwrap());
    for (args, want) in [
        (&["nosuch0"][..], "no such network interface: 'nosuch0'"),
        (
            &["xd0", "--drop", "src 10.0.0.0/33"],
            "bad address '10.0.0.0/33'",
        ),
        (
            &["xd0", "--drop", "dst fd00::1/200"],
            "prefix length '200' is not 0-128",
        ),
        (
            &["xd0", "--drop", "src 10.0.0/8"],
            "is not an IPv4 or IPv6 address",
        ),
        (
            &["xd0", "--drop", "udp dst-port 65536"],
            "port 65536 is out of range (0-65535)",
        ),
        (
            &["xd0", "--drop", "tcp src-port 90000-90001"],
            "port 90000 is out of range",
        ),
        (&["xd0", "--drop", "proto tcpp"], "unknown protocol 'tcpp'"),
        (
            &["xd0", "--drop", "proto 300"],
            "protocol number 300 is out of range",
        ),
        (
            &["xd0", "--drop", "sctpx"],
            "unknown protocol or keyword 'sctpx'",
        ),
        (
            &["xd0", "--rules", f],
            "bad.rules:4: unknown protocol or keyword 'dst-prot'",
        ),
        (
            &["xd0", "--rules", "/nonexistent/x.rules"],
            "--rules /nonexistent/x.rules",
        ),
        (
            &["xd0", "--mode", "offload"],
            "hardware offload is not supported",
        ),
        (
            &["xd0", "--allow-only"],
            "--allow-only needs at least one rule",
        ),
        (
            &["xd0", "-d", "2", "--rules", empty],
            "empty.rules: the file has no rule (only blank lines or comments)",
        ),
        (
            &["xd0", "-d", "2", "--rules", comments],
            "comments.rules: the file has no rule",
        ),
        (
            &["xd0", "--malformed", "drop"],
            "--malformed needs at least one rule",
        ),
        // User text is echoed escaped, like kernel strings.
        (
            &["\x1b[2J\x1b]0;pwned\x07"],
            "no such network interface: '\\e[2J\\e]0;pwned\\x07'",
        ),
        (
            &["xd0", "--drop", "udp\x1b[31m"],
            "--drop 'udp\\e[31m': unknown protocol or keyword 'udp\\e[31m'",
        ),
        (
            &["lo", "--mode", "native"],
            "lo does not support native XDP",
        ),
    ] {
        let (st, out, err) = run(&net.a, args);
        assert_eq!(st.code(), Some(1), "{args:?}: {err}");
        let first = err.lines().next().unwrap_or("");
        assert!(
            first.starts_with("xdpdrop: error: ") && first.contains(want),
            "{args:?}: {err}"
        );
        assert_eq!(
            err.lines().count(),
            2,
            "{args:?}: one error and one hint: {err}"
        );
        assert!(err.lines().nth(1).unwrap().starts_with("hint: "), "{err}");
        assert!(out.is_empty(), "{args:?}: nothing on stdout: {out}");
        assert!(
            !err.contains('\x1b') && !err.contains('\x07'),
            "{args:?}: {err:?}"
        );
        assert!(
            !net.xdp_on("xd0") && !net.xdp_on("lo"),
            "{args:?} left a program attached"
        );
    }
}

// ---- parsing, through BPF_PROG_TEST_RUN on the attached program ----

fn eth(ty: u16) -> Vec<u8> {
    let mut p = vec![2, 0x77, 0, 0, 0, 1, 2, 0x77, 0, 0, 0, 2];
    p.extend(ty.to_be_bytes());
    p
}

fn ipv4(proto: u8, src: [u8; 4], frag: u16, opts: usize, payload: &[u8]) -> Vec<u8> {
    let hl = 20 + opts;
    let mut h = vec![0x40 | (hl / 4) as u8, 0];
    h.extend(((hl + payload.len()) as u16).to_be_bytes());
    h.extend([0, 1]);
    h.extend(frag.to_be_bytes());
    h.extend([64, proto, 0, 0]);
    h.extend(src);
    h.extend([10, 77, 0, 1]);
    h.extend(std::iter::repeat_n(1u8, opts)); // NOP options
    h.extend(payload);
    h
}

fn udp(dport: u16) -> Vec<u8> {
    let mut u = 4242u16.to_be_bytes().to_vec();
    u.extend(dport.to_be_bytes());
    u.extend([0, 12, 0, 0, b'd', b'a', b't', b'a']);
    u
}

/// IPv6 header, then extension headers `exts` (type, 8 bytes each, a
/// fragment header with offset `frag_off`), then `proto` and the payload.
fn ipv6(exts: &[u8], frag_off: u16, proto: u8, payload: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    for (i, &t) in exts.iter().enumerate() {
        let next = *exts.get(i + 1).unwrap_or(&proto);
        if t == 44 {
            body.extend([next, 0]);
            body.extend((frag_off << 3).to_be_bytes());
            body.extend([0, 0, 0, 1]);
        } else {
            body.extend([next, 0, 1, 4, 0, 0, 0, 0]); // hdrlen 0: 8 bytes, PadN
        }
    }
    body.extend(payload);
    let mut h = vec![0x60, 0, 0, 0];
    h.extend((body.len() as u16).to_be_bytes());
    h.push(*exts.first().unwrap_or(&proto));
    h.push(64);
    h.extend(B6.octets());
    h.extend(A6.octets());
    h.extend(body);
    h
}

/// XDP return value of program `id` for packet `pkt` (bpftool prog run).
fn verdict(id: u32, dir: &std::path::Path, pkt: &[u8]) -> u32 {
    let f = dir.join("pkt.bin");
    std::fs::write(&f, pkt).unwrap();
    let out = sh(&[
        "bpftool",
        "prog",
        "run",
        "id",
        &id.to_string(),
        "data_in",
        f.to_str().unwrap(),
        "repeat",
        "1",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    let v = text.split("Return value: ").nth(1).expect("bpftool output");
    v.split(',').next().unwrap().trim().parse().unwrap()
}

const DROP: u32 = 1;
const PASS: u32 = 2;

#[test]
fn parsing_vlans_options_extension_headers_fragments_and_junk() {
    let Some(_root) = root("parsing_vlans_options_extension_headers_fragments_and_junk") else {
        return;
    };
    let net = Net::new("parse");
    // Removed on drop, even when an assertion fails.
    let tmp = crate::util::TempDir::new(0o755);
    let dir = tmp.path().to_path_buf();
    let x = Xdp::start(
        &net.a,
        &[
            "xd0",
            "-j",
            "--drop",
            "udp dst-port 53",
            "--drop",
            "tcp src 10.9.0.0/16",
        ],
    );
    let id = x.prog_id();
    let cat = |parts: &[&[u8]]| parts.concat();
    let v4 = |frag, opts, l4: &[u8]| ipv4(17, [10, 77, 0, 2], frag, opts, l4);
    let vlan = |ty: u16, inner: u16| -> Vec<u8> {
        cat(&[&ty.to_be_bytes(), &[0, 5], &inner.to_be_bytes()])
    };
    let e = eth(0x0800);
    let mut malformed = 0;
    let mut check = |name: &str, pkt: Vec<u8>, want: u32, bad: bool| {
        assert_eq!(verdict(id, &dir, &pkt), want, "{name}");
        malformed += usize::from(bad);
    };
    check("udp/53", cat(&[&e, &v4(0, 0, &udp(53))]), DROP, false);
    check("udp/54", cat(&[&e, &v4(0, 0, &udp(54))]), PASS, false);
    let one = cat(&[
        &eth(0x8100)[..12],
        &vlan(0x8100, 0x0800),
        &v4(0, 0, &udp(53)),
    ]);
    check("802.1Q tag", one, DROP, false);
    let two = cat(&[
        &eth(0x88a8)[..12],
        &vlan(0x88a8, 0x8100),
        &[0, 6],
        &0x0800u16.to_be_bytes(),
        &v4(0, 0, &udp(53)),
    ]);
    check("QinQ (two tags)", two, DROP, false);
    let three = cat(&[
        &eth(0x8100)[..12],
        &vlan(0x8100, 0x8100),
        &[0, 6, 0x81, 0],
        &[0, 7, 8, 0],
        &v4(0, 0, &udp(53)),
    ]);
    check("three tags", three, DROP, false);
    check(
        "IPv4 options",
        cat(&[&e, &v4(0, 12, &udp(53))]),
        DROP,
        false,
    );
    check(
        "first fragment (MF)",
        cat(&[&e, &v4(0x2000, 0, &udp(53))]),
        DROP,
        false,
    );
    check(
        "non-first fragment",
        cat(&[&e, &v4(0x0001, 0, &udp(53))]),
        PASS,
        false,
    );
    check(
        "TCP from 10.9.1.1",
        cat(&[&e, &ipv4(6, [10, 9, 1, 1], 0, 0, &[0u8; 20])]),
        DROP,
        false,
    );
    check(
        "UDP from 10.9.1.1",
        cat(&[&e, &ipv4(17, [10, 9, 1, 1], 0, 0, &udp(80))]),
        PASS,
        false,
    );
    check(
        "non-first TCP fragment from 10.9.1.1 (CIDR rule)",
        cat(&[&e, &ipv4(6, [10, 9, 1, 1], 0x0001, 0, &[0u8; 8])]),
        DROP,
        false,
    );
    let e6 = eth(0x86dd);
    check(
        "IPv6 udp/53",
        cat(&[&e6, &ipv6(&[], 0, 17, &udp(53))]),
        DROP,
        false,
    );
    check(
        "IPv6 hop-by-hop + dstopts",
        cat(&[&e6, &ipv6(&[0, 60], 0, 17, &udp(53))]),
        DROP,
        false,
    );
    check(
        "IPv6 first fragment",
        cat(&[&e6, &ipv6(&[44], 0, 17, &udp(53))]),
        DROP,
        false,
    );
    check(
        "IPv6 non-first fragment",
        cat(&[&e6, &ipv6(&[44], 1, 17, &udp(53))]),
        PASS,
        false,
    );
    check(
        "IPv6 8 extension headers",
        cat(&[&e6, &ipv6(&[60; 8], 0, 17, &udp(53))]),
        DROP,
        false,
    );
    check(
        "IPv6 9 extension headers (rule 1 may match: undecided)",
        cat(&[&e6, &ipv6(&[60; 9], 0, 17, &udp(53))]),
        PASS,
        true,
    );
    check(
        "IPv6 non-first fragment, then an extension header (protocol unknown, no rule can match)",
        cat(&[&e6, &ipv6(&[44, 60], 1, 17, &udp(53))]),
        PASS,
        false,
    );
    check("ARP", cat(&[&eth(0x0806), &[0u8; 28]]), PASS, false);
    check(
        "truncated IPv4 header (nothing above the MAC known)",
        cat(&[&e, &v4(0, 0, &udp(53))[..10]]),
        PASS,
        true,
    );
    check(
        "IPv4 options cut, not TCP / UDP (all rules need is there)",
        cat(&[&e, &ipv4(1, [10, 77, 0, 2], 0, 40, &[])[..40]]),
        PASS,
        false,
    );
    check(
        "IPv4 IHL 4",
        cat(&[&e, &[0x44], &v4(0, 0, &udp(53))[1..]]),
        PASS,
        true,
    );
    check(
        "IPv4 options cut",
        cat(&[&e, &v4(0, 40, &[])[..40]]),
        PASS,
        true,
    );
    check(
        "truncated UDP header (the ports are there)",
        cat(&[&e, &v4(0, 0, &udp(53)[..6])]),
        DROP,
        false,
    );
    check(
        "UDP header cut in the ports",
        cat(&[&e, &v4(0, 0, &udp(53)[..3])]),
        PASS,
        true,
    );
    check(
        "truncated TCP header from 10.9.1.1 (rule 2 needs no ports)",
        cat(&[&e, &ipv4(6, [10, 9, 1, 1], 0, 0, &[])]),
        DROP,
        false,
    );
    check(
        "IPv6 version 4",
        cat(&[&e6, &[0x40], &ipv6(&[], 0, 17, &udp(53))[1..]]),
        PASS,
        true,
    );
    check(
        "truncated IPv6 extension header",
        cat(&[&e6, &ipv6(&[0], 0, 17, &[])[..44]]),
        PASS,
        true,
    );
    check("VLAN tag cut", cat(&[&eth(0x8100), &[0, 5]]), PASS, true);
    let (st, out, _) = x.stop(SIGINT);
    assert_eq!(st.code(), Some(0));
    let s = summary(&out);
    assert_eq!(action(&s, "malformed") as usize, malformed, "{s}");
    assert_eq!(action(&s, "aborted"), 0);
}

#[test]
fn thousand_cidr_rules() {
    let Some(_root) = root("thousand_cidr_rules") else {
        return;
    };
    let net = Net::new("cidr1000");
    // Removed on drop, even when an assertion fails.
    let tmp = crate::util::TempDir::new(0o755);
    let dir = tmp.path().to_path_buf();
    let rules: String = (0..1000)
        .map(|i| format!("src 10.{}.{}.0/24\n", 100 + i / 256, i % 256))
        .collect();
    std::fs::write(dir.join("r"), rules).unwrap();
    let x = Xdp::start(
        &net.a,
        &["xd0", "-j", "--rules", dir.join("r").to_str().unwrap()],
    );
    let id = x.prog_id();
    let pkt = |src: [u8; 4]| [eth(0x0800), ipv4(17, src, 0, 0, &udp(9))].concat();
    assert_eq!(verdict(id, &dir, &pkt([10, 103, 231, 7])), DROP); // rule 1000
    assert_eq!(verdict(id, &dir, &pkt([10, 100, 0, 1])), DROP); // rule 1
    assert_eq!(verdict(id, &dir, &pkt([10, 103, 232, 1])), PASS);
    let (st, out, _) = x.stop(SIGINT);
    assert_eq!(st.code(), Some(0));
    let r = rule_packets(&summary(&out));
    assert_eq!(
        (r.len(), r[0], r[999], r.iter().sum::<u64>()),
        (1000, 1, 1, 2)
    );
}

/// The program loads whatever the rules: every subset of the rule
/// dimensions, every address-family mix, with 1 and 16 bitmap words (up to
/// 1 024 rules), in every mode; and the worst case stays far from the
/// verifier's limit (1M instructions).
#[test]
fn verifier_accepts_every_kind_of_rule_set() {
    let Some(_root) = root("verifier_accepts_every_kind_of_rule_set") else {
        return;
    };
    use corescope::skel::xdpdrop::XdpdropSkelBuilder;
    use corescope::tools::xdpdrop::rules::dim;
    use libbpf_rs::query::ProgInfoIter;
    use libbpf_rs::skel::{OpenSkel, SkelBuilder};
    use std::os::fd::AsFd;
    let main = [
        dim::PROTO,
        dim::SRC | dim::SRC4 | dim::SRC6,
        dim::DST | dim::DST4 | dim::DST6,
        dim::SPORT,
        dim::DPORT,
        dim::MAC,
    ];
    let mut sets: Vec<u32> = (0..64u32)
        .map(|m| (0..6).filter(|b| m & (1 << b) != 0).map(|b| main[b]).sum())
        .collect();
    sets.extend((0..16).map(|f| dim::SRC | dim::DST | (f << 6)));
    let mut worst = (0, 0, 0);
    for (k, &dims) in sets.iter().enumerate() {
        for nwords in [1u32, 16] {
            let mut storage = std::mem::MaybeUninit::uninit();
            let mut open = XdpdropSkelBuilder::default().open(&mut storage).unwrap();
            let c = &mut open.maps.rodata_data.as_deref_mut().unwrap().xd_cfg;
            let flags = (k as u32 + nwords) % 4;
            (c.dims, c.nwords) = (dims, nwords);
            (c.allow_only, c.dry_run) = ((flags & 1) as u8, (flags >> 1) as u8);
            c.drop_all = u8::from(dims == 0 && nwords == 16);
            let skel = match open.load() {
                Ok(s) => s,
                Err(e) => panic!("dims {dims:#x}, {nwords} words, flags {flags}: {e}"),
            };
            let id = libbpf_rs::Program::id_from_fd(skel.progs.xdpdrop.as_fd()).unwrap();
            let info = ProgInfoIter::default().find(|p| p.id == id).unwrap();
            worst = worst.max((info.verified_insns, dims, nwords));
        }
    }
    eprintln!(
        "{} configurations; most verified instructions: {worst:?}",
        sets.len() * 2
    );
    assert!(worst.0 < 200_000, "{worst:?}");
}

// ---- failing closed: crafted frames injected on the wire (AF_PACKET) ----

/// An AF_PACKET socket bound to `dev` in `ns`, for every protocol. Packet
/// taps see a received frame after XDP: one dropped there never shows.
fn packet_socket(ns: &str, dev: &str) -> UdpSocket {
    let dev = std::ffi::CString::new(dev).unwrap();
    in_ns(ns, move || {
        let proto = (libc::ETH_P_ALL as u16).to_be();
        // SAFETY: plain socket(2); the fd is owned right away.
        let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, proto as i32) };
        assert!(
            fd >= 0,
            "packet socket: {}",
            std::io::Error::last_os_error()
        );
        // SAFETY: a new fd owned by nobody else. As in ping(), a UdpSocket
        // only wraps the fd: send / recv / timeouts work on it.
        let s = UdpSocket::from(unsafe { OwnedFd::from_raw_fd(fd) });
        // SAFETY: dev is a valid C string for the call.
        let ifindex = unsafe { libc::if_nametoindex(dev.as_ptr()) };
        assert!(ifindex > 0, "{dev:?}");
        // SAFETY: sockaddr_ll is plain data; all zero is a valid value.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = proto;
        sll.sll_ifindex = ifindex as i32;
        use std::os::fd::AsRawFd;
        // SAFETY: sll is a valid sockaddr_ll of the size given.
        let r = unsafe {
            libc::bind(
                s.as_raw_fd(),
                (&sll as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            )
        };
        assert_eq!(r, 0, "bind: {}", std::io::Error::last_os_error());
        s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
        s
    })
}

/// Offset of the L3 header of an Ethernet frame (after any VLAN tags).
fn l3_offset(f: &[u8]) -> usize {
    let mut off = 12;
    while f.len() >= off + 4 && matches!(u16::from_be_bytes([f[off], f[off + 1]]), 0x8100 | 0x88a8)
    {
        off += 4;
    }
    off + 2
}

/// `f` with IPv4 ID / IPv6 flow label `tag`, so that every frame sent is
/// unique from its L3 header on (what a tap shows of it: the kernel strips
/// the outer VLAN tag before the taps).
fn tagged(f: &[u8], tag: u16) -> Vec<u8> {
    let mut f = f.to_vec();
    let l3 = l3_offset(&f);
    match u16::from_be_bytes([f[l3 - 2], f[l3 - 1]]) {
        0x0800 if f.len() >= l3 + 6 => f[l3 + 4..l3 + 6].copy_from_slice(&tag.to_be_bytes()),
        0x86dd if f.len() >= l3 + 4 => f[l3 + 2..l3 + 4].copy_from_slice(&tag.to_be_bytes()),
        _ => panic!("frame without room for a tag: {f:02x?}"),
    }
    f
}

/// Sends each frame from xd1 (namespace B) as it is; returns which ones
/// reached xd0's packet taps in A (passed by XDP there).
fn arrivals(net: &Net, frames: &[Vec<u8>]) -> Vec<bool> {
    let rx = packet_socket(&net.a, "xd0");
    let tx = packet_socket(&net.b, "xd1");
    let frames: Vec<Vec<u8>> = frames
        .iter()
        .enumerate()
        .map(|(i, f)| tagged(f, 0x5100 + i as u16))
        .collect();
    for f in &frames {
        tx.send(f).unwrap();
    }
    let (mut got, mut buf) = (vec![false; frames.len()], [0u8; 4096]);
    let end = Instant::now() + Duration::from_millis(700);
    while Instant::now() < end && got.contains(&false) {
        let Ok(n) = rx.recv(&mut buf) else { continue };
        for (g, f) in got.iter_mut().zip(&frames) {
            let tail = &f[l3_offset(f)..];
            *g |= n >= tail.len() && buf[..n].ends_with(tail);
        }
    }
    got
}

/// Runs xdpdrop on xd0 with `args` (and -j), injects the frames, and checks
/// which arrive; returns the JSON summary.
fn decide(net: &Net, args: &[&str], cases: &[(&str, Vec<u8>, bool)]) -> serde_json::Value {
    let mut all = vec!["xd0", "-j"];
    all.extend(args);
    let x = Xdp::start(&net.a, &all);
    assert!(
        x.stderr().contains("attached to"),
        "{args:?}: {}",
        x.stderr()
    );
    let frames: Vec<Vec<u8>> = cases.iter().map(|c| c.1.clone()).collect();
    let got = arrivals(net, &frames);
    let (st, out, err) = x.stop(SIGINT);
    assert_eq!(st.code(), Some(0), "{err}");
    for ((name, _, want), got) in cases.iter().zip(got) {
        let say = if *want { "dropped" } else { "passed" };
        assert_eq!(got, *want, "{args:?}: {name}: {say}");
    }
    summary(&out)
}

fn eth_frame(ty: u16, l3: &[u8]) -> Vec<u8> {
    [eth(ty), l3.to_vec()].concat()
}

/// The IPv6 fragment header right after the fixed header gets its M flag.
fn more_fragments(mut ip6: Vec<u8>) -> Vec<u8> {
    ip6[43] |= 1;
    ip6
}

#[test]
fn ipv6_beyond_the_extension_header_walk_fails_closed() {
    let Some(_root) = root("ipv6_beyond_the_extension_header_walk_fails_closed") else {
        return;
    };
    let net = Net::new("ext9");
    // Hop-by-Hop + 8 Destination Options, then UDP to port 53: one more
    // extension header than the parser walks.
    let mut exts = vec![0u8];
    exts.extend([60; 8]);
    let deep = eth_frame(0x86dd, &ipv6(&exts, 0, 17, &udp(53)));
    let plain = eth_frame(0x86dd, &ipv6(&[], 0, 17, &udp(9)));
    let cases = |deep_arrives| {
        vec![
            ("9 extension headers", deep.clone(), deep_arrives),
            ("plain UDP/9", plain.clone(), true),
        ]
    };
    // Its known field (the source address) decides when a rule tests only that.
    let s = decide(&net, &["--drop", "src fd77::2/128"], &cases(false)[..1]);
    assert_eq!(
        (rule_packets(&s)[0], action(&s, "malformed")),
        (1, 0),
        "{s}"
    );
    // A rule on fields it hides (protocol, port): --malformed decides,
    // pass by default with drop rules.
    let s = decide(&net, &["--drop", "udp dst-port 53"], &cases(true));
    assert_eq!(
        (action(&s, "malformed"), s["malformed"].as_str()),
        (1, Some("pass")),
        "{s}"
    );
    let s = decide(
        &net,
        &["--drop", "udp dst-port 53", "--malformed", "drop"],
        &cases(false),
    );
    assert_eq!((action(&s, "malformed"), action(&s, "drop")), (1, 1), "{s}");
    // A rule it cannot match whatever it hides (another source): no match.
    let s = decide(&net, &["--drop", "udp src fd99::/16"], &cases(true));
    assert_eq!(action(&s, "malformed"), 0, "{s}");
    // --allow-only: dropped unless a rule passes it on its known fields.
    let allow = ["--allow-only", "--drop", "udp dst-port 9"];
    let s = decide(&net, &allow, &cases(false));
    assert_eq!(
        (action(&s, "malformed"), s["malformed"].as_str()),
        (1, Some("drop")),
        "{s}"
    );
    let s = decide(
        &net,
        &["--allow-only", "--drop", "src fd77::2"],
        &cases(true),
    );
    assert_eq!(rule_packets(&s)[0], 2, "{s}");
    let s = decide(
        &net,
        &[&allow[..], &["--malformed", "pass"]].concat(),
        &cases(true),
    );
    assert_eq!((action(&s, "malformed"), action(&s, "pass")), (1, 2), "{s}");
}

#[test]
fn fragments_cannot_bypass_port_rules() {
    let Some(_root) = root("fragments_cannot_bypass_port_rules") else {
        return;
    };
    let net = Net::new("frag");
    let b4 = B4.octets();
    // A TCP SYN to port 80 cut into fragments: 8 bytes, then the rest.
    let mut syn = 4242u16.to_be_bytes().to_vec();
    syn.extend(80u16.to_be_bytes());
    syn.extend([0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0]);
    let v4_first = eth_frame(0x0800, &ipv4(6, b4, 0x2000, 0, &syn[..8]));
    let v4_rest = eth_frame(0x0800, &ipv4(6, b4, 0x0001, 0, &syn[8..]));
    let v4_empty_first = eth_frame(0x0800, &ipv4(6, b4, 0x2000, 0, &[]));
    let v6_first = eth_frame(0x86dd, &more_fragments(ipv6(&[44], 0, 6, &syn[..8])));
    let v6_rest = eth_frame(0x86dd, &ipv6(&[44], 1, 6, &syn[8..]));
    // A first fragment whose header chain goes on in the next fragment:
    // it ends after a Destination Options header (TCP would follow), or
    // inside the second one.
    let v6_chain = eth_frame(0x86dd, &more_fragments(ipv6(&[44, 60], 0, 6, &[])));
    let mut cut = more_fragments(ipv6(&[44, 60, 60], 0, 6, &[]));
    cut.truncate(40 + 16);
    let v6_cut = eth_frame(0x86dd, &cut);
    let s = decide(
        &net,
        &["--drop", "tcp dst-port 80"],
        &[
            ("IPv4 first fragment, 8 bytes", v4_first.clone(), false),
            ("IPv4 non-first fragment (no ports)", v4_rest.clone(), true),
            (
                "IPv4 first fragment, no L4 bytes",
                v4_empty_first.clone(),
                false,
            ),
            ("IPv6 first fragment, 8 bytes", v6_first.clone(), false),
            ("IPv6 non-first fragment", v6_rest.clone(), true),
            (
                "IPv6 first fragment, chain goes on",
                v6_chain.clone(),
                false,
            ),
            (
                "IPv6 first fragment, cut in a header",
                v6_cut.clone(),
                false,
            ),
        ],
    );
    assert_eq!(
        (rule_packets(&s)[0], action(&s, "malformed")),
        (5, 0),
        "{s}"
    );
    // Under --allow-only an allow rule with ports does not pass a fragment
    // whose ports are not there: undecided, dropped by default.
    let allow = [
        "--allow-only",
        "--drop",
        "tcp dst-port 80",
        "--drop",
        "tcp src 10.77.0.0/24 dst-port 22",
    ];
    let s = decide(
        &net,
        &allow,
        &[
            (
                "IPv4 first fragment to 80 (ports there)",
                v4_first.clone(),
                true,
            ),
            (
                "IPv4 first fragment, no L4 bytes",
                v4_empty_first.clone(),
                false,
            ),
            (
                "IPv6 first fragment, chain goes on",
                v6_chain.clone(),
                false,
            ),
            (
                "IPv6 first fragment, cut in a header",
                v6_cut.clone(),
                false,
            ),
        ],
    );
    assert_eq!((action(&s, "malformed"), action(&s, "pass")), (3, 1), "{s}");
    let s = decide(
        &net,
        &[&allow[..], &["--malformed", "pass"]].concat(),
        &[("IPv6 first fragment, chain goes on", v6_chain, true)],
    );
    assert_eq!(action(&s, "malformed"), 1, "{s}");
}

#[test]
fn vlan_tags_cannot_hide_ip() {
    let Some(_root) = root("vlan_tags_cannot_hide_ip") else {
        return;
    };
    let net = Net::new("vlan");
    // n tags (802.1ad outside, 802.1Q inside), then IPv4 UDP to port `port`.
    let tags = |n: usize, port: u16| {
        let mut f = eth(0x88a8)[..12].to_vec();
        for i in 0..n {
            f.extend(if i == 0 { 0x88a8u16 } else { 0x8100 }.to_be_bytes());
            f.extend((10 + i as u16).to_be_bytes());
        }
        f.extend(0x0800u16.to_be_bytes());
        f.extend(ipv4(17, B4.octets(), 0, 0, &udp(port)));
        f
    };
    let cases = |deep_arrives| {
        vec![
            ("3 tags, UDP/53", tags(3, 53), false),
            ("8 tags, UDP/53", tags(8, 53), false),
            ("3 tags, UDP/54", tags(3, 54), true),
            (
                "9 tags (more than walked), UDP/53",
                tags(9, 53),
                deep_arrives,
            ),
        ]
    };
    let s = decide(&net, &["--drop", "udp dst-port 53"], &cases(true));
    assert_eq!(
        (rule_packets(&s)[0], action(&s, "malformed")),
        (2, 1),
        "{s}"
    );
    let s = decide(
        &net,
        &["--drop", "udp dst-port 53", "--malformed", "drop"],
        &cases(false),
    );
    assert_eq!(
        (rule_packets(&s)[0], action(&s, "malformed")),
        (2, 1),
        "{s}"
    );
}

/// The common part of a summary: the JSON fields every tool's `summary`
/// record has (with lost_detail's keys), and the shape of the stderr line.
fn common_summary(tool: &str, out: &str, err: &str) -> (Vec<String>, Vec<String>) {
    let s = summary(out);
    let common = ["events", "shown", "lost", "lost_detail", "duration_s"];
    for k in common {
        assert!(!s[k].is_null(), "{tool}: no {k} in {s}");
    }
    assert_eq!(s["lost"], 0, "{tool}: {s}");
    let detail = s["lost_detail"].as_object().unwrap();
    let line = err
        .lines()
        .find(|l| l.starts_with(&format!("{tool}: ")) && l.contains(" events, "))
        .unwrap_or_else(|| panic!("{tool}: no summary line in: {err}"));
    // `<tool>: N events, N shown, N lost[; N label, ...]`
    let words: Vec<&str> = line
        .split([' ', ',', ';'])
        .filter(|w| !w.is_empty())
        .collect();
    assert_eq!(words[0], format!("{tool}:"), "{line}");
    let shape: Vec<String> = words[1..7]
        .iter()
        .map(|w| {
            if w.parse::<u64>().is_ok() {
                "N".to_string()
            } else {
                w.to_string()
            }
        })
        .collect();
    assert_eq!(
        s["events"].as_u64().unwrap().to_string(),
        words[1],
        "{line}"
    );
    (detail.keys().cloned().collect(), shape)
}

#[test]
fn the_interval_summary_has_the_stream_summary_s_common_fields() {
    let Some(_root) = root("the_interval_summary_has_the_stream_summary_s_common_fields") else {
        return;
    };
    let net = Net::new("sum");
    let (st, out, err) = run(&net.a, &["xd0", "-j", "-d", "1", "--drop", "udp"]);
    assert_eq!(st.code(), Some(0), "{err}");
    let xdp = common_summary("xdpdrop", &out, &err);
    // The tool's own totals are still there.
    let s = summary(&out);
    assert_eq!(s["iface"], "xd0", "{s}");
    assert!(s["actions"]["drop"]["packets"].is_u64(), "{s}");
    let exec = Command::new(tool("execsnoop"))
        .args(["-j", "-d", "1"])
        .output()
        .unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    assert!(exec.status.success(), "{}", text(&exec.stderr));
    let ex = common_summary("execsnoop", &text(&exec.stdout), &text(&exec.stderr));
    assert_eq!(xdp, ex);
    assert_eq!(xdp.1, ["N", "events", "N", "shown", "N", "lost"]);
    // Events are the interval rows, in the table as in JSON: the final
    // "total" rows of the table are not events.
    let (st, out, err) = run(&net.a, &["xd0", "-d", "1", "--drop", "udp"]);
    assert_eq!(st.code(), Some(0), "{err}");
    let rows = out
        .lines()
        .filter(|l| l.as_bytes().first().is_some_and(u8::is_ascii_digit))
        .count();
    let events: usize = err
        .lines()
        .find_map(|l| {
            l.strip_prefix("xdpdrop: ")?
                .split_once(" events, ")?
                .0
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("no summary line in {err}"));
    assert!(rows > 0, "{out}");
    assert_eq!(events, rows, "stdout:\n{out}\nstderr:\n{err}");
}

/// `GET /metrics` from inside `ns` (where xdpdrop's endpoint listens).
fn metrics_in(ns: &str, addr: &'static str) -> String {
    in_ns(ns, move || {
        use std::io::Write as _;
        let Ok(mut s) = std::net::TcpStream::connect(addr) else {
            return String::new();
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
        let _ = write!(s, "GET /metrics HTTP/1.0\r\n\r\n");
        let mut body = String::new();
        let _ = s.read_to_string(&mut body);
        body
    })
}

#[test]
fn prometheus_counts_the_rules_packets_exactly() {
    let Some(_root) = root("prometheus_counts_the_rules_packets_exactly") else {
        return;
    };
    let net = Net::new("prom");
    let _socks = listen(&net.a, &[sa(A4, 5001)]);
    const ADDR: &str = "127.0.0.1:21407";
    let x = Xdp::start(
        &net.a,
        &["xd0", "--drop", "udp dst-port 5001", "--prometheus", ADDR],
    );
    assert!(net.xdp_on("xd0"), "{}", x.stderr());
    send(&net.b, B4.into(), sa(A4, 5001), 37);
    let series = r#"corescope_xdpdrop_packets_total{kind="rule",name="udp dst-port 5001"} "#;
    let end = Instant::now() + Duration::from_secs(10);
    let mut body = String::new();
    while Instant::now() < end {
        body = metrics_in(&net.a, ADDR);
        if body.lines().any(|l| l == format!("{series}37")) {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        body.lines().any(|l| l == format!("{series}37")),
        "{body}\n{}",
        x.stderr()
    );
    assert!(
        body.contains(r#"corescope_xdpdrop_packets_total{kind="action",name="drop"} 37"#),
        "{body}"
    );
    let (st, out, err) = x.stop(SIGTERM);
    assert_eq!(st.code(), Some(0), "{err}");
    assert!(
        out.is_empty(),
        "serving metrics, xdpdrop prints no table: {out}"
    );
}
