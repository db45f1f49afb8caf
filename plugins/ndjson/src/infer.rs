//! Inferring the columns from a sample of lines, when `fields` is omitted.
//!
//! The first `sample_rows` non-blank lines of the first input files (at
//! most [`SAMPLE_FILES`] of them, in the order the host lists them) are
//! read in `discover`; a line that is not a JSON object is left out of the
//! sample (it will be rejected when read). Each value adds to the *shape*
//! of its key ([`Shape`]), and the shapes give the types:
//!
//! - the top-level keys are the columns, in the order they first appear,
//!   each read from its key (`path = ["key"]`, so keys holding dots work);
//! - numbers: all integers that fit int64 give `int64`, any fraction or
//!   exponent makes it `float64`; an integer beyond int64 gives `json` (its
//!   digits kept as written, never rounded);
//! - strings: all `YYYY-MM-DD` give `date`; dates and RFC 3339 date-times
//!   give `timestamp`; anything else `string`;
//! - booleans give `boolean`; arrays `list<T>` of their items' type;
//! - objects give `struct<...>` of the union of their keys, in order of
//!   appearance; as in DuckDB, an object with more than [`MAP_KEYS`]
//!   distinct keys, or whose keys appear on average in fewer than
//!   [`MAP_KEY_SHARE`] of its occurrences (labels, tags), is a
//!   `map<string, T>` instead, when all its values have one type;
//! - a key whose values have no common type (a string here, an object
//!   there), or that was only ever null, gives `json`: its JSON text, so
//!   nothing a later line holds is rejected for its type.
//!
//! Every inferred column is nullable. The schema is decided once and every
//! split reads with it; a later value that does not fit its type rejects
//! its line (declare `fields`, or sample more). The result is printed by
//! `runtime validate` and `runtime plan` as `fields = [...]`, to be pasted
//! into the pipeline to fix it.

use crate::options::{Column, FieldType, KeyPath};
use crate::time;
use crate::types::Type;
use runtime_plugin_sdk::inferred::{FieldEntry, toml_string};
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::collections::{HashMap, HashSet};
use std::fmt;

/// Files sampled at most (DuckDB's `maximum_sample_files`).
pub const SAMPLE_FILES: usize = 32;
/// More distinct keys than this make an object a map (DuckDB's
/// `map_inference_threshold`).
pub const MAP_KEYS: usize = 200;
/// Keys appearing on average in fewer than this share of an object's
/// occurrences make it a map (DuckDB's `field_appearance_threshold`).
pub const MAP_KEY_SHARE: f64 = 0.1;

/// What the values seen at one place have in common.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Shape {
    /// Nothing but nulls (or nothing at all).
    #[default]
    Null,
    Bool,
    Int,
    Float,
    /// An integer beyond int64.
    BigInt,
    Str(Strings),
    List(Box<Shape>),
    Object(Object),
    /// Values with no common type.
    Mixed,
}

/// Which kinds of strings were seen.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Strings {
    dates: bool,
    stamps: bool,
    other: bool,
}

/// The keys of the objects seen at one place.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Object {
    keys: Vec<(String, Shape, u64)>,
    index: HashMap<String, usize>,
    /// How many objects were seen.
    objects: u64,
}

impl Object {
    fn entry(&mut self, key: String) -> &mut (String, Shape, u64) {
        let i = match self.index.get(&key) {
            Some(&i) => i,
            None => {
                self.keys.push((key.clone(), Shape::Null, 0));
                self.index.insert(key, self.keys.len() - 1);
                self.keys.len() - 1
            }
        };
        &mut self.keys[i]
    }
}

/// The shape of values of both shapes.
pub fn join(a: Shape, b: Shape) -> Shape {
    match (a, b) {
        (Shape::Null, x) | (x, Shape::Null) => x,
        (Shape::Mixed, _) | (_, Shape::Mixed) => Shape::Mixed,
        (Shape::Int, Shape::Float) | (Shape::Float, Shape::Int) => Shape::Float,
        (Shape::Str(x), Shape::Str(y)) => Shape::Str(Strings {
            dates: x.dates || y.dates,
            stamps: x.stamps || y.stamps,
            other: x.other || y.other,
        }),
        (Shape::List(x), Shape::List(y)) => Shape::List(Box::new(join(*x, *y))),
        (Shape::Object(mut x), Shape::Object(y)) => {
            x.objects += y.objects;
            for (key, shape, seen) in y.keys {
                let e = x.entry(key);
                e.1 = join(std::mem::take(&mut e.1), shape);
                e.2 += seen;
            }
            Shape::Object(x)
        }
        (x, y) if x == y => x,
        _ => Shape::Mixed,
    }
}

/// The type values of this shape are read as.
pub fn type_of(shape: &Shape) -> Type {
    let scalar = Type::Scalar;
    match shape {
        Shape::Null | Shape::Mixed | Shape::BigInt => scalar(FieldType::Json),
        Shape::Bool => scalar(FieldType::Boolean),
        Shape::Int => scalar(FieldType::Int64),
        Shape::Float => scalar(FieldType::Float64),
        Shape::Str(s) if s.other || !(s.dates || s.stamps) => scalar(FieldType::String),
        Shape::Str(s) if s.stamps => scalar(FieldType::Timestamp),
        Shape::Str(_) => scalar(FieldType::Date),
        Shape::List(item) => Type::List(Box::new(type_of(item))),
        Shape::Object(o) if o.keys.is_empty() => scalar(FieldType::Json),
        Shape::Object(o) => {
            let share =
                o.keys.iter().map(|k| k.2 as f64).sum::<f64>() / (o.keys.len() as f64 * o.objects as f64);
            if o.keys.len() > MAP_KEYS || share < MAP_KEY_SHARE {
                let values = o.keys.iter().fold(Shape::Null, |acc, k| join(acc, k.1.clone()));
                if values != Shape::Mixed {
                    return Type::Map(Box::new(type_of(&values)));
                }
            }
            Type::Struct(o.keys.iter().map(|(k, s, _)| (k.clone(), type_of(s))).collect())
        }
    }
}

/// The shape of a sample of lines, one line at a time.
#[derive(Default)]
pub struct Sample {
    top: Object,
    /// Lines that added to the sample.
    pub lines: usize,
}

impl Sample {
    /// Adds one line; a line that is not a JSON object is left out.
    pub fn add(&mut self, line: &[u8]) {
        let mut shape = Shape::Object(Object::default());
        let mut de = serde_json::Deserializer::from_slice(line);
        let ok = de::Deserializer::deserialize_map(&mut de, ShapeSeed { shape: &mut shape })
            .and_then(|()| de.end());
        if ok.is_ok()
            && let Shape::Object(o) = shape
        {
            let top = std::mem::take(&mut self.top);
            if let Shape::Object(joined) = join(Shape::Object(top), Shape::Object(o)) {
                self.top = joined;
            }
            self.lines += 1;
        }
    }

    /// The columns: one per top-level key, named after it. A column needs
    /// a name: an empty key gets one as CSV's unnamed columns do
    /// (`column{i}`), and a name taken by another key gets `_1`, `_2`, ...
    pub fn columns(&self) -> Vec<Column> {
        let n = self.top.keys.len();
        let mut taken: HashSet<String> = self.top.keys.iter().map(|k| k.0.clone()).collect();
        self.top
            .keys
            .iter()
            .enumerate()
            .map(|(i, (key, shape, _))| {
                let name = if key.is_empty() {
                    let base = format!("column{i:0w$}", w = n.to_string().len());
                    let mut name = base.clone();
                    let mut k = 1;
                    while !taken.insert(name.clone()) {
                        name = format!("{base}_{k}");
                        k += 1;
                    }
                    name
                } else {
                    key.clone()
                };
                Column::plain(name, KeyPath(vec![key.clone()]), type_of(shape), true)
            })
            .collect()
    }
}

/// The columns as `fields` entries, to paste under `[source.options]`.
pub fn entries(columns: &[Column]) -> Vec<FieldEntry<'_>> {
    columns
        .iter()
        .map(|c| {
            let mut extra = Vec::new();
            if c.path.0.len() != 1 || c.path.0[0] != c.name {
                let keys: Vec<String> = c.path.0.iter().map(|k| toml_string(k)).collect();
                extra.push(("path", format!("[{}]", keys.join(", "))));
            }
            FieldEntry { name: &c.name, extra, ty: c.ty.to_string() }
        })
        .collect()
}

/// Adds one value to a shape.
struct ShapeSeed<'s> {
    shape: &'s mut Shape,
}

impl ShapeSeed<'_> {
    fn add(self, seen: Shape) {
        *self.shape = join(std::mem::take(self.shape), seen);
    }
}

impl<'de> DeserializeSeed<'de> for ShapeSeed<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ShapeSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.add(Shape::Bool);
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.add(Shape::Int);
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        self.add(if i64::try_from(v).is_ok() { Shape::Int } else { Shape::BigInt });
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.add(Shape::Float);
        Ok(())
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        let date = v.len() == 10 && time::parse_date(v).is_some();
        let stamp = !date && time::parse_micros(v).is_some();
        self.add(Shape::Str(Strings { dates: date, stamps: stamp, other: !date && !stamp }));
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        if *self.shape == Shape::Null {
            *self.shape = Shape::List(Box::default());
        }
        match self.shape {
            Shape::List(item) => while seq.next_element_seed(ShapeSeed { shape: item })?.is_some() {},
            other => {
                *other = Shape::Mixed;
                while seq.next_element::<IgnoredAny>()?.is_some() {}
            }
        }
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        if *self.shape == Shape::Null {
            *self.shape = Shape::Object(Object::default());
        }
        match self.shape {
            Shape::Object(o) => {
                o.objects += 1;
                while let Some(key) = map.next_key::<String>()? {
                    let e = o.entry(key);
                    e.2 += 1;
                    map.next_value_seed(ShapeSeed { shape: &mut e.1 })?;
                }
            }
            other => {
                *other = Shape::Mixed;
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn infer(lines: &[&str]) -> Vec<(String, String)> {
        let mut s = Sample::default();
        lines.iter().for_each(|l| s.add(l.as_bytes()));
        s.columns().into_iter().map(|c| (c.name, c.ty.to_string())).collect()
    }

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
    }

    #[test]
    fn scalars_widen_as_documented() {
        let got = infer(&[
            r#"{"i": 1, "f": 1, "s": "x", "d": "2024-01-02", "t": "2024-01-02", "b": true, "n": null, "big": 1}"#,
            r#"{"i": 2, "f": 2.5, "s": "2024-01-02", "d": "2024-01-03", "t": "2024-01-02T03:04:05Z", "big": 18446744073709551615}"#,
            "not json",
            r#"{"m": 1}"#,
            r#"{"m": "one"}"#,
        ]);
        assert_eq!(
            got,
            pairs(&[
                ("i", "int64"),
                ("f", "float64"),
                ("s", "string"),
                ("d", "date"),
                ("t", "timestamp"),
                ("b", "boolean"),
                ("n", "json"),
                ("big", "json"),
                ("m", "json"),
            ])
        );
    }

    #[test]
    fn nested_values_become_lists_structs_and_maps() {
        let mut lines = vec![
            r#"{"l": [1, 2], "o": {"a": 1, "b": {"c": "x"}}, "e": {}}"#.to_string(),
            r#"{"l": [], "o": {"a": 2, "z": [true]}, "e": {}}"#.to_string(),
        ];
        // Sparse keys, as labels have: a map.
        for i in 0..20 {
            lines.push(format!(r#"{{"labels": {{"k{i}": "v"}}}}"#));
        }
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        assert_eq!(
            infer(&refs),
            pairs(&[
                ("l", "list<int64>"),
                ("o", "struct<a: int64, b: struct<c: string>, z: list<boolean>>"),
                ("e", "json"),
                ("labels", "map<string, string>"),
            ])
        );
    }

    #[test]
    fn printed_fields_name_their_keys_and_quote_their_types() {
        let mut s = Sample::default();
        s.add(br#"{"a.b": 1, "": "x", "n": {"k y": [1.5]}, "column1": 2}"#);
        let columns = s.columns();
        let toml = runtime_plugin_sdk::inferred::fields_toml(&entries(&columns));
        // The name is the path as one key: no `path` needed, dots or not.
        assert!(toml.contains(r#"{ name = "a.b", type = "int64" }"#), "{toml}");
        // The empty key's name is not the name of another key.
        assert!(toml.contains(r#"{ name = "column1_1", path = [""], type = "string" }"#), "{toml}");
        assert!(toml.contains(r#"type = "struct<\"k y\": list<float64>>""#), "{toml}");
    }
}
