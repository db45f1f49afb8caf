//! `pipeline.toml`: loading, overriding and validating a pipeline.
//!
//! Configuration goes through two stages, and no code past this module sees
//! raw TOML:
//!
//! 1. [`raw`]: serde structs that mirror the file and reject unknown keys.
//!    A syntax error or an unknown key stops here, pointing at the line and
//!    column and suggesting the nearest known key.
//! 2. [`validate`]: checks every value, resolves paths against the pipeline
//!    file's folder and plugin references against the bundled plugins, fills
//!    in defaults, and collects *every* problem before failing.
//!
//! Checks that need the plugins themselves (options, schemas, how streams
//! connect) happen in [`crate::prepare`], shared by `validate` and `run`.

pub mod error;
pub mod raw;

pub use error::{ConfigError, ConfigErrors, Location, SourceMap};

use error::did_you_mean;
use raw::{OneOrMany, RawGrants, RawLimits, RawPipeline};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml::Spanned;

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
            memory: 1 << 30,
            time: Duration::from_secs(600),
            fuel: None,
            output_bytes: 64 << 30,
            stack: 1 << 20,
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
    pub max_split_bytes: u64,
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

/// One `--set key=value` override.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Override {
    pub key: String,
    pub value: String,
}

impl std::str::FromStr for Override {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (key, value) =
            s.split_once('=').ok_or_else(|| format!("`{s}` is not key=value (e.g. run.workers=4)"))?;
        if key.trim().is_empty() {
            return Err(format!("`{s}` has an empty key"));
        }
        Ok(Override { key: key.trim().to_string(), value: value.trim().to_string() })
    }
}

/// Loads and validates a pipeline file, applying `--set` overrides first.
pub fn load(file: &Path, overrides: &[Override]) -> Result<Pipeline, ConfigErrors> {
    let text = std::fs::read_to_string(file).map_err(|e| {
        ConfigError::new("", format!("cannot read pipeline file {}: {e}", file.display()))
            .hint("check the path; pipeline files are TOML")
    })?;
    let edited = apply_overrides(&text, overrides)?;
    parse(file, &edited).map_err(|mut errors| {
        // A value given with --set is not in the file: say so rather than
        // point at a line the user never wrote.
        for e in &mut errors.0 {
            if let Some(o) =
                overrides.iter().find(|o| e.key == o.key || e.key.starts_with(&format!("{}.", o.key)))
            {
                e.location = None;
                e.message = format!("{} (from --set {}={})", e.message, o.key, o.value);
            }
        }
        errors
    })
}

/// Validates pipeline text as if it were read from `file`.
///
/// Serde stops at the first problem, so when a key is unknown or a value
/// has the wrong type, that entry is blanked out (replaced by spaces, so
/// every offset stays the same) and the text parsed again: one `validate`
/// lists every such problem, then the value checks of [`validate`] on the
/// rest.
pub fn parse(file: &Path, text: &str) -> Result<Pipeline, ConfigErrors> {
    let map = SourceMap::new(file, text);
    let mut errors = ConfigErrors::default();
    let mut working = text.to_string();
    let mut blanked: Vec<String> = Vec::new();
    for _ in 0..64 {
        match toml::from_str::<RawPipeline>(&working) {
            Ok(raw) => {
                return match validate(file, raw, map) {
                    Ok(p) => errors.into_result(p),
                    Err(more) => {
                        errors.0.extend(more.0);
                        Err(errors)
                    }
                };
            }
            Err(e) => {
                // A required key that was blanked for its wrong type is
                // not missing as far as the user is concerned.
                let missing = e.message().strip_prefix("missing field `").and_then(|r| r.split('`').next());
                if missing.is_some_and(|m| blanked.iter().any(|b| b == m)) {
                    break;
                }
                errors.push(toml_error(&map, &e));
                let Some(range) = e.span().and_then(|s| entry_range(&working, s)) else { break };
                blanked.push(key_name(&working, range.clone()));
                let blank: String =
                    working[range.clone()].chars().map(|c| if c == '\n' { '\n' } else { ' ' }).collect();
                working.replace_range(range, &blank);
            }
        }
    }
    Err(errors)
}

/// The last segment of the key of the `key = value` entry at `range`.
fn key_name(text: &str, range: std::ops::Range<usize>) -> String {
    let entry = &text[range];
    let key = entry.split('=').next().unwrap_or("").trim();
    key.rsplit('.').next().unwrap_or(key).trim_matches(['"', '\'']).to_string()
}

/// The byte range of the whole `key = value` entry whose key or value is at
/// `span` (with a comma that separates it from a neighbour in an inline
/// table), or `None` when the span is not one entry (a `[table]`, a
/// syntax error).
fn entry_range(text: &str, span: std::ops::Range<usize>) -> Option<std::ops::Range<usize>> {
    let doc = toml_edit::Document::parse(text).ok()?;
    let (start, end) = find_entry(doc.as_table(), &span)?;
    // Back over the leading segments of a dotted key (`limits.memory`).
    let bytes = text.as_bytes();
    let mut start = start;
    while start > 0 && !matches!(bytes[start - 1], b' ' | b'\t' | b'\n' | b'\r' | b'{' | b',') {
        start -= 1;
    }
    let mut end = end;
    let mut after = end;
    while after < bytes.len() && matches!(bytes[after], b' ' | b'\t') {
        after += 1;
    }
    if after < bytes.len() && bytes[after] == b',' {
        end = after + 1;
    } else {
        let mut before = start;
        while before > 0 && matches!(bytes[before - 1], b' ' | b'\t') {
            before -= 1;
        }
        if before > 0 && bytes[before - 1] == b',' {
            start = before - 1;
        }
    }
    Some(start..end)
}

fn find_entry(table: &dyn toml_edit::TableLike, span: &std::ops::Range<usize>) -> Option<(usize, usize)> {
    for (name, item) in table.iter() {
        let key_span = table.key(name).and_then(|k| k.span());
        let value_span = match item {
            toml_edit::Item::Value(v) => v.span(),
            _ => None,
        };
        if key_span.as_ref() == Some(span) || value_span.as_ref() == Some(span) {
            // Whole tables are not blanked: too much could depend on them.
            return match (key_span, value_span) {
                (Some(k), Some(v)) => Some((k.start, v.end)),
                _ => None,
            };
        }
        let found = match item {
            toml_edit::Item::Table(t) => find_entry(t, span),
            toml_edit::Item::ArrayOfTables(a) => a.iter().find_map(|t| find_entry(t, span)),
            toml_edit::Item::Value(v) => find_in_value(v, span),
            toml_edit::Item::None => None,
        };
        if found.is_some() {
            return found;
        }
    }
    None
}

fn find_in_value(v: &toml_edit::Value, span: &std::ops::Range<usize>) -> Option<(usize, usize)> {
    match v {
        toml_edit::Value::InlineTable(t) => find_entry(t, span),
        toml_edit::Value::Array(a) => a.iter().find_map(|v| find_in_value(v, span)),
        _ => None,
    }
}

/// Applies `--set dotted.key=value` to the document, keeping its layout so
/// error locations stay meaningful. Values are TOML (`4`, `"text"`, `true`);
/// anything that does not parse as TOML is taken as a string.
fn apply_overrides(text: &str, overrides: &[Override]) -> Result<String, ConfigErrors> {
    if overrides.is_empty() {
        return Ok(text.to_string());
    }
    let mut doc: toml_edit::DocumentMut = text
        .parse()
        .map_err(|e: toml_edit::TomlError| ConfigError::new("", format!("invalid TOML: {}", e.message())))?;
    for o in overrides {
        let value: toml_edit::Value =
            o.value.parse().unwrap_or_else(|_| toml_edit::Value::from(o.value.as_str()));
        let parts: Vec<&str> = o.key.split('.').collect();
        let mut item = doc.as_item_mut();
        for (i, part) in parts.iter().enumerate() {
            let last = i == parts.len() - 1;
            let table = item.as_table_like_mut().ok_or_else(|| {
                ConfigError::new(
                    &o.key,
                    format!("cannot set `{}`: `{}` is not a table", o.key, parts[..i].join(".")),
                )
                .hint("--set only reaches keys inside tables, not inside arrays")
            })?;
            if last {
                table.insert(part, toml_edit::Item::Value(value.clone()));
                break;
            }
            if table.get(part).is_none() {
                table.insert(part, toml_edit::Item::Table(toml_edit::Table::new()));
            }
            item = table.get_mut(part).expect("inserted above");
        }
    }
    Ok(doc.to_string())
}

/// Turns a TOML/serde error into a located error with a hint, in words a
/// user of the file understands (`expected a number, found the string
/// "four"` rather than serde's `invalid type: string "four", expected u64`).
fn toml_error(map: &SourceMap, e: &toml::de::Error) -> ConfigError {
    let message = e.message().trim().to_string();
    let location = e.span().and_then(|s| map.span(s));
    let key = e.span().map(|s| key_at(map, s.start)).unwrap_or_default();
    let mut err = ConfigError::new(key.clone(), message.clone()).at(location);
    let bare = e.span().and_then(|s| map.text().get(s)).filter(|w| {
        w.chars().next().is_some_and(|c| c.is_alphabetic())
            && w.chars().all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '/' | '*'))
            && !matches!(*w, "true" | "false" | "inf" | "nan")
    });
    if let Some(word) = bare.filter(|_| !message.starts_with("unknown field") && message.contains("expected"))
    {
        err.message = format!("`{word}` is not a value: text needs quotes");
        err.hint = Some(format!("write \"{word}\""));
    } else if let Some(rest) = message.strip_prefix("unknown field `") {
        if let Some((field, expected)) = rest.split_once('`') {
            let candidates: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
            err.message = format!("unknown key `{field}`");
            err.hint = Some(match did_you_mean(field, candidates.iter().copied()) {
                Some(s) => format!("did you mean `{s}`?"),
                None if candidates.is_empty() => "this table takes no keys".to_string(),
                None => format!("known keys here: {}", candidates.join(", ")),
            });
        }
    } else if let Some(rest) = message.strip_prefix("missing field `") {
        let field = rest.split('`').next().unwrap_or("");
        // The span is the table that lacks the key: a `[header]`, or the
        // whole file for a top-level key.
        let in_header = e.span().and_then(|s| map.text().get(s.start..)).is_some_and(|t| t.starts_with('['));
        let key = if in_header { key } else { String::new() };
        let table = if key.is_empty() { "the top level".to_string() } else { format!("[{key}]") };
        err.key = if key.is_empty() { field.to_string() } else { format!("{key}.{field}") };
        err.message = format!("missing key `{field}` in {table}");
        err.hint = Some(match field {
            "version" => "start the file with `version = 1`".to_string(),
            "source" => "add a [source] table: the reader plugin and its inputs".to_string(),
            "plugin" => "name a bundled plugin (`runtime plugins list`) or a .wasm file".to_string(),
            _ => "see the pipeline.toml reference in README.md".to_string(),
        });
    } else if let Some(rest) = message.strip_prefix("invalid type: ") {
        if let Some((found, expected)) = rest.rsplit_once(", expected ") {
            err.message = format!("expected {}, found {}", expected_words(expected), found_words(found));
        }
    } else if message.contains("did not match any variant of untagged enum OneOrMany") {
        err.message = "expected a path or glob, or a list of them".to_string();
        err.hint =
            Some("write e.g. inputs = \"data/*.ndjson\" or inputs = [\"a.ndjson\", \"b.ndjson\"]".into());
    } else if message.starts_with("invalid value: integer") && message.contains("expected u") {
        err.message = format!(
            "expected a number of at least 0, found {}",
            message
                .strip_prefix("invalid value: integer `")
                .and_then(|r| r.split('`').next())
                .unwrap_or("a negative number")
        );
    }
    err
}

/// Serde's name of an expected type, in words.
pub(crate) fn expected_words(expected: &str) -> String {
    match expected {
        "u64" | "u32" | "u16" | "usize" => "a whole number".to_string(),
        "i64" | "i32" => "an integer".to_string(),
        "f64" => "a number".to_string(),
        "a boolean" | "bool" => "true or false".to_string(),
        "a string" | "string" => "a string (in quotes)".to_string(),
        "a sequence" => "a list".to_string(),
        "a map" | "struct" => "a table".to_string(),
        other if other.starts_with("struct ") => "a table".to_string(),
        other => other.to_string(),
    }
}

/// Serde's description of a found value, in words.
pub(crate) fn found_words(found: &str) -> String {
    if let Some(s) = found.strip_prefix("string ") {
        format!("the string {s}")
    } else if let Some(n) = found.strip_prefix("integer ") {
        format!("the number {}", n.trim_matches('`'))
    } else if let Some(n) = found.strip_prefix("floating point ") {
        format!("the number {}", n.trim_matches('`'))
    } else if let Some(b) = found.strip_prefix("boolean ") {
        b.trim_matches('`').to_string()
    } else {
        match found {
            "sequence" => "a list".to_string(),
            "map" => "a table".to_string(),
            other => other.to_string(),
        }
    }
}

/// The dotted key path at a byte offset, from the enclosing `[table]` header
/// and the key on that line (best effort, for error messages).
fn key_at(map: &SourceMap, offset: usize) -> String {
    let text = map.text();
    let before = &text[..offset.min(text.len())];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = &text[line_start..];
    let line = &line[..line.find('\n').unwrap_or(line.len())];
    let header = before[..line_start]
        .lines()
        .rev()
        .find_map(|l| {
            let l = l.trim();
            l.strip_prefix("[[")
                .and_then(|r| r.strip_suffix("]]"))
                .or_else(|| l.strip_prefix('[').and_then(|r| r.strip_suffix(']')))
                .map(str::trim)
        })
        .unwrap_or("");
    let t = line.trim();
    if t.starts_with('[') {
        return t.trim_matches(|c| c == '[' || c == ']').trim().to_string();
    }
    let key = t.split('=').next().unwrap_or("").trim();
    match (header.is_empty(), key.is_empty()) {
        (true, _) => key.to_string(),
        (false, true) => header.to_string(),
        (false, false) => format!("{header}.{key}"),
    }
}

struct Validator<'a> {
    dir: PathBuf,
    map: &'a SourceMap,
    errors: ConfigErrors,
}

impl Validator<'_> {
    fn at<T>(&self, s: &Spanned<T>) -> Option<Location> {
        self.map.span(s.span())
    }

    fn error(
        &mut self,
        key: impl Into<String>,
        at: Option<Location>,
        message: impl Into<String>,
        hint: Option<String>,
    ) {
        let mut e = ConfigError::new(key, message).at(at);
        e.hint = hint;
        self.errors.push(e);
    }

    fn plugin(&mut self, id: &str, p: &Spanned<String>) -> PluginRef {
        let text = p.get_ref().trim();
        let at = self.at(p);
        if text.is_empty() {
            self.error(
                format!("{id}.plugin"),
                at,
                "empty plugin name",
                Some(format!("bundled plugins: {}", crate::catalog::bundled_names().join(", "))),
            );
            return PluginRef::Named(String::new());
        }
        if text.ends_with(".wasm") || text.contains('/') || text.contains('\\') {
            let path = self.dir.join(text);
            if !path.is_file() {
                self.error(
                    format!("{id}.plugin"),
                    at,
                    format!("plugin file {} does not exist", path.display()),
                    Some("paths are relative to the pipeline file; build the plugin with `cargo build --release --target wasm32-wasip2`".into()),
                );
            }
            return PluginRef::File(path);
        }
        if !crate::catalog::exists(text) {
            let names = crate::catalog::bundled_names();
            let hint = match did_you_mean(text, names.iter().copied()) {
                Some(n) => format!("did you mean `{n}`?"),
                None => format!(
                    "bundled plugins: {}; or give a path to a .wasm file, or add its folder to RUNTIME_PLUGIN_PATH",
                    names.join(", ")
                ),
            };
            self.error(format!("{id}.plugin"), at, format!("no plugin named `{text}`"), Some(hint));
        }
        PluginRef::Named(text.to_string())
    }

    fn options(&mut self, id: &str, o: &Option<Spanned<toml::Table>>) -> (String, Option<Location>) {
        match o {
            None => ("{}".to_string(), None),
            Some(t) => {
                let json = toml_to_json(&toml::Value::Table(t.get_ref().clone()));
                match serde_json::to_string(&json) {
                    Ok(s) => (s, self.at(t)),
                    Err(e) => {
                        self.error(
                            format!("{id}.options"),
                            self.at(t),
                            format!("cannot encode options: {e}"),
                            None,
                        );
                        ("{}".to_string(), None)
                    }
                }
            }
        }
    }

    fn limits(&mut self, id: &str, l: &Option<Spanned<RawLimits>>) -> Limits {
        let mut limits = Limits::default();
        let Some(l) = l else { return limits };
        let l = l.get_ref();
        if let Some(m) = &l.memory {
            limits.memory = m.get_ref().0;
            if limits.memory < (1 << 20) || limits.memory > (16u64 << 30) {
                let at = self.at(m);
                self.error(
                    format!("{id}.limits.memory"),
                    at,
                    format!("{} is out of range", m.get_ref()),
                    Some("use between 1 MiB and 16 GiB".into()),
                );
            }
        }
        if let Some(t) = &l.time {
            limits.time = t.get_ref().0;
            if limits.time < Duration::from_millis(10) {
                let at = self.at(t);
                self.error(format!("{id}.limits.time"), at, "must be at least 10 ms", None);
            }
        }
        if let Some(f) = &l.fuel {
            limits.fuel = Some(*f.get_ref());
        }
        if let Some(o) = &l.output_bytes {
            limits.output_bytes = o.get_ref().0;
        }
        if let Some(s) = &l.stack {
            limits.stack = s.get_ref().0;
            if limits.stack < (64 << 10) || limits.stack > (64 << 20) {
                let at = self.at(s);
                self.error(
                    format!("{id}.limits.stack"),
                    at,
                    format!("{} is out of range", s.get_ref()),
                    Some("use between 64 KiB and 64 MiB".into()),
                );
            }
        }
        limits
    }

    fn grants(&mut self, id: &str, g: &Option<Spanned<RawGrants>>) -> Grants {
        let Some(g) = g else { return Grants::default() };
        let g = g.get_ref();
        let mut grants = Grants::default();
        for n in &g.network {
            let text = n.get_ref().trim();
            let ok = text
                .rsplit_once(':')
                .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0));
            if !ok {
                let at = self.at(n);
                self.error(
                    format!("{id}.grants.network"),
                    at,
                    format!("`{text}` is not host:port"),
                    Some("write e.g. \"127.0.0.1:5432\"".into()),
                );
            }
            grants.network.push(text.to_string());
        }
        for e in &g.env {
            let text = e.get_ref().trim();
            if text.is_empty() || text.contains('=') {
                let at = self.at(e);
                self.error(
                    format!("{id}.grants.env"),
                    at,
                    format!("`{text}` is not an environment variable name"),
                    None,
                );
            }
            grants.env.push(text.to_string());
        }
        grants
    }

    fn inputs(&mut self, id: &str, i: &Option<Spanned<OneOrMany>>) -> (Vec<String>, Option<Location>) {
        let Some(i) = i else { return (Vec::new(), None) };
        let at = self.at(i);
        let list = i.get_ref().to_vec();
        if list.is_empty() {
            self.error(
                format!("{id}.inputs"),
                at.clone(),
                "empty list of inputs",
                Some("list at least one path or glob, or remove the key".into()),
            );
        }
        for g in &list {
            if let Err(e) = glob::Pattern::new(g) {
                self.error(
                    format!("{id}.inputs"),
                    at.clone(),
                    format!("`{g}` is not a valid glob: {e}"),
                    None,
                );
            }
        }
        (list, at)
    }

    fn common(
        &mut self,
        id: String,
        plugin: &Spanned<String>,
        options: &Option<Spanned<toml::Table>>,
        limits: &Option<Spanned<RawLimits>>,
        grants: &Option<Spanned<RawGrants>>,
    ) -> StageCommon {
        let plugin_at = self.at(plugin);
        let plugin = self.plugin(&id, plugin);
        let (options, options_at) = self.options(&id, options);
        let limits = self.limits(&id, limits);
        let grants = self.grants(&id, grants);
        StageCommon { id, plugin, plugin_at, options, options_at, limits, grants }
    }
}

fn validate(file: &Path, raw: RawPipeline, map: SourceMap) -> Result<Pipeline, ConfigErrors> {
    let dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
    let dir = if dir.as_os_str().is_empty() { PathBuf::from(".") } else { dir };
    let mut v = Validator { dir: dir.clone(), map: &map, errors: ConfigErrors::default() };

    if *raw.version.get_ref() != VERSION {
        let at = v.at(&raw.version);
        v.error(
            "version",
            at,
            format!("unsupported pipeline version {}", raw.version.get_ref()),
            Some(format!("this runtime reads version = {VERSION}")),
        );
    }

    // Source.
    let s = raw.source.get_ref();
    let common = v.common("source".into(), &s.plugin, &s.options, &s.limits, &s.grants);
    let (inputs, inputs_at) = v.inputs("source", &s.inputs);
    let max_split_bytes = match &s.max_split_bytes {
        Some(m) if m.get_ref().0 < 4096 => {
            let at = v.at(m);
            v.error(
                "source.max_split_bytes",
                at,
                "must be at least 4 KiB",
                Some("use e.g. \"64 MiB\"".into()),
            );
            m.get_ref().0
        }
        Some(m) => m.get_ref().0,
        None => 64 << 20,
    };
    let source = SourceStage { common, inputs, inputs_at, max_split_bytes };

    // Side tables.
    let mut side_tables = Vec::new();
    for (name, t) in &raw.side_tables {
        let id = format!("side_tables.{name}");
        let st = t.get_ref();
        let common = v.common(id.clone(), &st.plugin, &st.options, &st.limits, &st.grants);
        let (inputs, inputs_at) = v.inputs(&id, &st.inputs);
        side_tables.push(SideTableStage {
            name: name.clone(),
            common,
            inputs,
            inputs_at,
            output: st.output.as_ref().map(|o| o.get_ref().clone()),
            max_bytes: st.max_bytes.as_ref().map_or(256 << 20, |m| m.get_ref().0),
        });
    }

    // Transforms.
    let mut transforms = Vec::new();
    let mut names = HashSet::new();
    for (i, t) in raw.transforms.iter().enumerate() {
        let tr = t.get_ref();
        let name = tr.name.get_ref().trim().to_string();
        let id = format!("transforms.{}", if name.is_empty() { i.to_string() } else { name.clone() });
        if !valid_name(&name) {
            let at = v.at(&tr.name);
            v.error(
                format!("{id}.name"),
                at,
                format!("`{name}` is not a valid stage name"),
                Some("use letters, digits, `_` and `-`".into()),
            );
        } else if !names.insert(name.clone()) {
            let at = v.at(&tr.name);
            v.error(
                format!("{id}.name"),
                at,
                format!("two transforms are named `{name}`"),
                Some("stage names must be unique".into()),
            );
        }
        let common = v.common(id.clone(), &tr.plugin, &tr.options, &tr.limits, &tr.grants);
        let mut st_names = Vec::new();
        for s in &tr.side_tables {
            let n = s.get_ref();
            if !raw.side_tables.contains_key(n) {
                let at = v.at(s);
                let hint = match did_you_mean(n, raw.side_tables.keys().map(String::as_str)) {
                    Some(m) => format!("did you mean `{m}`?"),
                    None => "declare it as [side_tables.NAME]".to_string(),
                };
                v.error(format!("{id}.side_tables"), at, format!("no side table named `{n}`"), Some(hint));
            }
            st_names.push(n.clone());
        }
        transforms.push(TransformStage {
            name,
            common,
            input: tr.input.as_ref().map(|s| s.get_ref().clone()),
            input_at: tr.input.as_ref().and_then(|s| v.at(s)),
            side_tables: st_names,
        });
    }

    // Sinks.
    let mut sinks = Vec::new();
    if raw.sinks.is_empty() {
        v.error(
            "sinks",
            None,
            "the pipeline writes nothing",
            Some("add a [sinks.NAME] table with `format` and `path`".into()),
        );
    }
    let mut paths = HashSet::new();
    for (name, s) in &raw.sinks {
        let id = format!("sinks.{name}");
        let sk = s.get_ref();
        if !valid_name(name) {
            let at = v.at(s);
            v.error(
                id.clone(),
                at,
                format!("`{name}` is not a valid sink name"),
                Some("use letters, digits, `_` and `-`".into()),
            );
        }
        let written = sk.path.get_ref().clone();
        let format = match sk.format.get_ref().as_str() {
            "parquet" if written.ends_with(".parquet") => SinkFormat::ParquetFile,
            "parquet" => SinkFormat::ParquetDir,
            "delta" => SinkFormat::Delta,
            other => {
                let at = v.at(&sk.format);
                let hint = did_you_mean(other, ["parquet", "delta"])
                    .map_or("supported formats: parquet, delta".to_string(), |m| {
                        format!("did you mean `{m}`?")
                    });
                v.error(format!("{id}.format"), at, format!("unknown format `{other}`"), Some(hint));
                SinkFormat::ParquetFile
            }
        };
        let table =
            table_settings(&mut v, &id, sk, format, raw.name.as_deref().unwrap_or(&default_name(file)), name);
        let path = dir.join(&written);
        if written.trim().is_empty() {
            let at = v.at(&sk.path);
            v.error(format!("{id}.path"), at, "empty output path", None);
        } else if !paths.insert(path.clone()) {
            let at = v.at(&sk.path);
            v.error(
                format!("{id}.path"),
                at,
                format!("two sinks write to {written}"),
                Some("give each sink its own path".into()),
            );
        }
        let compression = match sk.compression.as_ref().map(|c| c.get_ref().as_str()) {
            None | Some("snappy") => Compression::Snappy,
            Some("none") | Some("uncompressed") => Compression::None,
            Some("zstd") => Compression::Zstd,
            Some("lz4") => Compression::Lz4,
            Some("gzip") => Compression::Gzip,
            Some(other) => {
                let at = sk.compression.as_ref().and_then(|c| v.at(c));
                v.error(
                    format!("{id}.compression"),
                    at,
                    format!("unknown compression `{other}`"),
                    Some("use none, snappy, zstd, lz4 or gzip".into()),
                );
                Compression::Snappy
            }
        };
        let row_group_rows = match &sk.row_group_rows {
            Some(r) if *r.get_ref() == 0 => {
                let at = v.at(r);
                v.error(format!("{id}.row_group_rows"), at, "must be at least 1", None);
                1
            }
            Some(r) => *r.get_ref() as usize,
            None => 1 << 20,
        };
        let row_group_bytes = match &sk.row_group_bytes {
            Some(b) if b.get_ref().0 < (64 << 10) => {
                let at = v.at(b);
                v.error(format!("{id}.row_group_bytes"), at, "must be at least 64 KiB", None);
                64 << 10
            }
            Some(b) => b.get_ref().0 as usize,
            None => 128 << 20,
        };
        sinks.push(SinkStage {
            name: name.clone(),
            input: sk.input.as_ref().map(|s| s.get_ref().clone()),
            input_at: sk.input.as_ref().and_then(|s| v.at(s)),
            format,
            path,
            path_as_written: written,
            compression,
            row_group_rows,
            row_group_bytes,
            table,
        });
    }

    let run = run_settings(&mut v, raw.run.as_ref());
    let name = raw
        .name
        .clone()
        .unwrap_or_else(|| file.file_stem().map_or("pipeline".into(), |s| s.to_string_lossy().into_owned()));
    let errors = std::mem::take(&mut v.errors);
    errors.into_result(Pipeline {
        file: file.to_path_buf(),
        dir,
        name,
        source,
        side_tables,
        transforms,
        sinks,
        run,
    })
}

fn default_name(file: &Path) -> String {
    file.file_stem().map_or("pipeline".into(), |s| s.to_string_lossy().into_owned())
}

/// The table settings of a sink, checked against its format.
fn table_settings(
    v: &mut Validator<'_>,
    id: &str,
    sk: &raw::RawSink,
    format: SinkFormat,
    pipeline: &str,
    sink: &str,
) -> TableSettings {
    let mode = match sk.mode.as_ref().map(|m| m.get_ref().as_str()) {
        None | Some("append") => WriteMode::Append,
        Some("overwrite") => WriteMode::Overwrite,
        Some(other) => {
            let at = sk.mode.as_ref().and_then(|m| v.at(m));
            let hint = did_you_mean(other, ["append", "overwrite"])
                .map_or("use append or overwrite".into(), |m| format!("did you mean `{m}`?"));
            v.error(format!("{id}.mode"), at, format!("unknown mode `{other}`"), Some(hint));
            WriteMode::Append
        }
    };
    let evolution = match sk.schema_evolution.as_ref().map(|m| m.get_ref().as_str()) {
        None | Some("strict") => false,
        Some("add_columns") => true,
        Some(other) => {
            let at = sk.schema_evolution.as_ref().and_then(|m| v.at(m));
            v.error(
                format!("{id}.schema_evolution"),
                at,
                format!("unknown schema_evolution `{other}`"),
                Some("use strict or add_columns".into()),
            );
            false
        }
    };
    let settings = TableSettings {
        mode,
        partition_by: sk.partition_by.iter().map(|p| p.get_ref().clone()).collect(),
        target_file_size: sk.target_file_size.as_ref().map_or(128 << 20, |s| s.get_ref().0.max(1 << 20)),
        commit_every_splits: sk.commit_every_splits.as_ref().map(|s| (*s.get_ref()).max(1)),
        commit_every_bytes: sk.commit_every_bytes.as_ref().map(|s| s.get_ref().0.max(1)),
        app_id: sk
            .app_id
            .as_ref()
            .map_or_else(|| format!("runtime/{pipeline}/{sink}"), |a| a.get_ref().clone()),
        skip_committed: sk.skip_committed.as_ref().is_some_and(|s| *s.get_ref()),
        add_columns: evolution,
    };
    // Keys that only make sense for some formats.
    let cadence =
        sk.commit_every_splits.as_ref().map(|s| v.at(s)).or(sk.commit_every_bytes.as_ref().map(|s| v.at(s)));
    if format == SinkFormat::ParquetFile {
        let only_tables = [
            ("mode", sk.mode.as_ref().map(|s| v.at(s))),
            ("commit_every_splits", sk.commit_every_splits.as_ref().map(|s| v.at(s))),
            ("commit_every_bytes", sk.commit_every_bytes.as_ref().map(|s| v.at(s))),
            ("skip_committed", sk.skip_committed.as_ref().map(|s| v.at(s))),
            ("target_file_size", sk.target_file_size.as_ref().map(|s| v.at(s))),
            ("app_id", sk.app_id.as_ref().map(|s| v.at(s))),
            ("schema_evolution", sk.schema_evolution.as_ref().map(|s| v.at(s))),
        ];
        for (key, at) in only_tables {
            if let Some(at) = at {
                v.error(
                    format!("{id}.{key}"),
                    at,
                    "a path ending in .parquet is one file, written once at the end of the run",
                    Some("use a folder path (no .parquet suffix) for a resumable Parquet table, or format = \"delta\"".into()),
                );
            }
        }
    }
    if format != SinkFormat::Delta && !sk.partition_by.is_empty() {
        let at = v.at(&sk.partition_by[0]);
        v.error(
            format!("{id}.partition_by"),
            at,
            "partitioning needs a Delta table",
            Some("set format = \"delta\"".into()),
        );
    }
    if mode == WriteMode::Overwrite {
        if let Some(at) = cadence {
            v.error(
                format!("{id}.mode"),
                at,
                "overwrite replaces the table in one commit at the end of the run",
                Some("remove commit_every_* (or use mode = \"append\")".into()),
            );
        }
        if let Some(s) = sk.skip_committed.as_ref().filter(|s| *s.get_ref()) {
            let at = v.at(s);
            v.error(
                format!("{id}.skip_committed"),
                at,
                "overwrite rewrites everything; there is nothing to skip",
                Some("use mode = \"append\"".into()),
            );
        }
    }
    settings
}

fn run_settings(v: &mut Validator<'_>, raw: Option<&Spanned<raw::RawRun>>) -> RunSettings {
    let default_workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut s = RunSettings {
        workers: default_workers,
        max_failed_splits: FailurePolicy::Ratio(0.10),
        retries: 2,
        retry_backoff: Duration::from_millis(500),
        channel_batches: 16,
        max_staged_bytes: 256 << 20,
        quarantine: None,
        resume: false,
    };
    let Some(r) = raw else { return s };
    let r = r.get_ref();
    if let Some(w) = &r.workers {
        if *w.get_ref() == 0 || *w.get_ref() > 1024 {
            let at = v.at(w);
            v.error("run.workers", at, "must be between 1 and 1024", None);
        } else {
            s.workers = *w.get_ref() as usize;
        }
    }
    if let Some(m) = &r.max_failed_splits {
        match parse_policy(m.get_ref()) {
            Ok(p) => s.max_failed_splits = p,
            Err(msg) => {
                let at = v.at(m);
                v.error(
                    "run.max_failed_splits",
                    at,
                    msg,
                    Some("write a count such as 3, or a percentage such as \"10%\"".into()),
                );
            }
        }
    }
    if let Some(n) = &r.retries {
        s.retries = (*n.get_ref()).min(100) as u32;
    }
    if let Some(b) = &r.retry_backoff {
        s.retry_backoff = b.get_ref().0;
    }
    if let Some(c) = &r.channel_batches {
        if *c.get_ref() == 0 {
            let at = v.at(c);
            v.error("run.channel_batches", at, "must be at least 1", None);
        } else {
            s.channel_batches = *c.get_ref() as usize;
        }
    }
    if let Some(m) = &r.max_staged_bytes {
        s.max_staged_bytes = m.get_ref().0;
    }
    if let Some(x) = &r.resume {
        s.resume = *x.get_ref();
    }
    if let Some(q) = &r.quarantine {
        s.quarantine = Some(v.dir.join(q.get_ref()));
    }
    s
}

fn parse_policy(v: &toml::Value) -> Result<FailurePolicy, String> {
    match v {
        toml::Value::Integer(n) if *n >= 0 => Ok(FailurePolicy::Count(*n as u64)),
        toml::Value::String(s) => {
            let t = s.trim();
            let pct =
                t.strip_suffix('%').ok_or_else(|| format!("`{t}` is neither a count nor a percentage"))?;
            let r: f64 = pct.trim().parse().map_err(|_| format!("`{t}` is not a percentage"))?;
            if !(0.0..=100.0).contains(&r) {
                return Err(format!("`{t}` is not between 0% and 100%"));
            }
            Ok(FailurePolicy::Ratio(r / 100.0))
        }
        other => Err(format!("`{other}` is neither a count nor a percentage")),
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Converts TOML to JSON for plugin options. Dates and times become strings.
pub fn toml_to_json(v: &toml::Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        toml::Value::String(s) => J::String(s.clone()),
        toml::Value::Integer(i) => J::from(*i),
        toml::Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
        toml::Value::Boolean(b) => J::Bool(*b),
        toml::Value::Datetime(d) => J::String(d.to_string()),
        toml::Value::Array(a) => J::Array(a.iter().map(toml_to_json).collect()),
        toml::Value::Table(t) => J::Object(t.iter().map(|(k, v)| (k.clone(), toml_to_json(v))).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(text: &str) -> Result<Pipeline, ConfigErrors> {
        parse(Path::new("/tmp/p/pipeline.toml"), text)
    }

    const GOOD: &str = r#"
version = 1
[source]
plugin = "ndjson"
inputs = "data/*.ndjson"
options = { fields = [{ name = "a", type = "string" }] }
[sinks.out]
format = "parquet"
path = "out/a.parquet"
"#;

    #[test]
    fn good_pipeline_gets_defaults() {
        let p = parse_str(GOOD).unwrap();
        assert_eq!(p.source.inputs, vec!["data/*.ndjson"]);
        assert_eq!(p.source.max_split_bytes, 64 << 20);
        assert_eq!(p.sinks[0].path, PathBuf::from("/tmp/p/out/a.parquet"));
        assert_eq!(p.sinks[0].compression, Compression::Snappy);
        assert_eq!(p.run.max_failed_splits, FailurePolicy::Ratio(0.1));
        assert_eq!(p.source.common.options, r#"{"fields":[{"name":"a","type":"string"}]}"#);
        assert_eq!(p.name, "pipeline");
    }

    #[test]
    fn unknown_key_points_at_line_with_suggestion() {
        let text = GOOD.replace("inputs =", "max_split_byte = 5\ninputs =");
        let e = parse_str(&text).unwrap_err();
        assert_eq!(e.0.len(), 1);
        let e = &e.0[0];
        assert_eq!(e.message, "unknown key `max_split_byte`");
        assert_eq!(e.hint.as_deref(), Some("did you mean `max_split_bytes`?"));
        assert_eq!(e.location.as_ref().unwrap().line, 5);
        assert_eq!(e.key, "source.max_split_byte");
    }

    #[test]
    fn collects_every_problem() {
        let text = GOOD
            .replace("version = 1", "version = 2")
            .replace("format = \"parquet\"", "format = \"parquett\"")
            .replace("plugin = \"ndjson\"", "plugin = \"ndjsn\"");
        let e = parse_str(&text).unwrap_err();
        let keys: Vec<&str> = e.0.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, vec!["version", "source.plugin", "sinks.out.format"], "{e}");
        assert_eq!(e.0[2].hint.as_deref(), Some("did you mean `parquet`?"));
    }

    #[test]
    fn overrides_change_values_and_keep_lines() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("pipeline.toml");
        std::fs::write(&f, GOOD).unwrap();
        let o: Vec<Override> =
            vec!["run.workers=3".parse().unwrap(), "sinks.out.compression=zstd".parse().unwrap()];
        let p = load(&f, &o).unwrap();
        assert_eq!(p.run.workers, 3);
        assert_eq!(p.sinks[0].compression, Compression::Zstd);
        let bad: Vec<Override> = vec!["source.max_split_bytes=\"1 KiB\"".parse().unwrap()];
        let e = load(&f, &bad).unwrap_err();
        assert_eq!(e.0[0].key, "source.max_split_bytes");
        assert_eq!(e.0[0].location, None);
        assert_eq!(e.0[0].message, "must be at least 4 KiB (from --set source.max_split_bytes=\"1 KiB\")");
    }

    #[test]
    fn failure_policy() {
        assert_eq!(parse_policy(&toml::Value::Integer(3)).unwrap(), FailurePolicy::Count(3));
        assert_eq!(parse_policy(&toml::Value::String("25%".into())).unwrap(), FailurePolicy::Ratio(0.25));
        assert!(parse_policy(&toml::Value::String("lots".into())).is_err());
        assert!(FailurePolicy::Count(0).exceeded(1, 10));
        assert!(!FailurePolicy::Ratio(0.1).exceeded(1, 10));
        assert!(FailurePolicy::Ratio(0.1).exceeded(2, 10));
    }
}
