//! Calls into a reader instance: `describe`, `init`, `discover`,
//! `configure`, `plan` and `read`, with host types on both sides, whichever
//! WIT version the component was built against.
//!
//! A 0.1.0 reader has no `discover` or `configure`: its schemas come from
//! `output-schemas` (called after `plan` for readers that plan, which learn
//! their schema while planning), and it always emits every column, so the
//! host projects its batches itself.

use super::Description;
use super::bindings::{v1, v2};
use super::instance::{CallError, ErrorKind, Instance};
use super::io::InputHandle;
use super::state::{CallContext, Emit};
use crate::ipc;
use arrow_schema::SchemaRef;
use std::sync::Arc;

/// The bindings of an instantiated reader, by WIT version.
pub enum ReaderBindings {
    V1(v1::reader::ReaderPlugin),
    V2(v2::reader::ReaderPlugin),
}

pub type ReaderInstance = Instance<ReaderBindings>;

/// How planning is sized (WIT 0.2.0 `plan-hints`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hints {
    pub max_split_bytes: u64,
    pub workers: u32,
}

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
    /// Whether the component was built against WIT 0.1.0 (no `discover`,
    /// no `configure`, no projection).
    pub fn is_v1(&self) -> bool {
        matches!(self.bindings, ReaderBindings::V1(_))
    }

    pub fn describe(&mut self) -> Result<Description, CallError> {
        self.call(|store, b| match b {
            ReaderBindings::V1(b) => {
                b.runtime_plugin_reader().call_describe(store).map(|i| Ok::<_, CallError>(i.into()))
            }
            ReaderBindings::V2(b) => b.runtime_plugin_reader().call_describe(store).map(|i| Ok(i.into())),
        })
    }

    pub fn init(&mut self, options: &str) -> Result<(), CallError> {
        self.store.data_mut().begin(None, None);
        let r = self.call(|store, b| match b {
            ReaderBindings::V1(b) => {
                b.runtime_plugin_reader().call_init(store, options).map(|r| r.map_err(CallError::from))
            }
            ReaderBindings::V2(b) => {
                b.runtime_plugin_reader().call_init(store, options).map(|r| r.map_err(CallError::from))
            }
        });
        self.store.data_mut().end();
        r
    }

    /// The schema of every output, which may depend on the inputs (0.2.0
    /// `discover`; 0.1.0 `output-schemas`, which ignores them).
    pub fn discover(
        &mut self,
        files: &[InputFile],
        inputs: Vec<InputHandle>,
    ) -> Result<Vec<(String, SchemaRef)>, CallError> {
        self.store.data_mut().begin(Some(Arc::from("discover")), None);
        // A 0.1.0 reader's schemas cannot depend on its inputs.
        let inputs = if self.is_v1() { Vec::new() } else { inputs };
        let raw = self.push_inputs(inputs).and_then(|handles| {
            self.call(|store, b| match b {
                ReaderBindings::V1(b) => b
                    .runtime_plugin_reader()
                    .call_output_schemas(store)
                    .map(|r| r.map(named_v1).map_err(CallError::from)),
                ReaderBindings::V2(b) => {
                    let files: Vec<v2::reader::runtime::plugin::types::InputFile> =
                        files.iter().map(Into::into).collect();
                    b.runtime_plugin_reader()
                        .call_discover(store, &files, &handles)
                        .map(|r| r.map(named_v2).map_err(CallError::from))
                }
            })
        });
        self.store.data_mut().end();
        raw?.into_iter()
            .map(|(name, schema)| {
                ipc::decode_schema(schema)
                    .map(|schema| (name.clone(), ipc::limit_metadata(schema)))
                    .map_err(|e| CallError::Trap(format!("output `{name}`: {e}")))
            })
            .collect()
    }

    /// Tells the instance the exact schema to emit on each output (0.2.0;
    /// a 0.1.0 reader emits its full schemas and the host projects them).
    pub fn configure(&mut self, outputs: &[(String, SchemaRef)]) -> Result<(), CallError> {
        if self.is_v1() {
            return Ok(());
        }
        let mut named = Vec::with_capacity(outputs.len());
        for (name, schema) in outputs {
            let bytes = ipc::encode_schema(schema).map_err(|e| CallError::Trap(e.to_string()))?;
            named.push(v2::reader::runtime::plugin::types::NamedSchema { name: name.clone(), schema: bytes });
        }
        self.store.data_mut().begin(None, None);
        let r = self.call(|store, b| match b {
            ReaderBindings::V1(_) => Ok(Ok(())),
            ReaderBindings::V2(b) => {
                b.runtime_plugin_reader().call_configure(store, &named).map(|r| r.map_err(CallError::from))
            }
        });
        self.store.data_mut().end();
        r
    }

    pub fn plan(
        &mut self,
        files: &[InputFile],
        inputs: Vec<InputHandle>,
        hints: Hints,
    ) -> Result<Vec<Split>, CallError> {
        self.store.data_mut().begin(Some(Arc::from("plan")), None);
        let splits = self.push_inputs(inputs).and_then(|handles| {
            self.call(|store, b| match b {
                ReaderBindings::V1(b) => {
                    let files: Vec<v1::reader::runtime::plugin::types::InputFile> =
                        files.iter().map(Into::into).collect();
                    b.runtime_plugin_reader().call_plan(store, &files, &handles).map(|r| {
                        r.map(|s| s.into_iter().map(Split::from).collect::<Vec<_>>()).map_err(CallError::from)
                    })
                }
                ReaderBindings::V2(b) => {
                    let files: Vec<v2::reader::runtime::plugin::types::InputFile> =
                        files.iter().map(Into::into).collect();
                    let hints = v2::reader::runtime::plugin::types::PlanHints {
                        max_split_bytes: hints.max_split_bytes,
                        workers: hints.workers,
                    };
                    b.runtime_plugin_reader().call_plan(store, &files, &handles, hints).map(|r| {
                        r.map(|s| s.into_iter().map(Split::from).collect::<Vec<_>>()).map_err(CallError::from)
                    })
                }
            })
        });
        self.store.data_mut().end();
        splits
    }

    /// Puts views of whole input files into the instance's table, raising
    /// its resource cap by their number.
    fn push_inputs(
        &mut self,
        inputs: Vec<InputHandle>,
    ) -> Result<Vec<wasmtime::component::Resource<InputHandle>>, CallError> {
        // Views of every input file (hundreds of thousands from a list
        // file) are handles the host creates, so both caps grow with them:
        // the host's resource table and the store's component handles.
        self.store.set_max_component_handles(super::instance::MAX_COMPONENT_HANDLES + inputs.len());
        let table = self.store.data_mut().table();
        table.set_max_capacity(super::instance::MAX_RESOURCES + inputs.len());
        let mut handles = Vec::with_capacity(inputs.len());
        for input in inputs {
            handles.push(table.push(input).map_err(|e| CallError::Trap(e.to_string()))?);
        }
        Ok(handles)
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
        let outcome = self.call(|store, b| match b {
            ReaderBindings::V1(b) => {
                let (split, file) = (split.into(), file.map(Into::into));
                b.runtime_plugin_reader()
                    .call_read(store, &split, file.as_ref(), handle)
                    .map(|r| r.map(|o| o.partial).map_err(CallError::from))
            }
            ReaderBindings::V2(b) => {
                let (split, file) = (split.into(), file.map(Into::into));
                b.runtime_plugin_reader()
                    .call_read(store, &split, file.as_ref(), handle)
                    .map(|r| r.map(|o| o.partial).map_err(CallError::from))
            }
        });
        // The reason of a partial split is the plugin's text.
        let outcome =
            outcome.map(|p| p.map(|reason| crate::text::untrusted(&reason, crate::text::MAX_MESSAGE)));
        let mut call = self.store.data_mut().end();
        let emitter = call.emitter.take();
        // A plugin that swallowed a downstream failure still fails the split.
        let outcome = match (outcome, &call.failure) {
            (Ok(_), Some(reason)) => Err(CallError::Plugin {
                kind: ErrorKind::Internal,
                message: reason.clone(),
                retryable: false,
            }),
            (o, _) => o,
        };
        ReadResult { outcome, call, emitter }
    }
}

fn named_v1(list: Vec<v1::reader::runtime::plugin::types::NamedSchema>) -> Vec<(String, Vec<u8>)> {
    list.into_iter().map(|n| (crate::text::untrusted(&n.name, crate::text::MAX_NAME), n.schema)).collect()
}

fn named_v2(list: Vec<v2::reader::runtime::plugin::types::NamedSchema>) -> Vec<(String, Vec<u8>)> {
    list.into_iter().map(|n| (crate::text::untrusted(&n.name, crate::text::MAX_NAME), n.schema)).collect()
}
