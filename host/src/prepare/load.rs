//! Loading a pipeline for any command: read and validate the file
//! (`config::load`), start the engine with settings that fit every stage,
//! and prepare the stages (plugins loaded, options checked, schemas
//! connected, inputs expanded). `run`, `validate` and `plan` all go through
//! here, so `validate` refuses exactly what `run` would.

use crate::config::{self, ConfigErrors, Override, Pipeline};
use crate::plugin::Runtime;
use crate::plugin::engine::EngineSettings;
use crate::prepare::{self, Prepared};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Why a pipeline could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// Problems with the pipeline, each at its place in the file.
    #[error("{} problem(s) in {}", .errors.0.len(), .file.display())]
    Config { file: PathBuf, errors: ConfigErrors },
    /// The WebAssembly engine did not start (an internal error).
    #[error("cannot start the WebAssembly engine: {0}")]
    Engine(String),
}

/// A pipeline ready to plan or run.
pub struct Loaded {
    pub prepared: Arc<Prepared>,
    pub runtime: Arc<Runtime>,
}

/// Engine settings that fit every stage of the pipeline.
pub fn engine_settings(p: &Pipeline, workers: usize) -> EngineSettings {
    let commons = std::iter::once(&p.source.common)
        .chain(p.side_tables.iter().map(|s| &s.common))
        .chain(p.transforms.iter().map(|t| &t.common));
    let mut s = EngineSettings { max_memory: 0, max_stack: 0, fuel: false, instances: 0 };
    let mut stages = 0u32;
    for c in commons {
        s.max_memory = s.max_memory.max(c.limits.memory);
        s.max_stack = s.max_stack.max(c.limits.stack);
        s.fuel |= c.limits.fuel.is_some();
        stages += 1;
    }
    // Every worker and the final stage hold one instance per stage, plus
    // instances for planning, describing and replacing trapped ones.
    s.instances = (workers as u32 + 3) * stages * 2 + 16;
    s
}

/// Loads, validates and prepares a pipeline; `workers` overrides
/// `run.workers` for sizing the engine.
pub fn load(path: &Path, overrides: &[Override], workers: Option<usize>) -> Result<Loaded, LoadError> {
    let config_error = |errors| LoadError::Config { file: path.to_path_buf(), errors };
    let pipeline = config::load(path, overrides).map_err(config_error)?;
    let workers = workers.unwrap_or(pipeline.run.workers);
    let runtime = Runtime::new(&engine_settings(&pipeline, workers))
        .map(Arc::new)
        .map_err(|e| LoadError::Engine(format!("{e:#}")))?;
    let text = if overrides.is_empty() { std::fs::read_to_string(path).ok() } else { None };
    let prepared = prepare::prepare(pipeline, &runtime)
        .map_err(|e| config_error(config::diagnostics::wording::polish(e, path, text.as_deref())))?;
    Ok(Loaded { prepared: Arc::new(prepared), runtime })
}
