//! Values of the supported Arrow types as bytes: encoding a row's value,
//! comparing and measuring encoded values, and building an array of the
//! original type back from them.
//!
//! Group keys, distinct values and min/max are all kept in this encoding, so
//! grouping hashes plain bytes, sorting compares them, and output rebuilds the
//! input's exact types. An encoded value is a marker byte (0 = null,
//! 1 = value) followed, for a value, by its payload:
//!
//! | types | payload |
//! |---|---|
//! | bool | one byte, 0 or 1 |
//! | int8–int64, uint8–uint64, date32, date64, timestamp, time32/64, duration | native little-endian bytes |
//! | float32, float64 | little-endian bytes, with -0.0 as 0.0 and every NaN as the canonical NaN |
//! | utf8, large_utf8, utf8_view, binary, large_binary, binary_view | length (u32 LE) + bytes |
//!
//! Two values encode to the same bytes exactly when SQL `GROUP BY` puts them
//! in one group (nulls form their own group; -0.0 groups with 0.0; NaNs
//! group together). Ordering, used for the sorted output: numbers by value
//! (floats by IEEE total order, NaN last), strings and binary by bytes (for
//! UTF-8 that is code-point order), false before true, and nulls after every
//! value.

use arrow_array::cast::AsArray;
use arrow_array::{
    Array, ArrayRef, BinaryArray, BinaryViewArray, BooleanArray, LargeBinaryArray, make_array,
};
use arrow_buffer::{Buffer, MutableBuffer, NullBuffer, NullBufferBuilder, OffsetBuffer, ScalarBuffer};
use arrow_data::ArrayDataBuilder;
use arrow_schema::DataType;
use runtime_plugin_sdk::error::{Error, Result};
use std::cmp::Ordering;
use std::sync::Arc;

const NULL: u8 = 0;
const VALID: u8 = 1;

/// How a type's payload is laid out and ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Repr {
    Bool,
    /// Two's complement integer of this many bytes.
    Signed(usize),
    /// Unsigned integer of this many bytes.
    Unsigned(usize),
    Float32,
    Float64,
    /// Length-prefixed bytes.
    Bytes,
}

/// A supported data type and its encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueType {
    data_type: DataType,
    repr: Repr,
}

impl ValueType {
    /// The encoding of `data_type`, or `None` when it is not supported.
    pub fn new(data_type: &DataType) -> Option<ValueType> {
        use DataType as D;
        let repr = match data_type {
            D::Boolean => Repr::Bool,
            D::Int8 => Repr::Signed(1),
            D::Int16 => Repr::Signed(2),
            D::Int32 | D::Date32 | D::Time32(_) => Repr::Signed(4),
            D::Int64 | D::Date64 | D::Time64(_) | D::Timestamp(_, _) | D::Duration(_) => Repr::Signed(8),
            D::UInt8 => Repr::Unsigned(1),
            D::UInt16 => Repr::Unsigned(2),
            D::UInt32 => Repr::Unsigned(4),
            D::UInt64 => Repr::Unsigned(8),
            D::Float32 => Repr::Float32,
            D::Float64 => Repr::Float64,
            D::Utf8 | D::LargeUtf8 | D::Utf8View | D::Binary | D::LargeBinary | D::BinaryView => Repr::Bytes,
            _ => return None,
        };
        Some(ValueType { data_type: data_type.clone(), repr })
    }

    /// Words for error messages listing what is supported.
    pub const SUPPORTED: &'static str = "bool, int8–int64, uint8–uint64, float32, float64, date32, date64, \
        timestamp, time32, time64, duration, utf8, large_utf8, utf8_view, binary, large_binary, binary_view";

    pub fn data_type(&self) -> &DataType {
        &self.data_type
    }

    /// Prepares reading `array`, which must be of this type.
    pub fn reader(&self, array: &ArrayRef) -> Result<ValueReader> {
        if array.data_type() != &self.data_type {
            return Err(Error::invalid_input(format!(
                "expected a column of type {}, found {}",
                self.data_type,
                array.data_type()
            )));
        }
        let nulls = array.logical_nulls();
        let values = match self.repr {
            Repr::Bool => Values::Bool(array.as_boolean().clone()),
            Repr::Signed(width) | Repr::Unsigned(width) => Values::Fixed(fixed_values(array, width), width),
            Repr::Float32 => Values::Float32(fixed_values(array, 4)),
            Repr::Float64 => Values::Float64(fixed_values(array, 8)),
            Repr::Bytes => match &self.data_type {
                DataType::Utf8 => Values::Binary(BinaryArray::from(array.as_string::<i32>().clone())),
                DataType::LargeUtf8 => {
                    Values::LargeBinary(LargeBinaryArray::from(array.as_string::<i64>().clone()))
                }
                DataType::Utf8View => Values::BinaryView(array.as_string_view().clone().to_binary_view()),
                DataType::Binary => Values::Binary(array.as_binary::<i32>().clone()),
                DataType::LargeBinary => Values::LargeBinary(array.as_binary::<i64>().clone()),
                DataType::BinaryView => Values::BinaryView(array.as_binary_view().clone()),
                other => return Err(Error::internal(format!("no byte reader for {other}"))),
            },
        };
        Ok(ValueReader { values, nulls })
    }

    /// The length of the encoded value at the start of `bytes`.
    #[inline]
    pub fn encoded_len(&self, bytes: &[u8]) -> usize {
        if bytes[0] == NULL {
            return 1;
        }
        1 + match self.repr {
            Repr::Bool => 1,
            Repr::Signed(w) | Repr::Unsigned(w) => w,
            Repr::Float32 => 4,
            Repr::Float64 => 8,
            Repr::Bytes => 4 + read_len(&bytes[1..]),
        }
    }

    /// Compares the encoded values at the start of `a` and `b`; also returns
    /// their lengths so that callers can walk concatenated values.
    #[inline]
    pub fn compare(&self, a: &[u8], b: &[u8]) -> (Ordering, usize, usize) {
        let (la, lb) = (self.encoded_len(a), self.encoded_len(b));
        let ordering = match (a[0], b[0]) {
            (NULL, NULL) => Ordering::Equal,
            (NULL, _) => Ordering::Greater,
            (_, NULL) => Ordering::Less,
            _ => {
                let (pa, pb) = (&a[1..la], &b[1..lb]);
                match self.repr {
                    Repr::Bool => pa.cmp(pb),
                    Repr::Signed(_) => signed(pa).cmp(&signed(pb)),
                    Repr::Unsigned(_) => unsigned(pa).cmp(&unsigned(pb)),
                    Repr::Float32 => f32::from_le_bytes(fixed(pa)).total_cmp(&f32::from_le_bytes(fixed(pb))),
                    Repr::Float64 => f64::from_le_bytes(fixed(pa)).total_cmp(&f64::from_le_bytes(fixed(pb))),
                    Repr::Bytes => pa[4..].cmp(&pb[4..]),
                }
            }
        };
        (ordering, la, lb)
    }

    /// A builder for an array of this type.
    pub fn builder(&self, capacity: usize) -> ValueBuilder {
        let width = match self.repr {
            Repr::Bool | Repr::Bytes => 0,
            Repr::Signed(w) | Repr::Unsigned(w) => w,
            Repr::Float32 => 4,
            Repr::Float64 => 8,
        };
        ValueBuilder {
            value_type: self.clone(),
            width,
            data: MutableBuffer::new(capacity * width.max(1)),
            offsets: if self.repr == Repr::Bytes { vec![0] } else { Vec::new() },
            bools: Vec::new(),
            nulls: NullBufferBuilder::new(capacity),
            len: 0,
        }
    }
}

/// The value buffer of a fixed-width array, starting at its first row.
fn fixed_values(array: &ArrayRef, width: usize) -> Buffer {
    let data = array.to_data();
    data.buffers()[0].slice_with_length(data.offset() * width, data.len() * width)
}

fn fixed<const N: usize>(bytes: &[u8]) -> [u8; N] {
    bytes[..N].try_into().expect("payload has the type's width")
}

#[inline]
fn read_len(bytes: &[u8]) -> usize {
    u32::from_le_bytes(fixed(bytes)) as usize
}

/// Sign-extends a little-endian integer of 1 to 8 bytes.
#[inline]
fn signed(bytes: &[u8]) -> i64 {
    let mut buf = [0u8; 8];
    buf[..bytes.len()].copy_from_slice(bytes);
    let shift = 64 - 8 * bytes.len() as u32;
    (i64::from_le_bytes(buf) << shift) >> shift
}

#[inline]
fn unsigned(bytes: &[u8]) -> u64 {
    let mut buf = [0u8; 8];
    buf[..bytes.len()].copy_from_slice(bytes);
    u64::from_le_bytes(buf)
}

enum Values {
    Bool(BooleanArray),
    Fixed(Buffer, usize),
    Float32(Buffer),
    Float64(Buffer),
    Binary(BinaryArray),
    LargeBinary(LargeBinaryArray),
    BinaryView(BinaryViewArray),
}

/// Reads one column of one batch, value by value.
pub struct ValueReader {
    values: Values,
    nulls: Option<NullBuffer>,
}

impl ValueReader {
    #[inline]
    pub fn is_null(&self, row: usize) -> bool {
        self.nulls.as_ref().is_some_and(|n| n.is_null(row))
    }

    /// Appends the encoded value of `row` to `out`.
    #[inline]
    pub fn encode(&self, row: usize, out: &mut Vec<u8>) {
        if self.is_null(row) {
            out.push(NULL);
            return;
        }
        out.push(VALID);
        match &self.values {
            Values::Bool(a) => out.push(u8::from(a.value(row))),
            Values::Fixed(buf, w) => out.extend_from_slice(&buf.as_slice()[row * w..(row + 1) * w]),
            Values::Float32(buf) => {
                let v = f32::from_le_bytes(fixed(&buf.as_slice()[row * 4..]));
                let v = if v == 0.0 {
                    0.0
                } else if v.is_nan() {
                    f32::NAN
                } else {
                    v
                };
                out.extend_from_slice(&v.to_le_bytes());
            }
            Values::Float64(buf) => {
                let v = f64::from_le_bytes(fixed(&buf.as_slice()[row * 8..]));
                let v = if v == 0.0 {
                    0.0
                } else if v.is_nan() {
                    f64::NAN
                } else {
                    v
                };
                out.extend_from_slice(&v.to_le_bytes());
            }
            Values::Binary(a) => push_bytes(a.value(row), out),
            Values::LargeBinary(a) => push_bytes(a.value(row), out),
            Values::BinaryView(a) => push_bytes(a.value(row), out),
        }
    }
}

#[inline]
fn push_bytes(bytes: &[u8], out: &mut Vec<u8>) {
    // Arrow arrays with i32 offsets cannot hold more; a large_utf8 value
    // above 4 GiB is not a realistic group key.
    let len = u32::try_from(bytes.len()).expect("value shorter than 4 GiB");
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(bytes);
}

/// Builds an array of a [`ValueType`] from encoded values.
pub struct ValueBuilder {
    value_type: ValueType,
    width: usize,
    /// Fixed-width payloads, or the concatenated bytes of byte values.
    data: MutableBuffer,
    offsets: Vec<usize>,
    bools: Vec<bool>,
    nulls: NullBufferBuilder,
    len: usize,
}

impl ValueBuilder {
    /// Appends the encoded value at the start of `bytes`; returns its length.
    #[inline]
    pub fn push(&mut self, bytes: &[u8]) -> usize {
        let n = self.value_type.encoded_len(bytes);
        let valid = bytes[0] != NULL;
        self.nulls.append(valid);
        self.len += 1;
        match self.value_type.repr {
            Repr::Bool => self.bools.push(valid && bytes[1] != 0),
            Repr::Bytes => {
                if valid {
                    self.data.extend_from_slice(&bytes[5..n]);
                }
                self.offsets.push(self.data.len());
            }
            _ if valid => self.data.extend_from_slice(&bytes[1..n]),
            _ => self.data.extend_zeros(self.width),
        }
        n
    }

    /// Appends a null.
    pub fn push_null(&mut self) {
        self.push(&[NULL]);
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The array of everything pushed.
    pub fn finish(self) -> Result<ArrayRef> {
        let ValueBuilder { value_type, data, offsets, bools, mut nulls, len, .. } = self;
        let nulls = nulls.finish();
        let array: ArrayRef = match (&value_type.repr, &value_type.data_type) {
            (Repr::Bool, _) => Arc::new(BooleanArray::new(bools.into(), nulls)),
            (Repr::Bytes, DataType::Utf8) => {
                Arc::new(arrow_array::StringArray::try_new(offsets_of(&offsets)?, data.into(), nulls)?)
            }
            (Repr::Bytes, DataType::LargeUtf8) => {
                Arc::new(arrow_array::LargeStringArray::try_new(offsets_of(&offsets)?, data.into(), nulls)?)
            }
            (Repr::Bytes, DataType::Binary) => {
                Arc::new(BinaryArray::try_new(offsets_of(&offsets)?, data.into(), nulls)?)
            }
            (Repr::Bytes, DataType::LargeBinary) => {
                Arc::new(LargeBinaryArray::try_new(offsets_of(&offsets)?, data.into(), nulls)?)
            }
            (Repr::Bytes, DataType::Utf8View) => {
                let data = data.as_slice();
                let mut b = arrow_array::builder::StringViewBuilder::with_capacity(len);
                for (i, w) in offsets.windows(2).enumerate() {
                    if nulls.as_ref().is_some_and(|n| n.is_null(i)) {
                        b.append_null();
                    } else {
                        let s = std::str::from_utf8(&data[w[0]..w[1]])
                            .map_err(|e| Error::internal(format!("invalid UTF-8 in a string value: {e}")))?;
                        b.append_value(s);
                    }
                }
                Arc::new(b.finish())
            }
            (Repr::Bytes, DataType::BinaryView) => {
                let data = data.as_slice();
                let mut b = arrow_array::builder::BinaryViewBuilder::with_capacity(len);
                for (i, w) in offsets.windows(2).enumerate() {
                    if nulls.as_ref().is_some_and(|n| n.is_null(i)) {
                        b.append_null();
                    } else {
                        b.append_value(&data[w[0]..w[1]]);
                    }
                }
                Arc::new(b.finish())
            }
            (Repr::Bytes, other) => return Err(Error::internal(format!("no byte builder for {other}"))),
            _ => {
                let data = ArrayDataBuilder::new(value_type.data_type.clone())
                    .len(len)
                    .add_buffer(data.into())
                    .nulls(nulls)
                    .build()?;
                make_array(data)
            }
        };
        Ok(array)
    }
}

/// Offsets of the Arrow width `O`, or an error when the data is too long.
fn offsets_of<O: arrow_array::OffsetSizeTrait>(offsets: &[usize]) -> Result<OffsetBuffer<O>> {
    let converted = offsets
        .iter()
        .map(|&o| O::from_usize(o))
        .collect::<Option<Vec<O>>>()
        .ok_or_else(|| Error::unsupported("more than 2 GiB of string data in one output batch"))?;
    Ok(OffsetBuffer::new(ScalarBuffer::from(converted)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{
        Date32Array, Float64Array, Int16Array, Int64Array, LargeStringArray, StringArray, StringViewArray,
        TimestampMicrosecondArray, UInt64Array,
    };

    fn encode_all(array: &ArrayRef) -> Vec<Vec<u8>> {
        let vt = ValueType::new(array.data_type()).unwrap();
        let reader = vt.reader(array).unwrap();
        (0..array.len())
            .map(|i| {
                let mut out = Vec::new();
                reader.encode(i, &mut out);
                assert_eq!(vt.encoded_len(&out), out.len());
                out
            })
            .collect()
    }

    /// Encoding then building gives the same array back.
    fn round_trip(array: ArrayRef) {
        let vt = ValueType::new(array.data_type()).unwrap();
        let mut builder = vt.builder(array.len());
        for encoded in encode_all(&array) {
            assert_eq!(builder.push(&encoded), encoded.len());
        }
        let back = builder.finish().unwrap();
        assert_eq!(&back, &array);
    }

    #[test]
    fn round_trips() {
        round_trip(Arc::new(StringArray::from(vec![Some("a"), None, Some(""), Some("é\"\\")])));
        round_trip(Arc::new(LargeStringArray::from(vec![Some("x"), None])));
        round_trip(Arc::new(StringViewArray::from(vec![
            Some("a long string value, longer than twelve"),
            None,
        ])));
        round_trip(Arc::new(BinaryArray::from(vec![Some(&b"\x00\xff"[..]), None])));
        round_trip(Arc::new(Int16Array::from(vec![Some(-3), None, Some(i16::MAX)])));
        round_trip(Arc::new(UInt64Array::from(vec![Some(u64::MAX), None])));
        round_trip(Arc::new(Date32Array::from(vec![Some(19783), None])));
        round_trip(Arc::new(Float64Array::from(vec![Some(1.5), None, Some(-2.25)])));
        round_trip(Arc::new(BooleanArray::from(vec![Some(true), None, Some(false)])));
        round_trip(Arc::new(TimestampMicrosecondArray::from(vec![Some(-1), None]).with_timezone("UTC")));
    }

    #[test]
    fn sliced_arrays_encode_their_own_rows() {
        let array: ArrayRef = Arc::new(Int64Array::from(vec![1, 2, 3, 4]).slice(2, 2));
        let sliced = Arc::new(Int64Array::from(vec![3, 4])) as ArrayRef;
        assert_eq!(encode_all(&array), encode_all(&sliced));
        let array: ArrayRef = Arc::new(StringArray::from(vec!["a", "b", "c"]).slice(1, 2));
        assert_eq!(
            encode_all(&array),
            encode_all(&(Arc::new(StringArray::from(vec!["b", "c"])) as ArrayRef))
        );
    }

    #[test]
    fn zero_and_nan_group_together() {
        let array: ArrayRef = Arc::new(Float64Array::from(vec![0.0, -0.0, f64::NAN, -f64::NAN]));
        let e = encode_all(&array);
        assert_eq!(e[0], e[1]);
        assert_eq!(e[2], e[3]);
    }

    fn sorted(array: ArrayRef) -> Vec<usize> {
        let vt = ValueType::new(array.data_type()).unwrap();
        let e = encode_all(&array);
        let mut idx: Vec<usize> = (0..e.len()).collect();
        idx.sort_by(|&a, &b| vt.compare(&e[a], &e[b]).0);
        idx
    }

    #[test]
    fn ordering() {
        let ints: ArrayRef = Arc::new(Int16Array::from(vec![Some(5), None, Some(-300), Some(7)]));
        assert_eq!(sorted(ints), [2, 0, 3, 1]);
        let strs: ArrayRef =
            Arc::new(StringArray::from(vec![Some("app"), Some("Zed"), None, Some("é"), Some("ap")]));
        assert_eq!(sorted(strs), [1, 4, 0, 3, 2]);
        let floats: ArrayRef = Arc::new(Float64Array::from(vec![f64::NAN, 1.0, -1.0, f64::NEG_INFINITY]));
        assert_eq!(sorted(floats), [3, 2, 1, 0]);
        let big: ArrayRef = Arc::new(UInt64Array::from(vec![u64::MAX, 1]));
        assert_eq!(sorted(big), [1, 0]);
    }

    #[test]
    fn reader_checks_the_type() {
        let vt = ValueType::new(&DataType::Int64).unwrap();
        let array: ArrayRef = Arc::new(Int16Array::from(vec![1]));
        let err = vt.reader(&array).err().unwrap();
        assert_eq!(err.message, "expected a column of type Int64, found Int16");
        assert!(ValueType::new(&DataType::Float16).is_none());
    }
}
