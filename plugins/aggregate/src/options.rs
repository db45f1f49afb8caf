//! Options of the `aggregate` transform: the serde form from `pipeline.toml`
//! ([`Options`]) and its validated form ([`Config`]).
//!
//! Validation collects every problem before failing. Checks that need the
//! input schema (columns exist, types fit the function) happen in
//! [`crate::layout`].

use runtime_plugin_sdk::error::{Error, Result};
use serde::Deserialize;

/// The options as written in `pipeline.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    /// Columns whose values form the group key, in output order.
    #[serde(default)]
    pub group_by: Vec<String>,
    /// Aggregates computed per group, in output order after the keys.
    #[serde(default)]
    pub aggregates: Vec<AggregateOptions>,
}

/// One aggregate as written in `pipeline.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AggregateOptions {
    /// Output column name.
    pub name: String,
    pub function: Function,
    /// Input column; required except for `count` (which then counts rows).
    #[serde(default)]
    pub column: Option<String>,
    /// `sum` only: the output is the float64 quotient `sum / divide_by`
    /// (a real division, never a multiplication by the reciprocal).
    #[serde(default)]
    pub divide_by: Option<serde_json::Number>,
}

/// An aggregate function.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Function {
    /// Sum of non-null values: int64 for integer input (overflow is an
    /// error), float64 for float input; null when the group has no value.
    Sum,
    /// Rows (without `column`) or non-null values of `column`.
    Count,
    /// Distinct non-null values.
    CountDistinct,
    /// Smallest non-null value, of the input's type.
    Min,
    /// Largest non-null value, of the input's type.
    Max,
}

impl Function {
    pub fn name(self) -> &'static str {
        match self {
            Function::Sum => "sum",
            Function::Count => "count",
            Function::CountDistinct => "count_distinct",
            Function::Min => "min",
            Function::Max => "max",
        }
    }
}

/// A validated aggregate.
#[derive(Debug, Clone, PartialEq)]
pub struct Aggregate {
    pub name: String,
    pub function: Function,
    pub column: Option<String>,
    pub divide_by: Option<f64>,
}

/// Validated options.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub group_by: Vec<String>,
    pub aggregates: Vec<Aggregate>,
}

/// Integers up to 2^53 convert to f64 exactly.
const MAX_EXACT_INTEGER: u64 = 1 << 53;

impl Options {
    /// Checks the options; the error lists every problem found.
    pub fn validate(self) -> Result<Config> {
        let mut errors = Vec::new();
        if self.group_by.is_empty() && self.aggregates.is_empty() {
            errors.push("give `group_by` columns, `aggregates`, or both".to_string());
        }
        let mut names: Vec<&str> = Vec::new();
        for (i, key) in self.group_by.iter().enumerate() {
            if key.is_empty() {
                errors.push(format!("group_by[{i}]: must not be empty"));
            } else if names.contains(&key.as_str()) {
                errors.push(format!("group_by[{i}]: column `{key}` is listed twice"));
            }
            names.push(key);
        }
        let mut aggregates = Vec::new();
        for (i, a) in self.aggregates.iter().enumerate() {
            let at = format!("aggregates[{i}]");
            if a.name.is_empty() {
                errors.push(format!("{at}.name: must not be empty"));
            } else if names.contains(&a.name.as_str()) {
                errors.push(format!("{at}.name: output column `{}` already exists", a.name));
            }
            names.push(&a.name);
            match (&a.column, a.function) {
                (None, Function::Count) => {}
                (None, f) => errors.push(format!("{at}.column: required for `{}`", f.name())),
                (Some(c), _) if c.is_empty() => errors.push(format!("{at}.column: must not be empty")),
                _ => {}
            }
            let divide_by = match (&a.divide_by, a.function) {
                (None, _) => None,
                (Some(_), f) if f != Function::Sum => {
                    errors.push(format!("{at}.divide_by: only `sum` can divide, not `{}`", f.name()));
                    None
                }
                (Some(n), _) => match divisor(n) {
                    Ok(d) => Some(d),
                    Err(e) => {
                        errors.push(format!("{at}.divide_by: {e}"));
                        None
                    }
                },
            };
            aggregates.push(Aggregate {
                name: a.name.clone(),
                function: a.function,
                column: a.column.clone(),
                divide_by,
            });
        }
        if !errors.is_empty() {
            return Err(Error::invalid_options(errors.join("; ")));
        }
        Ok(Config { group_by: self.group_by, aggregates })
    }
}

/// A divisor as an exact, finite, non-zero f64.
fn divisor(n: &serde_json::Number) -> std::result::Result<f64, String> {
    let exact_int = |magnitude: u64| magnitude <= MAX_EXACT_INTEGER;
    if let Some(u) = n.as_u64() {
        if !exact_int(u) {
            return Err(format!("{n} is not exactly representable as a float64"));
        }
    } else if let Some(i) = n.as_i64()
        && !exact_int(i.unsigned_abs())
    {
        return Err(format!("{n} is not exactly representable as a float64"));
    }
    match n.as_f64() {
        Some(0.0) => Err("must not be zero".to_string()),
        Some(d) if d.is_finite() => Ok(d),
        _ => Err(format!("{n} is not a finite number")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use runtime_plugin_sdk::options::parse;

    #[test]
    fn pod_usage_options() {
        let json = r#"{"group_by": ["usage_date", "namespace", "node", "labels"], "aggregates": [
            {"name": "pod_count", "function": "count_distinct", "column": "pod"},
            {"name": "cpu", "function": "sum", "column": "cpu_seconds", "divide_by": 3600},
            {"name": "mem", "function": "sum", "column": "mem", "divide_by": 3865470566400},
            {"name": "rows", "function": "count"}]}"#;
        let config = parse::<Options>(json).unwrap().validate().unwrap();
        assert_eq!(config.group_by, ["usage_date", "namespace", "node", "labels"]);
        assert_eq!(config.aggregates[1].divide_by, Some(3600.0));
        assert_eq!(config.aggregates[2].divide_by, Some(3865470566400.0));
        assert_eq!(
            config.aggregates[3],
            Aggregate { name: "rows".into(), function: Function::Count, column: None, divide_by: None }
        );
    }

    #[test]
    fn errors_are_collected() {
        let json = r#"{"group_by": ["a", "a"], "aggregates": [
            {"name": "a", "function": "sum"},
            {"name": "m", "function": "max", "column": "x", "divide_by": 2},
            {"name": "s", "function": "sum", "column": "x", "divide_by": 0},
            {"name": "t", "function": "sum", "column": "x", "divide_by": 9007199254740993}]}"#;
        let err = parse::<Options>(json).unwrap().validate().unwrap_err();
        assert_eq!(
            err.message,
            "group_by[1]: column `a` is listed twice; aggregates[0].name: output column `a` already exists; \
             aggregates[0].column: required for `sum`; aggregates[1].divide_by: only `sum` can divide, not `max`; \
             aggregates[2].divide_by: must not be zero; \
             aggregates[3].divide_by: 9007199254740993 is not exactly representable as a float64"
        );
    }

    #[test]
    fn empty_and_unknown() {
        let err = parse::<Options>("{}").unwrap().validate().unwrap_err();
        assert_eq!(err.message, "give `group_by` columns, `aggregates`, or both");
        let err = parse::<Options>(r#"{"aggregates": [{"name": "n", "function": "avg"}]}"#).unwrap_err();
        assert!(err.message.starts_with("aggregates[0].function: unknown variant `avg`"), "{}", err.message);
        let err = parse::<Options>(r#"{"group_by": ["a"], "order_by": []}"#).unwrap_err();
        assert!(err.message.starts_with("order_by: unknown field"), "{}", err.message);
    }
}
