//! The PostgreSQL source: schema discovery, split planning and reading one
//! split with `COPY (SELECT ...) TO STDOUT (FORMAT binary)`.
//!
//! Every statement wraps the user's relation as `(SELECT ...) AS _q`, so a
//! table and a query are handled alike and the planner can push the split
//! predicate on `_q."column"` into an index scan. Planning runs a describe,
//! at most one query for the bounds (`min`/`max`, or exact `percentile_disc`
//! quantiles), and one round trip of `EXPLAIN`s whose row estimates become
//! the splits' size hints.

pub mod conn;
pub mod copy;
pub mod types;
pub mod url;

use crate::columns::{BatchBuilder, ColumnType, schema_of};
use crate::options::{Config, Strategy, quote_ident};
use crate::plan::{self, Predicate, column_ref};
use crate::{PlannedSplit, Source};
use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use conn::Connection;
use runtime_plugin_sdk::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use url::ConnectParams;

/// A result column as the plan saw it (part of each split's payload).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PgColumn {
    pub name: String,
    pub type_oid: u32,
    pub typmod: i32,
}

impl PgColumn {
    fn mapping(&self) -> types::Mapping {
        types::map(self.type_oid, self.typmod)
    }
}

/// The Arrow schema of described columns.
pub fn schema(columns: &[PgColumn]) -> SchemaRef {
    schema_of(&columns.iter().map(|c| (c.name.clone(), c.mapping().ty)).collect::<Vec<_>>())
}

/// Reads the connection URL from the environment variable named by
/// `url_env`. The value is never echoed.
pub fn params_from_env(var: &str) -> Result<ConnectParams> {
    let url = std::env::var(var).map_err(|e| {
        Error::invalid_options(format!(
            "url_env: environment variable {var} is {} (grant it under [source.grants] env = [\"{var}\"])",
            match e {
                std::env::VarError::NotPresent => "not set or not granted to the plugin",
                std::env::VarError::NotUnicode(_) => "not valid Unicode",
            }
        ))
    })?;
    ConnectParams::parse(&url, var)
}

/// Describes the relation's columns.
pub fn describe(conn: &mut Connection, config: &Config) -> Result<Vec<PgColumn>> {
    let sql = format!("SELECT * FROM ({}) AS _q", config.relation.select());
    let fields = conn.describe(&sql).map_err(|e| e.context("describing the relation"))?;
    let mut seen = HashMap::new();
    for f in &fields {
        if seen.insert(f.name.as_str(), ()).is_some() {
            return Err(Error::invalid_options(format!(
                "the relation has two columns named `{}`; give them distinct aliases in `query`",
                f.name
            )));
        }
    }
    let columns: Vec<PgColumn> = fields
        .into_iter()
        .map(|f| PgColumn { name: f.name, type_oid: f.type_oid, typmod: f.typmod })
        .collect();
    if let Some(pc) = &config.partition_column {
        let column = columns.iter().find(|c| &c.name == pc).ok_or_else(|| {
            Error::invalid_options(format!("partition_column: the relation has no column `{pc}`"))
        })?;
        let integer = matches!(column.type_oid, 20 | 21 | 23);
        if config.strategy != Strategy::Hash && config.num_partitions > 1 && !integer {
            return Err(Error::invalid_options(format!(
                "partition_column: `{pc}` is not an integer column (type oid {}); split_strategy \"{}\" needs \
                 smallint, integer or bigint; use split_strategy = \"hash\" or an integer expression in `query`",
                column.type_oid,
                config.strategy.name()
            )));
        }
    }
    Ok(columns)
}

/// The bucket expression of the `hash` strategy: `hashtext(c::text)` folded
/// into `0..n` without `abs` (whose argument `-2147483648` would overflow).
pub fn hash_bucket(col: &str, n: u32) -> String {
    format!("((hashtext({col}::text)::bigint % {n}) + {n}) % {n}")
}

/// Plans the splits of the relation.
pub fn plan(conn: &mut Connection, config: &Config) -> Result<Vec<PlannedSplit>> {
    let base = config.relation.select();
    let Some(pc) = config.partition_column.as_deref() else {
        let rows = estimate_rows(conn, &base, "", &[Predicate::All], 1)?[0];
        return Ok(vec![PlannedSplit { predicate: Predicate::All, rows }]);
    };
    let col = column_ref(pc);
    let n = config.num_partitions;
    let bounds = match config.strategy {
        Strategy::Hash => Vec::new(),
        _ if n == 1 => Vec::new(),
        Strategy::EqualWidth => {
            let (lo, hi) = match config.bounds {
                (Some(lo), Some(hi)) => (Some(lo), Some(hi)),
                (lo, hi) => {
                    let sql = format!("SELECT min({col})::int8, max({col})::int8 FROM ({base}) AS _q");
                    let row = first_row(conn.simple_query(&sql)?)?;
                    (lo.or(int(&row[0])?), hi.or(int(&row[1])?))
                }
            };
            match (lo, hi) {
                (Some(lo), Some(hi)) => plan::equal_width_bounds(lo, hi, n),
                _ => Vec::new(), // no non-NULL keys
            }
        }
        Strategy::Quantile => {
            let fractions: Vec<String> = (1..n).map(|k| format!("{k}.0/{n}")).collect();
            let sql = format!(
                "SELECT percentile_disc(ARRAY[{}]::float8[]) WITHIN GROUP (ORDER BY {col})::int8[], min({col})::int8 \
                 FROM ({base}) AS _q",
                fractions.join(", ")
            );
            let row = first_row(conn.simple_query(&sql)?)?;
            let values = match &row[0] {
                Some(array) => parse_int_array(array)?,
                None => Vec::new(),
            };
            plan::normalize_bounds(values, int(&row[1])?)
        }
    };
    let predicates = plan::predicates(config.strategy, &bounds, n);
    let counts = estimate_rows(conn, &base, &col, &predicates, n)?;
    Ok(predicates.into_iter().zip(counts).map(|(predicate, rows)| PlannedSplit { predicate, rows }).collect())
}

/// The planner's row estimate of every split, from one round trip of
/// `EXPLAIN`s (no scan: PostgreSQL's statistics answer it). Hash buckets
/// share the non-NULL rows equally; the planner cannot see into a hash.
fn estimate_rows(
    conn: &mut Connection,
    base: &str,
    col: &str,
    predicates: &[Predicate],
    n: u32,
) -> Result<Vec<u64>> {
    let explain =
        |condition: &str| format!("EXPLAIN (FORMAT JSON) SELECT 1 FROM ({base}) AS _q WHERE {condition}");
    let conditions: Vec<String> = predicates
        .iter()
        .map(|p| match p {
            Predicate::Hash { .. } => format!("{col} IS NOT NULL"),
            p => p.sql(col, hash_bucket).unwrap_or_else(|| "true".into()),
        })
        .collect();
    let batch: Vec<String> = conditions.iter().map(|c| explain(c)).collect();
    let rows = conn.simple_query(&batch.join(";\n"))?;
    if rows.len() != predicates.len() {
        return Err(bad_planning_result());
    }
    rows.iter()
        .zip(predicates)
        .map(|(row, p)| {
            let plan: serde_json::Value = row[0]
                .as_deref()
                .and_then(|j| serde_json::from_str(j).ok())
                .ok_or_else(bad_planning_result)?;
            let estimate = plan[0]["Plan"]["Plan Rows"].as_f64().ok_or_else(bad_planning_result)?;
            Ok(match p {
                Predicate::Hash { .. } => (estimate / n as f64).ceil() as u64,
                _ => estimate as u64,
            })
        })
        .collect()
}

/// The `COPY` statement reading one split.
pub fn copy_statement(config: &Config, columns: &[PgColumn], predicate: &Predicate) -> String {
    let list: Vec<String> = columns
        .iter()
        .map(|c| {
            let r = format!("_q.{}", quote_ident(&c.name));
            if c.mapping().cast_text { format!("{r}::text") } else { r }
        })
        .collect();
    let condition = match &config.partition_column {
        Some(pc) => predicate.sql(&column_ref(pc), hash_bucket),
        None => None,
    };
    format!(
        "COPY (SELECT {} FROM ({}) AS _q{}) TO STDOUT (FORMAT binary)",
        list.join(", "),
        config.relation.select(),
        condition.map(|c| format!(" WHERE {c}")).unwrap_or_default()
    )
}

/// Reads one split, emitting a batch every `fetch_size` rows. Returns the
/// number of rows read.
pub fn read(
    conn: &mut Connection,
    config: &Config,
    columns: &[PgColumn],
    predicate: &Predicate,
    emit: &mut dyn FnMut(RecordBatch) -> Result<()>,
) -> Result<u64> {
    let mappings: Vec<types::Mapping> = columns.iter().map(PgColumn::mapping).collect();
    let types: Vec<ColumnType> = mappings.iter().map(|m| m.ty.clone()).collect();
    let decodes: Vec<types::Decode> = mappings.into_iter().map(|m| m.decode).collect();
    let names: Vec<String> = columns.iter().map(|c| c.name.clone()).collect();
    let mut batch = BatchBuilder::new(schema(columns), &types, config.fetch_size)?;
    let mut decoder = copy::CopyDecoder::new(&decodes, &names);
    let sql = copy_statement(config, columns, predicate);
    conn.copy_out(&sql, &mut |data| decoder.feed(data, &mut batch, emit))?;
    decoder.finish()?;
    batch.flush(emit)?;
    Ok(batch.emitted)
}

/// The PostgreSQL source of the plugin: connection parameters and the
/// connection kept open between splits on one instance.
pub struct Postgres {
    params: ConnectParams,
    conn: Option<Connection>,
}

impl Postgres {
    pub fn new(url_env: &str) -> Result<Self> {
        Ok(Postgres { params: params_from_env(url_env)?, conn: None })
    }

    /// The open connection, reconnecting if the last one broke.
    pub fn connection(&mut self) -> Result<&mut Connection> {
        if !self.conn.as_ref().is_some_and(Connection::is_usable) {
            self.conn = None;
            self.conn = Some(Connection::connect(&self.params)?);
        }
        Ok(self.conn.as_mut().expect("just connected"))
    }

    /// Drops the connection after a failure so the next split reconnects.
    pub fn reset_on_error<T>(&mut self, result: Result<T>) -> Result<T> {
        if result.is_err() && !self.conn.as_ref().is_some_and(Connection::is_usable) {
            self.conn = None;
        }
        result
    }
}

impl Source for Postgres {
    type Column = PgColumn;

    fn columns(&mut self, config: &Config) -> Result<Vec<PgColumn>> {
        let result = describe(self.connection()?, config);
        self.reset_on_error(result)
    }

    fn schema(columns: &[PgColumn]) -> SchemaRef {
        schema(columns)
    }

    fn estimated_row_width(columns: &[PgColumn]) -> u64 {
        columns.iter().map(|c| c.mapping().ty.estimated_width()).sum::<u64>().max(1)
    }

    fn plan(&mut self, config: &Config) -> Result<Vec<PlannedSplit>> {
        let result = plan(self.connection()?, config);
        self.reset_on_error(result)
    }

    fn read(
        &mut self,
        config: &Config,
        columns: &[PgColumn],
        predicate: &Predicate,
        emit: &mut dyn FnMut(RecordBatch) -> Result<()>,
    ) -> Result<u64> {
        let result = read(self.connection()?, config, columns, predicate, emit);
        self.reset_on_error(result)
    }
}

fn first_row(rows: Vec<Vec<Option<String>>>) -> Result<Vec<Option<String>>> {
    rows.into_iter().next().ok_or_else(bad_planning_result)
}

fn int(v: &Option<String>) -> Result<Option<i64>> {
    match v {
        None => Ok(None),
        Some(s) => s.parse().map(Some).map_err(|_| bad_planning_result()),
    }
}

/// Parses PostgreSQL's text form of an `int8[]`, such as `{1,-5,NULL}`.
fn parse_int_array(text: &str) -> Result<Vec<i64>> {
    let inner = text.strip_prefix('{').and_then(|t| t.strip_suffix('}')).ok_or_else(bad_planning_result)?;
    inner
        .split(',')
        .filter(|s| !s.is_empty() && *s != "NULL")
        .map(|s| s.parse::<i64>().map_err(|_| bad_planning_result()))
        .collect()
}

fn bad_planning_result() -> Error {
    Error::internal("unexpected result of a planning query")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::Relation;

    fn config(strategy: Strategy) -> Config {
        Config {
            url_env: Some("PG_URL".into()),
            relation: Relation::Table("public.t".into()),
            partition_column: Some("id".into()),
            bounds: (None, None),
            num_partitions: 4,
            fetch_size: 100,
            strategy,
        }
    }

    #[test]
    fn copy_statements() {
        let cols = vec![
            PgColumn { name: "id".into(), type_oid: 20, typmod: -1 },
            PgColumn { name: "a\"b".into(), type_oid: 1186, typmod: -1 },
        ];
        let sql = copy_statement(
            &config(Strategy::EqualWidth),
            &cols,
            &Predicate::Range { lo: Some(-5), hi: None },
        );
        assert_eq!(
            sql,
            "COPY (SELECT _q.\"id\", _q.\"a\"\"b\"::text FROM (SELECT * FROM public.t) AS _q WHERE _q.\"id\" >= -5) \
             TO STDOUT (FORMAT binary)"
        );
        let sql = copy_statement(&config(Strategy::Hash), &cols, &Predicate::Hash { bucket: 1, buckets: 4 });
        assert!(sql.contains("WHERE ((hashtext(_q.\"id\"::text)::bigint % 4) + 4) % 4 = 1"), "{sql}");
    }

    #[test]
    fn int_arrays() {
        assert_eq!(parse_int_array("{1,-9200000000000000000,NULL}").unwrap(), vec![1, -9200000000000000000]);
        assert_eq!(parse_int_array("{}").unwrap(), Vec::<i64>::new());
        assert!(parse_int_array("1,2").is_err());
    }
}
