//! The `ndjson` reader: newline-delimited JSON into typed Arrow columns.
//!
//! The schema comes from the options (`fields`), or, when they are omitted,
//! from a sample of the inputs ([`infer`], in `discover`); either way every
//! split of every file produces the same columns, because every instance
//! learns the inferred schema through `configure`. The host cuts large
//! files into byte ranges at newlines (`Planning::Delimited(b'\n')`), so
//! each split holds whole lines. Lines are read in chunks ([`read_lines`]),
//! parsed one by one ([`line::LineParser`]: scalars in place, nested values
//! into typed trees, [`nested`]) and appended to column builders
//! ([`columns::Columns`]); a batch is emitted every `batch_rows` rows.
//!
//! A malformed line (bad JSON, wrong type, missing required field, too long)
//! is rejected with its line number and reason and the split goes on: bad
//! data is reported, never fatal. Blank lines are skipped.
//!
//! Modules in data-flow order: [`options`] and [`types`] (what to read),
//! [`infer`] (what to read, from the data), [`line`] and [`scalar`] (reading
//! a line), [`nested`] and [`columns`] (building the batch); [`time`] parses
//! dates.

pub mod columns;
pub mod infer;
pub mod line;
pub mod nested;
pub mod options;
pub mod scalar;
pub mod time;
pub mod types;

use columns::Columns;
use line::LineParser;
use options::{Column, Options};
use runtime_plugin_sdk::prelude::*;

/// How much input to fetch from the host at a time.
const CHUNK: usize = 4 << 20;

/// The plugin.
pub struct Ndjson {
    options: Options,
    /// The columns to read: declared, or inferred and then configured.
    columns: Option<Vec<Column>>,
    schema: Option<SchemaRef>,
}

impl Reader for Ndjson {
    type Options = Options;

    fn describe() -> PluginInfo {
        let mut info = PluginInfo::reader(
            "ndjson",
            env!("CARGO_PKG_VERSION"),
            "Newline-delimited JSON into typed columns; malformed lines are rejected and counted \
             (nested types; columns declared or inferred)",
        )
        .output("rows")
        .planning(Planning::Delimited(b'\n'));
        info.options = Options::specs();
        info
    }

    fn new(options: Options) -> Result<Self> {
        let columns = options.columns()?;
        let schema = columns.as_ref().map(|c| Arc::new(options::schema(c, false)));
        Ok(Ndjson { options, columns, schema })
    }

    fn output_schemas(&self) -> Result<Vec<(String, SchemaRef)>> {
        let schema = self.schema.clone().ok_or_else(|| {
            Error::invalid_options(
                "without `fields` the ndjson reader infers its columns from a sample of its inputs",
            )
        })?;
        Ok(vec![("rows".to_string(), schema)])
    }

    fn discover(&mut self, files: &[InputFile], inputs: Vec<Input>) -> Result<Vec<(String, SchemaRef)>> {
        if self.columns.is_some() {
            return self.output_schemas();
        }
        let mut sample = infer::Sample::default();
        for (file, input) in files.iter().zip(&inputs).take(infer::SAMPLE_FILES) {
            let wanted = self.options.sample_rows;
            let fetch = |offset, len| input.read_at(offset, len);
            read_lines(input.size(), fetch, true, self.options.max_line_bytes, |line| {
                if let Line::Text(text, _) = line {
                    sample.add(text);
                }
                Ok(if sample.lines >= wanted { Flow::Stop } else { Flow::Go })
            })
            .map_err(|e| e.context(&file.path))?;
            if sample.lines >= wanted {
                break;
            }
        }
        let columns = sample.columns();
        if columns.is_empty() {
            return Err(Error::invalid_input(if files.is_empty() {
                "the ndjson reader needs input files".to_string()
            } else {
                "no key to infer the columns from: the sampled lines hold no JSON object with a key; declare `fields`"
                    .to_string()
            }));
        }
        let schema = options::schema(&columns, true);
        let noted = runtime_plugin_sdk::inferred::with_note(schema, &infer::entries(&columns));
        self.schema = Some(Arc::new(noted));
        self.columns = Some(columns);
        self.output_schemas()
    }

    fn configure(&mut self, outputs: &[(String, SchemaRef)]) -> Result<()> {
        if self.options.fields.is_some() {
            // Declared: read them all; `emit` drops what is not needed.
            return Ok(());
        }
        if let Some((_, schema)) = outputs.iter().find(|(n, _)| n == "rows") {
            let mut columns = Vec::with_capacity(schema.fields().len());
            for f in schema.fields() {
                let ty = types::Type::of_field(f).ok_or_else(|| {
                    Error::internal(format!(
                        "column `{}`: the ndjson reader cannot produce {}",
                        f.name(),
                        f.data_type()
                    ))
                })?;
                columns.push(Column::plain(
                    f.name().clone(),
                    options::KeyPath(vec![f.name().clone()]),
                    ty,
                    true,
                ));
            }
            self.columns = Some(columns);
            self.schema = Some(schema.clone());
        }
        Ok(())
    }

    fn read(
        &mut self,
        split: &Split,
        _file: Option<&InputFile>,
        input: Option<Input>,
        out: &mut Output,
    ) -> Result<Outcome> {
        let input = input.ok_or_else(|| Error::invalid_options("the ndjson reader needs input files"))?;
        let (Some(columns), Some(schema)) = (&self.columns, &self.schema) else {
            return Err(Error::internal("read before configure"));
        };
        let mut sink = BatchSink {
            out,
            columns: Columns::new(schema.clone(), columns, self.options.batch_rows.min(1 << 16)),
            batch_rows: self.options.batch_rows,
        };
        let fetch = |offset, len| input.read_at(offset, len);
        read_split(input.size(), fetch, split.offset == 0, &self.options, columns, &mut sink)?;
        sink.flush()?;
        Ok(Outcome::complete())
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

/// One line of the input, as [`read_lines`] hands it on.
pub enum Line<'a> {
    /// A line (without its `\n` or `\r\n`) and its 1-based number.
    Text(&'a [u8], u64),
    /// A line longer than `max_line_bytes`, skipped; its number.
    TooLong(u64),
}

/// Whether [`read_lines`] goes on.
#[derive(PartialEq, Eq)]
pub enum Flow {
    Go,
    Stop,
}

/// Reads the lines of an input of `size` bytes, fetched with `fetch(offset,
/// len)` a chunk at a time, handing each to `on_line`, until the end or
/// until `on_line` says stop. Line numbers are 1-based from the start of the
/// input (the host turns them into file line numbers for splits that start
/// inside a file). `at_file_start` says whether a UTF-8 byte order mark may
/// be present. A line longer than `max_line_bytes` is never held whole.
pub fn read_lines(
    size: u64,
    mut fetch: impl FnMut(u64, usize) -> Result<Vec<u8>>,
    at_file_start: bool,
    max_line_bytes: usize,
    mut on_line: impl FnMut(Line) -> Result<Flow>,
) -> Result<()> {
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
            } else if on_line(text_or_long(&buf[start..nl], line_no, max_line_bytes))? == Flow::Stop {
                return Ok(());
            }
            start = nl + 1;
        }
        buf.drain(..start);
        if buf.len() > max_line_bytes {
            if !skipping_long {
                if on_line(Line::TooLong(line_no + 1))? == Flow::Stop {
                    return Ok(());
                }
                skipping_long = true;
            }
            buf.clear();
        }
        if pos >= size {
            if !buf.is_empty() && !skipping_long {
                line_no += 1;
                on_line(text_or_long(&buf, line_no, max_line_bytes))?;
            }
            return Ok(());
        }
    }
}

fn text_or_long(raw: &[u8], line_no: u64, max_line_bytes: usize) -> Line<'_> {
    let line = raw.strip_suffix(b"\r").unwrap_or(raw);
    if line.len() > max_line_bytes { Line::TooLong(line_no) } else { Line::Text(line, line_no) }
}

/// Reads every line of a split into `sink`: parsed, checked and appended,
/// or rejected with its line number and reason.
pub fn read_split(
    size: u64,
    fetch: impl FnMut(u64, usize) -> Result<Vec<u8>>,
    at_file_start: bool,
    options: &Options,
    columns: &[Column],
    sink: &mut impl LineSink,
) -> Result<()> {
    let mut parser = LineParser::new(columns);
    let too_long = format!("line is longer than max_line_bytes ({} bytes)", options.max_line_bytes);
    read_lines(size, fetch, at_file_start, options.max_line_bytes, |line| {
        match line {
            Line::TooLong(line_no) => sink.reject(line_no, &too_long),
            Line::Text(line, line_no) => handle_line(line, line_no, &mut parser, sink)?,
        }
        Ok(Flow::Go)
    })
}

fn handle_line(line: &[u8], line_no: u64, parser: &mut LineParser, sink: &mut impl LineSink) -> Result<()> {
    if line.iter().all(u8::is_ascii_whitespace) {
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
    use arrow_array::Array;
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
        let columns = options.columns().unwrap().unwrap();
        let schema = Arc::new(options::schema(&columns, false));
        let mut sink = Collect {
            columns: Columns::new(schema, &columns, 16),
            batches: vec![],
            rejects: vec![],
            batch_rows: options.batch_rows,
        };
        let fetch = |off: u64, len: usize| {
            let start = off as usize;
            Ok(data[start..(start + len.min(chunk_limit)).min(data.len())].to_vec())
        };
        read_split(data.len() as u64, fetch, true, &options, &columns, &mut sink).unwrap();
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

    #[test]
    fn dotted_paths_and_nested_columns() {
        let opts = r#"{"fields":[
            {"name":"app","path":"metadata.labels.app","type":"string","nullable":false},
            {"name":"labels","path":"metadata.labels","type":"map<string, string>"},
            {"name":"c","path":"containers","type":"list<struct<name: string, cpu: float64>>"}]}"#;
        let opts_ok = opts.replace(r#","nullable":false"#, "");
        let data = concat!(
            r#"{"metadata": {"labels": {"app": "web", "tier": "a"}}, "containers": [{"name": "x", "cpu": 1}]}"#,
            "\n",
            r#"{"metadata": null, "containers": null}"#,
            "\n",
            r#"{"metadata": {"labels": {"app": 5}}}"#,
            "\n",
            r#"{"metadata": "flat", "containers": []}"#,
            "\n",
            r#"{"metadata": {"labels": {"app": "db"}}, "containers": [{"name": "y", "cpu": "lots"}]}"#,
            "\n",
        );
        let c = run(&opts_ok, data.as_bytes(), 1000);
        let rows: usize = c.batches.iter().map(|b| b.num_rows()).sum();
        assert_eq!(rows, 2, "{:?}", c.rejects);
        let lines: Vec<u64> = c.rejects.iter().map(|r| r.0).collect();
        assert_eq!(lines, vec![3, 4, 5], "{:?}", c.rejects);
        assert!(c.rejects[0].1.starts_with("expected a string, found a number"), "{:?}", c.rejects);
        assert!(c.rejects[1].1.contains("an object (the path goes through it)"), "{:?}", c.rejects);
        assert!(c.rejects[2].1.contains("`lots` is not") || c.rejects[2].1.contains("expected a number"));
        let b = &c.batches[0];
        assert_eq!(b.column(0).as_string::<i32>().value(0), "web");
        assert!(b.column(0).is_null(1));
        let m = b.column(1).as_map();
        assert_eq!(m.value_length(0), 2);
        assert!(m.is_null(1));
        let l = b.column(2).as_list::<i32>();
        let first = l.value(0);
        let s = first.as_struct();
        assert_eq!(s.column(1).as_primitive::<Float64Type>().value(0), 1.0);
        // A required path through a null object is missing.
        let c = run(opts, data.as_bytes(), 1000);
        assert!(c.rejects.iter().any(|r| r.0 == 2 && r.1 == "field `app` is missing"), "{:?}", c.rejects);
    }
}
