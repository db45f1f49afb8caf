//! The pod-usage example (examples/pod-usage) against the checksums in its
//! SPEC.md: the hand-made edge fixture, the committed sample (cross-checked
//! with the DuckDB reference implementation), and the 200,000- and
//! 1,000,000-row inputs generated with seed 42, serially and in parallel.

use crate::util::{Case, checksum, checksum_line, read_parquet, repo};
use std::path::{Path, PathBuf};
use std::process::Command;

pub const EDGE: &str = "CHECKSUM rows=5 pod_count=8 pod_usage_cpu_core_hours=9.000000 pod_request_cpu_core_hours=18.000000 pod_usage_memory_gigabyte_hours=9.000000 pod_request_memory_gigabyte_hours=18.000000 labels_chars=191";
pub const ROWS_200K: &str = "CHECKSUM rows=13745 pod_count=15849 pod_usage_cpu_core_hours=115444.602539 pod_request_cpu_core_hours=202890.000000 pod_usage_memory_gigabyte_hours=291468.257812 pod_request_memory_gigabyte_hours=387510.000000 labels_chars=6062899";
const ROWS_1M: &str = "CHECKSUM rows=61070 pod_count=71394 pod_usage_cpu_core_hours=589728.436523 pod_request_cpu_core_hours=1014450.000000 pod_usage_memory_gigabyte_hours=1453403.672852 pod_request_memory_gigabyte_hours=1937550.000000 labels_chars=26741787";

/// A case holding the example's pipeline.toml, with `data/` from `data_dir`.
fn example_with_data(data_dir: &Path) -> Case {
    let case = Case::new();
    case.copy("examples/pod-usage/pipeline.toml", "pipeline.toml");
    for f in ["pod_usage.ndjson", "node_labels.ndjson", "namespace_labels.ndjson"] {
        let to = case.path(&format!("data/{f}"));
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        // Large generated inputs are linked, not copied.
        if std::fs::hard_link(data_dir.join(f), &to).is_err() {
            std::fs::copy(data_dir.join(f), &to).unwrap();
        }
    }
    case
}

/// Generated input of `rows` rows (seed 42), cached under target/.
pub fn generated(rows: u64) -> PathBuf {
    let dir = repo().join("target").join("test-data").join(format!("pod-usage-{rows}"));
    let done = dir.join(".complete");
    if !done.exists() {
        let status = Command::new("python3")
            .arg(repo().join("examples/pod-usage/gen.py"))
            .args(["--rows", &rows.to_string(), "--seed", "42", "--out"])
            .arg(&dir)
            .status()
            .expect("python3");
        assert!(status.success(), "gen.py failed");
        std::fs::write(&done, b"").unwrap();
    }
    dir
}

fn output(case: &Case) -> PathBuf {
    case.path("out/pod_usage_daily.parquet")
}

#[test]
fn edge_fixture_matches_the_spec() {
    let case = example_with_data(&repo().join("examples/pod-usage/edge"));
    let (run, report) = case.run_pipeline("pipeline.toml", &[]);
    run.expect_code(0);
    assert_eq!(checksum_line(&output(&case)), EDGE);
    // And row for row against the hand-written expected rows.
    let both = checksum(&[&repo().join("examples/pod-usage/edge/expected.ndjson"), &output(&case)]);
    assert!(both.contains("IDENTICAL"), "{both}");
    assert_eq!(report["outputs"][0]["name"], "pod_usage_daily");
    assert_eq!(report["outputs"][0]["rows"], 5);
    assert_eq!(report["outputs"][0]["path"], "out/pod_usage_daily.parquet");
    assert_eq!(report["splits_failed"], 0);
}

#[test]
fn committed_sample_matches_the_duckdb_reference() {
    let case = example_with_data(&repo().join("examples/pod-usage/data"));
    case.run_pipeline("pipeline.toml", &[]).0.expect_code(0);
    let reference = case.path("duckdb.parquet");
    let status = Command::new("python3")
        .arg(repo().join("examples/pod-usage/impl_duckdb.py"))
        .arg(case.path("data"))
        .arg(&reference)
        .status()
        .expect("python3");
    assert!(status.success(), "impl_duckdb.py failed");
    let both = checksum(&[&reference, &output(&case)]);
    assert!(both.contains("IDENTICAL"), "{both}");
    // The sample's checksum is recorded in examples/pod-usage/README.md.
    let readme = std::fs::read_to_string(repo().join("examples/pod-usage/README.md")).unwrap();
    assert!(
        readme.contains(&checksum_line(&output(&case))),
        "README lists a different checksum for the sample"
    );
}

#[test]
fn rows_200k_match_the_spec_serial_and_parallel() {
    let data = generated(200_000);
    let case = example_with_data(&data);
    // Small splits so the parallel run really splits the file.
    let (run, report) =
        case.run_pipeline("pipeline.toml", &["--workers", "1", "--set", "source.max_split_bytes=\"8 MiB\""]);
    run.expect_code(0);
    assert!(report["splits_total"].as_u64().unwrap() >= 10, "{report}");
    let serial = case.path("serial.parquet");
    std::fs::rename(output(&case), &serial).unwrap();
    case.run_pipeline("pipeline.toml", &["--workers", "2", "--set", "source.max_split_bytes=\"8 MiB\""])
        .0
        .expect_code(0);
    assert_eq!(checksum_line(&serial), ROWS_200K);
    assert_eq!(checksum_line(&output(&case)), ROWS_200K);
    let both = checksum(&[&serial, &output(&case)]);
    assert!(both.contains("IDENTICAL"), "{both}");
    // The aggregate sorts its groups, so the files hold the same rows in the
    // same order (their footers differ: each records the run that wrote it).
    assert_eq!(read_parquet(&serial), read_parquet(&output(&case)));
}

#[test]
fn rows_1m_match_the_spec() {
    let data = generated(1_000_000);
    let case = example_with_data(&data);
    let (run, report) = case.run_pipeline("pipeline.toml", &[]);
    run.expect_code(0);
    assert_eq!(checksum_line(&output(&case)), ROWS_1M);
    assert_eq!(report["rows_read"], 1_000_000);
}

/// `--side-table-cache`: the first run reads the side tables and keeps
/// them, the second loads them (same output), and a changed input is read
/// again; concurrent runs on one cache read each table once.
#[test]
fn side_tables_are_read_once_per_cache_folder() {
    let case = example_with_data(&repo().join("examples/pod-usage/edge"));
    let cache = case.path("side-cache");
    let cache_arg = cache.to_str().unwrap();
    let cached = |report: &serde_json::Value| -> Vec<(String, bool)> {
        let tables = report["side_tables"].as_array().unwrap();
        tables
            .iter()
            .map(|t| (t["name"].as_str().unwrap().to_string(), t["cached"].as_bool().unwrap()))
            .collect()
    };
    let names = ["node_labels", "namespace_labels"];
    let (run, first) = case.run_pipeline("pipeline.toml", &["--side-table-cache", cache_arg]);
    run.expect_code(0);
    assert_eq!(checksum_line(&output(&case)), EDGE);
    let mut expect: Vec<(String, bool)> = names.iter().map(|n| (n.to_string(), false)).collect();
    expect.sort();
    let mut got = cached(&first);
    got.sort();
    assert_eq!(got, expect, "the first run reads them");
    let (run, second) = case.run_pipeline("pipeline.toml", &["--side-table-cache", cache_arg]);
    run.expect_code(0);
    assert!(run.stderr().contains("(from the side-table cache)"), "the summary says so:\n{}", run.stderr());
    assert!(cached(&second).iter().all(|(_, c)| *c), "the second loads them: {:?}", cached(&second));
    assert_eq!(checksum_line(&output(&case)), EDGE, "the same output from cached tables");
    for (a, b) in
        first["side_tables"].as_array().unwrap().iter().zip(second["side_tables"].as_array().unwrap())
    {
        assert_eq!((&a["rows"], &a["bytes"], &a["files"]), (&b["rows"], &b["bytes"], &b["files"]));
    }
    // A changed input makes a new entry: node_labels is read again.
    let node = case.path("data/node_labels.ndjson");
    let text = std::fs::read_to_string(&node).unwrap();
    std::fs::remove_file(&node).unwrap(); // it may be a hard link to the repository's file
    std::fs::write(&node, format!("{text}\n")).unwrap();
    let (run, third) = case.run_pipeline("pipeline.toml", &["--side-table-cache", cache_arg]);
    run.expect_code(0);
    let third = cached(&third);
    assert!(third.contains(&("node_labels".to_string(), false)), "{third:?}");
    assert!(third.contains(&("namespace_labels".to_string(), true)), "{third:?}");
    // A damaged entry is ignored and read again, never trusted.
    for e in std::fs::read_dir(&cache).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "sidetable") {
            let mut bytes = std::fs::read(&p).unwrap();
            bytes.truncate(bytes.len() - 1);
            std::fs::write(&p, bytes).unwrap();
        }
    }
    let (run, fourth) = case.run_pipeline("pipeline.toml", &["--side-table-cache", cache_arg]);
    run.expect_code(0);
    assert!(cached(&fourth).iter().all(|(_, c)| !*c), "{:?}", cached(&fourth));
    assert_eq!(checksum_line(&output(&case)), EDGE);
    // Two runs at once on a fresh cache: each table is read by one of them.
    let fresh = case.path("fresh-cache");
    let spawn = |out: &str| {
        crate::util::runtime()
            .args([
                "run",
                "pipeline.toml",
                "--quiet",
                "--side-table-cache",
                fresh.to_str().unwrap(),
                "--report",
                out,
            ])
            .args(["--set", &format!("sinks.pod_usage_daily.path=\"out/{out}.parquet\"")])
            .current_dir(case.path(""))
            .spawn()
            .unwrap()
    };
    let (mut a, mut b) = (spawn("a.json"), spawn("b.json"));
    assert!(a.wait().unwrap().success() && b.wait().unwrap().success());
    let reads: usize = ["a.json", "b.json"]
        .iter()
        .map(|f| {
            let r: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(case.path(f)).unwrap()).unwrap();
            cached(&r).iter().filter(|(_, c)| !*c).count()
        })
        .sum();
    assert_eq!(reads, 2, "two tables, each read once across both runs");
}
