//! The first stage of configuration: `pipeline.toml` exactly as written.
//!
//! These structs mirror the file one to one, reject unknown keys, and keep
//! the spans of values that later checks may need to point at. Nothing here
//! resolves paths, plugins or defaults: that is [`super::validate`]'s job.
//! The doc comments on the fields are the reference for users (see
//! README "pipeline.toml reference").

use crate::units::{ByteSize, Span};
use indexmap::IndexMap;
use serde::Deserialize;
use toml::Spanned;

/// A whole pipeline file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPipeline {
    /// Format version of this file. Always `1` for now.
    pub version: Spanned<i64>,
    /// A name for reports; defaults to the file name.
    #[serde(default)]
    pub name: Option<String>,
    /// The reader that produces the data.
    pub source: Spanned<RawSource>,
    /// Small lookup tables, read once before the run and handed to transforms.
    #[serde(default)]
    pub side_tables: IndexMap<String, Spanned<RawSideTable>>,
    /// Transforms, applied in order (each reads the previous stage's output
    /// unless it names its `input`).
    #[serde(default)]
    pub transforms: Vec<Spanned<RawTransform>>,
    /// Where results go, by output name.
    #[serde(default)]
    pub sinks: IndexMap<String, Spanned<RawSink>>,
    /// Execution settings.
    #[serde(default)]
    pub run: Option<Spanned<RawRun>>,
}

/// One string or a list of strings.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub fn to_vec(&self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s.clone()],
            OneOrMany::Many(v) => v.clone(),
        }
    }
}

/// The reader stage.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSource {
    /// A bundled plugin name (`ndjson`) or a path to a `.wasm` component.
    pub plugin: Spanned<String>,
    /// Input files: paths or globs, relative to the pipeline file.
    #[serde(default)]
    pub inputs: Option<Spanned<OneOrMany>>,
    /// A text file listing more inputs, one path or glob per line (relative
    /// to the list file's folder; `#` comments and blank lines skipped).
    #[serde(default)]
    pub inputs_from: Option<Spanned<String>>,
    /// Plugin options, checked by the plugin itself.
    #[serde(default)]
    pub options: Option<Spanned<toml::Table>>,
    /// Largest byte range of one file per split, for readers that allow
    /// cutting files (ndjson). Default 64 MiB.
    #[serde(default)]
    pub max_split_bytes: Option<Spanned<ByteSize>>,
    #[serde(default)]
    pub limits: Option<Spanned<RawLimits>>,
    #[serde(default)]
    pub grants: Option<Spanned<RawGrants>>,
}

/// A side table: read with a reader plugin before the run.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSideTable {
    pub plugin: Spanned<String>,
    #[serde(default)]
    pub inputs: Option<Spanned<OneOrMany>>,
    #[serde(default)]
    pub options: Option<Spanned<toml::Table>>,
    /// Which output of the reader to keep, when it has several.
    #[serde(default)]
    pub output: Option<Spanned<String>>,
    /// Largest accepted size of the table in memory. Default 256 MiB.
    #[serde(default)]
    pub max_bytes: Option<Spanned<ByteSize>>,
    #[serde(default)]
    pub limits: Option<Spanned<RawLimits>>,
    #[serde(default)]
    pub grants: Option<Spanned<RawGrants>>,
}

/// A transform stage.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTransform {
    /// Name of the stage; also the name of its output stream.
    pub name: Spanned<String>,
    pub plugin: Spanned<String>,
    /// The stream it reads: a source output or an earlier transform's name.
    #[serde(default)]
    pub input: Option<Spanned<String>>,
    #[serde(default)]
    pub options: Option<Spanned<toml::Table>>,
    /// Side tables handed to this transform.
    #[serde(default)]
    pub side_tables: Vec<Spanned<String>>,
    #[serde(default)]
    pub limits: Option<Spanned<RawLimits>>,
    #[serde(default)]
    pub grants: Option<Spanned<RawGrants>>,
}

/// A sink.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSink {
    /// The stream it writes: a source output or a transform's name.
    #[serde(default)]
    pub input: Option<Spanned<String>>,
    /// `parquet` or `delta`.
    pub format: Spanned<String>,
    /// Relative to the pipeline file. Parquet: a path ending in `.parquet`
    /// is one file written at the end of the run; any other path is a
    /// folder of part files with a commit manifest (resumable). Delta: the
    /// table folder.
    pub path: Spanned<String>,
    /// `append` (default for tables) or `overwrite` (replace the contents,
    /// in one commit at the end of the run).
    #[serde(default)]
    pub mode: Option<Spanned<String>>,
    /// Delta: partition columns.
    #[serde(default)]
    pub partition_by: Vec<Spanned<String>>,
    /// Tables: data files roll over at about this size. Default 128 MiB.
    #[serde(default)]
    pub target_file_size: Option<Spanned<ByteSize>>,
    /// Tables: commit every N splits, so a long run's progress is durable
    /// (default: one commit at the end).
    #[serde(default)]
    pub commit_every_splits: Option<Spanned<u64>>,
    /// Tables: commit whenever this much data is waiting.
    #[serde(default)]
    pub commit_every_bytes: Option<Spanned<ByteSize>>,
    /// Tables: the application id recorded with every commit (Delta `txn`).
    /// Default `runtime/<pipeline name>/<sink name>`.
    #[serde(default)]
    pub app_id: Option<Spanned<String>>,
    /// Tables: skip splits that earlier runs of this pipeline already
    /// committed (incremental loads, idempotent re-runs).
    #[serde(default)]
    pub skip_committed: Option<Spanned<bool>>,
    /// Tables: `strict` (default: the schema must match the table's) or
    /// `add_columns` (new nullable columns are added to the table).
    #[serde(default)]
    pub schema_evolution: Option<Spanned<String>>,
    /// Parquet compression: `none`, `snappy` (default), `zstd`, `lz4`, `gzip`.
    #[serde(default)]
    pub compression: Option<Spanned<String>>,
    /// Rows per Parquet row group. Default 1,048,576.
    #[serde(default)]
    pub row_group_rows: Option<Spanned<u64>>,
    /// Bytes per Parquet row group (the writer holds one row group in
    /// memory). Default 128 MiB.
    #[serde(default)]
    pub row_group_bytes: Option<Spanned<ByteSize>>,
}

/// Per-plugin resource limits.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLimits {
    /// Largest linear memory of the plugin. Default 1 GiB.
    pub memory: Option<Spanned<ByteSize>>,
    /// Wall time one split may spend inside the plugin. Default 10 min.
    pub time: Option<Spanned<Span>>,
    /// Instruction budget per split (wasmtime fuel); off by default.
    pub fuel: Option<Spanned<u64>>,
    /// Bytes one split may emit. Default 64 GiB.
    pub output_bytes: Option<Spanned<ByteSize>>,
    /// Largest WebAssembly stack. Default 1 MiB.
    pub stack: Option<Spanned<ByteSize>>,
}

/// Capabilities granted to a plugin. Everything not granted is denied.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGrants {
    /// `host:port` pairs the plugin may open TCP connections to.
    #[serde(default)]
    pub network: Vec<Spanned<String>>,
    /// Environment variables the plugin may read.
    #[serde(default)]
    pub env: Vec<Spanned<String>>,
}

/// Execution settings.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRun {
    /// Worker threads. Default: the number of CPUs.
    pub workers: Option<Spanned<u64>>,
    /// How many splits may fail before the run fails: a count (`3`) or a
    /// percentage of all splits (`"10%"`). Default `"10%"`.
    pub max_failed_splits: Option<Spanned<toml::Value>>,
    /// Attempts after the first for splits failing with a retryable error.
    /// Default 2.
    pub retries: Option<Spanned<u64>>,
    /// Wait before the first retry; doubles each time. Default 500 ms.
    pub retry_backoff: Option<Spanned<Span>>,
    /// Capacity of the channel to the writer, in batches. Default 16.
    pub channel_batches: Option<Spanned<u64>>,
    /// Output of unfinished splits held in memory before spilling to disk.
    /// Default 256 MiB.
    pub max_staged_bytes: Option<Spanned<ByteSize>>,
    /// Continue the last run recorded in the sinks' tables, skipping the
    /// splits it already committed (same as `runtime run --resume`).
    pub resume: Option<Spanned<bool>>,
    /// Folder that receives a list of failed inputs (`failed-inputs.tsv`)
    /// and copies of the failed input files, relative to the pipeline file.
    pub quarantine: Option<Spanned<String>>,
}
