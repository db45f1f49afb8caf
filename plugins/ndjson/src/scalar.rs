//! How one JSON value is read as a scalar type: which JSON values each type
//! accepts, what it makes of them, and the error when a value does not fit.
//! Shared by top-level fields ([`crate::line`]) and the leaves of nested
//! ones ([`crate::nested`]), so both read a value the same way.

use crate::options::FieldType;
use crate::time;
use typed_columns::Kind;

/// A scalar read from a JSON value (`json` is read as raw text, elsewhere).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scalar {
    Int(i64),
    Float(f64),
    Bool(bool),
    Date(i32),
    Micros(i64),
    /// The JSON string itself is the value (type `string`).
    Text,
}

/// The error for a value of the wrong kind.
pub fn mismatch(ty: FieldType, found: &str) -> String {
    let want = match ty {
        FieldType::String | FieldType::Date | FieldType::Timestamp => "a string",
        FieldType::Int64 => "an integer",
        FieldType::Float64 => "a number",
        FieldType::Boolean => "a boolean",
        FieldType::Json => "any JSON value",
    };
    format!("expected {want}, found {found}")
}

pub fn of_bool(ty: FieldType, v: bool) -> Result<Scalar, String> {
    match ty {
        FieldType::Boolean => Ok(Scalar::Bool(v)),
        _ => Err(mismatch(ty, "a boolean")),
    }
}

pub fn of_i64(ty: FieldType, v: i64) -> Result<Scalar, String> {
    match ty {
        FieldType::Int64 => Ok(Scalar::Int(v)),
        FieldType::Float64 => Ok(Scalar::Float(v as f64)),
        _ => Err(mismatch(ty, "a number")),
    }
}

pub fn of_u64(ty: FieldType, v: u64) -> Result<Scalar, String> {
    match ty {
        FieldType::Int64 => {
            i64::try_from(v).map(Scalar::Int).map_err(|_| format!("{v} does not fit in int64"))
        }
        FieldType::Float64 => Ok(Scalar::Float(v as f64)),
        _ => Err(mismatch(ty, "a number")),
    }
}

pub fn of_f64(ty: FieldType, v: f64) -> Result<Scalar, String> {
    match ty {
        FieldType::Float64 => Ok(Scalar::Float(v)),
        FieldType::Int64 => Err(format!("expected an integer, found {v}")),
        _ => Err(mismatch(ty, "a number")),
    }
}

pub fn of_str(ty: FieldType, v: &str) -> Result<Scalar, String> {
    match ty {
        FieldType::String => Ok(Scalar::Text),
        FieldType::Date => time::parse_date(v)
            .map(Scalar::Date)
            .ok_or_else(|| format!("`{v}` is not a date (YYYY-MM-DD or RFC 3339)")),
        FieldType::Timestamp => time::parse_micros(v)
            .map(Scalar::Micros)
            .ok_or_else(|| format!("`{v}` is not an RFC 3339 date-time")),
        _ => Err(mismatch(ty, "a string")),
    }
}

/// The builder kind of a scalar type.
pub fn kind(ty: FieldType) -> Kind {
    match ty {
        FieldType::String | FieldType::Json => Kind::Utf8,
        FieldType::Int64 => Kind::Int64,
        FieldType::Float64 => Kind::Float64,
        FieldType::Boolean => Kind::Boolean,
        FieldType::Date => Kind::Date32,
        FieldType::Timestamp => Kind::Micros,
    }
}
