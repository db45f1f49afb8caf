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
    // Describing plugins, checking their options and planning call into
    // WebAssembly on this thread: give it room for the largest stack a
    // pipeline may configure (`limits.stack`, at most 64 MiB) and the host's
    // own frames. The memory is reserved, not committed.
    let code = std::thread::Builder::new()
        .name("main".into())
        .stack_size(160 << 20)
        .spawn(runtime_host::cli::main)
        .expect("start the main thread")
        .join()
        .unwrap_or(runtime_host::report::Exit::Internal.into());
    std::process::exit(code);
}
