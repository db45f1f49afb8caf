//! The command line: `run`, `commit`, `validate`, `plan`, `report`,
//! `new-plugin`, `plugins list|inspect|build`, one module per command over
//! the library. Every
//! pipeline command loads configuration through the same code
//! ([`crate::prepare::load`]), so `validate` reports exactly what `run`
//! would refuse, and all of them exit 2 on any configuration problem.
//!
//! Output conventions ([`output`]): results go to stdout (`validate`'s OK,
//! `plan`, `plugins`), diagnostics, progress and the run summary to stderr.
//! Colors only on a terminal and never with `NO_COLOR`; `--log-format json`
//! turns logs, configuration errors and plain progress lines into JSON
//! objects.

mod commit;
mod new_plugin;
mod output;
mod plan;
mod plugins;
mod report;
mod run;
mod validate;

use crate::config::Override;
use crate::exec::RunOptions;
use crate::report::Exit;
use clap::{Parser, Subcommand, ValueEnum};
use output::Out;
use std::io::IsTerminal;
use std::path::PathBuf;

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
  runtime run pipeline.toml --splits part.json --stage-only staging
  runtime commit pipeline.toml staging/*/manifest.json
  runtime report run.json --html run.html
  runtime plugins list
  runtime plugins inspect ndjson
  runtime new-plugin my-reader --kind reader --lang python && runtime plugins build my-reader

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
        /// Write the run report as a self-contained HTML page (timeline, balance, failures).
        #[arg(long, value_name = "FILE.html")]
        report_html: Option<PathBuf>,
        /// Override a pipeline value (a TOML value; repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        overrides: Vec<Override>,
        /// Print nothing but errors (no progress, no summary unless the run fails).
        #[arg(long, short = 'q')]
        quiet: bool,
        /// Continue an interrupted run: keep what its outputs already committed.
        #[arg(long)]
        resume: bool,
        /// Run only the splits listed in FILE: the JSON of `runtime plan --json`
        /// (checked against its fingerprint) or one split id per line.
        #[arg(long, value_name = "FILE")]
        splits: Option<PathBuf>,
        /// Write the sinks' data files under DIR/ATTEMPT/ with a manifest, without
        /// committing them (for `runtime commit`; Delta tables and Parquet folders).
        #[arg(long, value_name = "DIR")]
        stage_only: Option<PathBuf>,
        /// With --stage-only: this attempt's name, its folder under DIR (default: a new UUID).
        #[arg(long, value_name = "NAME", requires = "stage_only")]
        attempt: Option<String>,
        /// With --stage-only: the distributed run the attempt belongs to (default:
        /// derived from the plan's fingerprint, the same for every attempt of the plan).
        #[arg(long, value_name = "ID", requires = "stage_only")]
        run_id: Option<String>,
        /// Keep the side tables read in DIR and load them from there in later runs
        /// while their inputs, options and plugin are unchanged (one read per machine).
        #[arg(long, value_name = "DIR")]
        side_table_cache: Option<PathBuf>,
    },
    /// Commit staged attempts (`run --stage-only`): exactly their files, one commit per sink.
    #[command(after_help = commit_help())]
    Commit {
        /// The pipeline file (the one the attempts were staged with).
        pipeline: PathBuf,
        /// The attempts' manifests (DIR/ATTEMPT/manifest.json), one per task.
        #[arg(value_name = "MANIFEST", required = true)]
        manifests: Vec<PathBuf>,
        /// After committing, remove every attempt folder left in DIR (failed, losing and
        /// speculative attempts).
        #[arg(long, value_name = "DIR")]
        clean: Option<PathBuf>,
        /// Load the pipeline as `run --set` would see it.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        overrides: Vec<Override>,
        /// Print what was committed as JSON on stdout.
        #[arg(long)]
        json: bool,
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
        /// Also draw the planned splits, per worker, as a self-contained HTML page.
        #[arg(long, value_name = "FILE.html")]
        html: Option<PathBuf>,
        /// Workers to estimate the balance for (default: run.workers).
        #[arg(long, short = 'w', value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
        workers: Option<u16>,
        /// Plan the pipeline as `run --set` would see it.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        overrides: Vec<Override>,
    },
    /// Show a JSON run report again: its summary, or its HTML page with --html.
    #[command(after_help = report_help())]
    Report {
        /// A report written by `runtime run --report`.
        #[arg(value_name = "RUN.json")]
        report: PathBuf,
        /// Write the self-contained HTML page (timeline, balance, failures, outputs) here.
        #[arg(long, value_name = "FILE.html")]
        html: Option<PathBuf>,
    },
    /// Start a plugin project (Rust or Python): code, a test, a sample pipeline.
    #[command(after_help = new_plugin_help())]
    NewPlugin {
        /// The plugin's name: lowercase letters, digits and `-` (for example `my-reader`).
        name: String,
        /// What the plugin is.
        #[arg(long, value_enum)]
        kind: KindArg,
        /// The language to write it in.
        #[arg(long, value_enum)]
        lang: LangArg,
        /// The project folder to create (default: ./NAME); it must not exist or be empty.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// List, inspect or build plugins.
    #[command(subcommand)]
    Plugins(PluginsCommand),
}

#[derive(Clone, Copy, ValueEnum)]
enum KindArg {
    Reader,
    Transform,
}

#[derive(Clone, Copy, ValueEnum)]
enum LangArg {
    Rust,
    Python,
}

const fn new_plugin_help() -> &'static str {
    "Examples:
  runtime new-plugin my-reader --kind reader --lang python
  runtime new-plugin my-transform --kind transform --lang rust --dir plugins/my-transform

Then `runtime plugins build DIR` builds it and `runtime run DIR/pipeline.toml` runs it on
sample data. The reader starts as a reader of `key = value` lines; the transform passes
batches through unchanged. Rust needs `rustup target add wasm32-wasip2`; Python needs
`pip install componentize-py==0.25.1`.
Exit status: 0 created, 2 bad name or the folder is in use, 1 it could not be written."
}

const fn run_help() -> &'static str {
    "Examples:
  runtime run examples/pod-usage/pipeline.toml
  runtime run pipeline.toml --workers 4 --report run.json
  runtime run pipeline.toml --report-html run.html   # open it in a browser
  runtime run pipeline.toml --set run.max_failed_splits='\"5%\"' --set run.retries=0
  runtime run pipeline.toml --quiet || cat run.json
  runtime run pipeline.toml --resume
  runtime plan pipeline.toml --json > plan.json && runtime run pipeline.toml --splits plan.json
  runtime run pipeline.toml --splits part-1.json --stage-only staging --attempt part-1-a0

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

const fn commit_help() -> &'static str {
    "Examples:
  runtime plan pipeline.toml --json > plan.json          # split plan.json's splits over tasks
  runtime run pipeline.toml --splits task-1.json --stage-only staging --attempt task-1-a0
  runtime run pipeline.toml --splits task-2.json --stage-only staging --attempt task-2-a0
  runtime commit pipeline.toml staging/task-*-a0/manifest.json --clean staging

Each sink gets one commit (a Delta version with a txn action, or a Parquet-folder manifest
commit) of exactly the listed attempts' files, recording the run id and the splits as
`runtime run` does. Attempts whose splits the table already holds for this run are not
committed again (\"nothing to commit\"); two attempts of the same split are refused.
The attempts' folders are removed once committed; --clean removes every other one.
Exit status: 0 committed (or nothing to commit), 1 too many failed splits or a table
failed, 2 bad configuration or manifests that cannot be committed together."
}

const fn report_help() -> &'static str {
    "Examples:
  runtime report run.json                  # the run's summary again
  runtime report run.json --html run.html  # the page: open run.html in a browser

The page is one file with no external resources (it loads nothing, scripts are optional):
a timeline with a lane per worker and a bar per split, split size against duration, the
plan's balance beside the measured one, where time went, failures, rejects and outputs.
Exit status: 0 ok, 1 the page could not be written, 2 not a readable report."
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
  runtime plan pipeline.toml --html plan.html   # the splits drawn per worker

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
    /// Build a plugin project (made by `runtime new-plugin`) into DIR/build/NAME.wasm.
    #[command(after_help = "Examples:\n  runtime plugins build my-reader\n  \
runtime plugins build . && runtime run pipeline.toml\n\n\
Rust projects build with cargo (wasm32-wasip2, release), Python projects with componentize-py.\n\
The component's path is printed on stdout; the tools' messages go to stderr. The result is\n\
loaded once, which checks it and compiles it into the cache (RUNTIME_CACHE_DIR).\n\
Exit status: 0 built, 1 the build failed, 2 not a plugin project or a tool is missing.")]
    Build {
        /// The project folder (holding plugin.toml).
        #[arg(value_name = "DIR", default_value = ".")]
        dir: PathBuf,
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
    crate::panics::install_hook();
    i32::from(dispatch())
}

fn dispatch() -> Exit {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { Exit::Config } else { Exit::Ok };
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
        Command::Run {
            pipeline,
            workers,
            report,
            report_html,
            mut overrides,
            quiet,
            resume,
            splits,
            stage_only,
            attempt,
            run_id,
            side_table_cache,
        } => {
            let splits = match splits.as_deref().map(run::read_splits).transpose() {
                Ok(s) => s,
                Err(e) => {
                    out.error_with_hint(
                        &e,
                        "write one split id per line, or save the output of `runtime plan --json`",
                    );
                    return Exit::Config;
                }
            };
            let stage =
                match stage_only.map(|dir| run::stage_target(dir, attempt, run_id, resume)).transpose() {
                    Ok(s) => s,
                    Err((e, hint)) => {
                        out.error_with_hint(&e, hint);
                        return Exit::Config;
                    }
                };
            if stage.is_some() {
                // An attempt stages every split that succeeds; the failed
                // ones are counted against run.max_failed_splits over the
                // whole plan by `runtime commit`.
                overrides.push(Override { key: "run.max_failed_splits".into(), value: "\"100%\"".into() });
            }
            let options = RunOptions {
                workers: workers.map(usize::from),
                resume,
                splits,
                stage,
                merge: None,
                side_table_cache,
            };
            let files = run::ReportFiles { json: report.as_deref(), html: report_html.as_deref() };
            run::run(&out, &pipeline, options, files, &overrides, quiet)
        }
        Command::Commit { pipeline, manifests, clean, overrides, json } => {
            commit::commit(&out, &pipeline, &manifests, clean.as_deref(), &overrides, json)
        }
        Command::Report { report, html } => report::report(&out, &report, html.as_deref()),
        Command::Validate { pipeline, overrides } => validate::validate(&out, &pipeline, &overrides),
        Command::Plan { pipeline, json, html, workers, overrides } => {
            plan::plan(&out, &pipeline, json, html.as_deref(), workers.map(usize::from), &overrides)
        }
        Command::Plugins(PluginsCommand::List { json }) => plugins::plugins_list(json),
        Command::Plugins(PluginsCommand::Inspect { plugin, json }) => plugins::plugins_inspect(&plugin, json),
        Command::Plugins(PluginsCommand::Build { dir }) => new_plugin::build(&out, &dir),
        Command::NewPlugin { name, kind, lang, dir } => {
            let kind = match kind {
                KindArg::Reader => crate::plugin::Kind::Reader,
                KindArg::Transform => crate::plugin::Kind::Transform,
            };
            let language = match lang {
                LangArg::Rust => crate::project::Lang::Rust,
                LangArg::Python => crate::project::Lang::Python,
            };
            new_plugin::new_plugin(&out, crate::project::Manifest { name, kind, language }, dir)
        }
    });
    result.unwrap_or_else(|_| {
        eprintln!(
            "internal error: the runtime panicked (this is a bug; please report it with the message above)"
        );
        Exit::Internal
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_parses() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
