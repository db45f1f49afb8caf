//! The command line: `run`, `validate`, `plan`, `plugins list`,
//! `plugins inspect`. Every pipeline command loads configuration through the
//! same code ([`load`]: `config::load`, then `prepare::prepare`, then the
//! input globs), so `validate` reports exactly what `run` would refuse, and
//! all of them exit 2 on any configuration problem.
//!
//! Output conventions: results go to stdout (`validate`'s OK, `plan`,
//! `plugins`), diagnostics, progress and the run summary to stderr. Colors
//! only on a terminal and never with `NO_COLOR`; `--log-format json` turns
//! logs, configuration errors and plain progress lines into JSON objects.

use crate::config::{self, ConfigError, ConfigErrors, Override, Pipeline};
use crate::exec::{self, RunOptions};
use crate::plan::PlannedFile;
use crate::plugin::engine::EngineSettings;
use crate::plugin::{self, Runtime};
use crate::prepare::{self, Prepared};
use crate::progress::{self, Progress};
use crate::report::{EXIT_CONFIG, EXIT_FAILED, EXIT_INTERNAL, EXIT_OK, group};
use crate::units::ByteSize;
use clap::{Parser, Subcommand, ValueEnum};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Parser)]
#[command(
    name = "runtime",
    version,
    about = "Run data pipelines whose parsers and transforms are sandboxed WebAssembly plugins",
    after_help = const_format_help()
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Format of logs, configuration errors and progress lines on stderr.
    #[arg(long, global = true, value_enum, default_value = "text")]
    log_format: LogFormat,
}

const fn const_format_help() -> &'static str {
    "Examples:
  runtime validate pipeline.toml
  runtime plan pipeline.toml
  runtime run pipeline.toml --workers 8 --report run.json
  runtime plugins list
  runtime plugins inspect ndjson

Exit status:
  0  success                  1  the run failed (see the summary)
  2  bad configuration/usage  3  internal error

Environment (see `runtime run --help`):
  RUNTIME_PLUGIN_PATH, RUNTIME_CACHE_DIR, RUNTIME_LOG, RUNTIME_PROGRESS_INTERVAL, NO_COLOR"
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run a pipeline: read every split, write every output, print a summary.
    #[command(after_help = run_help())]
    Run {
        /// The pipeline file.
        pipeline: PathBuf,
        /// Worker threads (default: run.workers, else the number of CPUs).
        #[arg(long, short = 'w', value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
        workers: Option<u16>,
        /// Write the JSON run report to this file.
        #[arg(long, value_name = "FILE.json")]
        report: Option<PathBuf>,
        /// Override a pipeline value (a TOML value; repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        overrides: Vec<Override>,
        /// Print nothing but errors (no progress, no summary unless the run fails).
        #[arg(long, short = 'q')]
        quiet: bool,
        /// Continue an interrupted run: keep what its outputs already committed.
        #[arg(long)]
        resume: bool,
    },
    /// Check a pipeline without reading or writing any data.
    #[command(after_help = validate_help())]
    Validate {
        /// The pipeline file.
        pipeline: PathBuf,
        /// Check the pipeline as `run --set` would see it.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        overrides: Vec<Override>,
    },
    /// Show the splits a run would execute, largest first, without running them.
    #[command(after_help = plan_help())]
    Plan {
        /// The pipeline file.
        pipeline: PathBuf,
        /// Machine-readable output (every split).
        #[arg(long)]
        json: bool,
        /// Workers to estimate the balance for (default: run.workers).
        #[arg(long, short = 'w', value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
        workers: Option<u16>,
        /// Plan the pipeline as `run --set` would see it.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        overrides: Vec<Override>,
    },
    /// List or inspect plugins.
    #[command(subcommand)]
    Plugins(PluginsCommand),
}

const fn run_help() -> &'static str {
    "Examples:
  runtime run examples/pod-usage/pipeline.toml
  runtime run pipeline.toml --workers 4 --report run.json
  runtime run pipeline.toml --set run.max_failed_splits='\"5%\"' --set run.retries=0
  runtime run pipeline.toml --quiet || cat run.json
  runtime run pipeline.toml --resume

Progress goes to stderr: a bar on a terminal, a line every 10 s otherwise.

Exit status:
  0  success (failed splits, if any, within run.max_failed_splits)
  1  the run failed: too many failed splits, a side table or an output failed
  2  bad configuration or usage
  3  internal error (a bug in the runtime)

Environment:
  RUNTIME_PLUGIN_PATH        folders searched for NAME.wasm, separated by `:`
  RUNTIME_CACHE_DIR          compiled-plugin cache (default ~/.cache/runtime)
  RUNTIME_LOG                log filter: warn (default), info, debug, plugin=debug
  RUNTIME_PROGRESS_INTERVAL  seconds between progress lines when stderr is not a terminal (10)
  NO_COLOR                   set to anything: no colors"
}

const fn validate_help() -> &'static str {
    "Examples:
  runtime validate pipeline.toml
  runtime validate pipeline.toml --set source.max_split_bytes='\"16 MiB\"'
  runtime --log-format json validate pipeline.toml   # one JSON object per problem

Checks syntax, keys and values, loads every plugin and checks its options,
connects the stages' schemas and expands the input globs. Every problem is
listed with file:line:column, the key and a hint.
Exit status: 0 the pipeline is valid, 2 any problem, 3 internal error."
}

const fn plan_help() -> &'static str {
    "Examples:
  runtime plan pipeline.toml
  runtime plan pipeline.toml --workers 16
  runtime plan pipeline.toml --json | jq '.splits[0]'

Sizes are bytes of input (file splits) or the plugin's estimate (key ranges of sql).
Imbalance: the largest split over the mean, and the busiest worker's share over a fair
share when splits go largest first to the least busy of N workers (1.00 is perfect).
Exit status: 0 ok, 2 bad configuration, 3 internal error."
}

#[derive(Subcommand)]
enum PluginsCommand {
    /// List the bundled plugins and those on RUNTIME_PLUGIN_PATH.
    #[command(after_help = "Examples:\n  runtime plugins list\n  \
RUNTIME_PLUGIN_PATH=~/plugins runtime plugins list\n  runtime plugins list --json")]
    List {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Describe a plugin: kind, versions, options, outputs and their schemas, capabilities.
    #[command(after_help = "Examples:\n  runtime plugins inspect ndjson\n  \
runtime plugins inspect pst --json\n  runtime plugins inspect target/wasm32-wasip2/release/my_reader.wasm")]
    Inspect {
        /// A plugin name (bundled or on RUNTIME_PLUGIN_PATH) or a path to a .wasm component.
        #[arg(value_name = "NAME|FILE.wasm")]
        plugin: String,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
}

/// Whether to color stderr: a terminal, `NO_COLOR` unset or empty, and a
/// terminal that is not `dumb`.
pub fn color_stderr() -> bool {
    std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && std::env::var("TERM").map_or(true, |t| t != "dumb")
}

fn init_logging(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("RUNTIME_LOG").unwrap_or_else(|_| EnvFilter::new("warn"));
    let builder =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false);
    match format {
        LogFormat::Text => builder.with_ansi(color_stderr()).init(),
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
    if !matches!(cli.command, Command::Run { .. }) {
        // Commands whose output is piped into `head` or `jq` end quietly
        // when the reader goes away, like other Unix tools, instead of
        // panicking on EPIPE. (`run` prints nothing on stdout and keeps
        // SIGPIPE ignored, as Rust sets it.)
        // SAFETY: setting a signal's disposition to the default has no
        // preconditions; no handler of ours is replaced.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    let out = Out { json: cli.log_format == LogFormat::Json, color: color_stderr() };
    let result = std::panic::catch_unwind(|| match cli.command {
        Command::Run { pipeline, workers, report, overrides, quiet, resume } => {
            let options = RunOptions { workers: workers.map(usize::from), resume };
            run(&out, &pipeline, options, report.as_deref(), &overrides, quiet)
        }
        Command::Validate { pipeline, overrides } => validate(&out, &pipeline, &overrides),
        Command::Plan { pipeline, json, workers, overrides } => {
            plan(&out, &pipeline, json, workers.map(usize::from), &overrides)
        }
        Command::Plugins(PluginsCommand::List { json }) => plugins_list(json),
        Command::Plugins(PluginsCommand::Inspect { plugin, json }) => plugins_inspect(&plugin, json),
    });
    result.unwrap_or_else(|_| {
        eprintln!(
            "internal error: the runtime panicked (this is a bug; please report it with the message above)"
        );
        EXIT_INTERNAL
    })
}

/// How diagnostics are written to stderr.
struct Out {
    json: bool,
    color: bool,
}

impl Out {
    fn config_errors(&self, file: &Path, e: &ConfigErrors) {
        if self.json {
            for err in &e.0 {
                eprintln!("{}", err.to_json());
            }
            return;
        }
        eprintln!("{}", e.render(self.color));
        let n = e.0.len();
        let summary = format!(
            "{}: {n} problem{}; nothing was read or written",
            file.display(),
            if n == 1 { "" } else { "s" }
        );
        if self.color {
            eprintln!("\x1b[1m{summary}\x1b[0m");
        } else {
            eprintln!("{summary}");
        }
    }

    /// An error that is not about a line of the pipeline file, with how to
    /// fix it, rendered like the config errors.
    fn error_with_hint(&self, message: &str, hint: &str) {
        if self.json {
            eprintln!("{}", serde_json::json!({ "level": "error", "message": message, "hint": hint }));
        } else {
            eprint!("{}", ConfigError::new("", message).hint(hint).render(self.color));
        }
    }

    fn error(&self, message: &str) {
        if self.json {
            eprintln!("{}", serde_json::json!({ "level": "error", "message": message }));
        } else if self.color {
            eprintln!("\x1b[1;31merror\x1b[0m\x1b[1m:\x1b[0m {message}");
        } else {
            eprintln!("error: {message}");
        }
    }
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

/// A pipeline ready to plan or run, with the files its globs matched.
struct Loaded {
    prepared: Arc<Prepared>,
    runtime: Arc<Runtime>,
    /// The source's input files (empty for readers that take none).
    files: Vec<PlannedFile>,
    /// Each side table's input files, in the pipeline's order.
    side_table_files: Vec<Vec<PlannedFile>>,
}

/// Loads, validates and prepares a pipeline and expands its input globs:
/// the shared front half of `run`, `validate` and `plan`. On a problem,
/// prints every one and returns the exit status.
fn load(out: &Out, path: &Path, overrides: &[Override], workers: Option<usize>) -> Result<Loaded, i32> {
    let pipeline = match config::load(path, overrides) {
        Ok(p) => p,
        Err(e) => {
            out.config_errors(path, &e);
            return Err(EXIT_CONFIG);
        }
    };
    let workers = workers.unwrap_or(pipeline.run.workers);
    let runtime = match Runtime::new(&engine_settings(&pipeline, workers)) {
        Ok(r) => Arc::new(r),
        Err(e) => {
            out.error(&format!("cannot start the WebAssembly engine: {e:#}"));
            return Err(EXIT_INTERNAL);
        }
    };
    let text = if overrides.is_empty() { std::fs::read_to_string(path).ok() } else { None };
    let prepared = match prepare::prepare(pipeline, &runtime) {
        Ok(p) => p,
        Err(e) => {
            out.config_errors(path, &polish(e, path, text.as_deref()));
            return Err(EXIT_CONFIG);
        }
    };
    let files = prepared.source_files.clone();
    let side_table_files: Vec<Vec<PlannedFile>> =
        prepared.side_tables.iter().map(|st| st.files.clone()).collect();
    Ok(Loaded { prepared: Arc::new(prepared), runtime, files, side_table_files })
}

/// Makes the problems found while preparing as clear as the file allows:
/// plugin option errors (serde's words, at the stage's `options`) become
/// `unknown option` / `missing option` / `unknown value` with a suggestion,
/// pointing at the option itself; a glob that matches nothing points at
/// that glob; and a stream missing only because its transform already has
/// an error is not reported a second time.
fn polish(errors: ConfigErrors, file: &Path, text: Option<&str>) -> ConfigErrors {
    use config::error::did_you_mean;
    let doc = text.and_then(|t| toml_edit::Document::parse(t.to_string()).ok());
    let map = text.map(|t| config::SourceMap::new(file, t));
    let broken: Vec<String> = errors
        .0
        .iter()
        .filter_map(|e| e.key.strip_prefix("transforms."))
        .filter_map(|k| k.split('.').next())
        .map(|n| format!("no stream named `{n}`"))
        .collect();
    let mut out = ConfigErrors::default();
    for mut e in errors.0 {
        if e.key.ends_with(".input") && broken.contains(&e.message) {
            continue;
        }
        if let Some(options_at) = e.key.find(".options") {
            let path = e.key[options_at + ".options".len()..].trim_start_matches('.').to_string();
            let word = if path.contains(['.', '[']) { "key" } else { "option" };
            let m = e.message.clone();
            if let Some(rest) = m.strip_prefix("unknown field `") {
                let (field, expected) = rest.split_once('`').unwrap_or((rest, ""));
                let known: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
                e.message = format!("unknown {word} `{field}`");
                let hint = match did_you_mean(field, known.iter().copied()) {
                    Some(k) => format!("did you mean `{k}`?"),
                    None if known.is_empty() => e.hint.clone().unwrap_or_default(),
                    None => format!("{word}s here: {}", known.join(", ")),
                };
                e.hint = Some(hint);
            } else if let Some(rest) = m.strip_prefix("missing field `") {
                let field = rest.split('`').next().unwrap_or(rest);
                e.message = format!("missing {word} `{field}`");
                e.key = if path.is_empty() { format!("{}.{field}", e.key) } else { e.key.clone() };
            } else if let Some(rest) = m.strip_prefix("unknown variant `") {
                let (value, expected) = rest.split_once('`').unwrap_or((rest, ""));
                let known: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
                e.message = format!("unknown value `{value}`");
                e.hint = Some(match did_you_mean(value, known.iter().copied()) {
                    Some(k) => format!("did you mean `{k}`?"),
                    None => format!("one of: {}", known.join(", ")),
                });
            } else if let Some(rest) = m.strip_prefix("invalid type: ")
                && let Some((found, expected)) = rest.rsplit_once(", expected ")
            {
                e.message = format!(
                    "expected {}, found {}",
                    config::expected_words(expected),
                    config::found_words(found)
                );
            }
            let key_wanted = e.message.starts_with("unknown option") || e.message.starts_with("unknown key");
            if let (Some(doc), Some(map)) = (&doc, &map)
                && let Some(span) = option_span(doc, &e.key, key_wanted)
            {
                e.location = map.span(span);
            }
        } else if e.key.ends_with(".inputs")
            && let Some(glob) = e.message.strip_prefix('`').and_then(|r| r.split('`').next())
            && let (Some(doc), Some(map)) = (&doc, &map)
            && let Some(span) = glob_span(doc, &e.key, glob)
        {
            e.location = map.span(span);
        }
        out.push(e);
    }
    out
}

/// A place in a parsed pipeline file: a table entry, an array element, or
/// one table of an array of tables (`[[transforms]]`).
#[derive(Clone, Copy)]
enum Node<'a> {
    Item(&'a toml_edit::Item),
    Value(&'a toml_edit::Value),
    Table(&'a toml_edit::Table),
}

type Span = std::ops::Range<usize>;

impl<'a> Node<'a> {
    fn span(self) -> Option<Span> {
        match self {
            Node::Item(i) => i.span(),
            Node::Value(v) => v.span(),
            Node::Table(t) => t.span(),
        }
    }
    /// The entry `key`, and the span of the key itself.
    fn get(self, key: &str) -> Option<(Node<'a>, Option<Span>)> {
        match self {
            Node::Item(i) => {
                let t = i.as_table_like()?;
                Some((Node::Item(t.get(key)?), t.key(key).and_then(|k| k.span())))
            }
            Node::Table(t) => Some((Node::Item(t.get(key)?), t.key(key).and_then(|k| k.span()))),
            Node::Value(v) => {
                let t = v.as_inline_table()?;
                Some((Node::Value(t.get(key)?), t.key(key).and_then(|k| k.span())))
            }
        }
    }
    fn index(self, i: usize) -> Option<Node<'a>> {
        match self {
            Node::Item(item) => item.as_array().and_then(|a| a.get(i)).map(Node::Value),
            Node::Value(v) => v.as_array().and_then(|a| a.get(i)).map(Node::Value),
            Node::Table(_) => None,
        }
    }
    fn elements(self) -> Vec<Node<'a>> {
        match self {
            Node::Item(item) => item.as_array().map_or(vec![self], |a| a.iter().map(Node::Value).collect()),
            Node::Value(v) => v.as_array().map_or(vec![self], |a| a.iter().map(Node::Value).collect()),
            Node::Table(_) => Vec::new(),
        }
    }
    fn as_str(self) -> Option<&'a str> {
        match self {
            Node::Item(i) => i.as_str(),
            Node::Value(v) => v.as_str(),
            Node::Table(_) => None,
        }
    }
}

/// The table of the stage a key such as `transforms.labels.options.x`
/// belongs to, and the rest of the key (`options.x`).
fn stage_node<'a, 'k>(doc: &'a toml_edit::Document<String>, key: &'k str) -> Option<(Node<'a>, &'k str)> {
    let root = doc.as_table();
    if let Some(rest) = key.strip_prefix("source.") {
        return Some((Node::Item(root.get("source")?), rest));
    }
    if let Some(rest) = key.strip_prefix("side_tables.") {
        let (name, rest) = rest.split_once('.')?;
        return Some((Node::Item(root.get("side_tables")?.get(name)?), rest));
    }
    let (name, rest) = key.strip_prefix("transforms.")?.split_once('.')?;
    let tables = root.get("transforms")?.as_array_of_tables()?;
    let table = tables.iter().find(|t| t.get("name").and_then(|n| n.as_str()) == Some(name))?;
    Some((Node::Table(table), rest))
}

/// Where the option named by an error key is written: the key itself
/// (`key_wanted`, for unknown options) or its value, as deep as the file
/// has it.
fn option_span(doc: &toml_edit::Document<String>, key: &str, key_wanted: bool) -> Option<Span> {
    let (mut node, rest) = stage_node(doc, key)?;
    let mut best = None;
    let mut last_key = None;
    let mut resolved = true;
    'path: for part in rest.split('.') {
        let (name, mut indexes) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        match node.get(name) {
            Some((n, k)) => {
                node = n;
                last_key = k.clone();
                best = n.span().or(k).or(best);
            }
            None => {
                resolved = false;
                break;
            }
        }
        while let Some(r) = indexes.strip_prefix('[') {
            let Some((i, more)) = r.split_once(']') else { break };
            match i.parse().ok().and_then(|i| node.index(i)) {
                Some(n) => {
                    node = n;
                    last_key = None;
                    best = n.span().or(best);
                }
                None => {
                    resolved = false;
                    break 'path;
                }
            }
            indexes = more;
        }
    }
    if key_wanted && resolved { last_key.or(best) } else { best }
}

/// Where a glob of `key` (`source.inputs`) is written.
fn glob_span(doc: &toml_edit::Document<String>, key: &str, glob: &str) -> Option<Span> {
    let (node, rest) = stage_node(doc, key)?;
    let (inputs, _) = node.get(rest)?;
    inputs.elements().into_iter().find(|e| e.as_str() == Some(glob)).and_then(|e| e.span())
}

fn run(
    out: &Out,
    path: &Path,
    options: RunOptions,
    report_path: Option<&Path>,
    overrides: &[Override],
    quiet: bool,
) -> i32 {
    if let Some(r) = report_path {
        let parent = r.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        if !parent.is_dir() {
            out.error_with_hint(
                &format!(
                    "--report {}: the folder {} does not exist; nothing was run",
                    r.display(),
                    parent.display()
                ),
                &format!("create it first (`mkdir -p {}`) or write the report elsewhere", parent.display()),
            );
            return EXIT_CONFIG;
        }
    }
    let loaded = match load(out, path, overrides, options.workers) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let progress = Progress::new(progress::Settings {
        terminal: std::io::stderr().is_terminal(),
        quiet,
        color: out.color,
        json: out.json,
        interval: progress::Settings::interval_from_env(),
    });
    let report = exec::execute(loaded.prepared, loaded.runtime, &options, progress);
    let shown = report_path.map(|p| p.display().to_string());
    if let Some(p) = report_path {
        let json = serde_json::to_string_pretty(&report).expect("the report serializes");
        if let Err(e) = std::fs::write(p, json + "\n") {
            out.error(&format!("cannot write the report to {}: {e}", p.display()));
            eprint!("{}", report.summary(None));
            return EXIT_FAILED;
        }
    }
    if !quiet || report.exit_code != EXIT_OK {
        eprint!("{}", report.summary(shown.as_deref()));
    }
    report.exit_code
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn columns(n: usize) -> String {
    plural(n, "column", "columns")
}

fn files_phrase(files: &[PlannedFile]) -> String {
    let bytes: u64 = files.iter().map(|f| f.size).sum();
    format!("{}, {}", plural(files.len(), "input file", "input files"), ByteSize(bytes))
}

fn validate(out: &Out, path: &Path, overrides: &[Override]) -> i32 {
    let loaded = match load(out, path, overrides, None) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let prepared = &loaded.prepared;
    println!("{}: OK", path.display());
    let src = &prepared.source.description;
    let outs: Vec<String> = prepared
        .source_outputs
        .iter()
        .map(|(n, i)| format!("{n} ({})", columns(prepared.streams[*i].declared.fields().len())))
        .collect();
    let inputs =
        if loaded.files.is_empty() { "no input files".to_string() } else { files_phrase(&loaded.files) };
    println!("  source      {} {}: {inputs} -> {}", src.name, src.version, outs.join(", "));
    for (st, files) in prepared.side_tables.iter().zip(&loaded.side_table_files) {
        let d = &st.plugin.description;
        println!(
            "  side table  {}: {} {}, {} -> {} ({})",
            st.stage.name,
            d.name,
            d.version,
            files_phrase(files),
            st.output,
            columns(st.schema.fields().len())
        );
    }
    for t in &prepared.transforms {
        let d = &t.plugin.description;
        println!(
            "  transform   {}: {} {}{}, {} -> {} ({})",
            t.stage.name,
            d.name,
            d.version,
            if t.mergeable { " (partial + final)" } else { "" },
            prepared.streams[t.input].name,
            prepared.streams[t.output].name,
            columns(prepared.streams[t.output].declared.fields().len())
        );
    }
    for s in &prepared.sinks {
        let st = &s.stage;
        println!(
            "  sink        {}: {} -> {} ({}, {})",
            st.name,
            prepared.streams[s.input].name,
            st.path_as_written,
            match st.format {
                config::SinkFormat::ParquetFile => "parquet file",
                config::SinkFormat::ParquetDir => "parquet folder",
                config::SinkFormat::Delta => "delta table",
            },
            format!("{:?}", st.compression).to_lowercase()
        );
    }
    EXIT_OK
}

/// How evenly `sizes` (largest first) spread over `workers` when each split
/// goes to the least busy worker: the busiest worker's load over a fair
/// share (1.0 is perfect).
pub fn worker_imbalance(sizes: &[u64], workers: usize) -> f64 {
    let total: u64 = sizes.iter().sum();
    if total == 0 || workers == 0 {
        return 1.0;
    }
    let mut loads = vec![0u64; workers.min(sizes.len()).max(1)];
    for &s in sizes {
        let least = loads.iter_mut().min().expect("at least one worker");
        *least += s;
    }
    let busiest = *loads.iter().max().unwrap_or(&0) as f64;
    busiest / (total as f64 / workers.min(sizes.len()).max(1) as f64)
}

fn plan(out: &Out, path: &Path, json: bool, workers: Option<usize>, overrides: &[Override]) -> i32 {
    let loaded = match load(out, path, overrides, workers) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let prepared = &loaded.prepared;
    let p = &prepared.pipeline;
    let workers = workers.unwrap_or(p.run.workers);
    let files = &prepared.source_files;
    let splits = prepared.source_splits();
    let plugin_planned = prepared.source.description.planning == plugin::Planning::Plugin;
    let sizes: Vec<u64> = splits.iter().map(|s| s.split.size_hint).collect();
    let total: u64 = sizes.iter().sum();
    let max = sizes.iter().copied().max().unwrap_or(0);
    let min = sizes.iter().copied().min().unwrap_or(0);
    let mean = if sizes.is_empty() { 0.0 } else { total as f64 / sizes.len() as f64 };
    let imbalance = if mean > 0.0 { max as f64 / mean } else { 1.0 };
    let spread = worker_imbalance(&sizes, workers);
    let failing = splits.iter().filter(|s| s.error.is_some()).count();
    if json {
        let out = serde_json::json!({
            "pipeline": p.file.display().to_string(),
            "reader": prepared.source.description.name,
            "planned_by": if plugin_planned { "plugin" } else { "host" },
            "files": files.len(),
            "splits_total": splits.len(),
            "size_total": total,
            "size_largest": max,
            "size_smallest": min,
            "size_mean": mean.round(),
            "imbalance": (imbalance * 1000.0).round() / 1000.0,
            "workers": workers,
            "worker_imbalance": (spread * 1000.0).round() / 1000.0,
            "splits_known_to_fail": failing,
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
    let est = if plugin_planned { "~" } else { "" };
    println!(
        "{}: {} over {}, {est}{} in all{}",
        path.display(),
        plural(splits.len(), "split", "splits"),
        plural(files.len(), "file", "files"),
        ByteSize(total),
        if plugin_planned {
            format!(" (planned by the {} plugin; sizes are its estimates)", prepared.source.description.name)
        } else {
            String::new()
        }
    );
    if !splits.is_empty() {
        println!(
            "  sizes       largest {est}{}, mean {est}{}, smallest {est}{}",
            ByteSize(max),
            ByteSize(mean as u64),
            ByteSize(min)
        );
        println!(
            "  imbalance   {imbalance:.2} (largest / mean); {spread:.2} across {} (busiest / fair share)",
            plural(workers, "worker", "workers")
        );
    }
    if failing > 0 {
        println!("  warning     {} will fail (unreadable input)", plural(failing, "split", "splits"));
    }
    const SHOWN: usize = 40;
    if !splits.is_empty() {
        println!("  {:>4}  {:>11}  split", "#", "size");
    }
    for (i, s) in splits.iter().take(SHOWN).enumerate() {
        let extra = match (&s.error, s.split.payload.is_empty() || !plugin_planned) {
            (Some(e), _) => format!("  (will fail: {e})"),
            (None, false) => format!("  {}", s.split.payload),
            _ => String::new(),
        };
        println!(
            "  {:>4}  {:>11}  {}{extra}",
            i + 1,
            format!("{est}{}", ByteSize(s.split.size_hint)),
            s.split.id
        );
    }
    if splits.len() > SHOWN {
        println!("  ... {} more (--json lists every split)", splits.len() - SHOWN);
    }
    EXIT_OK
}

fn describe_runtime() -> Result<Runtime, i32> {
    Runtime::new(&EngineSettings::default()).map_err(|e| {
        eprintln!("error: cannot start the WebAssembly engine: {e:#}");
        EXIT_INTERNAL
    })
}

/// The width to fit lines to: the terminal's, else `COLUMNS`, else 100.
fn output_width() -> usize {
    if std::io::stdout().is_terminal() {
        let mut ws = libc::winsize { ws_row: 0, ws_col: 0, ws_xpixel: 0, ws_ypixel: 0 };
        // SAFETY: TIOCGWINSZ writes one `winsize` into the pointed-to value.
        let ok = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut ws) } == 0;
        if ok && ws.ws_col >= 40 {
            return ws.ws_col as usize;
        }
    }
    std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok()).filter(|c| *c >= 40).unwrap_or(100)
}

/// The first sentence of `text`, cut to `width` characters with `…`.
fn one_line(text: &str, width: usize) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let first = match flat.find(". ") {
        Some(i) => &flat[..i + 1],
        None => flat.as_str(),
    };
    if first.chars().count() <= width {
        return first.to_string();
    }
    let mut cut: String = first.chars().take(width.saturating_sub(1)).collect();
    if let Some(i) = cut.rfind(' ').filter(|i| *i > width / 2) {
        cut.truncate(i);
    }
    cut.trim_end_matches([',', ';', ':', ' ']).to_string() + "…"
}

fn kind_name(k: plugin::Kind) -> &'static str {
    match k {
        plugin::Kind::Reader => "reader",
        plugin::Kind::Transform => "transform",
    }
}

fn plugins_list(json: bool) -> i32 {
    let runtime = match describe_runtime() {
        Ok(r) => r,
        Err(code) => return code,
    };
    struct Entry {
        name: String,
        reference: config::PluginRef,
        file: Option<PathBuf>,
        shadowed: bool,
    }
    let mut entries: Vec<Entry> = crate::catalog::bundled_names()
        .into_iter()
        .map(|n| Entry {
            name: n.to_string(),
            reference: config::PluginRef::Named(n.to_string()),
            file: None,
            shadowed: false,
        })
        .collect();
    for (name, path) in crate::catalog::search_path_plugins() {
        let shadowed = entries.iter().any(|e| e.name == name);
        entries.push(Entry {
            name,
            reference: config::PluginRef::File(path.clone()),
            file: Some(path),
            shadowed,
        });
    }
    let loaded: Vec<Result<Arc<plugin::LoadedPlugin>, String>> =
        entries.iter().map(|e| runtime.load(&e.reference)).collect();
    if json {
        let list: Vec<serde_json::Value> = entries
            .iter()
            .zip(&loaded)
            .map(|(e, l)| {
                let mut v = serde_json::json!({
                    "name": e.name,
                    "from": e.file.as_ref().map_or("bundled".to_string(), |f| f.display().to_string()),
                    "shadowed_by_bundled": e.shadowed,
                });
                match l {
                    Ok(p) => {
                        v["kind"] = serde_json::json!(kind_name(p.description.kind));
                        v["version"] = serde_json::json!(p.description.version);
                        v["wit_package"] = serde_json::json!(p.description.wit_package);
                        v["description"] = serde_json::json!(p.description.description);
                    }
                    Err(err) => v["error"] = serde_json::json!(err),
                }
                v
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&list).unwrap());
        return EXIT_OK;
    }
    let name_w = entries.iter().map(|e| e.name.len()).max().unwrap_or(4).max(4);
    let width = output_width();
    println!("{:<name_w$}  {:<9}  {:<7}  {:<7}  DESCRIPTION", "NAME", "KIND", "VERSION", "FROM");
    let used = name_w + 2 + 9 + 2 + 7 + 2 + 7 + 2;
    let desc_w = width.saturating_sub(used).max(30);
    for (e, l) in entries.iter().zip(&loaded) {
        let from = if e.file.is_some() { "path" } else { "bundled" };
        match l {
            Ok(p) => {
                let d = &p.description;
                let mut desc = one_line(&d.description, desc_w);
                if e.shadowed {
                    desc = format!("(shadowed by the bundled {}) {desc}", e.name);
                }
                println!(
                    "{:<name_w$}  {:<9}  {:<7}  {from:<7}  {desc}",
                    e.name,
                    kind_name(d.kind),
                    d.version
                );
            }
            Err(err) => println!(
                "{:<name_w$}  {:<9}  {:<7}  {from:<7}  cannot load: {}",
                e.name,
                "?",
                "?",
                one_line(err, desc_w.saturating_sub(13))
            ),
        }
    }
    let path_entries: Vec<&Entry> = entries.iter().filter(|e| e.file.is_some()).collect();
    match std::env::var_os("RUNTIME_PLUGIN_PATH") {
        None => println!(
            "\n{} bundled; RUNTIME_PLUGIN_PATH is not set (folders of NAME.wasm plugins)",
            crate::catalog::bundled_names().len()
        ),
        Some(v) => {
            println!(
                "\n{} bundled, {} on RUNTIME_PLUGIN_PATH={}",
                crate::catalog::bundled_names().len(),
                path_entries.len(),
                v.to_string_lossy()
            );
            for e in path_entries {
                println!("  {:<name_w$}  {}", e.name, e.file.as_ref().unwrap().display());
            }
        }
    }
    println!("`runtime plugins inspect NAME` shows a plugin's options and outputs.");
    EXIT_OK
}

/// A plugin's output schemas as far as they can be known without a
/// pipeline: readers whose `init` accepts no options at all (pst) report
/// them; others depend on their options, transforms on their input.
enum Outputs {
    Known(Vec<(String, arrow_schema::SchemaRef)>),
    DependsOnOptions(String),
    DependsOnInput,
}

fn known_outputs(runtime: &Runtime, p: &plugin::LoadedPlugin) -> Outputs {
    if p.description.kind == plugin::Kind::Transform {
        return Outputs::DependsOnInput;
    }
    let stage = config::StageCommon {
        id: "inspect".into(),
        plugin: p.reference.clone(),
        plugin_at: None,
        options: "{}".into(),
        options_at: None,
        limits: config::Limits { time: std::time::Duration::from_secs(10), ..Default::default() },
        grants: Default::default(),
    };
    let schemas = runtime
        .reader(p, &stage)
        .and_then(|mut r| r.init("{}").and_then(|_| r.discover(&[], Vec::new())))
        .map_err(|e| e.message().to_string());
    match schemas {
        Ok(s) if !s.is_empty() => Outputs::Known(s),
        Ok(_) => Outputs::DependsOnOptions("the plugin reports no schema without options".into()),
        Err(e) => Outputs::DependsOnOptions(e),
    }
}

fn field_json(f: &arrow_schema::Field) -> serde_json::Value {
    serde_json::json!({ "name": f.name(), "type": f.data_type().to_string(), "nullable": f.is_nullable() })
}

fn plugins_inspect(name: &str, json: bool) -> i32 {
    let runtime = match describe_runtime() {
        Ok(r) => r,
        Err(code) => return code,
    };
    let reference = if name.ends_with(".wasm") || name.contains('/') {
        config::PluginRef::File(PathBuf::from(name))
    } else {
        config::PluginRef::Named(name.to_string())
    };
    let p = match runtime.load(&reference) {
        Ok(p) => p,
        Err(e) => {
            let hint = match &reference {
                config::PluginRef::Named(n) => {
                    let bundled = crate::catalog::bundled_names();
                    match config::error::did_you_mean(n, bundled.iter().copied()) {
                        Some(m) => format!("did you mean `{m}`?"),
                        None => "`runtime plugins list` shows the plugins this runtime finds".to_string(),
                    }
                }
                config::PluginRef::File(_) => {
                    "give the path to a .wasm component built for wasm32-wasip2".into()
                }
            };
            eprint!("{}", ConfigError::new("", e).hint(hint).render(color_stderr()));
            return EXIT_CONFIG;
        }
    };
    let d = &p.description;
    let outputs = known_outputs(&runtime, &p);
    if json {
        let mut v = serde_json::to_value(d).expect("a description serializes");
        v["component"] = serde_json::json!({
            "reference": reference.to_string(),
            "bytes": p.size,
            "from_cache": p.from_cache,
        });
        v["output_schemas"] = match &outputs {
            Outputs::Known(s) => serde_json::Value::Object(
                s.iter()
                    .map(|(n, sc)| (n.clone(), sc.fields().iter().map(|f| field_json(f)).collect()))
                    .collect(),
            ),
            Outputs::DependsOnOptions(_) => serde_json::json!("depends on options"),
            Outputs::DependsOnInput => serde_json::json!("depends on the input stream and options"),
        };
        println!("{}", serde_json::to_string_pretty(&v).unwrap());
        return EXIT_OK;
    }
    let kind = kind_name(d.kind);
    println!("{} {} ({kind}, {})", d.name, d.version, d.wit_package);
    for line in wrap(&d.description, 96) {
        println!("  {line}");
    }
    println!();
    println!(
        "  component     {} ({} bytes, {})",
        reference,
        group(p.size as u64),
        if p.from_cache { "compiled, from cache" } else { "compiled now" }
    );
    if d.kind == plugin::Kind::Reader {
        match d.planning {
            plugin::Planning::WholeFile => println!("  splits        one per input file"),
            plugin::Planning::Delimited(b) => println!(
                "  splits        byte ranges of input files, cut after byte {b:#04x}{} (source.max_split_bytes)",
                if b == b'\n' { " (newline)" } else { "" }
            ),
            plugin::Planning::Plugin => println!("  splits        planned by the plugin"),
        }
    } else if d.mergeable {
        println!("  aggregates    yes: runs partial per split, then one final merge");
    }
    if d.capabilities.is_empty() {
        println!("  capabilities  none requested");
    } else {
        for (i, c) in d.capabilities.iter().enumerate() {
            let label = if i == 0 { "capabilities" } else { "" };
            let grant = match c.kind.as_str() {
                "network" => "grants.network",
                "environment" => "grants.env",
                _ => "grants",
            };
            println!("  {label:<12}  {} ({grant}): {}", c.kind, c.reason);
        }
    }
    println!();
    if d.options.is_empty() {
        println!("options: none");
    } else {
        println!("options:");
        let name_w = d.options.iter().map(|o| o.name.len()).max().unwrap_or(0);
        for o in &d.options {
            let default = if o.required {
                "required".to_string()
            } else {
                o.default.as_ref().map_or("optional".to_string(), |v| format!("default {v}"))
            };
            println!("  {:<name_w$}  {}  ({default})", o.name, o.type_name);
            for line in wrap(&o.description, 92) {
                println!("      {line}");
            }
        }
    }
    println!();
    match &outputs {
        Outputs::DependsOnInput => {
            println!(
                "output: one stream named after the stage; its schema depends on the input stream and options"
            )
        }
        Outputs::DependsOnOptions(why) => {
            println!("outputs: {} (schemas depend on options)", d.outputs.join(", "));
            tracing::debug!("no schema without options: {why}");
        }
        Outputs::Known(schemas) => {
            println!("outputs:");
            for (n, schema) in schemas {
                println!("  {n} ({})", columns(schema.fields().len()));
                let w = schema.fields().iter().map(|f| f.name().len()).max().unwrap_or(0);
                for f in schema.fields() {
                    println!(
                        "    {:<w$}  {}{}",
                        f.name(),
                        f.data_type(),
                        if f.is_nullable() { "" } else { " not null" }
                    );
                }
            }
        }
    }
    EXIT_OK
}

/// Splits text into lines of at most `width` characters at spaces.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn balance_over_workers() {
        assert_eq!(worker_imbalance(&[10, 10, 10, 10], 2), 1.0);
        // 9 + 1 vs 5 + 5: largest first to the least busy gives 9 | 5+1+... = 9 vs 6.
        assert!((worker_imbalance(&[9, 5, 1, 1], 2) - 9.0 / 8.0).abs() < 1e-9);
        assert_eq!(worker_imbalance(&[], 4), 1.0);
        // More workers than splits: the fair share is over the splits.
        assert_eq!(worker_imbalance(&[4, 4], 8), 1.0);
    }

    #[test]
    fn descriptions_fit_one_line() {
        assert_eq!(one_line("Reads rows. Then more.", 80), "Reads rows.");
        let long = "Groups rows by the `group_by` columns and computes `aggregates` per group: sum, count";
        let cut = one_line(long, 40);
        assert!(cut.chars().count() <= 40 && cut.ends_with('…'), "{cut}");
        assert_eq!(wrap("a bb ccc dddd", 6), vec!["a bb", "ccc", "dddd"]);
    }

    #[test]
    fn help_parses() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
