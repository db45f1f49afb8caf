//! Column builders: accumulate the values of valid lines and turn them into a
//! record batch. Scalar columns use [`typed_columns::Column`]; nested ones
//! [`NestedColumn`].

use crate::line::{LineParser, Value};
use crate::nested::NestedColumn;
use crate::options;
use crate::scalar;
use crate::types::Type;
use arrow_array::{ArrayRef, RecordBatch, RecordBatchOptions};
use arrow_schema::SchemaRef;
use typed_columns::{Cell, Column, Kind};

enum Builder {
    Scalar(Column),
    Nested(NestedColumn),
}

/// Builders for every field, plus the checks of nullability.
pub struct Columns {
    schema: SchemaRef,
    builders: Vec<Builder>,
    nullable: Vec<bool>,
    names: Vec<String>,
    rows: usize,
}

impl Columns {
    /// Builders for `columns`, whose schema is `schema`.
    pub fn new(schema: SchemaRef, columns: &[options::Column], capacity: usize) -> Self {
        let builders = columns
            .iter()
            .zip(schema.fields())
            .map(|(c, f)| match &c.ty {
                Type::Scalar(_) if c.dictionary => Builder::Scalar(Column::new(Kind::DictUtf8, capacity)),
                Type::Scalar(t) => Builder::Scalar(Column::new(scalar::kind(*t), capacity)),
                nested => Builder::Nested(NestedColumn::new(nested, f.data_type(), capacity)),
            })
            .collect();
        Columns {
            schema,
            builders,
            nullable: columns.iter().map(|c| c.nullable).collect(),
            names: columns.iter().map(|c| c.name.clone()).collect(),
            rows: 0,
        }
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Checks the parsed line against nullability; the error names the field.
    pub fn check(&self, parser: &LineParser) -> Result<(), String> {
        for (i, v) in parser.values.iter().enumerate() {
            if !self.nullable[i] {
                match v {
                    Value::Absent => return Err(format!("field `{}` is missing", self.names[i])),
                    Value::Null => return Err(format!("field `{}` is null", self.names[i])),
                    _ => {}
                }
            }
        }
        Ok(())
    }

    /// Appends the parsed line (already checked) as one row.
    pub fn append(&mut self, parser: &LineParser, line: &[u8]) {
        for (b, v) in self.builders.iter_mut().zip(&parser.values) {
            match b {
                Builder::Scalar(col) => col.append(match v {
                    Value::Line(_) | Value::Scratch(_) => Cell::Text(parser.text(line, v)),
                    Value::Int(x) => Cell::Int(*x),
                    Value::Float(x) => Cell::Float(*x),
                    Value::Bool(x) => Cell::Bool(*x),
                    Value::Date(x) => Cell::Date(*x),
                    Value::Micros(x) => Cell::Micros(*x),
                    _ => Cell::Null,
                }),
                Builder::Nested(col) => match v {
                    Value::Nested(k) => col.append(&parser.trees[*k]),
                    _ => col.append(&crate::nested::Tree::Null),
                },
            }
        }
        self.rows += 1;
    }

    /// Takes the accumulated rows as a batch (with their count, so a schema
    /// of no columns works too) and starts afresh.
    pub fn flush(&mut self) -> Result<RecordBatch, arrow_schema::ArrowError> {
        let arrays = self
            .builders
            .iter_mut()
            .map(|b| match b {
                Builder::Scalar(col) => Ok(col.finish()),
                Builder::Nested(col) => col.finish(),
            })
            .collect::<Result<Vec<ArrayRef>, _>>()?;
        let options = RecordBatchOptions::new().with_row_count(Some(self.rows));
        self.rows = 0;
        RecordBatch::try_new_with_options(self.schema.clone(), arrays, &options)
    }
}
