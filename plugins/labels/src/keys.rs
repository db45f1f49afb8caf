//! Lookup keys: reading the key columns of a row (of the input or of a side
//! table) and encoding them into bytes that are equal exactly when the key
//! values are equal.
//!
//! Columns are compared by *class*, so an input and a side table may use
//! different physical types of one class:
//!
//! | class | Arrow types | encoding |
//! |---|---|---|
//! | string | utf8, large_utf8, utf8_view | length (u32) + UTF-8 bytes |
//! | integer | int8–int64, uint8–uint64 | i128, little-endian |
//! | date32 | date32 | i32 |
//! | date64 | date64 | i64 |
//! | boolean | bool | one byte |
//!
//! A dictionary column (any integer keys) has the class of its values and
//! encodes as its value does, so a dictionary-encoded `node` matches a plain
//! one. A null key value never matches anything.

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Date64Type, Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type, UInt32Type,
    UInt64Type,
};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, Schema};
use runtime_plugin_sdk::error::{Error, Result};

/// The class of a key column; columns match when their classes are equal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyClass {
    String,
    Integer,
    Date32,
    Date64,
    Boolean,
}

impl KeyClass {
    /// The class of a data type, or `None` when it cannot be a key.
    pub fn of(data_type: &DataType) -> Option<KeyClass> {
        use DataType as D;
        Some(match data_type {
            D::Utf8 | D::LargeUtf8 | D::Utf8View => KeyClass::String,
            D::Int8 | D::Int16 | D::Int32 | D::Int64 | D::UInt8 | D::UInt16 | D::UInt32 | D::UInt64 => {
                KeyClass::Integer
            }
            D::Date32 => KeyClass::Date32,
            D::Date64 => KeyClass::Date64,
            D::Boolean => KeyClass::Boolean,
            D::Dictionary(_, values) => return KeyClass::of(values),
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            KeyClass::String => "string",
            KeyClass::Integer => "integer",
            KeyClass::Date32 => "date32",
            KeyClass::Date64 => "date64",
            KeyClass::Boolean => "boolean",
        }
    }
}

/// The classes of the named key columns of a schema. `what` names the schema
/// in errors (`input`, `side table \`nodes\``).
pub fn key_classes(schema: &Schema, key: &[String], what: &str) -> Result<Vec<KeyClass>> {
    key.iter()
        .map(|name| {
            let field = schema.field_with_name(name).map_err(|_| {
                Error::invalid_options(format!(
                    "{what} has no key column `{name}` (columns: {})",
                    column_names(schema)
                ))
            })?;
            KeyClass::of(field.data_type()).ok_or_else(|| {
                Error::unsupported(format!(
                    "key column `{name}` of {what} has type {}, which cannot be a lookup key \
                     (supported: utf8, large_utf8, utf8_view, int8–int64, uint8–uint64, date32, date64, bool, \
                     or a dictionary of one of these)",
                    field.data_type()
                ))
            })
        })
        .collect()
}

/// The comma-separated column names of a schema, for error messages.
pub fn column_names(schema: &Schema) -> String {
    schema.fields().iter().map(|f| f.name().as_str()).collect::<Vec<_>>().join(", ")
}

/// One key column of a batch, downcast once per batch.
enum KeyColumn<'a> {
    Utf8(&'a arrow_array::StringArray),
    LargeUtf8(&'a arrow_array::LargeStringArray),
    Utf8View(&'a arrow_array::StringViewArray),
    I8(&'a arrow_array::Int8Array),
    I16(&'a arrow_array::Int16Array),
    I32(&'a arrow_array::Int32Array),
    I64(&'a arrow_array::Int64Array),
    U8(&'a arrow_array::UInt8Array),
    U16(&'a arrow_array::UInt16Array),
    U32(&'a arrow_array::UInt32Array),
    U64(&'a arrow_array::UInt64Array),
    Date32(&'a arrow_array::Date32Array),
    Date64(&'a arrow_array::Date64Array),
    Bool(&'a arrow_array::BooleanArray),
    /// A dictionary: each row's value is `values`' row `keys[row]`.
    Dict {
        keys: Vec<usize>,
        nulls: Option<&'a arrow_buffer::NullBuffer>,
        values: Box<KeyColumn<'a>>,
    },
}

impl<'a> KeyColumn<'a> {
    fn new(array: &'a ArrayRef) -> Option<Self> {
        use DataType as D;
        Some(match array.data_type() {
            D::Utf8 => KeyColumn::Utf8(array.as_string::<i32>()),
            D::LargeUtf8 => KeyColumn::LargeUtf8(array.as_string::<i64>()),
            D::Utf8View => KeyColumn::Utf8View(array.as_string_view()),
            D::Int8 => KeyColumn::I8(array.as_primitive::<Int8Type>()),
            D::Int16 => KeyColumn::I16(array.as_primitive::<Int16Type>()),
            D::Int32 => KeyColumn::I32(array.as_primitive::<Int32Type>()),
            D::Int64 => KeyColumn::I64(array.as_primitive::<Int64Type>()),
            D::UInt8 => KeyColumn::U8(array.as_primitive::<UInt8Type>()),
            D::UInt16 => KeyColumn::U16(array.as_primitive::<UInt16Type>()),
            D::UInt32 => KeyColumn::U32(array.as_primitive::<UInt32Type>()),
            D::UInt64 => KeyColumn::U64(array.as_primitive::<UInt64Type>()),
            D::Date32 => KeyColumn::Date32(array.as_primitive::<Date32Type>()),
            D::Date64 => KeyColumn::Date64(array.as_primitive::<Date64Type>()),
            D::Boolean => KeyColumn::Bool(array.as_boolean()),
            D::Dictionary(..) => {
                let dictionary = array.as_any_dictionary();
                KeyColumn::Dict {
                    keys: dictionary.normalized_keys(),
                    nulls: dictionary.keys().nulls(),
                    values: Box::new(KeyColumn::new(dictionary.values())?),
                }
            }
            _ => return None,
        })
    }

    /// Appends the encoded value of `row`; false when it is null.
    #[inline]
    fn encode(&self, row: usize, out: &mut Vec<u8>) -> bool {
        macro_rules! int {
            ($a:expr) => {{
                if $a.is_null(row) {
                    return false;
                }
                out.extend_from_slice(&i128::from($a.value(row)).to_le_bytes());
            }};
        }
        match self {
            KeyColumn::Utf8(a) => {
                if a.is_null(row) {
                    return false;
                }
                push_str(a.value(row), out);
            }
            KeyColumn::LargeUtf8(a) => {
                if a.is_null(row) {
                    return false;
                }
                push_str(a.value(row), out);
            }
            KeyColumn::Utf8View(a) => {
                if a.is_null(row) {
                    return false;
                }
                push_str(a.value(row), out);
            }
            KeyColumn::I8(a) => int!(a),
            KeyColumn::I16(a) => int!(a),
            KeyColumn::I32(a) => int!(a),
            KeyColumn::I64(a) => int!(a),
            KeyColumn::U8(a) => int!(a),
            KeyColumn::U16(a) => int!(a),
            KeyColumn::U32(a) => int!(a),
            KeyColumn::U64(a) => int!(a),
            KeyColumn::Date32(a) => {
                if a.is_null(row) {
                    return false;
                }
                out.extend_from_slice(&a.value(row).to_le_bytes());
            }
            KeyColumn::Date64(a) => {
                if a.is_null(row) {
                    return false;
                }
                out.extend_from_slice(&a.value(row).to_le_bytes());
            }
            KeyColumn::Bool(a) => {
                if a.is_null(row) {
                    return false;
                }
                out.push(u8::from(a.value(row)));
            }
            KeyColumn::Dict { keys, nulls, values } => {
                if nulls.is_some_and(|n| n.is_null(row)) {
                    return false;
                }
                return values.encode(keys[row], out);
            }
        }
        true
    }
}

#[inline]
fn push_str(s: &str, out: &mut Vec<u8>) {
    // A value longer than u32::MAX bytes cannot occur in a utf8 batch of
    // sensible size; saturating keeps the encoding total anyway.
    let len = u32::try_from(s.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// The key columns of one batch, ready to encode row keys.
pub struct KeyReader<'a> {
    columns: Vec<KeyColumn<'a>>,
}

impl<'a> KeyReader<'a> {
    /// Reads the named columns of `batch`. `what` names the batch in errors.
    pub fn new(batch: &'a RecordBatch, key: &[String], what: &str) -> Result<Self> {
        let columns = key
            .iter()
            .map(|name| {
                let array = batch.column_by_name(name).ok_or_else(|| {
                    Error::invalid_input(format!(
                        "{what} has no key column `{name}` (columns: {})",
                        column_names(batch.schema_ref())
                    ))
                })?;
                KeyColumn::new(array).ok_or_else(|| {
                    Error::unsupported(format!(
                        "key column `{name}` of {what} has type {}, which cannot be a lookup key",
                        array.data_type()
                    ))
                })
            })
            .collect::<Result<_>>()?;
        Ok(KeyReader { columns })
    }

    /// Replaces `out` with the encoded key of `row`; false when any key
    /// value is null (the row matches nothing).
    #[inline]
    pub fn encode(&self, row: usize, out: &mut Vec<u8>) -> bool {
        out.clear();
        self.columns.iter().all(|c| c.encode(row, out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Date32Array, Int32Array, Int64Array, LargeStringArray, StringArray};
    use arrow_schema::Field;
    use std::sync::Arc;

    fn batch(columns: Vec<(&str, ArrayRef)>) -> RecordBatch {
        RecordBatch::try_from_iter(columns).unwrap()
    }

    fn encoded(batch: &RecordBatch, key: &[&str], row: usize) -> Option<Vec<u8>> {
        let key: Vec<String> = key.iter().map(|s| s.to_string()).collect();
        let reader = KeyReader::new(batch, &key, "input").unwrap();
        let mut out = Vec::new();
        reader.encode(row, &mut out).then_some(out)
    }

    #[test]
    fn types_of_one_class_encode_alike() {
        let a = batch(vec![
            ("d", Arc::new(Date32Array::from(vec![19783])) as ArrayRef),
            ("s", Arc::new(StringArray::from(vec!["n1"]))),
            ("i", Arc::new(Int32Array::from(vec![-5]))),
        ]);
        let b = batch(vec![
            ("d", Arc::new(Date32Array::from(vec![19783])) as ArrayRef),
            ("s", Arc::new(LargeStringArray::from(vec!["n1"]))),
            ("i", Arc::new(Int64Array::from(vec![-5]))),
        ]);
        assert_eq!(encoded(&a, &["d", "s", "i"], 0), encoded(&b, &["d", "s", "i"], 0));
    }

    #[test]
    fn null_keys_never_match() {
        let a = batch(vec![
            ("d", Arc::new(Date32Array::from(vec![Some(1), None])) as ArrayRef),
            ("s", Arc::new(StringArray::from(vec![None, Some("x")]))),
        ]);
        assert_eq!(encoded(&a, &["d", "s"], 0), None);
        assert_eq!(encoded(&a, &["d", "s"], 1), None);
        assert!(encoded(&a, &["d"], 0).is_some());
    }

    #[test]
    fn string_lengths_keep_keys_apart() {
        let a = batch(vec![
            ("x", Arc::new(StringArray::from(vec!["ab", "a"])) as ArrayRef),
            ("y", Arc::new(StringArray::from(vec!["c", "bc"]))),
        ]);
        assert_ne!(encoded(&a, &["x", "y"], 0), encoded(&a, &["x", "y"], 1));
    }

    #[test]
    fn dictionaries_encode_as_their_values() {
        use arrow_array::DictionaryArray;
        use arrow_array::types::{Int8Type, UInt16Type};
        // Keys 1, 0, null (row 2), 2 whose value is null (row 3).
        let nodes = DictionaryArray::<Int8Type>::new(
            arrow_array::Int8Array::from(vec![Some(1), Some(0), None, Some(2)]),
            Arc::new(StringArray::from(vec![Some("n0"), Some("n1"), None])),
        );
        let days = DictionaryArray::<UInt16Type>::new(
            arrow_array::UInt16Array::from(vec![0, 0, 0, 0]),
            Arc::new(Date32Array::from(vec![19783])),
        );
        let dict = batch(vec![("s", Arc::new(nodes) as ArrayRef), ("d", Arc::new(days))]);
        let plain = batch(vec![
            ("s", Arc::new(StringArray::from(vec!["n1", "n0"])) as ArrayRef),
            ("d", Arc::new(Date32Array::from(vec![19783, 19783]))),
        ]);
        assert_eq!(encoded(&dict, &["s", "d"], 0), encoded(&plain, &["s", "d"], 0));
        assert_eq!(encoded(&dict, &["s", "d"], 1), encoded(&plain, &["s", "d"], 1));
        assert_eq!(encoded(&dict, &["s"], 2), None);
        assert_eq!(encoded(&dict, &["s"], 3), None);
        let schema = dict.schema();
        let key = ["s".to_string(), "d".to_string()];
        assert_eq!(key_classes(&schema, &key, "input").unwrap(), [KeyClass::String, KeyClass::Date32]);
    }

    #[test]
    fn classes_and_errors() {
        let schema = Schema::new(vec![
            Field::new("d", DataType::Date32, false),
            Field::new("f", DataType::Float64, false),
        ]);
        let key = |names: &[&str]| names.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(key_classes(&schema, &key(&["d"]), "input").unwrap(), [KeyClass::Date32]);
        let err = key_classes(&schema, &key(&["f"]), "input").unwrap_err();
        assert!(err.message.contains("type Float64, which cannot be a lookup key"), "{}", err.message);
        let err = key_classes(&schema, &key(&["node"]), "side table `n`").unwrap_err();
        assert_eq!(err.message, "side table `n` has no key column `node` (columns: d, f)");
    }
}
