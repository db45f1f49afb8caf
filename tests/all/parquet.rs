//! The `parquet` reader against DuckDB: inputs written by pyarrow (every
//! codec, nested and logical types, a 0-row file, a compatible but
//! different schema, 200 row groups, a corrupt footer) are read by the real
//! binary, and the output is compared value for value with DuckDB's
//! `read_parquet` of the same inputs (tests/parquet/compare.py). And the
//! pod-usage workload from Parquet shards with map-typed labels, listed in
//! a file (examples/parquet-shards), to the spec's checksums.

use crate::util::{Case, repo};
use std::path::Path;
use std::process::Command;

/// Writes the inputs of tests/parquet/make_inputs.py into `dir`.
fn make_inputs(dir: &Path) {
    let status = Command::new("python3")
        .arg(repo().join("tests/parquet/make_inputs.py"))
        .arg(dir)
        .status()
        .expect("python3");
    assert!(status.success(), "make_inputs.py failed");
}

/// DuckDB's verdict on `output` against `inputs`.
fn compare(output: &Path, inputs: &[&Path]) -> String {
    crate::util::verdict("tests/parquet/compare.py", std::iter::once(output).chain(inputs.iter().copied()))
}

fn pipeline(options: &str) -> String {
    format!(
        r#"version = 1
[source]
plugin = "parquet"
inputs = "in/*.parquet"
max_split_bytes = "4 KiB"
{options}

[sinks.rows]
format = "parquet"
path = "out/rows.parquet"

[run]
max_failed_splits = 1
"#
    )
}

fn inputs(case: &Case, but: &[&str]) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(case.path("in"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| !but.iter().any(|b| p.ends_with(b)))
        .collect();
    v.sort();
    v
}

#[test]
fn every_codec_and_type_matches_duckdb_and_a_corrupt_footer_fails_its_file_only() {
    let case = Case::new();
    make_inputs(&case.path("in"));
    case.write("pipeline.toml", pipeline(""));
    let (run, report) = case.run_pipeline("pipeline.toml", &["--workers", "2"]);
    run.expect_code(0);

    // The corrupt footer fails its own split, by name and reason.
    assert_eq!(report["splits_failed"], 1, "{report}");
    let failure = &report["failures"][0];
    assert_eq!(failure["split"], "in/corrupt.parquet");
    let error = failure["error"].as_str().unwrap();
    assert!(error.contains("in/corrupt.parquet") && error.contains("corrupt footer"), "{error}");

    // 200 row groups of about 11 KiB with 4 KiB splits: one split each.
    let plan = case.run(&["plan", "pipeline.toml", "--json"]);
    let plan: serde_json::Value = serde_json::from_str(&plan.expect_code(0).stdout()).unwrap();
    let ids: Vec<&str> =
        plan["splits"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(ids.iter().filter(|id| id.starts_with("in/many_rg.parquet#rg")).count(), 200);
    assert!(ids.contains(&"in/empty.parquet") && ids.contains(&"in/corrupt.parquet"), "{ids:?}");
    assert_eq!(report["splits_total"].as_u64().unwrap() as usize, ids.len());

    // Everything else, value for value, as DuckDB reads it.
    let others = inputs(&case, &["corrupt.parquet"]);
    let refs: Vec<&Path> = others.iter().map(|p| p.as_path()).collect();
    let verdict = compare(&case.path("out/rows.parquet"), &refs);
    assert!(verdict.starts_with("IDENTICAL 41920"), "{verdict}");

    // Arrow types pass through unchanged (time zone, dictionary, map, decimal).
    let schema = crate::util::read_parquet(&case.path("out/rows.parquet"))[0].schema();
    let ty = |n: &str| schema.field_with_name(n).unwrap().data_type().to_string();
    assert_eq!(ty("ts"), "Timestamp(µs, \"Europe/Paris\")");
    assert_eq!(ty("price"), "Decimal128(12, 3)");
    assert!(ty("attrs").starts_with("Map("), "{}", ty("attrs"));
    assert!(ty("cat").starts_with("Dictionary(Int32, Utf8)"), "{}", ty("cat"));
    assert!(!schema.field_with_name("id").unwrap().is_nullable());
    assert!(schema.field_with_name("extra").unwrap().is_nullable());
}

#[test]
fn projection_reads_only_the_named_columns_in_order() {
    let case = Case::new();
    make_inputs(&case.path("in"));
    std::fs::remove_file(case.path("in/corrupt.parquet")).unwrap();
    case.write("pipeline.toml", pipeline("options.columns = [\"tags\", \"id\", \"extra\"]"));
    let (run, report) = case.run_pipeline("pipeline.toml", &[]);
    run.expect_code(0);
    assert_eq!(report["splits_failed"], 0, "{report}");
    // Only the projected column chunks were fetched.
    let total: u64 = inputs(&case, &[]).iter().map(|p| std::fs::metadata(p).unwrap().len()).sum();
    let read = report["bytes_read"].as_u64().unwrap();
    // (`tags` is the biggest column; a full read is more than `total`.)
    assert!(read < total * 6 / 10, "read {read} of {total} bytes");
    let batches = crate::util::read_parquet(&case.path("out/rows.parquet"));
    let names: Vec<String> = batches[0].schema().fields().iter().map(|f| f.name().clone()).collect();
    assert_eq!(names, ["tags", "id", "extra"]);
    let all = inputs(&case, &[]);
    let refs: Vec<&Path> = all.iter().map(|p| p.as_path()).collect();
    let verdict = compare(&case.path("out/rows.parquet"), &refs);
    assert!(verdict.starts_with("IDENTICAL 41920"), "{verdict}");

    // A column no file has is an option error, with the columns there are.
    case.write("pipeline.toml", pipeline("options.columns = [\"nope\"]"));
    let run = case.run(&["validate", "pipeline.toml"]);
    run.expect_code(2);
    assert!(run.stderr().contains("no column `nope` in the input files"), "{}", run.stderr());
}

#[test]
fn an_incompatible_schema_fails_that_file_naming_the_column() {
    let case = Case::new();
    make_inputs(&case.path("in"));
    std::fs::remove_file(case.path("in/corrupt.parquet")).unwrap();
    let status = Command::new("python3")
        .args([
            "-c",
            "import pyarrow as pa, pyarrow.parquet as pq, sys; \
             pq.write_table(pa.table({'id': pa.array(['x'])}), sys.argv[1])",
        ])
        .arg(case.path("in/zz_bad_type.parquet"))
        .status()
        .unwrap();
    assert!(status.success());
    case.write("pipeline.toml", pipeline(""));
    let (run, report) = case.run_pipeline("pipeline.toml", &[]);
    run.expect_code(0);
    assert_eq!(report["splits_failed"], 1, "{report}");
    let failure = &report["failures"][0];
    assert_eq!(failure["split"], "in/zz_bad_type.parquet");
    let error = failure["error"].as_str().unwrap();
    assert!(error.contains("column `id` is Utf8 in this file but Int64 in the others"), "{error}");
    let others = inputs(&case, &["zz_bad_type.parquet"]);
    let refs: Vec<&Path> = others.iter().map(|p| p.as_path()).collect();
    assert!(compare(&case.path("out/rows.parquet"), &refs).starts_with("IDENTICAL 41920"));
}

/// examples/parquet-shards over the pod-usage inputs in `from`, in `shards`
/// shards: the output's CHECKSUM line.
fn shards_checksum(from: &Path, shards: usize) -> String {
    let case = Case::new();
    case.copy("examples/parquet-shards/pipeline.toml", "pipeline.toml");
    let status = Command::new("python3")
        .arg(repo().join("examples/parquet-shards/gen.py"))
        .arg("--from")
        .arg(from)
        .args(["--shards", &shards.to_string(), "--out"])
        .arg(case.path("data"))
        .stdout(std::process::Stdio::null())
        .status()
        .expect("python3");
    assert!(status.success(), "gen.py failed");
    let (run, report) = case.run_pipeline("pipeline.toml", &[]);
    run.expect_code(0);
    assert_eq!(report["splits_failed"], 0, "{report}");
    assert_eq!(
        report["splits_total"].as_u64().unwrap() as usize,
        shards.min(report["rows_read"].as_u64().unwrap() as usize)
    );
    crate::util::checksum_line(&case.path("out/pod_usage_daily.parquet"))
}

#[test]
fn pod_usage_from_parquet_shards_with_map_labels_matches_the_spec() {
    let edge = repo().join("examples/pod-usage/edge");
    assert_eq!(shards_checksum(&edge, 4), crate::pod_usage::EDGE);
    let generated = crate::pod_usage::generated(200_000);
    assert_eq!(shards_checksum(&generated, 300), crate::pod_usage::ROWS_200K);
}
