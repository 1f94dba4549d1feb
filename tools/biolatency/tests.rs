use super::*;

fn args(a: &[&str]) -> Result<Args, clap::Error> {
    corescope::cli::try_parse_from::<Args, _, _>(
        Biolatency::SHORTS,
        std::iter::once("biolatency").chain(a.iter().copied()),
    )
}

#[test]
fn bcc_letters_and_shared_options() {
    let a = args(&[
        "-QmDFeT", "-p", "4", "-j", "-d", "5", "--disk", "sda", "2", "3",
    ])
    .unwrap();
    assert!(a.queued && a.milliseconds && a.disks && a.flags && a.extended);
    assert!(a.iv.timestamp && a.common.run.json);
    assert_eq!(a.common.run.duration, Some(5), "-d is the shared duration");
    assert_eq!(a.disk.as_deref(), Some("sda"));
    assert_eq!((a.iv.interval, a.iv.count), (Some(2), Some(3)));
    assert_eq!(a.unit(), "msecs");
    assert_eq!(args(&[]).unwrap().unit(), "usecs");
}

#[test]
fn dev_numbers_are_the_kernels() {
    // The kernel's dev_t: MAJOR << 20 | MINOR (not the user-space encoding).
    assert_eq!(parse_dev("7:3\n"), Some(7 << 20 | 3));
    assert_eq!(parse_dev("259:0"), Some(259 << 20));
    assert_eq!(maj_min(259 << 20 | 12), "259:12");
    for bad in ["", "7", "7:", "a:1", "7:1048576", "4096:0"] {
        assert_eq!(parse_dev(bad), None, "{bad:?}");
    }
}

#[test]
fn flags_are_named_like_libbpf_tools() {
    let mut b = String::new();
    let f = |x: Flag| x.0;
    flags_name(
        Op::BIOLAT_OP_WRITE.0 | f(Flag::BIOLAT_F_SYNC) | f(Flag::BIOLAT_F_IDLE),
        &mut b,
    );
    assert_eq!(b, "Idle-Sync-Write");
    flags_name(Op::BIOLAT_OP_READ.0, &mut b);
    assert_eq!(b, "Read");
    let all = FLAG_NAMES.iter().fold(0, |a, (x, _)| a | f(*x));
    flags_name(all | Op::BIOLAT_OP_FLUSH.0, &mut b);
    assert_eq!(
        b,
        "NoWait-Background-ReadAhead-PreFlush-FUA-Integrity-Idle-NoMerge-Priority-Metadata-Sync-Flush"
    );
    flags_name(Op::BIOLAT_OP_UNKNOWN.0, &mut b);
    assert_eq!(b, "Unknown");
    flags_name(200, &mut b);
    assert_eq!(b, "Unknown");
    // Every operation has its own name.
    let names: std::collections::BTreeSet<_> = (0..=13).map(op_name).collect();
    assert_eq!(names.len(), 14);
    assert!(!names.contains("Unknown"));
}

/// A fake /sys: class/block/{sda,sda1,loop3} and dev/block links.
fn fake_sys() -> std::path::PathBuf {
    let root = std::env::temp_dir().join(format!(
        "cs-biolat-sys-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let _ = std::fs::remove_dir_all(&root);
    let devs = root.join("devices");
    for (name, dev, part) in [("sda", "8:0", None), ("loop3", "7:3", None)]
        .into_iter()
        .chain([("sda1", "8:1", Some("sda"))])
    {
        let d = match part {
            Some(p) => devs.join(p).join(name),
            None => devs.join(name),
        };
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("dev"), format!("{dev}\n")).unwrap();
        if part.is_some() {
            std::fs::write(d.join("partition"), "1\n").unwrap();
        }
        for link in [
            root.join("class/block").join(name),
            root.join("dev/block").join(dev),
        ] {
            std::fs::create_dir_all(link.parent().unwrap()).unwrap();
            std::os::unix::fs::symlink(&d, link).unwrap();
        }
    }
    root
}

#[test]
fn disk_filter_names_a_whole_disk() {
    let sys = fake_sys();
    assert_eq!(disk_dev(&sys, "sda").unwrap(), 8 << 20);
    assert_eq!(disk_dev(&sys, "loop3").unwrap(), 7 << 20 | 3);
    let err = |n: &str| {
        let e = disk_dev(&sys, n).unwrap_err();
        let u = e.downcast_ref::<UserError>().expect("a UserError");
        (u.msg.clone(), u.hint.clone().unwrap_or_default())
    };
    let (msg, hint) = err("sda1");
    assert!(msg.contains("a partition"), "{msg}");
    assert_eq!(hint, "use --disk sda");
    let (msg, hint) = err("nvme9n9");
    assert!(msg.contains("no such block device"), "{msg}");
    assert!(hint.contains("lsblk"), "{hint}");
    assert!(err("../sda").0.contains("not a disk name"));
    assert!(err("").0.contains("not a disk name"));
    let _ = std::fs::remove_dir_all(&sys);
}

#[test]
fn disk_names_come_from_sys_and_fall_back_to_the_number() {
    let sys = fake_sys();
    let mut names = DiskNames::new(&sys);
    assert_eq!(names.get(8 << 20), b"sda");
    assert_eq!(names.get(8 << 20 | 1), b"sda1");
    // Known at start: still named once gone from /sys (a detached loop).
    std::fs::remove_file(sys.join("class/block/loop3")).unwrap();
    std::fs::remove_file(sys.join("dev/block/7:3")).unwrap();
    assert_eq!(names.get(7 << 20 | 3), b"loop3");
    // Never seen: its number.
    assert_eq!(names.get(253 << 20 | 4), b"253:4");
    // Appeared after start: looked up through /sys/dev/block.
    let d = sys.join("devices/nvme0n1");
    std::fs::create_dir_all(&d).unwrap();
    std::os::unix::fs::symlink(&d, sys.join("dev/block/259:0")).unwrap();
    assert_eq!(names.get(259 << 20), b"nvme0n1");
    let _ = std::fs::remove_dir_all(&sys);
}
