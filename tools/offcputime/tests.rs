use super::*;

fn parse(args: &[&str]) -> std::result::Result<Args, clap::Error> {
    let argv = std::iter::once("offcputime").chain(args.iter().copied());
    corescope::cli::try_parse_from::<Args, _, _>(Offcputime::SHORTS, argv)
}

fn tool(args: &[&str]) -> Offcputime {
    let a = parse(args).unwrap();
    Offcputime {
        who: who(&a),
        sides: a.stacks.sides(),
        duration: a.stacks.duration.or(a.common.run.duration),
    }
}

#[test]
fn bcc_flags() {
    let a = parse(&[
        "-u", "-m", "1000", "-M", "5000", "--state", "2", "-f", "-p", "1", "5",
    ])
    .unwrap();
    assert!(a.user_threads_only && a.stacks.folded);
    assert_eq!((a.min_us, a.max_us, a.state), (1000, Some(5000), Some(2)));
    assert_eq!(
        (a.stacks.duration, a.common.filter.pid.clone()),
        (Some(5), vec![1])
    );
    assert_eq!(max_of(&a).unwrap(), 5000);
    let a = parse(&["-t", "8", "-k", "-U", "-d"]).unwrap();
    assert_eq!(a.common.filter.tid, Some(8));
    assert!(a.kernel_threads_only && a.stacks.user_stacks_only && a.stacks.delimited);
    let a = parse(&[]).unwrap();
    assert_eq!((a.min_us, max_of(&a).unwrap()), (1, u64::MAX));
}

#[test]
fn conflicting_and_bad_flags_are_errors() {
    for bad in [
        &["-u", "-k"][..],
        &["-U", "-K"],
        &["-m", "x"],
        &["--state", "-1"],
    ] {
        assert!(parse(bad).is_err(), "{bad:?} accepted");
    }
    let e = max_of(&parse(&["-m", "10", "-M", "9"]).unwrap()).unwrap_err();
    let e = e.downcast::<UserError>().unwrap();
    assert!(e.msg.contains("-m 10 is above -M 9"), "{}", e.msg);
    assert!(e.hint.is_some());
}

#[test]
fn banner_is_bccs() {
    assert_eq!(
        tool(&[]).banner(),
        "Tracing off-CPU time (us) of all threads by user + kernel stack... Hit Ctrl-C to end."
    );
    assert_eq!(
        tool(&["-u", "-K", "5"]).banner(),
        "Tracing off-CPU time (us) of user threads by kernel stack for 5 secs."
    );
    assert_eq!(
        tool(&["-p", "12", "-U"]).banner(),
        "Tracing off-CPU time (us) of PID 12 by user stack... Hit Ctrl-C to end."
    );
}
