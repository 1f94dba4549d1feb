//! Routes libbpf's messages: warnings to stderr by default, everything with
//! `-v`. While a program is being loaded they are held back, so a failed load
//! can be reported as one line (and the verifier log shown only with -v).

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::Mutex;

use libbpf_rs::PrintLevel;

static VERBOSE: AtomicU8 = AtomicU8::new(0);
static CAPTURE: AtomicBool = AtomicBool::new(false);
static HELD: Mutex<Vec<(PrintLevel, String)>> = Mutex::new(Vec::new());

fn print(level: PrintLevel, msg: String) {
    if CAPTURE.load(Ordering::Relaxed) {
        if let Ok(mut held) = HELD.lock() {
            held.push((level, msg));
            return;
        }
    }
    emit(level, &msg);
}

fn emit(level: PrintLevel, msg: &str) {
    if VERBOSE.load(Ordering::Relaxed) > 0 || level == PrintLevel::Warn {
        crate::diag_raw!("libbpf: {}", msg.strip_prefix("libbpf: ").unwrap_or(msg));
    }
}

/// Installs the router; `verbose` > 0 shows libbpf's debug messages.
pub fn init(verbose: u8) {
    VERBOSE.store(verbose, Ordering::Relaxed);
    libbpf_rs::set_print(Some((PrintLevel::Debug, print)));
}

pub fn verbose() -> bool {
    VERBOSE.load(Ordering::Relaxed) > 0
}

/// Starts holding messages back.
pub fn hold() {
    if let Ok(mut h) = HELD.lock() {
        h.clear();
    }
    CAPTURE.store(true, Ordering::Relaxed);
}

/// Stops holding; returns what was held, as text.
pub fn release() -> Vec<(PrintLevel, String)> {
    CAPTURE.store(false, Ordering::Relaxed);
    HELD.lock()
        .map(|mut h| std::mem::take(&mut *h))
        .unwrap_or_default()
}

/// Runs `f` with libbpf's messages held back; returns its result and them.
pub fn held<T>(f: impl FnOnce() -> T) -> (T, Vec<(PrintLevel, String)>) {
    // One load at a time (the exporter's tools load on their own threads):
    // each load's messages are its own.
    static LOADING: Mutex<()> = Mutex::new(());
    let _one = LOADING.lock().unwrap_or_else(|p| p.into_inner());
    hold();
    let r = f();
    (r, release())
}

/// [`dump`] under `-v` only: a failure's detail that the one-line error
/// leaves out.
pub fn dump_if_verbose(msgs: &[(PrintLevel, String)]) {
    if verbose() {
        dump(msgs);
    }
}

/// Prints held messages the normal way (after a successful load).
pub fn replay(msgs: &[(PrintLevel, String)]) {
    for (l, m) in msgs {
        emit(*l, m);
    }
}

/// Prints every held message regardless of level (the -v failure path).
pub fn dump(msgs: &[(PrintLevel, String)]) {
    for (_, m) in msgs {
        crate::diag_raw!("libbpf: {}", m.strip_prefix("libbpf: ").unwrap_or(m));
    }
}
