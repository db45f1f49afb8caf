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
//!    in the [`model::defaults`], and collects *every* problem before failing.
//!
//! The result is a [`model::Pipeline`]. [`overrides`] applies `--set` first;
//! [`diagnostics`] owns the errors, where they are, and their wording.
//! Checks that need the plugins themselves (options, schemas, how streams
//! connect) happen in [`crate::prepare`], shared by `validate` and `run`.

pub mod diagnostics;
pub mod model;
pub mod overrides;
pub mod raw;
pub mod validate;

pub use diagnostics::{ConfigError, ConfigErrors, Location, SourceMap};
pub use model::*;
pub use overrides::Override;

use diagnostics::spans::{entry_range, key_name};
use diagnostics::wording::toml_error;
use raw::RawPipeline;
use std::path::Path;

/// Loads and validates a pipeline file, applying `--set` overrides first.
pub fn load(file: &Path, overrides: &[Override]) -> Result<Pipeline, ConfigErrors> {
    let text = std::fs::read_to_string(file).map_err(|e| {
        ConfigError::new("", format!("cannot read pipeline file {}: {e}", file.display()))
            .hint("check the path; pipeline files are TOML")
    })?;
    let edited = overrides::apply_overrides(&text, overrides)?;
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
                return match validate::validate(file, raw, map) {
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

#[cfg(test)]
mod tests {
    use super::validate::parse_policy;
    use super::*;
    use std::path::PathBuf;

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
