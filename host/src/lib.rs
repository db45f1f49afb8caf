//! The `runtime` host as a library: run data pipelines whose parsers and transforms are sandboxed
//! WebAssembly components.
//!
//! ```text
//! runtime run pipeline.toml [--workers N] [--report run.json]
//! runtime validate pipeline.toml
//! runtime plan pipeline.toml [--json]
//! runtime plugins list | inspect PLUGIN
//! ```
//!
//! The host plans the work into splits, schedules them on a work-stealing
//! pool, runs every plugin in its own wasmtime sandbox, and writes outputs
//! from a single writer thread. See README.md for the pipeline.toml
//! reference and `--help` on every command for examples.
//!
//! The binary (`src/main.rs`) is a thin wrapper around [`cli::main`]; the
//! library exists so benchmarks and tests can reach the internals.

pub mod catalog;
pub mod cli;
pub mod config;
pub mod exec;
pub mod ipc;
pub mod plan;
pub mod plugin;
pub mod prepare;
pub mod progress;
pub mod report;
pub mod sink;
pub mod units;
