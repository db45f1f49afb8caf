//! What the sandbox costs: instantiating a plugin and calling it for an
//! empty split, and moving a 64k-row batch across the WebAssembly boundary
//! (Arrow IPC into the guest, through a trivial transform, back out and
//! validated by the host) compared with native transforms of that batch;
//! then the `labels` transform against the crossing alone, on that batch
//! and on a batch of the pod-usage data (generated into `bench/data` as
//! `bench/pod-usage` does, when missing).
//!
//! Run with `cargo bench -p runtime --bench sandbox`; the numbers and what
//! they mean are in `bench/sandbox/README.md`. The trivial transform
//! (`tests/fixtures/plugins/identity`) and the `upper` example plugin are
//! built here with cargo, like the integration tests build their fixtures.

use arrow_array::cast::AsArray;
use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use runtime_host::config::{Grants, Limits, PluginRef, StageCommon};
use runtime_host::ipc;
use runtime_host::plugin::engine::EngineSettings;
use runtime_host::plugin::io::InputHandle;
use runtime_host::plugin::reader::{InputFile, Split};
use runtime_host::plugin::state::{Emit, EmitError};
use runtime_host::plugin::transform::TransformMode;
use runtime_host::plugin::{LoadedPlugin, Runtime, TransformInstance};
use std::any::Any;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

const ROWS: usize = 64 * 1024;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

#[path = "../../tests/fixtures/build_plugin.rs"]
mod build_plugin;

/// Builds a fixture plugin crate for wasm32-wasip2; returns its component.
fn build_fixture(name: &str) -> Vec<u8> {
    std::fs::read(build_plugin::build(&repo(), name).join(format!("{name}.wasm"))).unwrap()
}

fn stage(id: &str, options: &str) -> StageCommon {
    StageCommon {
        id: id.into(),
        plugin: PluginRef::Named(id.into()),
        plugin_at: None,
        options: options.into(),
        options_at: None,
        limits: Limits::default(),
        grants: Grants::default(),
    }
}

/// Discards what a reader emits.
struct Discard;

impl Emit for Discard {
    fn emit(&mut self, _output: &str, _ipc: Vec<u8>) -> Result<(), EmitError> {
        Ok(())
    }
    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }
}

fn runtime() -> Runtime {
    // SAFETY (of the environment): set before any thread reads it.
    unsafe { std::env::set_var("RUNTIME_CACHE_DIR", repo().join("target").join("bench-cache")) };
    Runtime::new(&EngineSettings::default()).expect("engine")
}

fn instantiation(c: &mut Criterion) {
    let runtime = runtime();
    let ndjson = runtime.load(&PluginRef::Named("ndjson".into())).expect("the bundled ndjson reader");
    let options = r#"{"fields":[{"name":"id","type":"int64"},{"name":"name","type":"string"}]}"#;
    let st = stage("source", options);
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.ndjson");
    std::fs::write(&empty, b"").unwrap();
    let handle = InputHandle::open(&empty, "empty.ndjson", 0, None).unwrap();
    let split = Split {
        id: "empty.ndjson".into(),
        input: Some(0),
        offset: 0,
        length: 0,
        payload: String::new(),
        size_hint: 0,
    };
    let file = InputFile { path: "empty.ndjson".into(), size: 0 };

    let mut g = c.benchmark_group("instantiate");
    g.measurement_time(Duration::from_secs(4));
    g.bench_function("ndjson: instantiate", |b| {
        b.iter(|| black_box(runtime.reader(&ndjson, &st).unwrap()));
    });
    g.bench_function("ndjson: instantiate + init + read empty split", |b| {
        b.iter(|| {
            let mut r = runtime.reader(&ndjson, &st).unwrap();
            r.init(options).unwrap();
            let out = r.read(&split, Some(&file), Some(handle.clone()), Box::new(Discard));
            black_box(out.outcome.unwrap());
        });
    });
    let mut warm = runtime.reader(&ndjson, &st).unwrap();
    warm.init(options).unwrap();
    g.bench_function("ndjson: read empty split (warm instance)", |b| {
        b.iter(|| {
            let out = warm.read(&split, Some(&file), Some(handle.clone()), Box::new(Discard));
            black_box(out.outcome.unwrap());
        });
    });
    let identity = load_fixture(&runtime, "identity");
    let ts = stage("transforms.identity", "{}");
    let schema_ipc = ipc::encode_schema(&batch().schema()).unwrap();
    g.bench_function("identity: instantiate + init + open + finish", |b| {
        b.iter(|| {
            let mut t = runtime.transform(&identity, &ts).unwrap();
            t.init("{}", &[]).unwrap();
            let open = t.open("empty", &schema_ipc, TransformMode::Single).unwrap();
            black_box(t.finish(open).unwrap());
            t.close(open);
        });
    });
    g.finish();
}

fn load_fixture(runtime: &Runtime, name: &str) -> LoadedPlugin {
    let bytes = build_fixture(name);
    runtime.load_bytes(PluginRef::File(PathBuf::from(format!("{name}.wasm"))), &bytes).unwrap()
}

/// 64k rows shaped like the pod-usage input: ids, a timestamp, names, a
/// JSON labels object, a measurement.
fn batch() -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("ts", DataType::Int64, false),
        Field::new("node", DataType::Utf8, false),
        Field::new("pod", DataType::Utf8, false),
        Field::new("labels", DataType::Utf8, true),
        Field::new("cpu", DataType::Float64, false),
    ]));
    let n = ROWS as i64;
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(0..n)),
        Arc::new(Int64Array::from_iter_values((0..n).map(|i| 1_700_000_000_000 + i * 1000))),
        Arc::new(StringArray::from_iter_values((0..ROWS).map(|i| format!("node-{:03}", i % 200)))),
        Arc::new(StringArray::from_iter_values((0..ROWS).map(|i| format!("pod-{i:06}-web-frontend")))),
        Arc::new(StringArray::from_iter_values((0..ROWS).map(|i| {
            format!(
                r#"{{"team":"t{}","app":"web","tier":"frontend","zone":"eu-{}","version":"1.{}.0"}}"#,
                i % 17,
                i % 3,
                i % 40
            )
        }))),
        Arc::new(Float64Array::from_iter_values((0..ROWS).map(|i| (i % 1000) as f64 * 0.25))),
    ];
    RecordBatch::try_new(schema, columns).unwrap()
}

/// One batch through a transform instance, then decoded and checked by the
/// host as the router does with every transform output.
fn through(
    t: &mut TransformInstance,
    open: runtime_host::plugin::transform::Transformer,
    bytes: &Vec<u8>,
    schema: &Schema,
) -> usize {
    let outs = t.process(open, bytes).unwrap();
    let mut rows = 0;
    for out in outs {
        let b = ipc::decode_batch(out).unwrap();
        ipc::check_schema(&b, schema).unwrap();
        rows += b.num_rows();
    }
    rows
}

/// Native upper-casing of one string column, as the `upper` plugin does.
fn native_upper(batch: &RecordBatch, index: usize) -> RecordBatch {
    let upper: StringArray =
        batch.column(index).as_string::<i32>().iter().map(|v| v.map(str::to_uppercase)).collect();
    let mut columns = batch.columns().to_vec();
    columns[index] = Arc::new(upper);
    RecordBatch::try_new(batch.schema(), columns).unwrap()
}

/// Native canonicalisation of a JSON labels column (parse every object,
/// write it back with sorted keys): the core of the `labels` transform.
fn native_labels(batch: &RecordBatch, index: usize) -> RecordBatch {
    let labels: StringArray = batch
        .column(index)
        .as_string::<i32>()
        .iter()
        .map(|v| {
            v.map(|text| {
                let map: std::collections::BTreeMap<String, serde_json::Value> =
                    serde_json::from_str(text).unwrap();
                serde_json::to_string(&map).unwrap()
            })
        })
        .collect();
    let mut columns = batch.columns().to_vec();
    columns[index] = Arc::new(labels);
    RecordBatch::try_new(batch.schema(), columns).unwrap()
}

fn ipc_round_trip(c: &mut Criterion) {
    let runtime = runtime();
    let batch = batch();
    let schema = batch.schema();
    let bytes = ipc::encode_batch(&batch).unwrap();
    let shared = arrow_buffer::Buffer::from_vec(bytes.clone());
    let schema_ipc = ipc::encode_schema(&schema).unwrap();

    let identity = load_fixture(&runtime, "identity");
    let mut id = runtime.transform(&identity, &stage("transforms.identity", "{}")).unwrap();
    id.init("{}", &[]).unwrap();
    let id_open = id.open("bench", &schema_ipc, TransformMode::Single).unwrap();

    let mut drop = runtime.transform(&identity, &stage("transforms.drop", r#"{"echo":false}"#)).unwrap();
    drop.init(r#"{"echo":false}"#, &[]).unwrap();
    let drop_open = drop.open("bench", &schema_ipc, TransformMode::Single).unwrap();

    let upper = load_fixture(&runtime, "upper");
    let mut up = runtime.transform(&upper, &stage("transforms.upper", r#"{"column":"pod"}"#)).unwrap();
    up.init(r#"{"column":"pod"}"#, &[]).unwrap();
    let up_open = up.open("bench", &schema_ipc, TransformMode::Single).unwrap();

    let mut g = c.benchmark_group("batch of 64k rows");
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    g.measurement_time(Duration::from_secs(6));
    g.sample_size(30);
    g.bench_function("wasm identity: IPC in, SDK decode + encode, IPC out, host validation", |b| {
        b.iter(|| black_box(through(&mut id, id_open, &bytes, &schema)));
    });
    g.bench_function("wasm identity, one way: IPC in, SDK decode, nothing out", |b| {
        b.iter(|| black_box(through(&mut drop, drop_open, &bytes, &schema)));
    });
    g.bench_function("host only: decode + validate the batch", |b| {
        b.iter(|| {
            let d = ipc::decode_buffer(shared.clone()).unwrap();
            ipc::check_schema(&d, &schema).unwrap();
            black_box(d.num_rows())
        });
    });
    g.bench_function("wasm upper: upper-case `pod` in the sandbox, round trip included", |b| {
        b.iter(|| black_box(through(&mut up, up_open, &bytes, &schema)));
    });
    g.bench_function("native upper: upper-case `pod`", |b| {
        b.iter(|| black_box(native_upper(&batch, 3).num_rows()));
    });
    g.bench_function("native labels: canonicalise the JSON `labels` column", |b| {
        b.iter(|| black_box(native_labels(&batch, 4).num_rows()));
    });
    g.finish();
    id.close(id_open);
    drop.close(drop_open);
    up.close(up_open);
}

/// The bundled `labels` transform on the same batch, with and without the
/// host's column projection (WIT 0.2.0 `input-columns`): without it every
/// column crosses into the sandbox; with it only `labels` does, and the
/// host re-attaches the rest. Then with the labels column dictionary-encoded
/// as the pod-usage pipeline reads it (the `ndjson` reader's `dictionary =
/// true`) and the merged column written as a dictionary (the `labels`
/// transform's `dictionary = true`). The identity round trip of each
/// projected batch is what crossing costs the transform.
fn projection(c: &mut Criterion) {
    let runtime = runtime();
    let batch = batch();
    let full_ipc = ipc::encode_schema(&batch.schema()).unwrap();
    let full_bytes = ipc::encode_batch(&batch).unwrap();
    let projected = batch.project(&[4]).unwrap();
    let projected_ipc = ipc::encode_schema(&projected.schema()).unwrap();
    let projected_bytes = ipc::encode_batch(&projected).unwrap();
    let out_schema = Schema::new(vec![Field::new("merged", DataType::Utf8, false)]);
    let dict_type = dict_utf8();
    let dict_labels = arrow_cast::cast(projected.column(0), &dict_type).unwrap();
    let dict_schema = Arc::new(Schema::new(vec![Field::new("labels", dict_type.clone(), true)]));
    let dict_batch = RecordBatch::try_new(dict_schema.clone(), vec![dict_labels]).unwrap();
    let dict_ipc = ipc::encode_schema(&dict_schema).unwrap();
    let dict_bytes = ipc::encode_batch(&dict_batch).unwrap();
    let dict_out_schema = Schema::new(vec![Field::new("merged", dict_type, false)]);

    let labels = runtime.load(&PluginRef::Named("labels".into())).unwrap();
    let plain_out = r#"{"column":"labels","output":"merged"}"#;
    let dict_out = r#"{"column":"labels","output":"merged","dictionary":true}"#;
    let open_labels = |options: &str, input: &Vec<u8>| {
        let mut t = runtime.transform(&labels, &stage("transforms.labels", options)).unwrap();
        t.init(options, &[]).unwrap();
        let open = t.open("bench", input, TransformMode::Single).unwrap();
        (t, open)
    };
    let (mut all_in, all_open) = open_labels(plain_out, &full_ipc);
    let (mut one_in, one_open) = open_labels(plain_out, &projected_ipc);
    let (mut one_dict_out, one_dict_out_open) = open_labels(dict_out, &projected_ipc);
    let (mut dict_in, dict_in_open) = open_labels(dict_out, &dict_ipc);
    let identity = load_fixture(&runtime, "identity");
    let open_identity = |input: &Vec<u8>| {
        let mut id = runtime.transform(&identity, &stage("transforms.identity", "{}")).unwrap();
        id.init("{}", &[]).unwrap();
        let open = id.open("bench", input, TransformMode::Single).unwrap();
        (id, open)
    };
    let (mut id, id_open) = open_identity(&projected_ipc);
    let (mut id_dict, id_dict_open) = open_identity(&dict_ipc);
    let projected_schema = projected.schema();
    let mb = |bytes: &Vec<u8>| format!("{:.2} MB", bytes.len() as f64 / 1e6);

    let mut g = c.benchmark_group("labels transform, 64k rows");
    g.measurement_time(Duration::from_secs(6));
    g.sample_size(30);
    g.bench_function(
        format!("wasm labels, no projection: all 6 columns in ({}), labels out", mb(&full_bytes)),
        |b| {
            b.iter(|| black_box(through(&mut all_in, all_open, &full_bytes, &out_schema)));
        },
    );
    g.bench_function(
        format!("wasm labels, projection: the labels column in ({}), labels out", mb(&projected_bytes)),
        |b| {
            b.iter(|| black_box(through(&mut one_in, one_open, &projected_bytes, &out_schema)));
        },
    );
    g.bench_function("wasm identity, projected batch: the crossing alone", |b| {
        b.iter(|| black_box(through(&mut id, id_open, &projected_bytes, &projected_schema)));
    });
    g.bench_function("wasm labels, projection: the labels column in, a dictionary out", |b| {
        b.iter(|| {
            black_box(through(&mut one_dict_out, one_dict_out_open, &projected_bytes, &dict_out_schema))
        });
    });
    g.bench_function(
        format!(
            "wasm labels, projection + dictionary: a dictionary labels column in ({}), a dictionary out",
            mb(&dict_bytes)
        ),
        |b| {
            b.iter(|| black_box(through(&mut dict_in, dict_in_open, &dict_bytes, &dict_out_schema)));
        },
    );
    g.bench_function("wasm identity, projected dictionary batch: the crossing alone", |b| {
        b.iter(|| black_box(through(&mut id_dict, id_dict_open, &dict_bytes, &dict_schema)));
    });
    g.finish();
    all_in.close(all_open);
    one_in.close(one_open);
    one_dict_out.close(one_dict_out_open);
    dict_in.close(dict_in_open);
    id.close(id_open);
    id_dict.close(id_dict_open);
}

/// `dictionary<int32, utf8>`, as the `ndjson` reader's `dictionary = true`
/// and the `labels` transform's write it.
fn dict_utf8() -> DataType {
    DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
}

/// A side table as a transform's `init` takes it: its name and IPC batches.
type SideTable = (String, Vec<Vec<u8>>);

/// Rows of one batch of the `ndjson` reader (its default `batch_rows`).
const POD_USAGE_ROWS: usize = 16_384;

/// The pod-usage input as the example pipeline hands it to `labels`: the
/// first batch of the 1M-row input `bench/pod-usage` generates (made here
/// when absent, the same way), projected to the columns `labels` reads (its
/// lookup keys and `pod_labels`) unless `all`; those named in `dictionary`
/// are dictionary-encoded, as the `ndjson` reader's `dictionary = true`
/// makes them. And its two side tables as IPC batches.
fn pod_usage(dictionary: &[&str], all: bool) -> (RecordBatch, Vec<SideTable>) {
    let dir = repo().join("bench/data/pod-usage-1000000");
    if !dir.join(".complete").exists() {
        let status = std::process::Command::new("python3")
            .arg(repo().join("examples/pod-usage/gen.py"))
            .args(["--rows", "1000000", "--seed", "42", "--out"])
            .arg(&dir)
            .status()
            .unwrap();
        assert!(status.success(), "generating the pod-usage input failed");
        std::fs::write(dir.join(".complete"), "").unwrap();
    }
    // (column, JSON key; `usage_date` is the date of `interval_start`, the
    // `_seconds` columns are float64).
    let read = |file: &str, rows: usize, columns: &[(&str, &str)], dictionary: &[&str]| {
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        let lines: Vec<serde_json::Value> =
            text.lines().take(rows).map(|l| serde_json::from_str(l).unwrap()).collect();
        let mut fields = Vec::new();
        let mut arrays: Vec<ArrayRef> = Vec::new();
        for &(name, key) in columns {
            let strings = || -> StringArray { lines.iter().map(|v| v[key].as_str()).collect() };
            let (ty, array) = if name.ends_with("_seconds") {
                let values: Float64Array = lines.iter().map(|v| v[key].as_f64()).collect();
                (DataType::Float64, Arc::new(values) as ArrayRef)
            } else if name == "usage_date" {
                let dates: StringArray = lines.iter().map(|v| v[key].as_str().map(|t| &t[..10])).collect();
                (DataType::Date32, arrow_cast::cast(&dates, &DataType::Date32).unwrap())
            } else if dictionary.contains(&name) {
                (dict_utf8(), arrow_cast::cast(&strings(), &dict_utf8()).unwrap())
            } else {
                (DataType::Utf8, Arc::new(strings()) as ArrayRef)
            };
            fields.push(Field::new(name, ty, array.null_count() > 0 || name.ends_with("labels")));
            arrays.push(array);
        }
        RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).unwrap()
    };
    let mut columns = vec![("usage_date", "interval_start"), ("namespace", "namespace"), ("node", "node")];
    if all {
        columns.push(("pod", "pod"));
    }
    columns.push(("pod_labels", "pod_labels"));
    if all {
        for name in [
            "pod_usage_cpu_core_seconds",
            "pod_request_cpu_core_seconds",
            "pod_usage_memory_byte_seconds",
            "pod_request_memory_byte_seconds",
        ] {
            columns.push((name, name));
        }
    }
    let batch = read("pod_usage.ndjson", POD_USAGE_ROWS, &columns, dictionary);
    let side = |name: &str, key: &str| {
        let table = read(
            &format!("{name}.ndjson"),
            usize::MAX,
            &[("usage_date", "interval_start"), (key, key), (name, name)],
            &[],
        );
        (name.to_string(), vec![ipc::encode_batch(&table).unwrap()])
    };
    (batch, vec![side("namespace_labels", "namespace"), side("node_labels", "node")])
}

/// `labels` on the pod-usage data as the example pipeline runs it: its
/// lookups and side tables, the columns it reads, with the string columns
/// dictionary-encoded as the pipeline reads them (and, for comparison, with
/// fewer or none, and without projection: every column in), and the
/// crossing of each of those batches.
fn pod_usage_labels(c: &mut Criterion) {
    let runtime = runtime();
    let labels = runtime.load(&PluginRef::Named("labels".into())).unwrap();
    let identity = load_fixture(&runtime, "identity");
    let options = r#"{"column":"pod_labels","output":"labels","dictionary":true,"lookups":[
        {"side_table":"namespace_labels","key":["usage_date","namespace"],"labels":"namespace_labels"},
        {"side_table":"node_labels","key":["usage_date","node"],"labels":"node_labels"}]}"#;
    let out_schema = Schema::new(vec![Field::new("labels", dict_utf8(), false)]);
    let mut g = c.benchmark_group(format!("labels transform, pod-usage data, {POD_USAGE_ROWS} rows"));
    g.measurement_time(Duration::from_secs(6));
    g.sample_size(30);
    let pipeline: &[&str] = &["namespace", "node", "pod_labels"];
    let variants: [(&str, &[&str], bool); 4] = [
        ("namespace, node and pod_labels as dictionaries", pipeline, false),
        ("pod_labels as a dictionary", &["pod_labels"], false),
        ("no dictionaries", &[], false),
        ("no projection: all 9 columns, namespace, node and pod_labels as dictionaries", pipeline, true),
    ];
    for (what, dictionary, all) in variants {
        let (batch, sides) = pod_usage(dictionary, all);
        let schema = batch.schema();
        let schema_ipc = ipc::encode_schema(&schema).unwrap();
        let bytes = ipc::encode_batch(&batch).unwrap();
        let mut t = runtime.transform(&labels, &stage("transforms.labels", options)).unwrap();
        t.init(options, &sides).unwrap();
        let open = t.open("bench", &schema_ipc, TransformMode::Single).unwrap();
        let mut id = runtime.transform(&identity, &stage("transforms.identity", "{}")).unwrap();
        id.init("{}", &[]).unwrap();
        let id_open = id.open("bench", &schema_ipc, TransformMode::Single).unwrap();
        let size = format!("{:.2} MB", bytes.len() as f64 / 1e6);
        g.bench_function(
            format!(
                "wasm labels with lookups: {} columns in ({size}, {what}), labels out",
                schema.fields().len()
            ),
            |b| b.iter(|| black_box(through(&mut t, open, &bytes, &out_schema))),
        );
        g.bench_function(format!("wasm identity, the same batch ({what}): the crossing alone"), |b| {
            b.iter(|| black_box(through(&mut id, id_open, &bytes, &schema)))
        });
        t.close(open);
        id.close(id_open);
    }
    g.finish();
}

criterion_group!(benches, instantiation, ipc_round_trip, projection, pod_usage_labels);
criterion_main!(benches);
