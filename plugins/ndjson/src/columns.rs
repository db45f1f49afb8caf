//! Column builders: accumulate the values of valid lines and turn them into a
//! record batch.

use crate::line::{LineParser, Value};
use crate::options::{FieldSpec, FieldType};
use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use typed_columns::{Builders, Cell, Kind};

/// Builders for every field, plus the checks of nullability.
pub struct Columns {
    builders: Builders,
    nullable: Vec<bool>,
    names: Vec<String>,
}

fn kind(ty: FieldType) -> Kind {
    match ty {
        FieldType::String | FieldType::Json => Kind::Utf8,
        FieldType::Int64 => Kind::Int64,
        FieldType::Float64 => Kind::Float64,
        FieldType::Boolean => Kind::Boolean,
        FieldType::Date => Kind::Date32,
        FieldType::Timestamp => Kind::Micros,
    }
}

impl Columns {
    pub fn new(schema: SchemaRef, fields: &[FieldSpec], capacity: usize) -> Self {
        Columns {
            builders: Builders::new(schema, fields.iter().map(|f| kind(f.ty)), capacity),
            nullable: fields.iter().map(|f| f.nullable).collect(),
            names: fields.iter().map(|f| f.name.clone()).collect(),
        }
    }

    pub fn rows(&self) -> usize {
        self.builders.rows()
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
        self.builders.append_row(parser.values.iter().map(|v| match v {
            Value::Line(_) | Value::Scratch(_) => Cell::Text(parser.text(line, v)),
            Value::Int(x) => Cell::Int(*x),
            Value::Float(x) => Cell::Float(*x),
            Value::Bool(x) => Cell::Bool(*x),
            Value::Date(x) => Cell::Date(*x),
            Value::Micros(x) => Cell::Micros(*x),
            _ => Cell::Null,
        }));
    }

    /// Takes the accumulated rows as a batch and starts afresh.
    pub fn flush(&mut self) -> Result<RecordBatch, arrow_schema::ArrowError> {
        self.builders.flush()
    }
}
