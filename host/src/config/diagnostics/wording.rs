//! Serde's messages in a user's words.
//!
//! Serde reports what went wrong only as text (`unknown field `x`, expected
//! one of ...`, `invalid type: string "four", expected u64`), both for the
//! pipeline file and for a plugin's options (plugins deserialize their
//! options with serde and hand the message back). [`Problem::classify`]
//! reads such a message once into a [`Problem`]; everything that rewords
//! or locates an error matches on that, never on the text again.

use super::spans::{SourceMap, glob_span, key_at, option_span};
use super::{ConfigError, ConfigErrors, did_you_mean};
use std::path::Path;

/// What a serde message says went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem<'a> {
    /// A key nobody declared, and the keys that are known there.
    UnknownField { field: &'a str, known: Vec<&'a str> },
    /// A required key that is not there.
    MissingField { field: &'a str },
    /// A value that is not one of the names an enum takes.
    UnknownVariant { value: &'a str, known: Vec<&'a str> },
    /// A value of the wrong type: serde's descriptions of both.
    InvalidType { found: &'a str, expected: &'a str },
    /// A negative number where only `0..` fits.
    Negative { value: &'a str },
    /// `inputs` that is neither a path nor a list of paths.
    NotPathOrList,
    /// Anything else: shown as serde says it.
    Other,
}

impl<'a> Problem<'a> {
    pub fn classify(message: &'a str) -> Problem<'a> {
        // Names between backticks after the offending one: `a`, `b` or `c`.
        let names = |rest: &'a str| rest.split('`').skip(1).step_by(2).collect::<Vec<&'a str>>();
        if let Some(rest) = message.strip_prefix("unknown field `") {
            let (field, after) = rest.split_once('`').unwrap_or((rest, ""));
            return Problem::UnknownField { field, known: names(after) };
        }
        if let Some(rest) = message.strip_prefix("missing field `") {
            return Problem::MissingField { field: rest.split('`').next().unwrap_or(rest) };
        }
        if let Some(rest) = message.strip_prefix("unknown variant `") {
            let (value, after) = rest.split_once('`').unwrap_or((rest, ""));
            return Problem::UnknownVariant { value, known: names(after) };
        }
        if let Some(rest) = message.strip_prefix("invalid type: ")
            && let Some((found, expected)) = rest.rsplit_once(", expected ")
        {
            return Problem::InvalidType { found, expected };
        }
        if message.contains("did not match any variant of untagged enum OneOrMany") {
            return Problem::NotPathOrList;
        }
        if message.starts_with("invalid value: integer") && message.contains("expected u") {
            let value = message
                .strip_prefix("invalid value: integer `")
                .and_then(|r| r.split('`').next())
                .unwrap_or("a negative number");
            return Problem::Negative { value };
        }
        Problem::Other
    }
}

/// Serde's name of an expected type, in words.
pub fn expected_words(expected: &str) -> String {
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
pub fn found_words(found: &str) -> String {
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

/// Turns a TOML/serde error about the pipeline file into a located error
/// with a hint (`expected a number, found the string "four"` rather than
/// serde's `invalid type: string "four", expected u64`).
pub fn toml_error(map: &SourceMap, e: &toml::de::Error) -> ConfigError {
    let message = e.message().trim().to_string();
    let location = e.span().and_then(|s| map.span(s));
    let key = e.span().map(|s| key_at(map, s.start)).unwrap_or_default();
    let mut err = ConfigError::new(key.clone(), message.clone()).at(location);
    let problem = Problem::classify(&message);
    // A bare word where a value belongs: a string without its quotes.
    let bare = e.span().and_then(|s| map.text().get(s)).filter(|w| {
        w.chars().next().is_some_and(|c| c.is_alphabetic())
            && w.chars().all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '/' | '*'))
            && !matches!(*w, "true" | "false" | "inf" | "nan")
    });
    if let Some(word) =
        bare.filter(|_| !matches!(problem, Problem::UnknownField { .. }) && message.contains("expected"))
    {
        err.message = format!("`{word}` is not a value: text needs quotes");
        err.hint = Some(format!("write \"{word}\""));
        return err;
    }
    match problem {
        Problem::UnknownField { field, known } => {
            err.message = format!("unknown key `{field}`");
            err.hint = Some(match did_you_mean(field, known.iter().copied()) {
                Some(s) => format!("did you mean `{s}`?"),
                None if known.is_empty() => "this table takes no keys".to_string(),
                None => format!("known keys here: {}", known.join(", ")),
            });
        }
        Problem::MissingField { field } => {
            // The span is the table that lacks the key: a `[header]`, or
            // the whole file for a top-level key.
            let in_header =
                e.span().and_then(|s| map.text().get(s.start..)).is_some_and(|t| t.starts_with('['));
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
        }
        Problem::InvalidType { found, expected } => {
            err.message = format!("expected {}, found {}", expected_words(expected), found_words(found));
        }
        Problem::NotPathOrList => {
            err.message = "expected a path or glob, or a list of them".to_string();
            err.hint =
                Some("write e.g. inputs = \"data/*.ndjson\" or inputs = [\"a.ndjson\", \"b.ndjson\"]".into());
        }
        Problem::Negative { value } => {
            err.message = format!("expected a number of at least 0, found {value}");
        }
        Problem::UnknownVariant { .. } | Problem::Other => {}
    }
    err
}

/// Makes the problems found while preparing as clear as the file allows:
/// a plugin's option errors (serde's words, at the stage's `options`)
/// become `unknown option` / `missing option` / `unknown value` /
/// `expected ..., found ...` with a suggestion, pointing at the option
/// itself; a glob that matches nothing points at that glob. `text` is the
/// file as read (`None` when `--set` changed it: then nothing is located).
pub fn polish(errors: ConfigErrors, file: &Path, text: Option<&str>) -> ConfigErrors {
    let doc = text.and_then(|t| toml_edit::Document::parse(t.to_string()).ok());
    let map = text.map(|t| SourceMap::new(file, t));
    let mut out = ConfigErrors::default();
    for mut e in errors.0 {
        if let Some(options_at) = e.key.find(".options") {
            let path = e.key[options_at + ".options".len()..].trim_start_matches('.').to_string();
            let word = if path.contains(['.', '[']) { "key" } else { "option" };
            let message = e.message.clone();
            let mut key_wanted = false;
            match Problem::classify(&message) {
                Problem::UnknownField { field, known } => {
                    e.message = format!("unknown {word} `{field}`");
                    e.hint = Some(match did_you_mean(field, known.iter().copied()) {
                        Some(k) => format!("did you mean `{k}`?"),
                        None if known.is_empty() => e.hint.clone().unwrap_or_default(),
                        None => format!("{word}s here: {}", known.join(", ")),
                    });
                    key_wanted = true;
                }
                Problem::MissingField { field } => {
                    e.message = format!("missing {word} `{field}`");
                    if path.is_empty() {
                        e.key = format!("{}.{field}", e.key);
                    }
                }
                Problem::UnknownVariant { value, known } => {
                    e.message = format!("unknown value `{value}`");
                    e.hint = Some(match did_you_mean(value, known.iter().copied()) {
                        Some(k) => format!("did you mean `{k}`?"),
                        None => format!("one of: {}", known.join(", ")),
                    });
                }
                Problem::InvalidType { found, expected } => {
                    e.message =
                        format!("expected {}, found {}", expected_words(expected), found_words(found));
                }
                Problem::NotPathOrList | Problem::Negative { .. } | Problem::Other => {}
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_classified_once() {
        assert_eq!(
            Problem::classify("unknown field `nmae`, expected one of `name`, `inputs`"),
            Problem::UnknownField { field: "nmae", known: vec!["name", "inputs"] }
        );
        assert_eq!(Problem::classify("missing field `plugin`"), Problem::MissingField { field: "plugin" });
        assert_eq!(
            Problem::classify("unknown variant `zstdd`, expected `zstd` or `lz4`"),
            Problem::UnknownVariant { value: "zstdd", known: vec!["zstd", "lz4"] }
        );
        assert_eq!(
            Problem::classify("invalid type: string \"four\", expected u64"),
            Problem::InvalidType { found: "string \"four\"", expected: "u64" }
        );
        assert_eq!(
            Problem::classify("invalid value: integer `-3`, expected u32"),
            Problem::Negative { value: "-3" }
        );
        assert_eq!(Problem::classify("something else"), Problem::Other);
        assert_eq!(expected_words("u64"), "a whole number");
        assert_eq!(found_words("string \"four\""), "the string \"four\"");
    }
}
