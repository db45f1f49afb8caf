//! Readers: the [`Reader`] trait, the views of input a reader gets
//! ([`Input`]), the [`Output`] it emits batches to, and the glue that exports
//! a `Reader` as the `runtime:plugin/reader` interface ([`crate::export_reader!`]).
//!
//! A reader instance lives on one worker thread and reads many splits, one at
//! a time: `new` runs once with the options, `read` once per split.

use crate::bindings::reader as b;
use crate::error::{Error, Result};
use crate::info::PluginInfo;
use crate::{ipc, options};
use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use b::exports::runtime::plugin::reader as wit;
use b::runtime::plugin::{io, types as t};
use serde::de::DeserializeOwned;
use std::any::Any;
use std::cell::RefCell;
use std::io::{Read, Seek, SeekFrom};
use std::marker::PhantomData;

/// An input file as the pipeline names it. The plugin cannot open it; it
/// reads through [`Input`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputFile {
    /// Path as written in the pipeline (relative to the pipeline file when the
    /// glob was relative): use it for messages and `source_path` columns.
    pub path: String,
    pub size: u64,
}

/// A unit of work (mirrors WIT `split`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Split {
    /// Unique, human-readable id within the run.
    pub id: String,
    /// Index of the input file this split reads, if any.
    pub input: Option<u32>,
    /// Byte range of that file.
    pub offset: u64,
    pub length: u64,
    /// Plugin-defined description of the work (for plugin-planned splits).
    pub payload: String,
    /// Estimated size in bytes, for largest-first scheduling.
    pub size_hint: u64,
}

/// What the host tells a reader that plans its own splits (mirrors WIT
/// `plan-hints`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanHints {
    /// The pipeline's `source.max_split_bytes`: the most work one split
    /// should hold.
    pub max_split_bytes: u64,
    /// Worker threads of the run.
    pub workers: u32,
}

impl Default for PlanHints {
    fn default() -> Self {
        PlanHints { max_split_bytes: 64 << 20, workers: 1 }
    }
}

/// How a split ended when it did not fail.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Outcome {
    /// Set when the input was damaged part-way and the rows emitted before the
    /// damage are kept: the split is reported as partial with this reason.
    pub partial: Option<String>,
}

impl Outcome {
    /// The whole split was read.
    pub fn complete() -> Self {
        Outcome { partial: None }
    }
    /// Part of the split was read; what was emitted is kept.
    pub fn partial(reason: impl Into<String>) -> Self {
        Outcome { partial: Some(reason.into()) }
    }
}

/// A read-only view of one input file or byte range: the only data a reader
/// can see. Offsets are relative to the start of the view.
pub struct Input {
    handle: io::Input,
    size: u64,
}

/// Largest single read the SDK asks the host for.
const MAX_READ: u64 = 16 << 20;

impl Input {
    fn new(handle: io::Input) -> Self {
        let size = handle.size();
        Input { handle, size }
    }

    /// Length of the view in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Reads up to `len` bytes at `offset` (fewer only at the end of the view).
    pub fn read_at(&self, offset: u64, len: usize) -> Result<Vec<u8>> {
        let len = (len as u64).min(self.size.saturating_sub(offset));
        let mut out = Vec::with_capacity(len as usize);
        while (out.len() as u64) < len {
            let at = offset + out.len() as u64;
            let want = (len - out.len() as u64).min(MAX_READ) as u32;
            let chunk = self.handle.read(at, want).map_err(Error::from)?;
            if chunk.is_empty() {
                break;
            }
            if out.is_empty() && chunk.len() as u64 == len {
                return Ok(chunk);
            }
            out.extend_from_slice(&chunk);
        }
        Ok(out)
    }

    /// Fills `buf` from `offset`, or fails with `invalid-input` if the view
    /// ends first.
    pub fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        let data = self.read_at(offset, buf.len())?;
        if data.len() < buf.len() {
            return Err(Error::invalid_input(format!(
                "unexpected end of input: wanted {} bytes at offset {offset}, the input has {}",
                buf.len(),
                self.size
            )));
        }
        buf.copy_from_slice(&data);
        Ok(())
    }

    /// A buffered `Read + Seek` over the view, for parsers written against
    /// `std::io`. `chunk` is how much it fetches from the host at a time.
    pub fn reader(&self, chunk: usize) -> InputReader<'_> {
        InputReader { input: self, pos: 0, buf: Vec::new(), buf_start: 0, chunk: chunk.max(512) }
    }
}

/// `Read + Seek` over an [`Input`], fetching `chunk` bytes at a time.
pub struct InputReader<'a> {
    input: &'a Input,
    pos: u64,
    buf: Vec<u8>,
    buf_start: u64,
    chunk: usize,
}

impl Read for InputReader<'_> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if out.is_empty() || self.pos >= self.input.size {
            return Ok(0);
        }
        let buf_end = self.buf_start + self.buf.len() as u64;
        if self.pos < self.buf_start || self.pos >= buf_end {
            // Large reads bypass the buffer.
            if out.len() >= self.chunk {
                let data = self.input.read_at(self.pos, out.len()).map_err(std::io::Error::other)?;
                out[..data.len()].copy_from_slice(&data);
                self.pos += data.len() as u64;
                return Ok(data.len());
            }
            self.buf = self.input.read_at(self.pos, self.chunk).map_err(std::io::Error::other)?;
            self.buf_start = self.pos;
        }
        let start = (self.pos - self.buf_start) as usize;
        let n = out.len().min(self.buf.len() - start);
        out[..n].copy_from_slice(&self.buf[start..start + n]);
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for InputReader<'_> {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        let new = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => self.input.size.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        self.pos = new.ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "seek before the start of the input")
        })?;
        Ok(self.pos)
    }
}

/// Where a reader sends its batches and reports skipped records.
pub struct Output {
    _private: (),
}

thread_local! {
    /// The schema the host configured for each output (WIT `configure`):
    /// batches are cut down to these columns before they cross.
    static CONFIGURED: RefCell<Vec<(String, SchemaRef)>> = const { RefCell::new(Vec::new()) };
}

/// `batch` with only the columns `schema` names, in its order; the batch
/// itself when it already has exactly those.
fn project(batch: &RecordBatch, schema: &SchemaRef) -> Result<Option<RecordBatch>> {
    let same = batch.num_columns() == schema.fields().len()
        && batch.schema().fields().iter().zip(schema.fields()).all(|(a, b)| a.name() == b.name());
    if same {
        return Ok(None);
    }
    let mut columns = Vec::with_capacity(schema.fields().len());
    for f in schema.fields() {
        let column = batch.column_by_name(f.name()).ok_or_else(|| {
            Error::internal(format!("the reader emitted a batch without column `{}`", f.name()))
        })?;
        columns.push(column.clone());
    }
    let options = arrow_array::RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
    Ok(Some(RecordBatch::try_new_with_options(schema.clone(), columns, &options)?))
}

impl Output {
    /// Sends one batch to the named output. Blocks while the pipeline is busy.
    /// On error, stop reading and return the error: the host fails the split.
    ///
    /// When the pipeline needs fewer columns of this output than the reader
    /// produces, only those cross to the host (see [`Reader::configure`]).
    pub fn emit(&mut self, output: &str, batch: &RecordBatch) -> Result<()> {
        let projected = CONFIGURED.with(|c| {
            let configured = c.borrow();
            match configured.iter().find(|(n, _)| n == output) {
                Some((_, schema)) => project(batch, schema),
                None => Ok(None),
            }
        })?;
        let bytes = ipc::encode_batch(projected.as_ref().unwrap_or(batch))?;
        io::emit(output, &bytes).map_err(Error::from)
    }

    /// Reports a record that was skipped, with where it was and why. Skipped
    /// records are counted in the run report; they do not fail the split.
    pub fn reject(&mut self, location: &str, reason: &str) {
        io::reject(location, reason);
    }
}

/// A reader plugin. Implement it, then call [`crate::export_reader!`].
pub trait Reader: Sized + 'static {
    /// The plugin's options, deserialized from the stage's `options` table.
    /// Use `#[serde(deny_unknown_fields)]` so that typos are errors.
    type Options: DeserializeOwned;

    /// Static facts about the plugin.
    fn describe() -> PluginInfo;

    /// Builds the reader from its options; runs once per instance.
    fn new(options: Self::Options) -> Result<Self>;

    /// The schema of every output, by name, for readers whose schema does
    /// not depend on the inputs.
    fn output_schemas(&self) -> Result<Vec<(String, SchemaRef)>>;

    /// The schema of every output, which may depend on the inputs (views of
    /// the whole files, in the order of `files`): a Parquet footer, a sample
    /// of rows. Called once per run on one instance; every instance then
    /// learns the result through [`Reader::configure`]. The default is
    /// [`Reader::output_schemas`].
    fn discover(&mut self, files: &[InputFile], inputs: Vec<Input>) -> Result<Vec<(String, SchemaRef)>> {
        let _ = (files, inputs);
        self.output_schemas()
    }

    /// The exact schema to emit on each output, on every instance before
    /// `plan` or `read`: the discovered one, or a projection of it (a subset
    /// of its fields, in order) when the pipeline needs fewer columns.
    /// [`Output::emit`] drops the columns that are not needed, so a reader
    /// may ignore this (the default); one that can skip work for unneeded
    /// columns (a columnar format) reads them here.
    fn configure(&mut self, outputs: &[(String, SchemaRef)]) -> Result<()> {
        let _ = outputs;
        Ok(())
    }

    /// Plans splits, for plugins declaring `Planning::Plugin`.
    fn plan(&mut self, files: &[InputFile], inputs: Vec<Input>, hints: &PlanHints) -> Result<Vec<Split>> {
        let _ = (files, inputs, hints);
        Err(Error::unsupported("this reader does not plan its own splits"))
    }

    /// Reads one split, emitting batches to `out` as it goes.
    fn read(
        &mut self,
        split: &Split,
        file: Option<&InputFile>,
        input: Option<Input>,
        out: &mut Output,
    ) -> Result<Outcome>;
}

thread_local! {
    static READER: RefCell<Option<Box<dyn Any>>> = const { RefCell::new(None) };
}

fn with_reader<R: Reader, T>(f: impl FnOnce(&mut R) -> Result<T>) -> Result<T> {
    READER.with(|cell| {
        let mut slot = cell.borrow_mut();
        let reader = slot
            .as_mut()
            .and_then(|b| b.downcast_mut::<R>())
            .ok_or_else(|| Error::internal("reader used before init"))?;
        f(reader)
    })
}

/// Adapts a [`Reader`] to the generated WIT interface. Used by
/// [`crate::export_reader!`]; not called directly.
#[doc(hidden)]
pub struct ReaderExport<R>(PhantomData<R>);

impl<R: Reader> wit::Guest for ReaderExport<R> {
    fn describe() -> t::PluginInfo {
        R::describe().into()
    }

    fn init(options: String) -> Result<(), t::PluginError> {
        crate::log::install_panic_hook();
        let opts: R::Options = options::parse(&options)?;
        let reader = R::new(opts)?;
        READER.with(|cell| *cell.borrow_mut() = Some(Box::new(reader)));
        Ok(())
    }

    fn discover(
        files: Vec<t::InputFile>,
        inputs: Vec<io::Input>,
    ) -> Result<Vec<t::NamedSchema>, t::PluginError> {
        let files: Vec<InputFile> = files.into_iter().map(InputFile::from).collect();
        let inputs: Vec<Input> = inputs.into_iter().map(Input::new).collect();
        let schemas = with_reader::<R, _>(|r| r.discover(&files, inputs))?;
        let mut out = Vec::with_capacity(schemas.len());
        for (name, schema) in schemas {
            out.push(t::NamedSchema { name, schema: ipc::encode_schema(&schema)? });
        }
        Ok(out)
    }

    fn configure(outputs: Vec<t::NamedSchema>) -> Result<(), t::PluginError> {
        let mut schemas = Vec::with_capacity(outputs.len());
        for o in outputs {
            let schema =
                ipc::decode_schema(o.schema).map_err(|e| e.context(format!("output `{}`", o.name)))?;
            schemas.push((o.name, schema));
        }
        with_reader::<R, _>(|r| r.configure(&schemas))?;
        CONFIGURED.with(|c| *c.borrow_mut() = schemas);
        Ok(())
    }

    fn plan(
        files: Vec<t::InputFile>,
        inputs: Vec<io::Input>,
        hints: t::PlanHints,
    ) -> Result<Vec<t::Split>, t::PluginError> {
        let files: Vec<InputFile> = files.into_iter().map(InputFile::from).collect();
        let inputs = inputs.into_iter().map(Input::new).collect();
        let hints = PlanHints { max_split_bytes: hints.max_split_bytes, workers: hints.workers };
        let splits = with_reader::<R, _>(|r| r.plan(&files, inputs, &hints))?;
        Ok(splits.into_iter().map(t::Split::from).collect())
    }

    fn read(
        split: t::Split,
        file: Option<t::InputFile>,
        input: Option<io::Input>,
    ) -> Result<t::ReadOutcome, t::PluginError> {
        let split = Split::from(split);
        let file = file.map(InputFile::from);
        let input = input.map(Input::new);
        let mut out = Output { _private: () };
        let outcome = with_reader::<R, _>(|r| r.read(&split, file.as_ref(), input, &mut out))?;
        Ok(t::ReadOutcome { partial: outcome.partial })
    }
}

impl From<t::InputFile> for InputFile {
    fn from(f: t::InputFile) -> Self {
        InputFile { path: f.path, size: f.size }
    }
}

impl From<t::Split> for Split {
    fn from(s: t::Split) -> Self {
        Split {
            id: s.id,
            input: s.input,
            offset: s.offset,
            length: s.length,
            payload: s.payload,
            size_hint: s.size_hint,
        }
    }
}

impl From<Split> for t::Split {
    fn from(s: Split) -> Self {
        t::Split {
            id: s.id,
            input: s.input,
            offset: s.offset,
            length: s.length,
            payload: s.payload,
            size_hint: s.size_hint,
        }
    }
}

/// Exports a [`Reader`] implementation as the plugin's `reader` interface.
///
/// ```ignore
/// runtime_plugin_sdk::export_reader!(MyReader);
/// ```
#[macro_export]
macro_rules! export_reader {
    ($ty:ty) => {
        #[allow(dead_code)]
        type __RuntimeReaderExport = $crate::reader::ReaderExport<$ty>;
        // The generated export glue only exists when building for wasm.
        #[cfg(target_arch = "wasm32")]
        $crate::bindings::reader::__export_reader_world!(__RuntimeReaderExport with_types_in $crate::bindings::reader);
    };
}
