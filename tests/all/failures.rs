//! Bad data is reported and never fatal: malformed NDJSON lines are
//! rejected by file and line, an unreadable input fails only its own split,
//! and the error policy decides the exit status.

use crate::util::{Case, read_parquet, row_count};

const PIPELINE: &str = r#"version = 1
[source]
plugin = "ndjson"
inputs = "data/*.ndjson"
max_split_bytes = "4 KiB"
options.fields = [{ name = "id", type = "int64", nullable = false }, { name = "text", type = "string" }]

[sinks.rows]
format = "parquet"
path = "out/rows.parquet"

[run]
max_failed_splits = 1
quarantine = "quarantine"
"#;

fn lines(from: usize, to: usize) -> String {
    (from..to).map(|i| format!("{{\"id\":{i},\"text\":\"row {i} with some text to take room\"}}\n")).collect()
}

#[test]
fn malformed_lines_and_unreadable_files_are_reported_and_the_rest_is_written() {
    let case = Case::new();
    // a.ndjson: 300 lines (several splits of 4 KiB), three of them bad,
    // one in the first split and two further in.
    let mut a = lines(0, 300);
    let mut all: Vec<String> = a.lines().map(str::to_string).collect();
    all[4] = "{\"id\": \"five\", \"text\": \"x\"}".into(); // line 5: wrong type
    all[199] = "{\"id\": 200, \"text\": ".into(); // line 200: truncated JSON
    all[250] = "{\"text\": \"no id\"}".into(); // line 251: missing required field
    a = all.join("\n") + "\n";
    case.write("data/a.ndjson", &a);
    case.write("data/c.ndjson", lines(1000, 1010));
    // b.ndjson: a dangling link, which the process cannot read.
    std::os::unix::fs::symlink(case.path("data/missing-target"), case.path("data/b.ndjson")).unwrap();
    case.write("pipeline.toml", PIPELINE);

    let (run, report) = case.run_pipeline("pipeline.toml", &[]);
    run.expect_code(0);
    assert_eq!(report["status"], "ok");
    assert_eq!(report["splits_failed"], 1);
    let failure = &report["failures"][0];
    assert_eq!(failure["split"], "data/b.ndjson");
    assert!(failure["error"].as_str().unwrap().contains("No such file or directory"), "{failure}");

    assert_eq!(report["rejected_records"], 3);
    let rejects: Vec<(String, String, String)> = report["rejects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["file"].as_str().unwrap().into(),
                r["location"].as_str().unwrap().into(),
                r["reason"].as_str().unwrap().into(),
            )
        })
        .collect();
    let mut where_: Vec<(&str, &str)> = rejects.iter().map(|(f, l, _)| (f.as_str(), l.as_str())).collect();
    where_.sort_by_key(|(_, l)| l[5..].parse::<u32>().unwrap());
    assert_eq!(
        where_,
        vec![("data/a.ndjson", "line 5"), ("data/a.ndjson", "line 200"), ("data/a.ndjson", "line 251")]
    );
    let reasons: Vec<&str> = rejects.iter().map(|r| r.2.as_str()).collect();
    assert!(reasons.iter().any(|r| r.starts_with("expected an integer, found a string")), "{reasons:?}");
    assert!(reasons.iter().any(|r| r == &"field `id` is missing"), "{reasons:?}");

    // Everything else is written: 297 good lines of a, 10 of c.
    let batches = read_parquet(&case.path("out/rows.parquet"));
    assert_eq!(row_count(&batches), 307);
    assert_eq!(report["outputs"][0]["rows"], 307);
    assert!(run.stderr().contains("FAILED   data/b.ndjson"), "{}", run.stderr());

    // The quarantine folder lists the failed input with its reason.
    let list = std::fs::read_to_string(case.path("quarantine/failed-inputs.tsv")).unwrap();
    let rows: Vec<&str> = list.lines().collect();
    assert_eq!(rows.len(), 2, "{list}");
    assert!(
        rows[1].starts_with("data/b.ndjson\tdata/b.ndjson\tcannot read data/b.ndjson: No such file"),
        "{list}"
    );
    assert_eq!(report["quarantine"]["inputs"], 1);
}

#[test]
fn past_the_error_policy_the_run_fails_and_writes_nothing() {
    let case = Case::new();
    case.write("data/a.ndjson", lines(0, 10));
    std::os::unix::fs::symlink(case.path("nowhere"), case.path("data/b.ndjson")).unwrap();
    case.write("pipeline.toml", PIPELINE.replace("max_failed_splits = 1", "max_failed_splits = 0"));
    let (run, report) = case.run_pipeline("pipeline.toml", &[]);
    run.expect_code(1);
    assert_eq!(report["status"], "failed");
    assert!(report["error"].as_str().unwrap().contains("1 of 2 splits failed"), "{report}");
    assert!(!case.path("out/rows.parquet").exists());
    assert!(run.stderr().contains("FAILED   data/b.ndjson"), "{}", run.stderr());
}
