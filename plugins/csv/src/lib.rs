//! The `csv` reader: CSV (and any one-byte-delimited text) into typed Arrow
//! columns, with byte-range splits that stay exact when quoted fields hold
//! newlines.
//!
//! ```toml
//! [source]
//! plugin = "csv"
//! inputs = ["export/*.csv"]
//! [source.options]
//! delimiter = ";"
//! fields = [{ name = "id", type = "int64" }, { name = "note", type = "string" }]
//! ```
//!
//! - **Schema.** `fields` (by header name, or by position with `header =
//!   false`) as in ndjson, or, when omitted, inferred in `discover` from the
//!   first `sample_rows` records of the first input ([`infer`]); every
//!   instance learns the result through `configure`, so every split reads
//!   the same types.
//! - **Splits** (`Planning::Plugin`). A file no bigger than
//!   `max_split_bytes` is one split. A bigger one is scanned once at
//!   planning ([`boundary::cut`]): the scan follows the quoting state and
//!   cuts just after the first newline *outside quotes* past every
//!   `max_split_bytes`, so each split holds whole records and a quoted
//!   newline is never a cut. This is the two-pass method: exact whatever
//!   the data (a quoted field may contain lines that look like whole
//!   records, which defeats probing from a guessed newline), at the price
//!   of one sequential pass over the bytes, which touches only quote
//!   characters (see the README for its speed). Splits carry their range in
//!   the payload (`start..end`) and view the whole file (`offset = 0`,
//!   `length = size`) so that every split can read the file's header.
//! - **Reading** a split: the header (first record of the file) maps the
//!   fields to record positions; the range is parsed by csv-core
//!   ([`records`]), each record's fields converted ([`columns`]) and
//!   appended; a batch is emitted every `batch_rows` rows.
//! - **Bad records are rejected, never fatal**: a record with the wrong
//!   number of fields, a value that does not parse as its type, a null in a
//!   non-nullable field, invalid UTF-8 in a string, a record longer than
//!   `max_record_bytes`, a quote left open at the end of the file: each is
//!   reported with its file and line (`line N`, the line the record starts
//!   on, counting `\n` from the start of the file) and the run goes on.
//! - A UTF-8 byte order mark is skipped; `\n`, `\r\n` and `\r` end records;
//!   empty lines are skipped (in a one-column file they are empty values,
//!   as in DuckDB); a 0-byte or header-only file gives no rows.

pub mod boundary;
pub mod columns;
pub mod infer;
pub mod options;
pub mod records;
pub mod values;

use boundary::starts_with_bom;
use columns::{Cell, Column, Columns};
use options::{Dialect, FieldType, Options};
use records::{Next, Records};
use runtime_plugin_sdk::prelude::*;

/// The plugin.
pub struct Csv {
    options: Options,
    dialect: Dialect,
    nulls: Vec<Vec<u8>>,
    /// The schema to emit: declared, discovered, then as configured.
    schema: Option<SchemaRef>,
}

impl Reader for Csv {
    type Options = Options;

    fn describe() -> PluginInfo {
        let mut info = PluginInfo::reader(
            "csv",
            env!("CARGO_PKG_VERSION"),
            "CSV and other delimited text into typed columns (declared or inferred); exact splits \
             with quoted newlines; malformed records rejected with their line numbers",
        )
        .output("rows")
        .planning(Planning::Plugin);
        info.options = Options::specs();
        info
    }

    fn new(options: Options) -> Result<Self> {
        let dialect = options.validate()?;
        let nulls = options.null_strings.iter().map(|s| s.as_bytes().to_vec()).collect();
        let schema = options.declared_schema().map(Arc::new);
        Ok(Csv { options, dialect, nulls, schema })
    }

    fn output_schemas(&self) -> Result<Vec<(String, SchemaRef)>> {
        let schema = self.schema.clone().ok_or_else(|| {
            Error::invalid_options(
                "without `fields` the csv reader infers its columns from its first input file",
            )
        })?;
        Ok(vec![("rows".into(), schema)])
    }

    fn discover(&mut self, files: &[InputFile], inputs: Vec<Input>) -> Result<Vec<(String, SchemaRef)>> {
        if self.options.fields.is_some() {
            return self.output_schemas();
        }
        for (file, input) in files.iter().zip(&inputs) {
            let start = bom_len(input)?;
            let records = Records::new(
                |off, len| input.read_at(off, len),
                self.dialect,
                start,
                input.size(),
                true,
                self.options.max_record_bytes,
            );
            let inferred = infer::infer(records, self.options.header, self.options.sample_rows, &self.nulls)
                .map_err(|e| e.context(&file.path))?;
            if let Some(schema) = inferred {
                let entries: Vec<_> = schema
                    .fields()
                    .iter()
                    .map(|f| runtime_plugin_sdk::inferred::FieldEntry {
                        name: f.name(),
                        extra: vec![],
                        ty: FieldType::from_data_type(f.data_type()).map_or("string", FieldType::name).into(),
                    })
                    .collect();
                let noted = runtime_plugin_sdk::inferred::with_note(schema.clone(), &entries);
                self.schema = Some(Arc::new(noted));
                return self.output_schemas();
            }
        }
        Err(Error::invalid_input(if files.is_empty() {
            "the csv reader needs input files".to_string()
        } else {
            "every input file is empty: there is no header or record to infer the columns from; declare `fields`"
                .to_string()
        }))
    }

    fn configure(&mut self, outputs: &[(String, SchemaRef)]) -> Result<()> {
        if let Some((_, schema)) = outputs.iter().find(|(n, _)| n == "rows") {
            for f in schema.fields() {
                if FieldType::from_data_type(f.data_type()).is_none() {
                    return Err(Error::internal(format!(
                        "column `{}`: the csv reader cannot produce {}",
                        f.name(),
                        f.data_type()
                    )));
                }
            }
            self.schema = Some(schema.clone());
        }
        Ok(())
    }

    fn plan(&mut self, files: &[InputFile], inputs: Vec<Input>, hints: &PlanHints) -> Result<Vec<Split>> {
        let mut splits = Vec::with_capacity(files.len());
        for (i, (file, input)) in files.iter().zip(&inputs).enumerate() {
            let split = |id: String, r: boundary::Range| Split {
                id,
                input: Some(i as u32),
                offset: 0,
                length: file.size,
                payload: format!("{}..{}:{}", r.start, r.end, r.lines),
                size_hint: (r.end - r.start).max(1),
            };
            let whole = boundary::Range { start: 0, end: file.size, lines: 0 };
            if file.size <= hints.max_split_bytes {
                splits.push(split(file.path.clone(), whole));
                continue;
            }
            // A file that cannot be read is one split, which fails with the reason.
            let fetch = |off, len| input.read_at(off, len);
            match boundary::cut(file.size, hints.max_split_bytes, self.dialect, fetch) {
                Ok(ranges) if ranges.len() > 1 => {
                    for r in ranges {
                        splits.push(split(format!("{}@{}..{}", file.path, r.start, r.end), r));
                    }
                }
                _ => splits.push(split(file.path.clone(), whole)),
            }
        }
        Ok(splits)
    }

    fn read(
        &mut self,
        split: &Split,
        file: Option<&InputFile>,
        input: Option<Input>,
        out: &mut Output,
    ) -> Result<Outcome> {
        let input = input.ok_or_else(|| Error::invalid_options("the csv reader needs input files"))?;
        let path = file.map_or("the input", |f| f.path.as_str());
        let schema = self.schema.clone().ok_or_else(|| Error::internal("read before configure"))?;
        let range = parse_payload(&split.payload, input.size())?;
        let mut sink = OutputSink { out };
        let fetch = |off, len| input.read_at(off, len);
        let (options, nulls) = (&self.options, &self.nulls);
        read_range(fetch, input.size(), range, options, self.dialect, nulls, &schema, &mut sink)
            .map_err(|e| e.context(path))?;
        Ok(Outcome::complete())
    }
}

/// A split's payload `start..end:lines`: its byte range and the lines
/// before it.
fn parse_payload(payload: &str, size: u64) -> Result<boundary::Range> {
    let bad = || Error::internal(format!("split payload `{payload}` is not `start..end:lines`"));
    let (range, lines) = payload.split_once(':').ok_or_else(bad)?;
    let (a, b) = range.split_once("..").ok_or_else(bad)?;
    let num = |s: &str| s.parse::<u64>().map_err(|_| bad());
    let r = boundary::Range { start: num(a)?, end: num(b)?, lines: num(lines)? };
    if r.start > r.end || r.end > size {
        return Err(Error::invalid_input(format!(
            "the plan expected bytes {}..{} of a file of {size} bytes (did it change?)",
            r.start, r.end
        )));
    }
    Ok(r)
}

fn bom_len(input: &Input) -> Result<u64> {
    Ok(if starts_with_bom(|off, len| input.read_at(off, len))? { 3 } else { 0 })
}

/// Where a split's batches and rejects go.
pub trait Sink {
    fn emit(&mut self, batch: &RecordBatch) -> Result<()>;
    fn reject(&mut self, line: u64, reason: &str);
}

struct OutputSink<'o> {
    out: &'o mut Output,
}

impl Sink for OutputSink<'_> {
    fn emit(&mut self, batch: &RecordBatch) -> Result<()> {
        self.out.emit("rows", batch)?;
        runtime_plugin_sdk::log::progress("rows", batch.num_rows() as u64);
        Ok(())
    }
    fn reject(&mut self, line: u64, reason: &str) {
        self.out.reject(&format!("line {line}"), reason);
    }
}

/// What a file's first record says: its fields' names, or with `header =
/// false` the width of the records.
struct Head {
    /// Output names of the header's fields (deduplicated), if it has one.
    names: Option<Vec<String>>,
    width: usize,
    /// File offset just after the header record (0 without a header).
    end: u64,
}

/// Reads the first record of a file (after a byte order mark); `None` when
/// it has none.
fn read_head(
    fetch: impl FnMut(u64, usize) -> Result<Vec<u8>>,
    size: u64,
    bom: u64,
    options: &Options,
    d: Dialect,
) -> Result<Option<Head>> {
    let mut r = Records::new(fetch, d, bom, size, true, options.max_record_bytes);
    r.fetch_size(64 << 10);
    loop {
        match r.next_record()? {
            Next::End => return Ok(None),
            Next::Record => break,
            Next::TooLong | Next::Unterminated if options.header => {
                let line = r.line();
                return Err(Error::invalid_input(format!(
                    "line {line}: the header is not a readable record"
                )));
            }
            _ => {}
        }
    }
    let width = r.len();
    Ok(Some(match options.header {
        true => Head { names: Some(infer::column_names(&infer::texts(&r))), width, end: r.offset() },
        false => Head { names: None, width, end: 0 },
    }))
}

/// Where each output column comes from in this file's records.
fn map_columns(schema: &Schema, options: &Options, head: &Head) -> Result<Vec<Column>> {
    let mut columns = Vec::with_capacity(schema.fields().len());
    for f in schema.fields() {
        let declared = options.fields.as_ref().map(|fs| {
            let i = fs.iter().position(|d| d.name == *f.name());
            (i, i.map(|i| &fs[i]))
        });
        let ty = FieldType::from_data_type(f.data_type())
            .ok_or_else(|| Error::internal(format!("column `{}` has an unsupported type", f.name())))?;
        let index = match (&head.names, declared) {
            (Some(names), declared) => {
                let wanted = declared.and_then(|d| d.1).map_or(f.name().as_str(), |d| d.column());
                names.iter().position(|n| n == wanted).ok_or_else(|| {
                    let shown: Vec<&str> = names.iter().take(20).map(String::as_str).collect();
                    Error::invalid_input(format!(
                        "no column `{wanted}` in the header (it has {}{})",
                        shown.join(", "),
                        if names.len() > 20 { ", ..." } else { "" }
                    ))
                })?
            }
            (None, Some((Some(i), _))) => i,
            (None, _) => infer::unnamed_index(f.name())
                .ok_or_else(|| Error::internal(format!("column `{}` has no position", f.name())))?,
        };
        if head.names.is_none() && options.fields.is_none() && index >= head.width {
            return Err(Error::invalid_input(format!(
                "column `{}` is missing: the first record has {} fields",
                f.name(),
                head.width
            )));
        }
        let dictionary = matches!(f.data_type(), DataType::Dictionary(..));
        columns.push(Column { name: f.name().clone(), index, ty, nullable: f.is_nullable(), dictionary });
    }
    Ok(columns)
}

/// Reads the records of `range` of a file of `size` bytes (fetched with
/// `fetch`) into batches of `schema`, rejecting bad ones with their file
/// line numbers.
#[allow(clippy::too_many_arguments)]
pub fn read_range(
    mut fetch: impl FnMut(u64, usize) -> Result<Vec<u8>>,
    size: u64,
    range: boundary::Range,
    options: &Options,
    d: Dialect,
    nulls: &[Vec<u8>],
    schema: &SchemaRef,
    sink: &mut impl Sink,
) -> Result<()> {
    let bom = if starts_with_bom(&mut fetch)? { 3 } else { 0 };
    let Some(head) = read_head(&mut fetch, size, bom, options, d)? else {
        return Ok(()); // no record at all
    };
    let width = match &options.fields {
        Some(fields) if !options.header => fields.len(),
        _ => head.width,
    };
    let columns = map_columns(schema, options, &head)?;
    let end = range.end;
    let from = range.start.max(bom);
    if from >= end {
        return Ok(());
    }
    let mut records = Records::new(&mut fetch, d, from, end, end == size, options.max_record_bytes);
    records.blank_lines_are_records(width == 1);
    let mut table = Columns::new(schema.clone(), &columns, options.batch_rows.min(1 << 16));
    let mut cells: Vec<Cell> = Vec::with_capacity(columns.len());
    loop {
        let reason = match records.next_record()? {
            Next::End => break,
            Next::Record if records.record_start() < head.end => continue, // the header
            Next::Record if records.len() != width => {
                format!("expected {width} fields, found {}", records.len())
            }
            Next::Record => {
                // One UTF-8 check for the whole record; per field only when it fails.
                let text = std::str::from_utf8(records.bytes()).ok();
                let mut bad = None;
                cells.clear();
                for c in &columns {
                    let span = records.span(c.index);
                    let utf8 =
                        text.is_some_and(|t| t.is_char_boundary(span.start) && t.is_char_boundary(span.end));
                    match columns::convert(c, records.field(c.index), utf8, nulls) {
                        Ok(cell) => cells.push(cell),
                        Err(why) => {
                            bad = Some(why);
                            break;
                        }
                    }
                }
                match bad {
                    Some(why) => why,
                    None => {
                        table.append(&cells, |i| {
                            let span = records.span(columns[i].index);
                            match text {
                                Some(t) => &t[span],
                                // Checked by `convert`.
                                None => std::str::from_utf8(&records.bytes()[span]).unwrap_or_default(),
                            }
                        });
                        if table.rows() >= options.batch_rows {
                            sink.emit(&table.flush()?)?;
                        }
                        continue;
                    }
                }
            }
            Next::TooLong => format!(
                "record is longer than max_record_bytes ({} bytes); is a quote left open?",
                options.max_record_bytes
            ),
            Next::Unterminated => {
                "unterminated quoted field: the quote runs to the end of the file".to_string()
            }
        };
        sink.reject(range.lines + records.line(), &reason);
    }
    if table.rows() > 0 {
        sink.emit(&table.flush()?)?;
    }
    Ok(())
}

runtime_plugin_sdk::export_reader!(Csv);

#[cfg(test)]
mod tests;
