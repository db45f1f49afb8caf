//! `labels` + `aggregate` over the hand-made `edge/` fixture of the pod-usage
//! workload (`examples/pod-usage/edge/`): all four pod-label forms, label
//! precedence, missing side rows, escaping and non-ASCII, code-point key
//! order. The output must equal `expected.ndjson` row for row, bit for bit,
//! and give SPEC §3's known CHECKSUM line, however the input is split.

mod support;

use arrow_array::RecordBatch;
use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Float64Type, Int64Type};
use serde::Deserialize;
use std::path::PathBuf;
use support::{METRICS, checksum, day_of, read_pod_usage, run_pipeline, side_tables};

const EDGE_CHECKSUM: &str = "CHECKSUM rows=5 pod_count=8 pod_usage_cpu_core_hours=9.000000 \
    pod_request_cpu_core_hours=18.000000 pod_usage_memory_gigabyte_hours=9.000000 \
    pod_request_memory_gigabyte_hours=18.000000 labels_chars=191";

fn edge_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/pod-usage/edge")
}

#[derive(Debug, Deserialize, PartialEq)]
struct Row {
    usage_date: String,
    namespace: String,
    node: String,
    labels: String,
    pod_count: i64,
    pod_usage_cpu_core_hours: f64,
    pod_request_cpu_core_hours: f64,
    pod_usage_memory_gigabyte_hours: f64,
    pod_request_memory_gigabyte_hours: f64,
}

/// Output rows in output order, with the date as days and each metric as bits.
type Flat = (i32, String, String, String, i64, [u64; 4]);

fn flatten(batches: &[RecordBatch]) -> Vec<Flat> {
    let mut rows = Vec::new();
    for b in batches {
        let names: Vec<&str> = b.schema_ref().fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(names[..5], ["usage_date", "namespace", "node", "labels", "pod_count"]);
        assert_eq!(names[5..], METRICS);
        let strings = |i: usize| b.column(i).as_string::<i32>();
        for r in 0..b.num_rows() {
            let metric = |i: usize| b.column(5 + i).as_primitive::<Float64Type>().value(r).to_bits();
            rows.push((
                b.column(0).as_primitive::<Date32Type>().value(r),
                strings(1).value(r).to_string(),
                strings(2).value(r).to_string(),
                strings(3).value(r).to_string(),
                b.column(4).as_primitive::<Int64Type>().value(r),
                [metric(0), metric(1), metric(2), metric(3)],
            ));
        }
    }
    rows
}

fn expected() -> Vec<Flat> {
    let text = std::fs::read_to_string(edge_dir().join("expected.ndjson")).expect("expected.ndjson");
    let mut rows: Vec<Flat> = text
        .lines()
        .map(|line| {
            let r: Row = serde_json::from_str(line).expect("expected row");
            let metrics = [
                r.pod_usage_cpu_core_hours,
                r.pod_request_cpu_core_hours,
                r.pod_usage_memory_gigabyte_hours,
                r.pod_request_memory_gigabyte_hours,
            ];
            (day_of(&r.usage_date), r.namespace, r.node, r.labels, r.pod_count, metrics.map(f64::to_bits))
        })
        .collect();
    // The output is sorted by the group keys (dates, then strings by bytes).
    rows.sort_by(|a, b| (a.0, &a.1, &a.2, &a.3).cmp(&(b.0, &b.1, &b.2, &b.3)));
    rows
}

#[test]
fn edge_fixture_gives_the_expected_rows() {
    let dir = edge_dir();
    let batches = read_pod_usage(&dir.join("pod_usage.ndjson"), 65_536);
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 9);
    for dictionary in [false, true] {
        let (out, _) = run_pipeline(side_tables(&dir), &[&batches], dictionary);
        assert_eq!(out.len(), 1);
        assert_eq!(flatten(&out), expected(), "dictionary = {dictionary}");
        assert_eq!(checksum(&out), EDGE_CHECKSUM);
    }
}

#[test]
fn edge_fixture_result_does_not_depend_on_splitting() {
    let dir = edge_dir();
    // Batches of 2 rows, split in three uneven splits.
    let small = read_pod_usage(&dir.join("pod_usage.ndjson"), 2);
    assert_eq!(small.len(), 5);
    for dictionary in [false, true] {
        let (out, _) = run_pipeline(side_tables(&dir), &[&small[3..], &small[..1], &small[1..3]], dictionary);
        assert_eq!(flatten(&out), expected(), "dictionary = {dictionary}");
        assert_eq!(checksum(&out), EDGE_CHECKSUM);
    }
}
