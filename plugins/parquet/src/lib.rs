//! The `parquet` reader: Parquet files into Arrow batches, by row groups.
//!
//! ```toml
//! [source]
//! plugin = "parquet"
//! inputs = ["data/*.parquet"]
//! [source.options]
//! columns = ["id", "labels"]   # optional projection
//! ```
//!
//! - `discover` reads every footer (one ranged read of each file's tail) and
//!   unifies the schemas ([`unify`]): columns by name, a column missing from
//!   a file read as nulls. An unreadable footer or an incompatible schema
//!   does not stop discovery: that file's split fails later, with the file's
//!   name and the reason, and the other files are read.
//! - `configure` learns which columns the pipeline needs: only their column
//!   chunks are ever fetched.
//! - `plan` cuts each file into splits of whole row groups: consecutive row
//!   groups share a split up to `max_split_bytes` (of projected, compressed
//!   bytes), so a file of 200 large row groups gives 200 splits and a small
//!   file one. The row group range travels in the split's payload (`a..b`).
//! - `read` decodes the footer again (from the split's view: each instance
//!   is separate; the last one decoded is kept for the next split of the
//!   same file), fetches the projected column chunks of one row group at a
//!   time ([`chunks`]) and decodes them with the `parquet` crate's Arrow
//!   reader, which passes every Arrow type it reads through unchanged.

pub mod chunks;
pub mod footer;
pub mod unify;

use arrow_array::{RecordBatchOptions, new_null_array};
use chunks::Chunks;
use footer::{Footer, RowGroup};
use parquet_rs::arrow::ProjectionMask;
use parquet_rs::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use runtime_plugin_sdk::info::OptionSpec;
use runtime_plugin_sdk::prelude::*;
use serde::Deserialize;

/// Options as written under `[source.options]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    /// The columns to read, in this order; all when omitted.
    #[serde(default)]
    pub columns: Option<Vec<String>>,
    /// Most rows per emitted batch.
    #[serde(default = "default_batch_rows")]
    pub batch_rows: usize,
}

fn default_batch_rows() -> usize {
    16_384
}

/// What discovery learned about one file, kept for planning on the same
/// instance (small: a few numbers per row group, whatever the footer size).
enum Known {
    Readable(Vec<RowGroup>),
    /// Why its split will fail.
    Broken,
}

/// The plugin.
pub struct ParquetReader {
    options: Options,
    /// The output schema: discovered, then as configured by the host.
    schema: Option<SchemaRef>,
    /// Per input file, from `discover`, with the number of files it saw.
    known: Vec<Known>,
    /// The footer last decoded, by (path, size): splits of one file often
    /// follow each other on an instance, and a file of many row groups has
    /// a large footer.
    last_footer: Option<(String, u64, Footer)>,
}

impl Reader for ParquetReader {
    type Options = Options;

    fn describe() -> PluginInfo {
        PluginInfo::reader(
            "parquet",
            env!("CARGO_PKG_VERSION"),
            "Parquet files by row groups: schemas unified across files, column projection, ranged reads",
        )
        .output("rows")
        .planning(Planning::Plugin)
        .option(OptionSpec::new(
            "columns",
            "list of string",
            "Columns to read, in this order (default: every column of the unified schema).",
        ))
        .option(
            OptionSpec::new("batch_rows", "integer", "Most rows per emitted batch.").default_value("16384"),
        )
    }

    fn new(options: Options) -> Result<Self> {
        if options.batch_rows == 0 {
            return Err(Error::invalid_options("batch_rows: must be at least 1"));
        }
        if let Some(cols) = &options.columns {
            if cols.is_empty() {
                return Err(Error::invalid_options("columns: list at least one column, or omit it"));
            }
            for (i, c) in cols.iter().enumerate() {
                if cols[..i].contains(c) {
                    return Err(Error::invalid_options(format!("columns: `{c}` appears twice")));
                }
            }
        }
        Ok(ParquetReader { options, schema: None, known: Vec::new(), last_footer: None })
    }

    fn output_schemas(&self) -> Result<Vec<(String, SchemaRef)>> {
        let schema = self.schema.clone().ok_or_else(|| {
            Error::invalid_options("the parquet reader learns its schema from its input files; give it some")
        })?;
        Ok(vec![("rows".into(), schema)])
    }

    fn discover(&mut self, files: &[InputFile], inputs: Vec<Input>) -> Result<Vec<(String, SchemaRef)>> {
        let mut schemas = Vec::new();
        let mut broken = Vec::new();
        self.known.clear();
        for (file, input) in files.iter().zip(&inputs) {
            match footer::read(input) {
                Ok(f) => {
                    self.known.push(Known::Readable(footer::row_groups(f.parquet(), None)));
                    schemas.push(f.schema().clone());
                }
                Err(e) => {
                    self.known.push(Known::Broken);
                    broken.push(format!("{}: {}", file.path, e.message));
                }
            }
        }
        if schemas.is_empty() {
            return Err(Error::invalid_input(match broken.first() {
                Some(first) => format!("no input file is a readable Parquet file ({first})"),
                None => "the parquet reader needs input files".to_string(),
            }));
        }
        let all = unify::union(schemas.iter().map(|s| s.as_ref()));
        // Files whose types clash are not read; nullability comes from the rest.
        let compatible: Vec<&Schema> =
            schemas.iter().map(|s| s.as_ref()).filter(|s| unify::check(s, all.fields()).is_none()).collect();
        let all = if compatible.len() == schemas.len() { all } else { unify::union(compatible) };
        let schema = match &self.options.columns {
            None => all,
            Some(cols) => {
                let mut fields = Vec::with_capacity(cols.len());
                for c in cols {
                    let f = all.field_with_name(c).map_err(|_| {
                        let names: Vec<_> = all.fields().iter().map(|f| f.name().as_str()).collect();
                        Error::invalid_options(format!(
                            "columns: no column `{c}` in the input files (they have {})",
                            names.join(", ")
                        ))
                    })?;
                    fields.push(f.clone());
                }
                Schema::new(fields)
            }
        };
        let schema = Arc::new(schema);
        self.schema = Some(schema.clone());
        Ok(vec![("rows".into(), schema)])
    }

    fn configure(&mut self, outputs: &[(String, SchemaRef)]) -> Result<()> {
        if let Some((_, schema)) = outputs.iter().find(|(n, _)| n == "rows") {
            self.schema = Some(schema.clone());
        }
        Ok(())
    }

    fn plan(&mut self, files: &[InputFile], inputs: Vec<Input>, hints: &PlanHints) -> Result<Vec<Split>> {
        let reuse = self.known.len() == files.len();
        let mut splits = Vec::with_capacity(files.len());
        for (i, (file, input)) in files.iter().zip(&inputs).enumerate() {
            let row_groups = if reuse {
                match &self.known[i] {
                    Known::Readable(rgs) => Some(rgs.clone()),
                    Known::Broken => None,
                }
            } else {
                footer::read(input).ok().map(|f| footer::row_groups(f.parquet(), None))
            };
            plan_file(i as u32, file, row_groups.as_deref(), hints.max_split_bytes, &mut splits);
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
        let input = input.ok_or_else(|| Error::internal("a parquet split without its input file"))?;
        let path = file.map_or("the input", |f| f.path.as_str());
        let schema = self.schema.clone().ok_or_else(|| Error::internal("read before configure"))?;
        let (first, end) = parse_payload(&split.payload)?;
        let cached = self.last_footer.take().filter(|(p, size, _)| p == path && *size == input.size());
        let footer = match cached {
            Some((_, _, footer)) => footer,
            None => footer::read(&input).map_err(|e| e.context(path))?,
        };
        let footer = &self.last_footer.insert((path.to_string(), input.size(), footer)).2;
        read_row_groups(footer, &input, first..end, &schema, self.options.batch_rows, out)
            .map_err(|e| e.context(path))?;
        Ok(Outcome::complete())
    }
}

/// Plans the splits of one file: consecutive row groups up to `max` bytes
/// per split. A file whose footer cannot be read gets one split, which
/// fails when it runs and says why.
fn plan_file(index: u32, file: &InputFile, row_groups: Option<&[RowGroup]>, max: u64, out: &mut Vec<Split>) {
    let whole = |payload: String, size_hint: u64| Split {
        id: file.path.clone(),
        input: Some(index),
        offset: 0,
        length: file.size,
        payload,
        size_hint,
    };
    let Some(rgs) = row_groups else {
        out.push(whole(format!("0..{}", u32::MAX), file.size));
        return;
    };
    let mut groups: Vec<(usize, usize, u64)> = Vec::new(); // [start, end), bytes
    for (i, rg) in rgs.iter().enumerate() {
        match groups.last_mut() {
            Some((_, end, bytes)) if *bytes + rg.bytes <= max => {
                *end = i + 1;
                *bytes += rg.bytes;
            }
            _ => groups.push((i, i + 1, rg.bytes)),
        }
    }
    if groups.len() <= 1 {
        let bytes = groups.first().map_or(0, |g| g.2);
        out.push(whole(format!("0..{}", rgs.len()), bytes.max(1)));
        return;
    }
    for (start, end, bytes) in groups {
        let id = if end == start + 1 {
            format!("{}#rg{start}", file.path)
        } else {
            format!("{}#rg{start}-{}", file.path, end - 1)
        };
        out.push(Split {
            id,
            payload: format!("{start}..{end}"),
            size_hint: bytes.max(1),
            ..whole(String::new(), 0)
        });
    }
}

/// The row group range `a..b` of a split's payload.
fn parse_payload(payload: &str) -> Result<(usize, usize)> {
    let bad = || Error::internal(format!("split payload `{payload}` is not a row group range `a..b`"));
    let (a, b) = payload.split_once("..").ok_or_else(bad)?;
    let (a, b) = (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
    if a > b { Err(bad()) } else { Ok((a, b)) }
}

/// Reads row groups `range` of a file (clamped to those it has when the plan
/// said "all": a footer unreadable at planning) as batches of `schema`.
fn read_row_groups(
    footer: &Footer,
    input: &Input,
    range: std::ops::Range<usize>,
    schema: &SchemaRef,
    batch_rows: usize,
    out: &mut Output,
) -> Result<()> {
    let file_schema = footer.schema();
    if let Some(why) = unify::check(file_schema, schema.fields()) {
        return Err(Error::invalid_input(format!("incompatible schema: {why}")));
    }
    let meta = footer.parquet();
    let count = meta.num_row_groups();
    let range = if range.end == u32::MAX as usize { range.start..count } else { range };
    if range.end > count {
        return Err(Error::invalid_input(format!(
            "the file has {count} row groups, the plan expected at least {} (did it change?)",
            range.end
        )));
    }
    // Output columns present in the file, by their root index there.
    let roots: Vec<usize> =
        schema.fields().iter().filter_map(|f| file_schema.index_of(f.name()).ok()).collect();
    let parquet_schema = meta.file_metadata().schema_descr();
    let mask = ProjectionMask::roots(parquet_schema, roots.iter().copied());
    for rg in range {
        let rows = meta.row_group(rg).num_rows().max(0) as usize;
        if rows == 0 {
            continue;
        }
        if roots.is_empty() {
            emit_nulls(schema, rows, batch_rows, out)?;
            continue;
        }
        let chunks = Chunks::fetch(input, meta.row_group(rg), |leaf| {
            roots.contains(&parquet_schema.get_column_root_idx(leaf))
        })?;
        let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(chunks, footer.metadata.clone())
            .with_projection(mask.clone())
            .with_row_groups(vec![rg])
            .with_batch_size(batch_rows)
            .build()
            .map_err(|e| Error::invalid_input(format!("row group {rg}: {e}")))?;
        for batch in reader {
            let batch = batch.map_err(|e| Error::invalid_input(format!("row group {rg}: {e}")))?;
            let batch = arrange(&batch, schema)?;
            out.emit("rows", &batch)?;
            runtime_plugin_sdk::log::progress("rows", batch.num_rows() as u64);
        }
        runtime_plugin_sdk::log::progress("row_groups", 1);
    }
    Ok(())
}

/// `batch` (the file's projected columns) as `schema`: columns by name, in
/// the schema's order, nulls for those the file lacks.
fn arrange(batch: &RecordBatch, schema: &SchemaRef) -> Result<RecordBatch> {
    let rows = batch.num_rows();
    let columns = schema
        .fields()
        .iter()
        .map(|f| {
            batch.column_by_name(f.name()).cloned().unwrap_or_else(|| new_null_array(f.data_type(), rows))
        })
        .collect();
    let options = RecordBatchOptions::new().with_row_count(Some(rows));
    Ok(RecordBatch::try_new_with_options(schema.clone(), columns, &options)?)
}

/// Batches of `rows` rows when the file has none of the wanted columns.
fn emit_nulls(schema: &SchemaRef, rows: usize, batch_rows: usize, out: &mut Output) -> Result<()> {
    let mut left = rows;
    while left > 0 {
        let n = left.min(batch_rows);
        let columns = schema.fields().iter().map(|f| new_null_array(f.data_type(), n)).collect();
        let options = RecordBatchOptions::new().with_row_count(Some(n));
        out.emit("rows", &RecordBatch::try_new_with_options(schema.clone(), columns, &options)?)?;
        left -= n;
    }
    Ok(())
}

runtime_plugin_sdk::export_reader!(ParquetReader);

#[cfg(test)]
mod tests {
    use super::*;

    fn file(size: u64) -> InputFile {
        InputFile { path: "d/a.parquet".into(), size }
    }

    #[test]
    fn small_row_groups_share_a_split_big_ones_do_not() {
        let rgs: Vec<RowGroup> = (0..6).map(|_| RowGroup { rows: 10, bytes: 100 }).collect();
        let mut out = Vec::new();
        plan_file(3, &file(1000), Some(&rgs), 250, &mut out);
        let ids: Vec<_> = out.iter().map(|s| (s.id.as_str(), s.payload.as_str(), s.size_hint)).collect();
        assert_eq!(
            ids,
            [
                ("d/a.parquet#rg0-1", "0..2", 200),
                ("d/a.parquet#rg2-3", "2..4", 200),
                ("d/a.parquet#rg4-5", "4..6", 200)
            ]
        );
        assert!(out.iter().all(|s| s.input == Some(3) && s.offset == 0 && s.length == 1000));
        let mut out = Vec::new();
        plan_file(0, &file(1000), Some(&rgs), 1, &mut out);
        assert_eq!(out.len(), 6, "one split per row group");
        let mut out = Vec::new();
        plan_file(0, &file(1000), Some(&rgs), 1 << 20, &mut out);
        assert_eq!((out[0].id.as_str(), out[0].payload.as_str()), ("d/a.parquet", "0..6"));
    }

    #[test]
    fn empty_and_unreadable_files_get_one_split() {
        let mut out = Vec::new();
        plan_file(0, &file(300), Some(&[]), 1 << 20, &mut out);
        plan_file(1, &file(7), None, 1 << 20, &mut out);
        assert_eq!(out[0].payload, "0..0");
        assert_eq!(parse_payload(&out[1].payload).unwrap(), (0, u32::MAX as usize));
        assert!(parse_payload("3..1").is_err());
    }
}
