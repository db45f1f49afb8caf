//! Record boundaries: where a CSV file can be cut into byte ranges that a
//! parser starting afresh reads exactly as a parser reading the whole file.
//!
//! A newline is a record boundary only outside quotes, and whether a byte
//! is inside quotes depends on everything before it: no local rule can
//! tell (a quoted field may hold lines that look like whole records). So
//! planning makes one pass over each file that is bigger than a split
//! ([`cut`]), following the quoting state with [`Scanner`], and cuts just
//! after the first newline outside quotes past each `max_split_bytes`
//! step. The pass is cheap: outside quotes it jumps from quote character
//! to quote character (`memchr`), inside quotes to the closing quote; it
//! decodes no field.
//!
//! [`Scanner`] follows the transitions of csv-core's reader for the same
//! dialect (a quote opens a quoted field only at the start of a field, a
//! quote after a closing quote is a literal quote with `double_quote`, the
//! escape byte makes the next byte literal inside quotes, `\r`, `\n` and
//! `\r\n` end records); the tests check, on random input, that parsing each
//! range separately with csv-core gives the records of parsing the whole.
//! Files whose records end with a lone `\r` have no `\n` to cut at and
//! become one split.

use crate::options::Dialect;
use runtime_plugin_sdk::error::{Error, Result};

/// The quoting state at a byte position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// At the start of a field (or record): a quote here opens a quoted field.
    Start,
    /// In an unquoted field: quotes are literal.
    Field,
    /// Inside a quoted field.
    Quoted,
    /// Just after the escape byte inside a quoted field.
    Escaped,
    /// Just after a quote inside a quoted field: it closes the field, or
    /// (doubled) stands for one quote.
    AfterQuote,
}

/// Follows the quoting state of a CSV byte stream, chunk by chunk.
pub struct Scanner {
    d: Dialect,
    state: State,
}

impl Scanner {
    pub fn new(d: Dialect) -> Self {
        Scanner { d, state: State::Start }
    }

    /// True when the bytes so far end inside a quoted field.
    pub fn in_quotes(&self) -> bool {
        matches!(self.state, State::Quoted | State::Escaped)
    }

    /// The state at `p` after a run of unquoted bytes `buf[from..p]`
    /// (`from < p`) without quotes: decided by the last byte.
    fn after_plain(&self, last: u8) -> State {
        if last == self.d.delimiter || last == b'\n' || last == b'\r' { State::Start } else { State::Field }
    }

    /// Advances over `buf[from..]`. With `find = Some(k)` it stops just
    /// after the first newline at index `k` or later that is outside
    /// quotes, and returns the index after it; otherwise (or when there is
    /// none in `buf`) it consumes all of `buf` and returns `None`.
    pub fn scan(&mut self, buf: &[u8], from: usize, find: Option<usize>) -> Option<usize> {
        let d = self.d;
        let mut i = from;
        let n = buf.len();
        while i < n {
            match self.state {
                State::Quoted => {
                    let q = d.quote.expect("quoted state without a quote");
                    let hit = match d.escape {
                        Some(e) => memchr::memchr2(q, e, &buf[i..]),
                        None => memchr::memchr(q, &buf[i..]),
                    };
                    match hit {
                        None => return None,
                        Some(off) => {
                            let p = i + off;
                            self.state = if buf[p] == q { State::AfterQuote } else { State::Escaped };
                            i = p + 1;
                        }
                    }
                }
                State::Escaped => {
                    self.state = State::Quoted;
                    i += 1;
                }
                State::AfterQuote => {
                    let c = buf[i];
                    if d.double_quote && Some(c) == d.quote {
                        self.state = State::Quoted;
                    } else {
                        self.state = self.after_plain(c);
                        if c == b'\n' && find.is_some_and(|k| i >= k) {
                            return Some(i + 1);
                        }
                    }
                    i += 1;
                }
                State::Start | State::Field => match find {
                    Some(k) if i >= k => {
                        // Byte by byte to the next newline outside quotes.
                        let c = buf[i];
                        if Some(c) == d.quote {
                            self.state =
                                if self.state == State::Start { State::Quoted } else { State::Field };
                        } else {
                            self.state = self.after_plain(c);
                            if c == b'\n' {
                                return Some(i + 1);
                            }
                        }
                        i += 1;
                    }
                    _ => {
                        // Jump to the next quote before `limit`; only one at
                        // the start of a field matters.
                        let limit = find.map_or(n, |k| k.min(n));
                        let hit = d.quote.and_then(|q| memchr::memchr(q, &buf[i..limit]));
                        match hit {
                            None => {
                                self.state = self.after_plain(buf[limit - 1]);
                                i = limit;
                            }
                            Some(off) => {
                                let p = i + off;
                                let at = if p == i { self.state } else { self.after_plain(buf[p - 1]) };
                                self.state = if at == State::Start { State::Quoted } else { State::Field };
                                i = p + 1;
                            }
                        }
                    }
                },
            }
        }
        None
    }
}

/// Whether the input starts with a UTF-8 byte order mark.
pub fn starts_with_bom(mut fetch: impl FnMut(u64, usize) -> Result<Vec<u8>>) -> Result<bool> {
    let mut head = Vec::new();
    while head.len() < 3 {
        let more = fetch(head.len() as u64, 3 - head.len())?;
        if more.is_empty() {
            break;
        }
        head.extend_from_slice(&more);
    }
    Ok(head == b"\xEF\xBB\xBF")
}

/// How much of a file to fetch at a time while cutting it.
const CHUNK: usize = 8 << 20;

/// A range of a file that holds whole records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub start: u64,
    pub end: u64,
    /// `\n` bytes before `start`: the range's first line is `lines + 1`.
    pub lines: u64,
}

/// Cuts a file of `size` bytes (read with `fetch(offset, len)`) into
/// contiguous ranges of about `max` bytes, each ending just after a newline
/// outside quotes (or at the end of the file), so that each holds whole
/// records; counts the lines before each. A file that starts with a UTF-8
/// byte order mark is scanned after it, as the reader parses it.
pub fn cut(
    size: u64,
    max: u64,
    d: Dialect,
    fetch: impl FnMut(u64, usize) -> Result<Vec<u8>>,
) -> Result<Vec<Range>> {
    let mut cuts = Cuts { ranges: Vec::new(), start: 0, lines: 0, lines_at_start: 0 };
    cut_into(size, max, d, fetch, &mut cuts)?;
    Ok(cuts.ranges)
}

struct Cuts {
    ranges: Vec<Range>,
    start: u64,
    /// `\n` bytes before the scan position, and before `start`.
    lines: u64,
    lines_at_start: u64,
}

impl Cuts {
    fn push(&mut self, end: u64) {
        self.ranges.push(Range { start: self.start, end, lines: self.lines_at_start });
        self.start = end;
        self.lines_at_start = self.lines;
    }
}

fn cut_into(
    size: u64,
    max: u64,
    d: Dialect,
    mut fetch: impl FnMut(u64, usize) -> Result<Vec<u8>>,
    cuts: &mut Cuts,
) -> Result<()> {
    let max = max.max(1);
    if size <= max {
        cuts.push(size);
        return Ok(());
    }
    let mut scanner = Scanner::new(d);
    // File offset of buf[0]: the scan starts after a byte order mark.
    let mut base = if starts_with_bom(&mut fetch)? { 3 } else { 0 };
    let mut buf: Vec<u8> = Vec::new();
    let mut at = 0usize; // scanned up to buf[at]
    loop {
        let target = cuts.start + max; // cut after a newline at target - 1 or later
        if target >= size {
            cuts.push(size);
            return Ok(());
        }
        if at >= buf.len() {
            base += buf.len() as u64;
            if base >= size {
                cuts.push(size);
                return Ok(());
            }
            buf = fetch(base, CHUNK)?;
            if buf.is_empty() {
                return Err(Error::io(format!("input ended at byte {base}, expected {size} bytes")));
            }
            at = 0;
        }
        let k = (target - 1).saturating_sub(base);
        let find = usize::try_from(k).unwrap_or(usize::MAX);
        let stop = scanner.scan(&buf, at, Some(find));
        let upto = stop.unwrap_or(buf.len());
        cuts.lines += memchr::memchr_iter(b'\n', &buf[at..upto]).count() as u64;
        at = upto;
        if stop.is_some() {
            let end = base + upto as u64;
            cuts.push(end);
            if end >= size {
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Every record of `data` as csv-core parses it from a fresh state.
    pub(crate) fn records(d: Dialect, data: &[u8]) -> Vec<Vec<Vec<u8>>> {
        let mut r = d.reader();
        let mut out = Vec::new();
        let mut input = data;
        let mut field = vec![0u8; data.len() + 1];
        let mut ends = vec![0usize; data.len() + 2];
        loop {
            let (res, nin, _nout, nend) = r.read_record(input, &mut field, &mut ends);
            input = &input[nin..];
            match res {
                csv_core::ReadRecordResult::Record => {
                    let mut rec = Vec::new();
                    let mut s = 0;
                    for &e in &ends[..nend] {
                        rec.push(field[s..e].to_vec());
                        s = e;
                    }
                    out.push(rec);
                }
                csv_core::ReadRecordResult::End => return out,
                csv_core::ReadRecordResult::InputEmpty => {}
                other => panic!("{other:?}"),
            }
        }
    }

    fn cut_all(d: Dialect, data: &[u8], max: u64, chunk: usize) -> Vec<(u64, u64)> {
        let ranges = cut(data.len() as u64, max, d, |off, len| {
            let s = off as usize;
            Ok(data[s..(s + len.min(chunk)).min(data.len())].to_vec())
        })
        .unwrap();
        for r in &ranges {
            let lines = data[..r.start as usize].iter().filter(|c| **c == b'\n').count() as u64;
            assert_eq!(r.lines, lines, "{ranges:?}");
        }
        ranges.iter().map(|r| (r.start, r.end)).collect()
    }

    /// A tiny deterministic generator (xorshift) for the random inputs.
    pub(crate) struct Rng(pub u64);
    impl Rng {
        pub(crate) fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        pub(crate) fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    fn check(d: Dialect, data: &[u8], max: u64, chunk: usize) {
        let ranges = cut_all(d, data, max, chunk);
        assert_eq!(ranges.first().unwrap().0, 0);
        assert_eq!(ranges.last().unwrap().1, data.len() as u64);
        for w in ranges.windows(2) {
            assert_eq!(w[0].1, w[1].0);
        }
        let whole = records(d, data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data));
        let mut pieces = Vec::new();
        for (i, (s, e)) in ranges.iter().enumerate() {
            assert!(e > s || data.is_empty());
            let mut piece = &data[*s as usize..*e as usize];
            if i == 0 {
                piece = piece.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(piece);
            }
            pieces.extend(records(d, piece));
        }
        assert_eq!(
            pieces,
            whole,
            "data {:?} max {max} chunk {chunk} ranges {ranges:?}",
            String::from_utf8_lossy(data)
        );
    }

    #[test]
    fn random_inputs_parse_the_same_cut_or_whole() {
        let dialects = [
            Dialect::default(),
            Dialect { delimiter: b';', quote: Some(b'\''), escape: Some(b'\\'), double_quote: false },
            Dialect { delimiter: b',', quote: None, escape: None, double_quote: false },
        ];
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for d in dialects {
            let q = d.quote.unwrap_or(b'"');
            let alphabet = [b'a', b'b', d.delimiter, q, q, b'\n', b'\n', b'\r', b'\\', b' '];
            for _ in 0..3000 {
                let len = rng.below(60);
                let mut data: Vec<u8> = (0..len).map(|_| alphabet[rng.below(alphabet.len())]).collect();
                if rng.below(5) == 0 {
                    data.splice(0..0, *b"\xEF\xBB\xBF");
                }
                let max = 1 + rng.below(12) as u64;
                let chunk = 1 + rng.below(9);
                check(d, &data, max, chunk);
            }
        }
    }

    #[test]
    fn quoted_newlines_are_not_cut() {
        let data = b"a,b\n1,\"x\ny\nz\"\n2,\"p\"\"\nq\"\n3,r\n";
        let ranges = cut_all(Dialect::default(), data, 5, 1000);
        // Cuts only where records end: after the header (4), 14, 24 and 28.
        assert_eq!(ranges, vec![(0, 14), (14, 24), (24, 28)]);
        check(Dialect::default(), data, 5, 3);
    }

    #[test]
    fn a_quote_inside_an_unquoted_field_is_literal() {
        // `b"c` does not open a quote, so the newline after it ends the record.
        let data = b"ab\"c,d\nxx,\"y\nz\"\n";
        assert_eq!(cut_all(Dialect::default(), data, 2, 1000), vec![(0, 7), (7, 16)]);
    }

    #[test]
    fn bom_then_quote_opens_a_field() {
        let data = b"\xEF\xBB\xBF\"a\nb\",c\nd,e\n";
        assert_eq!(cut_all(Dialect::default(), data, 2, 1000), vec![(0, 11), (11, 15)]);
    }
}
