//! One schema for many files: the union of their columns by name.
//!
//! Files written at different times rarely agree exactly: a column is added,
//! columns come in another order. The rules, the same for every split:
//!
//! - columns are matched by name; the output has every column of every
//!   readable file, in order of first appearance (files in path order);
//! - a column's type is the one of the first file that has it; a file where
//!   it has another type is incompatible;
//! - a column is nullable in the output when it is nullable in any file;
//! - a file without a column reads it as nulls, if the column is nullable;
//!   a file without a non-nullable column is incompatible.
//!
//! An incompatible file is not read: its split fails naming the column and
//! both types, and the other files are read.

use arrow_schema::{FieldRef, Schema};
use runtime_plugin_sdk::prelude::*;

/// Builds the union of the schemas, in order.
pub fn union<'a>(schemas: impl IntoIterator<Item = &'a Schema>) -> Schema {
    let mut fields: Vec<Field> = Vec::new();
    for schema in schemas {
        for f in schema.fields() {
            match fields.iter_mut().find(|u| u.name() == f.name()) {
                Some(u) if u.data_type() == f.data_type() => {
                    if f.is_nullable() && !u.is_nullable() {
                        *u = u.clone().with_nullable(true);
                    }
                }
                Some(_) => {} // incompatible: reported by `check`
                None => fields.push(f.as_ref().clone()),
            }
        }
    }
    Schema::new(fields)
}

/// Why a file with `file` schema cannot be read as `wanted` (some columns
/// of the union, in any order); `None` when it can.
pub fn check(file: &Schema, wanted: &[FieldRef]) -> Option<String> {
    for w in wanted {
        match file.field_with_name(w.name()) {
            Ok(f) if f.data_type() != w.data_type() => {
                return Some(format!(
                    "column `{}` is {} in this file but {} in the others",
                    w.name(),
                    f.data_type(),
                    w.data_type()
                ));
            }
            Ok(_) => {}
            Err(_) if !w.is_nullable() => {
                return Some(format!(
                    "the file has no column `{}`, which other files have as non-nullable",
                    w.name()
                ));
            }
            Err(_) => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema(fields: &[(&str, DataType, bool)]) -> Schema {
        Schema::new(fields.iter().map(|(n, t, null)| Field::new(*n, t.clone(), *null)).collect::<Vec<_>>())
    }

    #[test]
    fn union_by_name_in_order_of_appearance() {
        let a = schema(&[("id", DataType::Int64, false), ("name", DataType::Utf8, true)]);
        let b = schema(&[("extra", DataType::Float64, true), ("id", DataType::Int64, true)]);
        let u = union([&a, &b]);
        let names: Vec<_> = u.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(names, ["id", "name", "extra"]);
        assert!(u.field(0).is_nullable(), "nullable in one file: nullable");
        assert_eq!(check(&a, u.fields()), None, "a lacks `extra`, which is nullable");
        assert_eq!(check(&b, u.fields()), None);
    }

    #[test]
    fn incompatible_types_and_missing_required_columns() {
        let a = schema(&[("id", DataType::Int64, false)]);
        let b = schema(&[("id", DataType::Utf8, false)]);
        let c = schema(&[("other", DataType::Utf8, true)]);
        let u = union([&a, &b]);
        assert_eq!(u.field(0).data_type(), &DataType::Int64, "the first file's type");
        let why = check(&b, u.fields()).unwrap();
        assert_eq!(why, "column `id` is Utf8 in this file but Int64 in the others");
        let why = check(&c, u.fields()).unwrap();
        assert!(why.contains("no column `id`"), "{why}");
    }
}
