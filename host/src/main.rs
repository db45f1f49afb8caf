//! `runtime`: run data pipelines whose parsers and transforms are sandboxed
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

fn main() {
    std::process::exit(runtime_host::cli::main());
}
