//! Column builders for the scalar types the text readers produce (`ndjson`
//! and `csv`: utf8, int64, float64, boolean, date32, timestamp µs UTC, and
//! utf8 dictionary-encoded per batch).
//!
//! Both readers parse a record's fields into values first and append the
//! row only when every field is good, so a bad record leaves no trace; this
//! crate is that second half, shared so the two readers build batches the
//! same way. A value whose kind does not match its column (the readers
//! never produce one) and [`Cell::Null`] append a null. [`Column`] is one
//! such builder on its own, for the scalar leaves of nested columns.

use arrow_array::builder::{
    BooleanBuilder, Date32Builder, Float64Builder, Int64Builder, StringBuilder, StringDictionaryBuilder,
    TimestampMicrosecondBuilder,
};
use arrow_array::types::Int32Type;
use arrow_array::{ArrayRef, RecordBatch, RecordBatchOptions};
use arrow_schema::{ArrowError, DataType, SchemaRef, TimeUnit};
use std::sync::Arc;

/// The Arrow type of a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Utf8,
    /// `dictionary<int32, utf8>`: each distinct string once per batch, and
    /// an int32 key per row. For columns whose values repeat (labels,
    /// names): the batch is a fraction of the size, so it crosses the
    /// sandbox boundary and the host's channels for less, and a consumer
    /// can work once per distinct value.
    DictUtf8,
    Int64,
    Float64,
    Boolean,
    Date32,
    /// Timestamp in microseconds, time zone UTC.
    Micros,
}

impl Kind {
    /// The Arrow type of a column of this kind: the one place the readers
    /// take their scalar types from.
    pub fn data_type(self) -> DataType {
        match self {
            Kind::Utf8 => DataType::Utf8,
            Kind::DictUtf8 => DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
            Kind::Int64 => DataType::Int64,
            Kind::Float64 => DataType::Float64,
            Kind::Boolean => DataType::Boolean,
            Kind::Date32 => DataType::Date32,
            Kind::Micros => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        }
    }
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

/// A builder for one column of a scalar [`Kind`].
pub enum Column {
    Str(StringBuilder),
    /// Deduplicates by hashing each value (arrow's builder); `finish`
    /// starts the next batch with an empty dictionary.
    Dict(StringDictionaryBuilder<Int32Type>),
    Int(Int64Builder),
    Float(Float64Builder),
    Bool(BooleanBuilder),
    Date(Date32Builder),
    Micros(TimestampMicrosecondBuilder),
}

impl Column {
    pub fn new(kind: Kind, n: usize) -> Self {
        match kind {
            Kind::Utf8 => Column::Str(StringBuilder::with_capacity(n, n * 16)),
            Kind::DictUtf8 => Column::Dict(StringDictionaryBuilder::with_capacity(n, n / 16 + 1, n)),
            Kind::Int64 => Column::Int(Int64Builder::with_capacity(n)),
            Kind::Float64 => Column::Float(Float64Builder::with_capacity(n)),
            Kind::Boolean => Column::Bool(BooleanBuilder::with_capacity(n)),
            Kind::Date32 => Column::Date(Date32Builder::with_capacity(n)),
            Kind::Micros => {
                Column::Micros(TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC"))
            }
        }
    }

    /// Appends one value; a mismatched kind or [`Cell::Null`] appends a null.
    ///
    /// A dictionary column panics past 2^31 distinct values in one batch
    /// (its int32 keys), as a utf8 one does past 2 GiB of text: the readers
    /// cap their batches far below either.
    #[inline]
    pub fn append(&mut self, cell: Cell) {
        match (self, cell) {
            (Column::Str(b), Cell::Text(s)) => b.append_value(s),
            (Column::Dict(b), Cell::Text(s)) => b.append_value(s),
            (Column::Int(b), Cell::Int(x)) => b.append_value(x),
            (Column::Float(b), Cell::Float(x)) => b.append_value(x),
            (Column::Bool(b), Cell::Bool(x)) => b.append_value(x),
            (Column::Date(b), Cell::Date(x)) => b.append_value(x),
            (Column::Micros(b), Cell::Micros(x)) => b.append_value(x),
            (Column::Str(b), _) => b.append_null(),
            (Column::Dict(b), _) => b.append_null(),
            (Column::Int(b), _) => b.append_null(),
            (Column::Float(b), _) => b.append_null(),
            (Column::Bool(b), _) => b.append_null(),
            (Column::Date(b), _) => b.append_null(),
            (Column::Micros(b), _) => b.append_null(),
        }
    }

    /// Takes the values so far as an array and starts afresh.
    pub fn finish(&mut self) -> ArrayRef {
        match self {
            Column::Str(b) => Arc::new(b.finish()),
            Column::Dict(b) => Arc::new(b.finish()),
            Column::Int(b) => Arc::new(b.finish()),
            Column::Float(b) => Arc::new(b.finish()),
            Column::Bool(b) => Arc::new(b.finish()),
            Column::Date(b) => Arc::new(b.finish()),
            Column::Micros(b) => Arc::new(b.finish()),
        }
    }
}

/// Builders for every column of `schema`, plus the row count.
pub struct Builders {
    schema: SchemaRef,
    builders: Vec<Column>,
    rows: usize,
}

impl Builders {
    /// Builders of the given kinds (one per field of `schema`, in order),
    /// each with room for `capacity` rows.
    pub fn new(schema: SchemaRef, kinds: impl IntoIterator<Item = Kind>, capacity: usize) -> Self {
        let builders = kinds.into_iter().map(|k| Column::new(k, capacity)).collect();
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
        let arrays: Vec<ArrayRef> = self.builders.iter_mut().map(Column::finish).collect();
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

    #[test]
    fn dictionary_columns_hold_each_value_once_per_batch() {
        use arrow_array::cast::AsArray;
        let mut col = Column::new(Kind::DictUtf8, 4);
        for cell in [Cell::Text("a"), Cell::Text("b"), Cell::Null, Cell::Text("a"), Cell::Int(3)] {
            col.append(cell);
        }
        let array = col.finish();
        let dict = array.as_dictionary::<Int32Type>();
        assert_eq!(dict.values().as_string::<i32>().iter().collect::<Vec<_>>(), [Some("a"), Some("b")]);
        let keys: Vec<Option<i32>> = dict.keys().iter().collect();
        assert_eq!(keys, [Some(0), Some(1), None, Some(0), None]);
        // The next batch starts a new dictionary.
        col.append(Cell::Text("b"));
        let next = col.finish();
        assert_eq!(next.as_dictionary::<Int32Type>().values().len(), 1);
        assert_eq!(next.data_type(), &Kind::DictUtf8.data_type());
        assert_eq!(
            next.data_type(),
            &DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
        );
    }
}
