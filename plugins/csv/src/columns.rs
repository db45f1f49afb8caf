//! Typed columns: a record's fields are converted into [`Cell`]s (all of
//! them, so a bad field leaves no trace), then appended to the builders,
//! which become a record batch every `batch_rows` rows.

use crate::options::FieldType;
use crate::values;
use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use typed_columns::{Builders, Kind};

/// One output column: where it comes from and how it is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    /// Index of the field in the record.
    pub index: usize,
    pub ty: FieldType,
    pub nullable: bool,
    /// Dictionary-encoded per batch (a string column).
    pub dictionary: bool,
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

/// Builders for every output column, plus the row count.
pub struct Columns {
    builders: Builders,
}

impl Columns {
    pub fn new(schema: SchemaRef, columns: &[Column], capacity: usize) -> Self {
        let kinds = columns.iter().map(|c| if c.dictionary { Kind::DictUtf8 } else { c.ty.kind() });
        Columns { builders: Builders::new(schema, kinds, capacity) }
    }

    pub fn rows(&self) -> usize {
        self.builders.rows()
    }

    /// Appends one row: `cells[i]` for column `i`, whose text (for
    /// `Cell::Text`) is `text(i)`.
    pub fn append<'a>(&mut self, cells: &[Cell], text: impl Fn(usize) -> &'a str) {
        self.builders.append_row(cells.iter().enumerate().map(|(i, cell)| match *cell {
            Cell::Null => typed_columns::Cell::Null,
            Cell::Text => typed_columns::Cell::Text(text(i)),
            Cell::Int(x) => typed_columns::Cell::Int(x),
            Cell::Float(x) => typed_columns::Cell::Float(x),
            Cell::Bool(x) => typed_columns::Cell::Bool(x),
            Cell::Date(x) => typed_columns::Cell::Date(x),
            Cell::Micros(x) => typed_columns::Cell::Micros(x),
        }));
    }

    /// Takes the rows so far as a batch and starts afresh.
    pub fn flush(&mut self) -> Result<RecordBatch, arrow_schema::ArrowError> {
        self.builders.flush()
    }
}
