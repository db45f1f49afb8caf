//! Group key columns: how one key column of a batch becomes bytes of the
//! row's group key, how two groups compare on it, and how the output column
//! is rebuilt.
//!
//! A plain column uses the value encoding of [`crate::value`]. A
//! dictionary-encoded column (`dictionary<int*, V>`) is grouped on its
//! values, not on its keys: each batch's dictionary values are interned once
//! into ids that are stable across batches, and a row contributes only a
//! marker and a 4-byte id. So a long string that repeats in many rows (the
//! pod-usage `labels`) is hashed once per batch instead of once per row. The
//! output column has the value type `V`.

use crate::intern::Interner;
use crate::value::{ValueBuilder, ValueReader, ValueType};
use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef};
use arrow_buffer::NullBuffer;
use arrow_schema::DataType;
use runtime_plugin_sdk::error::{Error, Result};
use std::cmp::Ordering;

const NULL: u8 = 0;
const VALID: u8 = 1;
/// A dictionary id that stands for a null value.
const NULL_ID: u32 = u32::MAX;

/// Whether a type is a dictionary whose values can be grouped; returns the
/// value type.
pub fn dictionary_values(data_type: &DataType) -> Option<&DataType> {
    match data_type {
        DataType::Dictionary(key, value) if key.is_dictionary_key_type() => Some(value),
        _ => None,
    }
}

/// One key column's encoding within a transformer.
pub enum KeyCodec {
    /// Values encoded in the row key.
    Plain(ValueType),
    /// Dictionary values interned; the row key holds their ids.
    Dictionary { value_type: ValueType, values: Interner },
}

impl KeyCodec {
    /// The codec for a column of `input_type` whose output type is
    /// `value_type`.
    pub fn new(input_type: &DataType, value_type: &ValueType) -> KeyCodec {
        match dictionary_values(input_type) {
            Some(_) => KeyCodec::Dictionary { value_type: value_type.clone(), values: Interner::new() },
            None => KeyCodec::Plain(value_type.clone()),
        }
    }

    /// Prepares reading a batch's column. For a dictionary column this
    /// interns the batch's dictionary values.
    pub fn reader(&mut self, column: &ArrayRef) -> Result<KeyReader> {
        match self {
            KeyCodec::Plain(t) => Ok(KeyReader::Plain(t.reader(column)?)),
            KeyCodec::Dictionary { value_type, values } => {
                if dictionary_values(column.data_type()) != Some(value_type.data_type()) {
                    return Err(Error::invalid_input(format!(
                        "expected a dictionary column of {} values, found {}",
                        value_type.data_type(),
                        column.data_type()
                    )));
                }
                let dictionary = column.as_any_dictionary();
                let reader = value_type.reader(dictionary.values())?;
                let mut encoded = Vec::new();
                let mut ids = Vec::with_capacity(dictionary.values().len());
                for i in 0..dictionary.values().len() {
                    if reader.is_null(i) {
                        ids.push(NULL_ID);
                        continue;
                    }
                    encoded.clear();
                    reader.encode(i, &mut encoded);
                    ids.push(values.intern(&encoded)?.0);
                }
                Ok(KeyReader::Dictionary {
                    keys: dictionary.normalized_keys(),
                    nulls: column.logical_nulls(),
                    ids,
                })
            }
        }
    }

    /// Compares the encoded key parts at the start of `a` and `b`; also
    /// returns their lengths.
    #[inline]
    pub fn compare(&self, a: &[u8], b: &[u8]) -> (Ordering, usize, usize) {
        match self {
            KeyCodec::Plain(t) => t.compare(a, b),
            KeyCodec::Dictionary { value_type, values } => {
                let (la, lb) = (id_len(a), id_len(b));
                let ordering = match (a[0], b[0]) {
                    (NULL, NULL) => Ordering::Equal,
                    (NULL, _) => Ordering::Greater,
                    (_, NULL) => Ordering::Less,
                    _ => value_type.compare(values.get(read_id(a)), values.get(read_id(b))).0,
                };
                (ordering, la, lb)
            }
        }
    }

    /// The length of the encoded key part at the start of `bytes`.
    #[inline]
    pub fn part_len(&self, bytes: &[u8]) -> usize {
        match self {
            KeyCodec::Plain(t) => t.encoded_len(bytes),
            KeyCodec::Dictionary { .. } => id_len(bytes),
        }
    }

    /// A builder for the output column.
    pub fn builder(&self, capacity: usize) -> ValueBuilder {
        match self {
            KeyCodec::Plain(t) | KeyCodec::Dictionary { value_type: t, .. } => t.builder(capacity),
        }
    }

    /// Appends the value of the encoded key part at the start of `bytes`;
    /// returns the part's length.
    #[inline]
    pub fn push(&self, builder: &mut ValueBuilder, bytes: &[u8]) -> usize {
        match self {
            KeyCodec::Plain(_) => builder.push(bytes),
            KeyCodec::Dictionary { values, .. } => {
                if bytes[0] == NULL {
                    builder.push_null();
                } else {
                    builder.push(values.get(read_id(bytes)));
                }
                id_len(bytes)
            }
        }
    }
}

#[inline]
fn id_len(bytes: &[u8]) -> usize {
    if bytes[0] == NULL { 1 } else { 5 }
}

#[inline]
fn read_id(bytes: &[u8]) -> u32 {
    u32::from_le_bytes(bytes[1..5].try_into().expect("4-byte id"))
}

/// Reads one key column of one batch.
pub enum KeyReader {
    Plain(ValueReader),
    Dictionary {
        /// Each row's index into the dictionary.
        keys: Vec<usize>,
        nulls: Option<NullBuffer>,
        /// Interned id of each dictionary value.
        ids: Vec<u32>,
    },
}

impl KeyReader {
    /// Appends the key part of `row`.
    #[inline]
    pub fn encode(&self, row: usize, out: &mut Vec<u8>) {
        match self {
            KeyReader::Plain(reader) => reader.encode(row, out),
            KeyReader::Dictionary { keys, nulls, ids } => {
                let id =
                    if nulls.as_ref().is_some_and(|n| n.is_null(row)) { NULL_ID } else { ids[keys[row]] };
                if id == NULL_ID {
                    out.push(NULL);
                } else {
                    out.push(VALID);
                    out.extend_from_slice(&id.to_le_bytes());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::types::Int32Type;
    use arrow_array::{DictionaryArray, Int32Array, StringArray};
    use std::sync::Arc;

    fn dictionary(keys: Vec<Option<i32>>, values: Vec<Option<&str>>) -> ArrayRef {
        Arc::new(
            DictionaryArray::<Int32Type>::try_new(
                Int32Array::from(keys),
                Arc::new(StringArray::from(values)),
            )
            .unwrap(),
        )
    }

    fn encode_all(codec: &mut KeyCodec, column: &ArrayRef) -> Vec<Vec<u8>> {
        let reader = codec.reader(column).unwrap();
        (0..column.len())
            .map(|row| {
                let mut out = Vec::new();
                reader.encode(row, &mut out);
                out
            })
            .collect()
    }

    #[test]
    fn equal_values_get_equal_keys_across_batches() {
        let t = ValueType::new(&DataType::Utf8).unwrap();
        let input_type = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
        let mut codec = KeyCodec::new(&input_type, &t);
        let a = encode_all(
            &mut codec,
            &dictionary(vec![Some(0), Some(1), None, Some(2)], vec![Some("x"), Some("y"), None]),
        );
        // Another batch: other dictionary order, a duplicate dictionary value.
        let b = encode_all(
            &mut codec,
            &dictionary(vec![Some(2), Some(0), Some(1)], vec![Some("y"), Some("y"), Some("x")]),
        );
        // b = ["x", "y", "y"], the last two from different dictionary entries.
        assert_eq!(a[0], b[0]);
        assert_eq!(a[1], b[1]);
        assert_eq!(b[1], b[2]);
        assert_ne!(a[0], a[1]);
        assert_eq!(a[2], [NULL]);
        assert_eq!(a[3], [NULL], "a null dictionary value is a null key");
        // Sorting and output go through the values.
        assert_eq!(codec.compare(&a[1], &a[0]).0, Ordering::Greater);
        assert_eq!(codec.compare(&a[2], &a[0]).0, Ordering::Greater);
        let mut builder = codec.builder(3);
        for key in [&a[1], &a[2], &a[0]] {
            assert_eq!(codec.push(&mut builder, key), key.len());
        }
        let out = builder.finish().unwrap();
        assert_eq!(out.as_string::<i32>(), &StringArray::from(vec![Some("y"), None, Some("x")]));
    }

    #[test]
    fn dictionary_type_is_checked() {
        let t = ValueType::new(&DataType::Utf8).unwrap();
        let input_type = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
        let mut codec = KeyCodec::new(&input_type, &t);
        let plain: ArrayRef = Arc::new(StringArray::from(vec!["x"]));
        let err = codec.reader(&plain).err().unwrap();
        assert_eq!(err.message, "expected a dictionary column of Utf8 values, found Utf8");
        assert!(
            dictionary_values(&DataType::Dictionary(Box::new(DataType::Utf8), Box::new(DataType::Utf8)))
                .is_none()
        );
    }
}
