//! Transform-level tests: the modes as the host drives them (partial states
//! travel through Arrow IPC), sorting, batching and SQL null semantics.

use super::*;
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int32Type, Int64Type};
use arrow_array::{Date32Array, Float64Array, Int32Array, Int64Array};
use runtime_plugin_sdk::ipc;
use runtime_plugin_sdk::options::parse;
use runtime_plugin_sdk::transform::Transformer;

const OPTIONS: &str = r#"{"group_by": ["k", "n"], "aggregates": [
    {"name": "rows", "function": "count"},
    {"name": "values", "function": "count", "column": "v"},
    {"name": "total", "function": "sum", "column": "v"},
    {"name": "quarters", "function": "sum", "column": "f", "divide_by": 4},
    {"name": "distinct", "function": "count_distinct", "column": "s"},
    {"name": "first", "function": "min", "column": "s"},
    {"name": "largest", "function": "max", "column": "v"}]}"#;

fn aggregate(options: &str) -> Aggregate {
    Aggregate::new(parse(options).unwrap(), SideTables::default()).unwrap()
}

/// A deterministic batch with nulls in keys and values.
fn batch(seed: u64, rows: usize) -> RecordBatch {
    let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    let mut next = move |m: u64| {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (x >> 33) % m
    };
    let mut k = Vec::new();
    let mut n = Vec::new();
    let mut v = Vec::new();
    let mut f = Vec::new();
    let mut s = Vec::new();
    for _ in 0..rows {
        k.push(match next(5) {
            0 => None,
            i => Some(["b", "a", "é", "B"][i as usize - 1].to_string()),
        });
        n.push(if next(7) == 0 { None } else { Some(next(3) as i32 - 1) });
        v.push(if next(4) == 0 { None } else { Some(next(1000) as i64 - 300) });
        f.push(next(4096) as f64 / 1024.0);
        s.push(if next(6) == 0 { None } else { Some(format!("pod-{}", next(9))) });
    }
    RecordBatch::try_from_iter(vec![
        ("k", Arc::new(StringArray::from(k)) as ArrayRef),
        ("n", Arc::new(Int32Array::from(n))),
        ("v", Arc::new(Int64Array::from(v))),
        ("f", Arc::new(Float64Array::from(f))),
        ("s", Arc::new(StringArray::from(s))),
    ])
    .unwrap()
}

fn single(t: &Aggregate, batches: &[RecordBatch]) -> Result<Vec<RecordBatch>> {
    let mut tr = t.open(batches[0].schema(), Mode::Single)?;
    for b in batches {
        assert!(tr.process(b.clone())?.is_empty());
    }
    tr.finish()
}

/// Partial per split, states through IPC, one final merge, as the host does.
fn split_and_merge(t: &Aggregate, splits: &[&[RecordBatch]]) -> Result<Vec<RecordBatch>> {
    let schema = splits[0][0].schema();
    let mut fin = t.open(schema.clone(), Mode::Final)?;
    for split in splits {
        let mut partial = t.open(schema.clone(), Mode::Partial)?;
        for b in *split {
            assert!(partial.process(b.clone())?.is_empty());
        }
        for state in partial.finish()? {
            fin.merge(ipc::decode_batch(ipc::encode_batch(&state)?)?)?;
        }
    }
    fin.finish()
}

#[test]
fn partial_and_merge_equal_single() {
    let t = aggregate(OPTIONS);
    let batches: Vec<RecordBatch> = (0..6).map(|i| batch(i, 500)).collect();
    let expected = single(&t, &batches).unwrap();
    assert_eq!(expected.len(), 1);
    assert_eq!(expected[0].schema(), t.output_schema(&batches[0].schema()).unwrap());
    for splits in [
        vec![&batches[..]],
        vec![&batches[..1], &batches[1..]],
        vec![&batches[4..], &batches[..2], &batches[2..4]],
    ] {
        assert_eq!(split_and_merge(&t, &splits).unwrap(), expected);
    }
}

#[test]
fn rows_are_sorted_by_keys_with_nulls_last() {
    let t = aggregate(OPTIONS);
    let out = single(&t, &[batch(7, 2000)]).unwrap().remove(0);
    let k = out.column(0).as_string::<i32>();
    let n = out.column(1).as_primitive::<Int32Type>();
    let keys: Vec<(Option<&str>, Option<i32>)> = (0..out.num_rows())
        .map(|i| (k.is_valid(i).then(|| k.value(i)), n.is_valid(i).then(|| n.value(i))))
        .collect();
    // 5 values of k (one null) × 4 of n (one null), all present in 2000 rows.
    assert_eq!(keys.len(), 20);
    let order = |v: &Option<&str>| (v.is_none(), v.map(str::to_owned));
    let mut sorted = keys.clone();
    sorted.sort_by_key(|a| (order(&a.0), a.1.is_none(), a.1));
    assert_eq!(keys, sorted);
    assert_eq!(keys[0], (Some("B"), Some(-1)));
    assert_eq!(keys[3], (Some("B"), None));
    assert_eq!(keys[19], (None, None));
    assert_eq!(keys[15], (Some("é"), None));
    assert_eq!(keys[16], (None, Some(-1)));
}

#[test]
fn aggregates_match_a_direct_computation() {
    let t = aggregate(OPTIONS);
    let input = batch(3, 3000);
    let out = single(&t, std::slice::from_ref(&input)).unwrap().remove(0);
    let (k, n) = (input.column(0).as_string::<i32>(), input.column(1).as_primitive::<Int32Type>());
    let (v, f, s) = (
        input.column(2).as_primitive::<Int64Type>(),
        input.column(3).as_primitive::<Float64Type>(),
        input.column(4).as_string::<i32>(),
    );
    let (ok, on) = (out.column(0).as_string::<i32>(), out.column(1).as_primitive::<Int32Type>());
    let mut total_rows = 0;
    for g in 0..out.num_rows() {
        let same = |row: usize| {
            k.is_valid(row) == ok.is_valid(g)
                && (!k.is_valid(row) || k.value(row) == ok.value(g))
                && n.is_valid(row) == on.is_valid(g)
                && (!n.is_valid(row) || n.value(row) == on.value(g))
        };
        let rows: Vec<usize> = (0..input.num_rows()).filter(|&r| same(r)).collect();
        total_rows += rows.len();
        let vs: Vec<i64> = rows.iter().filter(|&&r| v.is_valid(r)).map(|&r| v.value(r)).collect();
        let mut ss: Vec<&str> = rows.iter().filter(|&&r| s.is_valid(r)).map(|&r| s.value(r)).collect();
        ss.sort();
        let first = ss.first().copied();
        ss.dedup();
        let col = |i: usize| out.column(i);
        assert_eq!(col(2).as_primitive::<Int64Type>().value(g), rows.len() as i64);
        assert_eq!(col(3).as_primitive::<Int64Type>().value(g), vs.len() as i64);
        let total = col(4).as_primitive::<Int64Type>();
        assert_eq!(total.is_valid(g).then(|| total.value(g)), (!vs.is_empty()).then(|| vs.iter().sum()));
        let quarters: f64 = rows.iter().map(|&r| f.value(r)).sum::<f64>() / 4.0;
        assert_eq!(col(5).as_primitive::<Float64Type>().value(g), quarters);
        assert_eq!(col(6).as_primitive::<Int64Type>().value(g), ss.len() as i64);
        let min = col(7).as_string::<i32>();
        assert_eq!(min.is_valid(g).then(|| min.value(g)), first);
        let max = col(8).as_primitive::<Int64Type>();
        assert_eq!(max.is_valid(g).then(|| max.value(g)), vs.iter().max().copied());
    }
    assert_eq!(total_rows, input.num_rows());
}

#[test]
fn all_null_values_sum_to_null() {
    let t = aggregate(
        r#"{"group_by": ["k"], "aggregates": [{"name": "s", "function": "sum", "column": "v"},
        {"name": "m", "function": "min", "column": "v"}, {"name": "c", "function": "count", "column": "v"}]}"#,
    );
    let input = RecordBatch::try_from_iter(vec![
        ("k", Arc::new(StringArray::from(vec![Some("a"), None, Some("a"), None])) as ArrayRef),
        ("v", Arc::new(Int64Array::from(vec![None, Some(4), None, Some(5)]))),
    ])
    .unwrap();
    let out = single(&t, &[input]).unwrap().remove(0);
    assert_eq!(out.column(0).as_string::<i32>(), &StringArray::from(vec![Some("a"), None]));
    assert_eq!(out.column(1).as_primitive::<Int64Type>(), &Int64Array::from(vec![None, Some(9)]));
    assert_eq!(out.column(2).as_primitive::<Int64Type>(), &Int64Array::from(vec![None, Some(4)]));
    assert_eq!(out.column(3).as_primitive::<Int64Type>(), &Int64Array::from(vec![0, 2]));
}

#[test]
fn global_aggregate_of_no_rows_is_one_row() {
    let t = aggregate(
        r#"{"aggregates": [{"name": "c", "function": "count"}, {"name": "s", "function": "sum", "column": "v"}]}"#,
    );
    let empty = batch(1, 0);
    let out = single(&t, std::slice::from_ref(&empty)).unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].num_rows(), 1);
    assert_eq!(out[0].column(0).as_primitive::<Int64Type>().value(0), 0);
    assert!(out[0].column(1).is_null(0));
    // Same through partial + final, where the partial state is empty.
    assert_eq!(split_and_merge(&t, &[&[empty]]).unwrap(), out);
    // With group_by, no rows give no rows.
    let t = aggregate(OPTIONS);
    assert!(single(&t, &[batch(1, 0)]).unwrap().is_empty());
}

#[test]
fn output_comes_in_batches_of_at_most_65536_rows() {
    let t = aggregate(r#"{"group_by": ["id"], "aggregates": [{"name": "c", "function": "count"}]}"#);
    let ids: Vec<i64> = (0..70_000).rev().collect();
    let input =
        RecordBatch::try_from_iter(vec![("id", Arc::new(Int64Array::from(ids)) as ArrayRef)]).unwrap();
    let out = single(&t, std::slice::from_ref(&input)).unwrap();
    assert_eq!(out.iter().map(|b| b.num_rows()).collect::<Vec<_>>(), [65_536, 4_464]);
    let ids: Vec<i64> =
        out.iter().flat_map(|b| b.column(0).as_primitive::<Int64Type>().values().to_vec()).collect();
    assert_eq!(ids, (0..70_000).collect::<Vec<i64>>());
    // Partial states are chunked too, and merge to the same.
    assert_eq!(split_and_merge(&t, &[std::slice::from_ref(&input)]).unwrap(), out);
}

#[test]
fn overflow_across_splits_is_an_error() {
    let t =
        aggregate(r#"{"group_by": ["k"], "aggregates": [{"name": "s", "function": "sum", "column": "v"}]}"#);
    let input = RecordBatch::try_from_iter(vec![
        ("k", Arc::new(StringArray::from(vec!["a"])) as ArrayRef),
        ("v", Arc::new(Int64Array::from(vec![i64::MAX / 2 + 1]))),
    ])
    .unwrap();
    let splits = [std::slice::from_ref(&input), std::slice::from_ref(&input)];
    let err = split_and_merge(&t, &splits).unwrap_err();
    assert_eq!(err.message, "aggregate `s`: the sum of column `v` overflows int64");
}

#[test]
fn final_mode_can_take_its_layout_from_the_state() {
    let t = aggregate(OPTIONS);
    let batches: Vec<RecordBatch> = (0..2).map(|i| batch(i, 300)).collect();
    let expected = single(&t, &batches).unwrap();
    let mut partial = t.open(batches[0].schema(), Mode::Partial).unwrap();
    for b in &batches {
        partial.process(b.clone()).unwrap();
    }
    let mut fin = t.open(Arc::new(Schema::empty()), Mode::Final).unwrap();
    for state in partial.finish().unwrap() {
        fin.merge(state).unwrap();
    }
    assert_eq!(fin.finish().unwrap(), expected);
}

#[test]
fn misuse_is_reported() {
    let t = aggregate(OPTIONS);
    let input = batch(1, 10);
    let mut fin = t.open(input.schema(), Mode::Final).unwrap();
    assert!(fin.process(input.clone()).unwrap_err().message.contains("Final mode"));
    let err = fin.merge(input.clone()).unwrap_err();
    assert!(err.message.starts_with("partial state does not match this aggregate"), "{}", err.message);
    let mut partial = t.open(input.schema(), Mode::Partial).unwrap();
    assert!(partial.merge(input.clone()).unwrap_err().message.contains("Partial mode"));
    partial.finish().unwrap();
    assert!(partial.process(input.clone()).unwrap_err().message.contains("after finish"));
    let err = t.open(Arc::new(Schema::empty()), Mode::Single).err().unwrap();
    assert!(err.message.starts_with("group_by: column `k` is not in the input"), "{}", err.message);
}

#[test]
fn date_keys_keep_their_type() {
    let t = aggregate(r#"{"group_by": ["d"], "aggregates": [{"name": "c", "function": "count"}]}"#);
    let input = RecordBatch::try_from_iter(vec![(
        "d",
        Arc::new(Date32Array::from(vec![Some(19784), None, Some(19783), Some(19784)])) as ArrayRef,
    )])
    .unwrap();
    let out = single(&t, &[input]).unwrap().remove(0);
    assert_eq!(out.schema().field(0).data_type(), &DataType::Date32);
    assert_eq!(
        out.column(0).as_ref(),
        &Date32Array::from(vec![Some(19783), Some(19784), None]) as &dyn Array
    );
    assert_eq!(out.column(1).as_primitive::<Int64Type>().values(), &[1, 2, 1]);
}

#[test]
fn describe_is_mergeable() {
    let info = Aggregate::describe();
    assert!(info.mergeable);
    assert_eq!(info.options.iter().map(|o| o.name.as_str()).collect::<Vec<_>>(), ["group_by", "aggregates"]);
}

/// The test batch with `k` dictionary-encoded (values in another order than
/// first appearance, with an unused and a duplicate value).
fn dictionary_encoded(batch: &RecordBatch) -> RecordBatch {
    use arrow_array::DictionaryArray;
    use arrow_array::types::Int16Type;
    let values = StringArray::from(vec!["unused", "é", "b", "B", "a", "b"]);
    let k = batch.column(0).as_string::<i32>();
    let keys: arrow_array::Int16Array = k
        .iter()
        .map(|v| v.map(|v| ["unused", "é", "b", "B", "a"].iter().position(|x| *x == v).unwrap() as i16))
        .collect();
    let dictionary = DictionaryArray::<Int16Type>::try_new(keys, Arc::new(values)).unwrap();
    let mut columns = batch.columns().to_vec();
    columns[0] = Arc::new(dictionary);
    let mut fields: Vec<Field> = batch.schema().fields().iter().map(|f| f.as_ref().clone()).collect();
    fields[0] = Field::new("k", columns[0].data_type().clone(), true);
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap()
}

#[test]
fn dictionary_keys_group_by_value() {
    let t = aggregate(OPTIONS);
    let plain: Vec<RecordBatch> = (0..4).map(|i| batch(i, 400)).collect();
    let encoded: Vec<RecordBatch> = plain.iter().map(dictionary_encoded).collect();
    let expected = single(&t, &plain).unwrap();
    assert_eq!(t.output_schema(&encoded[0].schema()).unwrap(), expected[0].schema());
    assert_eq!(single(&t, &encoded).unwrap(), expected);
    assert_eq!(split_and_merge(&t, &[&encoded[..1], &encoded[1..]]).unwrap(), expected);
}
