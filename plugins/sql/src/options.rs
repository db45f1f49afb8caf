//! The plugin's options (the stage's `options` table in `pipeline.toml`) and
//! their validation.
//!
//! The source is PostgreSQL when `url_env` is set and SQLite otherwise (the
//! database is then the stage's single input file). Validation happens in
//! `init`, before any connection is made, so option mistakes are reported
//! up front with the option's name.

use runtime_plugin_sdk::error::{Error, Result};
use serde::Deserialize;

/// How the key space of the partition column is cut into splits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// Equal-width ranges between the bounds (Spark's JDBC behaviour).
    #[default]
    EqualWidth,
    /// Ranges between exact quantiles, so each split holds about as many rows.
    Quantile,
    /// `hash(column) % num_partitions`, for keys that are not integers.
    Hash,
}

impl Strategy {
    pub fn name(self) -> &'static str {
        match self {
            Strategy::EqualWidth => "equal_width",
            Strategy::Quantile => "quantile",
            Strategy::Hash => "hash",
        }
    }
}

/// Options as written in `pipeline.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    /// Name of the environment variable that holds the PostgreSQL URL
    /// (`postgresql://user:password@host:port/db`). Absent for SQLite.
    #[serde(default)]
    pub url_env: Option<String>,
    /// Table to read (`name` or `schema.name`; quote parts with `"` for
    /// mixed case). Exclusive with `query`.
    #[serde(default)]
    pub table: Option<String>,
    /// A `SELECT` to read instead of a table. Exclusive with `table`.
    #[serde(default)]
    pub query: Option<String>,
    /// Column of the table or query result whose values split the work.
    #[serde(default)]
    pub partition_column: Option<String>,
    /// Lower bound for `equal_width` (otherwise `min(partition_column)`).
    #[serde(default)]
    pub lower_bound: Option<i64>,
    /// Upper bound for `equal_width` (otherwise `max(partition_column)`).
    #[serde(default)]
    pub upper_bound: Option<i64>,
    /// Number of key ranges (work units), not counting the NULL split.
    #[serde(default)]
    pub num_partitions: Option<u32>,
    /// Rows per emitted batch.
    #[serde(default = "default_fetch_size", alias = "batch_rows")]
    pub fetch_size: usize,
    #[serde(default)]
    pub split_strategy: Strategy,
}

pub const DEFAULT_FETCH_SIZE: usize = 32768;
pub const DEFAULT_PARTITIONS: u32 = 8;
pub const MAX_PARTITIONS: u32 = 10_000;

fn default_fetch_size() -> usize {
    DEFAULT_FETCH_SIZE
}

/// What to read: a table name or a query, as SQL text usable in `FROM (...)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Relation {
    Table(String),
    Query(String),
}

impl Relation {
    /// A `SELECT` producing the relation's rows.
    pub fn select(&self) -> String {
        match self {
            Relation::Table(name) => format!("SELECT * FROM {name}"),
            Relation::Query(q) => q.clone(),
        }
    }
}

/// Validated options.
#[derive(Debug, Clone)]
pub struct Config {
    pub url_env: Option<String>,
    pub relation: Relation,
    pub partition_column: Option<String>,
    pub bounds: (Option<i64>, Option<i64>),
    pub num_partitions: u32,
    pub fetch_size: usize,
    pub strategy: Strategy,
}

impl Options {
    /// Checks the options together; collects every problem into one error.
    pub fn validate(self) -> Result<Config> {
        let mut problems = Vec::new();
        let relation = match (self.table, self.query) {
            (Some(t), None) => match check_table_name(&t) {
                Ok(()) => Some(Relation::Table(t)),
                Err(e) => {
                    problems.push(format!("table: {e}"));
                    None
                }
            },
            (None, Some(q)) => {
                let q = q.trim().trim_end_matches(';').trim_end().to_string();
                if q.is_empty() {
                    problems.push("query: is empty".to_string());
                }
                Some(Relation::Query(q))
            }
            (Some(_), Some(_)) => {
                problems.push("set either `table` or `query`, not both".to_string());
                None
            }
            (None, None) => {
                problems.push("set `table` (a table name) or `query` (a SELECT)".to_string());
                None
            }
        };
        if let Some(env) = &self.url_env
            && (env.is_empty() || env.contains('=') || env.contains('\0'))
        {
            problems.push("url_env: must be the name of an environment variable".to_string());
        }
        if let Some(c) = &self.partition_column
            && (c.is_empty() || c.contains('\0'))
        {
            problems.push("partition_column: must be a column name".to_string());
        }
        let num_partitions = match (self.num_partitions, &self.partition_column) {
            (Some(n), _) if n == 0 || n > MAX_PARTITIONS => {
                problems.push(format!("num_partitions: must be between 1 and {MAX_PARTITIONS}, not {n}"));
                1
            }
            (Some(n), None) if n > 1 => {
                problems.push("num_partitions: needs `partition_column` to split on".to_string());
                1
            }
            (Some(n), _) => n,
            (None, Some(_)) => DEFAULT_PARTITIONS,
            (None, None) => 1,
        };
        if self.fetch_size == 0 || self.fetch_size > 10_000_000 {
            problems.push(format!("fetch_size: must be between 1 and 10000000, not {}", self.fetch_size));
        }
        let bounded = self.lower_bound.is_some() || self.upper_bound.is_some();
        if bounded && self.split_strategy != Strategy::EqualWidth {
            problems.push(format!(
                "lower_bound/upper_bound: only apply to split_strategy = \"equal_width\", not \"{}\"",
                self.split_strategy.name()
            ));
        }
        if let (Some(lo), Some(hi)) = (self.lower_bound, self.upper_bound)
            && lo > hi
        {
            problems.push(format!("lower_bound ({lo}) is greater than upper_bound ({hi})"));
        }
        if !problems.is_empty() {
            return Err(Error::invalid_options(problems.join("; ")));
        }
        Ok(Config {
            url_env: self.url_env,
            relation: relation.expect("checked above"),
            partition_column: self.partition_column,
            bounds: (self.lower_bound, self.upper_bound),
            num_partitions,
            fetch_size: self.fetch_size,
            strategy: self.split_strategy,
        })
    }
}

/// Accepts `name`, `schema.name` and `"Quoted"` parts; rejects anything that
/// could smuggle SQL into the generated statements.
fn check_table_name(name: &str) -> std::result::Result<(), String> {
    let mut rest = name;
    loop {
        if let Some(quoted) = rest.strip_prefix('"') {
            // A quoted identifier: `""` is an escaped quote.
            let mut end = None;
            let bytes = quoted.as_bytes();
            let mut i = 0;
            while i < bytes.len() {
                if bytes[i] == b'"' {
                    if bytes.get(i + 1) == Some(&b'"') {
                        i += 2;
                        continue;
                    }
                    end = Some(i);
                    break;
                }
                i += 1;
            }
            let end = end.ok_or_else(|| format!("unterminated quoted identifier in `{name}`"))?;
            if end == 0 {
                return Err(format!("empty identifier in `{name}`"));
            }
            rest = &quoted[end + 1..];
        } else {
            let len = rest
                .char_indices()
                .take_while(|(i, c)| c.is_alphanumeric() || *c == '_' || (*i > 0 && *c == '$'))
                .map(|(i, c)| i + c.len_utf8())
                .last()
                .unwrap_or(0);
            if len == 0 || rest.starts_with(|c: char| c.is_ascii_digit()) {
                return Err(format!(
                    "`{name}` is not a table name (use `name`, `schema.name`, or `query` for anything else)"
                ));
            }
            rest = &rest[len..];
        }
        match rest.strip_prefix('.') {
            Some(r) => rest = r,
            None if rest.is_empty() => return Ok(()),
            None => {
                return Err(format!(
                    "`{name}` is not a table name (use `name`, `schema.name`, or `query` for anything else)"
                ));
            }
        }
    }
}

/// Quotes an identifier for SQL (both databases use `"..."`).
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<Config> {
        runtime_plugin_sdk::options::parse::<Options>(json)?.validate()
    }

    #[test]
    fn defaults() {
        let c = parse(r#"{"table":"orders","partition_column":"id"}"#).unwrap();
        assert_eq!(c.relation, Relation::Table("orders".into()));
        assert_eq!(c.num_partitions, DEFAULT_PARTITIONS);
        assert_eq!(c.strategy, Strategy::EqualWidth);
        assert_eq!(c.fetch_size, DEFAULT_FETCH_SIZE);
        let c = parse(r#"{"query":"select 1 as x;  "}"#).unwrap();
        assert_eq!(c.relation, Relation::Query("select 1 as x".into()));
        assert_eq!(c.num_partitions, 1);
    }

    #[test]
    fn collects_every_problem() {
        let err = parse(r#"{"table":"t; drop table x","num_partitions":0,"fetch_size":0,"split_strategy":"hash","lower_bound":1}"#)
            .unwrap_err();
        assert_eq!(err.kind, runtime_plugin_sdk::error::ErrorKind::InvalidOptions);
        for part in ["table:", "num_partitions:", "fetch_size:", "lower_bound/upper_bound"] {
            assert!(err.message.contains(part), "{part} missing from {}", err.message);
        }
        let err = parse(r#"{"table":"a","query":"select 1"}"#).unwrap_err();
        assert!(err.message.contains("not both"), "{}", err.message);
        let err = parse(r#"{"table":"a","split_strategy":"random"}"#).unwrap_err();
        assert!(err.message.starts_with("split_strategy: unknown variant"), "{}", err.message);
        let err = parse(r#"{"table":"a","num_partitions":4}"#).unwrap_err();
        assert!(err.message.contains("needs `partition_column`"), "{}", err.message);
    }

    #[test]
    fn table_names() {
        for ok in ["orders", "public.orders", "\"Mixed Case\"", "s.\"we\"\"ird\"", "t$1", "café"] {
            assert!(check_table_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a b", "a;b", "\"open", "a.", ".a", "1abc", "a--", "(select 1)"] {
            assert!(check_table_name(bad).is_err(), "{bad}");
        }
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
    }
}
