//! The pod-usage workload without the host: reads the three NDJSON files into
//! batches with the column layout the `ndjson` reader emits, runs `labels`
//! then `aggregate` the way the host drives them (one labels transformer and
//! one partial aggregate per split, batches and partial states through Arrow
//! IPC, one final merge), and computes the CHECKSUM line of SPEC §3.
//!
//! Used by `tests/pod_usage_edge.rs` and by `examples/pod_usage.rs`.

#![allow(dead_code)]

use aggregate::Aggregate;
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_array::{ArrayRef, Date32Array, Float64Array, RecordBatch, StringArray};
use arrow_schema::SchemaRef;
use labels::Labels;
use runtime_plugin_sdk::ipc;
use runtime_plugin_sdk::options::parse;
use runtime_plugin_sdk::transform::{Mode, SideTables, Transform, Transformer, projection, reattach};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// The pipeline's `labels` options (SPEC §2.2–2.5); `%DICTIONARY%` is
/// replaced by `true` or `false`.
const LABELS_OPTIONS: &str = r#"{
    "column": "pod_labels", "output": "labels", "drop": ["pod_labels"], "dictionary": %DICTIONARY%,
    "lookups": [
        {"side_table": "namespace_labels", "key": ["usage_date", "namespace"], "labels": "namespace_labels"},
        {"side_table": "node_labels", "key": ["usage_date", "node"], "labels": "node_labels"}
    ]}"#;

/// The pipeline's `aggregate` options (SPEC §2.6).
pub const AGGREGATE_OPTIONS: &str = r#"{
    "group_by": ["usage_date", "namespace", "node", "labels"],
    "aggregates": [
        {"name": "pod_count", "function": "count_distinct", "column": "pod"},
        {"name": "pod_usage_cpu_core_hours", "function": "sum", "column": "pod_usage_cpu_core_seconds", "divide_by": 3600},
        {"name": "pod_request_cpu_core_hours", "function": "sum", "column": "pod_request_cpu_core_seconds", "divide_by": 3600},
        {"name": "pod_usage_memory_gigabyte_hours", "function": "sum", "column": "pod_usage_memory_byte_seconds", "divide_by": 3865470566400},
        {"name": "pod_request_memory_gigabyte_hours", "function": "sum", "column": "pod_request_memory_byte_seconds", "divide_by": 3865470566400}
    ]}"#;

pub const METRICS: [&str; 4] = [
    "pod_usage_cpu_core_hours",
    "pod_request_cpu_core_hours",
    "pod_usage_memory_gigabyte_hours",
    "pod_request_memory_gigabyte_hours",
];

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i32 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe - 719_468) as i32
}

/// The UTC date of `YYYY-MM-DDT…` as days since the epoch.
pub fn day_of(timestamp: &str) -> i32 {
    let year = timestamp[0..4].parse().expect("year");
    let month = timestamp[5..7].parse().expect("month");
    let day = timestamp[8..10].parse().expect("day");
    days_from_civil(year, month, day)
}

#[derive(Deserialize)]
struct UsageLine<'a> {
    #[serde(borrow)]
    interval_start: Cow<'a, str>,
    #[serde(borrow)]
    namespace: Cow<'a, str>,
    #[serde(borrow)]
    node: Cow<'a, str>,
    #[serde(borrow)]
    pod: Cow<'a, str>,
    #[serde(default, borrow)]
    pod_labels: Option<&'a RawValue>,
    pod_usage_cpu_core_seconds: f64,
    pod_request_cpu_core_seconds: f64,
    pod_usage_memory_byte_seconds: f64,
    pod_request_memory_byte_seconds: f64,
}

/// Columns of one pod-usage batch, being filled.
#[derive(Default)]
struct UsageColumns {
    day: Vec<i32>,
    namespace: Vec<String>,
    node: Vec<String>,
    pod: Vec<String>,
    labels: Vec<Option<String>>,
    metrics: [Vec<f64>; 4],
}

impl UsageColumns {
    fn push(&mut self, line: UsageLine) {
        self.day.push(day_of(&line.interval_start));
        self.namespace.push(line.namespace.into_owned());
        self.node.push(line.node.into_owned());
        self.pod.push(line.pod.into_owned());
        self.labels.push(line.pod_labels.map(|raw| raw.get().to_string()));
        let values = [
            line.pod_usage_cpu_core_seconds,
            line.pod_request_cpu_core_seconds,
            line.pod_usage_memory_byte_seconds,
            line.pod_request_memory_byte_seconds,
        ];
        for (column, value) in self.metrics.iter_mut().zip(values) {
            column.push(value);
        }
    }

    fn finish(&mut self) -> RecordBatch {
        let c = std::mem::take(self);
        let [m0, m1, m2, m3] = c.metrics;
        RecordBatch::try_from_iter(vec![
            ("usage_date", Arc::new(Date32Array::from(c.day)) as ArrayRef),
            ("namespace", Arc::new(StringArray::from(c.namespace))),
            ("node", Arc::new(StringArray::from(c.node))),
            ("pod", Arc::new(StringArray::from(c.pod))),
            ("pod_labels", Arc::new(StringArray::from(c.labels))),
            ("pod_usage_cpu_core_seconds", Arc::new(Float64Array::from(m0))),
            ("pod_request_cpu_core_seconds", Arc::new(Float64Array::from(m1))),
            ("pod_usage_memory_byte_seconds", Arc::new(Float64Array::from(m2))),
            ("pod_request_memory_byte_seconds", Arc::new(Float64Array::from(m3))),
        ])
        .expect("pod usage batch")
    }
}

/// Reads `pod_usage.ndjson` into batches of at most `batch_rows` rows.
/// `pod_labels` is the field's raw JSON text (null for JSON null or absent).
pub fn read_pod_usage(path: &Path, batch_rows: usize) -> Vec<RecordBatch> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut batches = Vec::new();
    let mut columns = UsageColumns::default();
    for (i, line) in text.lines().enumerate() {
        let line: UsageLine = serde_json::from_str(line).unwrap_or_else(|e| panic!("line {}: {e}", i + 1));
        columns.push(line);
        if columns.day.len() == batch_rows {
            batches.push(columns.finish());
        }
    }
    if !columns.day.is_empty() {
        batches.push(columns.finish());
    }
    batches
}

/// Reads a daily labels table: `usage_date`, the key column, and the labels
/// column as raw JSON text.
pub fn read_label_table(path: &Path, key: &str, labels: &str) -> RecordBatch {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let (mut days, mut keys, mut raws) = (Vec::new(), Vec::new(), Vec::new());
    for line in text.lines() {
        let fields: std::collections::HashMap<String, &RawValue> =
            serde_json::from_str(line).expect("label line");
        let start: String = serde_json::from_str(fields["interval_start"].get()).expect("interval_start");
        let value: String = serde_json::from_str(fields[key].get()).expect("key");
        days.push(day_of(&start));
        keys.push(value);
        raws.push(fields.get(labels).map(|raw| raw.get().to_string()).filter(|raw| raw != "null"));
    }
    RecordBatch::try_from_iter(vec![
        ("usage_date", Arc::new(Date32Array::from(days)) as ArrayRef),
        (key, Arc::new(StringArray::from(keys))),
        (labels, Arc::new(StringArray::from(raws))),
    ])
    .expect("label table batch")
}

/// The two side tables of a pod-usage directory.
pub fn side_tables(dir: &Path) -> SideTables {
    SideTables::from_batches([
        (
            "node_labels".to_string(),
            vec![read_label_table(&dir.join("node_labels.ndjson"), "node", "node_labels")],
        ),
        (
            "namespace_labels".to_string(),
            vec![read_label_table(&dir.join("namespace_labels.ndjson"), "namespace", "namespace_labels")],
        ),
    ])
}

/// CPU time of the calling thread (not wall time: benchmarks here share a
/// busy machine), from `/proc/thread-self/schedstat`; zero where missing.
pub fn cpu_now() -> Duration {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|ns| ns.parse().ok()))
        .map_or(Duration::ZERO, Duration::from_nanos)
}

/// Where the (CPU) time went.
#[derive(Debug, Default)]
pub struct Timings {
    pub labels_init: Duration,
    pub labels: Duration,
    pub partial: Duration,
    pub ipc: Duration,
    pub merge: Duration,
    pub finish: Duration,
    pub groups_per_split: Vec<usize>,
    pub cache_hits: u64,
    pub cache_misses: u64,
}

/// Runs labels then aggregate over `splits` (each a list of batches) the way
/// the host does; returns the final batches. With `dictionary` the labels
/// column travels dictionary-encoded between the two transforms.
pub fn run_pipeline(
    side_tables: SideTables,
    splits: &[&[RecordBatch]],
    dictionary: bool,
) -> (Vec<RecordBatch>, Timings) {
    let mut timings = Timings::default();
    let start = cpu_now();
    let options = LABELS_OPTIONS.replace("%DICTIONARY%", if dictionary { "true" } else { "false" });
    let labels = Labels::new(parse(&options).unwrap(), side_tables).expect("labels init");
    timings.labels_init = cpu_now() - start;
    let aggregate =
        Aggregate::new(parse(AGGREGATE_OPTIONS).unwrap(), SideTables::default()).expect("aggregate init");
    let input_schema = splits[0][0].schema();
    let labelled_schema = labels.output_schema(&input_schema).expect("labels output schema");
    // Each transform is sent only the columns it reads (WIT 0.2.0
    // projection); the host re-attaches what labels passes through.
    let label_cols = projection(&labels, &input_schema).unwrap().expect("labels names its columns");
    let agg_cols = projection(&aggregate, &labelled_schema).unwrap().expect("aggregate names its columns");
    let project = |schema: &SchemaRef, idx: &[usize]| Arc::new(schema.project(idx).unwrap());
    let mut fin = aggregate.open(project(&labelled_schema, &agg_cols), Mode::Final).expect("open final");
    for split in splits {
        let mut labeller =
            labels.open(project(&input_schema, &label_cols), Mode::Single).expect("open labels");
        let mut partial =
            aggregate.open(project(&labelled_schema, &agg_cols), Mode::Partial).expect("open partial");
        for batch in *split {
            // Between stages batches travel as Arrow IPC, as in the host.
            let t = cpu_now();
            let sent =
                ipc::decode_batch(ipc::encode_batch(&batch.project(&label_cols).unwrap()).unwrap()).unwrap();
            timings.ipc += cpu_now() - t;
            let t = cpu_now();
            let labelled = labeller.process(sent).expect("labels");
            timings.labels += cpu_now() - t;
            for b in labelled {
                let t = cpu_now();
                let b = ipc::decode_batch(ipc::encode_batch(&b).unwrap()).unwrap();
                let b = reattach(&labelled_schema, &b, Some(batch)).expect("labels returns its input's rows");
                assert_eq!(b.schema(), labelled_schema);
                let b =
                    ipc::decode_batch(ipc::encode_batch(&b.project(&agg_cols).unwrap()).unwrap()).unwrap();
                timings.ipc += cpu_now() - t;
                let t = cpu_now();
                partial.process(b).expect("partial aggregate");
                timings.partial += cpu_now() - t;
            }
        }
        assert!(labeller.finish().expect("labels finish").is_empty());
        timings.cache_hits += labeller.cache_hits;
        timings.cache_misses += labeller.cache_misses;
        let t = cpu_now();
        let states = partial.finish().expect("partial finish");
        timings.partial += cpu_now() - t;
        timings.groups_per_split.push(states.iter().map(|s| s.num_rows()).sum());
        for state in states {
            let t = cpu_now();
            let state = ipc::decode_batch(ipc::encode_batch(&state).unwrap()).unwrap();
            timings.ipc += cpu_now() - t;
            let t = cpu_now();
            fin.merge(state).expect("merge");
            timings.merge += cpu_now() - t;
        }
    }
    let t = cpu_now();
    let out = fin.finish().expect("final finish");
    timings.finish += cpu_now() - t;
    let expected_schema = aggregate.output_schema(&labelled_schema).unwrap();
    for b in &out {
        assert_eq!(b.schema(), expected_schema);
        assert!(b.num_rows() <= 65_536);
    }
    (out, timings)
}

/// The CHECKSUM line of SPEC §3 for output batches.
pub fn checksum(batches: &[RecordBatch]) -> String {
    let mut rows = 0usize;
    let mut pod_count = 0i64;
    let mut sums = [0f64; 4];
    let mut labels_chars = 0usize;
    for b in batches {
        rows += b.num_rows();
        let column = |name: &str| b.column_by_name(name).unwrap_or_else(|| panic!("no column {name}"));
        pod_count += column("pod_count").as_primitive::<Int64Type>().values().iter().sum::<i64>();
        for (sum, name) in sums.iter_mut().zip(METRICS) {
            *sum += column(name).as_primitive::<Float64Type>().values().iter().sum::<f64>();
        }
        labels_chars +=
            column("labels").as_string::<i32>().iter().map(|s| s.unwrap().chars().count()).sum::<usize>();
    }
    format!(
        "CHECKSUM rows={rows} pod_count={pod_count} pod_usage_cpu_core_hours={:.6} pod_request_cpu_core_hours={:.6} \
         pod_usage_memory_gigabyte_hours={:.6} pod_request_memory_gigabyte_hours={:.6} labels_chars={labels_chars}",
        sums[0], sums[1], sums[2], sums[3]
    )
}
