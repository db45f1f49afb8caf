//! Calls into a transform instance: `describe`, `init`, `output-schema`,
//! `input-columns`, and the life of a `transformer` resource (`open`,
//! `process`, `merge`, `finish`, drop), whichever WIT version the component
//! was built against (a 0.1.0 transform reads every column).

use super::Description;
use super::bindings::{v1, v2};
use super::instance::{CallError, Instance};
use crate::ipc;
use arrow_schema::{Schema, SchemaRef};
use std::sync::Arc;
use wasmtime::component::ResourceAny;

/// The bindings of an instantiated transform, by WIT version.
pub enum TransformBindings {
    V1(v1::transform::TransformPlugin),
    V2(v2::transform::TransformPlugin),
}

pub type TransformInstance = Instance<TransformBindings>;

/// The role of an opened transformer (the same in every WIT version).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransformMode {
    Single,
    Partial,
    Final,
}

impl From<TransformMode> for v1::transform::exports::runtime::plugin::transform::Mode {
    fn from(m: TransformMode) -> Self {
        match m {
            TransformMode::Single => Self::Single,
            TransformMode::Partial => Self::Partial,
            TransformMode::Final => Self::Final,
        }
    }
}

impl From<TransformMode> for v2::transform::exports::runtime::plugin::transform::Mode {
    fn from(m: TransformMode) -> Self {
        match m {
            TransformMode::Single => Self::Single,
            TransformMode::Partial => Self::Partial,
            TransformMode::Final => Self::Final,
        }
    }
}

/// Calls the same function of whichever version's `transform` interface
/// the instance exports (the generated signatures are identical; errors
/// become [`CallError`]s). `$w` names the version's bindings module, for
/// the types a call needs.
macro_rules! on_transform {
    ($bindings:expr, |$t:ident, $w:ident| $call:expr) => {
        match $bindings {
            TransformBindings::V1(b) => {
                #[allow(unused_imports)]
                use v1::transform as $w;
                let $t = b.runtime_plugin_transform();
                $call.map(|r| r.map_err(CallError::from))
            }
            TransformBindings::V2(b) => {
                #[allow(unused_imports)]
                use v2::transform as $w;
                let $t = b.runtime_plugin_transform();
                $call.map(|r| r.map_err(CallError::from))
            }
        }
    };
}

/// An open transformer inside an instance.
#[derive(Debug, Clone, Copy)]
pub struct Transformer(ResourceAny);

impl TransformInstance {
    pub fn describe(&mut self) -> Result<Description, CallError> {
        self.call(|store, b| match b {
            TransformBindings::V1(b) => {
                b.runtime_plugin_transform().call_describe(store).map(|i| Ok::<_, CallError>(i.into()))
            }
            TransformBindings::V2(b) => {
                b.runtime_plugin_transform().call_describe(store).map(|i| Ok(i.into()))
            }
        })
    }

    /// Hands over the options and side tables (IPC buffers, by name).
    pub fn init(&mut self, options: &str, side_tables: &[(String, Vec<Vec<u8>>)]) -> Result<(), CallError> {
        self.store.data_mut().begin(None, None);
        let r = self.call(|store, b| {
            on_transform!(b, |t, w| {
                let tables: Vec<w::runtime::plugin::types::SideTable> = side_tables
                    .iter()
                    .map(|(name, batches)| w::runtime::plugin::types::SideTable {
                        name: name.clone(),
                        batches: batches.clone(),
                    })
                    .collect();
                t.call_init(store, options, &tables)
            })
        });
        self.store.data_mut().end();
        r
    }

    pub fn output_schema(&mut self, input: &Schema) -> Result<SchemaRef, CallError> {
        let bytes = ipc::encode_schema(input).map_err(|e| CallError::Trap(e.to_string()))?;
        self.store.data_mut().begin(None, None);
        let out = self.call(|store, b| on_transform!(b, |t, _w| t.call_output_schema(store, &bytes)));
        self.store.data_mut().end();
        ipc::decode_schema(out?)
            .map(ipc::limit_metadata)
            .map_err(|e| CallError::Trap(format!("output schema: {e}")))
    }

    /// The input columns the transform reads (`None`: all of them; always
    /// for a 0.1.0 transform).
    pub fn input_columns(&mut self, input: &Schema) -> Result<Option<Vec<String>>, CallError> {
        if matches!(self.bindings, TransformBindings::V1(_)) {
            return Ok(None);
        }
        let bytes = ipc::encode_schema(input).map_err(|e| CallError::Trap(e.to_string()))?;
        self.store.data_mut().begin(None, None);
        let out = self.call(|store, b| match b {
            TransformBindings::V1(_) => Ok(Ok(None)),
            TransformBindings::V2(b) => b
                .runtime_plugin_transform()
                .call_input_columns(store, &bytes)
                .map(|r| r.map_err(CallError::from)),
        });
        self.store.data_mut().end();
        out
    }

    /// Opens a transformer for one split (or, in final mode, for the run).
    /// The time budget of the split starts here.
    pub fn open(
        &mut self,
        split: &str,
        input_schema: &Vec<u8>,
        mode: TransformMode,
    ) -> Result<Transformer, CallError> {
        self.refuel();
        self.store.data_mut().begin(Some(Arc::from(split)), None);
        self.call(|store, b| on_transform!(b, |t, _w| t.call_open(store, input_schema, mode.into())))
            .map(Transformer)
    }

    pub fn process(&mut self, t: Transformer, batch: &Vec<u8>) -> Result<Vec<Vec<u8>>, CallError> {
        self.call(|store, b| on_transform!(b, |i, _w| i.transformer().call_process(store, t.0, batch)))
    }

    pub fn merge(&mut self, t: Transformer, state: &Vec<u8>) -> Result<(), CallError> {
        self.call(|store, b| on_transform!(b, |i, _w| i.transformer().call_merge(store, t.0, state)))
    }

    pub fn finish(&mut self, t: Transformer) -> Result<Vec<Vec<u8>>, CallError> {
        self.call(|store, b| on_transform!(b, |i, _w| i.transformer().call_finish(store, t.0)))
    }

    /// Drops the transformer (its state is freed) and ends the split.
    pub fn close(&mut self, t: Transformer) {
        if !self.poisoned
            && let Err(e) = t.0.resource_drop(&mut self.store)
        {
            tracing::debug!("dropping transformer: {e}");
            self.poisoned = true;
        }
        self.store.data_mut().end();
    }
}
