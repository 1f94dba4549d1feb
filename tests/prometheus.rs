//! `--prometheus` and `corescope exporter`, scraped by a real Prometheus
//! server (Debian's `prometheus`, started here on loopback with a generated
//! config and its data in a temp dir) and checked by `promtool check
//! metrics`; the oracles are the workloads' own counts (direct I/Os on a
//! loop device, a helper's getppid calls). Ports are fixed, outside the
//! ephemeral range (32768–60999), next to the other tests' (213xx).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::block_workload::Loop;
use crate::util::{root_or_skip, syscalls_helper, tool, ChildGuard, TempDir, ToolRun};

/// GET `path` from `addr` (HTTP/1.0: the server closes when done):
/// (status, body), or None when the connection failed.
fn http_get(addr: &str, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).ok()?;
    let resp = String::from_utf8_lossy(&resp).into_owned();
    let (head, body) = resp.split_once("\r\n\r\n")?;
    let code = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((code, body.to_string()))
}

/// The value of the sample `series` (exact text before the value) in a
/// `/metrics` body.
fn sample(body: &str, series: &str) -> Option<f64> {
    body.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// Polls `addr`'s /metrics until `series` has value `want` (at most
/// `timeout`); returns the last body.
fn wait_sample(addr: &str, series: &str, want: f64, timeout: Duration) -> String {
    let end = Instant::now() + timeout;
    loop {
        let body = http_get(addr, "/metrics")
            .map(|(_, b)| b)
            .unwrap_or_default();
        if sample(&body, series) == Some(want) || Instant::now() >= end {
            return body;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `promtool check metrics` on `body`: its exit status and output.
fn promtool(body: &str) -> (bool, String) {
    let mut c = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (make deps installs Debian's prometheus)");
    c.stdin.take().map(|mut i| i.write_all(body.as_bytes()));
    let out = c.wait_with_output().expect("promtool");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

/// A Prometheus server scraping `target` every second, its web API on
/// `web`; killed (by PID) and its data removed on drop.
struct Prometheus {
    web: String,
    _child: ChildGuard,
    _dir: TempDir,
}

impl Prometheus {
    fn start(target: &str, web: &str) -> Self {
        let dir = TempDir::new(0o700);
        let cfg = dir.path().join("prometheus.yml");
        std::fs::write(
            &cfg,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\n\
                 scrape_configs:\n  - job_name: corescope\n    static_configs:\n      - targets: ['{target}']\n"
            ),
        )
        .expect("prometheus.yml");
        let child = ChildGuard::spawn(
            Command::new("prometheus")
                .arg(format!("--config.file={}", cfg.display()))
                .arg(format!(
                    "--storage.tsdb.path={}",
                    dir.path().join("data").display()
                ))
                .arg(format!("--web.listen-address={web}"))
                .arg("--log.level=warn")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        );
        let p = Self {
            web: web.to_string(),
            _child: child,
            _dir: dir,
        };
        let end = Instant::now() + Duration::from_secs(30);
        while http_get(web, "/-/ready").map(|r| r.0) != Some(200) {
            assert!(
                Instant::now() < end,
                "prometheus not ready on {web} after 30 s"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        p
    }

    /// The value of instant query `q` (its first series), if any.
    fn query(&self, q: &str) -> Option<f64> {
        let enc: String = q
            .bytes()
            .map(|b| match b {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'.' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect();
        let (code, body) = http_get(&self.web, &format!("/api/v1/query?query={enc}"))?;
        assert_eq!(code, 200, "query {q}: {body}");
        let v: serde_json::Value = serde_json::from_str(&body).expect("query JSON");
        v["data"]["result"][0]["value"][1].as_str()?.parse().ok()
    }

    /// Waits until `q` is `want` (at most `timeout`); returns the last value.
    fn wait_for(&self, q: &str, want: f64, timeout: Duration) -> Option<f64> {
        let end = Instant::now() + timeout;
        loop {
            let v = self.query(q);
            if v == Some(want) || Instant::now() >= end {
                return v;
            }
            std::thread::sleep(Duration::from_millis(300));
        }
    }
}

#[test]
fn a_real_prometheus_scrapes_biolatency_histograms() {
    let Some(_g) = root_or_skip("a_real_prometheus_scrapes_biolatency_histograms") else {
        return;
    };
    const ADDR: &str = "127.0.0.1:21401";
    let lp = Loop::new();
    let mut t = ToolRun::start(
        "biolatency",
        &["-D", "--disk", lp.name(), "--prometheus", ADDR, "-v"],
        Stdio::null(),
    );
    t.wait_ready(Duration::from_secs(30));
    // The oracle: 40 + 24 direct 4 KiB I/Os, each one request.
    let _f = lp.direct_io(40, 24);
    let prom = Prometheus::start(ADDR, "127.0.0.1:21402");
    let disk = lp.name();
    let count = format!("corescope_biolatency_seconds_count{{disk=\"{disk}\"}}");
    let inf = format!("corescope_biolatency_seconds_bucket{{disk=\"{disk}\",le=\"+Inf\"}}");
    let scrapes = format!("count_over_time({count}[10m])");
    let long = Duration::from_secs(20);
    assert_eq!(
        prom.wait_for(&count, 64.0, long),
        Some(64.0),
        "{}",
        t.stderr_now()
    );
    assert_eq!(prom.query(&inf), Some(64.0));
    // At least two scrapes saw the series; the buckets add up to the count.
    let seen = prom.wait_for(&format!("{scrapes} >= 2"), 2.0, long);
    assert!(prom.query(&scrapes).is_some_and(|n| n >= 2.0), "{seen:?}");
    let lowest =
        format!("sum(corescope_biolatency_seconds_bucket{{disk=\"{disk}\",le=\"2e-06\"}})");
    assert!(prom.query(&lowest).is_some_and(|n| n <= 64.0));
    // Never reset between scrapes: 10 more I/Os add to the 64.
    let _g2 = lp.direct_io(10, 0);
    assert_eq!(prom.wait_for(&count, 74.0, long), Some(74.0));
    let sum = prom.query(&format!(
        "corescope_biolatency_seconds_sum{{disk=\"{disk}\"}}"
    ));
    assert!(sum.is_some_and(|s| s > 0.0 && s < 74.0), "{sum:?}");

    let (code, body) = http_get(ADDR, "/metrics").expect("GET /metrics");
    assert_eq!(code, 200);
    assert!(
        body.contains("# TYPE corescope_biolatency_seconds histogram"),
        "{body}"
    );
    let (ok, why) = promtool(&body);
    assert!(ok, "promtool check metrics: {why}\n{body}");
    t.signal(Signal::SIGINT);
    let f = t.wait(Duration::from_secs(10));
    assert_eq!(f.code(), 0, "{}", f.stderr);
    assert!(
        f.stdout.is_empty(),
        "an interval tool serving metrics prints no tables: {}",
        f.stdout
    );
}

#[test]
fn syscount_rows_are_exact_counters_and_hostile_clients_stall_nothing() {
    let Some(_g) =
        root_or_skip("syscount_rows_are_exact_counters_and_hostile_clients_stall_nothing")
    else {
        return;
    };
    const ADDR: &str = "127.0.0.1:21403";
    let mut helper = ChildGuard::spawn(
        Command::new(syscalls_helper())
            .args(["-w", "getppid", "1000"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null()),
    );
    let pid = helper.pid().to_string();
    let mut t = ToolRun::start(
        "syscount",
        &["-p", &pid, "--prometheus", ADDR, "-v"],
        Stdio::null(),
    );
    t.wait_ready(Duration::from_secs(30));
    // Hostile clients first: half a request left hanging, garbage, and a
    // request whose response is never read.
    let mut half = TcpStream::connect(ADDR).expect("connect");
    half.write_all(b"GET /metr").expect("half a request");
    let mut junk = TcpStream::connect(ADDR).expect("connect");
    junk.write_all(b"\x00\xff\xfe not http at all\r\n\r\n")
        .expect("garbage");
    let mut mute = TcpStream::connect(ADDR).expect("connect");
    mute.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("request");

    helper.0.stdin.take().map(|mut i| i.write_all(b"g"));
    assert!(helper.wait_timeout(Duration::from_secs(10)).success());
    let series = r#"corescope_syscount_calls_total{syscall="getppid",nr="110"}"#;
    let started = Instant::now();
    let body = wait_sample(ADDR, series, 1000.0, Duration::from_secs(10));
    assert_eq!(
        sample(&body, series),
        Some(1000.0),
        "{body}\n{}",
        t.stderr_now()
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "scrapes were slow"
    );
    let (ok, why) = promtool(&body);
    assert!(ok, "promtool check metrics: {why}\n{body}");
    // Other paths and methods.
    assert_eq!(http_get(ADDR, "/nothing").map(|r| r.0), Some(404));
    // Garbage gets an error response (or the connection closed).
    let mut buf = [0u8; 64];
    junk.set_read_timeout(Some(Duration::from_secs(5))).ok();
    if let Ok(n) = junk.read(&mut buf) {
        let head = String::from_utf8_lossy(&buf[..n]);
        assert!(n == 0 || head.starts_with("HTTP/1.1 4"), "{head}");
    }
    // The tool ends at once, with the hanging client still connected.
    let at = Instant::now();
    t.signal(Signal::SIGTERM);
    let f = t.wait(Duration::from_secs(10));
    assert_eq!(f.code(), 0, "{}", f.stderr);
    assert!(at.elapsed() < Duration::from_secs(3), "{:?}", at.elapsed());
    drop((half, mute));
}

#[test]
fn bad_addresses_and_busy_ports_are_one_line_errors() {
    let Some(_g) = root_or_skip("bad_addresses_and_busy_ports_are_one_line_errors") else {
        return;
    };
    let busy = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let port = busy.local_addr().expect("addr").port();
    let taken = format!("127.0.0.1:{port}");
    for (args, says) in [
        (
            vec!["runqlat", "--prometheus", "nonsense"],
            "is not ADDR:PORT",
        ),
        (
            vec!["runqlat", "--prometheus", "127.0.0.1"],
            "is not ADDR:PORT",
        ),
        (vec!["syscount", "--prometheus", &taken], "cannot listen on"),
        (
            vec!["execsnoop", "--prometheus", &taken],
            "cannot listen on",
        ),
    ] {
        let out = Command::new(tool(args[0]))
            .args(&args[1..])
            .stdin(Stdio::null())
            .output()
            .expect("run");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(
            err.contains(says) && err.contains("hint: "),
            "{args:?}: {err}"
        );
        assert!(
            !err.contains("tracing"),
            "{args:?} loaded before failing: {err}"
        );
    }
}

#[test]
fn the_exporter_serves_several_tools_and_stops_with_them() {
    let Some(_g) = root_or_skip("the_exporter_serves_several_tools_and_stops_with_them") else {
        return;
    };
    const ADDR: &str = "127.0.0.1:21405";
    let mut t = ToolRun::start(
        "corescope",
        &[
            "exporter",
            "--listen",
            ADDR,
            "runqlat",
            "-v",
            "--",
            "syscount",
            "-v",
            "--",
            "execsnoop",
            "-v",
        ],
        Stdio::null(),
    );
    let end = Instant::now() + Duration::from_secs(30);
    while t.stderr_now().matches(": tracing, ").count() < 3 {
        assert!(Instant::now() < end, "not all attached: {}", t.stderr_now());
        std::thread::sleep(Duration::from_millis(100));
    }
    let execs = r#"corescope_events_total{tool="execsnoop"}"#;
    let before = http_get(ADDR, "/metrics")
        .and_then(|(_, b)| sample(&b, execs))
        .unwrap_or(0.0);
    for _ in 0..5 {
        assert!(Command::new("/bin/true").status().expect("true").success());
    }
    std::thread::sleep(Duration::from_millis(1500));
    let (code, body) = http_get(ADDR, "/metrics").expect("GET /metrics");
    assert_eq!(code, 200);
    for family in [
        "# TYPE corescope_runqlat_seconds histogram",
        "# TYPE corescope_syscount_calls_total counter",
        "# TYPE corescope_events_total counter",
    ] {
        assert!(body.contains(family), "{family} not in:\n{body}");
    }
    let after = sample(&body, execs).unwrap_or(0.0);
    assert!(after - before >= 5.0, "{before} -> {after}");
    let (ok, why) = promtool(&body);
    assert!(ok, "promtool check metrics: {why}");
    t.signal(Signal::SIGTERM);
    let f = t.wait(Duration::from_secs(10));
    assert_eq!(f.code(), 0, "{}", f.stderr);

    // One tool failing stops the others, exit 1 (systemd restarts it).
    let mut t = ToolRun::start(
        "corescope",
        &[
            "exporter",
            "--listen",
            "127.0.0.1:21406",
            "runqlat",
            "--",
            "funclatency",
            "do_nanosleep",
        ],
        Stdio::null(),
    );
    let f = t.wait(Duration::from_secs(30));
    assert_eq!(f.code(), 1, "{}", f.stderr);
    assert!(
        f.stderr.contains("exporter: stopped: funclatency failed"),
        "{}",
        f.stderr
    );
    for (args, says) in [
        (vec!["--listen", ADDR, "nosuchtool"], "no tool called"),
        (
            vec!["--listen", "nonsense", "runqlat"],
            "--listen: \"nonsense\" is not ADDR:PORT\nhint: ",
        ),
        (
            vec!["--listen", ADDR, "runqlat", "--", "runqlat"],
            "given twice",
        ),
        (
            vec!["--listen", ADDR, "runqlat", "--prometheus", ADDR],
            "the exporter's own",
        ),
    ] {
        let out = Command::new(tool("corescope"))
            .arg("exporter")
            .args(&args)
            .stdin(Stdio::null())
            .output()
            .expect("run");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
}

#[test]
fn the_shipped_exporter_defaults_run() {
    let Some(_g) = root_or_skip("the_shipped_exporter_defaults_run") else {
        return;
    };
    // What the systemd unit runs: `corescope exporter $CORESCOPE_EXPORTER_ARGS`
    // (systemd splits an unbraced $VAR at whitespace), on a test port.
    let defaults = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/packaging/corescope-exporter.default"
    );
    let text = std::fs::read_to_string(defaults).expect("the defaults file");
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("CORESCOPE_EXPORTER_ARGS="))
        .expect("CORESCOPE_EXPORTER_ARGS=");
    let mut args: Vec<String> = line
        .trim_matches('"')
        .split_whitespace()
        .map(String::from)
        .collect();
    let at = args.iter().position(|a| a == "--listen").expect("--listen") + 1;
    const ADDR: &str = "127.0.0.1:21408";
    args[at] = ADDR.to_string();
    let mut argv = vec!["exporter"];
    argv.extend(args.iter().map(String::as_str));
    let mut t = ToolRun::start("corescope", &argv, Stdio::null());
    let want = [
        "# TYPE corescope_biolatency_seconds histogram",
        "# TYPE corescope_runqlat_seconds histogram",
        "# TYPE corescope_syscount_calls_total counter",
    ];
    let end = Instant::now() + Duration::from_secs(30);
    let mut body = String::new();
    while Instant::now() < end && !want.iter().all(|w| body.contains(w)) {
        std::thread::sleep(Duration::from_millis(300));
        body = http_get(ADDR, "/metrics")
            .map(|(_, b)| b)
            .unwrap_or_default();
    }
    for w in want {
        assert!(body.contains(w), "{w} not in:\n{body}\n{}", t.stderr_now());
    }
    t.signal(Signal::SIGTERM);
    let f = t.wait(Duration::from_secs(10));
    assert_eq!(f.code(), 0, "{}", f.stderr);
}
