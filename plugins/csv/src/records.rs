//! Records of one byte range of a file, parsed by csv-core, with the line
//! each one starts on.
//!
//! The range is fetched in chunks and fed to `csv_core::Reader`, which
//! unquotes fields into one buffer and records where each ends; a record
//! may span chunks. Line numbers count `\n` bytes from the start of the
//! range (the caller adds the lines before it); they are counted a chunk
//! at a time, and only up to a record's start when its line is asked for. Empty lines between
//! records are skipped, except that a file of one column reads them as an
//! empty field (as DuckDB does). A record longer than `max_record_bytes`
//! is skipped without being kept in memory and reported as too long; a
//! record that the end of the file cuts inside quotes is reported as
//! unterminated.

use crate::boundary::Scanner;
use crate::options::Dialect;
use csv_core::ReadRecordResult;
use runtime_plugin_sdk::error::{Error, Result};

/// How much input to fetch from the host at a time.
const CHUNK: usize = 4 << 20;

/// What [`Records::next_record`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// A record; its fields are [`Records::field`], its line
    /// [`Records::line`].
    Record,
    /// A record longer than the limit, skipped.
    TooLong,
    /// The last record of the file, still inside quotes at its end.
    Unterminated,
    /// No more records in the range.
    End,
}

/// Parses the records of `[start, end)` of an input read with `fetch`.
pub struct Records<F> {
    fetch: F,
    dialect: Dialect,
    core: csv_core::Reader,
    /// File offset of `buf[0]`, and the end of the range.
    base: u64,
    end: u64,
    /// True when `end` is the end of the file (an unterminated quote there
    /// is reported).
    end_is_eof: bool,
    buf: Vec<u8>,
    at: usize,
    /// Unquoted field bytes of the current record and where each field ends.
    out: Vec<u8>,
    ends: Vec<usize>,
    nout: usize,
    nend: usize,
    /// `\n` bytes in the range before `buf`, and in `buf[..counted]`.
    lines_before_buf: u64,
    counted: usize,
    counted_lines: u64,
    /// At the beginning of a line (after a `\n`, or at the range's start).
    bol: bool,
    /// Empty lines are records of one empty field.
    blank_is_record: bool,
    max_record_bytes: usize,
    /// Inside a record that is too long: fields are thrown away.
    discarding: bool,
    in_record: bool,
    /// Where in `buf` the current record starts while its line is not
    /// counted yet; then its line.
    record_at: Option<usize>,
    record_line: u64,
    record_start: u64,
    finished: bool,
    /// Bytes fetched at a time.
    chunk: usize,
}

impl<F: FnMut(u64, usize) -> Result<Vec<u8>>> Records<F> {
    /// `start` must be the start of the file (after a byte order mark) or
    /// just after a newline outside quotes.
    pub fn new(
        fetch: F,
        dialect: Dialect,
        start: u64,
        end: u64,
        end_is_eof: bool,
        max_record_bytes: usize,
    ) -> Self {
        Records {
            fetch,
            dialect,
            core: dialect.reader(),
            base: start,
            end,
            end_is_eof,
            buf: Vec::new(),
            at: 0,
            out: vec![0; 4096],
            ends: vec![0; 64],
            nout: 0,
            nend: 0,
            lines_before_buf: 0,
            counted: 0,
            counted_lines: 0,
            bol: true,
            blank_is_record: false,
            max_record_bytes,
            discarding: false,
            in_record: false,
            record_at: None,
            record_line: 0,
            record_start: 0,
            finished: false,
            chunk: CHUNK,
        }
    }

    /// Fetches `bytes` at a time (default 4 MiB): less to read a header.
    pub fn fetch_size(&mut self, bytes: usize) {
        self.chunk = bytes.max(1);
    }

    /// Reads empty lines as records of one empty field (one-column files).
    pub fn blank_lines_are_records(&mut self, yes: bool) {
        self.blank_is_record = yes;
    }

    /// The file offset the parser has reached.
    pub fn offset(&self) -> u64 {
        self.base + self.at as u64
    }

    /// File offset where the last record started.
    pub fn record_start(&self) -> u64 {
        self.record_start
    }

    /// The line (1-based within the range) the last record starts on.
    pub fn line(&mut self) -> u64 {
        self.resolve_line();
        self.record_line
    }

    /// Counts the `\n` bytes of `buf` up to `pos`.
    fn count_to(&mut self, pos: usize) {
        if pos > self.counted {
            self.counted_lines += memchr::memchr_iter(b'\n', &self.buf[self.counted..pos]).count() as u64;
            self.counted = pos;
        }
    }

    fn resolve_line(&mut self) {
        if let Some(at) = self.record_at.take() {
            self.count_to(at);
            self.record_line = 1 + self.lines_before_buf + self.counted_lines;
        }
    }

    /// Number of fields of the last record.
    pub fn len(&self) -> usize {
        self.nend
    }

    pub fn is_empty(&self) -> bool {
        self.nend == 0
    }

    /// Field `i` of the last record, unquoted.
    pub fn field(&self, i: usize) -> &[u8] {
        &self.out[self.span(i)]
    }

    /// Where field `i` lies in [`Records::bytes`].
    pub fn span(&self, i: usize) -> std::ops::Range<usize> {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        start..self.ends[i]
    }

    /// Every field of the last record, unquoted, one after the other.
    pub fn bytes(&self) -> &[u8] {
        &self.out[..if self.nend == 0 { 0 } else { self.ends[self.nend - 1] }]
    }

    /// Fetches the next chunk when the current one is used up; false at the
    /// end of the range.
    fn refill(&mut self) -> Result<bool> {
        if self.at < self.buf.len() {
            return Ok(true);
        }
        self.resolve_line();
        self.count_to(self.buf.len());
        self.lines_before_buf += self.counted_lines;
        self.counted_lines = 0;
        self.counted = 0;
        self.base += self.buf.len() as u64;
        self.buf.clear();
        self.at = 0;
        if self.base >= self.end {
            return Ok(false);
        }
        let want = (self.end - self.base).min(self.chunk as u64) as usize;
        self.buf = (self.fetch)(self.base, want)?;
        if self.buf.is_empty() {
            return Err(Error::io(format!("input ended at byte {}, expected {}", self.base, self.end)));
        }
        Ok(true)
    }

    /// The next record of the range.
    pub fn next_record(&mut self) -> Result<Next> {
        if self.finished {
            return Ok(Next::End);
        }
        loop {
            let more = self.refill()?;
            if !self.in_record {
                // Skip line ends between records, as csv-core would.
                while self.at < self.buf.len() {
                    let c = self.buf[self.at];
                    if c != b'\n' && c != b'\r' {
                        break;
                    }
                    let blank = self.bol;
                    self.at += 1;
                    self.bol = c == b'\n';
                    if blank && self.blank_is_record {
                        // (A blank line of `\r\n` is one record: the `\n` is
                        // not at the beginning of a line.)
                        self.record_start = self.offset() - 1;
                        self.record_at = Some(self.at - 1);
                        self.nout = 0;
                        self.nend = 1;
                        self.ends[0] = 0;
                        return Ok(Next::Record);
                    }
                }
                if self.at >= self.buf.len() && more {
                    continue;
                }
                self.in_record = true;
                self.record_at = Some(self.at);
                self.record_start = self.offset();
                self.nout = 0;
                self.nend = 0;
            }
            let input = &self.buf[self.at..];
            let (res, nin, nout, nend) = if self.discarding {
                let mut out = [0u8; 4096];
                let mut ends = [0usize; 256];
                self.core.read_record(input, &mut out, &mut ends)
            } else {
                self.core.read_record(input, &mut self.out[self.nout..], &mut self.ends[self.nend..])
            };
            if nin > 0 {
                self.bol = input[nin - 1] == b'\n';
            }
            self.at += nin;
            if !self.discarding {
                self.nout += nout;
                self.nend += nend;
            }
            match res {
                ReadRecordResult::InputEmpty => {
                    if !more {
                        // Nothing left: the next call (with empty input) ends the record.
                        continue;
                    }
                }
                ReadRecordResult::OutputFull if self.discarding => {}
                ReadRecordResult::OutputEndsFull if self.discarding => {}
                ReadRecordResult::OutputFull => {
                    if self.nout >= self.max_record_bytes {
                        self.discarding = true;
                    } else {
                        let n = (self.out.len() * 2).min(self.max_record_bytes + 1);
                        self.out.resize(n.max(self.out.len() + 1), 0);
                    }
                }
                ReadRecordResult::OutputEndsFull => {
                    if self.ends.len() * 8 >= self.max_record_bytes {
                        self.discarding = true;
                    } else {
                        self.ends.resize(self.ends.len() * 2, 0);
                    }
                }
                ReadRecordResult::Record => {
                    self.in_record = false;
                    if self.discarding || self.nout > self.max_record_bytes {
                        self.discarding = false;
                        self.nend = 0;
                        return Ok(Next::TooLong);
                    }
                    if !more && self.end_is_eof && self.ends_in_quotes()? {
                        self.finished = true;
                        return Ok(Next::Unterminated);
                    }
                    return Ok(Next::Record);
                }
                ReadRecordResult::End => {
                    self.finished = true;
                    return Ok(Next::End);
                }
            }
        }
    }

    /// Whether the record that started at `record_start` and ran to the end
    /// of the file ends inside quotes (scanned again from its start).
    fn ends_in_quotes(&mut self) -> Result<bool> {
        if self.dialect.quote.is_none() {
            return Ok(false);
        }
        let mut scanner = Scanner::new(self.dialect);
        let mut pos = self.record_start;
        while pos < self.end {
            let chunk = (self.fetch)(pos, ((self.end - pos) as usize).min(CHUNK))?;
            if chunk.is_empty() {
                break;
            }
            scanner.scan(&chunk, 0, None);
            pos += chunk.len() as u64;
        }
        Ok(scanner.in_quotes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(data: &[u8], chunk: usize, max: usize) -> Vec<(Next, u64, Vec<String>)> {
        let fetch = |off: u64, len: usize| {
            let s = off as usize;
            Ok(data[s..(s + len.min(chunk)).min(data.len())].to_vec())
        };
        let mut r = Records::new(fetch, Dialect::default(), 0, data.len() as u64, true, max);
        let mut out = Vec::new();
        loop {
            let n = r.next_record().unwrap();
            if n == Next::End {
                return out;
            }
            let line = r.line();
            let fields = match n {
                Next::Record => {
                    (0..r.len()).map(|i| String::from_utf8_lossy(r.field(i)).into_owned()).collect()
                }
                _ => vec![],
            };
            out.push((n, line, fields));
        }
    }

    #[test]
    fn records_lines_and_crlf() {
        let data = b"a,b\r\n\r\n1,\"x\r\ny\"\r\n2,\"\"\"q\"\"\"\n\n3,";
        for chunk in [1, 2, 5, 1000] {
            let got = parse(data, chunk, 1 << 20);
            let want: Vec<(Next, u64, Vec<String>)> = vec![
                (Next::Record, 1, vec!["a".into(), "b".into()]),
                (Next::Record, 3, vec!["1".into(), "x\r\ny".into()]),
                (Next::Record, 5, vec!["2".into(), "\"q\"".into()]),
                (Next::Record, 7, vec!["3".into(), "".into()]),
            ];
            assert_eq!(got, want, "chunk {chunk}");
        }
    }

    #[test]
    fn long_records_are_skipped_and_unterminated_quotes_reported() {
        let mut data = b"a\n\"".to_vec();
        data.extend(std::iter::repeat_n(b'x', 100));
        data.extend_from_slice(b"\nyy\"\nb\n\"open\nc\n");
        for chunk in [3, 1000] {
            let got = parse(&data, chunk, 32);
            let kinds: Vec<(Next, u64)> = got.iter().map(|g| (g.0, g.1)).collect();
            let want = [(Next::Record, 1), (Next::TooLong, 2), (Next::Record, 4), (Next::Unterminated, 5)];
            assert_eq!(kinds, want, "chunk {chunk}");
        }
    }

    #[test]
    fn blank_lines_as_records_for_one_column() {
        let data = b"a\n1\n\n2\r\n\r\n3";
        let fetch = |off: u64, len: usize| {
            let s = off as usize;
            Ok(data[s..(s + len).min(data.len())].to_vec())
        };
        let mut r = Records::new(fetch, Dialect::default(), 0, data.len() as u64, true, 1 << 20);
        r.blank_lines_are_records(true);
        let mut got = Vec::new();
        while let Next::Record = r.next_record().unwrap() {
            got.push((r.line(), String::from_utf8_lossy(r.field(0)).into_owned()));
        }
        let want = [(1, "a"), (2, "1"), (3, ""), (4, "2"), (5, ""), (6, "3")];
        assert_eq!(got, want.map(|(l, s)| (l, s.to_string())));
    }
}
