//! Reading a string column of any flavour (utf8, large_utf8, utf8_view, or
//! a dictionary of one of them) row by row, for the labels columns of the
//! input and of side tables.
//!
//! A dictionary column also gives each row's key
//! ([`StrColumn::dictionary_key`]), so the transformer can look each
//! distinct value up once per batch instead of hashing every row's text.

use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, LargeStringArray, StringArray, StringViewArray};
use arrow_buffer::NullBuffer;
use arrow_schema::DataType;

/// A string column, downcast once.
pub enum StrColumn<'a> {
    Utf8(&'a StringArray),
    LargeUtf8(&'a LargeStringArray),
    Utf8View(&'a StringViewArray),
    /// A dictionary: each row's key (any integer key type, widened) into
    /// `values`, a plain string column; `nulls` are the rows without a key.
    Dict {
        keys: Vec<usize>,
        nulls: Option<&'a NullBuffer>,
        values: Box<StrColumn<'a>>,
    },
}

impl<'a> StrColumn<'a> {
    /// The column, or `None` when it is not a string column.
    pub fn new(array: &'a ArrayRef) -> Option<Self> {
        match array.data_type() {
            DataType::Utf8 => Some(StrColumn::Utf8(array.as_string::<i32>())),
            DataType::LargeUtf8 => Some(StrColumn::LargeUtf8(array.as_string::<i64>())),
            DataType::Utf8View => Some(StrColumn::Utf8View(array.as_string_view())),
            DataType::Dictionary(key, value) if key.is_dictionary_key_type() && is_plain(value) => {
                let dictionary = array.as_any_dictionary();
                Some(StrColumn::Dict {
                    keys: dictionary.normalized_keys(),
                    nulls: array.nulls(),
                    values: Box::new(StrColumn::new(dictionary.values())?),
                })
            }
            _ => None,
        }
    }

    /// Whether a data type is a string flavour this module reads.
    pub fn supports(data_type: &DataType) -> bool {
        match data_type {
            DataType::Dictionary(key, value) => key.is_dictionary_key_type() && is_plain(value),
            other => is_plain(other),
        }
    }

    /// The value of `row`, `None` for null.
    #[inline]
    pub fn get(&self, row: usize) -> Option<&'a str> {
        match self {
            StrColumn::Utf8(a) => (!a.is_null(row)).then(|| a.value(row)),
            StrColumn::LargeUtf8(a) => (!a.is_null(row)).then(|| a.value(row)),
            StrColumn::Utf8View(a) => (!a.is_null(row)).then(|| a.value(row)),
            StrColumn::Dict { keys, nulls, values } => match nulls {
                Some(n) if n.is_null(row) => None,
                _ => values.get(keys[row]),
            },
        }
    }

    /// The number of dictionary values (0 for a plain column).
    pub fn dictionary_len(&self) -> usize {
        match self {
            StrColumn::Dict { values, .. } => values.len(),
            _ => 0,
        }
    }

    /// The dictionary key of `row`: `Some` only for a non-null row of a
    /// dictionary column. Rows with equal keys have equal values.
    #[inline]
    pub fn dictionary_key(&self, row: usize) -> Option<usize> {
        match self {
            StrColumn::Dict { keys, nulls, .. } => match nulls {
                Some(n) if n.is_null(row) => None,
                _ => Some(keys[row]),
            },
            _ => None,
        }
    }

    fn len(&self) -> usize {
        match self {
            StrColumn::Utf8(a) => a.len(),
            StrColumn::LargeUtf8(a) => a.len(),
            StrColumn::Utf8View(a) => a.len(),
            StrColumn::Dict { keys, .. } => keys.len(),
        }
    }
}

fn is_plain(data_type: &DataType) -> bool {
    matches!(data_type, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::Int32Array;
    use std::sync::Arc;

    #[test]
    fn every_flavour_reads_values_and_nulls() {
        let values = vec![Some("a"), None, Some("")];
        let arrays: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(values.clone())),
            Arc::new(LargeStringArray::from(values.clone())),
            Arc::new(StringViewArray::from(values.clone())),
        ];
        for array in &arrays {
            let column = StrColumn::new(array).unwrap();
            assert_eq!((0..3).map(|i| column.get(i)).collect::<Vec<_>>(), values);
        }
        let ints: ArrayRef = Arc::new(Int32Array::from(vec![1]));
        assert!(StrColumn::new(&ints).is_none());
    }

    #[test]
    fn dictionaries_read_values_keys_and_nulls() {
        use arrow_array::types::{Int8Type, Int32Type};
        use arrow_array::{DictionaryArray, Int8Array};
        let values: ArrayRef = Arc::new(StringArray::from(vec![Some("x"), None, Some("y")]));
        let int32: ArrayRef = Arc::new(DictionaryArray::<Int32Type>::new(
            Int32Array::from(vec![Some(2), None, Some(0), Some(1), Some(2)]),
            values.clone(),
        ));
        let int8: ArrayRef = Arc::new(DictionaryArray::<Int8Type>::new(
            Int8Array::from(vec![Some(2), None, Some(0), Some(1), Some(2)]),
            values,
        ));
        for array in [&int32, &int8] {
            assert!(StrColumn::supports(array.data_type()));
            let column = StrColumn::new(array).unwrap();
            let got: Vec<_> = (0..5).map(|i| column.get(i)).collect();
            assert_eq!(got, [Some("y"), None, Some("x"), None, Some("y")]);
            let keys: Vec<_> = (0..5).map(|i| column.dictionary_key(i)).collect();
            assert_eq!(keys, [Some(2), None, Some(0), Some(1), Some(2)]);
            assert_eq!(column.dictionary_len(), 3);
        }
        let of_ints = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Int64));
        assert!(!StrColumn::supports(&of_ints));
    }
}
