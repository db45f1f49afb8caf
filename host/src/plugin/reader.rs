//! Calls into a reader instance: `describe`, `init`, `output-schemas`,
//! `plan` and `read`, with host types on both sides.

use super::bindings::reader::ReaderPlugin;
use super::bindings::types::{self as wit, PluginInfo};
use super::instance::{CallError, Instance};
use super::io::InputHandle;
use super::state::{CallContext, Emit};
use crate::ipc;
use arrow_schema::SchemaRef;
use std::sync::Arc;

pub type ReaderInstance = Instance<ReaderPlugin>;

/// An input file as plugins see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputFile {
    /// As shown to the plugin and in reports.
    pub path: String,
    pub size: u64,
}

/// A split, as the host schedules it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    pub id: String,
    pub input: Option<u32>,
    pub offset: u64,
    pub length: u64,
    pub payload: String,
    pub size_hint: u64,
}

/// What `read` produced.
pub struct ReadResult {
    /// `Ok(None)`: complete; `Ok(Some(reason))`: partial.
    pub outcome: Result<Option<String>, CallError>,
    /// Counters, rejects and logs of the call.
    pub call: CallContext,
    /// The emitter handed in, returned.
    pub emitter: Option<Box<dyn Emit>>,
}

impl ReaderInstance {
    pub fn describe(&mut self) -> Result<PluginInfo, CallError> {
        self.call(|store, b| b.runtime_plugin_reader().call_describe(store).map(Ok))
    }

    pub fn init(&mut self, options: &str) -> Result<(), CallError> {
        self.store.data_mut().begin(None, None);
        let r = self.call(|store, b| b.runtime_plugin_reader().call_init(store, options));
        self.store.data_mut().end();
        r
    }

    pub fn output_schemas(&mut self) -> Result<Vec<(String, SchemaRef)>, CallError> {
        self.store.data_mut().begin(None, None);
        let raw = self.call(|store, b| b.runtime_plugin_reader().call_output_schemas(store));
        self.store.data_mut().end();
        raw?.into_iter()
            .map(|s| {
                ipc::decode_schema(s.schema)
                    .map(|schema| (s.name.clone(), schema))
                    .map_err(|e| CallError::Trap(format!("output `{}`: {e}", s.name)))
            })
            .collect()
    }

    pub fn plan(&mut self, files: &[InputFile], inputs: Vec<InputHandle>) -> Result<Vec<Split>, CallError> {
        self.store.data_mut().begin(Some(Arc::from("plan")), None);
        let wit_files: Vec<wit::InputFile> =
            files.iter().map(|f| wit::InputFile { path: f.path.clone(), size: f.size }).collect();
        let mut handles = Vec::with_capacity(inputs.len());
        for input in inputs {
            let r = self.store.data_mut().table().push(input).map_err(|e| CallError::Trap(e.to_string()))?;
            handles.push(r);
        }
        let splits = self.call(|store, b| b.runtime_plugin_reader().call_plan(store, &wit_files, &handles));
        self.store.data_mut().end();
        Ok(splits?.into_iter().map(Split::from).collect())
    }

    /// Reads one split, sending batches to `emitter`.
    pub fn read(
        &mut self,
        split: &Split,
        file: Option<&InputFile>,
        input: Option<InputHandle>,
        emitter: Box<dyn Emit>,
    ) -> ReadResult {
        self.refuel();
        self.store.data_mut().begin(Some(Arc::from(split.id.as_str())), Some(emitter));
        let handle = match input {
            Some(i) => match self.store.data_mut().table().push(i) {
                Ok(h) => Some(h),
                Err(e) => {
                    let mut call = self.store.data_mut().end();
                    let emitter = call.emitter.take();
                    return ReadResult { outcome: Err(CallError::Trap(e.to_string())), call, emitter };
                }
            },
            None => None,
        };
        let wit_split = wit::Split::from(split.clone());
        let wit_file = file.map(|f| wit::InputFile { path: f.path.clone(), size: f.size });
        let outcome = self
            .call(|store, b| {
                b.runtime_plugin_reader().call_read(store, &wit_split, wit_file.as_ref(), handle)
            })
            .map(|o| o.partial);
        let mut call = self.store.data_mut().end();
        let emitter = call.emitter.take();
        // A plugin that swallowed a downstream failure still fails the split.
        let outcome = match (outcome, &call.failure) {
            (Ok(_), Some(reason)) => Err(CallError::Plugin {
                kind: wit::ErrorKind::Internal,
                message: reason.clone(),
                retryable: false,
            }),
            (o, _) => o,
        };
        ReadResult { outcome, call, emitter }
    }
}

impl From<wit::Split> for Split {
    fn from(s: wit::Split) -> Self {
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

impl From<Split> for wit::Split {
    fn from(s: Split) -> Self {
        wit::Split {
            id: s.id,
            input: s.input,
            offset: s.offset,
            length: s.length,
            payload: s.payload,
            size_hint: s.size_hint,
        }
    }
}
