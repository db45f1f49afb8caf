//! The `csv` reader against DuckDB: inputs written by
//! tests/csv/make_inputs.py (a byte order mark, CRLF, thousands of quoted
//! newlines, some of them lines that look like records, nulls, a 0-byte
//! file, a header-only file, a malformed record, another dialect) are read
//! by the real binary and compared value for value with DuckDB's
//! `read_csv` of the same inputs with the same options
//! (tests/csv/compare.py). Cut into 4 KiB splits, the same inputs give
//! exactly the rows of one split per file. And examples/csv-export, in
//! 16 KiB splits.

use crate::util::{Case, repo};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Writes the inputs into `dir`; returns the lines make_inputs.py says
/// the malformed records start on.
fn make_inputs(dir: &Path) -> Vec<String> {
    crate::util::reject_lines(&crate::util::verdict("tests/csv/make_inputs.py", [dir]))
}

/// DuckDB's verdict on `output` against `read_csv(inputs, options)`.
fn compare(output: &Path, options: &str, inputs: &[PathBuf]) -> String {
    let args = [output.as_os_str(), options.as_ref()].into_iter().chain(inputs.iter().map(|p| p.as_os_str()));
    crate::util::verdict("tests/csv/compare.py", args)
}

const FIELDS: &str = r#"options.fields = [
  { name = "id", type = "int64" },
  { name = "name", type = "string" },
  { name = "amount", type = "float64" },
  { name = "flag", type = "boolean" },
  { name = "day", type = "date" },
  { name = "ts", type = "timestamp" },
]"#;

const DUCKDB_COLUMNS: &str = "header = true, delim = ',', quote = '\"', escape = '\"', nullstr = [''], \
     columns = {'id': 'BIGINT', 'name': 'VARCHAR', 'amount': 'DOUBLE', 'flag': 'BOOLEAN', 'day': 'DATE', \
     'ts': 'TIMESTAMP'}, ignore_errors = true";

fn pipeline(inputs: &str, source: &str, out: &str) -> String {
    format!(
        r#"version = 1
[source]
plugin = "csv"
inputs = {inputs}
{source}

[sinks.rows]
format = "parquet"
path = "{out}"
"#
    )
}

/// The report's rejects as (file, location, reason), by line.
fn rejects_of(report: &serde_json::Value) -> Vec<(String, String, String)> {
    let mut v: Vec<(String, String, String)> = report["rejects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap().to_string();
            (s("file"), s("location"), s("reason"))
        })
        .collect();
    v.sort_by_key(|r| r.1[5..].parse::<u64>().unwrap());
    v
}

fn csv_inputs(case: &Case) -> Vec<PathBuf> {
    ["empty.csv", "header_only.csv", "malformed.csv", "quoted.csv"]
        .iter()
        .map(|f| case.path(&format!("in/{f}")))
        .collect()
}

#[test]
fn typed_fields_match_duckdb_in_one_split_or_many() {
    let case = Case::new();
    let reject_lines = make_inputs(&case.path("in"));
    let inputs = r#"["in/*.csv"]"#;
    case.write("one.toml", pipeline(inputs, FIELDS, "out/one.parquet"));
    case.write(
        "many.toml",
        pipeline(inputs, &format!("max_split_bytes = \"4 KiB\"\n{FIELDS}"), "out/many.parquet"),
    );

    let (run, one) = case.run_pipeline("one.toml", &[]);
    run.expect_code(0);
    assert_eq!(one["splits_total"], 4, "{one}");
    assert_eq!(one["splits_failed"], 0, "{one}");
    let verdict = compare(&case.path("out/one.parquet"), DUCKDB_COLUMNS, &csv_inputs(&case));
    assert!(verdict.starts_with("IDENTICAL 3198"), "{verdict}");

    // The malformed records are rejected with their file and the line each
    // starts on; the rest is written.
    assert_eq!(one["rejected_records"], 2, "{one}");
    let rejects = rejects_of(&one);
    let where_: Vec<(&str, &str)> = rejects.iter().map(|r| (r.0.as_str(), r.1.as_str())).collect();
    assert_eq!(
        where_,
        [("in/malformed.csv", reject_lines[0].as_str()), ("in/malformed.csv", reject_lines[1].as_str())]
    );
    assert_eq!(rejects[0].2, "expected 6 fields, found 2");
    assert_eq!(rejects[1].2, "field `id`: `x150` is not an int64");

    // 4 KiB splits: quoted.csv (216 KiB) and malformed.csv in many pieces,
    // cut only outside quotes: the same rows, the same rejects.
    let (run, many) = case.run_pipeline("many.toml", &["--workers", "2"]);
    run.expect_code(0);
    let splits = many["splits_total"].as_u64().unwrap();
    assert!(splits > 50, "{splits} splits");
    assert_eq!(many["splits_failed"], 0, "{many}");
    assert_eq!(rejects_of(&many), rejects);
    let verdict = compare(&case.path("out/many.parquet"), DUCKDB_COLUMNS, &csv_inputs(&case));
    assert!(verdict.starts_with("IDENTICAL 3198"), "{verdict}");
    // And row for row the same as the one-split run (DuckDB reads both).
    let same = Command::new("python3")
        .args([
            "-c",
            "import duckdb, sys; c = duckdb.connect(); \
             q = lambda a, b: c.execute(f\"SELECT count(*) FROM (SELECT * FROM '{a}' EXCEPT ALL SELECT * FROM '{b}')\").fetchone()[0]; \
             print(q(sys.argv[1], sys.argv[2]) + q(sys.argv[2], sys.argv[1]))",
        ])
        .arg(case.path("out/one.parquet"))
        .arg(case.path("out/many.parquet"))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&same.stdout).trim(),
        "0",
        "{}",
        String::from_utf8_lossy(&same.stderr)
    );

    // The plan shows the cuts; each lies where a record starts.
    let plan = case.run(&["plan", "many.toml", "--json"]);
    let plan: serde_json::Value = serde_json::from_str(&plan.expect_code(0).stdout()).unwrap();
    let ids: Vec<&str> =
        plan["splits"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len() as u64, splits);
    let data = std::fs::read(case.path("in/quoted.csv")).unwrap();
    let starts: Vec<usize> = ids
        .iter()
        .filter_map(|id| id.strip_prefix("in/quoted.csv@"))
        .map(|r| r.split_once("..").unwrap().0.parse().unwrap())
        .collect();
    assert!(starts.len() > 40, "{ids:?}");
    for s in starts.into_iter().filter(|s| *s > 0) {
        assert_eq!(data[s - 1], b'\n', "split at {s} starts after a newline");
    }
}

#[test]
fn inferred_types_match_duckdbs_sniffer() {
    let case = Case::new();
    make_inputs(&case.path("in"));
    case.write(
        "pipeline.toml",
        pipeline(r#"["in/quoted.csv"]"#, "max_split_bytes = \"8 KiB\"", "out/rows.parquet"),
    );
    // validate prints the inferred columns, ready to paste.
    let shown = case.run(&["validate", "pipeline.toml"]);
    shown.expect_code(0);
    for entry in [r#"{ name = "id", type = "int64" },"#, r#"{ name = "ts", type = "timestamp" },"#] {
        assert!(shown.stdout().contains(entry), "{}", shown.stdout());
    }
    let (run, report) = case.run_pipeline("pipeline.toml", &[]);
    run.expect_code(0);
    assert_eq!(report["splits_failed"], 0, "{report}");
    assert_eq!(report["rejected_records"], 0, "{report}");
    // DuckDB detects BIGINT, VARCHAR, DOUBLE, BOOLEAN, DATE, TIMESTAMP.
    let verdict = compare(
        &case.path("out/rows.parquet"),
        "header = true, delim = ',', quote = '\"', escape = '\"'",
        &[case.path("in/quoted.csv")],
    );
    assert!(verdict.starts_with("IDENTICAL 3000"), "{verdict}");
    let schema = crate::util::read_parquet(&case.path("out/rows.parquet"))[0].schema();
    let ty = |n: &str| schema.field_with_name(n).unwrap().data_type().to_string();
    assert_eq!(ty("id"), "Int64");
    assert_eq!(ty("amount"), "Float64");
    assert_eq!(ty("ts"), "Timestamp(µs, \"UTC\")");
}

#[test]
fn another_dialect_without_header_matches_duckdb() {
    let case = Case::new();
    make_inputs(&case.path("in"));
    let options = r#"options.header = false
options.delimiter = ";"
options.quote = "'"
options.escape = "\\"
options.null_strings = ["NA", ""]
options.fields = [{ name = "column0", type = "int64" }, { name = "column1", type = "string" }, { name = "column2", type = "int64" }]"#;
    case.write(
        "pipeline.toml",
        pipeline(
            r#"["in/dialect.txt"]"#,
            &format!("max_split_bytes = \"4 KiB\"\n{options}"),
            "out/rows.parquet",
        ),
    );
    let (run, report) = case.run_pipeline("pipeline.toml", &[]);
    run.expect_code(0);
    assert_eq!(report["rejected_records"], 0, "{report}");
    let verdict = compare(
        &case.path("out/rows.parquet"),
        "header = false, delim = ';', quote = '''', escape = '\\', nullstr = ['NA', ''], \
         columns = {'column0': 'BIGINT', 'column1': 'VARCHAR', 'column2': 'BIGINT'}",
        &[case.path("in/dialect.txt")],
    );
    assert!(verdict.starts_with("IDENTICAL 300"), "{verdict}");
}

#[test]
fn a_missing_column_fails_that_file_and_options_are_checked() {
    let case = Case::new();
    case.write("in/a.csv", "id,name\n1,x\n");
    case.write("in/b.csv", "ident,name\n2,y\n");
    case.write(
        "pipeline.toml",
        pipeline(
            r#"["in/*.csv"]"#,
            "options.fields = [{ name = \"id\", type = \"int64\" }]\n[run]\nmax_failed_splits = 1",
            "out/rows.parquet",
        ),
    );
    let (run, report) = case.run_pipeline("pipeline.toml", &[]);
    run.expect_code(0);
    assert_eq!(report["splits_failed"], 1, "{report}");
    let error = report["failures"][0]["error"].as_str().unwrap();
    assert!(error.contains("in/b.csv: no column `id` in the header (it has ident, name)"), "{error}");
    assert_eq!(crate::util::row_count(&crate::util::read_parquet(&case.path("out/rows.parquet"))), 1);

    case.write("bad.toml", pipeline(r#"["in/a.csv"]"#, "options.delimiter = \";;\"", "out/x.parquet"));
    let run = case.run(&["validate", "bad.toml"]);
    run.expect_code(2);
    assert!(run.stderr().contains("must be one ASCII character"), "{}", run.stderr());
}

#[test]
fn the_csv_export_example_matches_duckdb() {
    let case = Case::new();
    case.copy("examples/csv-export/pipeline.toml", "pipeline.toml");
    let status = Command::new("python3")
        .arg(repo().join("examples/csv-export/gen.py"))
        .args(["--rows", "3000", "--out"])
        .arg(case.path("data/orders.csv"))
        .stdout(std::process::Stdio::null())
        .status()
        .expect("python3");
    assert!(status.success(), "gen.py failed");
    // Small splits, so the example's quoted notes cross many cut points.
    let (run, report) = case.run_pipeline("pipeline.toml", &["--set", "source.max_split_bytes=\"16 KiB\""]);
    run.expect_code(0);
    assert!(report["splits_total"].as_u64().unwrap() > 10, "{report}");
    assert_eq!(report["rejected_records"], 0, "{report}");
    let verdict = compare(
        &case.path("out/orders.parquet"),
        "header = true, delim = ',', quote = '\"', escape = '\"', columns = {'order_id': 'BIGINT', \
         'customer': 'VARCHAR', 'note': 'VARCHAR', 'amount': 'DOUBLE', 'paid': 'BOOLEAN', 'order_date': 'DATE', \
         'updated_at': 'TIMESTAMP'}",
        &[case.path("data/orders.csv")],
    );
    assert!(verdict.starts_with("IDENTICAL 3000"), "{verdict}");
}
