//! Arrow column types and builders shared by both databases.
//!
//! Each source maps its own column types to a [`ColumnType`] (see the type
//! mapping table in the crate README), then appends decoded values to a
//! [`ColumnBuilder`]. [`BatchBuilder`] holds one builder per column and turns
//! them into a `RecordBatch` every `fetch_size` rows.

use arrow_array::builder::{
    BinaryBuilder, BooleanBuilder, Date32Builder, Decimal128Builder, Float32Builder, Float64Builder,
    Int16Builder, Int32Builder, Int64Builder, StringBuilder, Time64MicrosecondBuilder,
    TimestampMicrosecondBuilder,
};
use arrow_array::{ArrayRef, ListArray, RecordBatch};
use arrow_buffer::{NullBufferBuilder, OffsetBuffer, ScalarBuffer};
use arrow_schema::{DataType, Field, FieldRef, Schema, SchemaRef, TimeUnit};
use runtime_plugin_sdk::error::{Error, Result};
use std::sync::Arc;

/// The Arrow type of one output column.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnType {
    Boolean,
    Int16,
    Int32,
    Int64,
    Float32,
    Float64,
    /// decimal128(precision, scale), precision 1..=38.
    Decimal {
        precision: u8,
        scale: i8,
    },
    Utf8,
    Binary,
    Date32,
    /// time64(µs).
    Time64,
    /// timestamp(µs) without time zone.
    Timestamp,
    /// timestamp(µs, "UTC").
    TimestampUtc,
    /// list<item> of a scalar type.
    List(Box<ColumnType>),
}

impl ColumnType {
    /// The Arrow data type.
    pub fn data_type(&self) -> DataType {
        match self {
            ColumnType::Boolean => DataType::Boolean,
            ColumnType::Int16 => DataType::Int16,
            ColumnType::Int32 => DataType::Int32,
            ColumnType::Int64 => DataType::Int64,
            ColumnType::Float32 => DataType::Float32,
            ColumnType::Float64 => DataType::Float64,
            ColumnType::Decimal { precision, scale } => DataType::Decimal128(*precision, *scale),
            ColumnType::Utf8 => DataType::Utf8,
            ColumnType::Binary => DataType::Binary,
            ColumnType::Date32 => DataType::Date32,
            ColumnType::Time64 => DataType::Time64(TimeUnit::Microsecond),
            ColumnType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, None),
            ColumnType::TimestampUtc => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            ColumnType::List(item) => DataType::List(list_item_field(item)),
        }
    }

    /// Rough width of one value in bytes, for split size hints.
    pub fn estimated_width(&self) -> u64 {
        match self {
            ColumnType::Boolean => 1,
            ColumnType::Int16 => 2,
            ColumnType::Int32 | ColumnType::Date32 | ColumnType::Float32 => 4,
            ColumnType::Int64
            | ColumnType::Float64
            | ColumnType::Time64
            | ColumnType::Timestamp
            | ColumnType::TimestampUtc => 8,
            ColumnType::Decimal { .. } => 16,
            ColumnType::Utf8 | ColumnType::Binary => 32,
            ColumnType::List(item) => 4 + 4 * item.estimated_width(),
        }
    }
}

fn list_item_field(item: &ColumnType) -> FieldRef {
    Arc::new(Field::new("item", item.data_type(), true))
}

/// The Arrow schema of named columns; every field is nullable because
/// neither database reports nullability of query results reliably.
pub fn schema_of(columns: &[(String, ColumnType)]) -> SchemaRef {
    Arc::new(Schema::new(
        columns.iter().map(|(name, ty)| Field::new(name, ty.data_type(), true)).collect::<Vec<_>>(),
    ))
}

/// Accumulates the values of one column.
pub enum ColumnBuilder {
    Boolean(BooleanBuilder),
    Int16(Int16Builder),
    Int32(Int32Builder),
    Int64(Int64Builder),
    Float32(Float32Builder),
    Float64(Float64Builder),
    Decimal(Decimal128Builder, u8, i8),
    Utf8(StringBuilder),
    Binary(BinaryBuilder),
    Date32(Date32Builder),
    Time64(Time64MicrosecondBuilder),
    Timestamp(TimestampMicrosecondBuilder, bool),
    List(Box<ListColumn>),
}

/// A list column: offsets and validity here, element values in `values`.
pub struct ListColumn {
    pub offsets: Vec<i32>,
    pub nulls: NullBufferBuilder,
    pub values: ColumnBuilder,
    field: FieldRef,
}

impl ListColumn {
    /// Closes the current list after its elements were appended to `values`.
    pub fn close(&mut self, elements: usize) -> Result<()> {
        let last = *self.offsets.last().unwrap_or(&0);
        let next = i32::try_from(elements)
            .ok()
            .and_then(|n| last.checked_add(n))
            .ok_or_else(|| Error::unsupported("a list column exceeds 2^31 elements in one batch"))?;
        self.offsets.push(next);
        self.nulls.append_non_null();
        Ok(())
    }
}

impl ColumnBuilder {
    pub fn new(ty: &ColumnType, capacity: usize) -> Result<Self> {
        Ok(match ty {
            ColumnType::Boolean => ColumnBuilder::Boolean(BooleanBuilder::with_capacity(capacity)),
            ColumnType::Int16 => ColumnBuilder::Int16(Int16Builder::with_capacity(capacity)),
            ColumnType::Int32 => ColumnBuilder::Int32(Int32Builder::with_capacity(capacity)),
            ColumnType::Int64 => ColumnBuilder::Int64(Int64Builder::with_capacity(capacity)),
            ColumnType::Float32 => ColumnBuilder::Float32(Float32Builder::with_capacity(capacity)),
            ColumnType::Float64 => ColumnBuilder::Float64(Float64Builder::with_capacity(capacity)),
            ColumnType::Decimal { precision, scale } => ColumnBuilder::Decimal(
                Decimal128Builder::with_capacity(capacity).with_precision_and_scale(*precision, *scale)?,
                *precision,
                *scale,
            ),
            ColumnType::Utf8 => ColumnBuilder::Utf8(StringBuilder::with_capacity(capacity, capacity * 16)),
            ColumnType::Binary => {
                ColumnBuilder::Binary(BinaryBuilder::with_capacity(capacity, capacity * 16))
            }
            ColumnType::Date32 => ColumnBuilder::Date32(Date32Builder::with_capacity(capacity)),
            ColumnType::Time64 => ColumnBuilder::Time64(Time64MicrosecondBuilder::with_capacity(capacity)),
            ColumnType::Timestamp => {
                ColumnBuilder::Timestamp(TimestampMicrosecondBuilder::with_capacity(capacity), false)
            }
            ColumnType::TimestampUtc => ColumnBuilder::Timestamp(
                TimestampMicrosecondBuilder::with_capacity(capacity).with_timezone("UTC"),
                true,
            ),
            ColumnType::List(item) => {
                let mut offsets = Vec::with_capacity(capacity + 1);
                offsets.push(0);
                ColumnBuilder::List(Box::new(ListColumn {
                    offsets,
                    nulls: NullBufferBuilder::new(capacity),
                    values: ColumnBuilder::new(item, capacity)?,
                    field: list_item_field(item),
                }))
            }
        })
    }

    pub fn append_null(&mut self) {
        match self {
            ColumnBuilder::Boolean(b) => b.append_null(),
            ColumnBuilder::Int16(b) => b.append_null(),
            ColumnBuilder::Int32(b) => b.append_null(),
            ColumnBuilder::Int64(b) => b.append_null(),
            ColumnBuilder::Float32(b) => b.append_null(),
            ColumnBuilder::Float64(b) => b.append_null(),
            ColumnBuilder::Decimal(b, ..) => b.append_null(),
            ColumnBuilder::Utf8(b) => b.append_null(),
            ColumnBuilder::Binary(b) => b.append_null(),
            ColumnBuilder::Date32(b) => b.append_null(),
            ColumnBuilder::Time64(b) => b.append_null(),
            ColumnBuilder::Timestamp(b, _) => b.append_null(),
            ColumnBuilder::List(l) => {
                let last = *l.offsets.last().unwrap_or(&0);
                l.offsets.push(last);
                l.nulls.append_null();
            }
        }
    }

    /// Builds the array and resets the builder.
    pub fn finish(&mut self) -> ArrayRef {
        match self {
            ColumnBuilder::Boolean(b) => Arc::new(b.finish()),
            ColumnBuilder::Int16(b) => Arc::new(b.finish()),
            ColumnBuilder::Int32(b) => Arc::new(b.finish()),
            ColumnBuilder::Int64(b) => Arc::new(b.finish()),
            ColumnBuilder::Float32(b) => Arc::new(b.finish()),
            ColumnBuilder::Float64(b) => Arc::new(b.finish()),
            ColumnBuilder::Decimal(b, ..) => Arc::new(b.finish()),
            ColumnBuilder::Utf8(b) => Arc::new(b.finish()),
            ColumnBuilder::Binary(b) => Arc::new(b.finish()),
            ColumnBuilder::Date32(b) => Arc::new(b.finish()),
            ColumnBuilder::Time64(b) => Arc::new(b.finish()),
            ColumnBuilder::Timestamp(b, _) => Arc::new(b.finish()),
            ColumnBuilder::List(l) => {
                let offsets = std::mem::replace(&mut l.offsets, vec![0]);
                let nulls = l.nulls.finish();
                let values = l.values.finish();
                let offsets = OffsetBuffer::new(ScalarBuffer::from(offsets));
                Arc::new(ListArray::new(l.field.clone(), offsets, values, nulls))
            }
        }
    }

    /// A short name of the builder's type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            ColumnBuilder::Boolean(_) => "boolean",
            ColumnBuilder::Int16(_) => "int16",
            ColumnBuilder::Int32(_) => "int32",
            ColumnBuilder::Int64(_) => "int64",
            ColumnBuilder::Float32(_) => "float32",
            ColumnBuilder::Float64(_) => "float64",
            ColumnBuilder::Decimal(..) => "decimal128",
            ColumnBuilder::Utf8(_) => "utf8",
            ColumnBuilder::Binary(_) => "binary",
            ColumnBuilder::Date32(_) => "date32",
            ColumnBuilder::Time64(_) => "time64",
            ColumnBuilder::Timestamp(..) => "timestamp",
            ColumnBuilder::List(_) => "list",
        }
    }
}

/// One builder per column, flushed into a `RecordBatch` every `fetch_size`
/// rows through the `emit` callback.
pub struct BatchBuilder {
    schema: SchemaRef,
    pub columns: Vec<ColumnBuilder>,
    rows: usize,
    fetch_size: usize,
    /// Rows emitted so far.
    pub emitted: u64,
}

impl BatchBuilder {
    pub fn new(schema: SchemaRef, types: &[ColumnType], fetch_size: usize) -> Result<Self> {
        let capacity = fetch_size.min(1 << 16);
        let columns = types.iter().map(|t| ColumnBuilder::new(t, capacity)).collect::<Result<Vec<_>>>()?;
        Ok(BatchBuilder { schema, columns, rows: 0, fetch_size: fetch_size.max(1), emitted: 0 })
    }

    /// Counts one complete row; emits a batch when `fetch_size` rows are
    /// buffered.
    pub fn row_done(&mut self, emit: &mut dyn FnMut(RecordBatch) -> Result<()>) -> Result<()> {
        self.rows += 1;
        if self.rows >= self.fetch_size { self.flush(emit) } else { Ok(()) }
    }

    /// Emits the buffered rows, if any.
    pub fn flush(&mut self, emit: &mut dyn FnMut(RecordBatch) -> Result<()>) -> Result<()> {
        if self.rows == 0 {
            return Ok(());
        }
        let arrays = self.columns.iter_mut().map(ColumnBuilder::finish).collect();
        let batch = RecordBatch::try_new(self.schema.clone(), arrays)?;
        self.emitted += self.rows as u64;
        self.rows = 0;
        emit(batch)
    }
}

/// Parses a decimal number (`-12.5`, `3`, `1e3`, `.25`) into an integer
/// scaled by `10^scale`, rounding half away from zero when it has more
/// fraction digits. `None` when it is not a number or does not fit.
pub fn parse_decimal(text: &str, scale: i8) -> Option<i128> {
    let text = text.trim();
    let (negative, body) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], body[i + 1..].parse::<i32>().ok()?),
        None => (body, 0),
    };
    let (int_part, frac_part) = match mantissa.find('.') {
        Some(i) => (&mantissa[..i], &mantissa[i + 1..]),
        None => (mantissa, ""),
    };
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    let mut digits: Vec<u8> = Vec::with_capacity(int_part.len() + frac_part.len());
    for c in int_part.bytes().chain(frac_part.bytes()) {
        if !c.is_ascii_digit() {
            return None;
        }
        digits.push(c - b'0');
    }
    // value = digits * 10^(exponent - frac_len); we want value * 10^scale.
    let shift = exponent - frac_part.len() as i32 + scale as i32;
    let mut acc: i128 = 0;
    let keep = if shift >= 0 { digits.len() } else { digits.len().saturating_sub((-shift) as usize) };
    for &d in &digits[..keep] {
        acc = acc.checked_mul(10)?.checked_add(d as i128)?;
    }
    if shift > 0 {
        acc = acc.checked_mul(10i128.checked_pow(shift as u32)?)?;
    } else if shift < 0 && keep < digits.len() && digits[keep] >= 5 {
        acc = acc.checked_add(1)?;
    }
    Some(if negative { -acc } else { acc })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::Array;
    use arrow_array::cast::AsArray;
    use arrow_array::types::Int64Type;

    #[test]
    fn decimal_parsing_scales_and_rounds() {
        assert_eq!(parse_decimal("12.345", 2), Some(1235));
        assert_eq!(parse_decimal("-12.344", 2), Some(-1234));
        assert_eq!(parse_decimal("7", 3), Some(7000));
        assert_eq!(parse_decimal(".5", 0), Some(1));
        assert_eq!(parse_decimal("1e3", 1), Some(10000));
        assert_eq!(parse_decimal("1.5e-1", 2), Some(15));
        assert_eq!(parse_decimal("abc", 2), None);
        assert_eq!(parse_decimal("", 2), None);
        assert_eq!(parse_decimal("99999999999999999999999999999999999999", 0), Some(10i128.pow(38) - 1));
        assert_eq!(parse_decimal("999999999999999999999999999999999999999", 1), None);
    }

    #[test]
    fn list_builder_keeps_nulls_and_offsets() {
        let ty = ColumnType::List(Box::new(ColumnType::Int64));
        let mut b = ColumnBuilder::new(&ty, 4).unwrap();
        let ColumnBuilder::List(l) = &mut b else { unreachable!() };
        let ColumnBuilder::Int64(v) = &mut l.values else { unreachable!() };
        v.append_value(1);
        v.append_null();
        l.close(2).unwrap();
        b.append_null();
        let ColumnBuilder::List(l) = &mut b else { unreachable!() };
        l.close(0).unwrap();
        let array = b.finish();
        let list = array.as_list::<i32>();
        assert_eq!(list.len(), 3);
        assert!(list.is_null(1));
        assert_eq!(list.value(0).as_primitive::<Int64Type>().len(), 2);
        assert_eq!(list.value(2).len(), 0);
        assert_eq!(array.data_type(), &ty.data_type());
    }
}
