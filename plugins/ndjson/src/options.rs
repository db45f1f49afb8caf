//! The `ndjson` reader's options: which fields to read (or none, to infer
//! them), where in each object they are, their types, and how big the
//! batches are.
//!
//! Options are checked in two steps: serde reads them (an unknown key or a
//! type that does not parse is named with its path, `fields[2].type`), then
//! [`Options::columns`] resolves them into [`Column`]s and checks what serde
//! cannot (sizes, unique names and paths).

use crate::types::Type;
use arrow_schema::{DataType, Field, Schema};
use runtime_plugin_sdk::error::{Error, Result};
use runtime_plugin_sdk::info::OptionSpec;
use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use std::fmt;
use typed_columns::Kind;

/// Options as written under `[source.options]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    /// The columns to produce, in order; inferred from the inputs when
    /// omitted.
    #[serde(default)]
    pub fields: Option<Vec<FieldSpec>>,
    /// Rows per emitted batch.
    #[serde(default = "default_batch_rows")]
    pub batch_rows: usize,
    /// Longest accepted line in bytes; longer lines are rejected.
    #[serde(default = "default_max_line_bytes")]
    pub max_line_bytes: usize,
    /// Lines sampled to infer the columns when `fields` is omitted.
    #[serde(default = "default_sample_rows")]
    pub sample_rows: usize,
}

/// One output column as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldSpec {
    /// Column name in the output.
    pub name: String,
    /// Where the value is: a key, a dotted path of keys
    /// (`metadata.labels.app`), or a list of keys (for keys holding dots);
    /// defaults to `name` as one key.
    #[serde(default)]
    pub path: Option<KeyPath>,
    #[serde(rename = "type")]
    pub ty: TypeSpec,
    /// The members of a `type = "struct"` written as a tree.
    #[serde(default)]
    pub fields: Option<Vec<MemberSpec>>,
    /// When false, a line where the value is null or missing is rejected.
    #[serde(default = "yes")]
    pub nullable: bool,
    /// Produce `dictionary<int32, utf8>` (a `string` or `json` field): each
    /// distinct value once per batch. For values that repeat, such as
    /// labels or names, batches are much smaller to move and to work on.
    #[serde(default)]
    pub dictionary: bool,
}

/// A member of a struct written as a tree.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberSpec {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: TypeSpec,
    #[serde(default)]
    pub fields: Option<Vec<MemberSpec>>,
}

/// A `type` as written: a full type, or `struct` whose members are given
/// by `fields`.
#[derive(Debug, Clone, PartialEq)]
pub enum TypeSpec {
    Full(Type),
    StructTree,
}

impl<'de> Deserialize<'de> for TypeSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let word = text.trim();
        if word == "struct" {
            return Ok(TypeSpec::StructTree);
        }
        if !word.is_empty() && word.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            // A bare unknown name: the message host diagnostics turn into a
            // "did you mean" hint.
            if Type::parse(word).is_err() {
                return Err(de::Error::unknown_variant(word, TYPE_NAMES));
            }
        }
        Type::parse(&text).map(TypeSpec::Full).map_err(de::Error::custom)
    }
}

/// The type names, for "did you mean" hints.
const TYPE_NAMES: &[&str] = &[
    "string",
    "json",
    "int64",
    "float64",
    "boolean",
    "date",
    "timestamp",
    "list<T>",
    "struct<name: T, ...>",
    "map<string, T>",
];

/// The keys from the top-level object down to a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPath(pub Vec<String>);

impl<'de> Deserialize<'de> for KeyPath {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = KeyPath;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a dotted path of keys (\"a.b\") or a list of keys ([\"a\", \"b.c\"])")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<KeyPath, E> {
                let keys: Vec<String> = v.split('.').map(str::to_string).collect();
                if keys.iter().any(String::is_empty) {
                    return Err(E::custom(format!(
                        "`{v}` has an empty key; for keys that hold dots write the keys as a list, \
                         path = [\"a\", \"b.c\"]"
                    )));
                }
                Ok(KeyPath(keys))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<KeyPath, A::Error> {
                let mut keys = Vec::new();
                while let Some(k) = seq.next_element::<String>()? {
                    keys.push(k);
                }
                if keys.is_empty() {
                    return Err(de::Error::custom("the list of keys is empty"));
                }
                Ok(KeyPath(keys))
            }
        }
        d.deserialize_any(V)
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(&self.0.join("."))
    }
}

/// A column resolved from the options (or inferred): where its value is
/// and what type it has.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub name: String,
    pub path: KeyPath,
    pub ty: Type,
    pub nullable: bool,
    /// Dictionary-encoded per batch (only `string` and `json`).
    pub dictionary: bool,
}

impl Column {
    /// A column read as it is (not dictionary-encoded).
    pub fn plain(name: String, path: KeyPath, ty: Type, nullable: bool) -> Self {
        Column { name, path, ty, nullable, dictionary: false }
    }

    /// The Arrow field; `mark_json` as in [`Type::data_type`].
    pub fn field(&self, mark_json: bool) -> Field {
        let field = self.ty.field(&self.name, mark_json).with_nullable(self.nullable);
        // Only string and json columns are dictionaries (checked in `columns`).
        if self.dictionary { field.with_data_type(Kind::DictUtf8.data_type()) } else { field }
    }
}

/// The scalar types (utf8, int64, ...) and how a JSON value is read as one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

fn default_sample_rows() -> usize {
    20_480
}

fn yes() -> bool {
    true
}

impl FieldType {
    pub fn data_type(self) -> DataType {
        crate::scalar::kind(self).data_type()
    }
}

/// A struct written as a tree, as a [`Type`]; `at` names it in errors.
fn tree_type(ty: &TypeSpec, members: Option<&[MemberSpec]>, at: &str) -> Result<Type> {
    match (ty, members) {
        (TypeSpec::Full(t), None) => Ok(t.clone()),
        (TypeSpec::Full(t), Some(_)) => Err(Error::invalid_options(format!(
            "{at}.fields: only a field of type \"struct\" has member fields; this one is {t}"
        ))),
        (TypeSpec::StructTree, None | Some([])) => Err(Error::invalid_options(format!(
            "{at}: a struct needs its members: list them in `fields`, or write type = \"struct<name: T, ...>\""
        ))),
        (TypeSpec::StructTree, Some(members)) => {
            let mut out: Vec<(String, Type)> = Vec::with_capacity(members.len());
            for (i, m) in members.iter().enumerate() {
                let here = format!("{at}.fields[{i}]");
                if out.iter().any(|(n, _)| *n == m.name) {
                    return Err(Error::invalid_options(format!(
                        "{here}.name: `{}` appears twice in the struct",
                        m.name
                    )));
                }
                out.push((m.name.clone(), tree_type(&m.ty, m.fields.as_deref(), &here)?));
            }
            Ok(Type::Struct(out))
        }
    }
}

impl Options {
    /// Checks everything serde cannot, and resolves the declared columns
    /// (`None` when they are to be inferred).
    pub fn columns(&self) -> Result<Option<Vec<Column>>> {
        if self.batch_rows == 0 {
            return Err(Error::invalid_options("batch_rows: must be at least 1"));
        }
        if self.max_line_bytes < 16 {
            return Err(Error::invalid_options("max_line_bytes: must be at least 16"));
        }
        if self.sample_rows == 0 {
            return Err(Error::invalid_options("sample_rows: must be at least 1"));
        }
        let columns = self.fields.as_deref().map(columns).transpose()?;
        if self.batch_rows > i32::MAX as usize && columns.iter().flatten().any(|c| c.dictionary) {
            return Err(Error::invalid_options(
                "batch_rows: at most 2147483647 with dictionary fields (their keys are int32)",
            ));
        }
        Ok(columns)
    }

    /// The option reference shown by `runtime plugins inspect`.
    pub fn specs() -> Vec<OptionSpec> {
        vec![
            OptionSpec::new(
                "fields",
                "list of {name, path?, type, nullable?, dictionary?, fields?}",
                "Columns to read, in order. `type` is one of string, json (the value's JSON text), \
                 int64, float64, boolean, date (YYYY-MM-DD or an RFC 3339 date-time, taken as its \
                 UTC date), timestamp (RFC 3339, µs UTC), or nested: list<T>, struct<name: T, ...> \
                 (or type = \"struct\" with member `fields`), map<string, T>. `path` is where the \
                 value is: a key, a dotted path (\"metadata.labels.app\") or a list of keys \
                 (default: name). `nullable = false` rejects lines where the value is null or \
                 missing. `dictionary = true` (string, json) produces dictionary<int32, utf8>, each \
                 distinct value once per batch: for values that repeat. Omitted: the columns are \
                 inferred from a sample of the inputs, and `runtime validate` prints them.",
            )
            .default_value("inferred from the inputs"),
            OptionSpec::new("batch_rows", "integer", "Rows per emitted batch.").default_value("16384"),
            OptionSpec::new("max_line_bytes", "integer", "Longest accepted line; longer lines are rejected.")
                .default_value("67108864"),
            OptionSpec::new(
                "sample_rows",
                "integer",
                "Lines sampled (from the first input files, up to 32) to infer the columns when \
                 `fields` is omitted.",
            )
            .default_value("20480"),
        ]
    }
}

/// Resolves declared fields into columns: non-empty, unique names and
/// paths. One path may lead inside another (`metadata.labels` as a map and
/// `metadata.labels.app` as a string): the value is read for both.
fn columns(fields: &[FieldSpec]) -> Result<Vec<Column>> {
    if fields.is_empty() {
        return Err(Error::invalid_options(
            "fields: list at least one field, or leave `fields` out to infer them from the inputs",
        ));
    }
    runtime_plugin_sdk::options::check_field_names(fields.iter().map(|f| f.name.as_str()))?;
    let mut out: Vec<Column> = Vec::with_capacity(fields.len());
    for (i, f) in fields.iter().enumerate() {
        let path = f.path.clone().unwrap_or_else(|| KeyPath(vec![f.name.clone()]));
        if out.iter().any(|c| c.path == path) {
            return Err(Error::invalid_options(format!(
                "fields[{i}]: JSON key `{path}` is read by two fields; read it once"
            )));
        }
        let ty = tree_type(&f.ty, f.fields.as_deref(), &format!("fields[{i}]"))?;
        if f.dictionary && !matches!(ty, Type::Scalar(FieldType::String | FieldType::Json)) {
            return Err(Error::invalid_options(format!(
                "fields[{i}].dictionary: only string and json fields can be dictionary-encoded; \
                 `{}` is {ty}",
                f.name
            )));
        }
        out.push(Column { name: f.name.clone(), path, ty, nullable: f.nullable, dictionary: f.dictionary });
    }
    Ok(out)
}

/// The schema of columns; `mark_json` as in [`Type::data_type`].
pub fn schema(columns: &[Column], mark_json: bool) -> Schema {
    Schema::new(columns.iter().map(|c| c.field(mark_json)).collect::<Vec<_>>())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<Options> {
        let o: Options = runtime_plugin_sdk::options::parse(json)?;
        o.columns()?;
        Ok(o)
    }

    fn cols(json: &str) -> Result<Vec<Column>> {
        parse(json)?.columns().map(Option::unwrap)
    }

    #[test]
    fn defaults() {
        let c = cols(r#"{"fields":[{"name":"a","type":"string"}]}"#).unwrap();
        assert!(c[0].nullable);
        assert_eq!(c[0].path, KeyPath(vec!["a".into()]));
        let o = parse("{}").unwrap();
        assert_eq!((o.batch_rows, o.sample_rows), (16_384, 20_480));
        assert!(o.columns().unwrap().is_none());
    }

    #[test]
    fn unknown_type_is_named() {
        let e = parse(r#"{"fields":[{"name":"a","type":"strnig"}]}"#).unwrap_err();
        assert!(e.message.starts_with("fields[0].type: unknown variant `strnig`"), "{}", e.message);
        let e = parse(r#"{"fields":[{"name":"a","type":"list<strnig>"}]}"#).unwrap_err();
        assert!(e.message.starts_with("fields[0].type: unknown type `strnig`"), "{}", e.message);
    }

    #[test]
    fn duplicate_names_rejected() {
        let e = parse(r#"{"fields":[{"name":"a","type":"string"},{"name":"a","path":"b","type":"json"}]}"#)
            .unwrap_err();
        assert!(e.message.contains("appears twice"), "{}", e.message);
    }

    #[test]
    fn paths_dotted_or_listed_and_read_once() {
        let c = cols(
            r#"{"fields":[{"name":"app","path":"metadata.labels.app","type":"string"},
                          {"name":"n","path":["metadata","labels","app.kubernetes.io/name"],"type":"string"}]}"#,
        )
        .unwrap();
        assert_eq!(c[0].path.0, ["metadata", "labels", "app"]);
        assert_eq!(c[1].path.0, ["metadata", "labels", "app.kubernetes.io/name"]);
        let e = parse(r#"{"fields":[{"name":"m","path":"a.b","type":"json"},{"name":"a","path":["a","b"],"type":"string"}]}"#)
            .unwrap_err();
        assert!(e.message.contains("`a.b` is read by two fields"), "{}", e.message);
        let e = parse(r#"{"fields":[{"name":"a","path":"a..b","type":"string"}]}"#).unwrap_err();
        assert!(e.message.starts_with("fields[0].path: `a..b` has an empty key"), "{}", e.message);
    }

    #[test]
    fn struct_trees_and_texts_are_the_same_type() {
        let tree = cols(
            r#"{"fields":[{"name":"m","type":"struct","fields":[{"name":"a","type":"int64"},
                {"name":"b","type":"struct","fields":[{"name":"c","type":"list<string>"}]}]}]}"#,
        )
        .unwrap();
        let text = cols(r#"{"fields":[{"name":"m","type":"struct<a: int64, b: struct<c: list<string>>>"}]}"#)
            .unwrap();
        assert_eq!(tree, text);
        let e = parse(r#"{"fields":[{"name":"m","type":"struct"}]}"#).unwrap_err();
        assert!(e.message.starts_with("fields[0]: a struct needs its members"), "{}", e.message);
        let e = parse(r#"{"fields":[{"name":"m","type":"int64","fields":[{"name":"a","type":"int64"}]}]}"#)
            .unwrap_err();
        assert!(e.message.starts_with("fields[0].fields: only a field of type"), "{}", e.message);
    }

    #[test]
    fn dictionary_fields_are_strings_or_json() {
        let c =
            cols(r#"{"fields":[{"name":"l","type":"json","dictionary":true},{"name":"s","type":"string"}]}"#)
                .unwrap();
        let s = schema(&c, false);
        let dict = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
        assert_eq!(s.field(0).data_type(), &dict);
        assert_eq!(s.field(1).data_type(), &DataType::Utf8);
        let e = parse(r#"{"fields":[{"name":"n","type":"int64","dictionary":true}]}"#).unwrap_err();
        assert!(e.message.starts_with("fields[0].dictionary: only string and json"), "{}", e.message);
    }

    #[test]
    fn schema_types() {
        let c = cols(r#"{"fields":[{"name":"d","path":"ts","type":"date","nullable":false}]}"#).unwrap();
        let s = schema(&c, false);
        assert_eq!(s.field(0).data_type(), &DataType::Date32);
        assert!(!s.field(0).is_nullable());
    }
}
