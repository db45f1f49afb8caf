//! The SQLite source: the database is the stage's input file, read through
//! the host's input view by the [`vfs`] module (no filesystem access).
//!
//! Columns map to Arrow by their declared type (SQLite's affinity rules plus
//! a few names such as `BOOLEAN`, `DATE`, `DATETIME`, `DECIMAL(p,s)`;
//! see the README table). Expression columns have no declared type, so
//! their type is inferred from the storage classes of the first rows.
//! Planning runs at most two queries (bounds or the sorted keys, then one
//! `GROUP BY` counting every split's rows); `hash` uses `runtime_hash`, a
//! deterministic FNV-1a function the plugin registers on each connection.

pub mod vfs;

use crate::columns::{BatchBuilder, ColumnBuilder, ColumnType, parse_decimal, schema_of};
use crate::options::{Config, Strategy, quote_ident};
use crate::plan::{self, Predicate, column_ref};
use crate::{PlannedSplit, Source};
use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use runtime_plugin_sdk::error::{Error, ErrorKind, Result};
use rusqlite::functions::FunctionFlags;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};
use serde::{Deserialize, Serialize};
use std::rc::Rc;
pub use vfs::ByteSource;

/// A result column as the plan saw it (part of each split's payload).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SqliteColumn {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: ColumnType,
}

/// Rows sampled to infer the type of columns without a declared type.
const INFER_ROWS: usize = 10_000;

/// An open, read-only database.
pub struct Sqlite {
    conn: Connection,
    _registration: vfs::Registration,
}

impl Sqlite {
    /// Opens the database held by `source`.
    pub fn open(source: Rc<dyn ByteSource>) -> Result<Self> {
        let registration = vfs::register(source);
        let flags =
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags_and_vfs(registration.uri(), flags, vfs::VFS_NAME)
            .map_err(|e| sqlite_error(e, "opening the database"))?;
        conn.execute_batch("PRAGMA temp_store = MEMORY; PRAGMA cache_size = -65536;")
            .map_err(|e| sqlite_error(e, "configuring the connection"))?;
        conn.create_scalar_function(
            "runtime_hash",
            1,
            FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
            |ctx| Ok(runtime_hash(ctx.get_raw(0))),
        )
        .map_err(|e| sqlite_error(e, "registering runtime_hash"))?;
        // Fail early, with a clear message, on a file that is not a database.
        conn.query_row("SELECT count(*) FROM sqlite_schema", [], |_| Ok(()))
            .map_err(|e| sqlite_error(e, "reading the schema"))?;
        Ok(Sqlite { conn, _registration: registration })
    }

    fn describe(&self, config: &Config) -> Result<Vec<SqliteColumn>> {
        let sql = format!("SELECT * FROM ({}) AS _q", config.relation.select());
        let mut stmt = self.conn.prepare(&sql).map_err(|e| sqlite_error(e, "describing the relation"))?;
        let declared: Vec<(String, Option<ColumnType>)> =
            stmt.columns().map(|c| (c.name().to_string(), c.decl_type().map(map_declared_type))).collect();
        for (i, (name, _)) in declared.iter().enumerate() {
            if declared[..i].iter().any(|(n, _)| n == name) {
                return Err(Error::invalid_options(format!(
                    "the relation has two columns named `{name}`; give them distinct aliases in `query`"
                )));
            }
        }
        // Expression columns: infer from the storage classes of the first rows.
        let mut seen: Vec<Storage> = vec![Storage::default(); declared.len()];
        if declared.iter().any(|(_, t)| t.is_none()) {
            let mut rows = stmt.query([]).map_err(|e| sqlite_error(e, "sampling the relation"))?;
            let mut n = 0;
            while let Some(row) = rows.next().map_err(|e| sqlite_error(e, "sampling the relation"))? {
                for (i, s) in seen.iter_mut().enumerate() {
                    if declared[i].1.is_none() {
                        s.add(row.get_ref(i).map_err(|e| sqlite_error(e, "sampling the relation"))?);
                    }
                }
                n += 1;
                if n >= INFER_ROWS {
                    break;
                }
            }
        }
        let columns: Vec<SqliteColumn> = declared
            .into_iter()
            .zip(seen)
            .map(|((name, ty), s)| SqliteColumn { name, ty: ty.unwrap_or_else(|| s.inferred()) })
            .collect();
        if let Some(pc) = &config.partition_column {
            let column = columns.iter().find(|c| &c.name == pc).ok_or_else(|| {
                Error::invalid_options(format!("partition_column: the relation has no column `{pc}`"))
            })?;
            if config.strategy != Strategy::Hash
                && config.num_partitions > 1
                && column.ty != ColumnType::Int64
            {
                return Err(Error::invalid_options(format!(
                    "partition_column: `{pc}` is not an integer column (declared as {:?}); split_strategy \"{}\" \
                     needs INTEGER keys; use split_strategy = \"hash\"",
                    column.ty,
                    config.strategy.name()
                )));
            }
        }
        Ok(columns)
    }

    fn plan(&self, config: &Config) -> Result<Vec<PlannedSplit>> {
        let base = config.relation.select();
        let Some(pc) = config.partition_column.as_deref() else {
            let rows: i64 = self
                .conn
                .query_row(&format!("SELECT count(*) FROM ({base}) AS _q"), [], |r| r.get(0))
                .map_err(|e| sqlite_error(e, "counting rows"))?;
            return Ok(vec![PlannedSplit { predicate: Predicate::All, rows: rows as u64 }]);
        };
        let col = column_ref(pc);
        let n = config.num_partitions;
        let integer_keys = format!("FROM ({base}) AS _q WHERE typeof({col}) = 'integer'");
        let bounds = match config.strategy {
            Strategy::Hash => Vec::new(),
            _ if n == 1 => Vec::new(),
            Strategy::EqualWidth => {
                let (lo, hi) = match config.bounds {
                    (Some(lo), Some(hi)) => (Some(lo), Some(hi)),
                    (lo, hi) => {
                        let (min, max): (Option<i64>, Option<i64>) = self
                            .conn
                            .query_row(&format!("SELECT min({col}), max({col}) {integer_keys}"), [], |r| {
                                Ok((r.get(0)?, r.get(1)?))
                            })
                            .map_err(|e| sqlite_error(e, "reading the key bounds"))?;
                        (lo.or(min), hi.or(max))
                    }
                };
                match (lo, hi) {
                    (Some(lo), Some(hi)) => plan::equal_width_bounds(lo, hi, n),
                    _ => Vec::new(),
                }
            }
            Strategy::Quantile => {
                // Exact quantiles: count the keys, then stream them sorted
                // (from the index when there is one) and keep only the keys
                // at the quantile positions, so memory stays O(n).
                let count: i64 = self
                    .conn
                    .query_row(&format!("SELECT count(*) {integer_keys}"), [], |r| r.get(0))
                    .map_err(|e| sqlite_error(e, "counting the keys"))?;
                let positions = plan::quantile_positions(count as u64, n);
                let mut stmt = self
                    .conn
                    .prepare(&format!("SELECT {col} {integer_keys} ORDER BY 1"))
                    .map_err(|e| sqlite_error(e, "reading the keys"))?;
                let mut rows = stmt.query([]).map_err(|e| sqlite_error(e, "reading the keys"))?;
                let (mut picked, mut min, mut at) = (Vec::with_capacity(positions.len()), None, 0u64);
                let mut wanted = positions.iter().peekable();
                while let Some(row) = rows.next().map_err(|e| sqlite_error(e, "reading the keys"))? {
                    if wanted.peek().is_none() {
                        break;
                    }
                    let key: i64 = row.get(0).map_err(|e| sqlite_error(e, "reading the keys"))?;
                    min.get_or_insert(key);
                    while wanted.peek() == Some(&&at) {
                        picked.push(key);
                        wanted.next();
                    }
                    at += 1;
                }
                plan::normalize_bounds(picked, min)
            }
        };
        let predicates = plan::predicates(config.strategy, &bounds, n);
        let index = match config.strategy {
            Strategy::Hash => hash_bucket(&col, n),
            _ => {
                let mut case = format!("CASE WHEN {col} IS NULL THEN NULL");
                for (i, b) in bounds.iter().enumerate() {
                    case.push_str(&format!(" WHEN {col} < {b} THEN {i}"));
                }
                case.push_str(&format!(" ELSE {} END", bounds.len()));
                case
            }
        };
        let mut counts = vec![0u64; predicates.len()];
        let mut stmt = self
            .conn
            .prepare(&format!("SELECT {index}, count(*) FROM ({base}) AS _q GROUP BY 1"))
            .map_err(|e| sqlite_error(e, "counting split rows"))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, Option<i64>>(0)?, r.get::<_, i64>(1)?)))
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(|e| sqlite_error(e, "counting split rows"))?;
        for (index, rows) in rows {
            let slot = match index {
                Some(i) if (0..predicates.len() as i64 - 1).contains(&i) => i as usize,
                Some(_) => return Err(Error::internal("split index out of range while counting rows")),
                None => predicates.len() - 1,
            };
            counts[slot] += rows as u64;
        }
        Ok(predicates
            .into_iter()
            .zip(counts)
            .map(|(predicate, rows)| PlannedSplit { predicate, rows })
            .collect())
    }

    fn read(
        &self,
        config: &Config,
        columns: &[SqliteColumn],
        predicate: &Predicate,
        emit: &mut dyn FnMut(RecordBatch) -> Result<()>,
    ) -> Result<u64> {
        let list: Vec<String> = columns.iter().map(|c| format!("_q.{}", quote_ident(&c.name))).collect();
        let condition = match &config.partition_column {
            Some(pc) => predicate.sql(&column_ref(pc), hash_bucket),
            None => None,
        };
        let sql = format!(
            "SELECT {} FROM ({}) AS _q{}",
            list.join(", "),
            config.relation.select(),
            condition.map(|c| format!(" WHERE {c}")).unwrap_or_default()
        );
        let types: Vec<ColumnType> = columns.iter().map(|c| c.ty.clone()).collect();
        let mut batch = BatchBuilder::new(schema(columns), &types, config.fetch_size)?;
        let mut stmt = self.conn.prepare(&sql).map_err(|e| sqlite_error(e, "preparing the split query"))?;
        let mut rows = stmt.query([]).map_err(|e| sqlite_error(e, "reading the split"))?;
        let mut row_number = 0u64;
        while let Some(row) = rows.next().map_err(|e| sqlite_error(e, "reading the split"))? {
            row_number += 1;
            for (i, builder) in batch.columns.iter_mut().enumerate() {
                let value = row.get_ref(i).map_err(|e| sqlite_error(e, "reading the split"))?;
                append(builder, &columns[i].ty, value).map_err(|e| {
                    e.context(format!(
                        "column `{}`, row {row_number} of split {}",
                        columns[i].name,
                        predicate.describe(config.partition_column.as_deref())
                    ))
                })?;
            }
            batch.row_done(emit)?;
        }
        batch.flush(emit)?;
        Ok(batch.emitted)
    }
}

/// The Arrow schema of described columns.
pub fn schema(columns: &[SqliteColumn]) -> SchemaRef {
    schema_of(&columns.iter().map(|c| (c.name.clone(), c.ty.clone())).collect::<Vec<_>>())
}

/// The bucket expression of the `hash` strategy on SQLite.
pub fn hash_bucket(col: &str, n: u32) -> String {
    format!("runtime_hash({col}) % {n}")
}

/// `runtime_hash(x)`: FNV-1a (64-bit) over a type tag and the value's bytes
/// (integers and reals as 8 little-endian bytes, text as UTF-8, blobs as
/// is), shifted right by one so it is never negative. NULL for NULL.
pub fn runtime_hash(value: ValueRef<'_>) -> Option<i64> {
    let (tag, bytes): (u8, std::borrow::Cow<'_, [u8]>) = match value {
        ValueRef::Null => return None,
        ValueRef::Integer(i) => (1, i.to_le_bytes().to_vec().into()),
        ValueRef::Real(f) => (2, f.to_bits().to_le_bytes().to_vec().into()),
        ValueRef::Text(t) => (3, t.into()),
        ValueRef::Blob(b) => (4, b.into()),
    };
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in std::iter::once(&tag).chain(bytes.iter()) {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    Some((h >> 1) as i64)
}

/// The Arrow type of a declared column type (see the README table).
pub fn map_declared_type(declared: &str) -> ColumnType {
    let d = declared.to_ascii_uppercase();
    let base = d.split('(').next().unwrap_or("").trim();
    if d.contains("BOOL") {
        ColumnType::Boolean
    } else if d.contains("TIMESTAMPTZ") || d.contains("WITH TIME ZONE") {
        ColumnType::TimestampUtc
    } else if d.contains("DATETIME") || d.contains("TIMESTAMP") {
        ColumnType::Timestamp
    } else if base == "DATE" {
        ColumnType::Date32
    } else if base == "DECIMAL" || base == "NUMERIC" {
        decimal_args(&d)
            .map_or(ColumnType::Float64, |(precision, scale)| ColumnType::Decimal { precision, scale })
    } else if d.contains("INT") {
        ColumnType::Int64
    } else if d.contains("CHAR")
        || d.contains("CLOB")
        || d.contains("TEXT")
        || d.contains("JSON")
        || d.contains("UUID")
    {
        ColumnType::Utf8
    } else if d.contains("BLOB") || d.contains("BINARY") || d.contains("BYTEA") {
        ColumnType::Binary
    } else if d.contains("REAL") || d.contains("FLOA") || d.contains("DOUB") {
        ColumnType::Float64
    } else {
        ColumnType::Utf8
    }
}

fn decimal_args(d: &str) -> Option<(u8, i8)> {
    let args = d.split_once('(')?.1.split_once(')')?.0;
    let (p, s) = args.split_once(',').unwrap_or((args, "0"));
    let p: u8 = p.trim().parse().ok()?;
    let s: i8 = s.trim().parse().ok()?;
    ((1..=38).contains(&p) && s >= 0 && s as u8 <= p).then_some((p, s))
}

/// Storage classes seen in a column without a declared type.
#[derive(Debug, Clone, Copy, Default)]
struct Storage {
    integer: bool,
    real: bool,
    text: bool,
    blob: bool,
}

impl Storage {
    fn add(&mut self, v: ValueRef<'_>) {
        match v {
            ValueRef::Null => {}
            ValueRef::Integer(_) => self.integer = true,
            ValueRef::Real(_) => self.real = true,
            ValueRef::Text(_) => self.text = true,
            ValueRef::Blob(_) => self.blob = true,
        }
    }

    fn inferred(self) -> ColumnType {
        match self {
            Storage { blob: true, .. } => ColumnType::Binary,
            Storage { text: true, .. } => ColumnType::Utf8,
            Storage { real: true, .. } => ColumnType::Float64,
            Storage { integer: true, .. } => ColumnType::Int64,
            _ => ColumnType::Utf8,
        }
    }
}

/// Appends one SQLite value to a builder of the column's mapped type.
fn append(builder: &mut ColumnBuilder, ty: &ColumnType, v: ValueRef<'_>) -> Result<()> {
    if let ValueRef::Null = v {
        builder.append_null();
        return Ok(());
    }
    let bad = || {
        let shown = match v {
            ValueRef::Integer(i) => format!("integer {i}"),
            ValueRef::Real(f) => format!("real {f}"),
            ValueRef::Text(t) => {
                let t = String::from_utf8_lossy(t);
                let short: String = t.chars().take(40).collect();
                format!("text {short:?}{}", if short.len() < t.len() { "…" } else { "" })
            }
            ValueRef::Blob(b) => format!("a {}-byte blob", b.len()),
            ValueRef::Null => "NULL".into(),
        };
        Error::invalid_input(format!("{shown} is not a valid {ty:?} value"))
    };
    match (builder, v) {
        (ColumnBuilder::Int64(b), ValueRef::Integer(i)) => b.append_value(i),
        (ColumnBuilder::Int64(b), ValueRef::Real(f)) if f.fract() == 0.0 && f.abs() < 9.2e18 => {
            b.append_value(f as i64)
        }
        (ColumnBuilder::Int64(b), ValueRef::Text(t)) => {
            b.append_value(std::str::from_utf8(t).ok().and_then(|s| s.trim().parse().ok()).ok_or_else(bad)?)
        }
        (ColumnBuilder::Float64(b), ValueRef::Integer(i)) => b.append_value(i as f64),
        (ColumnBuilder::Float64(b), ValueRef::Real(f)) => b.append_value(f),
        (ColumnBuilder::Float64(b), ValueRef::Text(t)) => {
            b.append_value(std::str::from_utf8(t).ok().and_then(|s| s.trim().parse().ok()).ok_or_else(bad)?)
        }
        (ColumnBuilder::Boolean(b), ValueRef::Integer(i)) => b.append_value(i != 0),
        (ColumnBuilder::Boolean(b), ValueRef::Real(f)) => b.append_value(f != 0.0),
        (ColumnBuilder::Boolean(b), ValueRef::Text(t)) => {
            b.append_value(match std::str::from_utf8(t).unwrap_or("").trim().to_ascii_lowercase().as_str() {
                "1" | "t" | "true" | "y" | "yes" => true,
                "0" | "f" | "false" | "n" | "no" => false,
                _ => return Err(bad()),
            })
        }
        (ColumnBuilder::Decimal(b, _, scale), v) => {
            let scale = *scale;
            let value = match v {
                ValueRef::Integer(i) => (i as i128).checked_mul(10i128.pow(scale as u32)),
                ValueRef::Real(f) if f.is_finite() => {
                    parse_decimal(&format!("{:.*}", scale as usize, f), scale)
                }
                ValueRef::Text(t) => std::str::from_utf8(t).ok().and_then(|s| parse_decimal(s, scale)),
                _ => None,
            };
            b.append_value(value.ok_or_else(bad)?)
        }
        (ColumnBuilder::Utf8(b), ValueRef::Text(t)) => {
            b.append_value(std::str::from_utf8(t).map_err(|_| bad())?)
        }
        (ColumnBuilder::Utf8(b), ValueRef::Integer(i)) => b.append_value(i.to_string()),
        (ColumnBuilder::Utf8(b), ValueRef::Real(f)) => b.append_value(format_real(f)),
        (ColumnBuilder::Utf8(b), ValueRef::Blob(bytes)) => match std::str::from_utf8(bytes) {
            Ok(s) => b.append_value(s),
            Err(_) if bytes.len() == 16 => b.append_value(format_uuid(bytes)),
            Err(_) => return Err(bad()),
        },
        (ColumnBuilder::Binary(b), ValueRef::Blob(bytes)) => b.append_value(bytes),
        (ColumnBuilder::Binary(b), ValueRef::Text(t)) => b.append_value(t),
        (ColumnBuilder::Binary(b), ValueRef::Integer(i)) => b.append_value(i.to_string()),
        (ColumnBuilder::Binary(b), ValueRef::Real(f)) => b.append_value(format_real(f)),
        (ColumnBuilder::Date32(b), v) => {
            let days = match v {
                ValueRef::Text(t) => {
                    std::str::from_utf8(t).ok().and_then(parse_datetime).map(|m| m.div_euclid(86_400_000_000))
                }
                ValueRef::Integer(secs) => Some(secs.div_euclid(86_400)),
                ValueRef::Real(jd) => julian_to_micros(jd).map(|m| m.div_euclid(86_400_000_000)),
                _ => None,
            };
            b.append_value(days.and_then(|d| i32::try_from(d).ok()).ok_or_else(bad)?)
        }
        (ColumnBuilder::Timestamp(b, _), v) => {
            let micros = match v {
                ValueRef::Text(t) => std::str::from_utf8(t).ok().and_then(parse_datetime),
                ValueRef::Integer(secs) => secs.checked_mul(1_000_000),
                ValueRef::Real(jd) => julian_to_micros(jd),
                _ => None,
            };
            b.append_value(micros.ok_or_else(bad)?)
        }
        _ => return Err(bad()),
    }
    Ok(())
}

/// Text of a real the way SQLite prints it closely enough: integral values
/// keep a `.0`.
fn format_real(f: f64) -> String {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e15 { format!("{f:.1}") } else { format!("{f}") }
}

fn format_uuid(b: &[u8]) -> String {
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

fn julian_to_micros(jd: f64) -> Option<i64> {
    let micros = ((jd - 2_440_587.5) * 86_400_000_000.0).round();
    (micros.is_finite() && micros.abs() < 9.2e18).then_some(micros as i64)
}

/// Parses SQLite's date/time text: `YYYY-MM-DD`, optionally followed by
/// `[T ]HH:MM[:SS[.fff…]]` and `Z`, `±HH`, `±HHMM` or `±HH:MM`. Returns µs since the Unix
/// epoch in UTC (a naive time is taken as is).
pub fn parse_datetime(s: &str) -> Option<i64> {
    let s = s.trim();
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(r)?;
        part.bytes().all(|c| c.is_ascii_digit()).then(|| part.parse().ok())?
    };
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let mut micros = days_from_civil(year, month, day) * 86_400_000_000;
    let mut rest = &s[10..];
    if let Some(time) = rest.strip_prefix(['T', ' ']) {
        let t = time.as_bytes();
        if t.len() < 5 || t[2] != b':' {
            return None;
        }
        let hour: i64 = time[0..2].parse().ok()?;
        let minute: i64 = time[3..5].parse().ok()?;
        let mut second = 0i64;
        let mut frac = 0i64;
        rest = &time[5..];
        if let Some(sec) = rest.strip_prefix(':') {
            second = sec.get(0..2)?.parse().ok()?;
            rest = &sec[2..];
            if let Some(f) = rest.strip_prefix('.') {
                let digits = f.bytes().take_while(u8::is_ascii_digit).count();
                let mut scaled: String = f[..digits].chars().take(6).collect();
                while scaled.len() < 6 {
                    scaled.push('0');
                }
                frac = scaled.parse().ok()?;
                rest = &f[digits..];
            }
        }
        if hour > 24 || minute > 59 || second > 60 {
            return None;
        }
        micros += ((hour * 60 + minute) * 60 + second) * 1_000_000 + frac;
    }
    let rest = rest.trim();
    if rest.is_empty() || rest == "Z" || rest == "z" {
        return Some(micros);
    }
    let sign = match rest.as_bytes()[0] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let off = rest[1..].replace(':', "");
    if !off.bytes().all(|c| c.is_ascii_digit()) || !(off.len() == 2 || off.len() == 4) {
        return None;
    }
    let h: i64 = off[0..2].parse().ok()?;
    let m: i64 = if off.len() == 4 { off[2..4].parse().ok()? } else { 0 };
    Some(micros - sign * (h * 60 + m) * 60_000_000)
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn sqlite_error(e: rusqlite::Error, during: &str) -> Error {
    if let Some(io) = vfs::take_last_error() {
        return Error::io(format!("{during}: reading the database failed: {io}"));
    }
    let kind = match &e {
        rusqlite::Error::SqliteFailure(f, _) => match f.code {
            rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt => {
                ErrorKind::InvalidInput
            }
            rusqlite::ErrorCode::CannotOpen => ErrorKind::InvalidInput,
            rusqlite::ErrorCode::SystemIoFailure => ErrorKind::Io,
            _ => ErrorKind::InvalidOptions,
        },
        rusqlite::Error::SqlInputError { .. } => ErrorKind::InvalidOptions,
        _ => ErrorKind::Internal,
    };
    Error::new(kind, format!("{during}: SQLite: {e}"))
}

impl Source for Sqlite {
    type Column = SqliteColumn;

    fn columns(&mut self, config: &Config) -> Result<Vec<SqliteColumn>> {
        self.describe(config)
    }

    fn schema(columns: &[SqliteColumn]) -> SchemaRef {
        schema(columns)
    }

    fn estimated_row_width(columns: &[SqliteColumn]) -> u64 {
        columns.iter().map(|c| c.ty.estimated_width()).sum::<u64>().max(1)
    }

    fn plan(&mut self, config: &Config) -> Result<Vec<PlannedSplit>> {
        Sqlite::plan(self, config)
    }

    fn read(
        &mut self,
        config: &Config,
        columns: &[SqliteColumn],
        predicate: &Predicate,
        emit: &mut dyn FnMut(RecordBatch) -> Result<()>,
    ) -> Result<u64> {
        Sqlite::read(self, config, columns, predicate, emit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_types() {
        assert_eq!(map_declared_type("INTEGER"), ColumnType::Int64);
        assert_eq!(map_declared_type("bigint"), ColumnType::Int64);
        assert_eq!(map_declared_type("BOOLEAN"), ColumnType::Boolean);
        assert_eq!(map_declared_type("DECIMAL(12, 2)"), ColumnType::Decimal { precision: 12, scale: 2 });
        assert_eq!(map_declared_type("NUMERIC"), ColumnType::Float64);
        assert_eq!(map_declared_type("varchar(20)"), ColumnType::Utf8);
        assert_eq!(map_declared_type("DATE"), ColumnType::Date32);
        assert_eq!(map_declared_type("DATETIME"), ColumnType::Timestamp);
        assert_eq!(map_declared_type("TIMESTAMP WITH TIME ZONE"), ColumnType::TimestampUtc);
        assert_eq!(map_declared_type("double precision"), ColumnType::Float64);
        assert_eq!(map_declared_type("BLOB"), ColumnType::Binary);
        assert_eq!(map_declared_type("JSON"), ColumnType::Utf8);
        assert_eq!(map_declared_type("UUID"), ColumnType::Utf8);
        assert_eq!(map_declared_type("whatever"), ColumnType::Utf8);
    }

    #[test]
    fn datetimes() {
        assert_eq!(parse_datetime("1970-01-01"), Some(0));
        assert_eq!(parse_datetime("2000-01-01 00:00:00"), Some(946_684_800_000_000));
        assert_eq!(parse_datetime("2000-01-01T00:00:01.5"), Some(946_684_801_500_000));
        assert_eq!(parse_datetime("2000-01-01 02:00:00+02:00"), Some(946_684_800_000_000));
        assert_eq!(parse_datetime("2000-01-01 00:00Z"), Some(946_684_800_000_000));
        assert_eq!(parse_datetime("1999-12-31 21:59:59.5-02"), Some(946_684_799_500_000));
        assert_eq!(parse_datetime("1969-12-31 23:59:59.999999"), Some(-1));
        assert_eq!(parse_datetime("2024-02-29"), Some(days_from_civil(2024, 2, 29) * 86_400_000_000));
        assert_eq!(parse_datetime("yesterday"), None);
        assert_eq!(parse_datetime("2000-13-01"), None);
        assert_eq!(julian_to_micros(2_440_587.5), Some(0));
    }

    #[test]
    fn hash_is_stable_and_non_negative() {
        assert_eq!(runtime_hash(ValueRef::Null), None);
        let a = runtime_hash(ValueRef::Text(b"abc")).unwrap();
        assert_eq!(Some(a), runtime_hash(ValueRef::Text(b"abc")));
        assert_ne!(runtime_hash(ValueRef::Integer(1)), runtime_hash(ValueRef::Integer(2)));
        assert!((0..1000).all(|i| runtime_hash(ValueRef::Integer(i)).unwrap() >= 0));
        // FNV-1a of [3, 'a', 'b', 'c'] >> 1, computed independently.
        let mut h: u64 = 0xcbf29ce484222325;
        for b in [3u8, b'a', b'b', b'c'] {
            h = (h ^ b as u64).wrapping_mul(0x100000001b3);
        }
        assert_eq!(a, (h >> 1) as i64);
    }

    #[test]
    fn conversions() {
        let mut b = ColumnBuilder::new(&ColumnType::Decimal { precision: 10, scale: 2 }, 4).unwrap();
        let ty = ColumnType::Decimal { precision: 10, scale: 2 };
        append(&mut b, &ty, ValueRef::Real(1.005)).unwrap();
        append(&mut b, &ty, ValueRef::Integer(3)).unwrap();
        append(&mut b, &ty, ValueRef::Text(b"-4.25")).unwrap();
        assert!(append(&mut b, &ty, ValueRef::Text(b"x")).unwrap_err().message.contains("text \"x\""));
        let mut i = ColumnBuilder::new(&ColumnType::Int64, 1).unwrap();
        assert!(append(&mut i, &ColumnType::Int64, ValueRef::Real(1.5)).is_err());
        append(&mut i, &ColumnType::Int64, ValueRef::Real(2.0)).unwrap();
    }
}
