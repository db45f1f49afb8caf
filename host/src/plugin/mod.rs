//! Plugins: finding, compiling, describing and instantiating WebAssembly
//! components, and the host side of the WIT contract.
//!
//! One module per WIT interface the host implements ([`log`], [`io`]); one
//! per world it calls ([`reader`], [`transform`]), over the bindings of
//! every WIT version (private to `bindings`, converted in `convert`);
//! [`instance`] holds the call discipline shared by both; the sandbox is
//! [`wasi`] (the WASI context and grants), [`limits`] (memory, time),
//! [`blocking`] (time-bounded WASI I/O) and [`output`] (captured stdout and
//! stderr); [`state`] is the store data; [`engine`] and [`cache`] the
//! compilation side.
//!
//! A [`Runtime`] compiles each component once per run (or loads it from the
//! on-disk cache), pre-links it against the host's imports into an
//! `InstancePre`, and instantiates it cheaply for every worker.

mod bindings;
pub mod blocking;
pub mod cache;
mod convert;
pub mod engine;
pub mod instance;
pub mod io;
pub mod limits;
pub mod log;
pub mod output;
pub mod reader;
pub mod state;
pub mod transform;
pub mod wasi;

use crate::catalog;
use crate::config::{PluginRef, StageCommon};
use bindings::{v1, v2};
use engine::{EngineSettings, Ticker};
use instance::{CallError, Instance, new_store};
use state::HostState;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wasmtime::component::{HasSelf, Linker};

pub use reader::{ReaderBindings, ReaderInstance};
pub use transform::{TransformBindings, TransformInstance};

/// The WIT package version this host implements (and plugins are built
/// against by the SDK).
pub const WIT_PACKAGE: &str = "runtime:plugin@0.2.0";
/// Every WIT package version this host runs plugins of.
pub const WIT_PACKAGES: &[&str] = &["runtime:plugin@0.1.0", "runtime:plugin@0.2.0"];

/// Whether a plugin reads or transforms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Reader,
    Transform,
}

impl Kind {
    /// `reader` or `transform`, as users write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Reader => "reader",
            Kind::Transform => "transform",
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a plugin says about itself, in host types.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Description {
    pub name: String,
    pub version: String,
    pub kind: Kind,
    pub description: String,
    pub options: Vec<OptionDoc>,
    pub outputs: Vec<String>,
    pub planning: Planning,
    pub mergeable: bool,
    pub capabilities: Vec<CapabilityDoc>,
    /// The WIT package the component was built against.
    pub wit_package: String,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct OptionDoc {
    pub name: String,
    #[serde(rename = "type")]
    pub type_name: String,
    pub default: Option<String>,
    pub required: bool,
    pub description: String,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct CapabilityDoc {
    pub kind: String,
    pub reason: String,
}

/// How a reader's inputs become splits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case", tag = "mode", content = "delimiter")]
pub enum Planning {
    WholeFile,
    Delimited(u8),
    Plugin,
}

/// A compiled, pre-linked component.
pub enum Pre {
    ReaderV1(v1::reader::ReaderPluginPre<HostState>),
    ReaderV2(v2::reader::ReaderPluginPre<HostState>),
    TransformV1(v1::transform::TransformPluginPre<HostState>),
    TransformV2(v2::transform::TransformPluginPre<HostState>),
}

/// A plugin ready to instantiate.
pub struct LoadedPlugin {
    pub reference: PluginRef,
    pub description: Description,
    pub pre: Pre,
    /// Time to compile (or load from the cache).
    pub load_time: Duration,
    pub from_cache: bool,
    pub size: usize,
    /// SHA-256 of the component's bytes, in hex.
    pub digest: String,
}

impl LoadedPlugin {
    /// Whether the component was built against WIT 0.1.0 (no discovery,
    /// projection or passing columns through).
    pub fn is_wit_v1(&self) -> bool {
        matches!(self.pre, Pre::ReaderV1(_) | Pre::TransformV1(_))
    }
}

/// Compiles and instantiates plugins for one run.
pub struct Runtime {
    pub engine: wasmtime::Engine,
    reader_linker: Linker<HostState>,
    transform_linker: Linker<HostState>,
    cache_dir: Option<PathBuf>,
    plugins: Mutex<HashMap<String, Arc<LoadedPlugin>>>,
    /// The engine's WebAssembly stack limit (the largest of any stage).
    wasm_stack: u64,
    /// Whether the engine meters fuel (some stage has a fuel limit).
    metered: bool,
    _ticker: Ticker,
}

/// Why a plugin could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read plugin {}: {source}", .path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("no plugin named `{name}` (bundled: {})", .bundled.join(", "))]
    NotFound { name: String, bundled: Vec<&'static str> },
    #[error("`{reference}` is not a valid WebAssembly component: {reason}")]
    NotAComponent { reference: PluginRef, reason: String },
    #[error(
        "`{reference}` cannot be linked: {reason}. Plugins may import only {} and WASI 0.2 interfaces",
        WIT_PACKAGES.join(" or ")
    )]
    Link { reference: PluginRef, reason: String },
    #[error(
        "`{reference}` exports neither runtime:plugin/reader nor runtime:plugin/transform (it exports: {exports}); \
         build it with the runtime-plugin-sdk crate"
    )]
    NotAPlugin { reference: PluginRef, exports: String },
    #[error(
        "`{reference}` was built against runtime:plugin@{version}, which this runtime does not know (it runs {}); \
         rebuild the plugin with this runtime's SDK or upgrade the runtime",
        WIT_PACKAGES.join(", ")
    )]
    UnknownVersion { reference: PluginRef, version: String },
    #[error("`{reference}`: describe failed: {error}")]
    Describe { reference: PluginRef, error: CallError },
}

/// The bytes of a referenced plugin.
pub fn plugin_bytes(r: &PluginRef) -> Result<Vec<u8>, LoadError> {
    let read = |path: &std::path::Path| {
        std::fs::read(path).map_err(|source| LoadError::Read { path: path.to_path_buf(), source })
    };
    match r {
        PluginRef::File(p) => read(p),
        PluginRef::Named(n) => {
            if let Some(b) = catalog::bundled(n) {
                return Ok(b.to_vec());
            }
            match catalog::search_path(n) {
                Some(p) => read(&p),
                None => Err(LoadError::NotFound { name: n.clone(), bundled: catalog::bundled_names() }),
            }
        }
    }
}

impl Runtime {
    pub fn new(settings: &EngineSettings) -> anyhow::Result<Self> {
        let engine = engine::build(settings).map_err(|e| anyhow::anyhow!("{e}"))?;
        // One linker per kind, holding the imports of every WIT version.
        let err = |e: wasmtime::Error| anyhow::anyhow!("{e}");
        let mut reader_linker = Linker::new(&engine);
        blocking::add_to_linker(&mut reader_linker).map_err(err)?;
        v1::reader::ReaderPlugin::add_to_linker::<HostState, HasSelf<HostState>>(&mut reader_linker, |s| s)
            .map_err(err)?;
        v2::reader::ReaderPlugin::add_to_linker::<HostState, HasSelf<HostState>>(&mut reader_linker, |s| s)
            .map_err(err)?;
        let mut transform_linker = Linker::new(&engine);
        blocking::add_to_linker(&mut transform_linker).map_err(err)?;
        v1::transform::TransformPlugin::add_to_linker::<HostState, HasSelf<HostState>>(
            &mut transform_linker,
            |s| s,
        )
        .map_err(err)?;
        v2::transform::TransformPlugin::add_to_linker::<HostState, HasSelf<HostState>>(
            &mut transform_linker,
            |s| s,
        )
        .map_err(err)?;
        let ticker = Ticker::start(&engine);
        Ok(Runtime {
            engine,
            reader_linker,
            transform_linker,
            cache_dir: cache::default_dir(),
            plugins: Mutex::new(HashMap::new()),
            wasm_stack: settings.max_stack,
            metered: settings.fuel,
            _ticker: ticker,
        })
    }

    /// Compiles (or loads from cache), links and describes a plugin; each
    /// plugin is loaded once per run.
    pub fn load(&self, r: &PluginRef) -> Result<Arc<LoadedPlugin>, LoadError> {
        let key = r.to_string();
        if let Some(p) = self.plugins.lock().unwrap().get(&key) {
            return Ok(p.clone());
        }
        let bytes = plugin_bytes(r)?;
        let loaded = Arc::new(self.load_bytes(r.clone(), &bytes)?);
        self.plugins.lock().unwrap().insert(key, loaded.clone());
        Ok(loaded)
    }

    /// Compiles, links and describes a component from its bytes.
    pub fn load_bytes(&self, reference: PluginRef, bytes: &[u8]) -> Result<LoadedPlugin, LoadError> {
        let started = Instant::now();
        let digest = cache::digest(bytes);
        let (component, from_cache) =
            cache::load(&self.engine, self.cache_dir.as_deref(), bytes, &digest).map_err(|e| {
                LoadError::NotAComponent { reference: reference.clone(), reason: format!("{e:#}") }
            })?;
        let exports: Vec<String> =
            component.component_type().exports(&self.engine).map(|(name, _)| name.to_string()).collect();
        let find = |iface: &str| exports.iter().find(|e| e.starts_with(&format!("runtime:plugin/{iface}@")));
        let link =
            |e: wasmtime::Error| LoadError::Link { reference: reference.clone(), reason: format!("{e:#}") };
        let (pre, package) = if let Some(e) = find("reader") {
            let pre = self.reader_linker.instantiate_pre(&component).map_err(link)?;
            let pre = match version_of(e) {
                "0.1.0" => Pre::ReaderV1(v1::reader::ReaderPluginPre::new(pre).map_err(link)?),
                "0.2.0" => Pre::ReaderV2(v2::reader::ReaderPluginPre::new(pre).map_err(link)?),
                other => {
                    return Err(LoadError::UnknownVersion { reference, version: other.to_string() });
                }
            };
            (pre, e.clone())
        } else if let Some(e) = find("transform") {
            let pre = self.transform_linker.instantiate_pre(&component).map_err(link)?;
            let pre = match version_of(e) {
                "0.1.0" => Pre::TransformV1(v1::transform::TransformPluginPre::new(pre).map_err(link)?),
                "0.2.0" => Pre::TransformV2(v2::transform::TransformPluginPre::new(pre).map_err(link)?),
                other => {
                    return Err(LoadError::UnknownVersion { reference, version: other.to_string() });
                }
            };
            (pre, e.clone())
        } else {
            let exports = if exports.is_empty() { "nothing".to_string() } else { exports.join(", ") };
            return Err(LoadError::NotAPlugin { reference, exports });
        };
        let wit_package = package.split_once('/').map_or(package.clone(), |(ns, rest)| {
            format!("{ns}{}", rest.find('@').map_or(String::new(), |i| rest[i..].to_string()))
        });
        let load_time = started.elapsed();
        let stage = describe_stage();
        let info = match &pre {
            Pre::ReaderV1(_) | Pre::ReaderV2(_) => {
                self.reader_for(&pre, &stage).expect("a reader").and_then(|mut i| i.describe())
            }
            Pre::TransformV1(_) | Pre::TransformV2(_) => {
                self.transform_for(&pre, &stage).expect("a transform").and_then(|mut i| i.describe())
            }
        }
        .map_err(|error| LoadError::Describe { reference: reference.clone(), error })?;
        let description = Description { wit_package, ..info };
        Ok(LoadedPlugin { reference, description, pre, load_time, from_cache, size: bytes.len(), digest })
    }

    /// Native stack for a thread that calls plugins: a reader's WebAssembly
    /// stack, a transform's nested inside its `emit`, the host's frames
    /// around and between them. A call without that much room left is
    /// refused with a precise reason instead of overflowing the thread.
    pub fn thread_stack_size(&self) -> usize {
        2 * (self.wasm_stack as usize + instance::HOST_STACK_MARGIN) + (1 << 20)
    }

    /// A new store for `stage` with a fresh instance of a component in it.
    fn instantiate<B>(
        &self,
        stage: &StageCommon,
        make: impl FnOnce(&mut wasmtime::Store<HostState>) -> wasmtime::Result<B>,
    ) -> Result<Instance<B>, CallError> {
        let mut store = new_store(&self.engine, stage, self.metered);
        store.data_mut().wasm_stack = self.wasm_stack;
        let bindings = timed_instantiation(&mut store, make)?;
        Ok(Instance { store, bindings, poisoned: false })
    }

    /// A fresh reader instance for `stage`.
    pub fn reader(&self, plugin: &LoadedPlugin, stage: &StageCommon) -> Result<ReaderInstance, CallError> {
        self.reader_for(&plugin.pre, stage).unwrap_or_else(|| {
            Err(CallError::Trap(format!("`{}` is a transform, not a reader", plugin.reference)))
        })
    }

    /// A fresh transform instance for `stage`.
    pub fn transform(
        &self,
        plugin: &LoadedPlugin,
        stage: &StageCommon,
    ) -> Result<TransformInstance, CallError> {
        self.transform_for(&plugin.pre, stage).unwrap_or_else(|| {
            Err(CallError::Trap(format!("`{}` is a reader, not a transform", plugin.reference)))
        })
    }

    /// A reader instance of a pre-linked component; `None` when the
    /// component is a transform.
    fn reader_for(&self, pre: &Pre, stage: &StageCommon) -> Option<Result<ReaderInstance, CallError>> {
        Some(match pre {
            Pre::ReaderV1(p) => self.instantiate(stage, |s| p.instantiate(s).map(ReaderBindings::V1)),
            Pre::ReaderV2(p) => self.instantiate(stage, |s| p.instantiate(s).map(ReaderBindings::V2)),
            Pre::TransformV1(_) | Pre::TransformV2(_) => return None,
        })
    }

    /// A transform instance of a pre-linked component; `None` when the
    /// component is a reader.
    fn transform_for(&self, pre: &Pre, stage: &StageCommon) -> Option<Result<TransformInstance, CallError>> {
        Some(match pre {
            Pre::TransformV1(p) => self.instantiate(stage, |s| p.instantiate(s).map(TransformBindings::V1)),
            Pre::TransformV2(p) => self.instantiate(stage, |s| p.instantiate(s).map(TransformBindings::V2)),
            Pre::ReaderV1(_) | Pre::ReaderV2(_) => return None,
        })
    }
}

/// The version of an export name such as `runtime:plugin/reader@0.2.0`.
fn version_of(export: &str) -> &str {
    export.rsplit_once('@').map_or("", |(_, v)| v)
}

/// The stage used to run `describe` (default limits, no grants).
fn describe_stage() -> StageCommon {
    StageCommon {
        id: "describe".into(),
        plugin: PluginRef::Named(String::new()),
        plugin_at: None,
        options: "{}".into(),
        options_at: None,
        limits: crate::config::Limits { time: Duration::from_secs(10), ..Default::default() },
        grants: Default::default(),
    }
}

/// Instantiates within the stage's time limit (a component's start
/// functions run here), with the same trap reasons as any call.
fn timed_instantiation<B>(
    store: &mut wasmtime::Store<HostState>,
    f: impl FnOnce(&mut wasmtime::Store<HostState>) -> wasmtime::Result<B>,
) -> Result<B, CallError> {
    let remaining = store.data().clock.remaining();
    store.set_epoch_deadline((remaining.as_nanos() / instance::TICK.as_nanos()).max(1) as u64);
    store.data_mut().clock.enter();
    let result = f(store);
    store.data_mut().clock.exit();
    let bindings = result.map_err(|e| {
        CallError::Trap(format!("instantiation failed: {}", instance::describe_trap(&e, store.data())))
    })?;
    store.data_mut().clock.reset();
    Ok(bindings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_without_room_for_the_wasm_stack_is_refused() {
        // 32 MiB of WebAssembly stack: more than any thread the C library
        // may hand out (it reuses cached stacks larger than asked for).
        let settings = EngineSettings { max_stack: 32 << 20, ..EngineSettings::default() };
        let mut runtime = Runtime::new(&settings).unwrap();
        runtime.cache_dir = None;
        let big = runtime.thread_stack_size();
        let ndjson = std::thread::scope(|s| {
            std::thread::Builder::new()
                .stack_size(big)
                .spawn_scoped(s, || runtime.load(&PluginRef::Named("ndjson".into())).unwrap())
                .unwrap()
                .join()
                .unwrap()
        });
        let stage = describe_stage();
        let describe_on = |stack: usize| {
            std::thread::scope(|s| {
                std::thread::Builder::new()
                    .stack_size(stack)
                    .spawn_scoped(s, || runtime.reader(&ndjson, &stage).and_then(|mut r| r.describe()))
                    .unwrap()
                    .join()
                    .unwrap()
            })
        };
        // 32 MiB of WebAssembly stack and 256 KiB for the host do not fit
        // in a 2 MiB thread: refused before entering the plugin.
        match describe_on(2 << 20) {
            Err(CallError::Trap(m)) => {
                assert!(m.starts_with("not enough native stack to call the plugin: "), "{m}")
            }
            other => panic!("{:?}", other.map(|i| i.name)),
        }
        assert_eq!(describe_on(big).unwrap().name, "ndjson");
    }
}
