//! The `sql` reader end to end (issue 3): the real `runtime` binary reads
//! the acceptance tables of `tests/sql/fixtures` from a real PostgreSQL
//! server and from a SQLite file, and the Parquet it writes must equal a
//! plain single-query read row for row, for every split strategy and
//! `num_partitions` 1, 2 and 16.
//!
//! The references are independent of the plugin: PostgreSQL rows come from
//! `psql` with every value rendered canonically by the server itself
//! (`float8send` bits, `extract(epoch ...)` microseconds, `encode(..., 'hex')`,
//! `to_json` arrays), SQLite rows from Python's `sqlite3`
//! (`tests/sql/sqlite_reference.py`). The Parquet side is rendered the same
//! way from the Arrow arrays, and the sorted row lists must be equal.
//!
//! PostgreSQL tests need `PG_URL` and `PG_ADDRESS` (`scripts/test` starts a
//! throwaway cluster with `tests/sql/pg-cluster.sh` and exports both); they
//! fail, never skip, without them. Their tables live in the schema
//! `runtime_e2e`, loaded once per test process, so they do not disturb the
//! plugin's own tests, which use `public`.

use crate::util::{Case, Run, read_parquet, repo, row_count, runtime};
use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, TimeUnit};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Schema holding the PostgreSQL fixtures of these tests.
const SCHEMA: &str = "runtime_e2e";
/// Rows of the table the connection-kill test reads.
const KILL_ROWS: i64 = 1_000_000;

// ---------------------------------------------------------------------------
// PostgreSQL access for the references and the fixtures.

fn pg_url() -> String {
    std::env::var("PG_URL").unwrap_or_else(|_| {
        panic!(
            "PG_URL is not set: these tests need a PostgreSQL server. Run them through scripts/test, or \
             `eval \"$(tests/sql/pg-cluster.sh start)\"` first (it exports PG_URL and PG_ADDRESS)"
        )
    })
}

/// `host:port` of the server, as a network grant names it.
fn pg_address() -> String {
    std::env::var("PG_ADDRESS").unwrap_or_else(|_| {
        panic!("PG_ADDRESS is not set (tests/sql/pg-cluster.sh start exports it with PG_URL)")
    })
}

/// The password inside `PG_URL`, to check that nothing prints it.
fn pg_password() -> String {
    let url = pg_url();
    let rest = url.split_once("://").expect("PG_URL has a scheme").1;
    let userinfo = rest.rsplit_once('@').expect("PG_URL has user:password@").0;
    let password = userinfo.split_once(':').expect("PG_URL has a password").1.to_string();
    assert!(password.len() >= 8, "the test cluster's password should be long enough to search for");
    password
}

/// Runs SQL through `psql` (statements on stdin); returns unaligned,
/// tuples-only output. `search_path` points at the test schema.
fn psql(sql: &str) -> String {
    let mut child = Command::new("psql")
        .arg(pg_url())
        .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
        .env("PGOPTIONS", format!("-c search_path={SCHEMA},public -c IntervalStyle=iso_8601 -c TimeZone=UTC"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("psql (PostgreSQL's client) must be installed");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(sql.as_bytes()).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "psql failed: {}\n{sql:.300}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Loads the acceptance fixtures (and the kill test's table) into
/// `runtime_e2e`, once per test process.
fn pg_fixtures() {
    static LOADED: OnceLock<()> = OnceLock::new();
    LOADED.get_or_init(|| {
        let fixtures = std::fs::read_to_string(repo().join("tests/sql/fixtures/pg-fixtures.sql")).unwrap();
        psql(&format!(
            "SET client_min_messages = warning;\nCREATE SCHEMA IF NOT EXISTS {SCHEMA};\n{fixtures}\n\
             DROP TABLE IF EXISTS kill_rows;\n\
             CREATE TABLE kill_rows AS SELECT g::bigint AS id, md5(g::text) AS h, g * 0.5 AS half \
             FROM generate_series(1, {KILL_ROWS}) AS g;\n\
             ANALYZE kill_rows;\n"
        ));
    });
}

/// Every row of `select` as one canonical JSON array per line (the server
/// renders the values; see `PG_TYPES`).
fn pg_reference(select: &str) -> Vec<String> {
    psql(&format!("{select};\n")).lines().map(canonical_line).collect()
}

/// Re-serializes one JSON line so both sides compare as the same text.
fn canonical_line(line: &str) -> String {
    let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    v.to_string()
}

fn list(item: DataType) -> DataType {
    DataType::List(std::sync::Arc::new(arrow_schema::Field::new("item", item, true)))
}

fn ts(tz: Option<&str>) -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, tz.map(Into::into))
}

/// `sql_types` on PostgreSQL: each column, the Arrow type the plugin's
/// README maps it to, and the server-side expression giving the canonical
/// value the Arrow value must equal.
fn pg_types() -> Vec<(&'static str, DataType, &'static str)> {
    vec![
        ("id", DataType::Int64, "id"),
        ("small", DataType::Int16, "small"),
        ("i", DataType::Int32, "i"),
        ("big", DataType::Int64, "big"),
        ("dec", DataType::Decimal128(12, 3), "(dec * 1000)::numeric(38, 0)::text"),
        ("dec_wide", DataType::Utf8, "dec_wide::text"),
        ("f4", DataType::Float32, "encode(float4send(f4), 'hex')"),
        ("f8", DataType::Float64, "encode(float8send(f8), 'hex')"),
        ("t", DataType::Utf8, "t"),
        ("vc", DataType::Utf8, "vc"),
        ("ch", DataType::Utf8, "ch"),
        ("b", DataType::Boolean, "b"),
        ("d", DataType::Date32, "d - date '1970-01-01'"),
        ("ts", ts(None), "(extract(epoch from ts) * 1000000)::int8"),
        ("tstz", ts(Some("UTC")), "(extract(epoch from tstz) * 1000000)::int8"),
        ("tm", DataType::Time64(TimeUnit::Microsecond), "(extract(epoch from tm) * 1000000)::int8"),
        ("raw", DataType::Binary, "encode(raw, 'hex')"),
        ("u", DataType::Utf8, "u::text"),
        ("j", DataType::Utf8, "j::text"),
        ("jb", DataType::Utf8, "jb::text"),
        ("ints", list(DataType::Int32), "to_json(ints)"),
        ("texts", list(DataType::Utf8), "to_json(texts)"),
        ("iv", DataType::Utf8, "iv::text"),
    ]
}

/// `sql_types` on SQLite: column, Arrow type, `sqlite_reference.py` kind.
fn sqlite_types() -> Vec<(&'static str, DataType, &'static str)> {
    vec![
        ("id", DataType::Int64, "int"),
        ("small", DataType::Int64, "int"),
        ("big", DataType::Int64, "int"),
        ("dec", DataType::Decimal128(12, 3), "dec:3"),
        ("f", DataType::Float64, "f64"),
        ("f8", DataType::Float64, "f64"),
        ("t", DataType::Utf8, "text"),
        ("vc", DataType::Utf8, "text"),
        ("b", DataType::Boolean, "bool"),
        ("d", DataType::Date32, "date"),
        ("ts", ts(None), "ts"),
        ("tstz", ts(Some("UTC")), "ts"),
        ("raw", DataType::Binary, "bin"),
        ("u", DataType::Utf8, "uuid"),
        ("j", DataType::Utf8, "text"),
    ]
}

// ---------------------------------------------------------------------------
// SQLite.

/// Builds the SQLite acceptance database into the case folder.
fn sqlite_fixtures(case: &Case) -> std::path::PathBuf {
    let db = case.path("fixtures.db");
    let out = Command::new("python3")
        .arg(repo().join("tests/sql/make-sqlite-db.py"))
        .arg(&db)
        .output()
        .expect("python3");
    assert!(out.status.success(), "make-sqlite-db.py: {}", String::from_utf8_lossy(&out.stderr));
    db
}

/// Every row of `select` on the database, canonical, by Python's sqlite3.
fn sqlite_reference(db: &Path, select: &str, kinds: &[&str]) -> Vec<String> {
    let out = Command::new("python3")
        .arg(repo().join("tests/sql/sqlite_reference.py"))
        .arg(db)
        .arg(select)
        .arg(kinds.join(","))
        .output()
        .expect("python3");
    assert!(out.status.success(), "sqlite_reference.py: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().lines().map(canonical_line).collect()
}

// ---------------------------------------------------------------------------
// The Parquet side, rendered like the references.

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The canonical JSON value of one Arrow cell.
fn cell(array: &ArrayRef, i: usize) -> Value {
    if array.is_null(i) {
        return Value::Null;
    }
    match array.data_type() {
        DataType::Boolean => json!(array.as_boolean().value(i)),
        DataType::Int16 => json!(array.as_primitive::<Int16Type>().value(i)),
        DataType::Int32 => json!(array.as_primitive::<Int32Type>().value(i)),
        DataType::Int64 => json!(array.as_primitive::<Int64Type>().value(i)),
        DataType::Float32 => json!(format!("{:08x}", array.as_primitive::<Float32Type>().value(i).to_bits())),
        DataType::Float64 => {
            json!(format!("{:016x}", array.as_primitive::<Float64Type>().value(i).to_bits()))
        }
        DataType::Decimal128(..) => json!(array.as_primitive::<Decimal128Type>().value(i).to_string()),
        DataType::Utf8 => json!(array.as_string::<i32>().value(i)),
        DataType::Binary => json!(hex(array.as_binary::<i32>().value(i))),
        DataType::Date32 => json!(array.as_primitive::<Date32Type>().value(i)),
        DataType::Time64(TimeUnit::Microsecond) => {
            json!(array.as_primitive::<Time64MicrosecondType>().value(i))
        }
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            json!(array.as_primitive::<TimestampMicrosecondType>().value(i))
        }
        DataType::List(_) => {
            let items = array.as_list::<i32>().value(i);
            Value::Array((0..items.len()).map(|j| cell(&items, j)).collect())
        }
        other => panic!("no canonical form for {other}"),
    }
}

/// Every row of the batches as canonical JSON text.
fn parquet_rows(batches: &[RecordBatch]) -> Vec<String> {
    let mut rows = Vec::new();
    for b in batches {
        for i in 0..b.num_rows() {
            rows.push(Value::Array(b.columns().iter().map(|c| cell(c, i)).collect()).to_string());
        }
    }
    rows
}

/// Asserts the Parquet columns have the documented names and types.
fn assert_schema(batches: &[RecordBatch], want: &[(&str, DataType, &str)], what: &str) {
    let schema = batches.first().unwrap_or_else(|| panic!("{what}: no batches")).schema();
    let got: Vec<(String, DataType)> =
        schema.fields().iter().map(|f| (f.name().clone(), f.data_type().clone())).collect();
    let want: Vec<(String, DataType)> = want.iter().map(|(n, t, _)| (n.to_string(), t.clone())).collect();
    assert_eq!(got, want, "{what}: output schema");
}

/// Asserts two row multisets are equal, showing a few differences.
fn assert_same_rows(mut got: Vec<String>, mut want: Vec<String>, what: &str) {
    got.sort();
    want.sort();
    if got == want {
        return;
    }
    // Walk both sorted lists: what only `want` has is missing, what only
    // `got` has is extra (duplicates included).
    let (mut missing, mut extra) = (Vec::new(), Vec::new());
    let (mut i, mut j) = (0, 0);
    while i < got.len() || j < want.len() {
        match (got.get(i), want.get(j)) {
            (Some(g), Some(w)) if g == w => {
                i += 1;
                j += 1;
            }
            (Some(g), Some(w)) if g < w => {
                extra.push(g);
                i += 1;
            }
            (Some(g), None) => {
                extra.push(g);
                i += 1;
            }
            (_, Some(w)) => {
                missing.push(w);
                j += 1;
            }
            (None, None) => unreachable!(),
        }
    }
    let short = |v: &[&String]| v.iter().take(3).map(|s| format!("{s:.400}")).collect::<Vec<_>>();
    panic!(
        "{what}: {} rows written, {} expected; {} missing, {} extra\nmissing: {:#?}\nextra: {:#?}",
        got.len(),
        want.len(),
        missing.len(),
        extra.len(),
        short(&missing),
        short(&extra)
    );
}

// ---------------------------------------------------------------------------
// Pipelines.

/// A PostgreSQL pipeline reading `table` with the given extra options.
fn pg_pipeline(options: &str) -> String {
    format!(
        r#"version = 1
[source]
plugin = "sql"
options = {{ url_env = "PG_URL", {options} }}

[source.grants]
env = ["PG_URL"]
network = ["{}"]

[sinks.rows]
input = "rows"
format = "parquet"
path = "out/rows.parquet"

[run]
retry_backoff = "50 ms"
"#,
        pg_address()
    )
}

fn sqlite_pipeline(options: &str) -> String {
    format!(
        r#"version = 1
[source]
plugin = "sql"
inputs = ["fixtures.db"]
options = {{ {options} }}

[sinks.rows]
input = "rows"
format = "parquet"
path = "out/rows.parquet"
"#
    )
}

/// Runs `pipeline.toml` of the case with 2 workers and checks that every
/// split succeeded; returns the run, the report and the written batches.
fn run_ok(case: &Case, what: &str) -> (Run, Value, Vec<RecordBatch>) {
    let (run, report) = case.run_pipeline("pipeline.toml", &["--workers", "2"]);
    run.expect_code(0);
    assert_eq!(report["status"], "ok", "{what}: {report}");
    assert_eq!(report["splits_ok"], report["splits_total"], "{what}: {report}");
    let batches = read_parquet(&case.path("out/rows.parquet"));
    assert_eq!(report["outputs"][0]["rows"].as_u64(), Some(row_count(&batches) as u64), "{what}");
    assert_eq!(report["outputs"][0]["committed"], true, "{what}");
    (run, report, batches)
}

/// The planned splits (`runtime plan --json`): id and payload predicate.
fn planned_splits(case: &Case) -> Vec<(String, Value)> {
    let run = case.run(&["plan", "pipeline.toml", "--json"]);
    run.expect_code(0);
    let plan: Value = serde_json::from_str(&run.stdout()).unwrap();
    plan["splits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let payload: Value = serde_json::from_str(s["payload"].as_str().unwrap()).unwrap();
            (s["id"].as_str().unwrap().to_string(), payload["predicate"].clone())
        })
        .collect()
}

/// Asserts that exactly one planned split reads the rows whose key is NULL.
fn assert_one_null_split(splits: &[(String, Value)], what: &str) {
    let nulls: Vec<&String> = splits.iter().filter(|(_, p)| p["kind"] == "null").map(|(id, _)| id).collect();
    assert_eq!(nulls, ["id is null"], "{what}: {splits:?}");
}

const STRATEGIES: [&str; 3] = ["equal_width", "quantile", "hash"];
const PARTITIONS: [u32; 3] = [1, 2, 16];

// ---------------------------------------------------------------------------
// Tests.

#[test]
fn postgres_every_strategy_equals_a_single_query() {
    pg_fixtures();
    let types = pg_types();
    let exprs: Vec<&str> = types.iter().map(|t| t.2).collect();
    let want = pg_reference(&format!("SELECT json_build_array({}) FROM sql_types", exprs.join(", ")));
    assert_eq!(want.len(), 2670);
    let case = Case::new();
    for strategy in STRATEGIES {
        for n in PARTITIONS {
            let what = format!("postgres sql_types, {strategy} x {n}");
            case.write(
                "pipeline.toml",
                pg_pipeline(&format!(
                    r#"table = "{SCHEMA}.sql_types", partition_column = "id", num_partitions = {n}, split_strategy = "{strategy}", fetch_size = 500"#
                )),
            );
            let splits = planned_splits(&case);
            // Key splits and one split for NULL keys (also with n = 1).
            assert_one_null_split(&splits, &what);
            assert!(splits.len() >= if n == 16 { 10 } else { n as usize + 1 }, "{what}: {splits:?}");
            let (_, report, batches) = run_ok(&case, &what);
            assert_eq!(report["splits_total"].as_u64(), Some(splits.len() as u64), "{what}");
            assert_schema(&batches, &types, &what);
            assert_same_rows(parquet_rows(&batches), want.clone(), &what);
        }
    }
}

#[test]
fn postgres_hash_splits_a_text_key() {
    pg_fixtures();
    let want = pg_reference("SELECT json_build_array(k, n) FROM sql_text_keys");
    assert_eq!(want.len(), 5000);
    let case = Case::new();
    for n in PARTITIONS {
        let what = format!("postgres sql_text_keys, hash x {n}");
        case.write(
            "pipeline.toml",
            pg_pipeline(&format!(
                r#"table = "{SCHEMA}.sql_text_keys", partition_column = "k", num_partitions = {n}, split_strategy = "hash""#
            )),
        );
        let (_, report, batches) = run_ok(&case, &what);
        assert_eq!(report["splits_total"].as_u64(), Some(n as u64 + 1), "{what}");
        assert_same_rows(parquet_rows(&batches), want.clone(), &what);
    }
}

#[test]
fn sqlite_every_strategy_equals_a_single_query() {
    let case = Case::new();
    let db = sqlite_fixtures(&case);
    let types = sqlite_types();
    let kinds: Vec<&str> = types.iter().map(|t| t.2).collect();
    let want = sqlite_reference(&db, "SELECT * FROM sql_types", &kinds);
    assert_eq!(want.len(), 2667);
    for strategy in STRATEGIES {
        for n in PARTITIONS {
            let what = format!("sqlite sql_types, {strategy} x {n}");
            case.write(
                "pipeline.toml",
                sqlite_pipeline(&format!(
                    r#"table = "sql_types", partition_column = "id", num_partitions = {n}, split_strategy = "{strategy}", fetch_size = 500"#
                )),
            );
            let splits = planned_splits(&case);
            assert_one_null_split(&splits, &what);
            let (_, report, batches) = run_ok(&case, &what);
            assert_eq!(report["splits_total"].as_u64(), Some(splits.len() as u64), "{what}");
            assert_schema(&batches, &types, &what);
            assert_same_rows(parquet_rows(&batches), want.clone(), &what);
        }
    }
    // A text key under hash, too.
    let want = sqlite_reference(&db, "SELECT k, n FROM sql_text_keys", &["text", "int"]);
    assert_eq!(want.len(), 5000);
    for n in PARTITIONS {
        let what = format!("sqlite sql_text_keys, hash x {n}");
        case.write(
            "pipeline.toml",
            sqlite_pipeline(&format!(
                r#"table = "sql_text_keys", partition_column = "k", num_partitions = {n}, split_strategy = "hash""#
            )),
        );
        let (_, _, batches) = run_ok(&case, &what);
        assert_same_rows(parquet_rows(&batches), want.clone(), &what);
    }
}

/// Counts the written rows per planned split (by the split's range
/// predicate) and checks the quantile plan's balance on the skewed table:
/// the largest key split holds at most 1.5x the mean.
fn assert_quantile_balance(case: &Case, what: &str) {
    let splits = planned_splits(case);
    let (_, _, batches) = run_ok(case, what);
    let mut counts = vec![0u64; splits.len()];
    for b in &batches {
        let ids = b.column_by_name("id").unwrap().as_primitive::<Int64Type>();
        for i in 0..ids.len() {
            let key = (!ids.is_null(i)).then(|| ids.value(i));
            let holders: Vec<usize> = splits
                .iter()
                .enumerate()
                .filter(|(_, (_, p))| match (p["kind"].as_str().unwrap(), key) {
                    ("null", k) => k.is_none(),
                    ("range", Some(k)) => {
                        p["lo"].as_i64().is_none_or(|lo| k >= lo) && p["hi"].as_i64().is_none_or(|hi| k < hi)
                    }
                    ("range", None) => false,
                    (other, _) => panic!("{what}: unexpected predicate {other}"),
                })
                .map(|(s, _)| s)
                .collect();
            assert_eq!(holders.len(), 1, "{what}: key {key:?} is in splits {holders:?}");
            counts[holders[0]] += 1;
        }
    }
    let keyed: Vec<u64> =
        splits.iter().zip(&counts).filter(|((_, p), _)| p["kind"] == "range").map(|(_, c)| *c).collect();
    assert_eq!(keyed.len() + 1, splits.len(), "{what}: range splits and one NULL split: {splits:?}");
    assert_eq!(keyed.iter().sum::<u64>(), 100_000, "{what}: {counts:?}");
    assert!(keyed.len() >= 15, "{what}: {splits:?}");
    let mean = 100_000.0 / keyed.len() as f64;
    let max = *keyed.iter().max().unwrap() as f64;
    assert!(max <= 1.5 * mean, "{what}: largest split {max} rows, mean {mean}: {counts:?}");
}

#[test]
fn quantile_splits_of_a_skewed_key_are_balanced() {
    pg_fixtures();
    let case = Case::new();
    case.write(
        "pipeline.toml",
        pg_pipeline(&format!(
            r#"table = "{SCHEMA}.sql_skewed", partition_column = "id", num_partitions = 16, split_strategy = "quantile""#
        )),
    );
    assert_quantile_balance(&case, "postgres sql_skewed");
    sqlite_fixtures(&case);
    case.write(
        "pipeline.toml",
        sqlite_pipeline(r#"table = "sql_skewed", partition_column = "id", num_partitions = 16, split_strategy = "quantile""#),
    );
    assert_quantile_balance(&case, "sqlite sql_skewed");
}

/// `application_name` of the kill test's connections, so the test
/// terminates only its own backends.
const KILL_APP: &str = "runtime-e2e-kill";

/// Terminates one of the run's backends that has been streaming a `COPY`
/// for at least 200 ms; returns whether it did.
fn terminate_copy_backend() -> bool {
    let out = psql(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE application_name = '{KILL_APP}' AND state = 'active' AND query LIKE 'COPY (SELECT%kill_rows%' \
         AND now() - query_start > interval '200 ms' LIMIT 1;\n"
    ));
    out.trim() == "t"
}

#[test]
fn a_killed_connection_is_retried_and_the_output_is_complete() {
    pg_fixtures();
    let case = Case::new();
    case.write(
        "pipeline.toml",
        pg_pipeline(&format!(
            r#"table = "{SCHEMA}.kill_rows", partition_column = "id", num_partitions = 4, fetch_size = 2000"#
        )),
    );
    let report_path = case.path("report.json");
    let url = format!("{}?application_name={KILL_APP}", pg_url());
    let mut child = runtime()
        .args(["run", "pipeline.toml", "--workers", "2", "--report", report_path.to_str().unwrap()])
        .current_dir(case.dir.path())
        .env("PG_URL", &url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let mut killed = false;
    while !killed && child.try_wait().unwrap().is_none() {
        assert!(started.elapsed() < Duration::from_secs(120), "the run did not finish");
        killed = terminate_copy_backend();
        if !killed {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let output = child.wait_with_output().unwrap();
    let run = Run { output };
    assert!(killed, "the run finished before a COPY backend could be terminated\n{}", run.stderr());
    run.expect_code(0);
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&report_path).unwrap()).unwrap();
    assert_eq!(report["splits_failed"], 0, "{report}");
    assert_eq!(report["splits_ok"], report["splits_total"], "{report}");
    let retried = report["retried"].as_array().unwrap();
    assert_eq!(retried.len(), 1, "exactly the killed split was retried: {report}");
    assert!(retried[0]["attempts"].as_u64().unwrap() >= 2, "{report}");
    assert!(run.stderr().contains("retrying"), "{}", run.stderr());

    // Every id exactly once, and the other columns agree with the server.
    let batches = read_parquet(&case.path("out/rows.parquet"));
    assert_eq!(row_count(&batches) as i64, KILL_ROWS);
    let mut ids: Vec<i64> = Vec::with_capacity(KILL_ROWS as usize);
    let mut hash_bytes = 0u64;
    for b in &batches {
        ids.extend(b.column_by_name("id").unwrap().as_primitive::<Int64Type>().values().iter());
        hash_bytes += b
            .column_by_name("h")
            .unwrap()
            .as_string::<i32>()
            .iter()
            .flatten()
            .map(|s| s.len() as u64)
            .sum::<u64>();
    }
    ids.sort_unstable();
    assert!(ids.iter().copied().eq(1..=KILL_ROWS), "ids are not exactly 1..={KILL_ROWS} once each");
    let want: u64 = psql("SELECT sum(length(h)) FROM kill_rows;").trim().parse().unwrap();
    assert_eq!(hash_bytes, want);
    assert_eq!(report["outputs"][0]["rows"].as_i64(), Some(KILL_ROWS));
}

/// Asserts `text` holds neither the password nor the URL.
fn assert_no_secret(text: &str, what: &str) {
    let password = pg_password();
    assert!(!text.contains(&password), "{what} shows the password:\n{text:.2000}");
    assert!(!text.contains(&pg_url()), "{what} shows the connection URL");
}

#[test]
fn credentials_never_appear_in_output_logs_or_reports() {
    pg_fixtures();
    let case = Case::new();
    case.write(
        "pipeline.toml",
        pg_pipeline(&format!(
            r#"table = "{SCHEMA}.sql_types", partition_column = "id", num_partitions = 4, split_strategy = "quantile""#
        )),
    );
    // The most verbose logging the host has.
    let report = case.path("report.json");
    let output = runtime()
        .args(["run", "pipeline.toml", "--report", report.to_str().unwrap()])
        .current_dir(case.dir.path())
        .env("RUNTIME_LOG", "trace")
        .output()
        .unwrap();
    let run = Run { output };
    run.expect_code(0);
    assert_no_secret(&run.stdout(), "stdout");
    assert_no_secret(&run.stderr(), "stderr");
    assert_no_secret(&std::fs::read_to_string(&report).unwrap(), "the report");
    let parquet = std::fs::read(case.path("out/rows.parquet")).unwrap();
    assert_no_secret(&String::from_utf8_lossy(&parquet), "the Parquet output");
    for args in [
        &["plan", "pipeline.toml", "--json"][..],
        &["validate", "pipeline.toml"],
        &["plugins", "inspect", "sql"],
    ] {
        let run = case.run(args);
        run.expect_code(0);
        assert_no_secret(&run.stdout(), &format!("{args:?} stdout"));
        assert_no_secret(&run.stderr(), &format!("{args:?} stderr"));
    }

    // A wrong password fails the run with the server's error, and the
    // wrong password is not echoed either.
    let wrong = "wrong-password-7c1e9b";
    let url = pg_url().replacen(&format!(":{}@", pg_password()), &format!(":{wrong}@"), 1);
    assert!(url.contains(wrong));
    let output = runtime()
        .args(["run", "pipeline.toml", "--report", report.to_str().unwrap()])
        .current_dir(case.dir.path())
        .env("PG_URL", &url)
        .env("RUNTIME_LOG", "trace")
        .output()
        .unwrap();
    let run = Run { output };
    assert_ne!(run.code(), 0, "a wrong password must fail the run");
    let all =
        format!("{}{}{}", run.stdout(), run.stderr(), std::fs::read_to_string(&report).unwrap_or_default());
    assert!(all.contains("28P01"), "the server's authentication error is shown: {all:.2000}");
    assert!(!all.contains(wrong) && !all.contains(&url), "the wrong password is shown: {all:.2000}");
    assert_no_secret(&all, "a failed login");
}

#[test]
fn without_the_network_grant_the_error_names_the_grant_to_add() {
    let address = pg_address();
    let case = Case::new();
    let pipeline = pg_pipeline(r#"table = "sql_types""#);
    // No network grant at all, then a grant for another port.
    let no_grant = pipeline.replace(&format!("network = [\"{address}\"]"), "");
    let other_port = pipeline.replace(&format!("network = [\"{address}\"]"), "network = [\"127.0.0.1:1\"]");
    assert!(no_grant != pipeline && other_port != pipeline);
    for (what, text) in [("no network grant", no_grant), ("a grant for another address", other_port)] {
        case.write("pipeline.toml", text);
        let run = case.run(&["run", "pipeline.toml"]);
        assert_eq!(run.code(), 2, "{what}: a configuration error\n{}", run.stderr());
        let want = format!("[source.grants] network = [\"{address}\"]");
        assert!(run.stderr().contains(&want), "{what}: the error names {want}:\n{}", run.stderr());
        assert!(run.stderr().contains("denied"), "{what}:\n{}", run.stderr());
        assert_no_secret(&run.stderr(), what);
        assert!(!case.path("out/rows.parquet").exists(), "{what}: nothing is written");
    }
    // Without the env grant the plugin cannot see the URL, and says which
    // grant is missing.
    case.write("pipeline.toml", pipeline.replace("env = [\"PG_URL\"]", ""));
    let run = case.run(&["run", "pipeline.toml"]);
    assert_eq!(run.code(), 2, "{}", run.stderr());
    assert!(run.stderr().contains("[source.grants] env = [\"PG_URL\"]"), "{}", run.stderr());
}

/// The example's counts per column (rows, NULLs) and sums, the same
/// way for a reference table and the Parquet output.
fn example_summary(batches: &[RecordBatch]) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    out.insert("rows".to_string(), json!(row_count(batches)));
    let mut id_sum: i128 = 0;
    let mut amount_sum: i128 = 0;
    let mut note_nulls = 0;
    let mut note_empty = 0;
    for b in batches {
        let id = b.column_by_name("id").unwrap().as_primitive::<Int64Type>();
        id_sum += id.iter().flatten().map(i128::from).sum::<i128>();
        let amount = b.column_by_name("amount").unwrap().as_primitive::<Decimal128Type>();
        amount_sum += amount.iter().flatten().sum::<i128>();
        let note = b.column_by_name("note").unwrap().as_string::<i32>();
        note_nulls += note.null_count();
        note_empty += note.iter().flatten().filter(|s| s.is_empty()).count();
    }
    out.insert("id_sum".to_string(), json!(id_sum.to_string()));
    out.insert("amount_cents".to_string(), json!(amount_sum.to_string()));
    out.insert("note_nulls".to_string(), json!(note_nulls));
    out.insert("note_empty".to_string(), json!(note_empty));
    out
}

#[test]
fn the_sql_export_example_runs_on_sqlite_and_postgres() {
    let case = Case::new();
    case.copy("examples/sql-export", "ex");
    let ex = |rel: &str| case.path(&format!("ex/{rel}"));
    let _ = std::fs::remove_dir_all(ex("out"));
    // SQLite, the default: the script creates the database.
    let out = Command::new("python3").arg(ex("make-sample-db.py")).arg(ex("sample.db")).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (run, report) = case.run_pipeline("ex/pipeline.toml", &[]);
    run.expect_code(0);
    assert_eq!(report["outputs"][0]["name"], "orders");
    assert_eq!(report["outputs"][0]["rows"], 20000);
    let sqlite = example_summary(&read_parquet(&ex("out/orders.parquet")));
    let (ids, cents): (String, String) = {
        let out = Command::new("python3")
            .args(["-c", "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); print(*c.execute(\"SELECT sum(id), CAST(round(sum(amount) * 100) AS INTEGER) FROM orders\").fetchone())"])
            .arg(ex("sample.db"))
            .output()
            .unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        let mut parts = text.split_whitespace().map(str::to_string);
        (parts.next().unwrap(), parts.next().unwrap())
    };
    assert_eq!(sqlite["rows"], 20000);
    assert_eq!(sqlite["id_sum"], json!(ids));
    assert_eq!(sqlite["amount_cents"], json!(cents));
    std::fs::remove_dir_all(ex("out")).unwrap();

    // PostgreSQL: orders.sql loads the same rows; the grant is set to the
    // test server's address, as the example's README says.
    pg_fixtures();
    // The example's pipeline names the table without a schema: load it into `public`.
    psql(&format!(
        "SET client_min_messages = warning;\nSET search_path = public;\n{}",
        std::fs::read_to_string(ex("orders.sql")).unwrap()
    ));
    let grant = format!("source.grants.network=[\"{}\"]", pg_address());
    let (run, report) = case.run_pipeline("ex/pipeline-postgres.toml", &["--set", &grant]);
    run.expect_code(0);
    let output = &report["outputs"][0];
    assert_eq!(output["name"], "orders");
    assert_eq!(output["path"], "out/orders.parquet");
    assert_eq!(output["rows"], 20000);
    assert_eq!(output["committed"], true);
    assert!(output["bytes"].as_u64().unwrap() > 0);
    let postgres = example_summary(&read_parquet(&ex("out/orders.parquet")));
    assert_eq!(postgres, sqlite, "the PostgreSQL and SQLite samples hold the same orders");
}
