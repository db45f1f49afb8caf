//! The command line: `run`, `validate`, `plan`, `plugins list`,
//! `plugins inspect`. Every command loads configuration through the same
//! code (`config::load` then `prepare::prepare`), so `validate` reports
//! exactly what `run` would refuse.

use crate::config::{self, ConfigErrors, Override, Pipeline};
use crate::exec::{self, RunOptions};
use crate::plugin::engine::EngineSettings;
use crate::plugin::{self, Runtime};
use crate::prepare::{self, Prepared};
use crate::progress::Progress;
use crate::report::{EXIT_CONFIG, EXIT_INTERNAL, EXIT_OK, group};
use clap::{Parser, Subcommand, ValueEnum};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Parser)]
#[command(
    name = "runtime",
    version,
    about = "Run data pipelines whose parsers and transforms are sandboxed WebAssembly plugins"
)]
#[command(
    after_help = "Exit status: 0 ok, 1 the run failed (see the summary), 2 bad configuration or usage, 3 internal error.\n\
Environment: RUNTIME_PLUGIN_PATH (folders searched for NAME.wasm), RUNTIME_CACHE_DIR (compiled-plugin cache),\n\
RUNTIME_LOG (log filter, e.g. info or plugin=debug), NO_COLOR."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value = "text")]
    log_format: LogFormat,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run a pipeline.
    #[command(after_help = "Examples:\n  runtime run examples/pod-usage/pipeline.toml\n  \
runtime run pipeline.toml --workers 4 --report run.json\n  runtime run pipeline.toml --set run.max_failed_splits=\\\"5%\\\"")]
    Run {
        /// The pipeline file.
        pipeline: PathBuf,
        /// Worker threads (default: run.workers, else the number of CPUs).
        #[arg(long, short = 'w')]
        workers: Option<usize>,
        /// Write the JSON run report to this file.
        #[arg(long)]
        report: Option<PathBuf>,
        /// Override a pipeline value: --set dotted.key=value (TOML value).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        overrides: Vec<Override>,
        /// Print nothing but errors.
        #[arg(long, short = 'q')]
        quiet: bool,
        /// Continue an interrupted run: keep what its sinks already committed.
        #[arg(long)]
        resume: bool,
    },
    /// Check a pipeline without reading or writing any data.
    #[command(
        after_help = "Examples:\n  runtime validate pipeline.toml\n  runtime validate pipeline.toml --set source.max_split_bytes=\\\"16 MiB\\\""
    )]
    Validate {
        pipeline: PathBuf,
        #[arg(long = "set", value_name = "KEY=VALUE")]
        overrides: Vec<Override>,
    },
    /// Show the splits a run would execute.
    #[command(
        after_help = "Examples:\n  runtime plan pipeline.toml\n  runtime plan pipeline.toml --json | jq '.splits[0]'"
    )]
    Plan {
        pipeline: PathBuf,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
        #[arg(long = "set", value_name = "KEY=VALUE")]
        overrides: Vec<Override>,
    },
    /// List or inspect plugins.
    #[command(subcommand)]
    Plugins(PluginsCommand),
}

#[derive(Subcommand)]
enum PluginsCommand {
    /// List the bundled plugins and those on RUNTIME_PLUGIN_PATH.
    #[command(after_help = "Example:\n  runtime plugins list")]
    List,
    /// Describe a plugin: kind, options, outputs, capabilities.
    #[command(
        after_help = "Examples:\n  runtime plugins inspect ndjson\n  runtime plugins inspect target/wasm32-wasip2/release/my_reader.wasm --json"
    )]
    Inspect {
        /// A bundled plugin name or a path to a .wasm component.
        plugin: String,
        #[arg(long)]
        json: bool,
    },
}

fn init_logging(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("RUNTIME_LOG").unwrap_or_else(|_| EnvFilter::new("warn"));
    let ansi = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let builder =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false);
    match format {
        LogFormat::Text => builder.with_ansi(ansi).init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// Runs the command line and returns the exit status.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_CONFIG } else { EXIT_OK };
            let _ = e.print();
            return code;
        }
    };
    init_logging(cli.log_format);
    let result = std::panic::catch_unwind(|| match cli.command {
        Command::Run { pipeline, workers, report, overrides, quiet, resume } => {
            run(&pipeline, RunOptions { workers, resume }, report.as_deref(), &overrides, quiet)
        }
        Command::Validate { pipeline, overrides } => validate(&pipeline, &overrides),
        Command::Plan { pipeline, json, overrides } => plan(&pipeline, json, &overrides),
        Command::Plugins(PluginsCommand::List) => plugins_list(),
        Command::Plugins(PluginsCommand::Inspect { plugin, json }) => plugins_inspect(&plugin, json),
    });
    result.unwrap_or_else(|_| {
        eprintln!(
            "internal error: the runtime panicked (this is a bug; please report it with the message above)"
        );
        EXIT_INTERNAL
    })
}

fn print_config_errors(e: &ConfigErrors) {
    eprintln!("{e}");
    let n = e.0.len();
    eprintln!("{n} problem{} found", if n == 1 { "" } else { "s" });
}

/// Engine settings that fit every stage of the pipeline.
fn engine_settings(p: &Pipeline, workers: usize) -> EngineSettings {
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

/// Loads, validates and prepares a pipeline: the shared front half of
/// `run`, `validate` and `plan`.
fn load(
    path: &Path,
    overrides: &[Override],
    workers: Option<usize>,
) -> Result<(Arc<Prepared>, Arc<Runtime>), i32> {
    let pipeline = match config::load(path, overrides) {
        Ok(p) => p,
        Err(e) => {
            print_config_errors(&e);
            return Err(EXIT_CONFIG);
        }
    };
    let workers = workers.unwrap_or(pipeline.run.workers);
    let runtime = match Runtime::new(&engine_settings(&pipeline, workers)) {
        Ok(r) => Arc::new(r),
        Err(e) => {
            eprintln!("error: cannot start the WebAssembly engine: {e:#}");
            return Err(EXIT_INTERNAL);
        }
    };
    match prepare::prepare(pipeline, &runtime) {
        Ok(p) => Ok((Arc::new(p), runtime)),
        Err(e) => {
            print_config_errors(&e);
            Err(EXIT_CONFIG)
        }
    }
}

fn run(
    path: &Path,
    options: RunOptions,
    report_path: Option<&Path>,
    overrides: &[Override],
    quiet: bool,
) -> i32 {
    let (prepared, runtime) = match load(path, overrides, options.workers) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let progress = Progress::new(std::io::stderr().is_terminal(), quiet);
    let report = exec::execute(prepared, runtime, &options, progress);
    let shown = report_path.map(|p| p.display().to_string());
    if let Some(p) = report_path {
        let json = serde_json::to_string_pretty(&report).expect("the report serializes");
        if let Err(e) = std::fs::write(p, json + "\n") {
            eprintln!("error: cannot write the report to {}: {e}", p.display());
            return crate::report::EXIT_FAILED;
        }
    }
    if !quiet || report.exit_code != EXIT_OK {
        eprint!("{}", report.summary(shown.as_deref()));
    }
    report.exit_code
}

fn validate(path: &Path, overrides: &[Override]) -> i32 {
    let (prepared, _) = match load(path, overrides, None) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let p = &prepared.pipeline;
    let mut problems = Vec::new();
    if let Err(e) = crate::plan::expand_inputs(&p.dir, &p.source.inputs) {
        problems.extend(e.into_iter().map(|m| format!("source.inputs: {m}")));
    }
    for st in &p.side_tables {
        if let Err(e) = crate::plan::expand_inputs(&p.dir, &st.inputs) {
            problems.extend(e.into_iter().map(|m| format!("{}.inputs: {m}", st.common.id)));
        }
    }
    if !problems.is_empty() {
        for m in &problems {
            eprintln!("error: {m}");
        }
        return EXIT_CONFIG;
    }
    println!("{}: OK", path.display());
    println!(
        "  source      {} ({}) -> {}",
        p.source.common.plugin,
        prepared.source.description.version,
        stream_list(&prepared)
    );
    for t in &prepared.transforms {
        println!(
            "  transform   {} ({}) reads `{}`{}",
            t.stage.name,
            t.stage.common.plugin,
            prepared.streams[t.input].name,
            if t.mergeable { ", aggregates (partial + final)" } else { "" }
        );
    }
    for s in &prepared.sinks {
        let schema = &prepared.streams[s.input].schema;
        println!(
            "  sink        {} <- `{}` ({} columns) -> {}",
            s.stage.name,
            prepared.streams[s.input].name,
            schema.fields().len(),
            s.stage.path_as_written
        );
    }
    EXIT_OK
}

fn stream_list(p: &Prepared) -> String {
    p.source_outputs.iter().map(|(n, _)| format!("`{n}`")).collect::<Vec<_>>().join(", ")
}

fn plan(path: &Path, json: bool, overrides: &[Override]) -> i32 {
    let (prepared, runtime) = match load(path, overrides, None) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let p = &prepared.pipeline;
    let planned = match &prepared.source_plan {
        Some(plan) => Ok((plan.files.clone(), plan.splits.clone())),
        None => exec::plan_source_files(&prepared, &runtime),
    };
    let (files, splits) = match planned {
        Ok(x) => x,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_CONFIG;
        }
    };
    let sizes: Vec<u64> = splits.iter().map(|s| s.split.size_hint).collect();
    let total: u64 = sizes.iter().sum();
    let max = sizes.iter().copied().max().unwrap_or(0);
    let mean = if sizes.is_empty() { 0.0 } else { total as f64 / sizes.len() as f64 };
    let imbalance = if mean > 0.0 { max as f64 / mean } else { 1.0 };
    if json {
        let out = serde_json::json!({
            "pipeline": p.file.display().to_string(),
            "files": files.len(),
            "splits_total": splits.len(),
            "size_total": total,
            "imbalance": imbalance,
            "splits": splits.iter().map(|s| serde_json::json!({
                "id": s.split.id,
                "input": s.split.input.and_then(|i| files.get(i as usize)).map(|f| f.shown.clone()),
                "offset": s.split.offset,
                "length": s.split.length,
                "size_hint": s.split.size_hint,
                "payload": s.split.payload,
                "error": s.error,
            })).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&out).unwrap());
        return EXIT_OK;
    }
    println!(
        "{} splits over {} files, {} in all; largest {} (imbalance {:.2}x the mean), largest first:",
        splits.len(),
        files.len(),
        crate::config::units::ByteSize(total),
        crate::config::units::ByteSize(max),
        imbalance
    );
    for s in splits.iter().take(50) {
        let extra = match (&s.error, s.split.payload.is_empty()) {
            (Some(e), _) => format!("  (will fail: {e})"),
            (None, false) => format!("  {}", s.split.payload),
            _ => String::new(),
        };
        println!(
            "  {:>12}  {}{extra}",
            crate::config::units::ByteSize(s.split.size_hint).to_string(),
            s.split.id
        );
    }
    if splits.len() > 50 {
        println!("  ... {} more", splits.len() - 50);
    }
    EXIT_OK
}

fn plugins_list() -> i32 {
    let runtime = match Runtime::new(&EngineSettings::default()) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e:#}");
            return EXIT_INTERNAL;
        }
    };
    println!("{:<12} {:<10} {:<9} {:<9} description", "name", "kind", "version", "source");
    let mut entries: Vec<(String, config::PluginRef, String)> = plugin::bundled::names()
        .into_iter()
        .map(|n| (n.to_string(), config::PluginRef::Named(n.to_string()), "bundled".to_string()))
        .collect();
    for (name, path) in plugin::search_path_plugins() {
        if !entries.iter().any(|(n, _, _)| *n == name) {
            entries.push((name, config::PluginRef::File(path.clone()), path.display().to_string()));
        }
    }
    for (name, r, source) in entries {
        match runtime.load(&r) {
            Ok(p) => {
                let d = &p.description;
                let kind = if d.kind == plugin::Kind::Reader { "reader" } else { "transform" };
                println!("{name:<12} {kind:<10} {:<9} {source:<9} {}", d.version, d.description);
            }
            Err(e) => println!("{name:<12} {:<10} {:<9} {source:<9} (cannot load: {e})", "?", "?"),
        }
    }
    EXIT_OK
}

fn plugins_inspect(name: &str, json: bool) -> i32 {
    let runtime = match Runtime::new(&EngineSettings::default()) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e:#}");
            return EXIT_INTERNAL;
        }
    };
    let reference = if name.ends_with(".wasm") || name.contains('/') {
        config::PluginRef::File(PathBuf::from(name))
    } else {
        config::PluginRef::Named(name.to_string())
    };
    let p = match runtime.load(&reference) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_CONFIG;
        }
    };
    let d = &p.description;
    if json {
        println!("{}", serde_json::to_string_pretty(d).unwrap());
        return EXIT_OK;
    }
    let kind = if d.kind == plugin::Kind::Reader { "reader" } else { "transform" };
    println!("{} {} ({kind}, {})", d.name, d.version, d.wit_package);
    println!("  {}", d.description);
    println!(
        "  component   {} ({} bytes, {})",
        reference,
        group(p.size as u64),
        if p.from_cache { "compiled, from cache" } else { "compiled now" }
    );
    match d.planning {
        plugin::Planning::WholeFile => println!("  splits      one per input file"),
        plugin::Planning::Delimited(b) => {
            println!("  splits      byte ranges of input files, cut after byte {b:#04x}")
        }
        plugin::Planning::Plugin => println!("  splits      planned by the plugin"),
    }
    if d.kind == plugin::Kind::Reader {
        println!("  outputs     {}", d.outputs.join(", "));
    } else if d.mergeable {
        println!("  aggregates  runs partial per split, then final");
    }
    if d.capabilities.is_empty() {
        println!("  capabilities none requested");
    } else {
        for c in &d.capabilities {
            println!("  capability  {}: {}", c.kind, c.reason);
        }
    }
    println!("  options:");
    for o in &d.options {
        let req = if o.required {
            " (required)".to_string()
        } else {
            o.default.as_ref().map(|v| format!(" = {v}")).unwrap_or_default()
        };
        println!("    {} : {}{req}", o.name, o.type_name);
        println!("        {}", o.description);
    }
    EXIT_OK
}
