use super::*;

fn args(a: &[&str]) -> Result<Args, clap::Error> {
    corescope::cli::try_parse_from::<Args, _, _>(
        Cpudist::SHORTS,
        std::iter::once("cpudist").chain(a.iter().copied()),
    )
}

#[test]
fn keying_flags_pick_the_bpf_key_and_the_section_header() {
    let per = |a: &[&str]| args(a).unwrap().per();
    assert_eq!(per(&[]), Per::CPUDIST_PER_ALL);
    assert_eq!(per(&["-P"]), Per::CPUDIST_PER_PID);
    assert_eq!(per(&["-L", "-O"]), Per::CPUDIST_PER_TID);
    assert!(args(&["-P", "-L"]).is_err());
    let v = Value::default();
    let mut b = String::new();
    corescope::hist::write_section_header(&mut b, &[key_fn(Per::CPUDIST_PER_TID).unwrap()(&9, &v)]);
    assert_eq!(b, "\ntid = 9 \n");
}

#[test]
fn banner_and_unit_follow_libbpf_tools() {
    let a = args(&["-O", "-m"]).unwrap();
    assert_eq!(a.banner(), "Tracing off-CPU time... Hit Ctrl-C to end.");
    assert_eq!(a.unit(), "msecs");
    let a = args(&["1"]).unwrap();
    assert_eq!(a.banner(), "Tracing on-CPU time... Hit Ctrl-C to end.");
    assert_eq!((a.iv.interval, a.unit()), (Some(1), "usecs"));
}
