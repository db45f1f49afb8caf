//! Transform-level tests: options and side tables in, batches through a
//! transformer, canonical strings out.

use super::*;
use arrow_array::cast::AsArray;
use arrow_array::{BooleanArray, Date32Array, Int32Array, Int64Array, LargeStringArray, RecordBatch};
use runtime_plugin_sdk::options::parse;
use runtime_plugin_sdk::transform::{Transformer, run_like_host};

const POD_USAGE_OPTIONS: &str = r#"{
    "column": "pod_labels", "output": "labels",
    "lookups": [
        {"side_table": "namespace_labels", "key": ["usage_date", "namespace"], "labels": "namespace_labels"},
        {"side_table": "node_labels", "key": ["usage_date", "node"], "labels": "node_labels"}
    ]}"#;

fn strings(values: &[Option<&str>]) -> ArrayRef {
    Arc::new(StringArray::from(values.to_vec()))
}

fn side_tables() -> SideTables {
    let nodes = RecordBatch::try_from_iter(vec![
        ("usage_date", Arc::new(Date32Array::from(vec![1, 2])) as ArrayRef),
        ("node", strings(&[Some("n1"), Some("n2")])),
        (
            "node_labels",
            strings(&[
                Some(r#""{\"zone\": \"a\", \"env\": \"node-env\", \"role\": \"\"}""#),
                Some(r#""{\"zone\": \"b\"}""#),
            ]),
        ),
    ])
    .unwrap();
    let namespaces = RecordBatch::try_from_iter(vec![
        ("usage_date", Arc::new(Date32Array::from(vec![1, 2])) as ArrayRef),
        ("namespace", strings(&[Some("ns1"), Some("ns1")])),
        (
            "namespace_labels",
            strings(&[Some(r#""{\"team\": \"t1\", \"env\": \"ns-env\"}""#), Some(r#""{\"team\": \"t2\"}""#)]),
        ),
    ])
    .unwrap();
    SideTables::from_batches([
        ("node_labels".to_string(), vec![nodes]),
        ("namespace_labels".to_string(), vec![namespaces]),
    ])
}

fn labels(options: &str) -> Labels {
    Labels::new(parse(options).unwrap(), side_tables()).unwrap()
}

/// Rows of (day, namespace, node, raw pod labels).
fn input(rows: &[(i32, &str, &str, Option<&str>)]) -> RecordBatch {
    RecordBatch::try_from_iter(vec![
        ("usage_date", Arc::new(Date32Array::from(rows.iter().map(|r| r.0).collect::<Vec<_>>())) as ArrayRef),
        ("namespace", strings(&rows.iter().map(|r| Some(r.1)).collect::<Vec<_>>())),
        ("node", strings(&rows.iter().map(|r| Some(r.2)).collect::<Vec<_>>())),
        ("pod_labels", strings(&rows.iter().map(|r| r.3).collect::<Vec<_>>())),
    ])
    .unwrap()
}

fn run(transform: &Labels, batch: RecordBatch) -> Result<Vec<String>> {
    let out = run_like_host(transform, &[batch])?;
    assert_eq!(out.len(), 1);
    let column = out[0].column_by_name("labels").unwrap().as_string::<i32>();
    Ok(column.iter().map(|v| v.unwrap().to_string()).collect())
}

#[test]
fn edge_cases_of_the_pod_usage_spec() {
    let transform = labels(POD_USAGE_OPTIONS);
    let out = run(
        &transform,
        input(&[
            (1, "ns1", "n1", Some(r#""{\"env\": \"pod-env\", \"app\": \"a\"}""#)),
            (1, "ns1", "n1", Some(r#"{"app": "a", "env": "pod-env"}"#)),
            (1, "ns1", "n1", None),
            (1, "ns1", "n1", Some(r#""""#)),
            (1, "ns2", "n2", Some(r#"{"x": "q\"uote\\back/slash é"}"#)),
            (2, "ns1", "n2", Some(r#""{}""#)),
            (2, "ns2", "n1", Some(r#""{\"zone\": \"pod-zone\", \"Zed\": \"1\"}""#)),
        ]),
    )
    .unwrap();
    let pod = r#"{"app":"a","env":"pod-env","role":"","team":"t1","zone":"a"}"#;
    let no_pod = r#"{"env":"ns-env","role":"","team":"t1","zone":"a"}"#;
    assert_eq!(
        out,
        [
            pod,
            pod,
            no_pod,
            no_pod,
            r#"{"x":"q\"uote\\back/slash é"}"#,
            r#"{"team":"t2","zone":"b"}"#,
            r#"{"Zed":"1","zone":"pod-zone"}"#,
        ]
    );
}

#[test]
fn output_schema_and_columns() {
    let transform = labels(POD_USAGE_OPTIONS);
    let batch = input(&[(1, "ns1", "n1", None)]);
    let expected = transform.output_schema(&batch.schema()).unwrap();
    let out = run_like_host(&transform, &[batch]).unwrap().remove(0);
    assert_eq!(out.schema(), expected);
    let names: Vec<&str> = expected.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(names, ["usage_date", "namespace", "node", "labels"]);
}

#[test]
fn explicit_precedence_reorders_sources() {
    let options = POD_USAGE_OPTIONS.replace(
        r#""output": "labels","#,
        r#""output": "labels", "precedence": ["node_labels", "namespace_labels", "pod_labels"],"#,
    );
    let transform = labels(&options);
    let out =
        run(&transform, input(&[(1, "ns1", "n1", Some(r#"{"env": "pod-env", "zone": "p"}"#))])).unwrap();
    assert_eq!(out, [r#"{"env":"node-env","role":"","team":"t1","zone":"a"}"#]);
}

#[test]
fn missing_side_rows_and_null_keys_give_no_labels() {
    let transform = labels(POD_USAGE_OPTIONS);
    let out =
        run(&transform, input(&[(3, "ns1", "n1", Some(r#"{"a": "1"}"#)), (2, "ns9", "n9", None)])).unwrap();
    assert_eq!(out, [r#"{"a":"1"}"#, "{}"]);

    let batch = RecordBatch::try_from_iter(vec![
        ("usage_date", Arc::new(Date32Array::from(vec![None, Some(1)])) as ArrayRef),
        ("namespace", strings(&[Some("ns1"), None])),
        ("node", strings(&[Some("n1"), Some("n1")])),
        ("pod_labels", strings(&[None, None])),
    ])
    .unwrap();
    let out = run(&transform, batch).unwrap();
    assert_eq!(out, ["{}", r#"{"env":"node-env","role":"","zone":"a"}"#]);
}

#[test]
fn invalid_labels_fail_with_row_and_column() {
    let transform = labels(POD_USAGE_OPTIONS);
    let mut transformer = transform.open(input(&[]).schema(), Mode::Single).unwrap();
    transformer.process(input(&[(1, "ns1", "n1", None), (1, "ns1", "n1", None)])).unwrap();
    let err =
        transformer.process(input(&[(1, "ns1", "n1", None), (1, "ns1", "n1", Some("{nope"))])).unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidInput);
    assert!(
        err.message
            .starts_with("row 3 of the split (row 1 of this batch), column `pod_labels`: invalid labels: "),
        "{}",
        err.message
    );
}

#[test]
fn invalid_labels_can_count_as_empty() {
    let options =
        POD_USAGE_OPTIONS.replace(r#""output": "labels","#, r#""output": "labels", "on_invalid": "empty","#);
    let transform = labels(&options);
    let mut transformer = transform.open(input(&[]).schema(), Mode::Single).unwrap();
    let bad = Some(r#"{"a": [1]}"#);
    let out = transformer.transform(&input(&[(2, "ns1", "n2", bad), (2, "ns1", "n2", bad)])).unwrap();
    let column = out.column_by_name("labels").unwrap().as_string::<i32>();
    assert_eq!(column.value(0), r#"{"team":"t2","zone":"b"}"#);
    assert_eq!(column.value(1), r#"{"team":"t2","zone":"b"}"#);
    // Counted per row, also when the second row comes from the cache.
    assert_eq!(transformer.invalid, 2);
}

#[test]
fn cache_does_not_change_results() {
    let rows: Vec<(i32, &str, &str, Option<&str>)> = (0..200)
        .map(|i| {
            let raw =
                [Some(r#"{"a": "1"}"#), None, Some(r#""{\"b\": \"2\"}""#), Some(r#"{"env": "e"}"#)][i % 4];
            (1 + (i % 3) as i32, ["ns1", "ns2"][i % 2], ["n1", "n2", "n3"][i % 3], raw)
        })
        .collect();
    let cached = run(&labels(POD_USAGE_OPTIONS), input(&rows)).unwrap();
    for entries in [0, 1, 3] {
        let options = POD_USAGE_OPTIONS.replace(
            r#""output": "labels","#,
            &format!(r#""output": "labels", "cache_entries": {entries},"#),
        );
        assert_eq!(run(&labels(&options), input(&rows)).unwrap(), cached, "cache_entries = {entries}");
    }
    // And each distinct combination is computed right.
    assert_eq!(cached[0], r#"{"a":"1","env":"ns-env","role":"","team":"t1","zone":"a"}"#);
    assert_eq!(cached[1], r#"{"zone":"b"}"#, "day 2, ns2 (no labels), n2");
}

#[test]
fn other_key_and_label_column_types() {
    let side = RecordBatch::try_from_iter(vec![
        ("id", Arc::new(Int64Array::from(vec![7, 8])) as ArrayRef),
        ("flag", Arc::new(BooleanArray::from(vec![true, true]))),
        ("l", strings(&[Some(r#"{"k": "seven"}"#), Some(r#"{"k": "eight"}"#)])),
    ])
    .unwrap();
    let options = r#"{"column": "own", "output": "merged", "drop": [],
        "lookups": [{"side_table": "t", "key": ["id", "flag"], "labels": "l"}]}"#;
    let transform =
        Labels::new(parse(options).unwrap(), SideTables::from_batches([("t".to_string(), vec![side])]))
            .unwrap();
    let batch = RecordBatch::try_from_iter(vec![
        ("id", Arc::new(Int32Array::from(vec![7, 8, 8])) as ArrayRef),
        ("flag", Arc::new(BooleanArray::from(vec![true, true, false]))),
        ("own", Arc::new(LargeStringArray::from(vec![Some(r#"{"x": "1"}"#), None, None]))),
    ])
    .unwrap();
    let out = run_like_host(&transform, &[batch]).unwrap().remove(0);
    assert_eq!(out.num_columns(), 4, "drop = [] keeps the labels column");
    let merged = out.column_by_name("merged").unwrap().as_string::<i32>();
    let values: Vec<&str> = merged.iter().map(Option::unwrap).collect();
    assert_eq!(values, [r#"{"k":"seven","x":"1"}"#, r#"{"k":"eight"}"#, "{}"]);
}

#[test]
fn errors_at_init_and_open() {
    let err = Labels::new(parse(POD_USAGE_OPTIONS).unwrap(), SideTables::default()).err().unwrap();
    assert!(err.message.starts_with("side table `namespace_labels` is not available"), "{}", err.message);

    let transform = labels(POD_USAGE_OPTIONS);
    let schema = Arc::new(Schema::new(vec![Field::new("pod_labels", DataType::Utf8, true)]));
    let err = transform.open(schema, Mode::Single).err().unwrap();
    assert!(err.message.contains("lookups[0]: the input has no key column `usage_date`"), "{}", err.message);
    let err = transform.open(input(&[]).schema(), Mode::Partial).err().unwrap();
    assert!(err.message.contains("not mergeable"), "{}", err.message);
}

#[test]
fn describe_lists_every_option() {
    let info = Labels::describe();
    let names: Vec<&str> = info.options.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(
        names,
        ["column", "output", "drop", "lookups", "precedence", "on_invalid", "cache_entries", "dictionary"]
    );
    assert!(!info.mergeable);
}

#[test]
fn dictionary_output_holds_the_same_values() {
    let rows: Vec<(i32, &str, &str, Option<&str>)> = (0..300)
        .map(|i| {
            let raw =
                [Some(r#"{"a": "1"}"#), None, Some(r#""{\"b\": \"2\"}""#), Some(r#"{"env": "e"}"#)][i % 4];
            (1 + (i % 3) as i32, ["ns1", "ns2"][i % 2], ["n1", "n2", "n3"][i % 3], raw)
        })
        .collect();
    let plain = run(&labels(POD_USAGE_OPTIONS), input(&rows)).unwrap();
    for entries in [65_536, 2] {
        let options = POD_USAGE_OPTIONS.replace(
            r#""output": "labels","#,
            &format!(r#""output": "labels", "dictionary": true, "cache_entries": {entries},"#),
        );
        let transform = labels(&options);
        let batch = input(&rows);
        let expected_schema = transform.output_schema(&batch.schema()).unwrap();
        let out = run_like_host(&transform, &[batch]).unwrap().remove(0);
        assert_eq!(out.schema(), expected_schema);
        let column = out.column_by_name("labels").unwrap().as_dictionary::<arrow_array::types::Int32Type>();
        let values = column.values().as_string::<i32>();
        let decoded: Vec<String> =
            column.keys().iter().map(|k| values.value(k.unwrap() as usize).to_string()).collect();
        assert_eq!(decoded, plain, "cache_entries = {entries}");
        if entries > 2 {
            assert!(values.len() <= 12, "each distinct output once: {}", values.len());
        }
    }
}

/// [`input`] with `namespace` and `node` (lookup keys) and `pod_labels`
/// dictionary-encoded, as the `ndjson` reader's `dictionary = true` gives.
fn dictionary_input(rows: &[(i32, &str, &str, Option<&str>)]) -> RecordBatch {
    let plain = input(rows);
    let mut columns = plain.columns().to_vec();
    let mut fields: Vec<Field> = plain.schema().fields().iter().map(|f| f.as_ref().clone()).collect();
    // Every column but `usage_date`.
    for (column, field) in columns.iter_mut().zip(fields.iter_mut()).skip(1) {
        let mut dictionary =
            arrow_array::builder::StringDictionaryBuilder::<arrow_array::types::Int32Type>::new();
        dictionary.extend(column.as_string::<i32>().iter());
        *column = Arc::new(dictionary.finish());
        *field = field.clone().with_data_type(column.data_type().clone());
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap()
}

#[test]
fn dictionary_input_gives_the_same_output() {
    let rows: Vec<(i32, &str, &str, Option<&str>)> = (0..300)
        .map(|i| {
            let raw = [
                Some(r#"{"a": "1"}"#),
                None,
                Some(r#""{\"b\": \"2\"}""#),
                Some(r#"{"a":"1"}"#),
                Some("{nope"),
            ][i % 5];
            (1 + (i % 3) as i32, ["ns1", "ns2"][i % 2], ["n1", "n2", "n3"][i % 3], raw)
        })
        .collect();
    for entries in [65_536, 3, 0] {
        let options = POD_USAGE_OPTIONS.replace(
            r#""output": "labels","#,
            &format!(r#""output": "labels", "on_invalid": "empty", "cache_entries": {entries},"#),
        );
        let transform = labels(&options);
        let mut plain = transform.open(input(&[]).schema(), Mode::Single).unwrap();
        let mut dict = transform.open(dictionary_input(&[]).schema(), Mode::Single).unwrap();
        let a = plain.transform(&input(&rows)).unwrap();
        let b = dict.transform(&dictionary_input(&rows)).unwrap();
        assert_eq!(a.column_by_name("labels"), b.column_by_name("labels"), "cache_entries = {entries}");
        assert_eq!((plain.invalid, dict.invalid), (60, 60), "counted per row, cache_entries = {entries}");
    }
    // With `on_invalid = "fail"` the error names the row, as for plain text.
    let transform = labels(POD_USAGE_OPTIONS);
    let mut dict = transform.open(dictionary_input(&[]).schema(), Mode::Single).unwrap();
    let err = dict.process(dictionary_input(&rows[..5])).unwrap_err();
    assert!(err.message.starts_with("row 4 of the split (row 4 of this batch)"), "{}", err.message);
}
