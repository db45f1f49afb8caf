//! Calls into a transform instance: `describe`, `init`, `output-schema`,
//! and the life of a `transformer` resource (`open`, `process`, `merge`,
//! `finish`, drop).

use super::bindings::transform::TransformPlugin;
use super::bindings::transform::exports::runtime::plugin::transform::Mode;
use super::bindings::types::{PluginInfo, SideTable};
use super::instance::{CallError, Instance};
use crate::ipc;
use arrow_schema::{Schema, SchemaRef};
use std::sync::Arc;
use wasmtime::component::ResourceAny;

pub type TransformInstance = Instance<TransformPlugin>;
pub use super::bindings::transform::exports::runtime::plugin::transform::Mode as TransformMode;

/// An open transformer inside an instance.
#[derive(Debug, Clone, Copy)]
pub struct Transformer(ResourceAny);

impl TransformInstance {
    pub fn describe(&mut self) -> Result<PluginInfo, CallError> {
        self.call(|store, b| b.runtime_plugin_transform().call_describe(store).map(Ok))
    }

    /// Hands over the options and side tables (IPC buffers, by name).
    pub fn init(&mut self, options: &str, side_tables: &[(String, Vec<Vec<u8>>)]) -> Result<(), CallError> {
        let tables: Vec<SideTable> = side_tables
            .iter()
            .map(|(name, batches)| SideTable { name: name.clone(), batches: batches.clone() })
            .collect();
        self.store.data_mut().begin(None, None);
        let r = self.call(|store, b| b.runtime_plugin_transform().call_init(store, options, &tables));
        self.store.data_mut().end();
        r
    }

    pub fn output_schema(&mut self, input: &Schema) -> Result<SchemaRef, CallError> {
        let bytes = ipc::encode_schema(input).map_err(|e| CallError::Trap(e.to_string()))?;
        self.store.data_mut().begin(None, None);
        let out = self.call(|store, b| b.runtime_plugin_transform().call_output_schema(store, &bytes));
        self.store.data_mut().end();
        ipc::decode_schema(out?).map_err(|e| CallError::Trap(format!("output schema: {e}")))
    }

    /// Opens a transformer for one split (or, in final mode, for the run).
    /// The time budget of the split starts here.
    pub fn open(
        &mut self,
        split: &str,
        input_schema: &Vec<u8>,
        mode: Mode,
    ) -> Result<Transformer, CallError> {
        self.refuel();
        self.store.data_mut().begin(Some(Arc::from(split)), None);
        self.call(|store, b| b.runtime_plugin_transform().call_open(store, input_schema, mode))
            .map(Transformer)
    }

    pub fn process(&mut self, t: Transformer, batch: &Vec<u8>) -> Result<Vec<Vec<u8>>, CallError> {
        self.call(|store, b| b.runtime_plugin_transform().transformer().call_process(store, t.0, batch))
    }

    pub fn merge(&mut self, t: Transformer, state: &Vec<u8>) -> Result<(), CallError> {
        self.call(|store, b| b.runtime_plugin_transform().transformer().call_merge(store, t.0, state))
    }

    pub fn finish(&mut self, t: Transformer) -> Result<Vec<Vec<u8>>, CallError> {
        self.call(|store, b| b.runtime_plugin_transform().transformer().call_finish(store, t.0))
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
