//! The `ndjson` reader's nested columns and inferred schemas against
//! DuckDB: inputs written by tests/ndjson/make_inputs.py (lists, structs,
//! sparse Kubernetes-style labels, nested metadata, a key of no common
//! type, nulls and missing keys at every level, a byte order mark, CRLF, a
//! 0-byte file, malformed lines) are read by the real binary, in 64 KiB
//! splits over 2 workers, and compared value for value with DuckDB's
//! `read_json` of the same inputs (tests/ndjson/compare.py): once with
//! declared nested types and dotted paths, once with the columns inferred,
//! where DuckDB's own inference must give the same types. The inferred
//! `fields` that `runtime validate` prints, pasted into the pipeline, give
//! the same table. And the pod-usage workload with its labels as nested
//! objects, read as `map<string, string>` columns, gives the spec's
//! checksums.

use crate::util::{Case, repo};
use std::path::Path;
use std::process::Command;

/// Writes the inputs into `dir`; returns the lines make_inputs.py says are
/// malformed, as the report locates them.
fn make_inputs(dir: &Path) -> Vec<String> {
    crate::util::reject_lines(&crate::util::verdict("tests/ndjson/make_inputs.py", [dir]))
}

/// DuckDB's verdict on `output` against the query `select`.
fn compare(output: &Path, select: &str) -> String {
    crate::util::verdict("tests/ndjson/compare.py", [output.as_os_str(), select.as_ref()])
}

fn pipeline(inputs: &str, options: &str, out: &str) -> String {
    format!(
        r#"version = 1
[run]
workers = 2

[source]
plugin = "ndjson"
inputs = {inputs}
max_split_bytes = "64 KiB"
{options}

[sinks.rows]
format = "parquet"
path = "{out}"
"#
    )
}

const DECLARED: &str = r#"[source.options]
fields = [
  { name = "id", type = "int64", nullable = false },
  { name = "name", type = "string" },
  { name = "score", type = "float64" },
  { name = "ok", type = "boolean" },
  { name = "day", type = "date" },
  { name = "tags", type = "list<string>" },
  { name = "pod", type = "struct", fields = [
      { name = "name", type = "string" },
      { name = "cpu", type = "float64" },
      { name = "ports", type = "list<int64>" },
  ] },
  { name = "labels", type = "map<string, string>" },
  { name = "meta", path = "metadata", type = "struct<namespace: string, labels: struct<app: string>>" },
  { name = "app", path = "metadata.labels.app", type = "string" },
  { name = "ns", path = ["metadata", "namespace"], type = "string" },
]"#;

/// DuckDB's reading of the same columns.
fn duckdb_declared(files: &[&Path]) -> String {
    let list: Vec<String> = files.iter().map(|f| format!("'{}'", f.display())).collect();
    format!(
        "SELECT id, name, score, ok, day, tags, pod, labels, metadata AS meta, \
         metadata.labels.app AS app, metadata.namespace AS ns \
         FROM read_json([{}], format = 'newline_delimited', columns = {{id: 'BIGINT', name: 'VARCHAR', \
         score: 'DOUBLE', ok: 'BOOLEAN', day: 'DATE', tags: 'VARCHAR[]', \
         pod: 'STRUCT(name VARCHAR, cpu DOUBLE, ports BIGINT[])', labels: 'MAP(VARCHAR, VARCHAR)', \
         metadata: 'STRUCT(namespace VARCHAR, labels STRUCT(app VARCHAR))'}})",
        list.join(", ")
    )
}

#[test]
fn declared_nested_types_and_paths_match_duckdb() {
    let case = Case::new();
    let reject_lines = make_inputs(&case.path("in"));
    case.write(
        "pipeline.toml",
        pipeline(r#"["in/good/*.ndjson", "in/bad.ndjson"]"#, DECLARED, "out/rows.parquet"),
    );
    let (run, report) = case.run_pipeline("pipeline.toml", &[]);
    run.expect_code(0);
    assert_eq!(report["splits_failed"], 0, "{report}");
    assert!(report["splits_total"].as_u64().unwrap() > 10, "{report}");
    // Each malformed line is rejected with its file, line and reason; the
    // rest of its file is written.
    let rejects: Vec<(String, String)> = report["rejects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["location"].as_str().unwrap().to_string(), r["reason"].as_str().unwrap().to_string()))
        .collect();
    let mut lines: Vec<String> = rejects.iter().map(|r| r.0.clone()).collect();
    lines.sort();
    assert_eq!(lines, reject_lines, "{rejects:?}");
    assert!(
        report["rejects"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["file"].as_str().unwrap().ends_with("bad.ndjson"))
    );
    let reason = |line: &str| rejects.iter().find(|r| r.0 == line).unwrap().1.clone();
    assert!(reason("line 2").starts_with("expected a number, found a string"), "{rejects:?}");
    assert!(reason("line 3").starts_with("expected an array, found a string"), "{rejects:?}");
    // `metadata` is read whole (`meta`) and through (`app`, `ns`).
    assert!(reason("line 5").starts_with("expected an object, found a string"), "{rejects:?}");
    assert!(reason("line 6").contains("appears twice"), "{rejects:?}");
    assert!(reason("line 7").contains("EOF"), "{rejects:?}");

    let good = |f: &str| case.path(&format!("in/{f}"));
    let (pods, crlf, kept) = (good("good/pods.ndjson"), good("good/crlf.ndjson"), good("bad_kept.ndjson"));
    let verdict = compare(&case.path("out/rows.parquet"), &duckdb_declared(&[&pods, &crlf, &kept]));
    assert!(verdict.starts_with("IDENTICAL 3402"), "{verdict}");
}

#[test]
fn inferred_columns_match_duckdbs_and_validate_prints_them_to_paste() {
    let case = Case::new();
    make_inputs(&case.path("in"));
    case.write("inferred.toml", pipeline(r#"["in/good/*.ndjson"]"#, "", "out/inferred.parquet"));

    let shown = case.run(&["validate", "inferred.toml"]);
    shown.expect_code(0);
    let stdout = shown.stdout();
    assert!(stdout.contains("inferred    `rows` columns from the inputs"), "{stdout}");
    let fields: Vec<&str> = stdout
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("fields = ["))
        .take_while(|l| !l.trim().is_empty() && !l.starts_with("  sink"))
        .map(str::trim)
        .collect();
    assert!(fields.contains(&r#"{ name = "labels", type = "map<string, string>" },"#), "{stdout}");
    assert!(fields.contains(&r#"{ name = "extra", type = "json" },"#), "{stdout}");
    assert!(
        fields.contains(
            &r#"{ name = "pod", type = "struct<name: string, cpu: float64, ports: list<int64>>" },"#
        ),
        "{stdout}"
    );
    let plan = case.run(&["plan", "inferred.toml"]);
    plan.expect_code(0);
    assert!(plan.stdout().contains(r#"{ name = "day", type = "date" },"#), "{}", plan.stdout());

    let (run, report) = case.run_pipeline("inferred.toml", &[]);
    run.expect_code(0);
    assert_eq!(report["rejected_records"], 0, "{report}");
    // In the order the runtime lists them (by path): the columns come in
    // the order their keys first appear.
    let files = format!(
        "['{}', '{}']",
        case.path("in/good/crlf.ndjson").display(),
        case.path("in/good/pods.ndjson").display()
    );
    let duckdb = format!("SELECT * FROM read_json({files}, format = 'newline_delimited')");
    let verdict = compare(&case.path("out/inferred.parquet"), &duckdb);
    assert!(verdict.starts_with("IDENTICAL 3400"), "{verdict}");

    // Pasted into the pipeline, the printed fields fix the same columns.
    let options = format!("[source.options]\n{}", fields.join("\n"));
    case.write("declared.toml", pipeline(r#"["in/good/*.ndjson"]"#, &options, "out/declared.parquet"));
    let (run, report) = case.run_pipeline("declared.toml", &[]);
    run.expect_code(0);
    assert_eq!(report["rejected_records"], 0, "{report}");
    let verdict = compare(&case.path("out/declared.parquet"), &duckdb);
    assert!(verdict.starts_with("IDENTICAL 3400"), "{verdict}");
}

/// examples/pod-usage over the inputs in `from` rewritten with nested labels
/// (tests/ndjson/nest_labels.py) and read as maps: the CHECKSUM line.
fn nested_labels_checksum(from: &Path) -> String {
    let case = Case::new();
    let status = Command::new("python3")
        .arg(repo().join("tests/ndjson/nest_labels.py"))
        .arg(from)
        .arg(case.path("data"))
        .status()
        .expect("python3");
    assert!(status.success(), "nest_labels.py failed");
    let example = std::fs::read_to_string(repo().join("examples/pod-usage/pipeline.toml")).unwrap();
    // Maps are not dictionary-encoded: the pod labels lose `dictionary`.
    let maps = example
        .replace(r#"type = "json", dictionary = true"#, r#"type = "json""#)
        .replace(r#"type = "json""#, r#"type = "map<string, string>""#);
    assert_eq!(maps.matches("map<string, string>").count(), 3, "the example reads three label columns");
    case.write("pipeline.toml", maps);
    let (run, report) = case.run_pipeline("pipeline.toml", &[]);
    run.expect_code(0);
    assert_eq!(report["splits_failed"], 0, "{report}");
    assert_eq!(report["rejected_records"], 0, "{report}");
    crate::util::checksum_line(&case.path("out/pod_usage_daily.parquet"))
}

#[test]
fn pod_usage_with_nested_labels_read_as_maps_matches_the_spec() {
    assert_eq!(nested_labels_checksum(&repo().join("examples/pod-usage/edge")), crate::pod_usage::EDGE);
    let generated = crate::pod_usage::generated(200_000);
    assert_eq!(nested_labels_checksum(&generated), crate::pod_usage::ROWS_200K);
}
