//! The block workload of the block tools' root tests (biolatency,
//! biosnoop, biotop): loop devices over temp files, created by the test and
//! detached on drop (also when a test fails), and direct I/O on them whose
//! own count, sizes and offsets are the oracle.

use std::fs::File;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use crate::util::{compile_helper, TempDir};

/// A loop device over a 16 MiB file in a temp dir, detached on drop.
pub struct Loop {
    pub dev: String,
    _dir: TempDir,
}

impl Loop {
    pub fn new() -> Self {
        let dir = TempDir::new(0o700);
        let file = dir.path().join("disk");
        File::create(&file)
            .and_then(|f| f.set_len(16 << 20))
            .expect("the backing file");
        // Another process may take the free device first: try again.
        for _ in 0..5 {
            let out = Command::new("losetup")
                .args(["-f", "--show"])
                .arg(&file)
                .stdin(Stdio::null())
                .output()
                .expect("running losetup");
            if out.status.success() {
                let dev = String::from_utf8(out.stdout).unwrap().trim().to_string();
                return Self { dev, _dir: dir };
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("losetup -f --show failed 5 times");
    }

    /// `loop3`: the name the tool prints.
    pub fn name(&self) -> &str {
        self.dev.trim_start_matches("/dev/")
    }

    /// Sets the I/O scheduler (none by default for loop devices); false
    /// if the kernel has not got it.
    pub fn scheduler(&self, s: &str) -> bool {
        let p = format!("/sys/block/{}/queue/scheduler", self.name());
        std::fs::write(&p, s).is_ok()
    }

    /// `writes` then `reads` direct 4 KiB I/Os, each one request (the test
    /// waits for each). The file stays open (returned): with udev running,
    /// closing a device written to makes it probe the device (more reads).
    pub fn direct_io(&self, writes: u64, reads: u64) -> File {
        #[repr(C, align(4096))]
        struct Block([u8; 4096]);
        let mut b = Box::new(Block([0x5a; 4096]));
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(nix::fcntl::OFlag::O_DIRECT.bits())
            .open(&self.dev)
            .expect("opening the loop device O_DIRECT");
        let blocks = (16 << 20) / 4096;
        for i in 0..writes {
            f.write_all_at(&b.0, (i % blocks) * 4096)
                .expect("direct write");
        }
        for i in 0..reads {
            f.read_exact_at(&mut b.0, (i % blocks) * 4096)
                .expect("direct read");
        }
        f
    }
}

impl Drop for Loop {
    fn drop(&mut self) {
        let _ = Command::new("losetup")
            .args(["-d", &self.dev])
            .stdin(Stdio::null())
            .status();
    }
}

/// tools/biosnoop/bio_helper.c, built once: `bio_helper DEV N [NAME]` does
/// N direct writes then N direct reads on DEV, the i-th of
/// [`helper_size`]`(i)` bytes at [`helper_offset`]`(i)` (named NAME first,
/// with prctl), then exits 0.
pub fn bio_helper() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bio-helper");
        std::fs::create_dir_all(&dir).expect("helper dir");
        compile_helper("bio_helper", &dir)
    })
    .clone()
}

/// The size of the helper's i-th I/O: 4, 8 or 16 KiB.
pub fn helper_size(i: u64) -> u64 {
    4096 << (i % 3)
}

/// The offset of the helper's i-th I/O: 64 KiB apart (sector i * 128).
pub fn helper_offset(i: u64) -> u64 {
    i * 65536
}
