//! The validated pipeline: what every stage of the host works from once
//! `pipeline.toml` has been read and checked, and the defaults of every
//! value the file may leave out, each named once in [`defaults`].

use super::Location;
use std::path::PathBuf;
use std::time::Duration;

/// The value of every key a pipeline may leave out. README.md's
/// pipeline.toml reference states the same values.
pub mod defaults {
    use std::time::Duration;

    /// `[stage.limits] memory`: linear memory of one plugin instance.
    pub const MEMORY: u64 = 1 << 30;
    /// `[stage.limits] time`: wall time inside the plugin per split.
    pub const TIME: Duration = Duration::from_secs(600);
    /// `[stage.limits] output_bytes`: what one split may emit.
    pub const OUTPUT_BYTES: u64 = 64 << 30;
    /// `[stage.limits] stack`: the WebAssembly stack.
    pub const STACK: u64 = 1 << 20;
    /// `[source] max_split_bytes`.
    pub const MAX_SPLIT_BYTES: u64 = 64 << 20;
    /// `[side_tables.NAME] max_bytes`.
    pub const SIDE_TABLE_MAX_BYTES: u64 = 256 << 20;
    /// `[sinks.NAME] row_group_rows`.
    pub const ROW_GROUP_ROWS: usize = 1 << 20;
    /// `[sinks.NAME] row_group_bytes`.
    pub const ROW_GROUP_BYTES: usize = 128 << 20;
    /// `[sinks.NAME] target_file_size` (Delta, Parquet folders).
    pub const TARGET_FILE_SIZE: u64 = 128 << 20;
    /// `[run] max_failed_splits`: a fraction of all splits.
    pub const MAX_FAILED_SPLITS_RATIO: f64 = 0.10;
    /// `[run] retries`.
    pub const RETRIES: u32 = 2;
    /// `[run] retry_backoff`: the first wait, doubled per retry.
    pub const RETRY_BACKOFF: Duration = Duration::from_millis(500);
    /// `[run] channel_batches`: batches in flight to the writer.
    pub const CHANNEL_BATCHES: usize = 16;
    /// `[run] max_staged_bytes`: staged in memory before spilling.
    pub const MAX_STAGED_BYTES: u64 = 256 << 20;
}

/// The current (and only) format version.
pub const VERSION: i64 = 1;

/// A validated pipeline.
#[derive(Debug, Clone)]
pub struct Pipeline {
    /// The pipeline file.
    pub file: PathBuf,
    /// Its folder: relative paths resolve against it.
    pub dir: PathBuf,
    pub name: String,
    pub source: SourceStage,
    pub side_tables: Vec<SideTableStage>,
    pub transforms: Vec<TransformStage>,
    pub sinks: Vec<SinkStage>,
    pub run: RunSettings,
}

/// How a stage names its plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PluginRef {
    /// A plugin bundled with (or found on the search path of) the runtime.
    Named(String),
    /// A `.wasm` component file.
    File(PathBuf),
}

impl std::fmt::Display for PluginRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PluginRef::Named(n) => write!(f, "{n}"),
            PluginRef::File(p) => write!(f, "{}", p.display()),
        }
    }
}

/// What every plugin stage has.
#[derive(Debug, Clone)]
pub struct StageCommon {
    /// Where the stage is in the file: `source`, `transforms.labels`,
    /// `side_tables.node_labels`.
    pub id: String,
    pub plugin: PluginRef,
    pub plugin_at: Option<Location>,
    /// The options as a JSON object.
    pub options: String,
    pub options_at: Option<Location>,
    pub limits: Limits,
    pub grants: Grants,
}

/// Resource limits of one plugin stage.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    pub memory: u64,
    pub time: Duration,
    pub fuel: Option<u64>,
    pub output_bytes: u64,
    pub stack: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory: defaults::MEMORY,
            time: defaults::TIME,
            fuel: None,
            output_bytes: defaults::OUTPUT_BYTES,
            stack: defaults::STACK,
        }
    }
}

/// Capabilities granted to one plugin stage.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    /// `host:port` pairs it may connect to.
    pub network: Vec<String>,
    /// Environment variables it may read.
    pub env: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct SourceStage {
    pub common: StageCommon,
    /// Globs as written (relative to `Pipeline::dir`).
    pub inputs: Vec<String>,
    pub inputs_at: Option<Location>,
    /// `inputs_from`: a file listing more inputs.
    pub inputs_from: Option<InputList>,
    pub max_split_bytes: u64,
}

/// A list file of inputs (`[source] inputs_from`), read when inputs are
/// expanded, not while the configuration is checked.
#[derive(Debug, Clone)]
pub struct InputList {
    /// Resolved against the pipeline's folder.
    pub path: PathBuf,
    /// As written.
    pub shown: String,
    pub at: Option<Location>,
}

#[derive(Debug, Clone)]
pub struct SideTableStage {
    pub name: String,
    pub common: StageCommon,
    pub inputs: Vec<String>,
    pub inputs_at: Option<Location>,
    pub output: Option<String>,
    pub max_bytes: u64,
}

#[derive(Debug, Clone)]
pub struct TransformStage {
    pub name: String,
    pub common: StageCommon,
    /// The stream it reads, if named; resolved in `prepare`.
    pub input: Option<String>,
    pub input_at: Option<Location>,
    pub side_tables: Vec<String>,
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SinkFormat {
    /// One Parquet file, written under a temporary name and renamed at the
    /// end of the run.
    ParquetFile,
    /// A folder of Parquet part files with a commit manifest.
    ParquetDir,
    /// A Delta Lake table.
    Delta,
}

impl SinkFormat {
    pub fn name(self) -> &'static str {
        match self {
            SinkFormat::ParquetFile | SinkFormat::ParquetDir => "parquet",
            SinkFormat::Delta => "delta",
        }
    }
}

/// How a run writes into an existing table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    Append,
    Overwrite,
}

/// Settings of table sinks (Delta and Parquet folders).
#[derive(Debug, Clone, PartialEq)]
pub struct TableSettings {
    pub mode: WriteMode,
    pub partition_by: Vec<String>,
    pub target_file_size: u64,
    pub commit_every_splits: Option<u64>,
    pub commit_every_bytes: Option<u64>,
    pub app_id: String,
    pub skip_committed: bool,
    pub add_columns: bool,
}

/// Parquet compression codecs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Snappy,
    Zstd,
    Lz4,
    Gzip,
}

#[derive(Debug, Clone)]
pub struct SinkStage {
    pub name: String,
    pub input: Option<String>,
    pub input_at: Option<Location>,
    pub format: SinkFormat,
    /// Resolved output path.
    pub path: PathBuf,
    /// The path as written in the file (for reports).
    pub path_as_written: String,
    pub compression: Compression,
    pub row_group_rows: usize,
    pub row_group_bytes: usize,
    pub table: TableSettings,
    /// Where `skip_committed` is set, for errors found once the stages are
    /// connected.
    pub skip_committed_at: Option<Location>,
}

/// When a run fails because of failed splits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FailurePolicy {
    /// More than this many failed splits fail the run.
    Count(u64),
    /// More than this fraction (0..=1) of all splits failing fails the run.
    Ratio(f64),
}

impl FailurePolicy {
    /// Whether `failed` of `total` splits is past the policy.
    pub fn exceeded(&self, failed: u64, total: u64) -> bool {
        match *self {
            FailurePolicy::Count(n) => failed > n,
            FailurePolicy::Ratio(r) => total > 0 && failed as f64 > r * total as f64,
        }
    }
}

impl std::fmt::Display for FailurePolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FailurePolicy::Count(n) => write!(f, "{n}"),
            FailurePolicy::Ratio(r) => write!(f, "{}%", r * 100.0),
        }
    }
}

#[derive(Debug, Clone)]
pub struct RunSettings {
    pub workers: usize,
    pub max_failed_splits: FailurePolicy,
    pub retries: u32,
    pub retry_backoff: Duration,
    pub channel_batches: usize,
    pub max_staged_bytes: u64,
    pub quarantine: Option<PathBuf>,
    /// Continue the last run recorded in the sinks (`--resume`).
    pub resume: bool,
}
