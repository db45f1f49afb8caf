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
    bound_malloc_arenas();
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

/// Caps glibc's malloc arenas at one per core (glibc's default is eight per
/// core), unless the user set `MALLOC_ARENA_MAX` themselves. The host's
/// threads (workers, writer, stagers) allocate and free batch buffers of
/// every size for the whole run; with many arenas each keeps its own free
/// pieces, and resident memory crept up over long runs: on a 10 GB
/// mailbox, 83 MiB at a tenth of the run and 102 MiB at its end without the
/// cap, 77 and 96 MiB with it (peak 103 against 99 MiB, where a 2 GB one
/// peaks at 93; bench/pst/README.md, "What the memory is"). Other
/// allocators and libcs are left alone.
fn bound_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let arenas = i32::try_from(cores).unwrap_or(i32::MAX).max(2);
        // SAFETY: mallopt only sets a tunable of the allocator; it is called
        // before any other thread exists.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, arenas);
        }
    }
}
