//! The data every plugin store carries: the sandboxed WASI context
//! ([`super::wasi`]), the resource table, the limits being enforced
//! ([`super::limits`]), the log budget ([`super::log`]), and the context
//! of the call in progress (which split, where emitted batches go, what was
//! rejected, what the plugin printed).

use super::limits::{Limiter, PluginClock};
use super::log::LogBudget;
use super::output::CapturedOutput;
use crate::config::{Grants, Limits};
use std::any::Any;
use std::collections::BTreeMap;
use std::sync::Arc;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

/// Where a reader's emitted batches go (the downstream stages of the split).
pub trait Emit: Send + Any {
    /// Takes one batch, already validated against the output's schema.
    /// `Err(Soft)` is returned to the plugin as a plugin error; `Err(Fatal)`
    /// stops the plugin with a trap.
    fn emit(&mut self, output: &str, ipc: Vec<u8>) -> Result<(), EmitError>;
    fn into_any(self: Box<Self>) -> Box<dyn Any>;
}

/// Why an emitted batch was not taken.
#[derive(Debug, Clone)]
pub enum EmitError {
    /// Downstream failed: the plugin should stop; the split fails.
    Soft(String),
    /// The plugin broke the contract (unknown output, bad IPC, wrong schema,
    /// too much output): stop it now.
    Fatal(String),
}

/// A skipped record reported by a reader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    pub location: String,
    pub reason: String,
}

/// Rejected records kept per split; the rest are only counted.
pub const MAX_REJECTS_KEPT: usize = 100;
/// Bytes of stdout and of stderr kept per call; the rest is counted.
pub const OUTPUT_CAP: usize = 64 << 10;

/// The context of the plugin call in progress.
#[derive(Default)]
pub struct CallContext {
    /// The split being read, for log lines.
    pub split: Option<Arc<str>>,
    pub emitter: Option<Box<dyn Emit>>,
    pub rejects: Vec<Reject>,
    pub rejected: u64,
    pub counters: BTreeMap<String, u64>,
    pub bytes_read: u64,
    pub bytes_emitted: u64,
    pub batches_emitted: u64,
    /// The host's own reason for stopping the plugin, when it did.
    pub failure: Option<String>,
    pub log_lines: usize,
    pub logs_dropped: usize,
    /// The last error-level line the plugin logged (a panic message, say).
    pub last_error: Option<String>,
}

/// The data of a plugin's store.
pub struct HostState {
    /// The stage this instance serves (`source`, `transforms.labels`).
    pub stage: Arc<str>,
    wasi: WasiCtx,
    table: ResourceTable,
    pub limiter: Limiter,
    pub clock: PluginClock,
    pub limits: Limits,
    pub call: CallContext,
    pub stdout: CapturedOutput,
    pub stderr: CapturedOutput,
    pub log_budget: LogBudget,
    /// The WebAssembly stack limit in force: the engine's, which is the
    /// largest `stack` of any stage (wasmtime sets it per engine).
    pub wasm_stack: u64,
    /// Whether the engine meters fuel.
    pub metered: bool,
}

impl HostState {
    /// A sandbox for one plugin instance of `stage`, with its grants.
    pub fn new(stage: &str, limits: &Limits, grants: &Grants) -> Self {
        let stdout = CapturedOutput::new(OUTPUT_CAP);
        let stderr = CapturedOutput::new(OUTPUT_CAP);
        HostState {
            stage: stage.into(),
            wasi: super::wasi::context(grants, &stdout, &stderr),
            table: ResourceTable::new(),
            limiter: Limiter { memory: limits.memory, hit: None },
            clock: PluginClock::new(limits.time),
            limits: limits.clone(),
            call: CallContext::default(),
            stdout,
            stderr,
            log_budget: LogBudget::default(),
            wasm_stack: limits.stack,
            metered: false,
        }
    }

    pub fn table(&mut self) -> &mut ResourceTable {
        &mut self.table
    }

    /// The view of the store that the time-bounded WASI functions use
    /// ([`super::blocking`]).
    pub fn bounded_io(&mut self) -> super::blocking::BoundedIo<'_> {
        super::blocking::BoundedIo {
            remaining: self.clock.remaining(),
            limit: self.clock.limit,
            table: &mut self.table,
            failure: &mut self.call.failure,
        }
    }

    /// Starts the context of a new call (split).
    pub fn begin(&mut self, split: Option<Arc<str>>, emitter: Option<Box<dyn Emit>>) {
        self.call = CallContext { split, emitter, ..CallContext::default() };
        self.clock.reset();
        self.limiter.hit = None;
    }

    /// Ends the call, returning its context.
    pub fn end(&mut self) -> CallContext {
        self.drain_output();
        if self.call.logs_dropped > 0 {
            let n = self.call.logs_dropped;
            let split = self.call.split.as_deref().unwrap_or("-");
            let stage = &*self.stage;
            tracing::warn!(target: "plugin", stage, split, "{n} more log lines dropped (rate limit)");
        }
        std::mem::take(&mut self.call)
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_resource_table_is_capped() {
        let engine = wasmtime::Engine::default();
        let stage = crate::config::StageCommon {
            id: "source".into(),
            plugin: crate::config::PluginRef::Named("x".into()),
            plugin_at: None,
            options: "{}".into(),
            options_at: None,
            limits: Limits::default(),
            grants: Grants::default(),
        };
        let mut store = super::super::instance::new_store(&engine, &stage, false);
        let table = store.data_mut().table();
        for _ in 0..super::super::instance::MAX_RESOURCES {
            table.push(0u8).unwrap();
        }
        assert!(table.push(0u8).is_err());
    }
}
