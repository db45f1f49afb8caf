//! Preparing a validated pipeline for execution: loading every plugin,
//! checking its options, and connecting the stages into a stream graph with
//! a schema on every stream. `runtime validate` stops here; `runtime run`
//! goes on to execute.
//!
//! Streams are named: a reader's outputs by their output names (`rows`,
//! `messages`), a transform's output by the transform's name. Each transform
//! and sink reads one stream. A transform that aggregates (`mergeable`) runs
//! as a *partial* transformer per split and one *final* transformer; every
//! stream downstream of it is in the final phase.
//!
//! Every stream is then cut to the columns needed downstream
//! ([`projection`]); [`load`] is the front half every command shares.

pub mod load;
pub mod projection;

mod inputs;

use crate::config::diagnostics::did_you_mean;
use crate::config::{
    ConfigError, ConfigErrors, Location, Pipeline, SideTableStage, SinkStage, StageCommon, TransformStage,
};
use crate::ipc;
use crate::plan::{self, PlanError, PlannedFile, PlannedSplit};
use crate::plugin::instance::CallError;
use crate::plugin::reader::Hints;
use crate::plugin::{Kind, LoadedPlugin, Planning, ReaderInstance, Runtime};
use arrow_schema::SchemaRef;
use inputs::{Inputs, list_errors};
use std::sync::Arc;

/// When a stage's data flows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// While splits are read, per split.
    Split,
    /// After all splits, from the final transformers of aggregations.
    Final,
}

/// A named stream of batches with one schema.
#[derive(Debug, Clone)]
pub struct Stream {
    pub name: String,
    /// What flows: the declared schema, projected to the columns needed
    /// downstream.
    pub schema: SchemaRef,
    /// What its producer declared.
    pub declared: SchemaRef,
    pub phase: Phase,
}

/// Who reads a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consumer {
    Transform(usize),
    Sink(usize),
}

#[derive(Clone)]
pub struct PreparedTransform {
    pub stage: TransformStage,
    pub plugin: Arc<LoadedPlugin>,
    /// The stream it reads and the one it writes.
    pub input: usize,
    pub output: usize,
    /// The columns of the input stream it is sent, by index (`None`: all
    /// of them).
    pub sends: Option<Vec<usize>>,
    /// The schema it is opened with: the input stream's, or its projection
    /// to `sends`, as IPC.
    pub input_schema_ipc: Vec<u8>,
    pub mergeable: bool,
    /// The phase it runs in (a mergeable transform's partial half runs in
    /// its input's phase; its final half in `Phase::Final`).
    pub phase: Phase,
}

#[derive(Clone)]
pub struct PreparedSideTable {
    pub stage: SideTableStage,
    pub plugin: Arc<LoadedPlugin>,
    pub output: String,
    pub schema: SchemaRef,
    /// Every output's schema, for `configure`.
    pub schemas: Vec<(String, SchemaRef)>,
    /// Its input files.
    pub files: Vec<PlannedFile>,
    /// Its splits, when the reader plans its own.
    pub plan: Option<Vec<PlannedSplit>>,
    /// Its output's columns as `fields = [...]`, when the reader inferred
    /// them (see [`INFERRED_FIELDS_KEY`]).
    pub inferred: Vec<(String, String)>,
}

#[derive(Clone)]
pub struct PreparedSink {
    pub stage: SinkStage,
    pub input: usize,
}

/// A pipeline with plugins loaded and stages connected.
pub struct Prepared {
    pub pipeline: Pipeline,
    pub source: Arc<LoadedPlugin>,
    pub side_tables: Vec<PreparedSideTable>,
    pub transforms: Vec<PreparedTransform>,
    pub sinks: Vec<PreparedSink>,
    pub streams: Vec<Stream>,
    /// Consumers of each stream, by stream index.
    pub consumers: Vec<Vec<Consumer>>,
    /// The source's output streams, by output name.
    pub source_outputs: Vec<(String, usize)>,
    /// The source's input files.
    pub source_files: Vec<PlannedFile>,
    /// For readers that plan their own splits: the plan made while
    /// preparing, reused by the run.
    pub source_plan: Option<Vec<PlannedSplit>>,
    /// Source outputs whose columns the reader inferred from the inputs, each
    /// with the options that declare them (see [`INFERRED_FIELDS_KEY`]).
    pub source_inferred: Vec<(String, String)>,
}

impl Prepared {
    /// Whether anything runs in the final phase.
    pub fn has_final_phase(&self) -> bool {
        self.transforms.iter().any(|t| t.mergeable || t.phase == Phase::Final)
    }

    /// The schema each source output is configured with (what it emits).
    pub fn source_schemas(&self) -> Vec<(String, SchemaRef)> {
        self.source_outputs.iter().map(|(n, i)| (n.clone(), self.streams[*i].schema.clone())).collect()
    }

    /// The source's splits, largest first: those the plugin planned while
    /// preparing, or the host's plan of the input files.
    pub fn source_splits(&self) -> Vec<PlannedSplit> {
        match &self.source_plan {
            Some(splits) => splits.clone(),
            None => {
                let planning = self.source.description.planning;
                let mut splits =
                    plan::plan_files(&self.source_files, planning, self.pipeline.source.max_split_bytes);
                plan::largest_first(&mut splits);
                splits
            }
        }
    }

    /// The key of each of `splits` (see [`plan::split_key`]).
    pub fn split_keys(&self, splits: &[PlannedSplit]) -> Vec<String> {
        splits
            .iter()
            .map(|s| {
                let file = s.split.input.and_then(|i| self.source_files.get(i as usize));
                plan::split_key(&s.split.id, file.map(|f| f.size))
            })
            .collect()
    }

    /// A fresh source instance, initialised and configured: what every
    /// worker reads with.
    pub fn source_instance(&self, runtime: &Runtime) -> Result<ReaderInstance, CallError> {
        let stage = &self.pipeline.source.common;
        let mut r = runtime.reader(&self.source, stage)?;
        r.init(&stage.options)?;
        r.configure(&self.source_schemas())?;
        Ok(r)
    }
}

/// Turns a plugin's `init` failure into a configuration error at the
/// stage's options.
fn option_error(stage: &StageCommon, e: &CallError) -> ConfigError {
    let message = e.message().to_string();
    let (key, message) = match message.split_once(": ") {
        Some((path, rest)) if is_option_path(path) => {
            (format!("{}.options.{path}", stage.id), rest.to_string())
        }
        _ => (format!("{}.options", stage.id), message),
    };
    let at = stage.options_at.clone().or_else(|| stage.plugin_at.clone());
    ConfigError::new(key, message)
        .at(at)
        .hint(format!("see `runtime plugins inspect {}` for its options", stage.plugin))
}

fn is_option_path(p: &str) -> bool {
    !p.is_empty() && !p.contains(' ') && p.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
}

fn stage_error(stage: &StageCommon, message: impl Into<String>) -> ConfigError {
    ConfigError::new(format!("{}.plugin", stage.id), message).at(stage.plugin_at.clone())
}

/// Loads the plugins and connects the stages, collecting every problem.
pub fn prepare(pipeline: Pipeline, runtime: &Runtime) -> Result<Prepared, ConfigErrors> {
    let mut errors = ConfigErrors::default();
    let mut streams: Vec<Stream> = Vec::new();
    let workers = pipeline.run.workers as u32;

    // The source.
    let src = &pipeline.source;
    let hints = Hints { max_split_bytes: src.max_split_bytes, workers };
    let started = start_reader(
        runtime,
        &pipeline,
        &src.common,
        Inputs { globs: &src.inputs, at: &src.inputs_at, list: src.inputs_from.as_ref() },
        hints,
        "the source",
    );
    let StartedReader { plugin: source, files: source_files, schemas: outs, plan: source_plan, inferred } =
        match started {
            Ok(s) => s,
            Err(e) => {
                errors.0.extend(e.0);
                return Err(errors);
            }
        };
    let mut source_outputs = Vec::new();
    for (name, schema) in outs {
        source_outputs.push((name.clone(), streams.len()));
        streams.push(Stream { name, schema: schema.clone(), declared: schema, phase: Phase::Split });
    }
    if src.inputs.is_empty() && src.inputs_from.is_none() && source.description.planning != Planning::Plugin {
        errors.push(
            ConfigError::new(
                "source.inputs",
                format!("the `{}` reader needs input files", source.description.name),
            )
            .at(src.common.plugin_at.clone())
            .hint("add inputs = [\"data/*.ext\"]"),
        );
    }

    // Side tables: readers too, read whole.
    let mut side_tables = Vec::new();
    for st in &pipeline.side_tables {
        let c = &st.common;
        let hints = Hints { max_split_bytes: u64::MAX, workers: 1 };
        let started = match start_reader(
            runtime,
            &pipeline,
            c,
            Inputs { globs: &st.inputs, at: &st.inputs_at, list: None },
            hints,
            "a side table",
        ) {
            Ok(s) => s,
            Err(e) => {
                errors.0.extend(e.0);
                continue;
            }
        };
        let outs = &started.schemas;
        let chosen = match &st.output {
            Some(name) => outs.iter().find(|(n, _)| n == name),
            None if outs.len() == 1 => outs.first(),
            None => None,
        };
        match chosen {
            Some((name, schema)) => side_tables.push(PreparedSideTable {
                stage: st.clone(),
                plugin: started.plugin.clone(),
                output: name.clone(),
                schema: schema.clone(),
                schemas: started.schemas.clone(),
                files: started.files,
                plan: started.plan,
                inferred: started.inferred.iter().filter(|(o, _)| o == name).cloned().collect(),
            }),
            None => errors.push(
                ConfigError::new(format!("{}.output", c.id), "choose which output of the reader to use")
                    .at(c.plugin_at.clone())
                    .hint(format!(
                        "outputs: {}",
                        outs.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", ")
                    )),
            ),
        }
    }

    // Transforms, in order; each adds a stream named after it.
    let mut transforms: Vec<PreparedTransform> = Vec::new();
    // Transforms that failed: a stage reading their stream is not told
    // again that the stream does not exist.
    let mut broken: Vec<String> = Vec::new();
    // The input columns each transform reads, by name (`None`: all).
    let mut reads: Vec<Option<Vec<String>>> = Vec::new();
    for (i, t) in pipeline.transforms.iter().enumerate() {
        let c = &t.common;
        let default_input = match i {
            0 if source_outputs.len() == 1 => Some(source_outputs[0].0.clone()),
            0 => None,
            _ => Some(pipeline.transforms[i - 1].name.clone()),
        };
        let Some(input) = resolve_input(
            &mut errors,
            &format!("{}.input", c.id),
            t.input.as_deref(),
            t.input_at.clone().or(c.plugin_at.clone()),
            default_input,
            &streams,
            &broken,
        ) else {
            broken.push(t.name.clone());
            continue;
        };
        if streams.iter().any(|s| s.name == t.name) {
            errors.push(
                ConfigError::new(
                    format!("{}.name", c.id),
                    format!("a stream named `{}` already exists", t.name),
                )
                .at(c.plugin_at.clone())
                .hint("transform names must differ from the reader's output names"),
            );
            continue;
        }
        let plugin = match runtime.load(&c.plugin) {
            Ok(p) => p,
            Err(e) => {
                errors.push(stage_error(c, e.to_string()));
                broken.push(t.name.clone());
                continue;
            }
        };
        if plugin.description.kind != Kind::Transform {
            errors.push(stage_error(c, format!("`{}` is a reader, not a transform", c.plugin)));
            broken.push(t.name.clone());
            continue;
        }
        let placeholders: Vec<(String, Vec<Vec<u8>>)> = t
            .side_tables
            .iter()
            .filter_map(|n| side_tables.iter().find(|s| &s.stage.name == n))
            .map(|s| (s.stage.name.clone(), vec![ipc::encode_schema(&s.schema).unwrap_or_default()]))
            .collect();
        let input_schema = streams[input].schema.clone();
        let connected = runtime.transform(&plugin, c).and_then(|mut tr| {
            tr.init(&c.options, &placeholders)?;
            let output = tr.output_schema(&input_schema)?;
            let columns = tr.input_columns(&input_schema)?;
            Ok((output, columns))
        });
        let (output_schema, columns) = match connected {
            Ok(x) => x,
            Err(e @ CallError::Plugin { .. }) => {
                errors.push(option_error(c, &e));
                broken.push(t.name.clone());
                continue;
            }
            Err(e) => {
                errors.push(stage_error(c, format!("plugin failed to start: {e}")));
                broken.push(t.name.clone());
                continue;
            }
        };
        if let Some(cols) = &columns
            && let Some(missing) = cols.iter().find(|n| input_schema.index_of(n).is_err())
        {
            errors.push(stage_error(
                c,
                format!(
                    "the plugin reads column `{missing}`, which stream `{}` does not have",
                    streams[input].name
                ),
            ));
            broken.push(t.name.clone());
            continue;
        }
        let mergeable = plugin.description.mergeable;
        let input_phase = streams[input].phase;
        let output_phase = if mergeable { Phase::Final } else { input_phase };
        let output = streams.len();
        streams.push(Stream {
            name: t.name.clone(),
            schema: output_schema.clone(),
            declared: output_schema,
            phase: output_phase,
        });
        reads.push(columns);
        transforms.push(PreparedTransform {
            stage: t.clone(),
            plugin,
            input,
            output,
            sends: None,
            input_schema_ipc: Vec::new(),
            mergeable,
            phase: input_phase,
        });
    }

    // Sinks.
    let mut sinks = Vec::new();
    for s in &pipeline.sinks {
        let default = match pipeline.transforms.last() {
            Some(t) => Some(t.name.clone()),
            None if source_outputs.len() == 1 => Some(source_outputs[0].0.clone()),
            None => None,
        };
        let id = format!("sinks.{}.input", s.name);
        if let Some(input) = resolve_input(
            &mut errors,
            &id,
            s.input.as_deref(),
            s.input_at.clone(),
            default,
            &streams,
            &broken,
        ) {
            if s.table.skip_committed && streams[input].phase == Phase::Final {
                // The aggregate of only the new inputs is not the aggregate.
                errors.push(
                    ConfigError::new(
                        format!("sinks.{}.skip_committed", s.name),
                        format!(
                            "`{}` aggregates over every split, so skipping the splits earlier runs committed would write an aggregate of the new inputs only",
                            streams[input].name
                        ),
                    )
                    .at(s.skip_committed_at.clone())
                    .hint("remove skip_committed: each run recomputes the aggregate over all inputs (mode = \"overwrite\" replaces the table with it)"),
                );
            }
            sinks.push(PreparedSink { stage: s.clone(), input });
        }
    }

    let mut consumers = vec![Vec::new(); streams.len()];
    for (i, t) in transforms.iter().enumerate() {
        consumers[t.input].push(Consumer::Transform(i));
    }
    for (i, s) in sinks.iter().enumerate() {
        consumers[s.input].push(Consumer::Sink(i));
    }
    if errors.0.is_empty() {
        projection::project(&mut streams, &consumers, &mut transforms, &reads);
    }
    errors.into_result(Prepared {
        pipeline,
        source,
        side_tables,
        transforms,
        sinks,
        streams,
        consumers,
        source_outputs,
        source_files,
        source_inferred: inferred,
        source_plan,
    })
}

type Schemas = Vec<(String, SchemaRef)>;

/// A reader stage ready to run: its plugin, its input files, the schema of
/// each output and, when it plans its own splits, the plan.
struct StartedReader {
    plugin: Arc<LoadedPlugin>,
    files: Vec<PlannedFile>,
    schemas: Schemas,
    plan: Option<Vec<PlannedSplit>>,
    inferred: Vec<(String, String)>,
}

/// The schema-level metadata key under which a reader that inferred an
/// output's columns from its inputs (`ndjson`, `csv` without `fields`)
/// hands back the options that declare them, as TOML (`fields = [...]`).
/// The host prints them (`runtime validate`, `runtime plan`) so users can
/// paste them into the pipeline, and takes the key off the schema: it is a
/// message to the user, not part of the data.
pub const INFERRED_FIELDS_KEY: &str = "runtime.inferred-fields";

/// Takes the inferred-columns note (see [`INFERRED_FIELDS_KEY`]) off each
/// schema: the schemas without it, and the notes by output.
fn take_inferred(schemas: Schemas) -> (Schemas, Vec<(String, String)>) {
    let mut notes = Vec::new();
    let schemas = schemas
        .into_iter()
        .map(|(name, schema)| match schema.metadata().get(INFERRED_FIELDS_KEY) {
            Some(note) => {
                notes.push((name.clone(), note.clone()));
                let mut metadata = schema.metadata().clone();
                metadata.remove(INFERRED_FIELDS_KEY);
                let plain = arrow_schema::Schema::new_with_metadata(schema.fields().clone(), metadata);
                (name, Arc::new(plain))
            }
            None => (name, schema),
        })
        .collect();
    (schemas, notes)
}

/// Starts a reader stage: loads the plugin, checks it is a reader, checks
/// its options (`init`), expands its inputs, asks for its output schemas
/// (`discover`, which may read the inputs) and, for a reader that plans its
/// own splits, plans. A 0.1.0 reader that plans learns its schema while
/// planning (the 0.1.0 `sql` reads it from the SQLite file), so it plans
/// first.
#[allow(clippy::result_large_err)] // one error per pipeline, on the cold path
fn start_reader(
    runtime: &Runtime,
    pipeline: &Pipeline,
    c: &StageCommon,
    inputs: Inputs<'_>,
    hints: Hints,
    role: &str,
) -> Result<StartedReader, ConfigErrors> {
    let plugin = runtime.load(&c.plugin).map_err(|e| stage_error(c, e.to_string()))?;
    if plugin.description.kind != Kind::Reader {
        return Err(stage_error(c, format!("`{}` is a transform; {role} needs a reader", c.plugin)).into());
    }
    let mut found = plan::Files::new(&pipeline.dir);
    let mut errors = ConfigErrors::default();
    for g in inputs.globs {
        // Globs that match nothing are configuration problems, found
        // before anything runs.
        if let Err(m) = found.add_glob(&pipeline.dir, g) {
            errors.push(
                ConfigError::new(format!("{}.inputs", c.id), m.to_string())
                    .at(inputs.at.clone())
                    .hint("paths and globs are relative to the pipeline file's folder"),
            );
        }
    }
    if let Some(list) = inputs.list
        && let Err(e) = plan::list::add_list(&mut found, &list.path, &list.shown)
    {
        list_errors(&mut errors, pipeline, list, e);
    }
    if !errors.0.is_empty() {
        return Err(errors);
    }
    let files = found.finish();
    let mut reader =
        runtime.reader(&plugin, c).and_then(|mut r| r.init(&c.options).map(|_| r)).map_err(|e| match e {
            CallError::Plugin { .. } => option_error(c, &e),
            e => stage_error(c, format!("plugin failed to start: {e}")),
        })?;
    let plans = plugin.description.planning == Planning::Plugin;
    let plan_error = |e: PlanError| match e {
        PlanError::Plugin(call @ CallError::Plugin { .. }) => option_error(c, &call),
        other => stage_error(c, other.to_string()),
    };
    let mut planned = None;
    if plans && reader.is_v1() {
        planned = Some(plan::plan_splits(&mut reader, &plugin, &files, hints).map_err(plan_error)?);
    }
    let (infos, views) = plan::lazy_inputs(&files);
    let schemas = reader.discover(&infos, views).map_err(|e| match e {
        CallError::Plugin { .. } => option_error(c, &e),
        e => stage_error(c, format!("cannot get the output schemas: {e}")),
    })?;
    let (schemas, inferred) = take_inferred(schemas);
    if plans && planned.is_none() {
        reader.configure(&schemas).map_err(|e| stage_error(c, format!("configure failed: {e}")))?;
        planned = Some(plan::plan_splits(&mut reader, &plugin, &files, hints).map_err(plan_error)?);
    }
    Ok(StartedReader { plugin, files, schemas, plan: planned, inferred })
}

fn resolve_input(
    errors: &mut ConfigErrors,
    key: &str,
    named: Option<&str>,
    at: Option<Location>,
    default: Option<String>,
    streams: &[Stream],
    broken: &[String],
) -> Option<usize> {
    let known: Vec<&str> = streams.iter().map(|s| s.name.as_str()).collect();
    let Some(name) = named.map(str::to_string).or(default) else {
        errors.push(
            ConfigError::new(key, "say which stream this stage reads")
                .at(at)
                .hint(format!("set input to one of: {}", known.join(", "))),
        );
        return None;
    };
    match streams.iter().position(|s| s.name == name) {
        Some(i) => Some(i),
        // Its transform failed, and said why.
        None if broken.contains(&name) => None,
        None => {
            let hint = match did_you_mean(&name, known.iter().copied()) {
                Some(m) => format!("did you mean `{m}`?"),
                None => format!(
                    "streams defined before this stage: {}",
                    if known.is_empty() { "none".to_string() } else { known.join(", ") }
                ),
            };
            errors.push(ConfigError::new(key, format!("no stream named `{name}`")).at(at).hint(hint));
            None
        }
    }
}
