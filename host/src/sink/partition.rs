//! Partition values that cannot name a directory.
//!
//! A Delta table partitioned by a column keeps each value's rows under a
//! directory `column=value`, the value percent-encoded as the Delta protocol
//! says (delta-rs encodes the RFC 3986 reserved characters, controls and
//! every non-ASCII byte as `%XX`). File systems limit one path segment to
//! 255 bytes, so a long value (one 10 KiB string is enough) would fail the
//! whole run at commit, after every split succeeded. The router checks each
//! batch bound for a partitioned table here, before the batch is staged: a
//! split holding such a value fails alone, with the column, the row and the
//! length in its reason, and the rest of the run commits.
//!
//! Path traversal is not a concern: `/` and `\` are encoded, and every
//! segment starts with `column=`, so no value makes `.` or `..`.

use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;

/// The longest path segment (`column=value`, encoded) a partition may have:
/// `NAME_MAX` of Linux, macOS and Windows file systems.
pub const MAX_SEGMENT_BYTES: usize = 255;

/// A value too long to be a partition directory.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "partition column `{column}`, row {row}: the value makes a directory name of {bytes} bytes once encoded \
     (`{column}=` and the value, %-encoded), over the file systems' limit of {MAX_SEGMENT_BYTES}; shorten or \
     hash the value in a transform, or partition by another column"
)]
pub struct TooLong {
    pub column: String,
    /// Row within the batch.
    pub row: usize,
    pub bytes: usize,
}

/// Bytes of `value` once percent-encoded for a partition path.
fn encoded_len(value: &[u8]) -> usize {
    value
        .iter()
        .map(|&b| {
            let reserved = b" !\"#$%&'()*+,/:;<=>?@[\\]^`{|}".contains(&b);
            if !(0x20..0x7f).contains(&b) || reserved { 3 } else { 1 }
        })
        .sum()
}

/// Checks every value of the partition columns of `batch`. Only text and
/// binary values can be long; numbers, dates and times always fit.
pub fn check(batch: &RecordBatch, partition_by: &[String]) -> Result<(), TooLong> {
    use arrow_array::cast::AsArray;
    for column in partition_by {
        let Some(array) = batch.column_by_name(column) else { continue };
        let array = match array.data_type() {
            DataType::Dictionary(..) => match arrow_cast::cast(array, &DataType::Utf8) {
                Ok(plain) => plain,
                Err(_) => continue,
            },
            _ => array.clone(),
        };
        let found = match array.data_type() {
            DataType::Utf8 => {
                first_too_long(array.as_string::<i32>().iter().map(|v| v.map(str::as_bytes)), column)
            }
            DataType::LargeUtf8 => {
                first_too_long(array.as_string::<i64>().iter().map(|v| v.map(str::as_bytes)), column)
            }
            DataType::Utf8View => {
                first_too_long(array.as_string_view().iter().map(|v| v.map(str::as_bytes)), column)
            }
            DataType::Binary => first_too_long(array.as_binary::<i32>().iter(), column),
            DataType::LargeBinary => first_too_long(array.as_binary::<i64>().iter(), column),
            _ => None,
        };
        if let Some(e) = found {
            return Err(e);
        }
    }
    Ok(())
}

/// The first of `values` (nulls are `None`) too long to be a segment.
fn first_too_long<'a>(values: impl Iterator<Item = Option<&'a [u8]>>, column: &str) -> Option<TooLong> {
    let prefix = column.len() + 1;
    values.enumerate().find_map(|(row, value)| {
        let bytes = prefix + encoded_len(value?);
        (bytes > MAX_SEGMENT_BYTES).then(|| TooLong { column: column.to_string(), row, bytes })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{ArrayRef, DictionaryArray, Int32Array, StringArray, types::Int32Type};
    use std::sync::Arc;

    fn batch(name: &str, col: ArrayRef) -> RecordBatch {
        RecordBatch::try_from_iter([(name, col)]).unwrap()
    }

    #[test]
    fn encoding_counts_reserved_and_non_ascii_bytes_thrice() {
        assert_eq!(encoded_len(b"abc-_.~"), 7);
        assert_eq!(encoded_len(b"a/b c"), 9);
        assert_eq!(encoded_len("é".as_bytes()), 6);
        assert_eq!(encoded_len(b"\n"), 3);
    }

    #[test]
    fn long_values_are_found_with_their_row_short_ones_pass() {
        let long = "x".repeat(10 * 1024);
        let b = batch("k", Arc::new(StringArray::from(vec![Some("a"), None, Some(long.as_str())])));
        let e = check(&b, &["k".into()]).unwrap_err();
        assert_eq!((e.row, e.bytes), (2, 2 + 10 * 1024));
        assert!(e.to_string().contains("partition column `k`, row 2"), "{e}");
        // 253 plain bytes fit (`k=` makes 255); 85 slashes (255 encoded) do not.
        let fits = "y".repeat(253);
        assert!(check(&batch("k", Arc::new(StringArray::from(vec![fits.as_str()]))), &["k".into()]).is_ok());
        let slashes = "/".repeat(85);
        assert!(
            check(&batch("k", Arc::new(StringArray::from(vec![slashes.as_str()]))), &["k".into()]).is_err()
        );
        // Numbers always fit; columns not partitioned by are not looked at.
        assert!(check(&batch("n", Arc::new(Int32Array::from(vec![1]))), &["n".into()]).is_ok());
        assert!(check(&b, &["other".into()]).is_ok());
    }

    #[test]
    fn dictionary_values_are_checked() {
        let long = "z".repeat(300);
        let dict: DictionaryArray<Int32Type> = vec![long.as_str(), "a"].into_iter().collect();
        assert!(check(&batch("d", Arc::new(dict)), &["d".into()]).is_err());
    }
}
