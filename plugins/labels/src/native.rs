//! Label columns that are already structured: `map<string, string>` (as
//! Parquet writers store Kubernetes labels) and `struct` columns, turned
//! into the JSON text of an object so that they follow exactly the rules of
//! [`crate::parse`] (duplicate keys keep the last value, a null value
//! removes the key, SQL null is `{}`) and the canonical output is the same
//! as from JSON text.
//!
//! Map keys must be strings; values (and struct fields) may be strings,
//! booleans or integers, which become strings as in JSON text (`true`,
//! `42`). Other value types are rejected when the schema is checked.

use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, StringArray};
use arrow_schema::DataType;
use std::sync::Arc;

/// Whether `data_type` is a structured labels column this module reads.
pub fn supports(data_type: &DataType) -> bool {
    match data_type {
        DataType::Map(entries, _) => match entries.data_type() {
            DataType::Struct(f) if f.len() == 2 => is_string(f[0].data_type()) && is_scalar(f[1].data_type()),
            _ => false,
        },
        DataType::Struct(fields) => fields.iter().all(|f| is_scalar(f.data_type())),
        _ => false,
    }
}

fn is_string(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
}

fn is_scalar(t: &DataType) -> bool {
    is_string(t) || t.is_integer() || matches!(t, DataType::Boolean)
}

/// The JSON text of each row of a map or struct column (null rows stay
/// null); `None` for any other column.
pub fn to_json(array: &ArrayRef) -> Option<ArrayRef> {
    if !supports(array.data_type()) {
        return None;
    }
    let mut out: Vec<Option<String>> = Vec::with_capacity(array.len());
    let mut text = String::new();
    match array.data_type() {
        DataType::Map(..) => {
            let map = array.as_map();
            let (keys, values) = (map.keys(), map.values());
            let offsets = map.value_offsets();
            for row in 0..map.len() {
                if map.is_null(row) {
                    out.push(None);
                    continue;
                }
                text.clear();
                text.push('{');
                for (n, i) in (offsets[row] as usize..offsets[row + 1] as usize).enumerate() {
                    if n > 0 {
                        text.push(',');
                    }
                    push_value(keys, i, &mut text, true);
                    text.push(':');
                    push_value(values, i, &mut text, false);
                }
                text.push('}');
                out.push(Some(text.clone()));
            }
        }
        DataType::Struct(fields) => {
            let s = array.as_struct();
            for row in 0..s.len() {
                if s.is_null(row) {
                    out.push(None);
                    continue;
                }
                text.clear();
                text.push('{');
                for (n, (f, column)) in fields.iter().zip(s.columns()).enumerate() {
                    if n > 0 {
                        text.push(',');
                    }
                    push_json_string(f.name(), &mut text);
                    text.push(':');
                    push_value(column, row, &mut text, false);
                }
                text.push('}');
                out.push(Some(text.clone()));
            }
        }
        _ => unreachable!("checked by supports"),
    }
    Some(Arc::new(StringArray::from(out)))
}

/// Row `i` of a scalar column as JSON: a string (always, for a key), or
/// `null`; booleans and integers as strings.
fn push_value(column: &ArrayRef, i: usize, text: &mut String, key: bool) {
    if column.is_null(i) {
        text.push_str(if key { "\"\"" } else { "null" });
        return;
    }
    match column.data_type() {
        DataType::Utf8 => push_json_string(column.as_string::<i32>().value(i), text),
        DataType::LargeUtf8 => push_json_string(column.as_string::<i64>().value(i), text),
        DataType::Utf8View => push_json_string(column.as_string_view().value(i), text),
        DataType::Boolean => {
            push_json_string(if column.as_boolean().value(i) { "true" } else { "false" }, text)
        }
        _ => push_json_string(&integer_text(column, i), text),
    }
}

fn integer_text(column: &ArrayRef, i: usize) -> String {
    use arrow_array::types::*;
    macro_rules! int {
        ($($variant:ident => $ty:ty),*) => {
            match column.data_type() {
                $(DataType::$variant => column.as_primitive::<$ty>().value(i).to_string(),)*
                other => unreachable!("not an integer: {other}"),
            }
        };
    }
    int!(Int8 => Int8Type, Int16 => Int16Type, Int32 => Int32Type, Int64 => Int64Type,
         UInt8 => UInt8Type, UInt16 => UInt16Type, UInt32 => UInt32Type, UInt64 => UInt64Type)
}

fn push_json_string(s: &str, text: &mut String) {
    text.push_str(&serde_json::to_string(s).expect("a string serializes"));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse_labels;
    use arrow_array::builder::{MapBuilder, StringBuilder};
    use arrow_array::{BooleanArray, Int32Array, StructArray};
    use arrow_schema::Field;

    fn canonical(array: &ArrayRef, row: usize) -> Vec<(String, String)> {
        let json = to_json(array).unwrap();
        let set =
            parse_labels(json.as_string::<i32>().is_valid(row).then(|| json.as_string::<i32>().value(row)))
                .unwrap();
        set.pairs().iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn maps_follow_the_json_rules() {
        let mut b = MapBuilder::new(None, StringBuilder::new(), StringBuilder::new());
        for (k, v) in [("b", Some("2")), ("a", Some("x\"y")), ("b", Some("3")), ("gone", None)] {
            b.keys().append_value(k);
            b.values().append_option(v);
        }
        b.append(true).unwrap();
        b.append(false).unwrap(); // null map
        b.append(true).unwrap(); // empty map
        let array: ArrayRef = Arc::new(b.finish());
        assert!(supports(array.data_type()));
        let want = vec![("a".to_string(), "x\"y".to_string()), ("b".to_string(), "3".to_string())];
        assert_eq!(canonical(&array, 0), want, "sorted, last duplicate wins, null removes");
        assert!(canonical(&array, 1).is_empty());
        assert!(canonical(&array, 2).is_empty());
    }

    #[test]
    fn structs_with_strings_booleans_and_integers() {
        let s = StructArray::from(vec![
            (
                Arc::new(Field::new("app", DataType::Utf8, true)),
                Arc::new(StringArray::from(vec![Some("web")])) as ArrayRef,
            ),
            (
                Arc::new(Field::new("tier", DataType::Int32, true)),
                Arc::new(Int32Array::from(vec![Some(3)])) as ArrayRef,
            ),
            (
                Arc::new(Field::new("on", DataType::Boolean, true)),
                Arc::new(BooleanArray::from(vec![None])) as ArrayRef,
            ),
        ]);
        let array: ArrayRef = Arc::new(s);
        assert_eq!(
            canonical(&array, 0),
            [("app".to_string(), "web".to_string()), ("tier".to_string(), "3".to_string())]
        );
        let floats = DataType::Struct(vec![Field::new("x", DataType::Float64, true)].into());
        assert!(!supports(&floats));
        assert!(to_json(&(Arc::new(StringArray::from(vec!["{}"])) as ArrayRef)).is_none());
    }
}
