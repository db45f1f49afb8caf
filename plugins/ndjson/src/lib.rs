//! The `ndjson` reader: newline-delimited JSON into typed Arrow columns.
//!
//! The schema comes from the options (`fields`), not from the data, so every
//! split of every file produces the same columns. The host cuts large files
//! into byte ranges at newlines (`Planning::Delimited(b'\n')`), so each split
//! holds whole lines. Lines are read in chunks, parsed one by one
//! ([`line::LineParser`]) and appended to column builders ([`columns::Columns`]);
//! a batch is emitted every `batch_rows` rows.
//!
//! A malformed line (bad JSON, wrong type, missing required field, too long)
//! is rejected with its line number and reason and the split goes on: bad
//! data is reported, never fatal. Blank lines are skipped.

pub mod columns;
pub mod line;
pub mod options;
pub mod time;

use columns::Columns;
use line::LineParser;
use options::Options;
use runtime_plugin_sdk::prelude::*;

/// How much input to fetch from the host at a time.
const CHUNK: usize = 4 << 20;

/// The plugin.
pub struct Ndjson {
    options: Options,
    schema: SchemaRef,
}

impl Reader for Ndjson {
    type Options = Options;

    fn describe() -> PluginInfo {
        let mut info = PluginInfo::reader(
            "ndjson",
            env!("CARGO_PKG_VERSION"),
            "Newline-delimited JSON into typed columns; malformed lines are rejected and counted",
        )
        .output("rows")
        .planning(Planning::Delimited(b'\n'));
        info.options = Options::specs();
        info
    }

    fn new(options: Options) -> Result<Self> {
        options.validate()?;
        let schema = Arc::new(options.schema());
        Ok(Ndjson { options, schema })
    }

    fn output_schemas(&self) -> Result<Vec<(String, SchemaRef)>> {
        Ok(vec![("rows".to_string(), self.schema.clone())])
    }

    fn read(
        &mut self,
        split: &Split,
        _file: Option<&InputFile>,
        input: Option<Input>,
        out: &mut Output,
    ) -> Result<Outcome> {
        let input = input.ok_or_else(|| Error::invalid_options("the ndjson reader needs input files"))?;
        let mut sink = BatchSink { out, columns: self.new_columns(), batch_rows: self.options.batch_rows };
        let fetch = |offset, len| input.read_at(offset, len);
        read_lines(input.size(), fetch, split.offset == 0, &self.options, &mut sink)?;
        sink.flush()?;
        Ok(Outcome::complete())
    }
}

impl Ndjson {
    fn new_columns(&self) -> Columns {
        Columns::new(self.schema.clone(), &self.options.fields, self.options.batch_rows.min(1 << 16))
    }
}

/// Where parsed lines go: emitted in batches, rejects reported.
pub trait LineSink {
    fn columns(&mut self) -> &mut Columns;
    fn full(&mut self) -> Result<()>;
    fn reject(&mut self, line_no: u64, reason: &str);
}

struct BatchSink<'o> {
    out: &'o mut Output,
    columns: Columns,
    batch_rows: usize,
}

impl BatchSink<'_> {
    fn flush(&mut self) -> Result<()> {
        if self.columns.rows() > 0 {
            let rows = self.columns.rows() as u64;
            let batch = self.columns.flush()?;
            self.out.emit("rows", &batch)?;
            runtime_plugin_sdk::log::progress("rows", rows);
        }
        Ok(())
    }
}

impl LineSink for BatchSink<'_> {
    fn columns(&mut self) -> &mut Columns {
        &mut self.columns
    }
    fn full(&mut self) -> Result<()> {
        if self.columns.rows() >= self.batch_rows { self.flush() } else { Ok(()) }
    }
    fn reject(&mut self, line_no: u64, reason: &str) {
        self.out.reject(&format!("line {line_no}"), reason);
    }
}

/// Reads every line of an input of `size` bytes, fetched with
/// `fetch(offset, len)`, parsing each into `sink`. Line numbers are 1-based
/// from the start of the input (the host turns them into file line numbers
/// for splits that start inside a file). `at_file_start` says whether a UTF-8
/// byte order mark may be present.
pub fn read_lines(
    size: u64,
    mut fetch: impl FnMut(u64, usize) -> Result<Vec<u8>>,
    at_file_start: bool,
    options: &Options,
    sink: &mut impl LineSink,
) -> Result<()> {
    let mut parser = LineParser::new(&options.fields);
    let mut buf: Vec<u8> = Vec::with_capacity(CHUNK * 2);
    let mut pos = 0u64; // input offset of the end of `buf`
    let mut line_no = 0u64;
    let mut skipping_long = false; // inside a line longer than max_line_bytes
    let mut check_bom = at_file_start;
    loop {
        let eof = pos >= size;
        if !eof {
            let chunk = fetch(pos, CHUNK)?;
            if chunk.is_empty() {
                return Err(Error::io(format!("input ended at byte {pos}, expected {size} bytes")));
            }
            pos += chunk.len() as u64;
            buf.extend_from_slice(&chunk);
            if check_bom && (buf.len() >= 3 || pos >= size) {
                if buf.starts_with(b"\xEF\xBB\xBF") {
                    buf.drain(..3);
                }
                check_bom = false;
            }
        }
        let mut start = 0;
        for nl in memchr::memchr_iter(b'\n', &buf) {
            line_no += 1;
            if skipping_long {
                skipping_long = false;
            } else {
                handle_line(&buf[start..nl], line_no, &mut parser, options, sink)?;
            }
            start = nl + 1;
        }
        buf.drain(..start);
        if buf.len() > options.max_line_bytes {
            if !skipping_long {
                sink.reject(
                    line_no + 1,
                    &format!("line is longer than max_line_bytes ({} bytes)", options.max_line_bytes),
                );
                skipping_long = true;
            }
            buf.clear();
        }
        if pos >= size {
            if !buf.is_empty() && !skipping_long {
                line_no += 1;
                let last = std::mem::take(&mut buf);
                handle_line(&last, line_no, &mut parser, options, sink)?;
            }
            return Ok(());
        }
    }
}

fn handle_line(
    raw: &[u8],
    line_no: u64,
    parser: &mut LineParser,
    options: &Options,
    sink: &mut impl LineSink,
) -> Result<()> {
    let line = raw.strip_suffix(b"\r").unwrap_or(raw);
    if line.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    if line.len() > options.max_line_bytes {
        sink.reject(
            line_no,
            &format!("line is longer than max_line_bytes ({} bytes)", options.max_line_bytes),
        );
        return Ok(());
    }
    let checked = parser.parse(line).and_then(|()| sink.columns().check(parser));
    match checked {
        Ok(()) => {
            sink.columns().append(parser, line);
            sink.full()
        }
        Err(reason) => {
            sink.reject(line_no, &reason);
            Ok(())
        }
    }
}

runtime_plugin_sdk::export_reader!(Ndjson);

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::cast::AsArray;
    use arrow_array::types::Float64Type;

    struct Collect {
        columns: Columns,
        batches: Vec<RecordBatch>,
        rejects: Vec<(u64, String)>,
        batch_rows: usize,
    }

    impl LineSink for Collect {
        fn columns(&mut self) -> &mut Columns {
            &mut self.columns
        }
        fn full(&mut self) -> Result<()> {
            if self.columns.rows() >= self.batch_rows {
                self.batches.push(self.columns.flush()?);
            }
            Ok(())
        }
        fn reject(&mut self, line_no: u64, reason: &str) {
            self.rejects.push((line_no, reason.to_string()));
        }
    }

    fn run(json_opts: &str, data: &[u8], chunk_limit: usize) -> Collect {
        let options: Options = runtime_plugin_sdk::options::parse(json_opts).unwrap();
        options.validate().unwrap();
        let schema = Arc::new(options.schema());
        let mut sink = Collect {
            columns: Columns::new(schema, &options.fields, 16),
            batches: vec![],
            rejects: vec![],
            batch_rows: options.batch_rows,
        };
        let fetch = |off: u64, len: usize| {
            let start = off as usize;
            Ok(data[start..(start + len.min(chunk_limit)).min(data.len())].to_vec())
        };
        read_lines(data.len() as u64, fetch, true, &options, &mut sink).unwrap();
        if sink.columns.rows() > 0 {
            let b = sink.columns.flush().unwrap();
            sink.batches.push(b);
        }
        sink
    }

    const OPTS: &str = r#"{"fields":[{"name":"name","type":"string","nullable":false},{"name":"x","type":"float64"}],"batch_rows":2}"#;

    #[test]
    fn rows_batches_and_rejects() {
        let data = b"\xEF\xBB\xBF{\"name\":\"a\",\"x\":1}\n\n{\"name\":\"b\"}\r\n{bad json\n{\"x\":2}\n{\"name\":\"c\",\"x\":\"no\"}\n{\"name\":\"d\",\"x\":4.5}";
        for chunk in [1, 3, 1000] {
            let c = run(OPTS, data, chunk);
            let rows: usize = c.batches.iter().map(|b| b.num_rows()).sum();
            assert_eq!(rows, 3, "chunk {chunk}");
            assert_eq!(c.batches[0].num_rows(), 2);
            let lines: Vec<u64> = c.rejects.iter().map(|r| r.0).collect();
            assert_eq!(lines, vec![4, 5, 6], "chunk {chunk}: {:?}", c.rejects);
            assert_eq!(c.rejects[1].1, "field `name` is missing");
            let x = c.batches[1].column(1).as_primitive::<Float64Type>();
            assert_eq!(x.value(0), 4.5);
            assert!(c.batches[0].column(1).is_null(1));
        }
    }

    #[test]
    fn long_lines_rejected_and_skipped() {
        let opts = r#"{"fields":[{"name":"name","type":"string"}],"max_line_bytes":20}"#;
        let mut data = b"{\"name\":\"a\"}\n{\"name\":\"".to_vec();
        data.extend(std::iter::repeat_n(b'x', 100));
        data.extend_from_slice(b"\"}\n{\"name\":\"z\"}\n");
        for chunk in [7, 1000] {
            let c = run(opts, &data, chunk);
            assert_eq!(c.batches.iter().map(|b| b.num_rows()).sum::<usize>(), 2);
            assert_eq!(c.rejects.len(), 1, "{:?}", c.rejects);
            assert_eq!(c.rejects[0].0, 2);
            assert!(c.rejects[0].1.contains("longer than max_line_bytes"));
        }
    }
}
