//! Column types as `fields` names them, and their Arrow types.
//!
//! A type is a scalar (`string`, `json`, `int64`, `float64`, `boolean`,
//! `date`, `timestamp`) or a nesting of them, written as DuckDB and Spark
//! write nested types:
//!
//! - `list<T>`: a JSON array (Arrow list, items nullable);
//! - `struct<name: T, ...>`: a JSON object read by member name (Arrow
//!   struct, members nullable; keys not named are ignored, missing ones
//!   are null). A name that is not a plain identifier is written as a JSON
//!   string: `struct<"app.kubernetes.io/name": string>`;
//! - `map<string, T>`: a JSON object as key/value entries in document order
//!   (Arrow map, keys non-null, values nullable).
//!
//! A struct can also be given as a tree, `{ name = "m", type = "struct",
//! fields = [...] }`. In a schema this reader *inferred*, `json` columns
//! (top-level or nested) carry Arrow's canonical `arrow.json` extension
//! name in their field metadata: that is how every instance, told only the
//! Arrow schema, knows a utf8 column holds JSON text rather than a string.

use crate::options::FieldType;
use arrow_schema::{DataType, Field, Fields, TimeUnit};
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

/// The metadata key and value that mark a utf8 field as JSON text.
pub const EXTENSION_KEY: &str = "ARROW:extension:name";
pub const JSON_EXTENSION: &str = "arrow.json";

/// A column's type.
#[derive(Debug, Clone, PartialEq)]
pub enum Type {
    Scalar(FieldType),
    List(Box<Type>),
    /// Members in order: name and type.
    Struct(Vec<(String, Type)>),
    /// Keys are strings; the value type.
    Map(Box<Type>),
}

impl Type {
    /// Whether values of this type are read through the nested path.
    pub fn is_nested(&self) -> bool {
        !matches!(self, Type::Scalar(_))
    }

    /// The Arrow type; `mark_json` puts the `arrow.json` mark on every
    /// json field inside (see the module docs).
    pub fn data_type(&self, mark_json: bool) -> DataType {
        match self {
            Type::Scalar(t) => t.data_type(),
            Type::List(item) => DataType::List(Arc::new(item.field("item", mark_json))),
            Type::Struct(members) => DataType::Struct(
                members.iter().map(|(n, t)| t.field(n, mark_json)).collect::<Vec<_>>().into(),
            ),
            Type::Map(value) => {
                let entries = Fields::from(vec![
                    Field::new("key", DataType::Utf8, false),
                    value.field("value", mark_json),
                ]);
                DataType::Map(Arc::new(Field::new("entries", DataType::Struct(entries), false)), false)
            }
        }
    }

    /// A nullable field of this type.
    pub fn field(&self, name: &str, mark_json: bool) -> Field {
        let field = Field::new(name, self.data_type(mark_json), true);
        if mark_json && *self == Type::Scalar(FieldType::Json) {
            field.with_metadata(HashMap::from([(EXTENSION_KEY.into(), JSON_EXTENSION.into())]))
        } else {
            field
        }
    }

    /// The type of an Arrow field this reader produces (the inverse of
    /// [`Type::field`]); `None` for a type it cannot produce.
    pub fn of_field(field: &Field) -> Option<Type> {
        let marked = field.metadata().get(EXTENSION_KEY).is_some_and(|v| v == JSON_EXTENSION);
        Some(match field.data_type() {
            DataType::Utf8 if marked => Type::Scalar(FieldType::Json),
            DataType::Utf8 => Type::Scalar(FieldType::String),
            DataType::Int64 => Type::Scalar(FieldType::Int64),
            DataType::Float64 => Type::Scalar(FieldType::Float64),
            DataType::Boolean => Type::Scalar(FieldType::Boolean),
            DataType::Date32 => Type::Scalar(FieldType::Date),
            DataType::Timestamp(TimeUnit::Microsecond, Some(tz)) if tz.as_ref() == "UTC" => {
                Type::Scalar(FieldType::Timestamp)
            }
            DataType::List(item) => Type::List(Box::new(Type::of_field(item)?)),
            DataType::Struct(members) => Type::Struct(
                members
                    .iter()
                    .map(|f| Some((f.name().clone(), Type::of_field(f)?)))
                    .collect::<Option<Vec<_>>>()?,
            ),
            DataType::Map(entries, false) => match entries.data_type() {
                DataType::Struct(kv) if kv.len() == 2 && kv[0].data_type() == &DataType::Utf8 => {
                    Type::Map(Box::new(Type::of_field(&kv[1])?))
                }
                _ => return None,
            },
            _ => return None,
        })
    }

    /// Parses the `type` text of a field (the grammar in the module docs).
    pub fn parse(text: &str) -> Result<Type, String> {
        let mut p = Parser { text, pos: 0 };
        let ty = p.ty()?;
        p.space();
        if p.pos < text.len() {
            return Err(p.error("expected the end of the type"));
        }
        Ok(ty)
    }
}

impl FieldType {
    fn name(self) -> &'static str {
        match self {
            FieldType::String => "string",
            FieldType::Json => "json",
            FieldType::Int64 => "int64",
            FieldType::Float64 => "float64",
            FieldType::Boolean => "boolean",
            FieldType::Date => "date",
            FieldType::Timestamp => "timestamp",
        }
    }

    const ALL: [FieldType; 7] = [
        FieldType::String,
        FieldType::Json,
        FieldType::Int64,
        FieldType::Float64,
        FieldType::Boolean,
        FieldType::Date,
        FieldType::Timestamp,
    ];
}

/// The type as `fields` writes it; parses back to the same type.
impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Type::Scalar(t) => f.write_str(t.name()),
            Type::List(item) => write!(f, "list<{item}>"),
            Type::Map(value) => write!(f, "map<string, {value}>"),
            Type::Struct(members) => {
                f.write_str("struct<")?;
                for (i, (name, ty)) in members.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    if is_identifier(name) {
                        write!(f, "{name}: {ty}")?;
                    } else {
                        let quoted = serde_json::to_string(name).map_err(|_| fmt::Error)?;
                        write!(f, "{quoted}: {ty}")?;
                    }
                }
                f.write_str(">")
            }
        }
    }
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A recursive-descent parser over the type text; positions in errors are
/// 1-based characters.
struct Parser<'t> {
    text: &'t str,
    pos: usize,
}

impl Parser<'_> {
    fn error(&self, what: &str) -> String {
        let at = self.text[..self.pos].chars().count() + 1;
        format!("{what} at character {at} of `{}`", self.text)
    }

    fn space(&mut self) {
        let rest = &self.text[self.pos..];
        self.pos += rest.len() - rest.trim_start().len();
    }

    fn eat(&mut self, c: char) -> bool {
        self.space();
        if self.text[self.pos..].starts_with(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: char) -> Result<(), String> {
        if self.eat(c) { Ok(()) } else { Err(self.error(&format!("expected `{c}`"))) }
    }

    fn word(&mut self) -> &str {
        self.space();
        let rest = &self.text[self.pos..];
        let n = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len());
        self.pos += n;
        &rest[..n]
    }

    fn ty(&mut self) -> Result<Type, String> {
        let start = self.pos;
        let word = self.word().to_string();
        if let Some(t) = FieldType::ALL.into_iter().find(|t| t.name() == word) {
            return Ok(Type::Scalar(t));
        }
        match word.as_str() {
            "list" => {
                self.expect('<')?;
                let item = self.ty()?;
                self.expect('>')?;
                Ok(Type::List(Box::new(item)))
            }
            "map" => {
                self.expect('<')?;
                let at = self.pos;
                if self.word() != "string" {
                    self.pos = at;
                    self.space();
                    return Err(self.error("map keys are strings: write map<string, T>; expected `string`"));
                }
                self.expect(',')?;
                let value = self.ty()?;
                self.expect('>')?;
                Ok(Type::Map(Box::new(value)))
            }
            "struct" => {
                self.expect('<')?;
                let mut members: Vec<(String, Type)> = Vec::new();
                if self.eat('>') {
                    return Err(self.error("a struct needs at least one member"));
                }
                loop {
                    let name = self.member_name()?;
                    if members.iter().any(|(n, _)| *n == name) {
                        return Err(self.error(&format!("member `{name}` appears twice")));
                    }
                    self.expect(':')?;
                    members.push((name, self.ty()?));
                    if self.eat('>') {
                        return Ok(Type::Struct(members));
                    }
                    if !self.eat(',') {
                        return Err(self.error("expected `,` or `>`"));
                    }
                }
            }
            _ => {
                self.pos = start;
                self.space();
                Err(self.error(&format!(
                    "unknown type `{word}`: expected one of string, json, int64, float64, boolean, \
                     date, timestamp, list<T>, struct<name: T, ...>, map<string, T>"
                )))
            }
        }
    }

    fn member_name(&mut self) -> Result<String, String> {
        self.space();
        if self.text[self.pos..].starts_with('"') {
            // A JSON string: read exactly one from here.
            let mut stream = serde_json::Deserializer::from_str(&self.text[self.pos..]).into_iter::<String>();
            return match stream.next() {
                Some(Ok(name)) => {
                    self.pos += stream.byte_offset();
                    Ok(name)
                }
                _ => Err(self.error("a quoted member name must be a JSON string")),
            };
        }
        let name = self.word().to_string();
        if name.is_empty() {
            return Err(self.error("expected a member name"));
        }
        Ok(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_back() {
        for text in [
            "string",
            "list<int64>",
            "map<string, list<timestamp>>",
            "struct<a: int64, b: list<struct<c: json>>, \"app.kubernetes.io/name\": string>",
        ] {
            let ty = Type::parse(text).unwrap();
            assert_eq!(ty.to_string(), text);
            assert_eq!(Type::parse(&ty.to_string()).unwrap(), ty);
        }
        assert_eq!(
            Type::parse(" struct< a :int64 ,b:list< date > > ").unwrap().to_string(),
            "struct<a: int64, b: list<date>>"
        );
    }

    #[test]
    fn errors_say_where() {
        let e = Type::parse("list<strnig>").unwrap_err();
        assert!(e.starts_with("unknown type `strnig`: expected one of string"), "{e}");
        assert!(e.contains("at character 6 of `list<strnig>`"), "{e}");
        assert!(Type::parse("map<int64, string>").unwrap_err().contains("map keys are strings"));
        assert!(Type::parse("struct<a: int64").unwrap_err().contains("expected `,` or `>`"));
        assert!(Type::parse("struct<a: int64, a: string>").unwrap_err().contains("appears twice"));
        assert!(Type::parse("struct<>").unwrap_err().contains("at least one member"));
        assert!(Type::parse("list<int64> x").unwrap_err().contains("expected the end"));
    }

    #[test]
    fn arrow_types_round_trip_with_json_marks() {
        let ty = Type::parse("struct<a: json, b: map<string, list<json>>, c: timestamp>").unwrap();
        let marked = ty.field("x", true);
        assert_eq!(Type::of_field(&marked).unwrap(), ty);
        // Unmarked, json reads back as string.
        let plain = Type::of_field(&ty.field("x", false)).unwrap();
        assert_eq!(plain.to_string(), "struct<a: string, b: map<string, list<string>>, c: timestamp>");
        assert!(Type::of_field(&Field::new("x", DataType::Int32, true)).is_none());
    }
}
