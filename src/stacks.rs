//! The *stacks* shape: stack ids from a `BPF_MAP_TYPE_STACK_TRACE` map →
//! addresses → symbolized frames → BCC's multi-line stacks, folded lines,
//! an SVG flame graph (the `inferno` crate) or JSON.
//!
//! How a stack tool (profile, offcputime) uses it:
//! 1. BPF side: a `STACK_TRACE` map (`--stack-storage-size` entries of
//!    [`MAX_DEPTH`] u64s) and a hash of counts keyed by the tool's key
//!    (pid, comm, user and kernel stack ids from `bpf_get_stackid(ctx,
//!    &stacks, BPF_F_USER_STACK)` / `(ctx, &stacks, 0)`), defined in the
//!    tool's header.
//! 2. One [`StackSymbolizer`] per process run. Call
//!    [`StackSymbolizer::note_pid`] when a PID first appears (while the
//!    tool runs, e.g. at each interval over the keys seen): it caches what
//!    a later symbolization needs should the process exit first.
//! 3. At the end, per key: [`StackSymbolizer::stack`] reads both stacks
//!    from the map and symbolizes them into a [`Stack`] (missed stacks
//!    become `[Missed User Stack]` / `[Missed Kernel Stack]` and are
//!    counted in [`StackStats`]); then [`write_bcc`], [`folded_line`] (all
//!    lines of a run → [`write_svg`]) or [`JsonStack`].
//!    A PID that exits and comes back (reused), or execs: call
//!    [`StackSymbolizer::forget_pid`] first, or its old map is used.
//! 4. [`StackStats::warning`] gives the summary line (with the hint to
//!    raise `--stack-storage-size` after collisions).
//!
//! A tool built on the whole shape implements [`StackTool`] and runs as
//! `run::interval::<stacks::Runner<Tool>>(name)` ([`runner`]): its BPF side
//! includes src/stacks.bpf.h (the maps above, `struct cs_stack_key`,
//! `cs_stack_key_current`, `cs_stack_add`, and the PIDs to note, drained
//! every tick), and the runner does steps 2-4 and the output
//! ([`StackArgs`]: `-f`, `--svg`, `-d`, `-a`, `-U`, `-K`,
//! `--stack-storage-size`, `[duration]`).
//!
//! Symbolization is blazesym's, built once: kernel addresses through
//! /proc/kallsyms, user addresses through /proc/PID/maps with `map_files`
//! (so files of another mount namespace, e.g. a container, are found),
//! the vDSO, and perf maps (`/tmp/perf-PID.map`) for JIT code; names are
//! demangled. blazesym caches parsed ELF files itself; this module adds a
//! per-address cache, so a stack seen again costs one hash lookup.

use std::collections::{HashMap, HashSet};
use std::io::{self, Write};
use std::path::Path;

use blazesym::symbolize::cache::{Cache, Process as CacheProcess};
use blazesym::symbolize::evict::{Evict, Process as EvictProcess};
use blazesym::symbolize::source::{Kernel, Process, Source};
use blazesym::symbolize::{Input, Symbolizer as Blaze};
use blazesym::{MaybeDefault, Pid};
use libbpf_rs::{MapCore, MapFlags};
use serde::Serialize;

use crate::escape::{escape_into, KStr, KString};
use crate::sym::Frame;

/// Frames per stack in a stack-trace map (the kernel's default
/// `perf_event_max_stack`, PERF_MAX_STACK_DEPTH).
pub const MAX_DEPTH: usize = 127;
/// Shown for a user stack the kernel did not record.
pub const MISSED_USER: &str = "[Missed User Stack]";
/// Shown for a kernel stack the kernel did not record.
pub const MISSED_KERNEL: &str = "[Missed Kernel Stack]";
/// Shown for the user stack of a process that exited before it was
/// symbolized and was never noted.
pub const PID_EXITED: &str = "[unknown] (pid exited)";
/// A frame whose address no symbol covers (BCC's spelling).
pub const UNKNOWN: &str = "[unknown]";

const EEXIST: i64 = libc::EEXIST as i64;
const EFAULT: i64 = libc::EFAULT as i64;

pub mod runner;
pub use runner::{RawStackKey, Runner, StackArgs, StackOpen, StackTool};

/// Why a stack has no frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// `-ENOMEM` (or another error), or an id whose entry is gone from the
    /// map. (`-EFAULT` is no stack to walk, an empty stack: a kernel
    /// thread's user stack, a user-mode sample's kernel stack.)
    Missed,
    /// `-EEXIST`: another stack had the same hash and the map keeps one
    /// (the map is too small: `--stack-storage-size`).
    Collision,
    /// A user stack of a process that exited before symbolization and was
    /// never noted.
    PidExited,
}

/// One side (user or kernel) of a stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// Not collected (`-U` / `-K`): printed as nothing.
    Off,
    /// Frames, innermost first.
    Frames(Vec<Frame>),
    Missing(Missing),
}

/// A symbolized user + kernel stack pair with its count: one key of a
/// profile / offcputime counts map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stack {
    pub pid: u32,
    /// The thread, when counted per thread (offcputime): BCC shows it
    /// instead of the PID.
    pub tid: Option<u32>,
    /// The task's comm, as the kernel gave it (NUL-trimmed).
    pub comm: Vec<u8>,
    pub user: Part,
    pub kernel: Part,
    pub count: u64,
}

/// What went missing, for the summary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct StackStats {
    /// User stacks shown as `[Missed User Stack]` (collisions included).
    pub missed_user: u64,
    /// Kernel stacks shown as `[Missed Kernel Stack]` (collisions included).
    pub missed_kernel: u64,
    /// Of the missed stacks, those lost to `-EEXIST` hash collisions.
    pub collisions: u64,
    /// User stacks shown as `[unknown] (pid exited)`.
    pub pid_exited: u64,
    /// User stacks symbolized (with frames), and those of them with one
    /// frame only: code without frame pointers (the note in [`Self::warning`]).
    pub user_stacks: u64,
    pub one_frame_user: u64,
}

impl StackStats {
    /// The summary warning and its hint, when something is missing.
    pub fn warning(&self) -> Option<(String, Option<&'static str>)> {
        let missed = self.missed_user + self.missed_kernel;
        if missed == 0 && self.pid_exited == 0 {
            return None;
        }
        let mut msg = format!("{missed} stack traces could not be displayed");
        if self.collisions > 0 {
            msg.push_str(&format!(" ({} hash collisions)", self.collisions));
        }
        if self.pid_exited > 0 {
            msg.push_str(&format!(
                "; {} user stacks of exited processes are {PID_EXITED}",
                self.pid_exited
            ));
        }
        let hint = (self.collisions > 0)
            .then_some("raise --stack-storage-size (the stack map holds one stack per hash)");
        Some((msg, hint))
    }

    /// The note when most user stacks have one frame (code built without
    /// frame pointers: the kernel's unwinder stops after the first frame).
    pub fn frame_pointer_note(&self) -> Option<String> {
        (self.user_stacks >= 10 && self.one_frame_user * 2 > self.user_stacks).then(|| {
            format!(
                "{} of {} user stacks have one frame: that code has no frame pointers \
                 (build it with -fno-omit-frame-pointer, or Rust -C force-frame-pointers=yes)",
                self.one_frame_user, self.user_stacks
            )
        })
    }
}

/// The addresses of stack `id` (innermost first) into `out`; what is
/// missing when the id is negative or its entry is gone.
pub fn read_stack<M: MapCore + ?Sized>(
    map: &M,
    id: i64,
    out: &mut Vec<u64>,
) -> Result<(), Missing> {
    out.clear();
    if id == -EEXIST {
        return Err(Missing::Collision);
    }
    if id == -EFAULT {
        // No stack to walk: empty, not missed (as BCC shows it).
        return Ok(());
    }
    // -ENOMEM and anything else the helper may return.
    let key = u32::try_from(id).map_err(|_| Missing::Missed)?;
    let Ok(Some(raw)) = map.lookup(&key.to_ne_bytes(), MapFlags::ANY) else {
        return Err(Missing::Missed);
    };
    // The kernel zero-fills past the stack's depth.
    out.extend(
        raw.chunks_exact(8)
            .map(|c| u64::from_ne_bytes(c.try_into().unwrap_or_default()))
            .take_while(|&a| a != 0),
    );
    if out.is_empty() {
        return Err(Missing::Missed);
    }
    Ok(())
}

/// What a stack tool collected for one key.
#[derive(Debug, Clone, Copy)]
pub struct StackKey<'a> {
    pub pid: u32,
    /// The thread, for a tool that counts per thread.
    pub tid: Option<u32>,
    pub comm: &'a [u8],
    /// The user stack id, `None` when user stacks are off (`-K`).
    pub user_id: Option<i64>,
    /// The kernel stack id, `None` when kernel stacks are off (`-U`).
    pub kernel_id: Option<i64>,
    pub count: u64,
}

/// blazesym, built once per process, plus the caches (see the module doc).
pub struct StackSymbolizer {
    blaze: Blaze,
    /// PIDs whose VMAs (and perf map) blazesym holds.
    noted: HashSet<u32>,
    kernel_cache: HashMap<u64, Frame>,
    user_cache: HashMap<(u32, u64), Frame>,
    addrs: Vec<u64>,
    /// Addresses of the current call not yet in the cache.
    todo: Vec<u64>,
    /// The executable mappings of each noted PID with their files held
    /// open: after the process exits, its files are read through these
    /// (its mount namespace, e.g. a container's, may be gone with it).
    held: HashMap<u32, Vec<HeldVma>>,
    /// The files held, one per (device, inode).
    files: HashMap<(u64, u64), std::rc::Rc<std::fs::File>>,
    pub stats: StackStats,
}

/// An executable file mapping of a noted process.
#[derive(Debug)]
struct HeldVma {
    start: u64,
    end: u64,
    /// The file offset of `start`.
    offset: u64,
    /// The path in /proc/PID/maps (shown as the module).
    path: Vec<u8>,
    file: std::rc::Rc<std::fs::File>,
}

impl Default for StackSymbolizer {
    fn default() -> Self {
        Self::new()
    }
}

impl StackSymbolizer {
    pub fn new() -> Self {
        let s = Self {
            blaze: Blaze::builder()
                .enable_code_info(false)
                .enable_inlined_fns(false)
                .enable_demangling(true)
                .build(),
            noted: HashSet::new(),
            kernel_cache: HashMap::new(),
            user_cache: HashMap::new(),
            addrs: Vec::with_capacity(MAX_DEPTH),
            todo: Vec::with_capacity(MAX_DEPTH),
            held: HashMap::new(),
            files: HashMap::new(),
            stats: StackStats::default(),
        };
        // blazesym parses the vDSO once, from the first process it meets in
        // one; let that be us (alive), not an exited process (which fails).
        if let Some(vdso) = own_vdso() {
            let _ = s.symbolize_user(std::process::id(), &[vdso.start], true);
        }
        s
    }

    /// Caches what symbolizing `pid` later needs, in case it exits first:
    /// blazesym's process cache holds its VMAs (the /proc/PID/maps entries:
    /// ranges, offsets, paths) and its perf map's symbols. Not the ELF
    /// files' contents: after exit they are opened by their path in
    /// /proc/PID/maps, read in our mount namespace (a container's files can
    /// then be missing or different). Idempotent; false if the process is
    /// already gone.
    pub fn note_pid(&mut self, pid: u32) -> bool {
        if self.noted.contains(&pid) {
            return true;
        }
        let mut c = CacheProcess::new(Pid::from(pid));
        let mut ok = self.blaze.cache(&Cache::from(c.clone())).is_ok();
        if !ok {
            // An unreadable perf map must not cost the VMAs.
            c.cache_perf_map = false;
            ok = self.blaze.cache(&Cache::from(c)).is_ok();
        }
        if ok {
            self.noted.insert(pid);
            self.hold_files(pid);
        }
        ok
    }

    /// Opens the files of `pid`'s executable mappings through
    /// /proc/PID/map_files (so a file of another mount namespace is the
    /// right one) and keeps them open, for after it exits.
    fn hold_files(&mut self, pid: u32) {
        use std::os::unix::fs::MetadataExt as _;
        let Ok(maps) = std::fs::read(format!("/proc/{pid}/maps")) else {
            return;
        };
        let mut vmas = Vec::new();
        for line in maps.split(|&b| b == b'\n') {
            let Some(m) = parse_maps_line(line) else {
                continue;
            };
            let range = String::from_utf8_lossy(m.range);
            let Ok(file) = std::fs::File::open(format!("/proc/{pid}/map_files/{range}")) else {
                continue; // no CAP_SYS_ADMIN: blazesym's paths only
            };
            let Ok(meta) = file.metadata() else {
                continue;
            };
            let file = self
                .files
                .entry((meta.dev(), meta.ino()))
                .or_insert_with(|| std::rc::Rc::new(file))
                .clone();
            vmas.push(HeldVma {
                start: m.start,
                end: m.end,
                offset: m.offset,
                path: m.path.to_vec(),
                file,
            });
        }
        self.held.insert(pid, vmas);
    }

    /// The frames of an exited, noted `pid`: from the files held for it
    /// (the very files it mapped, whatever its mount namespace was), then
    /// what is left (the vDSO, perf maps, files not held) from blazesym's
    /// cached memory map, by path.
    fn exited_user(&self, pid: u32, addrs: &[u64]) -> Vec<Frame> {
        let mut frames: Vec<Frame> = addrs.iter().map(|&a| Frame::unknown(a)).collect();
        self.symbolize_held(pid, &mut frames);
        let rest: Vec<u64> = (frames.iter())
            .filter(|f| f.symbol.is_none())
            .map(|f| f.addr)
            .collect();
        if rest.is_empty() {
            return frames;
        }
        let mut more = self
            .symbolize_user(pid, &rest, false)
            .unwrap_or_default()
            .into_iter();
        for f in frames.iter_mut().filter(|f| f.symbol.is_none()) {
            match more.next() {
                Some(m) => *f = m,
                None => break,
            }
        }
        frames
    }

    /// Symbolizes `frames` not yet symbolized through the files held for
    /// `pid`.
    fn symbolize_held(&self, pid: u32, frames: &mut [Frame]) {
        use std::os::fd::AsRawFd as _;
        let Some(vmas) = self.held.get(&pid) else {
            return;
        };
        for v in vmas {
            let idx: Vec<usize> = (0..frames.len())
                .filter(|&i| frames[i].symbol.is_none())
                .filter(|&i| (v.start..v.end).contains(&frames[i].addr))
                .collect();
            if idx.is_empty() {
                continue;
            }
            let offs: Vec<u64> = idx
                .iter()
                .map(|&i| frames[i].addr - v.start + v.offset)
                .collect();
            let path = format!("/proc/self/fd/{}", v.file.as_raw_fd());
            let mut elf = blazesym::symbolize::source::Elf::new(path);
            elf.debug_syms = false;
            let Ok(syms) = self
                .blaze
                .symbolize(&Source::Elf(elf), Input::FileOffset(&offs))
            else {
                continue;
            };
            for (&i, sym) in idx.iter().zip(syms) {
                let mut f = Frame::from_symbolized(frames[i].addr, sym);
                if f.symbol.is_some() {
                    f.module = Some(KString(v.path.clone()));
                    frames[i] = f;
                }
            }
        }
    }

    /// Reads /proc/kallsyms now (blazesym parses it at the first kernel
    /// address), not when the stacks are printed after Ctrl-C.
    pub fn warm_kernel(&mut self) {
        let mut out = Vec::new();
        self.kernel(&[u64::MAX - 0xfff], &mut out);
        self.kernel_cache.clear();
    }

    /// Whether `pid` is noted (its memory map cached).
    pub fn is_noted(&self, pid: u32) -> bool {
        self.noted.contains(&pid)
    }

    /// Drops what is cached for `pid` (its VMAs, perf map, symbolized
    /// addresses): for a PID seen to exit or exec, so that a later process
    /// with the same PID is read afresh, and to bound memory in long runs.
    pub fn forget_pid(&mut self, pid: u32) {
        let _ = self
            .blaze
            .evict(&Evict::from(EvictProcess::new(Pid::from(pid))));
        self.noted.remove(&pid);
        self.user_cache.retain(|&(p, _), _| p != pid);
        if self.held.remove(&pid).is_some() {
            // Close the files no other noted process maps.
            self.files.retain(|_, f| std::rc::Rc::strong_count(f) > 1);
        }
    }

    /// Symbolizes kernel addresses (/proc/kallsyms: real addresses only
    /// for root) into `out`.
    pub fn kernel(&mut self, addrs: &[u64], out: &mut Vec<Frame>) {
        self.todo.clear();
        self.todo
            .extend(addrs.iter().filter(|a| !self.kernel_cache.contains_key(a)));
        self.todo.sort_unstable();
        self.todo.dedup();
        if !self.todo.is_empty() {
            // kallsyms only: a vmlinux found on disk may not be the running
            // kernel's, and kallsyms already has KASLR applied.
            let src = Source::Kernel(Kernel {
                vmlinux: MaybeDefault::None,
                ..Kernel::default()
            });
            let frames = symbolized(&self.blaze, &src, &self.todo);
            for (a, mut f) in self.todo.iter().zip(frames) {
                if f.symbol.is_some() && f.module.is_none() {
                    f.module = Some(KString(b"kernel".to_vec()));
                }
                self.kernel_cache.insert(*a, f);
            }
        }
        out.clear();
        out.extend(addrs.iter().map(|a| {
            self.kernel_cache
                .get(a)
                .cloned()
                .unwrap_or_else(|| Frame::unknown(*a))
        }));
    }

    /// Symbolizes user addresses of `pid` into `out`; `Err(PidExited)`
    /// (counted) if it exited and was never noted.
    pub fn user(&mut self, pid: u32, addrs: &[u64], out: &mut Vec<Frame>) -> Result<(), Missing> {
        out.clear();
        if !self.fill_user(pid, addrs) {
            self.stats.pid_exited += 1;
            return Err(Missing::PidExited);
        }
        out.extend(addrs.iter().map(|&a| {
            self.user_cache
                .get(&(pid, a))
                .cloned()
                .unwrap_or_else(|| Frame::unknown(a))
        }));
        Ok(())
    }

    /// Puts the frames of `addrs` of `pid` in the cache (one blazesym call
    /// for those not there yet); false if it exited and was never noted.
    fn fill_user(&mut self, pid: u32, addrs: &[u64]) -> bool {
        self.todo.clear();
        self.todo.extend(
            addrs
                .iter()
                .filter(|&&a| !self.user_cache.contains_key(&(pid, a))),
        );
        self.todo.sort_unstable();
        self.todo.dedup();
        if self.todo.is_empty() {
            return true;
        }
        let alive = Path::new(&format!("/proc/{pid}/maps")).exists();
        if !alive && !self.noted.contains(&pid) {
            return false;
        }
        // map_files only while the process lives: its entries go with it.
        let todo = std::mem::take(&mut self.todo);
        let frames = if alive {
            self.symbolize_user(pid, &todo, true)
                .unwrap_or_else(|| todo.iter().map(|&a| Frame::unknown(a)).collect())
        } else {
            self.exited_user(pid, &todo)
        };
        for (a, f) in todo.iter().zip(frames) {
            self.user_cache.insert((pid, *a), f);
        }
        self.todo = todo;
        true
    }

    /// Before symbolizing many stacks: the noted PIDs still alive are
    /// read afresh (their memory map now: what they loaded since they were
    /// noted), the exited ones from what was noted.
    pub fn refresh_live(&mut self) {
        let live: Vec<u32> = (self.noted.iter().copied())
            .filter(|p| Path::new(&format!("/proc/{p}/maps")).exists())
            .collect();
        for pid in live {
            let _ = self
                .blaze
                .evict(&Evict::from(EvictProcess::new(Pid::from(pid))));
            self.noted.remove(&pid);
            // Cached again at once: it may exit while the others are done.
            self.note_pid(pid);
        }
    }

    /// Symbolizes every address of `keys`' stacks in one blazesym call per
    /// process (and one for the kernel), so that [`Self::stack`] then only
    /// reads the caches: one /proc/PID/maps parse per process, not per
    /// stack.
    pub fn prefetch<M: MapCore + ?Sized>(&mut self, map: &M, keys: &[StackKey<'_>]) {
        let mut user: HashMap<u32, Vec<u64>> = HashMap::new();
        let mut kernel = Vec::new();
        let mut addrs = std::mem::take(&mut self.addrs);
        for k in keys {
            if let Some(id) = k.user_id {
                if read_stack(map, id, &mut addrs).is_ok() {
                    user.entry(k.pid).or_default().extend_from_slice(&addrs);
                }
            }
            if let Some(id) = k.kernel_id {
                if read_stack(map, id, &mut addrs).is_ok() {
                    kernel.extend_from_slice(&addrs);
                }
            }
        }
        self.addrs = addrs;
        for (pid, a) in user {
            self.fill_user(pid, &a);
        }
        let mut frames = Vec::new();
        self.kernel(&kernel, &mut frames);
    }

    fn symbolize_user(&self, pid: u32, addrs: &[u64], map_files: bool) -> Option<Vec<Frame>> {
        let mut p = Process::new(Pid::from(pid));
        p.map_files = map_files;
        p.perf_map = true;
        p.vdso = true;
        p.debug_syms = false;
        let mut syms = self
            .blaze
            .symbolize(&Source::Process(p.clone()), Input::AbsAddr(addrs));
        if syms.is_err() && map_files {
            // Opening /proc/PID/map_files/ needs CAP_SYS_ADMIN (or
            // CAP_CHECKPOINT_RESTORE), which the documented capability set
            // lacks: fall back to the paths (right outside containers).
            p.map_files = false;
            syms = self
                .blaze
                .symbolize(&Source::Process(p), Input::AbsAddr(addrs));
        }
        let syms = syms.ok()?;
        Some(
            addrs
                .iter()
                .zip(syms)
                .map(|(&a, s)| Frame::from_symbolized(a, s))
                .collect(),
        )
    }

    /// Reads and symbolizes both stacks of `key`, counting what is missing.
    pub fn stack<M: MapCore + ?Sized>(&mut self, map: &M, key: &StackKey<'_>) -> Stack {
        let user = match key.user_id {
            None => Part::Off,
            Some(id) => {
                let mut addrs = std::mem::take(&mut self.addrs);
                let part = match read_stack(map, id, &mut addrs) {
                    Ok(()) if addrs.is_empty() => Part::Frames(Vec::new()),
                    Ok(()) => {
                        let mut frames = Vec::with_capacity(addrs.len());
                        match self.user(key.pid, &addrs, &mut frames) {
                            Ok(()) => {
                                self.stats.user_stacks += 1;
                                self.stats.one_frame_user += u64::from(frames.len() == 1);
                                Part::Frames(frames)
                            }
                            Err(m) => Part::Missing(m),
                        }
                    }
                    Err(m) => {
                        self.count_missed(m, true);
                        Part::Missing(m)
                    }
                };
                self.addrs = addrs;
                part
            }
        };
        let kernel = match key.kernel_id {
            None => Part::Off,
            Some(id) => {
                let mut addrs = std::mem::take(&mut self.addrs);
                let part = match read_stack(map, id, &mut addrs) {
                    Ok(()) => {
                        let mut frames = Vec::with_capacity(addrs.len());
                        self.kernel(&addrs, &mut frames);
                        drop_tracer_frames(&mut frames);
                        Part::Frames(frames)
                    }
                    Err(m) => {
                        self.count_missed(m, false);
                        Part::Missing(m)
                    }
                };
                self.addrs = addrs;
                part
            }
        };
        Stack {
            pid: key.pid,
            tid: key.tid,
            comm: crate::escape::cstr(key.comm).to_vec(),
            user,
            kernel,
            count: key.count,
        }
    }

    fn count_missed(&mut self, m: Missing, user: bool) {
        if user {
            self.stats.missed_user += 1;
        } else {
            self.stats.missed_kernel += 1;
        }
        if m == Missing::Collision {
            self.stats.collisions += 1;
        }
    }
}

/// A stack taken inside a tracepoint program (offcputime's sched_switch)
/// starts with the program and the tracepoint's glue (`__traceiter_*` on
/// some runs, not others): not the traced code. libbpf-tools shows them.
pub fn drop_tracer_frames(frames: &mut Vec<Frame>) {
    let tracer = |f: &Frame| {
        f.symbol.as_deref().is_some_and(|n| {
            ["bpf_prog_", "bpf_trace_run", "__bpf_trace_", "__traceiter_"]
                .iter()
                .any(|p| n.starts_with(p))
        })
    };
    let n = frames.iter().take_while(|f| tracer(f)).count();
    frames.drain(..n);
}

/// [`drop_tracer_frames`] for a stack taken with `bpf_get_stack` in a
/// `tp_btf` program: it starts with the program's JIT frame, which
/// /proc/kallsyms may not name (seen as an unrelated symbol), then the
/// tracepoint's glue (`bpf_trace_run*`). Drops the frames up to the last
/// tracer frame among the first four.
pub fn drop_tracer_glue(frames: &mut Vec<Frame>) {
    let tracer = |f: &Frame| {
        f.symbol.as_deref().is_some_and(|n| {
            ["bpf_prog_", "bpf_trace_run", "__bpf_trace_", "__traceiter_"]
                .iter()
                .any(|p| n.starts_with(p))
        })
    };
    if let Some(i) = frames.iter().take(4).rposition(tracer) {
        frames.drain(..=i);
    }
}

fn symbolized(blaze: &Blaze, src: &Source<'_>, addrs: &[u64]) -> Vec<Frame> {
    match blaze.symbolize(src, Input::AbsAddr(addrs)) {
        Ok(syms) => addrs
            .iter()
            .zip(syms)
            .map(|(&a, s)| Frame::from_symbolized(a, s))
            .collect(),
        Err(_) => addrs.iter().map(|&a| Frame::unknown(a)).collect(),
    }
}

/// The parts of a /proc/PID/maps line of an executable file mapping.
#[derive(Debug, PartialEq, Eq)]
struct MapsLine<'a> {
    /// `start-end` as written (the name of its /proc/PID/map_files entry).
    range: &'a [u8],
    start: u64,
    end: u64,
    offset: u64,
    path: &'a [u8],
}

/// `start-end perms offset dev inode path`: only executable mappings of a
/// file (a path starting with `/`; not `[vdso]`, not anonymous).
fn parse_maps_line(line: &[u8]) -> Option<MapsLine<'_>> {
    let mut it = line.splitn(6, |&b| b == b' ');
    let range = it.next()?;
    let perms = it.next()?;
    let offset = it.next()?;
    let (_dev, _inode) = (it.next()?, it.next()?);
    let path = it.next()?.trim_ascii_start();
    if perms.get(2) != Some(&b'x') || !path.starts_with(b"/") {
        return None;
    }
    let hex = |b: &[u8]| u64::from_str_radix(std::str::from_utf8(b).ok()?, 16).ok();
    let dash = range.iter().position(|&b| b == b'-')?;
    Some(MapsLine {
        range,
        start: hex(&range[..dash])?,
        end: hex(&range[dash + 1..])?,
        offset: hex(offset)?,
        path,
    })
}

/// The address range of our own vDSO, from /proc/self/maps.
pub fn own_vdso() -> Option<std::ops::Range<u64>> {
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    let line = maps.lines().find(|l| l.ends_with("[vdso]"))?;
    let (start, rest) = line.split_once('-')?;
    let end = rest.split(' ').next()?;
    Some(u64::from_str_radix(start, 16).ok()?..u64::from_str_radix(end, 16).ok()?)
}

/// Output choices of BCC's `-d` and `-a`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Style {
    /// `-d`: a `-` frame (folded) or `--` line (multi-line) between the
    /// user and the kernel stack, when both are there.
    pub delimiter: bool,
    /// `-a`: kernel frames get `_[k]` (folded).
    pub annotate: bool,
}

fn missing_text(m: Missing, user: bool) -> &'static str {
    match (m, user) {
        (Missing::PidExited, _) => PID_EXITED,
        (_, true) => MISSED_USER,
        (_, false) => MISSED_KERNEL,
    }
}

/// The last path component of a module (BCC prints basenames).
fn basename(m: &[u8]) -> &[u8] {
    match m.iter().rposition(|&b| b == b'/') {
        Some(i) => &m[i + 1..],
        None => m,
    }
}

/// BCC's `sym(addr, pid, show_module=True, show_offset=True)`:
/// `name+0x1a [module]`, `[unknown] [module]`, `[unknown]`; escaped.
fn push_bcc_frame(s: &mut String, f: &Frame) {
    use std::fmt::Write as _;
    match &f.symbol {
        Some(name) => {
            escape_into(s, name.as_bytes(), false);
            let _ = write!(s, "+{:#x}", f.offset);
        }
        None => s.push_str(UNKNOWN),
    }
    if let Some(m) = &f.module {
        s.push_str(" [");
        escape_into(s, basename(&m.0), false);
        s.push(']');
    }
}

/// Whether both sides have frames (`-d` separates them then, as BCC).
fn both_sides(st: &Stack) -> bool {
    let has = |p: &Part| matches!(p, Part::Frames(f) if !f.is_empty());
    has(&st.kernel) && has(&st.user)
}

/// One stack in BCC profile/offcputime's multi-line form: kernel frames
/// innermost first, `--` with `-d`, user frames innermost first, then
/// `    -                comm (pid)` (the TID when counted per thread), the
/// count and an empty line.
pub fn write_bcc(w: &mut impl Write, st: &Stack, style: Style) -> io::Result<()> {
    let mut s = String::with_capacity(1024);
    bcc_text(&mut s, st, style);
    w.write_all(s.as_bytes())
}

/// [`write_bcc`] into `s` (appended).
pub fn bcc_text(s: &mut String, st: &Stack, style: Style) {
    bcc_frames(s, st, style);
    s.push_str("    -                ");
    escape_into(s, &st.comm, false);
    use std::fmt::Write as _;
    let _ = writeln!(s, " ({})", st.tid.unwrap_or(st.pid));
    let _ = writeln!(s, "        {}\n", st.count);
}

/// The frames of [`bcc_text`] only (kernel, `--` with `-d`, user; one line
/// each, appended to `s`), without the comm/PID and count lines: for an
/// event tool that prints a stack under each row (capable -K / -U).
pub fn bcc_frames(s: &mut String, st: &Stack, style: Style) {
    let side = |s: &mut String, part: &Part, user: bool| match part {
        Part::Off => {}
        Part::Missing(m) => {
            s.push_str("    ");
            s.push_str(missing_text(*m, user));
            s.push('\n');
        }
        Part::Frames(frames) => {
            for f in frames {
                s.push_str("    ");
                push_bcc_frame(s, f);
                s.push('\n');
            }
        }
    };
    side(s, &st.kernel, false);
    if style.delimiter && both_sides(st) {
        s.push_str("    --\n");
    }
    side(s, &st.user, true);
}

/// A folded frame: escaped, and `;` (the frame separator) escaped too, so
/// a comm or symbol cannot fake frames.
fn push_folded(s: &mut String, bytes: &[u8]) {
    let start = s.len();
    escape_into(s, bytes, false);
    if s[start..].contains(';') {
        let tail = s.split_off(start).replace(';', "\\x3b");
        s.push_str(&tail);
    }
}

/// One stack as a folded line into `s` (cleared first), without newline:
/// `comm;user_root;…;user_leaf;kern_root;…;kern_leaf count`, `-d` puts a
/// `-` frame between user and kernel, `-a` suffixes kernel frames `_[k]`.
pub fn folded_line(s: &mut String, st: &Stack, style: Style) {
    s.clear();
    push_folded(s, &st.comm);
    match &st.user {
        Part::Off => {}
        Part::Missing(m) => {
            s.push(';');
            s.push_str(missing_text(*m, true));
        }
        Part::Frames(frames) => push_folded_frames(s, frames, ""),
    }
    if style.delimiter && both_sides(st) {
        s.push_str(";-");
    }
    match &st.kernel {
        Part::Off => {}
        Part::Missing(m) => {
            s.push(';');
            s.push_str(missing_text(*m, false));
        }
        Part::Frames(frames) => {
            push_folded_frames(s, frames, if style.annotate { "_[k]" } else { "" })
        }
    }
    use std::fmt::Write as _;
    let _ = write!(s, " {}", st.count);
}

/// `;frame` for each frame, root first, each followed by `suffix`.
fn push_folded_frames(s: &mut String, frames: &[Frame], suffix: &str) {
    for f in frames.iter().rev() {
        s.push(';');
        match &f.symbol {
            Some(n) => push_folded(s, n.as_bytes()),
            None => s.push_str(UNKNOWN),
        }
        s.push_str(suffix);
    }
}

/// Draws folded lines as an interactive SVG flame graph (inferno's
/// flamegraph.pl port). `count_name` labels the counts ("samples", "us").
pub fn write_svg<'a>(
    w: impl Write,
    title: &str,
    count_name: &str,
    folded: impl IntoIterator<Item = &'a str>,
) -> anyhow::Result<()> {
    let mut opts = inferno::flamegraph::Options::default();
    opts.title = title.to_string();
    opts.count_name = count_name.to_string();
    inferno::flamegraph::from_lines(&mut opts, folded, w)
        .map_err(|e| anyhow::anyhow!("cannot write the flame graph: {e}"))
}

/// One frame in JSON: symbol (null when unknown), offset, module (a path,
/// any bytes: see [`KString`]), address.
#[derive(Debug, Serialize)]
pub struct JsonFrame<'a> {
    pub addr: u64,
    pub symbol: Option<&'a str>,
    pub offset: u64,
    pub module: Option<KStr<'a>>,
}

/// One stack as a JSON record: `user_stack` / `kernel_stack` innermost
/// first (empty when off or missing), `user_missing` / `kernel_missing`
/// null or `"missed"`, `"collision"`, `"pid exited"`.
#[derive(Debug, Serialize)]
pub struct JsonStack<'a> {
    pub pid: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tid: Option<u32>,
    pub comm: KStr<'a>,
    pub count: u64,
    pub user_stack: Vec<JsonFrame<'a>>,
    pub user_missing: Option<&'static str>,
    pub kernel_stack: Vec<JsonFrame<'a>>,
    pub kernel_missing: Option<&'static str>,
}

impl<'a> JsonStack<'a> {
    pub fn new(st: &'a Stack) -> Self {
        fn frames(p: &Part) -> Vec<JsonFrame<'_>> {
            match p {
                Part::Frames(f) => f
                    .iter()
                    .map(|f| JsonFrame {
                        addr: f.addr,
                        symbol: f.symbol.as_deref(),
                        offset: f.offset,
                        module: f.module.as_ref().map(|m| KStr(&m.0)),
                    })
                    .collect(),
                _ => Vec::new(),
            }
        }
        fn missing(p: &Part) -> Option<&'static str> {
            match p {
                Part::Missing(Missing::Missed) => Some("missed"),
                Part::Missing(Missing::Collision) => Some("collision"),
                Part::Missing(Missing::PidExited) => Some("pid exited"),
                _ => None,
            }
        }
        Self {
            pid: st.pid,
            tid: st.tid,
            comm: KStr(&st.comm),
            count: st.count,
            user_stack: frames(&st.user),
            user_missing: missing(&st.user),
            kernel_stack: frames(&st.kernel),
            kernel_missing: missing(&st.kernel),
        }
    }
}

#[cfg(test)]
mod tests;
