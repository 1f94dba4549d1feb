//! Table and JSON Lines output. The table keeps every row under the BCC
//! header (one width per column, used for header and rows alike); JSON has
//! one object per line with a `type` field: `event`, `lost`, `summary`.
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

/// A table column: header text, width, alignment. The last column is not padded.
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

/// One event as output: serialized for JSON, `cells` for the table.
pub trait Row: Serialize {
    /// Writes the table cells, one call per column, in column order.
    fn cells(&self, line: &mut Line<'_>);
}

/// Builds one table line, padding each cell to its column.
///
/// A cell never shifts the columns after it for good: untrusted text
/// ([`Line::text`]) is cut to its column at whole escapes (as BCC cuts COMM;
/// never inside an escape), and any other cell wider than its column (an
/// IPv4-mapped address, a huge number) is kept whole, its excess taken back
/// from the padding of the cells after it, so later columns return to their
/// place as soon as there is room. The last column is never cut nor padded;
/// CSV cells are never cut.
pub struct Line<'a> {
    buf: &'a mut String,
    cols: &'a [Col],
    i: usize,
    csv: bool,
    /// Characters written past the columns so far, not yet taken back.
    over: usize,
}

impl Line<'_> {
    fn start_cell(&mut self) -> usize {
        if self.i > 0 {
            self.buf.push(if self.csv { ',' } else { ' ' });
        }
        self.buf.len()
    }

    fn end_cell(&mut self, start: usize) {
        let col = self.cols.get(self.i).copied();
        self.i += 1;
        if self.csv {
            csv_quote(self.buf, start);
            return;
        }
        let Some(col) = col else { return };
        if self.i == self.cols.len() {
            return; // last column: no padding
        }
        let n = self.buf[start..].chars().count();
        if n > col.width {
            self.over += n - col.width;
        } else {
            let back = self.over.min(col.width - n);
            self.over -= back;
            let mut pad = col.width - n - back;
            if col.right {
                // In place: no String per right-aligned cell.
                for _ in 0..pad.div_ceil(SPACES.len()) {
                    let k = pad.min(SPACES.len());
                    self.buf.insert_str(start, &SPACES[..k]);
                    pad -= k;
                }
            } else {
                self.buf.extend(std::iter::repeat_n(' ', pad));
            }
        }
    }

    /// A cell from format arguments (numbers, trusted text).
    pub fn cell(&mut self, v: impl fmt::Display) {
        use fmt::Write as _;
        let s = self.start_cell();
        let _ = write!(self.buf, "{v}");
        self.end_cell(s);
    }

    /// A cell of untrusted bytes, escaped (see [`crate::escape`]); in the
    /// table, cut at whole escapes to the column's width (but the last).
    pub fn text(&mut self, bytes: &[u8]) {
        let s = self.start_cell();
        let last = self.i + 1 >= self.cols.len();
        match self.cols.get(self.i) {
            Some(c) if !self.csv && !last && c.width > 0 => {
                escape_into_max(self.buf, bytes, false, c.width);
            }
            _ => escape_into(self.buf, bytes, false),
        }
        self.end_cell(s);
    }

    /// A cell whose content is written by `f` into the line buffer
    /// (for joined, individually escaped values such as ARGS).
    pub fn with(&mut self, f: impl FnOnce(&mut String)) {
        let s = self.start_cell();
        f(self.buf);
        self.end_cell(s);
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

fn header_with(cols: &[Col], csv: bool) -> String {
    let mut buf = String::new();
    let mut line = Line {
        buf: &mut buf,
        cols,
        i: 0,
        csv,
        over: 0,
    };
    for c in cols {
        line.cell(c.name);
    }
    buf
}

fn line_with<R: Row>(cols: &[Col], row: &R, csv: bool) -> String {
    let mut buf = String::new();
    row.cells(&mut Line {
        buf: &mut buf,
        cols,
        i: 0,
        csv,
        over: 0,
    });
    buf
}

/// Formats the header line for `cols`.
pub fn header_line(cols: &[Col]) -> String {
    header_with(cols, false)
}

/// Formats one row as a table line (no newline).
pub fn table_line<R: Row>(cols: &[Col], row: &R) -> String {
    line_with(cols, row, false)
}

/// The CSV header for `cols`: the column names, comma-separated.
pub fn csv_header_line(cols: &[Col]) -> String {
    header_with(cols, true)
}

/// Formats one row as a CSV line (no newline).
pub fn csv_line<R: Row>(cols: &[Col], row: &R) -> String {
    line_with(cols, row, true)
}

/// Serializes `v` as one JSON object line with `"type": ty` first.
/// Written in place (the type first, then `v` with its `{` dropped): no
/// second buffer per record.
pub fn json_line<T: Serialize>(ty: &str, v: &T, buf: &mut Vec<u8>) -> io::Result<()> {
    let start = buf.len();
    buf.extend_from_slice(b"{\"type\":");
    serde_json::to_writer(&mut *buf, ty).map_err(io::Error::other)?;
    buf.push(b',');
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
    cols: Vec<Col>,
    line: String,
    jbuf: Vec<u8>,
    last_flush: Instant,
    /// Rows written so far.
    pub shown: u64,
    /// Turns event timestamps into TIME / TIME(s) values.
    pub clock: Clock,
}

impl Output {
    /// Rows to stdout.
    pub fn new(json: bool, cols: Vec<Col>) -> io::Result<Self> {
        // Our own handle on fd 1: Rust's Stdout is line-buffered, far too
        // slow for event storms.
        let file = File::from(io::stdout().as_fd().try_clone_to_owned()?);
        Ok(Self::with(json, cols, file, "stdout".into()))
    }

    /// Rows to `path` (created or truncated, mode 0644 less the umask), or
    /// to stdout without one (`-o`).
    pub fn to(json: bool, cols: Vec<Col>, path: Option<&Path>) -> anyhow::Result<Self> {
        use std::os::unix::fs::OpenOptionsExt;
        let Some(path) = path else {
            return anyhow::Context::context(Self::new(json, cols), "stdout");
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
        Ok(Self::with(json, cols, file, name))
    }

    fn with(json: bool, cols: Vec<Col>, file: File, name: String) -> Self {
        let tty = file.is_terminal();
        Self {
            w: BufWriter::with_capacity(64 * 1024, Dest { file, name }),
            json,
            csv: false,
            tty,
            cols,
            line: String::with_capacity(256),
            jbuf: Vec::with_capacity(512),
            last_flush: Instant::now(),
            shown: 0,
            clock: Clock::new(),
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

    /// Table rows as CSV from now on (no effect in JSON mode).
    pub fn set_csv(&mut self) {
        self.csv = !self.json;
    }

    /// The table header (nothing in JSON mode).
    pub fn header(&mut self) -> io::Result<()> {
        if !self.json {
            let h = header_with(&self.cols, self.csv);
            self.w.write_all(h.as_bytes())?;
            self.w.write_all(b"\n")?;
            self.flush()?;
        }
        Ok(())
    }

    /// Writes one event row.
    pub fn row<R: Row>(&mut self, row: &R) -> io::Result<()> {
        self.row_as("event", row)
    }

    /// Writes one row: a table line, or in JSON a record of type `ty`
    /// (periodic tools: `rule`, `action`, … instead of `event`).
    pub fn row_as<R: Row>(&mut self, ty: &str, row: &R) -> io::Result<()> {
        if self.json {
            self.jbuf.clear();
            json_line(ty, row, &mut self.jbuf)?;
            self.w.write_all(&self.jbuf)?;
        } else {
            self.line.clear();
            row.cells(&mut Line {
                buf: &mut self.line,
                cols: &self.cols,
                i: 0,
                csv: self.csv,
                over: 0,
            });
            self.line.push('\n');
            self.w.write_all(self.line.as_bytes())?;
        }
        self.shown += 1;
        self.after_line()
    }

    /// A table-only row that is not an event (an interval tool's final
    /// totals): not counted in `shown`, nothing in JSON mode (the summary
    /// record holds the totals there), so both modes count the same events.
    pub fn total_row<R: Row>(&mut self, row: &R) -> io::Result<()> {
        if self.json {
            return Ok(());
        }
        self.row_as("total", row)?;
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
        fn cells(&self, l: &mut Line<'_>) {
            l.text(self.name.as_bytes());
            l.cell(self.pid);
            l.cell(self.ret);
            l.text(b"rest\nof it");
        }
    }
    const COLS: &[Col] = &[
        Col::left("COMM", 8),
        Col::left("PID", 6),
        Col::right("RET", 3),
        Col::left("ARGS", 0),
    ];

    #[test]
    fn rows_align_under_header() {
        assert_eq!(header_line(COLS), "COMM     PID    RET ARGS");
        let row = table_line(
            COLS,
            &R {
                name: "sh",
                pid: 42,
                ret: -2,
            },
        );
        assert_eq!(row, "sh       42      -2 rest\\nof it");
        let h = header_line(COLS);
        assert_eq!(h.find("ARGS"), row.find("rest"));
    }

    /// COMM (untrusted), an address, a port, a right-aligned count, the rest.
    struct Wide(&'static [u8], &'static str, u32);
    impl Serialize for Wide {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_unit()
        }
    }
    impl Row for Wide {
        fn cells(&self, l: &mut Line<'_>) {
            l.text(self.0);
            l.cell(self.1);
            l.cell(self.2);
            l.cell(7);
            l.text(b"end\x1b");
        }
    }
    const WIDE: &[Col] = &[
        Col::left("COMM", 8),
        Col::left("ADDR", 9),
        Col::left("PORT", 5),
        Col::right("N", 3),
        Col::left("REST", 0),
    ];

    #[test]
    fn wide_cells_do_not_shift_later_columns() {
        let h = header_line(WIDE);
        assert_eq!(h, "COMM     ADDR      PORT    N REST");
        let row = |r: Wide| table_line(WIDE, &r);
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
        let r = csv_line(WIDE, &Wide(b"ab\x1b[2J\x1b[H", "::ffff:1.2.3.4", 80));
        assert_eq!(r, "ab\\e[2J\\e[H,::ffff:1.2.3.4,80,7,end\\e");
    }

    #[test]
    fn csv_cells_are_unpadded_and_quoted() {
        assert_eq!(csv_header_line(COLS), "COMM,PID,RET,ARGS");
        let row = csv_line(
            COLS,
            &R {
                name: "a,\"b\"",
                pid: 42,
                ret: -2,
            },
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
        assert_eq!(v["name"], "a\"b");
        assert_eq!(v["pid"], 1);
        let mut b = Vec::new();
        #[derive(Serialize)]
        struct Empty {}
        json_line("summary", &Empty {}, &mut b).unwrap();
        assert_eq!(b, b"{\"type\":\"summary\"}\n");
    }
}
