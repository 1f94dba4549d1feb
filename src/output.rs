//! Table and JSON Lines output. The table keeps every row under the BCC
//! header (one width per column, used for header and rows alike); JSON has
//! one object per line with a `type` field (`event`, `lost`, `summary`, …)
//! and then `schema` ([`JSON_SCHEMA`]); docs/json.md documents every record.
//! A tool may also offer CSV (BCC tcplife's `-s`): the same cells, unpadded,
//! comma-separated, quoted per RFC 4180 when they hold `,` or `"`.

use std::fmt;
use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::clock::Clock;
use crate::error::UserError;
use crate::escape::{escape, escape_into, escape_into_max};

const FLUSH_EVERY: Duration = Duration::from_millis(100);

/// Padding for right-aligned cells, inserted without building a String.
const SPACES: &str = "                                ";

/// A table column: header text, width, alignment. A column of width 0 is
/// the rest of the line: never padded, never cut (the last one, e.g. ARGS).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Col {
    pub name: &'static str,
    pub width: usize,
    pub right: bool,
}

impl Col {
    pub const fn left(name: &'static str, width: usize) -> Self {
        Self {
            name,
            width,
            right: false,
        }
    }
    pub const fn right(name: &'static str, width: usize) -> Self {
        Self {
            name,
            width,
            right: true,
        }
    }
}

/// One record as output: serialized for JSON, its columns for the table.
pub trait Row: Serialize {
    /// What decides which columns there are (the tool and its options).
    type Opts: ?Sized;
    /// Declares the table's columns, each with its header and its cell
    /// together ([`Table::col`]): the same code prints the header (no row)
    /// and every row, so the two cannot disagree.
    fn columns(t: &mut Table<'_, '_, Self>, o: &Self::Opts);
}

/// The columns being printed: the header (no row) or one row's cells.
pub struct Table<'t, 'l, R: ?Sized> {
    row: Option<&'t R>,
    line: &'t mut Line<'l>,
}

impl<'t, 'l, R: ?Sized> Table<'t, 'l, R> {
    /// A column: its header `col`, and how a row fills its cell.
    pub fn col(&mut self, col: Col, cell: impl FnOnce(&R, &mut Cell<'_, '_>)) {
        let start = self.line.start_cell();
        match self.row {
            None => self.line.buf.push_str(col.name),
            Some(r) => cell(
                r,
                &mut Cell {
                    line: self.line,
                    col,
                },
            ),
        }
        self.line.end_cell(start, col);
    }

    /// A column shown only `if shown` (an option's column).
    pub fn col_if(&mut self, shown: bool, col: Col, cell: impl FnOnce(&R, &mut Cell<'_, '_>)) {
        if shown {
            self.col(col, cell);
        }
    }

    /// The columns of a row that `R` holds (a wrapper's inner row).
    pub fn inner<U: ?Sized + 't>(&mut self, f: impl FnOnce(&'t R) -> &'t U) -> Table<'_, 'l, U> {
        Table {
            row: self.row.map(f),
            line: &mut *self.line,
        }
    }
}

/// One cell being written: numbers and trusted text with [`Cell::put`],
/// untrusted bytes with [`Cell::text`] (escaped, cut to the column).
pub struct Cell<'c, 'l> {
    line: &'c mut Line<'l>,
    col: Col,
}

impl Cell<'_, '_> {
    /// Format arguments (numbers, trusted text).
    pub fn put(&mut self, v: impl fmt::Display) {
        use fmt::Write as _;
        let _ = write!(self.line.buf, "{v}");
    }

    /// Untrusted bytes, escaped (see [`crate::escape`]); in the table, cut at
    /// whole escapes to the column's width (not a width-0 column, nor CSV).
    pub fn text(&mut self, bytes: &[u8]) {
        match self.col.width {
            w if w > 0 && !self.line.csv => {
                escape_into_max(self.line.buf, bytes, false, w);
            }
            _ => escape_into(self.line.buf, bytes, false),
        }
    }

    /// The line buffer, to write the cell in parts (joined, individually
    /// escaped values such as ARGS).
    pub fn buf(&mut self) -> &mut String {
        self.line.buf
    }
}

/// Builds one table line, padding each cell to its column.
///
/// A cell never shifts the columns after it for good: untrusted text
/// ([`Cell::text`]) is cut to its column at whole escapes (as BCC cuts COMM;
/// never inside an escape), and any other cell wider than its column (an
/// IPv4-mapped address, a huge number) is kept whole, its excess taken back
/// from the padding of the cells after it, so later columns return to their
/// place as soon as there is room. A cell's padding is written when the next
/// cell starts: the last column is padded only when right-aligned. CSV cells are never cut.
pub struct Line<'a> {
    buf: &'a mut String,
    csv: bool,
    /// Cells written so far.
    i: usize,
    /// Characters written past the columns so far, not yet taken back.
    over: usize,
    /// The previous cell's padding, not written yet: where, how many spaces.
    pad: (usize, usize),
}

impl<'a> Line<'a> {
    fn new(buf: &'a mut String, csv: bool) -> Self {
        Self {
            buf,
            csv,
            i: 0,
            over: 0,
            pad: (0, 0),
        }
    }

    fn start_cell(&mut self) -> usize {
        if self.i > 0 {
            let (at, mut n) = std::mem::take(&mut self.pad);
            // In place, without a String per cell.
            while n > 0 {
                let k = n.min(SPACES.len());
                self.buf.insert_str(at, &SPACES[..k]);
                n -= k;
            }
            self.buf.push(if self.csv { ',' } else { ' ' });
        }
        self.i += 1;
        self.buf.len()
    }

    fn end_cell(&mut self, start: usize, col: Col) {
        if self.csv {
            csv_quote(self.buf, start);
            return;
        }
        if col.width == 0 {
            return; // the rest of the line: no padding
        }
        let n = self.buf[start..].chars().count();
        if n > col.width {
            self.over += n - col.width;
        } else {
            let back = self.over.min(col.width - n);
            self.over -= back;
            let pad = col.width - n - back;
            self.pad = (if col.right { start } else { self.buf.len() }, pad);
        }
    }
}

impl Line<'_> {
    /// Ends the line: a right-aligned last cell gets its padding (a left-
    /// aligned one none: no trailing spaces).
    fn finish(&mut self) {
        let (at, mut n) = std::mem::take(&mut self.pad);
        if at >= self.buf.len() {
            return;
        }
        while n > 0 {
            let k = n.min(SPACES.len());
            self.buf.insert_str(at, &SPACES[..k]);
            n -= k;
        }
    }
}

/// Quotes the cell that starts at `start` if it holds `,` or `"` (RFC 4180),
/// in place (no String per quoted cell).
fn csv_quote(buf: &mut String, start: usize) {
    if !buf[start..].contains([',', '"']) {
        return;
    }
    // Double each `"`, from the end so that earlier offsets hold.
    let mut end = buf.len();
    while let Some(q) = buf[start..end].rfind('"') {
        buf.insert(start + q, '"');
        end = start + q;
    }
    buf.insert(start, '"');
    buf.push('"');
}

/// Writes the header (`row` None) or a row of `R` into `buf`.
fn write_line<R: Row + ?Sized>(buf: &mut String, row: Option<&R>, o: &R::Opts, csv: bool) {
    let mut line = Line::new(buf, csv);
    R::columns(
        &mut Table {
            row,
            line: &mut line,
        },
        o,
    );
    line.finish();
}

/// The header line of `R`'s table (no newline).
pub fn header_line<R: Row + ?Sized>(o: &R::Opts) -> String {
    let mut s = String::new();
    write_line::<R>(&mut s, None, o, false);
    s
}

/// One row as a table line (no newline).
pub fn table_line<R: Row + ?Sized>(row: &R, o: &R::Opts) -> String {
    let mut s = String::new();
    write_line(&mut s, Some(row), o, false);
    s
}

/// The CSV header of `R`: the column names, comma-separated.
pub fn csv_header_line<R: Row + ?Sized>(o: &R::Opts) -> String {
    let mut s = String::new();
    write_line::<R>(&mut s, None, o, true);
    s
}

/// One row as a CSV line (no newline).
pub fn csv_line<R: Row + ?Sized>(row: &R, o: &R::Opts) -> String {
    let mut s = String::new();
    write_line(&mut s, Some(row), o, true);
    s
}

/// The version of the JSON Lines records (docs/json.md), `"schema"` in each
/// one: the same while fields are only added; +1 when one is renamed,
/// removed or changes its type.
pub const JSON_SCHEMA: u32 = 1;

/// Serializes `v` as one JSON object line with `"type": ty` first, then
/// `"schema": JSON_SCHEMA`. Written in place (those two first, then `v`
/// with its `{` dropped): no second buffer per record.
pub fn json_line<T: Serialize>(ty: &str, v: &T, buf: &mut Vec<u8>) -> io::Result<()> {
    use io::Write as _;
    let start = buf.len();
    buf.extend_from_slice(b"{\"type\":");
    serde_json::to_writer(&mut *buf, ty).map_err(io::Error::other)?;
    write!(buf, ",\"schema\":{JSON_SCHEMA},")?;
    let body = buf.len();
    serde_json::to_writer(&mut *buf, v).map_err(io::Error::other)?;
    match &buf[body..] {
        [b'{', b'}'] => {
            buf.truncate(body - 1);
            buf.push(b'}');
        }
        [b'{', ..] => {
            buf.remove(body);
        }
        _ => {
            buf.truncate(start);
            return Err(io::Error::other("a JSON record must be an object"));
        }
    }
    buf.push(b'\n');
    Ok(())
}

/// Where the rows go (stdout or the `-o` file); write errors name it.
struct Dest {
    file: File,
    /// `stdout` or `FILE` (escaped).
    name: String,
}

impl Dest {
    fn err(&self, e: io::Error) -> io::Error {
        let hint = if self.name == "stdout" {
            "check where stdout goes (a full disk?), or write to a file with -o FILE"
        } else {
            "check the file system of the output file (a full disk?)"
        };
        let msg = format!("writing to {} failed: {e}", self.name);
        // Same kind (a closed pipe stays a quiet end, see error::main).
        io::Error::new(e.kind(), UserError::hint(msg, hint))
    }
}

impl Write for Dest {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.write(buf).map_err(|e| self.err(e))
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file.flush().map_err(|e| self.err(e))
    }
}

/// Where rows go: buffered stdout or `-o FILE`, flushed every 100 ms (every
/// line on a terminal).
pub struct Output {
    w: BufWriter<Dest>,
    json: bool,
    csv: bool,
    tty: bool,
    /// The table's header line (set by [`Output::set_header`]).
    head: String,
    line: String,
    jbuf: Vec<u8>,
    last_flush: Instant,
    /// Rows written so far.
    pub shown: u64,
    /// Turns event timestamps into TIME / TIME(s) values.
    pub clock: Clock,
    /// `--prometheus`: where the shapes also put what they read.
    pub prom: Option<crate::prom::Handle>,
}

impl Output {
    /// Rows to stdout.
    pub fn new(json: bool) -> io::Result<Self> {
        // Our own handle on fd 1: Rust's Stdout is line-buffered, far too
        // slow for event storms.
        let file = File::from(io::stdout().as_fd().try_clone_to_owned()?);
        Ok(Self::with(json, file, "stdout".into()))
    }

    /// Rows to `path` (created or truncated, mode 0644 less the umask), or
    /// to stdout without one (`-o`).
    pub fn to(json: bool, path: Option<&Path>) -> anyhow::Result<Self> {
        use std::os::unix::fs::OpenOptionsExt;
        let Some(path) = path else {
            return anyhow::Context::context(Self::new(json), "stdout");
        };
        let name = escape(path.as_os_str().as_bytes());
        let file = File::options()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o644)
            .open(path)
            .map_err(|e| {
                UserError::hint(
                    format!("cannot open the output file {name}: {e}"),
                    "check that its directory exists and that you may write there",
                )
            })?;
        Ok(Self::with(json, file, name))
    }

    fn with(json: bool, file: File, name: String) -> Self {
        let tty = file.is_terminal();
        Self {
            w: BufWriter::with_capacity(64 * 1024, Dest { file, name }),
            json,
            csv: false,
            tty,
            head: String::new(),
            line: String::with_capacity(256),
            jbuf: Vec::with_capacity(512),
            last_flush: Instant::now(),
            shown: 0,
            clock: Clock::new(),
            prom: None,
        }
    }

    /// Fails (as a closed pipe: a quiet end) once the reader of the output
    /// has gone, even with nothing to write: `tool -p PID | head -1` ends
    /// although PID does nothing. A regular file or a terminal never
    /// reports that (a terminal hangup also sends SIGHUP).
    pub fn check_open(&self) -> io::Result<()> {
        let mut p = libc::pollfd {
            fd: self.w.get_ref().file.as_raw_fd(),
            events: 0,
            revents: 0,
        };
        // SAFETY: one valid pollfd, timeout 0; the fd is owned by `self`.
        let n = unsafe { libc::poll(&mut p, 1, 0) };
        if n == 1 && p.revents & (libc::POLLERR | libc::POLLHUP) != 0 {
            let e = io::Error::from(io::ErrorKind::BrokenPipe);
            return Err(self.w.get_ref().err(e));
        }
        Ok(())
    }

    pub fn json(&self) -> bool {
        self.json
    }

    /// Whether the rows go to a terminal (top tools clear it).
    pub fn is_terminal(&self) -> bool {
        self.tty
    }

    /// Table rows as CSV from now on (no effect in JSON mode); before
    /// [`Output::set_header`].
    pub fn set_csv(&mut self) {
        self.csv = !self.json;
    }

    /// The header of `R`'s table with options `o`, printed by [`Output::header`].
    pub fn set_header<R: Row + ?Sized>(&mut self, o: &R::Opts) {
        self.head.clear();
        write_line::<R>(&mut self.head, None, o, self.csv);
    }

    /// The table header (nothing in JSON mode, nor when it is empty: a
    /// stack tool's folded output has none).
    pub fn header(&mut self) -> io::Result<()> {
        if !self.json && !self.head.is_empty() {
            self.w.write_all(self.head.as_bytes())?;
            self.w.write_all(b"\n")?;
            self.flush()?;
        }
        Ok(())
    }

    /// Writes one event row; `o` decides its columns.
    pub fn row<R: Row>(&mut self, row: &R, o: &R::Opts) -> io::Result<()> {
        self.row_as("event", row, o)
    }

    /// Writes one row: a table line, or in JSON a record of type `ty`
    /// (periodic tools: `rule`, `action`, … instead of `event`).
    pub fn row_as<R: Row>(&mut self, ty: &str, row: &R, o: &R::Opts) -> io::Result<()> {
        if self.json {
            self.jbuf.clear();
            json_line(ty, row, &mut self.jbuf)?;
            self.w.write_all(&self.jbuf)?;
        } else {
            self.line.clear();
            write_line(&mut self.line, Some(row), o, self.csv);
            self.line.push('\n');
            self.w.write_all(self.line.as_bytes())?;
        }
        self.shown += 1;
        self.after_line()
    }

    /// A table-only row that is not an event (an interval tool's final
    /// totals): not counted in `shown`, nothing in JSON mode (the summary
    /// record holds the totals there), so both modes count the same events.
    pub fn total_row<R: Row>(&mut self, row: &R, o: &R::Opts) -> io::Result<()> {
        if self.json {
            return Ok(());
        }
        self.row_as("total", row, o)?;
        self.shown = self.shown.saturating_sub(1);
        Ok(())
    }

    /// Extra text lines under the last row (table mode), e.g. stack frames.
    pub fn raw_line(&mut self, text: &str) -> io::Result<()> {
        self.w.write_all(text.as_bytes())?;
        self.w.write_all(b"\n")?;
        self.after_line()
    }

    /// Text as is, no newline added (a screen clear).
    pub fn raw(&mut self, text: &str) -> io::Result<()> {
        self.w.write_all(text.as_bytes())
    }

    /// A non-event JSON record (`lost`, `summary`); ignored in table mode.
    pub fn record<T: Serialize>(&mut self, ty: &str, v: &T) -> io::Result<()> {
        if self.json {
            self.jbuf.clear();
            json_line(ty, v, &mut self.jbuf)?;
            self.w.write_all(&self.jbuf)?;
            self.after_line()?;
        }
        Ok(())
    }

    fn after_line(&mut self) -> io::Result<()> {
        if self.tty || self.last_flush.elapsed() >= FLUSH_EVERY {
            self.flush()?;
        }
        Ok(())
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.last_flush = Instant::now();
        self.w.flush()
    }

    /// Flushes if the last flush is 100 ms old (called from the poll loop).
    pub fn tick(&mut self) -> io::Result<()> {
        if self.last_flush.elapsed() >= FLUSH_EVERY {
            self.flush()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct R {
        name: &'static str,
        pid: u32,
        ret: i32,
    }
    impl Row for R {
        type Opts = ();
        fn columns(t: &mut Table<'_, '_, Self>, _: &()) {
            t.col(Col::left("COMM", 8), |r, c| c.text(r.name.as_bytes()));
            t.col(Col::left("PID", 6), |r, c| c.put(r.pid));
            t.col(Col::right("RET", 3), |r, c| c.put(r.ret));
            t.col(Col::left("ARGS", 0), |_, c| c.text(b"rest\nof it"));
        }
    }

    #[test]
    fn rows_align_under_header() {
        assert_eq!(header_line::<R>(&()), "COMM     PID    RET ARGS");
        let row = table_line(
            &R {
                name: "sh",
                pid: 42,
                ret: -2,
            },
            &(),
        );
        assert_eq!(row, "sh       42      -2 rest\\nof it");
        let h = header_line::<R>(&());
        assert_eq!(h.find("ARGS"), row.find("rest"));
    }

    /// A right-aligned last column (syscount's COUNT, "%-22s %8s").
    #[derive(Serialize)]
    struct Last(&'static str, u64);
    impl Row for Last {
        type Opts = ();
        fn columns(t: &mut Table<'_, '_, Self>, _: &()) {
            t.col(Col::left("SYSCALL", 22), |r, c| c.put(r.0));
            t.col(Col::right("COUNT", 8), |r, c| c.put(r.1));
        }
    }

    #[test]
    fn a_right_aligned_last_column_is_padded() {
        assert_eq!(
            header_line::<Last>(&()),
            format!("{:<22} {:>8}", "SYSCALL", "COUNT")
        );
        assert_eq!(
            table_line(&Last("read", 42), &()),
            format!("{:<22} {:>8}", "read", 42)
        );
        // Wider than its column: whole, no padding.
        assert_eq!(
            table_line(&Last("read", 1_234_567_890), &()),
            "read                   1234567890"
        );
        // A left-aligned last column still has no trailing spaces.
        assert_eq!(header_line::<R>(&()).trim_end(), header_line::<R>(&()));
    }

    /// COMM (untrusted), an address, a port, a right-aligned count, the rest.
    struct Wide(&'static [u8], &'static str, u32);
    impl Serialize for Wide {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_unit()
        }
    }
    impl Row for Wide {
        type Opts = ();
        fn columns(t: &mut Table<'_, '_, Self>, _: &()) {
            t.col(Col::left("COMM", 8), |r, c| c.text(r.0));
            t.col(Col::left("ADDR", 9), |r, c| c.put(r.1));
            t.col(Col::left("PORT", 5), |r, c| c.put(r.2));
            t.col(Col::right("N", 3), |_, c| c.put(7));
            t.col(Col::left("REST", 0), |_, c| c.text(b"end\x1b"));
        }
    }

    #[test]
    fn wide_cells_do_not_shift_later_columns() {
        let h = header_line::<Wide>(&());
        assert_eq!(h, "COMM     ADDR      PORT    N REST");
        let row = |r: Wide| table_line(&r, &());
        // Fits: the plain layout.
        let r = row(Wide(b"sh", "10.0.0.1", 80));
        assert_eq!(r, "sh       10.0.0.1  80      7 end\\e");
        // Escaped text is cut at whole escapes to its column (8 characters:
        // `ab\e[2J` is 7, the next escape would not fit).
        let r = row(Wide(b"ab\x1b[2J\x1b[H", "10.0.0.1", 80));
        assert_eq!(r, "ab\\e[2J  10.0.0.1  80      7 end\\e");
        let r = row(Wide(b"abcdefg\xff", "10.0.0.1", 80));
        assert_eq!(r, "abcdefg  10.0.0.1  80      7 end\\e");
        // A wider address is whole; the port's padding takes it back.
        let r = row(Wide(b"sh", "10.20.30.40", 80));
        assert_eq!(r, "sh       10.20.30.40 80    7 end\\e");
        assert_eq!(h.find(" N "), r.find(" 7 "));
        // More excess than the next cell's padding: taken back further on.
        let r = row(Wide(b"sh", "::ffff:1.2.3.4", 80));
        assert_eq!(r, "sh       ::ffff:1.2.3.4 80 7 end\\e");
        assert_eq!(h.find(" N "), r.find(" 7 "));
        // Only separators are left: the rest shifts, by no more than needed.
        let r = row(Wide(b"sh", "::ffff:10.20.30.40", 8080));
        assert_eq!(r, "sh       ::ffff:10.20.30.40 8080 7 end\\e");
        // CSV: nothing cut.
        let r = csv_line(&Wide(b"ab\x1b[2J\x1b[H", "::ffff:1.2.3.4", 80), &());
        assert_eq!(r, "ab\\e[2J\\e[H,::ffff:1.2.3.4,80,7,end\\e");
    }

    #[test]
    fn csv_cells_are_unpadded_and_quoted() {
        assert_eq!(csv_header_line::<R>(&()), "COMM,PID,RET,ARGS");
        let row = csv_line(
            &R {
                name: "a,\"b\"",
                pid: 42,
                ret: -2,
            },
            &(),
        );
        assert_eq!(row, "\"a,\"\"b\"\"\",42,-2,rest\\nof it");
    }

    #[test]
    fn json_lines_are_typed_objects() {
        let mut b = Vec::new();
        json_line(
            "event",
            &R {
                name: "a\"b",
                pid: 1,
                ret: 0,
            },
            &mut b,
        )
        .unwrap();
        let s = String::from_utf8(b).unwrap();
        assert!(s.ends_with('\n') && s.matches('\n').count() == 1);
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v["type"], "event");
        assert_eq!(v["schema"], 1);
        assert!(
            s.starts_with("{\"type\":\"event\",\"schema\":1,\"name\":"),
            "{s}"
        );
        assert_eq!(v["name"], "a\"b");
        assert_eq!(v["pid"], 1);
        let mut b = Vec::new();
        #[derive(Serialize)]
        struct Empty {}
        json_line("summary", &Empty {}, &mut b).unwrap();
        assert_eq!(b, b"{\"type\":\"summary\",\"schema\":1}\n");
    }
}
