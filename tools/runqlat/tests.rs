use super::*;

fn args(a: &[&str]) -> Result<Args, clap::Error> {
    corescope::cli::try_parse_from::<Args, _, _>(
        Runqlat::SHORTS,
        std::iter::once("runqlat").chain(a.iter().copied()),
    )
}

#[test]
fn keying_flags_pick_the_bpf_key_and_the_section_header() {
    let per = |a: &[&str]| args(a).unwrap().per();
    assert_eq!(per(&[]), Per::RUNQLAT_PER_ALL);
    assert_eq!(per(&["-P"]), Per::RUNQLAT_PER_PID);
    assert_eq!(per(&["-L"]), Per::RUNQLAT_PER_TID);
    assert_eq!(per(&["--pidnss"]), Per::RUNQLAT_PER_PIDNS);
    assert!(key_fn(Per::RUNQLAT_PER_ALL).is_none());
    let v = Value::default();
    let mut b = String::new();
    let f = key_fn(Per::RUNQLAT_PER_PIDNS).unwrap();
    corescope::hist::write_section_header(&mut b, &[f(&7, &v)]);
    assert_eq!(b, "\npidns = 7 \n");
    // One keying at a time, as libbpf-tools.
    assert!(args(&["-P", "-L"]).is_err());
    assert!(args(&["-L", "--pidnss"]).is_err());
}

#[test]
fn shared_and_bcc_letters() {
    let a = args(&["-mT", "-p", "4", "-c", "/x", "-j", "2", "3"]).unwrap();
    assert!(a.milliseconds && a.iv.timestamp && a.common.run.json);
    assert_eq!((a.iv.interval, a.iv.count), (Some(2), Some(3)));
    assert_eq!(a.common.filter.pid, vec![4]);
    assert_eq!(a.unit(), "msecs");
    assert_eq!(args(&[]).unwrap().unit(), "usecs");
}
