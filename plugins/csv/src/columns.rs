//! Typed columns: a record's fields are converted into [`Cell`]s (all of
//! them, so a bad field leaves no trace), then appended to the builders,
//! which become a record batch every `batch_rows` rows.

use crate::options::FieldType;
use crate::values;
use arrow_array::builder::{
    BooleanBuilder, Date32Builder, Float64Builder, Int64Builder, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::SchemaRef;
use std::sync::Arc;

/// One output column: where it comes from and how it is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    /// Index of the field in the record.
    pub index: usize,
    pub ty: FieldType,
    pub nullable: bool,
}

/// A converted field.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cell {
    Null,
    /// The field's text (checked UTF-8): take it from the record again.
    Text,
    Int(i64),
    Float(f64),
    Bool(bool),
    Date(i32),
    Micros(i64),
}

/// Converts `raw` for `column`, or says why it cannot. `utf8` says that
/// `raw` is known to be valid UTF-8.
pub fn convert(column: &Column, raw: &[u8], utf8: bool, nulls: &[Vec<u8>]) -> Result<Cell, String> {
    if nulls.iter().any(|n| n.as_slice() == raw) {
        return if column.nullable {
            Ok(Cell::Null)
        } else {
            Err(format!("field `{}` is null", column.name))
        };
    }
    let bad = |what: &str| {
        let shown: String = String::from_utf8_lossy(raw).chars().take(64).collect();
        format!("field `{}`: `{}` is not {what}", column.name, shown.escape_debug())
    };
    match column.ty {
        FieldType::String if utf8 => Ok(Cell::Text),
        FieldType::String => match std::str::from_utf8(raw) {
            Ok(_) => Ok(Cell::Text),
            Err(e) => {
                Err(format!("field `{}` is not valid UTF-8 (at byte {})", column.name, e.valid_up_to()))
            }
        },
        FieldType::Int64 => values::parse_int(raw).map(Cell::Int).ok_or_else(|| bad("an int64")),
        FieldType::Float64 => values::parse_float(raw).map(Cell::Float).ok_or_else(|| bad("a float64")),
        FieldType::Boolean => values::parse_bool(raw).map(Cell::Bool).ok_or_else(|| bad("a boolean")),
        FieldType::Date => values::parse_date(raw).map(Cell::Date).ok_or_else(|| bad("a date (YYYY-MM-DD)")),
        FieldType::Timestamp => values::parse_timestamp(raw)
            .map(Cell::Micros)
            .ok_or_else(|| bad("a timestamp (YYYY-MM-DD HH:MM:SS)")),
    }
}

enum Builder {
    Str(StringBuilder),
    Int(Int64Builder),
    Float(Float64Builder),
    Bool(BooleanBuilder),
    Date(Date32Builder),
    Micros(TimestampMicrosecondBuilder),
}

/// Builders for every output column, plus the row count.
pub struct Columns {
    schema: SchemaRef,
    builders: Vec<Builder>,
    rows: usize,
}

impl Columns {
    pub fn new(schema: SchemaRef, columns: &[Column], capacity: usize) -> Self {
        let n = capacity;
        let builders = columns
            .iter()
            .map(|c| match c.ty {
                FieldType::String => Builder::Str(StringBuilder::with_capacity(n, n * 16)),
                FieldType::Int64 => Builder::Int(Int64Builder::with_capacity(n)),
                FieldType::Float64 => Builder::Float(Float64Builder::with_capacity(n)),
                FieldType::Boolean => Builder::Bool(BooleanBuilder::with_capacity(n)),
                FieldType::Date => Builder::Date(Date32Builder::with_capacity(n)),
                FieldType::Timestamp => {
                    Builder::Micros(TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC"))
                }
            })
            .collect();
        Columns { schema, builders, rows: 0 }
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Appends one row: `cells[i]` for column `i`, whose text (for
    /// `Cell::Text`) is `text(i)`.
    pub fn append<'a>(&mut self, cells: &[Cell], text: impl Fn(usize) -> &'a str) {
        for (i, (b, cell)) in self.builders.iter_mut().zip(cells).enumerate() {
            match (b, cell) {
                (Builder::Str(b), Cell::Text) => b.append_value(text(i)),
                (Builder::Int(b), Cell::Int(x)) => b.append_value(*x),
                (Builder::Float(b), Cell::Float(x)) => b.append_value(*x),
                (Builder::Bool(b), Cell::Bool(x)) => b.append_value(*x),
                (Builder::Date(b), Cell::Date(x)) => b.append_value(*x),
                (Builder::Micros(b), Cell::Micros(x)) => b.append_value(*x),
                (Builder::Str(b), _) => b.append_null(),
                (Builder::Int(b), _) => b.append_null(),
                (Builder::Float(b), _) => b.append_null(),
                (Builder::Bool(b), _) => b.append_null(),
                (Builder::Date(b), _) => b.append_null(),
                (Builder::Micros(b), _) => b.append_null(),
            }
        }
        self.rows += 1;
    }

    /// Takes the rows so far as a batch and starts afresh.
    pub fn flush(&mut self) -> Result<RecordBatch, arrow_schema::ArrowError> {
        let arrays: Vec<ArrayRef> = self
            .builders
            .iter_mut()
            .map(|b| -> ArrayRef {
                match b {
                    Builder::Str(b) => Arc::new(b.finish()),
                    Builder::Int(b) => Arc::new(b.finish()),
                    Builder::Float(b) => Arc::new(b.finish()),
                    Builder::Bool(b) => Arc::new(b.finish()),
                    Builder::Date(b) => Arc::new(b.finish()),
                    Builder::Micros(b) => Arc::new(b.finish()),
                }
            })
            .collect();
        let rows = self.rows;
        self.rows = 0;
        let options = arrow_array::RecordBatchOptions::new().with_row_count(Some(rows));
        RecordBatch::try_new_with_options(self.schema.clone(), arrays, &options)
    }
}
