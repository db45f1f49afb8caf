//! Integration tests against a real PostgreSQL server.
//!
//! They need `PG_URL`; start a throwaway cluster with
//! `eval "$(tests/sql/pg-cluster.sh start)"` (from the repository root) and
//! stop it with `tests/sql/pg-cluster.sh stop`. The fixtures in
//! `tests/sql/fixtures/pg-fixtures.sql` are (re)loaded once per run.
//!
//! Every read is compared, row for row, with a plain `SELECT` of the same
//! relation decoded from PostgreSQL's text format by independent code.

mod common;

use arrow_schema::DataType;
use common::*;
use runtime_plugin_sdk::error::ErrorKind;
use serde_json::json;
use sql::SqlReader;
use sql::pg::conn::Connection;
use sql::pg::url::ConnectParams;
use std::sync::{Mutex, Once};

fn url() -> String {
    std::env::var("PG_URL").expect(
        "PG_URL is not set: start a test cluster with `eval \"$(tests/sql/pg-cluster.sh start)\"` from the repository root",
    )
}

fn connect() -> Connection {
    Connection::connect(&ConnectParams::parse(&url(), "PG_URL").unwrap()).unwrap()
}

/// Tests that read `sql_big` must not run while the kill test terminates
/// COPY backends.
static KILL_LOCK: Mutex<()> = Mutex::new(());

fn fixtures() {
    static LOAD: Once = Once::new();
    LOAD.call_once(|| {
        connect().simple_query(include_str!("../../../tests/sql/fixtures/pg-fixtures.sql")).unwrap();
    });
}

fn reader(mut options: serde_json::Value) -> SqlReader {
    fixtures();
    options["url_env"] = json!("PG_URL");
    SqlReader::from_options(serde_json::from_value(options).unwrap()).unwrap()
}

/// All rows of `sql` through the simple protocol's text format.
fn oracle(sql: &str, reader: &SqlReader) -> Vec<Row> {
    let schema = reader.schema().unwrap();
    connect()
        .simple_query(sql)
        .unwrap()
        .into_iter()
        .map(|row| {
            row.iter().zip(schema.fields()).map(|(v, f)| pg_text_cell(f.data_type(), v.as_deref())).collect()
        })
        .collect()
}

/// Plans and reads everything; returns rows, per-split row counts and split ids.
fn read_all(options: serde_json::Value) -> (Vec<Row>, Vec<u64>, Vec<String>, SqlReader) {
    let mut r = reader(options);
    let splits = r.plan_postgres().unwrap();
    let (batches, counts) = read_splits(&mut r, &splits, None);
    (arrow_rows(&batches), counts, splits.into_iter().map(|s| s.id).collect(), r)
}

#[test]
fn every_strategy_reads_every_row_once() {
    let _guard = KILL_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let mut expected = None;
    for strategy in ["equal_width", "quantile", "hash"] {
        for n in [1, 2, 16] {
            let (rows, counts, ids, r) = read_all(json!({
                "table": "sql_types", "partition_column": "id", "num_partitions": n,
                "split_strategy": strategy, "fetch_size": 500,
            }));
            let want = expected.get_or_insert_with(|| oracle("SELECT * FROM sql_types", &r)).clone();
            assert_eq!(want.len(), 2670);
            assert_same_rows(rows, want, &format!("{strategy} x {n}"));
            // The NULL split is last and holds exactly the NULL keys.
            assert_eq!(ids.last().unwrap(), "id is null");
            assert_eq!(*counts.last().unwrap(), 26, "{strategy} x {n}: {ids:?} {counts:?}");
            if n == 16 && strategy != "equal_width" {
                assert!(counts.len() >= 10, "{strategy}: {counts:?}");
            }
        }
    }
}

#[test]
fn schema_follows_the_type_mapping() {
    use arrow_schema::{Field, TimeUnit};
    let r = reader(json!({"table": "sql_types"}));
    let schema = r.schema().unwrap();
    let list = |t: DataType| DataType::List(std::sync::Arc::new(Field::new("item", t, true)));
    let want = [
        ("id", DataType::Int64),
        ("small", DataType::Int16),
        ("i", DataType::Int32),
        ("big", DataType::Int64),
        ("dec", DataType::Decimal128(12, 3)),
        ("dec_wide", DataType::Utf8),
        ("f4", DataType::Float32),
        ("f8", DataType::Float64),
        ("t", DataType::Utf8),
        ("vc", DataType::Utf8),
        ("ch", DataType::Utf8),
        ("b", DataType::Boolean),
        ("d", DataType::Date32),
        ("ts", DataType::Timestamp(TimeUnit::Microsecond, None)),
        ("tstz", DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))),
        ("tm", DataType::Time64(TimeUnit::Microsecond)),
        ("raw", DataType::Binary),
        ("u", DataType::Utf8),
        ("j", DataType::Utf8),
        ("jb", DataType::Utf8),
        ("ints", list(DataType::Int32)),
        ("texts", list(DataType::Utf8)),
        ("iv", DataType::Utf8),
    ];
    let got: Vec<(&str, &DataType)> =
        schema.fields().iter().map(|f| (f.name().as_str(), f.data_type())).collect();
    let want: Vec<(&str, &DataType)> = want.iter().map(|(n, t)| (*n, t)).collect();
    assert_eq!(got, want);
    assert!(schema.fields().iter().all(|f| f.is_nullable()));
}

#[test]
fn special_values_survive() {
    let (rows, ..) = read_all(json!({
        "query": "SELECT id, f4, f8, t, vc FROM sql_types WHERE id BETWEEN 5000001 AND 5000006 ORDER BY id",
    }));
    let by_id = |id: &str| rows.iter().find(|r| r[0].as_deref() == Some(id)).unwrap().clone();
    assert_eq!(by_id("5000001")[1].as_deref(), Some("NaN"));
    assert_eq!(by_id("5000001")[3].as_deref(), Some(""));
    assert_eq!(by_id("5000002")[2].as_deref(), Some("Infinity"));
    assert_eq!(by_id("5000003")[2].as_deref(), Some("-Infinity"));
    assert_eq!(by_id("5000003")[3].as_deref(), Some("line1\nline2\r\nline3"));
    assert_eq!(by_id("5000002")[3].as_deref(), Some("it's \"quoted\" \\ back\\slash"));
    assert_eq!(by_id("5000004")[3].as_deref(), Some("😀 emoji and ∑ math"));
    assert_eq!(by_id("5000004")[4], None);
    assert_eq!(by_id("5000004")[2].as_deref(), Some("-0.0"));
}

#[test]
fn quantile_splits_of_a_skewed_table_are_balanced() {
    let (_, counts, ids, _) = read_all(json!({
        "table": "sql_skewed", "partition_column": "id", "num_partitions": 16, "split_strategy": "quantile",
    }));
    let ranges = &counts[..counts.len() - 1];
    assert_eq!(ranges.iter().sum::<u64>(), 100_000);
    let mean = 100_000.0 / ranges.len() as f64;
    let max = *ranges.iter().max().unwrap() as f64;
    assert!(max <= 1.5 * mean, "largest {max} vs mean {mean}: {ids:?} {counts:?}");
    assert!(ranges.len() >= 15, "{ids:?}");
    // The same table under equal_width: one split holds nearly everything.
    let (_, counts, ..) = read_all(json!({
        "table": "sql_skewed", "partition_column": "id", "num_partitions": 16, "split_strategy": "equal_width",
    }));
    assert!(*counts.iter().max().unwrap() > 90_000, "{counts:?}");
}

#[test]
fn planned_size_hints_follow_row_counts() {
    // Hints come from the server's estimates: each split's share of the
    // total hint is within 5 points of its share of the rows.
    for strategy in ["equal_width", "quantile"] {
        let mut r = reader(json!({
            "table": "sql_skewed", "partition_column": "id", "num_partitions": 4, "split_strategy": strategy,
        }));
        let splits = r.plan_postgres().unwrap();
        let (_, counts) = read_splits(&mut r, &splits, None);
        let hint_total: u64 = splits.iter().map(|s| s.size_hint).sum();
        let row_total: u64 = counts.iter().sum();
        for (s, c) in splits.iter().zip(&counts) {
            let (hint_share, row_share) =
                (s.size_hint as f64 / hint_total as f64, *c as f64 / row_total as f64);
            assert!(
                (hint_share - row_share).abs() < 0.05,
                "{strategy} {}: {hint_share} vs {row_share}",
                s.id
            );
        }
    }
}

#[test]
fn equal_width_with_bounds_at_the_int64_extremes() {
    let (rows, counts, ids, r) = read_all(json!({
        "table": "sql_types", "partition_column": "id", "num_partitions": 16,
        "lower_bound": i64::MIN, "upper_bound": i64::MAX,
    }));
    assert_eq!(ids.len(), 17, "{ids:?}");
    assert_eq!(ids[0], "id < -8070450532247928832");
    assert_eq!(counts.iter().sum::<u64>(), 2670);
    assert_same_rows(rows, oracle("SELECT * FROM sql_types", &r), "bounds at the extremes");
    // Narrow bounds: rows outside them land in the open first and last splits.
    let (rows, counts, ..) = read_all(json!({
        "table": "sql_types", "partition_column": "id", "num_partitions": 4,
        "lower_bound": 100, "upper_bound": 200,
    }));
    assert_eq!(rows.len(), 2670);
    assert_eq!(counts.len(), 5);
}

#[test]
fn hash_on_a_text_key() {
    for n in [1, 2, 16] {
        let (rows, counts, ids, r) = read_all(json!({
            "table": "sql_text_keys", "partition_column": "k", "num_partitions": n, "split_strategy": "hash",
        }));
        assert_same_rows(rows, oracle("SELECT * FROM sql_text_keys", &r), &format!("hash x {n}"));
        assert_eq!(*counts.last().unwrap(), 100);
        if n == 16 {
            assert!(ids[3].starts_with("hash(k) % 16 = 3"), "{ids:?}");
            assert!(counts[..16].iter().all(|&c| c > 150), "{counts:?}");
        }
    }
    // Range strategies refuse a text key, naming the option.
    fixtures();
    let mut r = SqlReader::from_options(
        serde_json::from_value(json!({
            "url_env": "PG_URL", "table": "sql_text_keys", "partition_column": "k", "split_strategy": "quantile",
        }))
        .unwrap(),
    )
    .unwrap();
    let e = r.plan_postgres().unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidOptions);
    assert!(e.message.starts_with("partition_column:"), "{}", e.message);
}

#[test]
fn a_query_instead_of_a_table() {
    let sql = "SELECT id, t, f8 / 2 AS half FROM sql_types WHERE id > 100";
    let (rows, ..) = read_all(
        json!({"query": sql, "partition_column": "id", "num_partitions": 4, "split_strategy": "quantile"}),
    );
    let r = reader(json!({"query": sql}));
    assert_same_rows(rows, oracle(sql, &r), "query");
}

#[test]
fn killing_the_backend_mid_split_is_retryable_and_a_retry_is_complete() {
    let _guard = KILL_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let mut r = reader(json!({
        "table": "sql_big", "partition_column": "id", "num_partitions": 2, "fetch_size": 1000,
    }));
    let splits = r.plan_postgres().unwrap();
    let split = &splits[0];
    let mut killer = connect();
    let mut seen = 0u64;
    let result = r.read_split(split, None, &mut |b| {
        seen += b.num_rows() as u64;
        if seen == 1000 {
            let killed = killer
                .simple_query(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                     WHERE query LIKE 'COPY (SELECT%sql_big%' AND pid <> pg_backend_pid()",
                )
                .unwrap();
            assert_eq!(killed.len(), 1, "exactly one COPY backend to kill");
        }
        Ok(())
    });
    let e = result.expect_err("the split must fail after its backend was terminated");
    assert!(e.retryable, "{e:?}");
    assert_eq!(e.kind, ErrorKind::Io);
    assert!((1000..200_000).contains(&seen), "read {seen} rows before the failure");
    let password = ConnectParams::parse(&url(), "PG_URL").unwrap().password.unwrap();
    assert!(!e.message.contains(&password) && !e.message.contains(&url()), "{}", e.message);

    // The host discards the failed attempt's rows and runs the split again:
    // the retry reconnects and reads the split completely, once.
    let (batches, counts) = read_splits(&mut r, std::slice::from_ref(split), None);
    let ids: Vec<i64> =
        arrow_rows(&batches).iter().map(|row| row[0].as_ref().unwrap().parse().unwrap()).collect();
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "duplicates after retry");
    assert_eq!(counts[0], 200_000);
    assert_eq!((unique[0], *unique.last().unwrap()), (1, 200_000));
}

#[test]
fn errors_are_classified_and_never_leak_credentials() {
    fixtures();
    let good = ConnectParams::parse(&url(), "PG_URL").unwrap();
    let mut bad = good.clone();
    bad.password = Some("definitely-wrong-password".into());
    let e = Connection::connect(&bad).err().expect("wrong password must fail");
    assert!(e.message.contains("28P01"), "{}", e.message);
    assert!(!e.retryable);
    assert!(!e.message.contains("definitely-wrong-password"), "{}", e.message);

    let mut r = reader(json!({"table": "no_such_table"}));
    let e = r.plan_postgres().unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidOptions);
    assert!(!e.retryable);
    assert!(e.message.contains("42P01") && e.message.contains("no_such_table"), "{}", e.message);
    assert!(!e.message.contains(good.password.as_deref().unwrap()), "{}", e.message);

    // A closed port: retryable, names the address, not the URL.
    let mut closed = good.clone();
    closed.port = 1;
    let e = Connection::connect(&closed).err().unwrap();
    assert!(e.retryable && e.message.contains("127.0.0.1:1"), "{}", e.message);

    // A missing environment variable names the variable and the grant.
    let e = SqlReader::from_options(
        serde_json::from_value(json!({"url_env": "SQL_TEST_UNSET_VARIABLE", "table": "t"})).unwrap(),
    )
    .err()
    .unwrap();
    assert!(e.message.contains("SQL_TEST_UNSET_VARIABLE") && e.message.contains("grants"), "{}", e.message);
}
