//! Reading a string column of any flavour (utf8, large_utf8, utf8_view) row
//! by row, for the labels columns of the input and of side tables.

use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, LargeStringArray, StringArray, StringViewArray};
use arrow_schema::DataType;

/// A string column, downcast once.
pub enum StrColumn<'a> {
    Utf8(&'a StringArray),
    LargeUtf8(&'a LargeStringArray),
    Utf8View(&'a StringViewArray),
}

impl<'a> StrColumn<'a> {
    /// The column, or `None` when it is not a string column.
    pub fn new(array: &'a ArrayRef) -> Option<Self> {
        match array.data_type() {
            DataType::Utf8 => Some(StrColumn::Utf8(array.as_string::<i32>())),
            DataType::LargeUtf8 => Some(StrColumn::LargeUtf8(array.as_string::<i64>())),
            DataType::Utf8View => Some(StrColumn::Utf8View(array.as_string_view())),
            _ => None,
        }
    }

    /// Whether a data type is a string flavour this module reads.
    pub fn supports(data_type: &DataType) -> bool {
        matches!(data_type, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
    }

    /// The value of `row`, `None` for null.
    #[inline]
    pub fn get(&self, row: usize) -> Option<&'a str> {
        match self {
            StrColumn::Utf8(a) => (!a.is_null(row)).then(|| a.value(row)),
            StrColumn::LargeUtf8(a) => (!a.is_null(row)).then(|| a.value(row)),
            StrColumn::Utf8View(a) => (!a.is_null(row)).then(|| a.value(row)),
        }
    }
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
}
