//! Helpers shared by the integration tests: rendering Arrow cells and the
//! databases' own text or values into one canonical form, so the reader's
//! output can be compared row for row with a plain single query.

#![allow(dead_code)]

use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, TimeUnit};
use runtime_plugin_sdk::reader::Split;
use sql::SqlReader;
use sql::columns::parse_decimal;
use sql::sqlite::parse_datetime;

pub type Row = Vec<Option<String>>;

fn float(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "Infinity".into() } else { "-Infinity".into() }
    } else {
        format!("{v:?}")
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Canonical text of one Arrow cell.
pub fn arrow_cell(array: &ArrayRef, i: usize) -> Option<String> {
    if array.is_null(i) {
        return None;
    }
    Some(match array.data_type() {
        DataType::Boolean => array.as_boolean().value(i).to_string(),
        DataType::Int16 => array.as_primitive::<Int16Type>().value(i).to_string(),
        DataType::Int32 => array.as_primitive::<Int32Type>().value(i).to_string(),
        DataType::Int64 => array.as_primitive::<Int64Type>().value(i).to_string(),
        DataType::Float32 => float(array.as_primitive::<Float32Type>().value(i) as f64),
        DataType::Float64 => float(array.as_primitive::<Float64Type>().value(i)),
        DataType::Decimal128(..) => array.as_primitive::<Decimal128Type>().value(i).to_string(),
        DataType::Utf8 => array.as_string::<i32>().value(i).to_string(),
        DataType::Binary => hex(array.as_binary::<i32>().value(i)),
        DataType::Date32 => array.as_primitive::<Date32Type>().value(i).to_string(),
        DataType::Time64(TimeUnit::Microsecond) => {
            array.as_primitive::<Time64MicrosecondType>().value(i).to_string()
        }
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            array.as_primitive::<TimestampMicrosecondType>().value(i).to_string()
        }
        DataType::List(_) => {
            let items = array.as_list::<i32>().value(i);
            let parts: Vec<String> = (0..items.len())
                .map(|j| arrow_cell(&items, j).map_or("null".to_string(), |s| format!("{s:?}")))
                .collect();
            format!("[{}]", parts.join(","))
        }
        other => panic!("no canonical form for {other}"),
    })
}

/// Canonical rows of batches.
pub fn arrow_rows(batches: &[RecordBatch]) -> Vec<Row> {
    let mut rows = Vec::new();
    for b in batches {
        for i in 0..b.num_rows() {
            rows.push(b.columns().iter().map(|c| arrow_cell(c, i)).collect());
        }
    }
    rows
}

/// Canonical text of a PostgreSQL text-format value of a column that the
/// reader maps to `dt`.
pub fn pg_text_cell(dt: &DataType, text: Option<&str>) -> Option<String> {
    let text = text?;
    let float_text = |t: &str| match t {
        "NaN" => f64::NAN,
        "Infinity" => f64::INFINITY,
        "-Infinity" => f64::NEG_INFINITY,
        t => t.parse().unwrap_or_else(|_| panic!("float {t:?}")),
    };
    Some(match dt {
        DataType::Boolean => (text == "t").to_string(),
        DataType::Int16 | DataType::Int32 | DataType::Int64 | DataType::Utf8 => text.to_string(),
        DataType::Float32 => {
            let v: f32 = match text {
                "NaN" => f32::NAN,
                "Infinity" => f32::INFINITY,
                "-Infinity" => f32::NEG_INFINITY,
                t => t.parse().unwrap(),
            };
            float(v as f64)
        }
        DataType::Float64 => float(float_text(text)),
        DataType::Decimal128(_, s) => parse_decimal(text, *s).unwrap().to_string(),
        DataType::Binary => text.strip_prefix("\\x").unwrap().to_string(),
        DataType::Date32 => (parse_datetime(text).unwrap().div_euclid(86_400_000_000)).to_string(),
        DataType::Time64(_) => parse_datetime(&format!("1970-01-01 {text}")).unwrap().to_string(),
        DataType::Timestamp(..) => {
            parse_datetime(text).unwrap_or_else(|| panic!("timestamp {text:?}")).to_string()
        }
        DataType::List(item) => {
            let parts: Vec<String> = parse_pg_array(text)
                .iter()
                .map(|v| {
                    pg_text_cell(item.data_type(), v.as_deref())
                        .map_or("null".to_string(), |s| format!("{s:?}"))
                })
                .collect();
            format!("[{}]", parts.join(","))
        }
        other => panic!("no canonical form for {other}"),
    })
}

/// Parses a one-dimensional PostgreSQL array literal: `{a,"b c",NULL}`.
pub fn parse_pg_array(text: &str) -> Vec<Option<String>> {
    let inner = text.strip_prefix('{').and_then(|t| t.strip_suffix('}')).expect("array literal");
    let mut items = Vec::new();
    let mut chars = inner.chars().peekable();
    while chars.peek().is_some() {
        if chars.peek() == Some(&'"') {
            chars.next();
            let mut s = String::new();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => s.push(chars.next().unwrap()),
                    '"' => break,
                    c => s.push(c),
                }
            }
            items.push(Some(s));
        } else {
            let mut s = String::new();
            while let Some(&c) = chars.peek() {
                if c == ',' {
                    break;
                }
                s.push(c);
                chars.next();
            }
            items.push(if s == "NULL" { None } else { Some(s) });
        }
        if chars.peek() == Some(&',') {
            chars.next();
        }
    }
    items
}

/// Plans with `reader` (already planned `splits`), reads every split and
/// returns all batches plus the rows each split produced.
pub fn read_splits(
    reader: &mut SqlReader,
    splits: &[Split],
    source: Option<std::rc::Rc<dyn sql::sqlite::ByteSource>>,
) -> (Vec<RecordBatch>, Vec<u64>) {
    let mut batches = Vec::new();
    let mut per_split = Vec::new();
    for split in splits {
        let mut n = 0;
        let rows = reader
            .read_split(split, source.clone(), &mut |b| {
                n += b.num_rows() as u64;
                batches.push(b);
                Ok(())
            })
            .unwrap_or_else(|e| panic!("split {}: {e}", split.id));
        assert_eq!(rows, n);
        per_split.push(rows);
    }
    (batches, per_split)
}

/// Asserts two row multisets are equal, with a readable diff.
pub fn assert_same_rows(mut got: Vec<Row>, mut want: Vec<Row>, what: &str) {
    got.sort();
    want.sort();
    if got != want {
        let missing: Vec<_> = want.iter().filter(|r| !got.contains(r)).take(3).collect();
        let extra: Vec<_> = got.iter().filter(|r| !want.contains(r)).take(3).collect();
        panic!(
            "{what}: {} rows read, {} expected\nmissing: {missing:#?}\nextra: {extra:#?}",
            got.len(),
            want.len()
        );
    }
}
