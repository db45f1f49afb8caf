//! The `runtime` host as a library: run data pipelines whose parsers and transforms are sandboxed
//! WebAssembly components.
//!
//! ```text
//! runtime run pipeline.toml [--workers N] [--report run.json]
//! runtime validate pipeline.toml
//! runtime plan pipeline.toml [--json]
//! runtime run pipeline.toml --splits part.json --stage-only DIR   # a distributed run's task
//! runtime commit pipeline.toml DIR/*/manifest.json                # ... and its driver's commit
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
//!
//! # Layers
//!
//! The modules follow the data flow, and each imports only the modules
//! below it (a test, `layers::imports_run_downward_only`, checks every
//! `crate::` path against this order):
//!
//! | layer | modules | what |
//! |---|---|---|
//! | 0 | [`units`], [`catalog`], [`ipc`], [`panics`], [`text`] | sizes and durations, where plugins come from, Arrow IPC checks, caught panics, untrusted text |
//! | 1 | [`config`] | `pipeline.toml`: raw, validated, diagnostics |
//! | 2 | [`plugin`] | the sandbox: wasmtime, WASI, limits, the WIT versions |
//! | 3 | [`plan`], [`project`] | inputs become files, files become splits; plugin projects (`new-plugin`, `plugins build`) |
//! | 4 | [`prepare`] | plugins loaded, stages connected, schemas, projection |
//! | 5 | [`sink`] | staging, the writer, Parquet and Delta tables, commits, staged attempts |
//! | 6 | [`report`] | what a run did: records, JSON report, summary |
//! | 7 | [`progress`] | the progress bar and lines |
//! | 8 | [`exec`] | the run: workers, routing, the final phase |
//! | 9 | [`cli`] | the commands |

pub mod catalog;
pub mod cli;
pub mod config;
pub mod exec;
pub mod ipc;
pub mod panics;
pub mod plan;
pub mod plugin;
pub mod prepare;
pub mod progress;
pub mod project;
pub mod report;
pub mod sink;
pub mod text;
pub mod units;

#[cfg(test)]
mod layers {
    //! The layer order of the module doc, checked against the code.

    /// Modules from the bottom up; a module may import those of its own
    /// layer or lower ones.
    const LAYERS: &[&[&str]] = &[
        &["units", "catalog", "ipc", "panics", "text"],
        &["config"],
        &["plugin"],
        &["plan", "project"],
        &["prepare"],
        &["sink"],
        &["report"],
        &["progress"],
        &["exec"],
        &["cli"],
    ];

    fn layer(module: &str) -> Option<usize> {
        LAYERS.iter().position(|l| l.contains(&module))
    }

    fn sources(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                sources(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }

    #[test]
    fn imports_run_downward_only() {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        sources(&src, &mut files);
        let mut wrong = Vec::new();
        for file in &files {
            let rel = file.strip_prefix(&src).unwrap();
            let own = rel.components().next().unwrap().as_os_str().to_string_lossy();
            let own = own.trim_end_matches(".rs");
            let Some(own_layer) = layer(own) else { continue }; // lib.rs, main.rs
            let text = std::fs::read_to_string(file).unwrap();
            for (n, line) in text.lines().enumerate() {
                // Doc links may point anywhere; code may not.
                if line.trim_start().starts_with("//") {
                    continue;
                }
                let mut rest = line;
                while let Some(i) = rest.find("crate::") {
                    let after = &rest[i + "crate::".len()..];
                    let name: String =
                        after.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                    if let Some(l) = layer(&name)
                        && l > own_layer
                    {
                        wrong.push(format!("{}:{}: {own} imports {name}", rel.display(), n + 1));
                    }
                    rest = after;
                }
            }
        }
        assert!(files.len() > 40, "found the sources");
        assert!(wrong.is_empty(), "imports from a lower layer to a higher one:\n{}", wrong.join("\n"));
    }
}
