//! Options of the `labels` transform: the serde form that arrives from
//! `pipeline.toml` ([`Options`]) and its validated form ([`Config`]), with the
//! label sources resolved into one precedence order.
//!
//! Validation collects every problem before failing, so one run of
//! `runtime validate` reports all of them.

use runtime_plugin_sdk::error::{Error, Result};
use serde::Deserialize;

/// The default bound of the per-transformer output cache.
pub const DEFAULT_CACHE_ENTRIES: usize = 65_536;

/// The options as written in `pipeline.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    /// Input column holding the row's own labels as raw JSON text (a string
    /// holding an object, an object, `null` or `""`).
    pub column: String,
    /// Output column (utf8, never null): canonical JSON of the merged labels.
    #[serde(default = "default_output")]
    pub output: String,
    /// Input columns left out of the output. Default: `[column]`.
    #[serde(default)]
    pub drop: Option<Vec<String>>,
    /// Side-table labels merged under the row's own labels, earlier entries
    /// winning over later ones.
    #[serde(default)]
    pub lookups: Vec<Lookup>,
    /// Explicit precedence, highest first: `column` for the row's own labels
    /// and a lookup's `side_table` for that lookup. Must name every source once.
    #[serde(default)]
    pub precedence: Option<Vec<String>>,
    /// What a malformed labels value does: fail the split or count as `{}`.
    #[serde(default)]
    pub on_invalid: OnInvalid,
    /// Upper bound on each level of the per-transformer cache; a full level
    /// is emptied. 0 keeps nothing beyond the current row.
    #[serde(default = "default_cache_entries")]
    pub cache_entries: usize,
    /// Write the output as `dictionary<int32, utf8>` (each distinct JSON once
    /// per batch) instead of utf8.
    #[serde(default)]
    pub dictionary: bool,
}

/// One side table whose labels are merged under the row's.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Lookup {
    /// Name of the side table (as declared under `[side_tables]`).
    pub side_table: String,
    /// Columns with these names in both the input and the side table; a row
    /// matches the side-table row whose key values are all equal and non-null.
    pub key: Vec<String>,
    /// Side-table column holding the labels as raw JSON text.
    pub labels: String,
}

/// What to do with a labels value that is not valid.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum OnInvalid {
    /// Fail the split (or `init`, for a side table), naming row and column.
    #[default]
    Fail,
    /// Treat the value as `{}` and count it in the `invalid_labels` counter.
    Empty,
}

/// Where a set of labels comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The input row's own `column`.
    Row,
    /// The lookup with this index in [`Config::lookups`].
    Lookup(usize),
}

/// Validated options.
#[derive(Debug, Clone)]
pub struct Config {
    pub column: String,
    pub output: String,
    pub drop: Vec<String>,
    pub lookups: Vec<Lookup>,
    /// Every source exactly once, highest precedence first.
    pub order: Vec<Source>,
    pub on_invalid: OnInvalid,
    pub cache_entries: usize,
    pub dictionary: bool,
}

fn default_output() -> String {
    "labels".to_string()
}

fn default_cache_entries() -> usize {
    DEFAULT_CACHE_ENTRIES
}

impl Options {
    /// Checks the options and resolves the precedence order. The error lists
    /// every problem found.
    pub fn validate(self) -> Result<Config> {
        let mut errors = Vec::new();
        if self.column.is_empty() {
            errors.push("column: must not be empty".to_string());
        }
        if self.output.is_empty() {
            errors.push("output: must not be empty".to_string());
        }
        for (i, lookup) in self.lookups.iter().enumerate() {
            if lookup.side_table.is_empty() {
                errors.push(format!("lookups[{i}].side_table: must not be empty"));
            }
            if lookup.labels.is_empty() {
                errors.push(format!("lookups[{i}].labels: must not be empty"));
            }
            if lookup.key.is_empty() {
                errors.push(format!("lookups[{i}].key: must name at least one column"));
            }
            for (j, k) in lookup.key.iter().enumerate() {
                if lookup.key[..j].contains(k) {
                    errors.push(format!("lookups[{i}].key: column `{k}` is listed twice"));
                }
            }
        }
        let order = match &self.precedence {
            None => std::iter::once(Source::Row).chain((0..self.lookups.len()).map(Source::Lookup)).collect(),
            Some(names) => resolve_precedence(&self.column, &self.lookups, names, &mut errors),
        };
        if !errors.is_empty() {
            return Err(Error::invalid_options(errors.join("; ")));
        }
        let drop = self.drop.unwrap_or_else(|| vec![self.column.clone()]);
        Ok(Config {
            column: self.column,
            output: self.output,
            drop,
            lookups: self.lookups,
            order,
            on_invalid: self.on_invalid,
            cache_entries: self.cache_entries,
            dictionary: self.dictionary,
        })
    }
}

/// Maps the names of an explicit `precedence` list to sources.
fn resolve_precedence(
    column: &str,
    lookups: &[Lookup],
    names: &[String],
    errors: &mut Vec<String>,
) -> Vec<Source> {
    let mut order = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let mut matches: Vec<Source> = Vec::new();
        if name == column {
            matches.push(Source::Row);
        }
        matches.extend(
            lookups.iter().enumerate().filter(|(_, l)| &l.side_table == name).map(|(j, _)| Source::Lookup(j)),
        );
        match matches.as_slice() {
            [] => errors.push(format!(
                "precedence[{i}]: `{name}` is neither `column` (`{column}`) nor the side_table of a lookup"
            )),
            [source] if order.contains(source) => {
                errors.push(format!("precedence[{i}]: `{name}` is listed twice"))
            }
            [source] => order.push(*source),
            _ => errors.push(format!(
                "precedence[{i}]: `{name}` names more than one source; precedence cannot tell them apart"
            )),
        }
    }
    let expected = 1 + lookups.len();
    if order.len() == names.len() && order.len() != expected {
        let missing: Vec<String> = std::iter::once(Source::Row)
            .chain((0..lookups.len()).map(Source::Lookup))
            .filter(|s| !order.contains(s))
            .map(|s| match s {
                Source::Row => column.to_string(),
                Source::Lookup(j) => lookups[j].side_table.clone(),
            })
            .collect();
        errors.push(format!("precedence: must list every source once; missing {}", missing.join(", ")));
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;
    use runtime_plugin_sdk::options::parse;

    fn lookups_json() -> &'static str {
        r#"[{"side_table":"namespace_labels","key":["usage_date","namespace"],"labels":"namespace_labels"},
            {"side_table":"node_labels","key":["usage_date","node"],"labels":"node_labels"}]"#
    }

    #[test]
    fn defaults() {
        let options: Options = parse(r#"{"column":"pod_labels"}"#).unwrap();
        let config = options.validate().unwrap();
        assert_eq!(config.output, "labels");
        assert_eq!(config.drop, vec!["pod_labels".to_string()]);
        assert_eq!(config.order, vec![Source::Row]);
        assert_eq!(config.on_invalid, OnInvalid::Fail);
        assert_eq!(config.cache_entries, DEFAULT_CACHE_ENTRIES);
        assert!(!config.dictionary);
    }

    #[test]
    fn default_precedence_is_row_then_lookups_in_order() {
        let json = format!(r#"{{"column":"pod_labels","lookups":{}}}"#, lookups_json());
        let config = parse::<Options>(&json).unwrap().validate().unwrap();
        assert_eq!(config.order, vec![Source::Row, Source::Lookup(0), Source::Lookup(1)]);
    }

    #[test]
    fn explicit_precedence() {
        let json = format!(
            r#"{{"column":"pod_labels","lookups":{},"precedence":["node_labels","pod_labels","namespace_labels"]}}"#,
            lookups_json()
        );
        let config = parse::<Options>(&json).unwrap().validate().unwrap();
        assert_eq!(config.order, vec![Source::Lookup(1), Source::Row, Source::Lookup(0)]);
    }

    #[test]
    fn precedence_errors_are_collected() {
        let json = format!(
            r#"{{"column":"pod_labels","lookups":{},"precedence":["pod_labels","nodes","pod_labels"]}}"#,
            lookups_json()
        );
        let err = parse::<Options>(&json).unwrap().validate().unwrap_err();
        assert!(err.message.contains("precedence[1]: `nodes` is neither"), "{}", err.message);
        assert!(err.message.contains("precedence[2]: `pod_labels` is listed twice"), "{}", err.message);
    }

    #[test]
    fn precedence_must_be_complete() {
        let json = format!(
            r#"{{"column":"pod_labels","lookups":{},"precedence":["pod_labels","node_labels"]}}"#,
            lookups_json()
        );
        let err = parse::<Options>(&json).unwrap().validate().unwrap_err();
        assert_eq!(err.message, "precedence: must list every source once; missing namespace_labels");
    }

    #[test]
    fn lookup_errors_are_collected() {
        let json = r#"{"column":"","lookups":[{"side_table":"t","key":[],"labels":"l"},
                       {"side_table":"u","key":["a","a"],"labels":"l"}]}"#;
        let err = parse::<Options>(json).unwrap().validate().unwrap_err();
        assert_eq!(
            err.message,
            "column: must not be empty; lookups[0].key: must name at least one column; \
             lookups[1].key: column `a` is listed twice"
        );
    }

    #[test]
    fn unknown_keys_and_values_are_rejected() {
        let err = parse::<Options>(r#"{"column":"c","colour":"red"}"#).unwrap_err();
        assert!(err.message.starts_with("colour: unknown field"), "{}", err.message);
        let err = parse::<Options>(r#"{"column":"c","on_invalid":"skip"}"#).unwrap_err();
        assert!(err.message.starts_with("on_invalid: unknown variant `skip`"), "{}", err.message);
    }
}
