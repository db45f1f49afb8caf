//! Parsing one NDJSON line into typed values, without building a JSON tree.
//!
//! A serde visitor walks the line's object once: keys are matched against the
//! configured fields, unknown keys are skipped, and each value is checked
//! against its field's type as it is read. Values are stored as [`Value`]s
//! that point into the line (or into a scratch buffer for strings with
//! escapes), so a line costs no allocation. Only when the whole line is valid
//! do its values reach the column builders: a bad line leaves no trace.

use crate::options::{FieldSpec, FieldType};
use crate::time;
use serde::Deserializer as _;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;
use std::collections::HashMap;
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
}

/// Parses lines for a fixed list of fields.
pub struct LineParser {
    types: Vec<FieldType>,
    index: HashMap<Box<str>, usize>,
    /// The values of the last parsed line, one per field.
    pub values: Vec<Value>,
    /// Unescaped string data of the last parsed line.
    pub scratch: String,
}

impl LineParser {
    pub fn new(fields: &[FieldSpec]) -> Self {
        LineParser {
            types: fields.iter().map(|f| f.ty).collect(),
            index: fields.iter().enumerate().map(|(i, f)| (f.key().into(), i)).collect(),
            values: vec![Value::Absent; fields.len()],
            scratch: String::new(),
        }
    }

    /// Parses one line (without its newline). On success `values` holds one
    /// value per field; on failure the error says what is wrong and where.
    pub fn parse(&mut self, line: &[u8]) -> Result<(), String> {
        self.values.iter_mut().for_each(|v| *v = Value::Absent);
        self.scratch.clear();
        let mut de = serde_json::Deserializer::from_slice(line);
        let visitor = LineVisitor {
            types: &self.types,
            index: &self.index,
            values: &mut self.values,
            scratch: &mut self.scratch,
            base: line.as_ptr() as usize,
        };
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

struct LineVisitor<'p> {
    types: &'p [FieldType],
    index: &'p HashMap<Box<str>, usize>,
    values: &'p mut [Value],
    scratch: &'p mut String,
    base: usize,
}

impl<'de> Visitor<'de> for LineVisitor<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(field) = map.next_key_seed(KeySeed { index: self.index })? {
            match field {
                Some(i) => {
                    let seed = ValueSeed { ty: self.types[i], scratch: self.scratch, base: self.base };
                    self.values[i] = map.next_value_seed(seed)?;
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// Matches a key against the configured fields without allocating.
struct KeySeed<'p> {
    index: &'p HashMap<Box<str>, usize>,
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = Option<usize>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = Option<usize>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a key")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(self.index.get(v).copied())
    }
}

/// Reads one value of a known type.
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
    fn text<E: de::Error>(&mut self, v: &str, borrowed: bool) -> Result<Value, E> {
        match self.ty {
            FieldType::String if borrowed => Ok(self.borrowed(v)),
            FieldType::String => Ok(self.owned(v)),
            FieldType::Date => time::parse_date(v)
                .map(Value::Date)
                .ok_or_else(|| E::custom(format!("`{v}` is not a date (YYYY-MM-DD or RFC 3339)"))),
            FieldType::Timestamp => time::parse_micros(v)
                .map(Value::Micros)
                .ok_or_else(|| E::custom(format!("`{v}` is not an RFC 3339 date-time"))),
            _ => Err(self.mismatch("a string")),
        }
    }
    fn mismatch<E: de::Error>(&self, found: &str) -> E {
        let want = match self.ty {
            FieldType::String | FieldType::Date | FieldType::Timestamp => "a string",
            FieldType::Int64 => "an integer",
            FieldType::Float64 => "a number",
            FieldType::Boolean => "a boolean",
            FieldType::Json => "any JSON value",
        };
        E::custom(format!("expected {want}, found {found}"))
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
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        match self.ty {
            FieldType::Boolean => Ok(Value::Bool(v)),
            _ => Err(self.mismatch("a boolean")),
        }
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        match self.ty {
            FieldType::Int64 => Ok(Value::Int(v)),
            FieldType::Float64 => Ok(Value::Float(v as f64)),
            _ => Err(self.mismatch("a number")),
        }
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        match self.ty {
            FieldType::Int64 => {
                i64::try_from(v).map(Value::Int).map_err(|_| E::custom(format!("{v} does not fit in int64")))
            }
            FieldType::Float64 => Ok(Value::Float(v as f64)),
            _ => Err(self.mismatch("a number")),
        }
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        match self.ty {
            FieldType::Float64 => Ok(Value::Float(v)),
            FieldType::Int64 => Err(E::custom(format!("expected an integer, found {v}"))),
            _ => Err(self.mismatch("a number")),
        }
    }
    fn visit_borrowed_str<E: de::Error>(mut self, v: &'de str) -> Result<Value, E> {
        self.text(v, true)
    }
    fn visit_str<E: de::Error>(mut self, v: &str) -> Result<Value, E> {
        self.text(v, false)
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, _: A) -> Result<Value, A::Error> {
        Err(self.mismatch("an array"))
    }
    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<Value, A::Error> {
        Err(self.mismatch("an object"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(spec: &[(&str, FieldType)]) -> Vec<FieldSpec> {
        spec.iter()
            .map(|(n, t)| FieldSpec { name: n.to_string(), path: None, ty: *t, nullable: true })
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
