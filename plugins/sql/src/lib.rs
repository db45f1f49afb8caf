//! `sql`: a partitioned SQL table reader, JDBC-style.
//!
//! It reads a table or query from **PostgreSQL** (its wire protocol over a
//! TCP connection the pipeline grants, `COPY ... TO STDOUT (FORMAT binary)`)
//! or from **SQLite** (the stage's input file, read through the host's input
//! view with an in-plugin VFS), and emits Arrow batches to the `rows`
//! output. The plugin plans its own splits: key ranges of
//! `partition_column` (equal width or exact quantiles), hash buckets, and a
//! split for rows whose key is NULL (see [`plan`]).
//!
//! Layers, from the bottom: [`columns`] (Arrow types and builders),
//! [`plan`] (strategies and predicates), [`pg`] and [`sqlite`] (one
//! [`Source`] each), and [`SqlReader`], the [`Reader`] the host drives.
//! Everything but the `Reader` glue runs natively, so the tests exercise it
//! against a real PostgreSQL server and real SQLite files.
//!
//! ```no_run
//! use sql::options::Options;
//! use sql::SqlReader;
//!
//! let options: Options = serde_json::from_str(
//!     r#"{"url_env": "PG_URL", "table": "orders", "partition_column": "id",
//!         "num_partitions": 4, "split_strategy": "quantile"}"#,
//! ).unwrap();
//! let mut reader = SqlReader::from_options(options).unwrap();
//! for split in reader.plan_postgres().unwrap() {
//!     let rows = reader.read_split(&split, None, &mut |batch| Ok(drop(batch))).unwrap();
//!     println!("{}: {rows} rows", split.id);
//! }
//! ```

pub mod columns;
pub mod options;
pub mod pg;
pub mod plan;
pub mod sqlite;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use options::{Config, Options};
use plan::{Payload, Predicate};
use runtime_plugin_sdk::prelude::*;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlite::ByteSource;
use std::cell::RefCell;
use std::rc::Rc;

/// The name of the reader's only output.
pub const OUTPUT: &str = "rows";

/// A split as planned: its predicate and the rows it held at planning time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedSplit {
    pub predicate: Predicate,
    pub rows: u64,
}

/// One database: describes, plans and reads.
pub trait Source {
    /// A column as stored in split payloads.
    type Column: Serialize + DeserializeOwned + Clone;
    /// The relation's columns.
    fn columns(&mut self, config: &Config) -> Result<Vec<Self::Column>>;
    /// The Arrow schema of the columns.
    fn schema(columns: &[Self::Column]) -> SchemaRef;
    /// Approximate bytes per row, for size hints.
    fn estimated_row_width(columns: &[Self::Column]) -> u64;
    /// The splits, with their row counts.
    fn plan(&mut self, config: &Config) -> Result<Vec<PlannedSplit>>;
    /// Reads the rows matching `predicate`; returns how many.
    fn read(
        &mut self,
        config: &Config,
        columns: &[Self::Column],
        predicate: &Predicate,
        emit: &mut dyn FnMut(RecordBatch) -> Result<()>,
    ) -> Result<u64>;
}

/// The host's input view as a SQLite byte source.
struct HostInput(Input);

impl ByteSource for HostInput {
    fn size(&self) -> u64 {
        self.0.size()
    }
    fn read_at(&self, offset: u64, len: usize) -> std::result::Result<Vec<u8>, String> {
        self.0.read_at(offset, len).map_err(|e| e.message)
    }
}

/// The reader: validated options, the PostgreSQL connection (kept across
/// splits on one instance) and the schema once known.
pub struct SqlReader {
    config: Config,
    postgres: RefCell<Option<pg::Postgres>>,
    schema: RefCell<Option<SchemaRef>>,
}

impl SqlReader {
    /// Validates the options; for PostgreSQL, also reads and parses the URL
    /// from the environment (without connecting).
    pub fn from_options(options: Options) -> Result<Self> {
        let config = options.validate()?;
        let postgres = match &config.url_env {
            Some(var) => Some(pg::Postgres::new(var)?),
            None => None,
        };
        Ok(SqlReader { config, postgres: RefCell::new(postgres), schema: RefCell::new(None) })
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    fn is_postgres(&self) -> bool {
        self.config.url_env.is_some()
    }

    /// The output schema: described from PostgreSQL on demand; for SQLite,
    /// known once `discover` or `plan` opened the database.
    pub fn schema(&self) -> Result<SchemaRef> {
        if let Some(s) = self.schema.borrow().as_ref() {
            return Ok(s.clone());
        }
        let mut pg = self.postgres.borrow_mut();
        let Some(pg) = pg.as_mut() else {
            return Err(Error::internal(
                "the SQLite schema is read from the input database, which the reader first sees in `discover`",
            ));
        };
        let schema = pg::schema(&pg.columns(&self.config)?);
        *self.schema.borrow_mut() = Some(schema.clone());
        Ok(schema)
    }

    /// Plans the splits of a PostgreSQL relation.
    pub fn plan_postgres(&mut self) -> Result<Vec<Split>> {
        let mut pg = self.postgres.borrow_mut();
        let pg = pg.as_mut().ok_or_else(|| Error::internal("not a PostgreSQL source"))?;
        let splits = plan_source(pg, &self.config, None)?;
        *self.schema.borrow_mut() = Some(splits.1);
        Ok(splits.0)
    }

    /// Plans the splits of a SQLite database held by input `index`.
    pub fn plan_sqlite(&mut self, index: u32, source: Rc<dyn ByteSource>) -> Result<Vec<Split>> {
        let size = source.size();
        let mut db = sqlite::Sqlite::open(source)?;
        let (splits, schema) = plan_source(&mut db, &self.config, Some((index, size)))?;
        *self.schema.borrow_mut() = Some(schema);
        Ok(splits)
    }

    /// Reads one split; `source` is the split's input (SQLite only).
    pub fn read_split(
        &mut self,
        split: &Split,
        source: Option<Rc<dyn ByteSource>>,
        emit: &mut dyn FnMut(RecordBatch) -> Result<()>,
    ) -> Result<u64> {
        let context = |e: Error| e.context(format!("split `{}`", split.id));
        if self.is_postgres() {
            let payload: Payload<pg::PgColumn> = parse_payload(&split.payload)?;
            let mut pg = self.postgres.borrow_mut();
            let pg = pg.as_mut().ok_or_else(|| Error::internal("not a PostgreSQL source"))?;
            pg.read(&self.config, &payload.columns, &payload.predicate, emit).map_err(context)
        } else {
            let payload: Payload<sqlite::SqliteColumn> = parse_payload(&split.payload)?;
            let source = source.ok_or_else(|| Error::internal("a SQLite split without its input"))?;
            let mut db = sqlite::Sqlite::open(source).map_err(context)?;
            db.read(&self.config, &payload.columns, &payload.predicate, emit).map_err(context)
        }
    }
}

impl SqlReader {
    /// The SQLite database among the inputs (`None` for PostgreSQL), or why
    /// the inputs do not fit the options.
    fn sqlite_input<'f>(
        &self,
        files: &'f [InputFile],
        inputs: Vec<Input>,
    ) -> Result<Option<(&'f InputFile, Input)>> {
        if self.is_postgres() {
            if !files.is_empty() {
                return Err(Error::invalid_options(
                    "url_env is set, so the source is PostgreSQL; remove `inputs` from [source]",
                ));
            }
            return Ok(None);
        }
        match (files, inputs.len()) {
            ([file], 1) => Ok(Some((file, inputs.into_iter().next().expect("one input")))),
            _ => Err(Error::invalid_options(format!(
                "SQLite needs exactly one input database in [source] inputs, found {}; or set url_env \
                 for PostgreSQL",
                files.len()
            ))),
        }
    }
}

/// Plans with any source and packs each split's predicate and the columns
/// into its payload.
fn plan_source<S: Source>(
    source: &mut S,
    config: &Config,
    input: Option<(u32, u64)>,
) -> Result<(Vec<Split>, SchemaRef)> {
    let columns = source.columns(config)?;
    let planned = source.plan(config)?;
    let width = S::estimated_row_width(&columns);
    let splits = planned
        .into_iter()
        .map(|p| {
            let payload = Payload { predicate: p.predicate.clone(), columns: columns.clone() };
            Ok(Split {
                id: p.predicate.describe(config.partition_column.as_deref()),
                input: input.map(|(i, _)| i),
                offset: 0,
                length: input.map_or(0, |(_, size)| size),
                payload: serde_json::to_string(&payload)
                    .map_err(|e| Error::internal(format!("encoding a split payload: {e}")))?,
                size_hint: p.rows.saturating_mul(width),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((splits, S::schema(&columns)))
}

fn parse_payload<C: DeserializeOwned>(payload: &str) -> Result<Payload<C>> {
    serde_json::from_str(payload).map_err(|e| Error::internal(format!("malformed split payload: {e}")))
}

impl Reader for SqlReader {
    type Options = Options;

    fn describe() -> PluginInfo {
        PluginInfo::reader(
            "sql",
            env!("CARGO_PKG_VERSION"),
            "Reads a table or query from PostgreSQL (wire protocol, binary COPY) or SQLite (the input \
             database file) in parallel key-range, quantile or hash splits",
        )
        .output(OUTPUT)
        .planning(Planning::Plugin)
        .option(OptionSpec::new(
            "url_env",
            "string",
            "PostgreSQL: name of the environment variable holding postgresql://user:password@host:port/db \
             (grant it under [source.grants] env). Absent: the input file is a SQLite database",
        ))
        .option(OptionSpec::new("table", "string", "Table to read (`name` or `schema.name`); or use `query`"))
        .option(OptionSpec::new("query", "string", "A SELECT to read instead of a table"))
        .option(OptionSpec::new(
            "partition_column",
            "string",
            "Column that splits the work: an integer column for equal_width/quantile, any column for hash",
        ))
        .option(OptionSpec::new("lower_bound", "integer", "equal_width: lower key bound (default min)"))
        .option(OptionSpec::new("upper_bound", "integer", "equal_width: upper key bound (default max)"))
        .option(
            OptionSpec::new(
                "num_partitions",
                "integer",
                "Key ranges or hash buckets (plus one split for NULL keys); 1 without partition_column",
            )
            .default_value("8"),
        )
        .option(OptionSpec::new("fetch_size", "integer", "Rows per emitted batch").default_value("32768"))
        .option(
            OptionSpec::new("split_strategy", "string", "equal_width, quantile or hash")
                .default_value("\"equal_width\""),
        )
        .capability(Capability::Network("PostgreSQL: TCP to the server's host:port".into()))
        .capability(Capability::Environment("PostgreSQL: the variable named by url_env".into()))
    }

    fn new(options: Options) -> Result<Self> {
        SqlReader::from_options(options)
    }

    fn output_schemas(&self) -> Result<Vec<(String, SchemaRef)>> {
        Ok(vec![(OUTPUT.to_string(), self.schema()?)])
    }

    fn discover(&mut self, files: &[InputFile], inputs: Vec<Input>) -> Result<Vec<(String, SchemaRef)>> {
        if let Some((file, input)) = self.sqlite_input(files, inputs)? {
            let mut db =
                sqlite::Sqlite::open(Rc::new(HostInput(input))).map_err(|e| e.context(&file.path))?;
            let columns = db.columns(&self.config).map_err(|e| e.context(&file.path))?;
            *self.schema.borrow_mut() = Some(sqlite::Sqlite::schema(&columns));
        }
        self.output_schemas()
    }

    fn plan(&mut self, files: &[InputFile], inputs: Vec<Input>, _hints: &PlanHints) -> Result<Vec<Split>> {
        match self.sqlite_input(files, inputs)? {
            None => self.plan_postgres(),
            Some((file, input)) => {
                self.plan_sqlite(0, Rc::new(HostInput(input))).map_err(|e| e.context(&file.path))
            }
        }
    }

    fn read(
        &mut self,
        split: &Split,
        _file: Option<&InputFile>,
        input: Option<Input>,
        out: &mut Output,
    ) -> Result<Outcome> {
        let source = input.map(|i| Rc::new(HostInput(i)) as Rc<dyn ByteSource>);
        self.read_split(split, source, &mut |batch| {
            runtime_plugin_sdk::log::progress("rows", batch.num_rows() as u64);
            out.emit(OUTPUT, &batch)
        })?;
        Ok(Outcome::complete())
    }
}

runtime_plugin_sdk::export_reader!(SqlReader);
