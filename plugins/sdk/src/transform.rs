//! Transforms: the [`Transform`] and [`Transformer`] traits and the glue that
//! exports them as the `runtime:plugin/transform` interface
//! ([`crate::export_transform!`]).
//!
//! A `Transform` is built once per instance from its options and side tables.
//! It opens a `Transformer` per split (modes `Single` and `Partial`) or once
//! per run (`Final`, for aggregations: it merges the partial states that the
//! per-split transformers returned from `finish`).

use crate::bindings::transform as b;
use crate::error::{Error, Result};
use crate::info::PluginInfo;
use crate::{ipc, options};
use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use b::exports::runtime::plugin::transform as wit;
use b::runtime::plugin::types as t;
use serde::de::DeserializeOwned;
use std::any::Any;
use std::cell::RefCell;
use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::Arc;

/// The role of an opened transformer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Output rows directly.
    Single,
    /// First half of an aggregation: `finish` returns partial state.
    Partial,
    /// Second half: `merge` receives partial states, `finish` returns rows.
    Final,
}

/// The side tables handed to a transform, by name.
#[derive(Debug, Default, Clone)]
pub struct SideTables {
    tables: HashMap<String, Vec<RecordBatch>>,
}

impl SideTables {
    /// All batches of the named side table, or an `invalid-options` error
    /// naming the missing table.
    pub fn get(&self, name: &str) -> Result<&[RecordBatch]> {
        self.tables.get(name).map(Vec::as_slice).ok_or_else(|| {
            let mut known: Vec<_> = self.tables.keys().map(String::as_str).collect();
            known.sort();
            Error::invalid_options(format!(
                "side table `{name}` is not available to this stage (available: {}); \
                 declare it under [side_tables] and list it in the stage's `side_tables`",
                if known.is_empty() { "none".to_string() } else { known.join(", ") }
            ))
        })
    }

    /// Names of the side tables.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.tables.keys().map(String::as_str)
    }

    /// Builds a set of side tables (for tests).
    pub fn from_batches(tables: impl IntoIterator<Item = (String, Vec<RecordBatch>)>) -> Self {
        SideTables { tables: tables.into_iter().collect() }
    }
}

/// A transform plugin. Implement it, then call [`crate::export_transform!`].
pub trait Transform: Sized + 'static {
    /// The plugin's options (use `#[serde(deny_unknown_fields)]`).
    type Options: DeserializeOwned;
    /// The per-split (or per-run, in `Final` mode) state.
    type Transformer: Transformer;

    /// Static facts about the plugin.
    fn describe() -> PluginInfo;

    /// Builds the transform; runs once per instance.
    fn new(options: Self::Options, side_tables: SideTables) -> Result<Self>;

    /// The output schema for an input schema. For mergeable transforms this is
    /// the final output, not the partial state.
    fn output_schema(&self, input: &SchemaRef) -> Result<SchemaRef>;

    /// The input columns the transform reads, by name, for an input schema;
    /// `None` (the default) for every column. The host then sends only those
    /// columns: `open` gets the projected schema and `process` projected
    /// batches.
    ///
    /// A field of the output schema that a returned batch lacks is taken,
    /// unchanged, from the input batch column of the same name: a row-wise
    /// transform returns only the columns it adds or replaces (and must
    /// then return exactly its input's rows from each `process`, and
    /// nothing from `finish`). Aggregations and filters return every output
    /// column themselves.
    fn input_columns(&self, input: &SchemaRef) -> Result<Option<Vec<String>>> {
        let _ = input;
        Ok(None)
    }

    /// Opens a transformer for input of `input`'s schema (the projected one
    /// when [`Transform::input_columns`] names columns).
    fn open(&self, input: SchemaRef, mode: Mode) -> Result<Self::Transformer>;
}

/// The state of one transformer.
pub trait Transformer: 'static {
    /// Processes one batch; returns zero or more batches.
    fn process(&mut self, batch: RecordBatch) -> Result<Vec<RecordBatch>>;

    /// Merges a partial state (`Final` mode of mergeable transforms).
    fn merge(&mut self, state: RecordBatch) -> Result<()> {
        let _ = state;
        Err(Error::unsupported("this transform does not merge partial states"))
    }

    /// Ends the input: remaining rows, or the partial state in `Partial` mode.
    fn finish(&mut self) -> Result<Vec<RecordBatch>>;
}

thread_local! {
    static TRANSFORM: RefCell<Option<Box<dyn Any>>> = const { RefCell::new(None) };
}

fn with_transform<T: Transform, R>(f: impl FnOnce(&T) -> Result<R>) -> Result<R> {
    TRANSFORM.with(|cell| {
        let slot = cell.borrow();
        let transform = slot
            .as_ref()
            .and_then(|b| b.downcast_ref::<T>())
            .ok_or_else(|| Error::internal("transform used before init"))?;
        f(transform)
    })
}

fn encode_all(batches: Vec<RecordBatch>) -> Result<Vec<Vec<u8>>> {
    batches.iter().map(ipc::encode_batch).collect()
}

/// Adapts a [`Transform`] to the generated WIT interface. Used by
/// [`crate::export_transform!`]; not called directly.
#[doc(hidden)]
pub struct TransformExport<T>(PhantomData<T>);

/// The exported resource wrapping a [`Transformer`].
#[doc(hidden)]
pub struct TransformerExport<T: Transform> {
    inner: RefCell<T::Transformer>,
}

impl<T: Transform> wit::Guest for TransformExport<T> {
    type Transformer = TransformerExport<T>;

    fn describe() -> t::PluginInfo {
        T::describe().into()
    }

    fn init(options: String, side_tables: Vec<t::SideTable>) -> Result<(), t::PluginError> {
        crate::log::install_panic_hook();
        let opts: T::Options = options::parse(&options)?;
        let mut tables = HashMap::new();
        for table in side_tables {
            let batches = ipc::decode_batches(table.batches)
                .map_err(|e| e.context(format!("side table `{}`", table.name)))?;
            tables.insert(table.name, batches);
        }
        let transform = T::new(opts, SideTables { tables })?;
        TRANSFORM.with(|cell| *cell.borrow_mut() = Some(Box::new(transform)));
        Ok(())
    }

    fn output_schema(input: Vec<u8>) -> Result<Vec<u8>, t::PluginError> {
        let input = ipc::decode_schema(input)?;
        let schema = with_transform::<T, _>(|tr| tr.output_schema(&input))?;
        Ok(ipc::encode_schema(&schema)?)
    }

    fn input_columns(input: Vec<u8>) -> Result<Option<Vec<String>>, t::PluginError> {
        let input = ipc::decode_schema(input)?;
        Ok(with_transform::<T, _>(|tr| tr.input_columns(&input))?)
    }

    fn open(input: Vec<u8>, mode: wit::Mode) -> Result<wit::Transformer, t::PluginError> {
        let input = ipc::decode_schema(input)?;
        let mode = match mode {
            wit::Mode::Single => Mode::Single,
            wit::Mode::Partial => Mode::Partial,
            wit::Mode::Final => Mode::Final,
        };
        let inner = with_transform::<T, _>(|tr| tr.open(input, mode))?;
        Ok(wit::Transformer::new(TransformerExport::<T> { inner: RefCell::new(inner) }))
    }
}

impl<T: Transform> wit::GuestTransformer for TransformerExport<T> {
    fn process(&self, batch: Vec<u8>) -> Result<Vec<Vec<u8>>, t::PluginError> {
        let batch = ipc::decode_host_batch(batch)?;
        let out = self.inner.borrow_mut().process(batch)?;
        Ok(encode_all(out)?)
    }

    fn merge(&self, state: Vec<u8>) -> Result<(), t::PluginError> {
        let state = ipc::decode_batch(state)?;
        Ok(self.inner.borrow_mut().merge(state)?)
    }

    fn finish(&self) -> Result<Vec<Vec<u8>>, t::PluginError> {
        let out = self.inner.borrow_mut().finish()?;
        Ok(encode_all(out)?)
    }
}

/// Exports a [`Transform`] implementation as the plugin's `transform`
/// interface.
///
/// ```ignore
/// runtime_plugin_sdk::export_transform!(MyTransform);
/// ```
#[macro_export]
macro_rules! export_transform {
    ($ty:ty) => {
        #[allow(dead_code)]
        type __RuntimeTransformExport = $crate::transform::TransformExport<$ty>;
        // The generated export glue only exists when building for wasm.
        #[cfg(target_arch = "wasm32")]
        $crate::bindings::transform::__export_transform_world!(__RuntimeTransformExport with_types_in $crate::bindings::transform);
    };
}

/// Runs a transform natively the way the host does, for plugin tests:
/// projects each input batch to [`Transform::input_columns`], processes it
/// in `Single` mode, and re-attaches the columns the transform passed
/// through (by name, from the input batch) to build batches of
/// [`Transform::output_schema`].
pub fn run_like_host<T: Transform>(transform: &T, input: &[RecordBatch]) -> Result<Vec<RecordBatch>> {
    let Some(first) = input.first() else { return Ok(Vec::new()) };
    let full = first.schema();
    let output = transform.output_schema(&full)?;
    let sends = projection(transform, &full)?;
    let opened = match &sends {
        Some(idx) => Arc::new(full.project(idx)?),
        None => full.clone(),
    };
    let mut tr = transform.open(opened, Mode::Single)?;
    let mut out = Vec::new();
    for batch in input {
        let sent = match &sends {
            Some(idx) => batch.project(idx)?,
            None => batch.clone(),
        };
        for produced in tr.process(sent)? {
            out.push(reattach(&output, &produced, Some(batch))?);
        }
    }
    for produced in tr.finish()? {
        out.push(reattach(&output, &produced, None)?);
    }
    Ok(out)
}

/// The indices of the columns of `input` the host sends the transform, in
/// input order (`None`: all of them).
pub fn projection<T: Transform>(transform: &T, input: &SchemaRef) -> Result<Option<Vec<usize>>> {
    Ok(transform.input_columns(input)?.map(|cols| {
        (0..input.fields().len()).filter(|&i| cols.iter().any(|c| c == input.field(i).name())).collect()
    }))
}

/// A batch of `schema` from the columns a transform produced and, for the
/// rest, the input batch's (which needs the same rows), as the host builds
/// it.
pub fn reattach(
    schema: &SchemaRef,
    produced: &RecordBatch,
    input: Option<&RecordBatch>,
) -> Result<RecordBatch> {
    let mut columns = Vec::with_capacity(schema.fields().len());
    for f in schema.fields() {
        let column = match (produced.column_by_name(f.name()), input) {
            (Some(c), _) => c.clone(),
            (None, Some(i)) if i.num_rows() == produced.num_rows() => {
                i.column_by_name(f.name()).cloned().ok_or_else(|| {
                    Error::internal(format!(
                        "output column `{}` is neither produced nor in the input",
                        f.name()
                    ))
                })?
            }
            _ => return Err(Error::internal(format!("output column `{}` cannot be re-attached", f.name()))),
        };
        columns.push(column);
    }
    Ok(RecordBatch::try_new(schema.clone(), columns)?)
}
