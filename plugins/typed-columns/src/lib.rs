//! Column builders for the scalar types the text readers produce (`ndjson`
//! and `csv`: utf8, int64, float64, boolean, date32, timestamp µs UTC).
//!
//! Both readers parse a record's fields into values first and append the
//! row only when every field is good, so a bad record leaves no trace; this
//! crate is that second half, shared so the two readers build batches the
//! same way. A value whose kind does not match its column (the readers
//! never produce one) and [`Cell::Null`] append a null.

use arrow_array::builder::{
    BooleanBuilder, Date32Builder, Float64Builder, Int64Builder, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch, RecordBatchOptions};
use arrow_schema::{ArrowError, SchemaRef};
use std::sync::Arc;

/// The Arrow type of a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Utf8,
    Int64,
    Float64,
    Boolean,
    Date32,
    /// Timestamp in microseconds, time zone UTC.
    Micros,
}

/// One field's value, ready to append.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cell<'a> {
    Null,
    Text(&'a str),
    Int(i64),
    Float(f64),
    Bool(bool),
    Date(i32),
    Micros(i64),
}

enum Builder {
    Str(StringBuilder),
    Int(Int64Builder),
    Float(Float64Builder),
    Bool(BooleanBuilder),
    Date(Date32Builder),
    Micros(TimestampMicrosecondBuilder),
}

impl Builder {
    fn new(kind: Kind, n: usize) -> Self {
        match kind {
            Kind::Utf8 => Builder::Str(StringBuilder::with_capacity(n, n * 16)),
            Kind::Int64 => Builder::Int(Int64Builder::with_capacity(n)),
            Kind::Float64 => Builder::Float(Float64Builder::with_capacity(n)),
            Kind::Boolean => Builder::Bool(BooleanBuilder::with_capacity(n)),
            Kind::Date32 => Builder::Date(Date32Builder::with_capacity(n)),
            Kind::Micros => {
                Builder::Micros(TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC"))
            }
        }
    }

    fn append(&mut self, cell: Cell) {
        match (self, cell) {
            (Builder::Str(b), Cell::Text(s)) => b.append_value(s),
            (Builder::Int(b), Cell::Int(x)) => b.append_value(x),
            (Builder::Float(b), Cell::Float(x)) => b.append_value(x),
            (Builder::Bool(b), Cell::Bool(x)) => b.append_value(x),
            (Builder::Date(b), Cell::Date(x)) => b.append_value(x),
            (Builder::Micros(b), Cell::Micros(x)) => b.append_value(x),
            (Builder::Str(b), _) => b.append_null(),
            (Builder::Int(b), _) => b.append_null(),
            (Builder::Float(b), _) => b.append_null(),
            (Builder::Bool(b), _) => b.append_null(),
            (Builder::Date(b), _) => b.append_null(),
            (Builder::Micros(b), _) => b.append_null(),
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Builder::Str(b) => Arc::new(b.finish()),
            Builder::Int(b) => Arc::new(b.finish()),
            Builder::Float(b) => Arc::new(b.finish()),
            Builder::Bool(b) => Arc::new(b.finish()),
            Builder::Date(b) => Arc::new(b.finish()),
            Builder::Micros(b) => Arc::new(b.finish()),
        }
    }
}

/// Builders for every column of `schema`, plus the row count.
pub struct Builders {
    schema: SchemaRef,
    builders: Vec<Builder>,
    rows: usize,
}

impl Builders {
    /// Builders of the given kinds (one per field of `schema`, in order),
    /// each with room for `capacity` rows.
    pub fn new(schema: SchemaRef, kinds: impl IntoIterator<Item = Kind>, capacity: usize) -> Self {
        let builders = kinds.into_iter().map(|k| Builder::new(k, capacity)).collect();
        Builders { schema, builders, rows: 0 }
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Appends one row: the `i`-th cell to the `i`-th column.
    pub fn append_row<'a>(&mut self, cells: impl IntoIterator<Item = Cell<'a>>) {
        for (b, cell) in self.builders.iter_mut().zip(cells) {
            b.append(cell);
        }
        self.rows += 1;
    }

    /// Takes the rows so far as a batch (with their count, so a schema of
    /// no columns works too) and starts afresh.
    pub fn flush(&mut self) -> Result<RecordBatch, ArrowError> {
        let arrays: Vec<ArrayRef> = self.builders.iter_mut().map(Builder::finish).collect();
        let options = RecordBatchOptions::new().with_row_count(Some(self.rows));
        self.rows = 0;
        RecordBatch::try_new_with_options(self.schema.clone(), arrays, &options)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::Array;
    use arrow_schema::{DataType, Field, Schema, TimeUnit};

    #[test]
    fn rows_become_a_batch_and_mismatches_are_null() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("s", DataType::Utf8, true),
            Field::new("i", DataType::Int64, true),
            Field::new("t", DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())), true),
        ]));
        let mut b = Builders::new(schema.clone(), [Kind::Utf8, Kind::Int64, Kind::Micros], 4);
        b.append_row([Cell::Text("a"), Cell::Int(1), Cell::Micros(5)]);
        b.append_row([Cell::Null, Cell::Float(2.0), Cell::Null]);
        assert_eq!(b.rows(), 2);
        let batch = b.flush().unwrap();
        assert_eq!(batch.schema(), schema);
        assert_eq!(batch.num_rows(), 2);
        assert_eq!(batch.column(1).null_count(), 1);
        assert_eq!(b.rows(), 0);
        assert_eq!(b.flush().unwrap().num_rows(), 0);
    }
}
