//! Escaping of untrusted strings (argv, paths, comm) for the table output.
//!
//! Rules (lossless: the original bytes can always be recovered):
//! - `\` becomes `\\`; with quoting, `"` becomes `\"`;
//! - newline, tab and carriage return become `\n`, `\t`, `\r`; ESC becomes `\e`;
//! - other ASCII control bytes and DEL become `\xHH`;
//! - bytes that are not valid UTF-8 become `\xHH`;
//! - Unicode C1 controls and bidirectional / zero-width formatting
//!   characters become `\u{HHHH}`;
//! - everything else (printable UTF-8, including spaces) is kept.
//!
//! In JSON ([`KStr`]) a value that is valid UTF-8 is a plain string, exact
//! (JSON's own escaping keeps the line valid); one that is not is an object
//! `{"bytes": "<base64 of the raw bytes>"}`, so no string can pass for
//! another (the escaped form of byte 0xff is also the text `\xff`).

use serde::{Serialize, Serializer};
use std::fmt::Write as _;

fn needs_unicode_escape(c: char) -> bool {
    matches!(c,
        '\u{80}'..='\u{9f}'
        | '\u{200b}'..='\u{200f}'
        | '\u{2028}'..='\u{202e}'
        | '\u{2060}'..='\u{2069}'
        | '\u{feff}')
}

fn push_char(out: &mut String, c: char, quote: bool) {
    match c {
        '\\' => out.push_str("\\\\"),
        '"' if quote => out.push_str("\\\""),
        '\n' => out.push_str("\\n"),
        '\t' => out.push_str("\\t"),
        '\r' => out.push_str("\\r"),
        '\x1b' => out.push_str("\\e"),
        c if (c as u32) < 0x20 || c == '\x7f' => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c if needs_unicode_escape(c) => {
            let _ = write!(out, "\\u{{{:04x}}}", c as u32);
        }
        c => out.push(c),
    }
}

/// Appends the escaped form of `bytes` to `out`; `quote` also escapes `"`.
pub fn escape_into(out: &mut String, bytes: &[u8], quote: bool) {
    for chunk in bytes.utf8_chunks() {
        let valid = chunk.valid();
        // Fast path: nothing to escape in this chunk.
        if valid
            .bytes()
            .all(|b| (0x20..0x7f).contains(&b) && b != b'\\' && !(quote && b == b'"'))
        {
            out.push_str(valid);
        } else {
            for c in valid.chars() {
                push_char(out, c, quote);
            }
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
}

/// Like [`escape_into`], but stops before the first character or escape that
/// would make the appended text longer than `max` characters, so that it is
/// never cut inside an escape. Returns whether something was left out.
pub fn escape_into_max(out: &mut String, bytes: &[u8], quote: bool, max: usize) -> bool {
    let mut n = 0;
    let mut fits = |out: &mut String, start: usize| {
        n += out[start..].chars().count();
        if n > max {
            out.truncate(start);
        }
        n <= max
    };
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            let start = out.len();
            push_char(out, c, quote);
            if !fits(out, start) {
                return true;
            }
        }
        for b in chunk.invalid() {
            let start = out.len();
            let _ = write!(out, "\\x{b:02x}");
            if !fits(out, start) {
                return true;
            }
        }
    }
    false
}

/// The escaped form of `bytes` as a new String.
pub fn escape(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len());
    escape_into(&mut s, bytes, false);
    s
}

/// Bytes up to the first NUL (a C string in a fixed-size array).
pub fn cstr(bytes: &[u8]) -> &[u8] {
    match bytes.iter().position(|&b| b == 0) {
        Some(n) => &bytes[..n],
        None => bytes,
    }
}

/// A kernel-supplied string for JSON: a plain string when valid UTF-8,
/// `{"bytes": "<base64>"}` (standard alphabet, padded) when not. As in
/// ripgrep's JSON: both forms are exact, and they cannot be confused.
#[derive(Debug, Clone, Copy)]
pub struct KStr<'a>(pub &'a [u8]);

impl Serialize for KStr<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use base64::Engine as _;
        use serde::ser::SerializeMap as _;
        match std::str::from_utf8(self.0) {
            Ok(v) => s.serialize_str(v),
            Err(_) => {
                let b64 = base64::engine::general_purpose::STANDARD.encode(self.0);
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry("bytes", &b64)?;
                m.end()
            }
        }
    }
}

/// An owned [`KStr`] (e.g. a module path found by the symbolizer); same JSON.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KString(pub Vec<u8>);

impl Serialize for KString {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        KStr(&self.0).serialize(s)
    }
}

impl From<&str> for KString {
    fn from(s: &str) -> Self {
        Self(s.as_bytes().to_vec())
    }
}

/// A list of NUL-terminated strings as the kernel hands them over (argv,
/// envp), cut to a number of items and of bytes per item.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct StringList<'a> {
    pub items: Vec<&'a [u8]>,
    /// Per item: it lost its end (to a byte cap here or in the kernel).
    pub cut: Vec<bool>,
    /// Items are missing at the end.
    pub dropped: bool,
}

impl<'a> StringList<'a> {
    /// Splits `bytes` at NULs; a last piece without its NUL was cut by a
    /// byte cap upstream. Keeps at most `max_items` items of at most
    /// `max_len` bytes each (`None`: no limit).
    pub fn split(bytes: &'a [u8], max_items: Option<usize>, max_len: Option<usize>) -> Self {
        let mut items: Vec<&[u8]> = bytes.split(|&b| b == 0).collect();
        // A complete last string ends in NUL, leaving an empty last piece.
        let last = items.pop().unwrap_or_default();
        let mut cut = vec![false; items.len()];
        if !last.is_empty() {
            items.push(last);
            cut.push(true);
        }
        let mut dropped = false;
        if let Some(n) = max_items.filter(|&n| items.len() > n) {
            items.truncate(n);
            cut.truncate(n);
            dropped = true;
        }
        if let Some(keep) = max_len {
            for (a, c) in items.iter_mut().zip(cut.iter_mut()) {
                if a.len() > keep {
                    *a = &a[..keep];
                    *c = true;
                }
            }
        }
        Self {
            items,
            cut,
            dropped,
        }
    }

    /// Something was left out (an item's end, or items).
    pub fn truncated(&self) -> bool {
        self.dropped || self.cut.iter().any(|&c| c)
    }
}

/// Appends one escaped value, `"quoted"` if asked, with `...` if it was cut.
pub fn push_value(out: &mut String, bytes: &[u8], quote: bool, cut: bool) {
    quote.then(|| out.push('"'));
    escape_into(out, bytes, quote);
    cut.then(|| out.push_str("..."));
    quote.then(|| out.push('"'));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_unchanged() {
        assert_eq!(escape(b"/bin/ls -l /tmp"), "/bin/ls -l /tmp");
        assert_eq!(escape("héllo wörld".as_bytes()), "héllo wörld");
    }

    #[test]
    fn control_characters_escaped() {
        assert_eq!(escape(b"a\nb"), "a\\nb");
        assert_eq!(escape(b"a\tb\rc"), "a\\tb\\rc");
        assert_eq!(escape(b"\x1b[31mred"), "\\e[31mred");
        assert_eq!(escape(b"\x00\x07\x7f"), "\\x00\\x07\\x7f");
        assert_eq!(escape(b"back\\slash"), "back\\\\slash");
    }

    #[test]
    fn invalid_utf8_escaped() {
        assert_eq!(escape(b"ab\xff\xfecd"), "ab\\xff\\xfecd");
        assert_eq!(escape(b"\xc3"), "\\xc3");
    }

    #[test]
    fn unicode_format_chars_escaped() {
        assert_eq!(escape("a\u{202e}b".as_bytes()), "a\\u{202e}b");
        assert_eq!(escape("\u{85}".as_bytes()), "\\u{0085}");
    }

    #[test]
    fn cut_at_whole_escapes() {
        let cut = |b: &[u8], max| {
            let mut s = String::from(">");
            let c = escape_into_max(&mut s, b, false, max);
            (s, c)
        };
        assert_eq!(cut(b"srv\x1b[2J", 4), (">srv".into(), true));
        assert_eq!(cut(b"srv\x1b[2J", 5), (">srv\\e".into(), true));
        assert_eq!(cut(b"a\xffb", 4), (">a".into(), true));
        assert_eq!(cut(b"a\xffb", 5), (">a\\xff".into(), true));
        assert_eq!(cut("é\u{202e}".as_bytes(), 1), (">é".into(), true));
        assert_eq!(cut(b"a\nb", 4), (">a\\nb".into(), false));
        // Every byte of 0..=255 is one unit here (0x80.. are all invalid):
        // each cut is the longest run of whole units that fits.
        let all: Vec<u8> = (0..=255u8).collect();
        let ends: Vec<usize> = (0..=256).map(|i| escape(&all[..i]).len()).collect();
        let full = escape(&all);
        for max in 0..=full.len() {
            let (s, c) = cut(&all, max);
            let want = ends.iter().rev().find(|&&e| e <= max).copied();
            assert_eq!((s.len() - 1, c), (want.unwrap_or(0), max < full.len()));
            assert!(full.starts_with(&s[1..]));
        }
    }

    #[test]
    fn quote_mode() {
        let mut s = String::new();
        escape_into(&mut s, b"say \"hi\"", true);
        assert_eq!(s, "say \\\"hi\\\"");
    }

    #[test]
    fn escaped_output_is_one_printable_line() {
        let all: Vec<u8> = (0..=255u8).collect();
        let e = escape(&all);
        assert!(!e.chars().any(|c| c.is_control()), "{e:?}");
    }

    /// What a consumer does with a KStr value: a string, or base64 bytes.
    fn from_json(j: &str) -> Vec<u8> {
        use base64::Engine as _;
        match serde_json::from_str::<serde_json::Value>(j).unwrap() {
            serde_json::Value::String(s) => s.into_bytes(),
            v => {
                let obj = v.as_object().unwrap();
                assert_eq!(obj.len(), 1, "{j}");
                let b = obj["bytes"].as_str().unwrap();
                base64::engine::general_purpose::STANDARD.decode(b).unwrap()
            }
        }
    }

    #[test]
    fn json_is_exact_for_any_bytes() {
        let all: Vec<u8> = (0..=255u8).collect();
        for bytes in [
            &b"a\nb\x1b"[..],
            b"\xff\xfe",
            b"\"quoted\"",
            b"",
            b"\\xff",
            &all,
        ] {
            let j = serde_json::to_string(&KStr(bytes)).unwrap();
            assert_eq!(from_json(&j), bytes, "{j}");
            assert!(!j.contains('\n'));
        }
    }

    #[test]
    fn json_tells_a_raw_byte_from_its_escaped_text() {
        let raw = serde_json::to_string(&KStr(b"a\xffb")).unwrap();
        let text = serde_json::to_string(&KStr(b"a\\xffb")).unwrap();
        assert_ne!(raw, text);
        assert_eq!(text, r#""a\\xffb""#);
        assert_eq!(raw, r#"{"bytes":"Yf9i"}"#);
    }

    #[test]
    fn string_list_split_and_cut() {
        let l = StringList::split(b"ls\0-l\0/tmp\0", None, None);
        assert_eq!(l.items, [&b"ls"[..], b"-l", b"/tmp"]);
        assert!(!l.truncated());
        // The byte cap upstream cut the last string: no NUL after it.
        let l = StringList::split(b"a\0par", None, None);
        assert_eq!(
            (l.items, l.cut),
            (vec![&b"a"[..], b"par"], vec![false, true])
        );
        let l = StringList::split(b"x\0abcdefgh\0ok\0more\0", Some(3), Some(4));
        assert_eq!(l.items, [&b"x"[..], b"abcd", b"ok"]);
        assert_eq!((l.cut, l.dropped), (vec![false, true, false], true));
        assert_eq!(StringList::split(b"", None, None), StringList::default());
    }

    #[test]
    fn push_value_quotes_and_marks_cuts() {
        let mut s = String::new();
        push_value(&mut s, b"a \"b\"\n", true, true);
        assert_eq!(s, "\"a \\\"b\\\"\\n...\"");
    }

    #[test]
    fn cstr_stops_at_nul() {
        assert_eq!(cstr(b"bash\0\0\0"), b"bash");
        assert_eq!(cstr(b"full"), b"full");
    }
}
