//! execsnoop's argument list: the NUL-separated argv the kernel copied,
//! kept as spans of the event's payload in a buffer the tool reuses, so no
//! event allocates; and what ARGS shows of it (a script's own arguments).

use serde::ser::{Serialize, SerializeSeq, Serializer};

use corescope::escape::{cstr, KStr};
use corescope::skel::execsnoop::types::{
    execsnoop_consts as consts, execsnoop_event as Event, execsnoop_flags as flag,
};

/// One argument: `bytes[start..end]`; `cut` if it lost its end (to a byte
/// cap here or in the kernel).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Span {
    start: usize,
    end: usize,
    pub cut: bool,
}

/// The arguments of one event (reused from event to event).
#[derive(Debug, Default)]
pub struct Argv {
    spans: Vec<Span>,
    /// Arguments are missing at the end.
    pub dropped: bool,
}

impl Argv {
    /// Splits `bytes` at NULs; a last piece without its NUL was cut by a
    /// byte cap upstream. Keeps at most `max_items` items of at most
    /// `max_len` bytes each (`None`: no limit).
    pub fn split(&mut self, bytes: &[u8], max_items: Option<usize>, max_len: Option<usize>) {
        self.spans.clear();
        self.dropped = false;
        let mut start = 0;
        while start < bytes.len() {
            let (end, cut) = match bytes[start..].iter().position(|&b| b == 0) {
                Some(n) => (start + n, false),
                None => (bytes.len(), true),
            };
            if max_items.is_some_and(|n| self.spans.len() >= n) {
                self.dropped = true;
                break;
            }
            let keep = max_len.map_or(end, |k| end.min(start + k));
            let cut = cut || keep < end;
            self.spans.push(Span {
                start,
                end: keep,
                cut,
            });
            start = end + 1;
        }
    }

    /// Splits the argv of event `e` (payload: filename, then NUL-separated
    /// argv) with its kernel-side cut marks, as ARGS shows it: `caps` are
    /// --max-args (the filename counts) and --max-arg-size less its NUL
    /// (`None`: --full-args). Returns where the interpreter's words end and
    /// where the arguments ARGS shows after the filename start.
    pub fn decode(
        &mut self,
        e: &Event,
        payload: &[u8],
        caps: Option<(usize, usize)>,
    ) -> (usize, usize) {
        let fl = (e.fname_len as usize).min(payload.len());
        let al = (e.args_len as usize).min(payload.len() - fl);
        let interp = e.flags as u32 & flag::EXECSNOOP_F_INTERP.0 != 0;
        // The kernel copies a few more for a script (see EXECSNOOP_INTERP_ARGS).
        let extra = [0, consts::EXECSNOOP_INTERP_ARGS.0 as usize][usize::from(interp)];
        let bytes = &payload[fl..fl + al];
        self.split(bytes, caps.map(|c| c.0 + extra), caps.map(|c| c.1));
        // Arguments the kernel cut to their budget (the NUL is kept after them).
        for (i, s) in self.spans.iter_mut().enumerate() {
            s.cut |= e
                .arg_cut
                .get(i / 8)
                .is_some_and(|b| b & (1 << (i % 8)) != 0);
        }
        match (interp, caps) {
            (true, c) => self.script(
                bytes,
                cstr(&payload[..fl]),
                c.map_or(0, |c| c.0),
                c.is_none(),
            ),
            (false, _) => (0, 1),
        }
    }

    pub fn len(&self) -> usize {
        self.spans.len()
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Keeps the first `n` arguments; the rest count as dropped.
    pub fn keep(&mut self, n: usize) {
        if self.spans.len() > n {
            self.spans.truncate(n);
            self.dropped = true;
        }
    }

    /// Something was left out (an argument's end, or arguments).
    pub fn truncated(&self) -> bool {
        self.dropped || self.spans.iter().any(|s| s.cut)
    }

    /// Arguments `range` of `bytes` (the bytes [`Argv::split`] split).
    pub fn items<'a>(&'a self, bytes: &'a [u8], range: std::ops::Range<usize>) -> Items<'a> {
        let (a, b) = (range.start.min(self.len()), range.end.min(self.len()));
        Items {
            bytes,
            spans: &self.spans[a..b.max(a)],
        }
    }

    /// For a script (`EXECSNOOP_F_INTERP`): its argv is the interpreter's,
    /// `[interpreter, option?, script path, the script's arguments...]`.
    /// ARGS shows what was exec'd (as strace and BCC): the path, then the
    /// script's own arguments, as many as `max` allows for a binary (the
    /// path counts) unless `all`. Returns where the interpreter's words end
    /// and where the script's arguments start.
    pub fn script(&mut self, bytes: &[u8], path: &[u8], max: usize, all: bool) -> (usize, usize) {
        let at = self.spans.iter().skip(1).position(|s| {
            let a = &bytes[s.start..s.end];
            a == path || (s.cut && path.starts_with(a))
        });
        match at {
            Some(k) => {
                if !all {
                    self.keep(k + 1 + max);
                }
                (k + 1, k + 2)
            }
            // The path is past the arguments captured.
            None => {
                self.dropped = true;
                (self.len(), self.len())
            }
        }
    }
}

/// Some arguments of an event: JSON serializes them as escaped strings.
#[derive(Debug, Clone, Copy)]
pub struct Items<'a> {
    bytes: &'a [u8],
    spans: &'a [Span],
}

impl<'a> Items<'a> {
    /// Each argument's bytes, and whether it was cut.
    pub fn iter(&self) -> impl Iterator<Item = (&'a [u8], bool)> + 'a {
        let b = self.bytes;
        self.spans.iter().map(move |s| (&b[s.start..s.end], s.cut))
    }
}

impl Serialize for Items<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.spans.len()))?;
        for (a, _) in self.iter() {
            seq.serialize_element(&KStr(a))?;
        }
        seq.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(b: &[u8], n: Option<usize>, l: Option<usize>) -> (Vec<(Vec<u8>, bool)>, bool) {
        let mut a = Argv::default();
        a.split(b, n, l);
        let v = a.items(b, 0..a.len()).iter().map(|(x, c)| (x.to_vec(), c));
        (v.collect(), a.dropped)
    }

    #[test]
    fn splits_at_nuls_with_caps() {
        let o = |s: &str, c| (s.as_bytes().to_vec(), c);
        let want = vec![o("ls", false), o("-l", false), o("/tmp", false)];
        assert_eq!(split(b"ls\0-l\0/tmp\0", None, None), (want, false));
        // No NUL at the end: cut upstream.
        let want = vec![o("a", false), o("par", true)];
        assert_eq!(split(b"a\0par", None, None), (want, false));
        let want = vec![o("x", false), o("abcd", true), o("ok", false)];
        assert_eq!(
            split(b"x\0abcdefgh\0ok\0more\0", Some(3), Some(4)),
            (want, true)
        );
        assert_eq!(split(b"", None, None), (vec![], false));
        // Empty arguments are arguments.
        let want = vec![o("", false), o("b", false)];
        assert_eq!(split(b"\0b\0", None, None), (want, false));
    }

    #[test]
    fn a_script_shows_its_path_and_own_arguments() {
        let b = b"/bin/sh\0-e\0./s.sh\0a\0b\0c\0";
        let mut a = Argv::default();
        a.split(b, None, None);
        // --max-args 3: the path and 2 arguments.
        assert_eq!(a.script(b, b"./s.sh", 3, false), (2, 3));
        let rest: Vec<_> = a.items(b, 3..a.len()).iter().map(|x| x.0).collect();
        assert_eq!((rest, a.dropped), (vec![&b"a"[..], b"b"], true));
        a.split(b, None, None);
        assert_eq!(a.script(b, b"./s.sh", 3, true), (2, 3));
        assert!(!a.dropped && a.len() == 6);
        assert_eq!(a.script(b, b"./nothere", 3, false), (6, 6));
        assert!(a.dropped && a.items(b, 6..9).iter().count() == 0);
    }
}
