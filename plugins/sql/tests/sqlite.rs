//! Integration tests of the SQLite source on real database files.
//!
//! The database is built from `tests/sql/fixtures/sqlite-fixtures.sql` with
//! SQLite's own file VFS, then handed to the reader only as bytes (the
//! plugin's read-only VFS), as the host hands over an input view. Every read
//! is compared row for row with a plain query through rusqlite.

mod common;

use arrow_schema::{DataType, TimeUnit};
use common::*;
use runtime_plugin_sdk::error::ErrorKind;
use rusqlite::types::ValueRef;
use serde_json::json;
use sql::SqlReader;
use sql::columns::parse_decimal;
use sql::sqlite::{ByteSource, parse_datetime};
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::OnceLock;

/// Builds the fixture database once; returns its path.
fn database() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let path = std::env::temp_dir().join(format!("sql-plugin-fixture-{}.db", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let db = rusqlite::Connection::open(&path).unwrap();
        db.execute_batch(include_str!("../../../tests/sql/fixtures/sqlite-fixtures.sql")).unwrap();
        db.close().unwrap();
        path
    })
}

fn bytes() -> Rc<dyn ByteSource> {
    Rc::new(std::fs::read(database()).unwrap())
}

fn reader(options: serde_json::Value) -> SqlReader {
    SqlReader::from_options(serde_json::from_value(options).unwrap()).unwrap()
}

fn float(v: f64) -> String {
    arrow_cell(&(std::sync::Arc::new(arrow_array::Float64Array::from(vec![v])) as _), 0).unwrap()
}

/// Canonical text of a SQLite value of a column the reader maps to `dt`.
fn sqlite_cell(dt: &DataType, v: ValueRef<'_>) -> Option<String> {
    let text = |b: &[u8]| String::from_utf8(b.to_vec()).unwrap();
    Some(match (dt, v) {
        (_, ValueRef::Null) => return None,
        (DataType::Int64, ValueRef::Integer(i)) => i.to_string(),
        (DataType::Float64, ValueRef::Integer(i)) => float(i as f64),
        (DataType::Float64, ValueRef::Real(f)) => float(f),
        (DataType::Boolean, ValueRef::Integer(i)) => (i != 0).to_string(),
        (DataType::Boolean, ValueRef::Text(t)) => (text(t) == "true").to_string(),
        (DataType::Decimal128(_, s), ValueRef::Integer(i)) => (i as i128 * 10i128.pow(*s as u32)).to_string(),
        (DataType::Decimal128(_, s), ValueRef::Real(f)) => {
            parse_decimal(&format!("{:.*}", *s as usize, f), *s).unwrap().to_string()
        }
        (DataType::Decimal128(_, s), ValueRef::Text(t)) => parse_decimal(&text(t), *s).unwrap().to_string(),
        (DataType::Utf8, ValueRef::Text(t)) => text(t),
        (DataType::Utf8, ValueRef::Integer(i)) => i.to_string(),
        (DataType::Utf8, ValueRef::Blob(b)) if b.len() == 16 => {
            let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
            format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
        }
        (DataType::Binary, ValueRef::Blob(b) | ValueRef::Text(b)) => {
            b.iter().map(|x| format!("{x:02x}")).collect()
        }
        (DataType::Date32, ValueRef::Text(t)) => {
            (parse_datetime(&text(t)).unwrap() / 86_400_000_000).to_string()
        }
        (DataType::Timestamp(..), ValueRef::Text(t)) => parse_datetime(&text(t)).unwrap().to_string(),
        (dt, v) => panic!("fixture value {v:?} in a {dt} column"),
    })
}

fn oracle(sql: &str, reader: &SqlReader) -> Vec<Row> {
    let schema = reader.schema().unwrap();
    let db = rusqlite::Connection::open(database()).unwrap();
    let mut stmt = db.prepare(sql).unwrap();
    let mut rows = stmt.query([]).unwrap();
    let mut out = Vec::new();
    while let Some(row) = rows.next().unwrap() {
        out.push(
            schema
                .fields()
                .iter()
                .enumerate()
                .map(|(i, f)| sqlite_cell(f.data_type(), row.get_ref(i).unwrap()))
                .collect(),
        );
    }
    out
}

fn read_all(options: serde_json::Value) -> (Vec<Row>, Vec<u64>, Vec<String>, SqlReader) {
    let mut r = reader(options);
    let source = bytes();
    let splits = r.plan_sqlite(0, source.clone()).unwrap();
    for s in &splits {
        assert_eq!((s.input, s.offset, s.length), (Some(0), 0, source.size()), "{}", s.id);
    }
    let (batches, counts) = read_splits(&mut r, &splits, Some(source));
    (arrow_rows(&batches), counts, splits.into_iter().map(|s| s.id).collect(), r)
}

#[test]
fn every_strategy_reads_every_row_once() {
    let mut expected = None;
    for strategy in ["equal_width", "quantile", "hash"] {
        for n in [1, 2, 16] {
            let (rows, counts, ids, r) = read_all(json!({
                "table": "sql_types", "partition_column": "id", "num_partitions": n,
                "split_strategy": strategy, "fetch_size": 500,
            }));
            let want = expected.get_or_insert_with(|| oracle("SELECT * FROM sql_types", &r)).clone();
            assert_eq!(want.len(), 2667);
            assert_same_rows(rows, want, &format!("{strategy} x {n}"));
            assert_eq!(ids.last().unwrap(), "id is null");
            assert_eq!(*counts.last().unwrap(), 26, "{strategy} x {n}: {ids:?} {counts:?}");
            // Quantile and hash always give n key splits here; equal width
            // merges empty duplicate ranges, never adds any.
            if strategy == "equal_width" {
                assert!(ids.len() <= n + 1, "{ids:?}");
            } else {
                assert_eq!(ids.len(), n + 1, "{ids:?}");
            }
        }
    }
}

#[test]
fn schema_follows_declared_types() {
    let mut r = reader(json!({"table": "sql_types"}));
    r.plan_sqlite(0, bytes()).unwrap();
    let schema = r.schema().unwrap();
    let got: Vec<(&str, &DataType)> =
        schema.fields().iter().map(|f| (f.name().as_str(), f.data_type())).collect();
    let ts = DataType::Timestamp(TimeUnit::Microsecond, None);
    let tstz = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    let want: Vec<(&str, &DataType)> = vec![
        ("id", &DataType::Int64),
        ("small", &DataType::Int64),
        ("big", &DataType::Int64),
        ("dec", &DataType::Decimal128(12, 3)),
        ("f", &DataType::Float64),
        ("f8", &DataType::Float64),
        ("t", &DataType::Utf8),
        ("vc", &DataType::Utf8),
        ("b", &DataType::Boolean),
        ("d", &DataType::Date32),
        ("ts", &ts),
        ("tstz", &tstz),
        ("raw", &DataType::Binary),
        ("u", &DataType::Utf8),
        ("j", &DataType::Utf8),
    ];
    assert_eq!(got, want);
}

#[test]
fn special_values_survive() {
    let (rows, ..) = read_all(json!({"query": "SELECT id, f, t, vc, u FROM sql_types WHERE id > 5000000"}));
    let by_id = |id: &str| rows.iter().find(|r| r[0].as_deref() == Some(id)).unwrap().clone();
    assert_eq!(by_id("5000001")[1].as_deref(), Some("Infinity"));
    assert_eq!(by_id("5000002")[1].as_deref(), Some("-Infinity"));
    assert_eq!(by_id("5000001")[2].as_deref(), Some(""));
    assert_eq!(by_id("5000004")[3], None);
    assert_eq!(by_id("5000003")[2].as_deref(), Some("line1\nline2\r\nline3"));
    assert_eq!(by_id("5000001")[4].as_deref(), Some("00112233-4455-6677-8899-aabbccddeeff"));
}

#[test]
fn quantile_splits_of_a_skewed_table_are_balanced() {
    let (_, counts, ids, _) = read_all(json!({
        "table": "sql_skewed", "partition_column": "id", "num_partitions": 16, "split_strategy": "quantile",
    }));
    let ranges = &counts[..counts.len() - 1];
    assert_eq!(ranges.len(), 16, "{ids:?}");
    assert_eq!(ranges.iter().sum::<u64>(), 100_000);
    let max = *ranges.iter().max().unwrap() as f64;
    assert!(max <= 1.5 * 100_000.0 / 16.0, "{ids:?} {counts:?}");
    let (_, counts, ..) = read_all(json!({
        "table": "sql_skewed", "partition_column": "id", "num_partitions": 16,
    }));
    assert!(*counts.iter().max().unwrap() > 90_000, "equal_width should be skewed here: {counts:?}");
}

#[test]
fn hash_on_a_text_key_and_inferred_expression_types() {
    for n in [2, 16] {
        let (rows, counts, _, r) = read_all(json!({
            "table": "sql_text_keys", "partition_column": "k", "num_partitions": n, "split_strategy": "hash",
        }));
        assert_same_rows(rows, oracle("SELECT * FROM sql_text_keys", &r), &format!("hash x {n}"));
        assert_eq!(*counts.last().unwrap(), 100);
        assert!(counts[..n].iter().all(|&c| c > 4900 / n as u64 / 2), "{counts:?}");
    }
    let sql = "SELECT id, t || '!' AS bang, f8 / 2 AS half, length(t) AS len FROM sql_types";
    let (rows, _, _, r) = read_all(
        json!({"query": sql, "partition_column": "id", "num_partitions": 4, "split_strategy": "quantile"}),
    );
    let schema = r.schema().unwrap();
    let types: Vec<&DataType> = schema.fields().iter().map(|f| f.data_type()).collect();
    assert_eq!(types, vec![&DataType::Int64, &DataType::Utf8, &DataType::Float64, &DataType::Int64]);
    assert_same_rows(rows, oracle(sql, &r), "query");
}

#[test]
fn damaged_or_foreign_input_is_an_error() {
    let mut r = reader(json!({"table": "sql_types", "partition_column": "id"}));
    let e = r.plan_sqlite(0, Rc::new(b"not a database at all, just some text".repeat(200))).err().unwrap();
    assert_eq!(e.kind, ErrorKind::InvalidInput, "{e:?}");
    let mut half = std::fs::read(database()).unwrap();
    half.truncate(half.len() / 2);
    let result = r.plan_sqlite(0, Rc::new(half));
    assert!(result.is_err(), "a truncated database must not plan");
    let e = reader(json!({"table": "missing_table"})).plan_sqlite(0, bytes()).err().unwrap();
    assert_eq!(e.kind, ErrorKind::InvalidOptions);
    assert!(e.message.contains("missing_table"), "{}", e.message);
}
