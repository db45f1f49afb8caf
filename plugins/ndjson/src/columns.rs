//! Column builders: accumulate the values of valid lines and turn them into a
//! record batch.

use crate::line::{LineParser, Value};
use crate::options::{FieldSpec, FieldType};
use arrow_array::builder::{
    BooleanBuilder, Date32Builder, Float64Builder, Int64Builder, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::SchemaRef;
use std::sync::Arc;

enum Column {
    Str(StringBuilder),
    Int(Int64Builder),
    Float(Float64Builder),
    Bool(BooleanBuilder),
    Date(Date32Builder),
    Micros(TimestampMicrosecondBuilder),
}

/// Builders for every field, plus the row count.
pub struct Columns {
    schema: SchemaRef,
    columns: Vec<Column>,
    nullable: Vec<bool>,
    names: Vec<String>,
    rows: usize,
    capacity: usize,
}

impl Columns {
    pub fn new(schema: SchemaRef, fields: &[FieldSpec], capacity: usize) -> Self {
        let mut c = Columns {
            schema,
            columns: Vec::new(),
            nullable: fields.iter().map(|f| f.nullable).collect(),
            names: fields.iter().map(|f| f.name.clone()).collect(),
            rows: 0,
            capacity,
        };
        c.columns = fields.iter().map(|f| c.builder(f.ty)).collect();
        c
    }

    fn builder(&self, ty: FieldType) -> Column {
        let n = self.capacity;
        match ty {
            FieldType::String | FieldType::Json => Column::Str(StringBuilder::with_capacity(n, n * 16)),
            FieldType::Int64 => Column::Int(Int64Builder::with_capacity(n)),
            FieldType::Float64 => Column::Float(Float64Builder::with_capacity(n)),
            FieldType::Boolean => Column::Bool(BooleanBuilder::with_capacity(n)),
            FieldType::Date => Column::Date(Date32Builder::with_capacity(n)),
            FieldType::Timestamp => {
                Column::Micros(TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC"))
            }
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
        for (col, v) in self.columns.iter_mut().zip(&parser.values) {
            match (col, v) {
                (Column::Str(b), Value::Line(_) | Value::Scratch(_)) => b.append_value(parser.text(line, v)),
                (Column::Int(b), Value::Int(x)) => b.append_value(*x),
                (Column::Float(b), Value::Float(x)) => b.append_value(*x),
                (Column::Bool(b), Value::Bool(x)) => b.append_value(*x),
                (Column::Date(b), Value::Date(x)) => b.append_value(*x),
                (Column::Micros(b), Value::Micros(x)) => b.append_value(*x),
                (Column::Str(b), _) => b.append_null(),
                (Column::Int(b), _) => b.append_null(),
                (Column::Float(b), _) => b.append_null(),
                (Column::Bool(b), _) => b.append_null(),
                (Column::Date(b), _) => b.append_null(),
                (Column::Micros(b), _) => b.append_null(),
            }
        }
        self.rows += 1;
    }

    /// Takes the accumulated rows as a batch and starts afresh.
    pub fn flush(&mut self) -> Result<RecordBatch, arrow_schema::ArrowError> {
        let arrays: Vec<ArrayRef> = self
            .columns
            .iter_mut()
            .map(|c| -> ArrayRef {
                match c {
                    Column::Str(b) => Arc::new(b.finish()),
                    Column::Int(b) => Arc::new(b.finish()),
                    Column::Float(b) => Arc::new(b.finish()),
                    Column::Bool(b) => Arc::new(b.finish()),
                    Column::Date(b) => Arc::new(b.finish()),
                    Column::Micros(b) => Arc::new(b.finish()),
                }
            })
            .collect();
        self.rows = 0;
        RecordBatch::try_new(self.schema.clone(), arrays)
    }
}
