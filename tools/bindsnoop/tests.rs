use super::*;
use corescope::output::{csv_line, header_line, json_line, table_line};

fn args(a: &str) -> Result<Args, clap::Error> {
    corescope::cli::try_parse_from(
        Bindsnoop::SHORTS,
        ["bindsnoop"].into_iter().chain(a.split_whitespace()),
    )
}

fn tool(a: &str) -> Bindsnoop {
    Bindsnoop {
        a: args(a).unwrap(),
    }
}

fn event(comm: &[u8], family: u16, addr: &[u8], port: u16, ret: i32, opts: u8) -> Event {
    let mut e = Event::default();
    (e.pid, e.tid, e.uid, e.ret, e.fd) = (4242, 4243, 1000, ret, 3);
    (e.family, e.sa_family, e.port, e.sa_port) = (family, family, port, port);
    (e.proto, e.sock_type, e.opts) = (6, 1, opts);
    e.flags = Flags::BINDSNOOP_SA_READ.0 as u8;
    e.addrlen = if family == 2 { 16 } else { 28 };
    e.addr[..addr.len()].copy_from_slice(addr);
    e.ts_ns = corescope::clock::monotonic_ns();
    e.comm[..comm.len()].copy_from_slice(comm);
    e
}

fn v4(comm: &[u8], port: u16, ret: i32, opts: u8) -> Event {
    event(comm, 2, &[127, 0, 0, 1], port, ret, opts)
}

fn render(e: &Event, b: &Bindsnoop) -> (String, String, serde_json::Value) {
    let out = Output::new(false).unwrap();
    let r = row(e, &out).unwrap();
    let mut j = Vec::new();
    json_line("event", &r, &mut j).unwrap();
    let j = serde_json::from_slice(&j).unwrap();
    (header_line::<Bind>(b), table_line(&r, b), j)
}

#[test]
fn libbpf_tools_columns() {
    let b = tool("");
    let (h, r, _) = render(&v4(b"nginx", 80, 0, 0b01000), &b);
    assert_eq!(
        h,
        "PID     COMM             RET PROTO OPTS  IF   PORT  ADDR"
    );
    assert_eq!(
        r,
        "4242    nginx            0   TCP   ...R. 0    80    127.0.0.1"
    );
    let mut e = event(b"x", 10, &[0; 16], 8080, -98, 0b11111);
    (e.proto, e.bound_dev_if) = (17, 3);
    let (_, r, _) = render(&e, &b);
    assert_eq!(r, "4242    x                -98 UDP   FTNRr 3    8080  ::");
    // An escaped comm is cut to the column; RET stays in place.
    let (h, r, _) = render(&v4(&[0x1b; 15], 1, 0, 0), &b);
    assert_eq!(h.find("RET"), r.find("0   TCP"));
    // -t and -U put TIME and UID first.
    let b = tool("-t -U");
    let (h, r, _) = render(&v4(b"a", 1, 0, 0), &b);
    assert!(h.starts_with("TIME     UID    PID     COMM"), "{h}");
    assert_eq!(
        &r[8..],
        " 1000   4242    a                0   TCP   ..... 0    1     127.0.0.1"
    );
    // CSV: the same cells, unpadded.
    let out = Output::new(false).unwrap();
    let e = v4(b"a,b", 1, 0, 0);
    let c = csv_line(&row(&e, &out).unwrap(), &tool(""));
    assert!(
        c.starts_with("4242,\"a,b\",0,TCP,.....,0,1,127.0.0.1"),
        "{c}"
    );
}

#[test]
fn json_record() {
    let b = tool("");
    let mut e = v4(b"sh", 5000, -98, 0b00001);
    e.sa_port = 5000;
    let (_, _, v) = render(&e, &b);
    assert_eq!(v["type"], "event");
    assert_eq!(
        (v["pid"].as_u64(), v["tid"].as_u64()),
        (Some(4242), Some(4243))
    );
    assert_eq!(
        (v["ret"].as_i64(), v["error"].as_str()),
        (Some(-98), Some("EADDRINUSE"))
    );
    assert_eq!(
        (v["proto"].as_str(), v["proto_num"].as_u64()),
        (Some("TCP"), Some(6))
    );
    assert_eq!(
        (v["family"].as_str(), v["addr"].as_str()),
        (Some("ipv4"), Some("127.0.0.1"))
    );
    assert_eq!(
        (v["port"].as_u64(), v["requested_port"].as_u64()),
        (Some(5000), Some(5000))
    );
    assert_eq!(v["opts"], "F....");
    assert_eq!(v["options"]["freebind"], true);
    assert_eq!(v["options"]["reuseaddr"], false);
    assert_eq!(v["sock_type"], "stream");
    let (_, _, v) = render(&v4(b"sh", 1, 0, 0), &b);
    assert!(v["error"].is_null());
    // A sockaddr that could not be read: no address (null, "?" in the table).
    let mut e = v4(b"sh", 1, 0, 0);
    e.flags = 0;
    let (_, r, v) = render(&e, &b);
    assert!(v["addr"].is_null() && r.ends_with(" ?"), "{r}");
    // Unknown protocol: UNK, with its number. A comm that is not UTF-8: bytes.
    let mut e = v4(b"\xff", 1, 0, 0);
    e.proto = 99;
    let (_, r, v) = render(&e, &b);
    assert_eq!(
        (v["proto"].as_str(), v["proto_num"].as_u64()),
        (Some("UNK"), Some(99))
    );
    assert!(r.contains("\\xff") && r.contains(" UNK "), "{r}");
    assert_eq!(v["comm"]["bytes"], "/w==");
    // Not an inet family: no row.
    let out = Output::new(false).unwrap();
    assert!(row(&event(b"a", 1, &[], 0, 0, 0), &out).is_none());
}

#[test]
fn rows_allocate_nothing_per_event() {
    use corescope::alloc_count::{null_output, steady};
    let v6 = [0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    for e in [
        v4(b"a\x1b", 1, -98, 0b11111),
        event(b"web", 10, &v6, 443, 0, 8),
    ] {
        for (json, opts) in [(false, "-t -U"), (true, ""), (false, "")] {
            let mut b = tool(opts);
            let mut out = null_output(json);
            let n = steady(|| b.event(&e, &[], &mut out).unwrap());
            assert_eq!(n, 0, "json {json} {opts}");
        }
    }
}

#[test]
fn flags_parse() {
    let a = args("-x -P 80,8000-8100 -4 -t -U -p 1 -j -u 0").unwrap();
    assert!(a.failed && a.timestamp && a.print_uid && a.common.run.json);
    let p = a.ports.unwrap();
    assert!(p.contains(80) && p.contains(8050) && !p.contains(81));
    assert_eq!(a.family.af(), corescope::net::AF_INET);
    assert_eq!(args("-6").unwrap().family.af(), corescope::net::AF_INET6);
    for bad in ["-4 -6", "-P 0", "-P 70000", "-P", "-E", "-w"] {
        assert!(args(bad).is_err(), "{bad}");
    }
}
