//! Parsing one NDJSON line into typed values, without building a JSON tree.
//!
//! A serde visitor walks the line's object once: keys are matched against the
//! configured paths (a tree of keys, [`Keys`]: a dotted path descends into
//! the objects on its way), unknown keys are skipped, and each value is
//! checked against its field's type as it is read. Scalar values are stored
//! as [`Value`]s that point into the line (or into a scratch buffer for
//! strings with escapes), so a line of scalars costs no allocation; a
//! nested value (list, struct, map) is read into a typed tree
//! ([`crate::nested::Tree`]). Only when the whole line is valid do its
//! values reach the column builders: a bad line leaves no trace.

use crate::nested::{Tree, TreeSeed};
use crate::options::{Column, FieldType};
use crate::scalar::{self, Scalar};
use crate::types::Type;
use serde::Deserializer as _;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;
use std::fmt;
use std::ops::Range;

/// One parsed value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// The key was not in the line.
    Absent,
    Null,
    /// Text at this byte range of the line.
    Line(Range<usize>),
    /// Text at this byte range of the scratch buffer (unescaped strings).
    Scratch(Range<usize>),
    Int(i64),
    Float(f64),
    Bool(bool),
    Date(i32),
    Micros(i64),
    /// A non-null nested value: this index of [`LineParser::trees`].
    Nested(usize),
}

/// What a key of an object leads to: the value of a field, an object
/// holding deeper paths, or both (`metadata.labels` as a map and
/// `metadata.labels.app` as a string).
#[derive(Default)]
struct Slot {
    field: Option<usize>,
    /// Boxed: most keys lead to no deeper paths, and a small slot keeps the
    /// map that is probed for every key of every line compact.
    below: Option<Box<Keys>>,
}

/// The keys read at one level of objects. Every key of every line is
/// looked up here, so the map hashes with foldhash (hashbrown's default)
/// rather than SipHash: the keys in it are the configured ones, so lines
/// cannot grow or collide it.
#[derive(Default)]
pub struct Keys(hashbrown::HashMap<Box<str>, Slot>);

impl Keys {
    /// The tree of every column's path.
    fn of(columns: &[Column]) -> Keys {
        let mut root = Keys::default();
        for (i, c) in columns.iter().enumerate() {
            let (last, on_the_way) = c.path.0.split_last().expect("paths are not empty");
            let mut level = &mut root;
            for key in on_the_way {
                let slot = level.0.entry(key.as_str().into()).or_default();
                level = slot.below.get_or_insert_default().as_mut();
            }
            level.0.entry(last.as_str().into()).or_default().field = Some(i);
        }
        root
    }
}

/// The type of a field, as the parser reads it.
enum Reads {
    Scalar(FieldType),
    Nested(Type),
}

/// Parses lines for a fixed list of fields.
pub struct LineParser {
    reads: Vec<Reads>,
    keys: Keys,
    /// The values of the last parsed line, one per field.
    pub values: Vec<Value>,
    /// Unescaped string data of the last parsed line.
    pub scratch: String,
    /// Nested values of the last parsed line.
    pub trees: Vec<Tree>,
}

impl LineParser {
    pub fn new(columns: &[Column]) -> Self {
        LineParser {
            reads: columns
                .iter()
                .map(|c| match &c.ty {
                    Type::Scalar(t) => Reads::Scalar(*t),
                    nested => Reads::Nested(nested.clone()),
                })
                .collect(),
            keys: Keys::of(columns),
            values: vec![Value::Absent; columns.len()],
            scratch: String::new(),
            trees: Vec::new(),
        }
    }

    /// Parses one line (without its newline). On success `values` holds one
    /// value per field; on failure the error says what is wrong and where.
    pub fn parse(&mut self, line: &[u8]) -> Result<(), String> {
        self.values.iter_mut().for_each(|v| *v = Value::Absent);
        self.scratch.clear();
        self.trees.clear();
        let mut de = serde_json::Deserializer::from_slice(line);
        let mut state = State {
            reads: &self.reads,
            values: &mut self.values,
            scratch: &mut self.scratch,
            trees: &mut self.trees,
            base: line.as_ptr() as usize,
        };
        let visitor = ObjectVisitor { keys: &self.keys, state: &mut state, top: true };
        de.deserialize_map(visitor).and_then(|()| de.end()).map_err(|e| clean_error(&e))
    }

    /// The text of a `Line` or `Scratch` value.
    pub fn text<'a>(&'a self, line: &'a [u8], value: &Value) -> &'a str {
        match value {
            // The range was produced from a `&str` borrowed from `line`, so
            // it lies on UTF-8 boundaries of valid UTF-8.
            Value::Line(r) => std::str::from_utf8(&line[r.clone()]).unwrap_or(""),
            Value::Scratch(r) => &self.scratch[r.clone()],
            _ => "",
        }
    }
}

/// serde_json reports positions as "at line 1 column N"; within one line the
/// column is what helps.
fn clean_error(e: &serde_json::Error) -> String {
    let msg = e.to_string();
    match msg.rfind(" at line 1 column ") {
        Some(i) => format!("{} at column {}", &msg[..i], &msg[i + " at line 1 column ".len()..]),
        None => msg,
    }
}

/// Where the values of a line go while it is parsed.
struct State<'p> {
    reads: &'p [Reads],
    values: &'p mut [Value],
    scratch: &'p mut String,
    trees: &'p mut Vec<Tree>,
    base: usize,
}

/// Reads one object: the line itself (`top`), or an object on the way to
/// deeper paths, where `null` means every field below is absent.
struct ObjectVisitor<'k, 's, 'p> {
    keys: &'k Keys,
    state: &'s mut State<'p>,
    top: bool,
}

impl<'de> DeserializeSeed<'de> for ObjectVisitor<'_, '_, '_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ObjectVisitor<'_, '_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(if self.top { "a JSON object" } else { "an object (the path goes through it)" })
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        if self.top { Err(E::invalid_type(de::Unexpected::Unit, &self)) } else { Ok(()) }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(slot) = map.next_key_seed(KeySeed { keys: self.keys })? {
            match slot.map_or((None, None), |s| (s.field, s.below.as_deref())) {
                (Some(i), None) => map.next_value_seed(FieldSeed { state: self.state, i })?,
                (None, Some(keys)) => {
                    map.next_value_seed(ObjectVisitor { keys, state: self.state, top: false })?
                }
                (Some(i), Some(keys)) => {
                    // Read for the field, then again for the paths below it.
                    let raw: &'de RawValue = map.next_value()?;
                    let again = |e: serde_json::Error| de::Error::custom(without_position(&e));
                    let mut de = serde_json::Deserializer::from_str(raw.get());
                    FieldSeed { state: self.state, i }.deserialize(&mut de).map_err(again)?;
                    let mut de = serde_json::Deserializer::from_str(raw.get());
                    ObjectVisitor { keys, state: self.state, top: false }
                        .deserialize(&mut de)
                        .map_err(again)?;
                }
                (None, None) => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// serde_json's message without its "at line 1 column N" (of a value read
/// again on its own, where the position would mislead).
fn without_position(e: &serde_json::Error) -> String {
    let msg = e.to_string();
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg,
    }
}

/// Reads the value of field `i` into the line's values.
struct FieldSeed<'s, 'p> {
    state: &'s mut State<'p>,
    i: usize,
}

impl<'de> DeserializeSeed<'de> for FieldSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        let state = self.state;
        let value = match &state.reads[self.i] {
            Reads::Scalar(ty) => {
                ValueSeed { ty: *ty, scratch: state.scratch, base: state.base }.deserialize(d)?
            }
            Reads::Nested(ty) => match (TreeSeed { ty }).deserialize(d)? {
                Tree::Null => Value::Null,
                tree => {
                    state.trees.push(tree);
                    Value::Nested(state.trees.len() - 1)
                }
            },
        };
        state.values[self.i] = value;
        Ok(())
    }
}

/// Matches a key against the keys of one level without allocating.
struct KeySeed<'k> {
    keys: &'k Keys,
}

impl<'de, 'k> DeserializeSeed<'de> for KeySeed<'k> {
    type Value = Option<&'k Slot>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de, 'k> Visitor<'de> for KeySeed<'k> {
    type Value = Option<&'k Slot>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a key")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(self.keys.0.get(v))
    }
}

/// Reads one scalar value of a known type.
struct ValueSeed<'p> {
    ty: FieldType,
    scratch: &'p mut String,
    base: usize,
}

impl ValueSeed<'_> {
    fn borrowed(&self, s: &str) -> Value {
        let start = s.as_ptr() as usize - self.base;
        Value::Line(start..start + s.len())
    }
    fn owned(&mut self, s: &str) -> Value {
        let start = self.scratch.len();
        self.scratch.push_str(s);
        Value::Scratch(start..self.scratch.len())
    }
    fn stored<E: de::Error>(
        &mut self,
        read: Result<Scalar, String>,
        text: &str,
        borrowed: bool,
    ) -> Result<Value, E> {
        Ok(match read.map_err(E::custom)? {
            Scalar::Int(x) => Value::Int(x),
            Scalar::Float(x) => Value::Float(x),
            Scalar::Bool(x) => Value::Bool(x),
            Scalar::Date(x) => Value::Date(x),
            Scalar::Micros(x) => Value::Micros(x),
            Scalar::Text if borrowed => self.borrowed(text),
            Scalar::Text => self.owned(text),
        })
    }
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = Value;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        match self.ty {
            FieldType::Json => {
                let raw: &'de RawValue = serde::Deserialize::deserialize(d)?;
                let text = raw.get();
                Ok(if text == "null" { Value::Null } else { self.borrowed(text) })
            }
            _ => d.deserialize_any(self),
        }
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_> {
    type Value = Value;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_bool<E: de::Error>(mut self, v: bool) -> Result<Value, E> {
        self.stored(scalar::of_bool(self.ty, v), "", false)
    }
    fn visit_i64<E: de::Error>(mut self, v: i64) -> Result<Value, E> {
        self.stored(scalar::of_i64(self.ty, v), "", false)
    }
    fn visit_u64<E: de::Error>(mut self, v: u64) -> Result<Value, E> {
        self.stored(scalar::of_u64(self.ty, v), "", false)
    }
    fn visit_f64<E: de::Error>(mut self, v: f64) -> Result<Value, E> {
        self.stored(scalar::of_f64(self.ty, v), "", false)
    }
    fn visit_borrowed_str<E: de::Error>(mut self, v: &'de str) -> Result<Value, E> {
        self.stored(scalar::of_str(self.ty, v), v, true)
    }
    fn visit_str<E: de::Error>(mut self, v: &str) -> Result<Value, E> {
        self.stored(scalar::of_str(self.ty, v), v, false)
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, _: A) -> Result<Value, A::Error> {
        Err(de::Error::custom(scalar::mismatch(self.ty, "an array")))
    }
    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<Value, A::Error> {
        Err(de::Error::custom(scalar::mismatch(self.ty, "an object")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::KeyPath;

    fn fields(spec: &[(&str, FieldType)]) -> Vec<Column> {
        spec.iter()
            .map(|(n, t)| Column::plain(n.to_string(), KeyPath(vec![n.to_string()]), Type::Scalar(*t), true))
            .collect()
    }

    #[test]
    fn reads_typed_values_and_skips_unknown_keys() {
        let f = fields(&[("s", FieldType::String), ("x", FieldType::Float64), ("n", FieldType::Int64)]);
        let mut p = LineParser::new(&f);
        let line = br#"{"n": 7, "skip": {"deep": [1, 2]}, "s": "hi", "x": 1.5}"#;
        p.parse(line).unwrap();
        assert_eq!(p.text(line, &p.values[0]), "hi");
        assert_eq!(p.values[1], Value::Float(1.5));
        assert_eq!(p.values[2], Value::Int(7));
    }

    #[test]
    fn escaped_strings_go_to_scratch() {
        let f = fields(&[("s", FieldType::String)]);
        let mut p = LineParser::new(&f);
        let line = br#"{"s": "a\"b\u00e9"}"#;
        p.parse(line).unwrap();
        assert!(matches!(p.values[0], Value::Scratch(_)));
        assert_eq!(p.text(line, &p.values[0]), "a\"bé");
    }

    #[test]
    fn json_keeps_raw_text() {
        let f = fields(&[("j", FieldType::Json)]);
        let mut p = LineParser::new(&f);
        for (line, want) in [
            (&br#"{"j": "{\"a\": \"b\"}"}"#[..], Some(r#""{\"a\": \"b\"}""#)),
            (br#"{"j": {"a": "b"}}"#, Some(r#"{"a": "b"}"#)),
            (br#"{"j": ""}"#, Some(r#""""#)),
            (br#"{"j": null}"#, None),
        ] {
            p.parse(line).unwrap();
            match want {
                Some(w) => assert_eq!(p.text(line, &p.values[0]), w),
                None => assert_eq!(p.values[0], Value::Null),
            }
        }
    }

    #[test]
    fn missing_and_null() {
        let f = fields(&[("a", FieldType::String), ("b", FieldType::String)]);
        let mut p = LineParser::new(&f);
        p.parse(br#"{"a": null}"#).unwrap();
        assert_eq!(p.values, vec![Value::Null, Value::Absent]);
    }

    #[test]
    fn errors_say_what_and_where() {
        let f = fields(&[("x", FieldType::Float64), ("d", FieldType::Date)]);
        let mut p = LineParser::new(&f);
        let e = p.parse(br#"{"x": "1.5"}"#).unwrap_err();
        assert_eq!(e, "expected a number, found a string at column 11");
        let e = p.parse(br#"{"d": "2024-02-30"}"#).unwrap_err();
        assert!(e.starts_with("`2024-02-30` is not a date"), "{e}");
        let e = p.parse(br#"{"x": 1.5"#).unwrap_err();
        assert!(e.contains("EOF"), "{e}");
        let e = p.parse(br#"[1]"#).unwrap_err();
        assert!(e.contains("expected a JSON object"), "{e}");
        let e = p.parse(br#"{"x": 1} junk"#).unwrap_err();
        assert!(e.starts_with("trailing characters"), "{e}");
    }

    #[test]
    fn integers() {
        let f = fields(&[("n", FieldType::Int64)]);
        let mut p = LineParser::new(&f);
        assert!(p.parse(br#"{"n": 1.5}"#).unwrap_err().contains("expected an integer"));
        assert!(p.parse(br#"{"n": 18446744073709551615}"#).unwrap_err().contains("does not fit"));
        p.parse(br#"{"n": -9223372036854775808}"#).unwrap();
        assert_eq!(p.values[0], Value::Int(i64::MIN));
    }
}
