use super::*;

fn parse(args: &[&str]) -> std::result::Result<Args, clap::Error> {
    let argv = std::iter::once("profile").chain(args.iter().copied());
    corescope::cli::try_parse_from::<Args, _, _>(Profile::SHORTS, argv)
}

fn tool(args: &[&str]) -> Profile {
    let a = parse(args).unwrap();
    Profile {
        sample: sample_of(&a),
        cpus: vec![0],
        who: who(&a.common.filter),
        sides: a.stacks.sides(),
        on_cpu: a.cpu,
        duration: a.stacks.duration.or(a.common.run.duration),
        links: Vec::new(),
    }
}

#[test]
fn bcc_flags() {
    let a = parse(&[
        "-F", "99", "-U", "-d", "-a", "-f", "-I", "-C", "1", "-p", "1", "5",
    ])
    .unwrap();
    assert_eq!(sample_of(&a), Sample::Freq(99));
    let s = &a.stacks;
    assert!(s.user_stacks_only && s.delimited && s.annotations && s.folded);
    assert!(a.include_idle);
    assert_eq!(
        (a.cpu, s.duration, a.common.filter.pid.clone()),
        (Some(1), Some(5), vec![1])
    );
    // BCC's -c is the sample period; -L the thread.
    let a = parse(&[
        "--count",
        "1000000",
        "-L",
        "7",
        "--stack-storage-size",
        "1024",
    ])
    .unwrap();
    assert_eq!(sample_of(&a), Sample::Period(1_000_000));
    assert_eq!(
        (a.common.filter.tid, a.stacks.stack_storage_size),
        (Some(7), 1024)
    );
    assert_eq!(sample_of(&parse(&[]).unwrap()), Sample::Freq(49));
    let a = parse(&["--svg", "x.svg", "-j", "--duration", "3"]).unwrap();
    assert_eq!(a.stacks.svg.as_deref(), Some(std::path::Path::new("x.svg")));
    assert!(a.common.run.json);
}

#[test]
fn conflicting_and_bad_flags_are_usage_errors() {
    for bad in [
        &["-F", "99", "--count", "10"][..],
        &["-U", "-K"],
        &["-F", "0"],
        &["--count", "0"],
        &["--stack-storage-size", "0"],
        &["0"],
        &["-C", "x"],
    ] {
        assert!(parse(bad).is_err(), "{bad:?} accepted");
    }
}

#[test]
fn banner_is_bccs() {
    assert_eq!(
        tool(&[]).banner(),
        "Sampling at 49 Hertz of all threads by user + kernel stack... Hit Ctrl-C to end."
    );
    assert_eq!(
        tool(&["-F", "99", "-p", "3,4", "-K", "-C", "1", "10"]).banner(),
        "Sampling at 99 Hertz of PID 3,4 by kernel stack on CPU#1 for 10 secs."
    );
    assert_eq!(
        tool(&["--count", "5000", "-L", "9", "-U", "--duration", "2"]).banner(),
        "Sampling every 5000 ns of CPU clock of TID 9 by user stack for 2 secs."
    );
}
