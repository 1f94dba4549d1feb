//! Stack addresses → function name + offset and module, with blazesym.
//! For tools that capture stacks in BPF (`bpf_get_stack`): user frames of a
//! live process, or kernel frames. One [`Symbolizer`] per tool run: it caches
//! parsed ELF files across events.

use blazesym::symbolize::source::{Kernel, Process, Source};
use blazesym::symbolize::{Input, Symbolized, Symbolizer as Blaze};
use blazesym::Pid;
use serde::Serialize;
use std::os::unix::ffi::OsStrExt as _;

use crate::escape::{escape_into, KString};
use crate::output::Output;

/// User return addresses from a `bpf_get_stack(.., BPF_F_USER_STACK)`
/// buffer (native-endian u64s), innermost first. A 0 ends the stack, and so
/// does a value no user address can have (>= 2^56): a frame-pointer chain
/// through code built without frame pointers reads data as addresses.
pub fn user_stack(raw: &[u8]) -> Vec<u64> {
    raw.chunks_exact(8)
        .map(|c| u64::from_ne_bytes(c.try_into().unwrap_or_default()))
        .take_while(|&a| a != 0 && a < 1 << 56)
        .collect()
}

/// Prints frames under the last table row, one per line, indented and
/// escaped; nothing in JSON mode (frames belong in the row there).
pub fn print_frames(out: &mut Output, frames: &[Frame]) -> anyhow::Result<()> {
    if !out.json() {
        for f in frames {
            out.raw_line(&format!("        {}", f.describe()))?;
        }
    }
    Ok(())
}

/// One stack frame, symbolized as far as possible.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Frame {
    pub addr: u64,
    /// Function name (demangled), when found.
    pub symbol: Option<String>,
    /// Bytes from the function's start to `addr`.
    pub offset: u64,
    /// The executable, shared object or `[vdso]` holding `addr`, when known:
    /// a path, any bytes (JSON: a string, or `{"bytes": base64}`).
    pub module: Option<KString>,
}

impl Frame {
    /// The frame of `addr` from blazesym's answer for it.
    pub fn from_symbolized(addr: u64, s: Symbolized<'_>) -> Self {
        match s {
            Symbolized::Sym(sym) => Self {
                addr,
                symbol: Some(sym.name.into_owned()),
                offset: sym.offset as u64,
                module: sym.module.map(|m| KString(m.as_bytes().to_vec())),
            },
            Symbolized::Unknown(_) => Self::unknown(addr),
        }
    }

    /// A frame that could not be symbolized.
    pub fn unknown(addr: u64) -> Self {
        Self {
            addr,
            symbol: None,
            offset: 0,
            module: None,
        }
    }

    /// `name+0x1a [module]`, or `0x7f12… [module]` without a symbol, with
    /// name and module escaped (they come from the traced program).
    pub fn describe(&self) -> String {
        let mut s = String::new();
        match &self.symbol {
            Some(name) => {
                escape_into(&mut s, name.as_bytes(), false);
                s.push_str(&format!("+{:#x}", self.offset));
            }
            None => s.push_str(&format!("{:#x}", self.addr)),
        }
        s.push_str(" [");
        match &self.module {
            Some(m) => escape_into(&mut s, &m.0, false),
            None => s.push_str("unknown"),
        }
        s.push(']');
        s
    }
}

pub struct Symbolizer {
    inner: Blaze,
}

impl Default for Symbolizer {
    fn default() -> Self {
        Self::new()
    }
}

impl Symbolizer {
    pub fn new() -> Self {
        Self {
            inner: Blaze::builder()
                .enable_code_info(false)
                .enable_inlined_fns(false)
                .build(),
        }
    }

    /// Symbolizes user-space addresses of process `pid`, which must still
    /// be alive (its /proc/PID/maps is read). Never fails: what cannot be
    /// resolved comes back as [`Frame::unknown`].
    pub fn user(&self, pid: u32, addrs: &[u64]) -> Vec<Frame> {
        let src = Source::Process(Process::new(Pid::from(pid)));
        self.symbolize(&src, addrs)
    }

    /// Symbolizes kernel addresses (/proc/kallsyms, needs root to see them).
    pub fn kernel(&self, addrs: &[u64]) -> Vec<Frame> {
        self.symbolize(&Source::Kernel(Kernel::default()), addrs)
    }

    fn symbolize(&self, src: &Source<'_>, addrs: &[u64]) -> Vec<Frame> {
        let Ok(syms) = self.inner.symbolize(src, Input::AbsAddr(addrs)) else {
            return addrs.iter().map(|&a| Frame::unknown(a)).collect();
        };
        addrs
            .iter()
            .zip(syms)
            .map(|(&addr, s)| Frame::from_symbolized(addr, s))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[inline(never)]
    fn corescope_sym_probe() -> u64 {
        corescope_sym_probe as *const () as usize as u64
    }

    #[test]
    fn own_function_is_found() {
        let addr = corescope_sym_probe();
        let f = Symbolizer::new().user(std::process::id(), &[addr]);
        assert_eq!(f.len(), 1);
        let name = f[0].symbol.as_deref().unwrap_or("");
        assert!(name.contains("corescope_sym_probe"), "{:?}", f[0]);
        assert_eq!(f[0].offset, 0);
        assert!(f[0].module.is_some(), "{:?}", f[0]);
    }

    #[test]
    fn user_stack_stops_at_zero_and_non_addresses() {
        let raw: Vec<u8> = [0x401000u64, 0x3131_3131_3131_3131, 0x402000]
            .iter()
            .flat_map(|a| a.to_ne_bytes())
            .collect();
        assert_eq!(user_stack(&raw), [0x401000]);
        let raw: Vec<u8> = [7u64, 0, 9].iter().flat_map(|a| a.to_ne_bytes()).collect();
        assert_eq!(user_stack(&raw), [7]);
        assert!(user_stack(&[1, 2, 3]).is_empty());
    }

    #[test]
    fn unknown_frames_are_kept() {
        // Address 8 is never mapped.
        let f = Symbolizer::new().user(std::process::id(), &[8]);
        assert_eq!(f, vec![Frame::unknown(8)]);
        assert_eq!(f[0].describe(), "0x8 [unknown]");
        let named = Frame {
            addr: 0x1010,
            symbol: Some("main".into()),
            offset: 0x10,
            module: Some("/bin/x".into()),
        };
        assert_eq!(named.describe(), "main+0x10 [/bin/x]");
    }

    #[test]
    fn module_paths_are_exact_in_json_and_escaped_in_the_table() {
        let f = Frame {
            addr: 0x1010,
            symbol: Some("m\x1bain".into()),
            offset: 0x10,
            module: Some(KString(b"/lib/a\xff.so".to_vec())),
        };
        assert_eq!(f.describe(), "m\\eain+0x10 [/lib/a\\xff.so]");
        let j = serde_json::to_value(&f).unwrap();
        assert_eq!(
            j["module"],
            serde_json::json!({"bytes": "L2xpYi9h/y5zbw=="})
        );
        assert_eq!(j["symbol"], "m\u{1b}ain");
    }
}
