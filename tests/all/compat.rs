//! Plugins built against the released WIT 0.1.0 (kept as built, in
//! tests/fixtures/wit-0.1.0) run on this host beside 0.2.0 ones: a 0.1.0
//! reader and transform, a 0.1.0 reader whose output the host projects for
//! a 0.2.0 aggregation, and a 0.1.0 reader's failures, each with its reason.

use crate::util::{Case, read_parquet, repo, row_count};
use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;

/// A case with the two 0.1.0 components and `n` input files for the
/// hostile reader, the first line of each its command.
fn case(inputs: &[(&str, &str)]) -> Case {
    let case = Case::new();
    for f in ["hostile_reader.wasm", "upper.wasm"] {
        std::fs::copy(repo().join("tests/fixtures/wit-0.1.0").join(f), case.path(f)).unwrap();
    }
    for (name, text) in inputs {
        case.write(&format!("data/{name}.txt"), text);
    }
    case
}

#[test]
fn wit_0_1_0_reader_and_transform_run_unchanged() {
    let case = case(&[("a", "good\nada\ngrace\n"), ("b", "good\nlinus\n")]);
    case.write(
        "pipeline.toml",
        r#"version = 1
[source]
plugin = "hostile_reader.wasm"
inputs = "data/*.txt"

[[transforms]]
name = "shout"
plugin = "upper.wasm"
options = { column = "text" }

[sinks.out]
format = "parquet"
path = "out/rows.parquet"
"#,
    );
    let inspect = case.run(&["plugins", "inspect", "upper.wasm"]);
    inspect.expect_code(0);
    assert!(
        inspect.stdout().starts_with("upper 0.1.0 (transform, runtime:plugin@0.1.0)"),
        "{}",
        inspect.stdout()
    );

    let (run, report) = case.run_pipeline("pipeline.toml", &[]);
    run.expect_code(0);
    assert_eq!(report["splits_ok"], 2);
    let batches = read_parquet(&case.path("out/rows.parquet"));
    let mut texts: Vec<String> = batches
        .iter()
        .flat_map(|b| {
            b.column_by_name("text").unwrap().as_string::<i32>().iter().map(|t| t.unwrap().to_string())
        })
        .collect();
    texts.sort();
    assert_eq!(texts, ["ADA", "GRACE", "LINUS"]);
}

#[test]
fn a_wit_0_1_0_reader_is_projected_by_the_host() {
    // The 0.2.0 aggregate reads two of the reader's three columns; the
    // 0.1.0 reader cannot be told, so the host drops the third itself.
    let case = case(&[("a", "good\nx\ny\n"), ("b", "good\nz\n")]);
    case.write(
        "pipeline.toml",
        r#"version = 1
[source]
plugin = "hostile_reader.wasm"
inputs = "data/*.txt"

[[transforms]]
name = "per_file"
plugin = "aggregate"
options.group_by = ["file"]
options.aggregates = [{ name = "lines", function = "sum", column = "line" }]

[sinks.out]
format = "parquet"
path = "out/per_file.parquet"
"#,
    );
    let (run, _) = case.run_pipeline("pipeline.toml", &[]);
    run.expect_code(0);
    let batches = read_parquet(&case.path("out/per_file.parquet"));
    assert_eq!(row_count(&batches), 2);
    let sums: Vec<i64> = batches
        .iter()
        .flat_map(|b| b.column_by_name("lines").unwrap().as_primitive::<Int64Type>().iter().flatten())
        .collect();
    // File line numbers of the data lines (the command is line 1): 2 + 3
    // in `a`, 2 in `b`.
    assert_eq!(sums, [5, 2]);
}

#[test]
fn a_wit_0_1_0_reader_fails_its_split_with_the_reason() {
    let case = case(&[("good", "good\nfine\n"), ("bad", "panic\nboom\n")]);
    case.write(
        "pipeline.toml",
        r#"version = 1
[source]
plugin = "hostile_reader.wasm"
inputs = "data/*.txt"

[run]
max_failed_splits = 1

[sinks.out]
format = "parquet"
path = "out/rows.parquet"
"#,
    );
    let (run, report) = case.run_pipeline("pipeline.toml", &[]);
    run.expect_code(0);
    assert_eq!(report["splits_ok"], 1);
    let failure = &report["failures"][0];
    assert_eq!(failure["split"], "data/bad.txt");
    assert_eq!(failure["kind"], "trap");
    let error = failure["error"].as_str().unwrap();
    assert!(error.starts_with("plugin panicked at "), "{error}");
    assert_eq!(row_count(&read_parquet(&case.path("out/rows.parquet"))), 1);
}
