//! The output column of one batch: plain utf8 (every row holds its JSON), or
//! with `dictionary = true` a `dictionary<int32, utf8>` whose dictionary holds
//! each distinct JSON of the batch once and whose keys point into it.
//!
//! Outputs are identified by their id in the cache's level 2, so a row
//! whose output is already in this batch's dictionary costs one `Vec`
//! lookup. Ids are only stable until the cache empties its level 2; the
//! caller passes the cache's reset count, and a change starts a fresh id map
//! (earlier dictionary entries stay; a dictionary may hold a value twice).

use arrow_array::builder::{ArrayBuilder, StringBuilder};
use arrow_array::types::Int32Type;
use arrow_array::{ArrayRef, DictionaryArray, Int32Array};
use arrow_schema::DataType;
use runtime_plugin_sdk::error::{Error, Result};
use std::sync::Arc;

/// The output data type for the `dictionary` option.
pub fn output_type(dictionary: bool) -> DataType {
    if dictionary {
        DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
    } else {
        DataType::Utf8
    }
}

/// The output column being built.
pub enum OutputColumn {
    Plain(StringBuilder),
    Dictionary {
        keys: Vec<i32>,
        values: StringBuilder,
        /// Dictionary index of each cache output id in this batch, or -1.
        index_of: Vec<i32>,
        /// The cache reset count `index_of` was built under.
        resets: u64,
    },
}

impl OutputColumn {
    /// A column for `rows` rows; `bytes` is the expected size of plain
    /// values.
    pub fn new(dictionary: bool, rows: usize, bytes: usize) -> Self {
        if dictionary {
            OutputColumn::Dictionary {
                keys: Vec::with_capacity(rows),
                values: StringBuilder::new(),
                index_of: Vec::new(),
                resets: 0,
            }
        } else {
            OutputColumn::Plain(StringBuilder::with_capacity(rows, bytes))
        }
    }

    /// Appends a row whose output has cache id `id` (under cache reset count
    /// `resets`) and text `text`. Fails when a utf8 column would pass 2 GiB.
    #[inline]
    pub fn push(&mut self, id: u32, resets: u64, text: &str) -> Result<()> {
        match self {
            OutputColumn::Plain(builder) => {
                if builder.values_slice().len() + text.len() > i32::MAX as usize {
                    return Err(Error::unsupported(
                        "the labels of one batch exceed 2 GiB of utf8; use smaller batches or `dictionary = true`",
                    ));
                }
                builder.append_value(text)
            }
            OutputColumn::Dictionary { keys, values, index_of, resets: seen } => {
                if *seen != resets {
                    index_of.clear();
                    *seen = resets;
                }
                let id = id as usize;
                if id >= index_of.len() {
                    index_of.resize(id + 1, -1);
                }
                if index_of[id] < 0 {
                    index_of[id] = values.len() as i32;
                    values.append_value(text);
                }
                keys.push(index_of[id]);
            }
        }
        Ok(())
    }

    /// Bytes of plain values written (0 for a dictionary column).
    pub fn plain_bytes(&self) -> usize {
        match self {
            OutputColumn::Plain(builder) => builder.values_slice().len(),
            OutputColumn::Dictionary { .. } => 0,
        }
    }

    pub fn finish(self) -> Result<ArrayRef> {
        Ok(match self {
            OutputColumn::Plain(mut builder) => Arc::new(builder.finish()),
            OutputColumn::Dictionary { keys, mut values, .. } => Arc::new(
                DictionaryArray::<Int32Type>::try_new(Int32Array::from(keys), Arc::new(values.finish()))?,
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::cast::AsArray;
    use arrow_array::{Array, StringArray};

    #[test]
    fn plain_column() {
        let mut column = OutputColumn::new(false, 2, 8);
        column.push(0, 0, "{}").unwrap();
        column.push(0, 0, "{}").unwrap();
        assert_eq!(column.plain_bytes(), 4);
        let array = column.finish().unwrap();
        assert_eq!(array.as_string::<i32>(), &StringArray::from(vec!["{}", "{}"]));
    }

    #[test]
    fn dictionary_column_holds_each_output_once() {
        let mut column = OutputColumn::new(true, 5, 0);
        for (id, resets, text) in [(3, 0, "a"), (1, 0, "b"), (3, 0, "a"), (3, 1, "c"), (1, 1, "b")] {
            // At (3, 1, "c") the cache has emptied its level 2: id 3 now
            // means something else.
            column.push(id, resets, text).unwrap();
        }
        let array = column.finish().unwrap();
        assert_eq!(array.data_type(), &output_type(true));
        let dictionary = array.as_dictionary::<Int32Type>();
        assert_eq!(dictionary.keys(), &Int32Array::from(vec![0, 1, 0, 2, 3]));
        assert_eq!(dictionary.values().as_string::<i32>(), &StringArray::from(vec!["a", "b", "c", "b"]));
    }
}
