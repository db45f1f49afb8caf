//! The `ndjson` reader's options: which fields to read, their Arrow types,
//! and how big the batches are.

use arrow_schema::{DataType, Field, Schema, TimeUnit};
use runtime_plugin_sdk::error::{Error, Result};
use runtime_plugin_sdk::info::OptionSpec;
use serde::Deserialize;
use std::collections::HashSet;

/// Options as written under `[source.options]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    /// The columns to produce, in order.
    pub fields: Vec<FieldSpec>,
    /// Rows per emitted batch.
    #[serde(default = "default_batch_rows")]
    pub batch_rows: usize,
    /// Longest accepted line in bytes; longer lines are rejected.
    #[serde(default = "default_max_line_bytes")]
    pub max_line_bytes: usize,
}

/// One output column.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldSpec {
    /// Column name in the output.
    pub name: String,
    /// Key of the JSON object to read; defaults to `name`.
    #[serde(default)]
    pub path: Option<String>,
    #[serde(rename = "type")]
    pub ty: FieldType,
    /// When false, a line where the value is null or missing is rejected.
    #[serde(default = "yes")]
    pub nullable: bool,
}

/// The type of a column and how its JSON value is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    /// A JSON string (utf8).
    String,
    /// The JSON text of the value, whatever it is (utf8); null for `null`.
    Json,
    /// A JSON integer (int64).
    Int64,
    /// A JSON number (float64).
    Float64,
    /// A JSON boolean.
    Boolean,
    /// A string holding `YYYY-MM-DD` or an RFC 3339 date-time; date-times are
    /// converted to their UTC calendar date (date32).
    Date,
    /// A string holding an RFC 3339 date-time (timestamp µs, UTC).
    Timestamp,
}

fn default_batch_rows() -> usize {
    16_384
}

fn default_max_line_bytes() -> usize {
    64 << 20
}

fn yes() -> bool {
    true
}

impl FieldSpec {
    /// The JSON key this field reads.
    pub fn key(&self) -> &str {
        self.path.as_deref().unwrap_or(&self.name)
    }
}

impl FieldType {
    pub fn data_type(self) -> DataType {
        match self {
            FieldType::String | FieldType::Json => DataType::Utf8,
            FieldType::Int64 => DataType::Int64,
            FieldType::Float64 => DataType::Float64,
            FieldType::Boolean => DataType::Boolean,
            FieldType::Date => DataType::Date32,
            FieldType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        }
    }
}

impl Options {
    /// Checks what serde cannot: non-empty, unique names and keys, sane sizes.
    pub fn validate(&self) -> Result<()> {
        if self.fields.is_empty() {
            return Err(Error::invalid_options("fields: list at least one field"));
        }
        let mut names = HashSet::new();
        let mut keys = HashSet::new();
        for (i, f) in self.fields.iter().enumerate() {
            if f.name.is_empty() {
                return Err(Error::invalid_options(format!("fields[{i}].name: must not be empty")));
            }
            if !names.insert(f.name.as_str()) {
                return Err(Error::invalid_options(format!(
                    "fields[{i}].name: `{}` appears twice; column names must be unique",
                    f.name
                )));
            }
            if !keys.insert(f.key()) {
                return Err(Error::invalid_options(format!(
                    "fields[{i}]: JSON key `{}` is read by two fields; read it once",
                    f.key()
                )));
            }
        }
        if self.batch_rows == 0 {
            return Err(Error::invalid_options("batch_rows: must be at least 1"));
        }
        if self.max_line_bytes < 16 {
            return Err(Error::invalid_options("max_line_bytes: must be at least 16"));
        }
        Ok(())
    }

    pub fn schema(&self) -> Schema {
        Schema::new(
            self.fields.iter().map(|f| Field::new(&f.name, f.ty.data_type(), f.nullable)).collect::<Vec<_>>(),
        )
    }

    /// The option reference shown by `runtime plugins inspect`.
    pub fn specs() -> Vec<OptionSpec> {
        vec![
            OptionSpec::new(
                "fields",
                "list of {name, path?, type, nullable?}",
                "Columns to read, in order. `type` is one of string, json (the value's JSON text), \
                 int64, float64, boolean, date (YYYY-MM-DD or an RFC 3339 date-time, taken as its \
                 UTC date), timestamp (RFC 3339, µs UTC). `path` is the JSON key (default: name). \
                 `nullable = false` rejects lines where the value is null or missing.",
            )
            .required(),
            OptionSpec::new("batch_rows", "integer", "Rows per emitted batch.").default_value("16384"),
            OptionSpec::new("max_line_bytes", "integer", "Longest accepted line; longer lines are rejected.")
                .default_value("67108864"),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<Options> {
        let o: Options = runtime_plugin_sdk::options::parse(json)?;
        o.validate()?;
        Ok(o)
    }

    #[test]
    fn defaults() {
        let o = parse(r#"{"fields":[{"name":"a","type":"string"}]}"#).unwrap();
        assert_eq!(o.batch_rows, 16_384);
        assert!(o.fields[0].nullable);
        assert_eq!(o.fields[0].key(), "a");
    }

    #[test]
    fn unknown_type_is_named() {
        let e = parse(r#"{"fields":[{"name":"a","type":"strnig"}]}"#).unwrap_err();
        assert!(e.message.starts_with("fields[0].type: unknown variant `strnig`"), "{}", e.message);
    }

    #[test]
    fn duplicate_names_rejected() {
        let e = parse(r#"{"fields":[{"name":"a","type":"string"},{"name":"a","path":"b","type":"json"}]}"#)
            .unwrap_err();
        assert!(e.message.contains("appears twice"), "{}", e.message);
    }

    #[test]
    fn schema_types() {
        let o = parse(r#"{"fields":[{"name":"d","path":"ts","type":"date","nullable":false}]}"#).unwrap();
        let s = o.schema();
        assert_eq!(s.field(0).data_type(), &DataType::Date32);
        assert!(!s.field(0).is_nullable());
    }
}
