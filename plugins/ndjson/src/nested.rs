//! Nested values: list, struct and map fields, read into a typed tree while
//! the line is parsed ([`TreeSeed`] checks every value against the type as
//! it goes, so a tree that exists fits its column) and appended to Arrow
//! arrays once the whole line is good ([`NestedColumn`]).
//!
//! Arrow's own builders for nested types are generic over their children
//! and would have to be downcast at every level; this builder instead keeps
//! the offsets and validity of each level itself and makes the arrays with
//! Arrow's constructors (`ListArray`, `StructArray`, `MapArray`), which check
//! the layout, at the end of the batch. Scalar leaves use
//! [`typed_columns::Column`], as top-level columns do.

use crate::options::FieldType;
use crate::scalar::{self, Scalar};
use crate::types::Type;
use arrow_array::{ArrayRef, ListArray, MapArray, StructArray};
use arrow_buffer::{NullBufferBuilder, OffsetBuffer, ScalarBuffer};
use arrow_schema::{DataType, FieldRef, Fields};
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;
use typed_columns::{Cell, Column, Kind};

/// A nested value that fits its type.
#[derive(Debug, Clone, PartialEq)]
pub enum Tree {
    Null,
    /// A `string` value, or the JSON text of a `json` one.
    Text(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Date(i32),
    Micros(i64),
    List(Vec<Tree>),
    /// One value per member, in the struct's order (absent members null).
    Struct(Vec<Tree>),
    /// Entries in document order.
    Map(Vec<(String, Tree)>),
}

/// Reads a value of type `ty` into a [`Tree`], or fails saying what does
/// not fit.
pub struct TreeSeed<'t> {
    pub ty: &'t Type,
}

impl<'de> DeserializeSeed<'de> for TreeSeed<'_> {
    type Value = Tree;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Tree, D::Error> {
        if *self.ty == Type::Scalar(FieldType::Json) {
            let raw: Box<RawValue> = serde::Deserialize::deserialize(d)?;
            let text = raw.get();
            return Ok(if text == "null" { Tree::Null } else { Tree::Text(text.to_string()) });
        }
        d.deserialize_any(self)
    }
}

impl TreeSeed<'_> {
    /// A scalar JSON value (`found` names its kind in errors; `text` is the
    /// string, if it is one) read by `read` as this leaf's scalar type; a
    /// list, struct or map type does not take it.
    fn leaf<E: de::Error>(
        &self,
        found: &str,
        text: &str,
        read: impl FnOnce(FieldType) -> Result<Scalar, String>,
    ) -> Result<Tree, E> {
        let Type::Scalar(ty) = self.ty else { return Err(E::custom(self.mismatch(found))) };
        Ok(match read(*ty).map_err(E::custom)? {
            Scalar::Int(x) => Tree::Int(x),
            Scalar::Float(x) => Tree::Float(x),
            Scalar::Bool(x) => Tree::Bool(x),
            Scalar::Date(x) => Tree::Date(x),
            Scalar::Micros(x) => Tree::Micros(x),
            Scalar::Text => Tree::Text(text.to_string()),
        })
    }

    fn mismatch(&self, found: &str) -> String {
        match self.ty {
            Type::Scalar(t) => scalar::mismatch(*t, found),
            Type::List(_) => format!("expected an array, found {found}"),
            Type::Struct(_) | Type::Map(_) => format!("expected an object, found {found}"),
        }
    }
}

impl<'de> Visitor<'de> for TreeSeed<'_> {
    type Value = Tree;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a value of type {}", self.ty)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Tree, E> {
        Ok(Tree::Null)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Tree, E> {
        self.leaf("a boolean", "", |t| scalar::of_bool(t, v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Tree, E> {
        self.leaf("a number", "", |t| scalar::of_i64(t, v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Tree, E> {
        self.leaf("a number", "", |t| scalar::of_u64(t, v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Tree, E> {
        self.leaf("a number", "", |t| scalar::of_f64(t, v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Tree, E> {
        self.leaf("a string", v, |t| scalar::of_str(t, v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Tree, A::Error> {
        let Type::List(item) = self.ty else {
            return Err(de::Error::custom(self.mismatch("an array")));
        };
        let mut items = Vec::new();
        while let Some(v) = seq.next_element_seed(TreeSeed { ty: item })? {
            items.push(v);
        }
        Ok(Tree::List(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Tree, A::Error> {
        match self.ty {
            Type::Struct(members) => {
                let mut values = vec![Tree::Null; members.len()];
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    match members.iter().position(|(n, _)| *n == key) {
                        Some(i) => values[i] = map.next_value_seed(TreeSeed { ty: &members[i].1 })?,
                        None => {
                            map.next_value::<de::IgnoredAny>()?;
                        }
                    }
                }
                Ok(Tree::Struct(values))
            }
            Type::Map(value) => {
                let mut entries: Vec<(String, Tree)> = Vec::new();
                let mut seen = HashSet::new();
                while let Some(key) = map.next_key::<String>()? {
                    if !seen.insert(key.clone()) {
                        return Err(de::Error::custom(format!(
                            "key `{key}` appears twice in an object read as a map"
                        )));
                    }
                    let v = map.next_value_seed(TreeSeed { ty: value })?;
                    entries.push((key, v));
                }
                Ok(Tree::Map(entries))
            }
            _ => Err(de::Error::custom(self.mismatch("an object"))),
        }
    }
}

/// Builds the array of one nested column (or of a level inside one).
pub enum NestedColumn {
    Leaf(Column),
    List {
        item: FieldRef,
        offsets: Vec<i32>,
        nulls: NullBufferBuilder,
        child: Box<NestedColumn>,
    },
    Struct {
        members: Fields,
        children: Vec<NestedColumn>,
        nulls: NullBufferBuilder,
    },
    Map {
        entries: FieldRef,
        offsets: Vec<i32>,
        nulls: NullBufferBuilder,
        keys: Column,
        values: Box<NestedColumn>,
    },
}

impl NestedColumn {
    /// A builder for values of `ty`, whose Arrow type is `data_type` (as
    /// [`Type::data_type`] made it, so the field names and marks match the
    /// schema).
    pub fn new(ty: &Type, data_type: &DataType, capacity: usize) -> Self {
        match (ty, data_type) {
            (Type::List(item_ty), DataType::List(item)) => NestedColumn::List {
                item: item.clone(),
                offsets: vec![0],
                nulls: NullBufferBuilder::new(capacity),
                child: Box::new(NestedColumn::new(item_ty, item.data_type(), capacity)),
            },
            (Type::Struct(member_tys), DataType::Struct(members)) => NestedColumn::Struct {
                members: members.clone(),
                children: member_tys
                    .iter()
                    .zip(members.iter())
                    .map(|((_, t), f)| NestedColumn::new(t, f.data_type(), capacity))
                    .collect(),
                nulls: NullBufferBuilder::new(capacity),
            },
            (Type::Map(value_ty), DataType::Map(entries, _)) => {
                let DataType::Struct(kv) = entries.data_type() else {
                    unreachable!("map entries are a struct")
                };
                NestedColumn::Map {
                    entries: entries.clone(),
                    offsets: vec![0],
                    nulls: NullBufferBuilder::new(capacity),
                    keys: Column::new(Kind::Utf8, capacity),
                    values: Box::new(NestedColumn::new(value_ty, kv[1].data_type(), capacity)),
                }
            }
            (Type::Scalar(t), _) => NestedColumn::Leaf(Column::new(scalar::kind(*t), capacity)),
            _ => unreachable!("the Arrow type is made from the type"),
        }
    }

    /// Appends one value (which fits the type: [`TreeSeed`] checked it).
    pub fn append(&mut self, tree: &Tree) {
        match self {
            NestedColumn::Leaf(col) => col.append(match tree {
                Tree::Text(s) => Cell::Text(s),
                Tree::Int(x) => Cell::Int(*x),
                Tree::Float(x) => Cell::Float(*x),
                Tree::Bool(x) => Cell::Bool(*x),
                Tree::Date(x) => Cell::Date(*x),
                Tree::Micros(x) => Cell::Micros(*x),
                _ => Cell::Null,
            }),
            NestedColumn::List { offsets, nulls, child, .. } => {
                let items = match tree {
                    Tree::List(items) => items.as_slice(),
                    _ => &[],
                };
                items.iter().for_each(|t| child.append(t));
                push_offset(offsets, items.len());
                nulls.append(matches!(tree, Tree::List(_)));
            }
            NestedColumn::Struct { children, nulls, .. } => {
                match tree {
                    Tree::Struct(values) => children.iter_mut().zip(values).for_each(|(c, v)| c.append(v)),
                    _ => children.iter_mut().for_each(|c| c.append(&Tree::Null)),
                }
                nulls.append(matches!(tree, Tree::Struct(_)));
            }
            NestedColumn::Map { offsets, nulls, keys, values, .. } => {
                let entries = match tree {
                    Tree::Map(entries) => entries.as_slice(),
                    _ => &[],
                };
                for (k, v) in entries {
                    keys.append(Cell::Text(k));
                    values.append(v);
                }
                push_offset(offsets, entries.len());
                nulls.append(matches!(tree, Tree::Map(_)));
            }
        }
    }

    /// The values so far as an array; starts afresh.
    pub fn finish(&mut self) -> Result<ArrayRef, arrow_schema::ArrowError> {
        Ok(match self {
            NestedColumn::Leaf(col) => col.finish(),
            NestedColumn::List { item, offsets, nulls, child } => Arc::new(ListArray::try_new(
                item.clone(),
                take_offsets(offsets),
                child.finish()?,
                nulls.finish(),
            )?),
            NestedColumn::Struct { members, children, nulls } => {
                let arrays = children.iter_mut().map(NestedColumn::finish).collect::<Result<Vec<_>, _>>()?;
                Arc::new(StructArray::try_new(members.clone(), arrays, nulls.finish())?)
            }
            NestedColumn::Map { entries, offsets, nulls, keys, values } => {
                let DataType::Struct(kv) = entries.data_type() else {
                    unreachable!("map entries are a struct")
                };
                let pairs = StructArray::try_new(kv.clone(), vec![keys.finish(), values.finish()?], None)?;
                Arc::new(MapArray::try_new(
                    entries.clone(),
                    take_offsets(offsets),
                    pairs,
                    nulls.finish(),
                    false,
                )?)
            }
        })
    }
}

fn push_offset(offsets: &mut Vec<i32>, n: usize) {
    let last = *offsets.last().expect("offsets start with 0");
    // A batch holds at most `batch_rows` lines of at most `max_line_bytes`
    // each; 2^31 items in one batch would need lines far longer than that.
    offsets.push(last + i32::try_from(n).expect("fewer than 2^31 items"));
}

fn take_offsets(offsets: &mut Vec<i32>) -> OffsetBuffer<i32> {
    let taken = std::mem::replace(offsets, vec![0]);
    OffsetBuffer::new(ScalarBuffer::from(taken))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::Array;
    use arrow_array::cast::AsArray;
    use arrow_array::types::Int64Type;

    fn read(ty: &str, json: &str) -> Result<Tree, String> {
        let ty = Type::parse(ty).unwrap();
        let mut de = serde_json::Deserializer::from_str(json);
        TreeSeed { ty: &ty }.deserialize(&mut de).map_err(|e| e.to_string())
    }

    #[test]
    fn trees_fit_their_type_or_say_why() {
        assert_eq!(
            read("struct<a: int64, b: list<string>>", r#"{"b": ["x", null], "zz": {"q": 1}}"#).unwrap(),
            Tree::Struct(vec![Tree::Null, Tree::List(vec![Tree::Text("x".into()), Tree::Null])])
        );
        assert_eq!(
            read("map<string, json>", r#"{"k": {"a": [1, 2]}, "j": null}"#).unwrap(),
            Tree::Map(vec![("k".into(), Tree::Text(r#"{"a": [1, 2]}"#.into())), ("j".into(), Tree::Null)])
        );
        assert!(read("list<int64>", "[1, 2.5]").unwrap_err().starts_with("expected an integer, found 2.5"));
        assert!(
            read("list<int64>", r#"{"a": 1}"#).unwrap_err().starts_with("expected an array, found an object")
        );
        assert!(read("struct<a: date>", r#"{"a": "2024-13-01"}"#).unwrap_err().contains("is not a date"));
        assert!(read("map<string, int64>", r#"{"a": 1, "a": 2}"#).unwrap_err().contains("appears twice"));
        assert!(
            read("struct<a: int64>", "[1]").unwrap_err().starts_with("expected an object, found an array")
        );
    }

    #[test]
    fn builds_lists_structs_and_maps_with_nulls_at_every_level() {
        let ty = Type::parse("struct<n: int64, l: list<int64>, m: map<string, string>>").unwrap();
        let dt = ty.data_type(false);
        let mut col = NestedColumn::new(&ty, &dt, 4);
        for json in [r#"{"n": 1, "l": [1, null, 3], "m": {"k": "v"}}"#, "null", r#"{"l": [], "m": null}"#] {
            col.append(&read(&ty.to_string(), json).unwrap());
        }
        let array = col.finish().unwrap();
        assert_eq!(array.data_type(), &dt);
        let s = array.as_struct();
        assert_eq!((s.len(), s.null_count()), (3, 1));
        let l = s.column(1).as_list::<i32>();
        assert_eq!(l.value_length(0), 3);
        assert_eq!(l.value(0).as_primitive::<Int64Type>().null_count(), 1);
        assert!(l.is_valid(2) && l.value_length(2) == 0);
        let m = s.column(2).as_map();
        assert!(m.is_valid(0) && m.is_null(2));
        assert_eq!(m.keys().as_string::<i32>().value(0), "k");
        // Finishing starts afresh.
        assert_eq!(col.finish().unwrap().len(), 0);
    }
}
