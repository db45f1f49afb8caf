//! The `csv` reader's options: the dialect (header, delimiter, quote,
//! escape), which strings are null, the typed `fields` (or inference when
//! they are omitted), and sizes.

use arrow_schema::{DataType, Field, Schema, TimeUnit};
use runtime_plugin_sdk::error::{Error, Result};
use runtime_plugin_sdk::info::OptionSpec;
use serde::Deserialize;
use std::collections::HashSet;
use typed_columns::Kind;

/// Options as written under `[source.options]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    /// The first record of every file names the columns.
    #[serde(default = "yes")]
    pub header: bool,
    /// One ASCII character between fields.
    #[serde(default = "comma")]
    pub delimiter: String,
    /// One ASCII character around fields holding delimiters, quotes or
    /// newlines; the empty string turns quoting off.
    #[serde(default = "double_quote")]
    pub quote: String,
    /// One ASCII character that makes the next character of a quoted field
    /// literal; none (the default) means a quote inside a quoted field is
    /// written twice (RFC 4180).
    #[serde(default)]
    pub escape: Option<String>,
    /// Field values read as null (compared after unquoting, so `""` is null
    /// too when `""` is listed, as in DuckDB).
    #[serde(default = "empty_is_null")]
    pub null_strings: Vec<String>,
    /// The columns to produce, in order; inferred from a sample when omitted.
    #[serde(default)]
    pub fields: Option<Vec<FieldSpec>>,
    /// Rows of the first input sampled to infer the types (no `fields`).
    #[serde(default = "default_sample_rows")]
    pub sample_rows: usize,
    /// Rows per emitted batch.
    #[serde(default = "default_batch_rows")]
    pub batch_rows: usize,
    /// Longest accepted record in bytes; longer records are rejected.
    #[serde(default = "default_max_record_bytes")]
    pub max_record_bytes: usize,
}

/// One output column.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldSpec {
    /// Column name in the output.
    pub name: String,
    /// The header's name for the column to read (default: `name`); with
    /// `header = false` columns are taken by position and this is not allowed.
    #[serde(default)]
    pub column: Option<String>,
    #[serde(rename = "type")]
    pub ty: FieldType,
    /// When false, a record where the value is null is rejected.
    #[serde(default = "yes")]
    pub nullable: bool,
    /// Produce `dictionary<int32, utf8>` (a `string` field): each distinct
    /// value once per batch, for values that repeat.
    #[serde(default)]
    pub dictionary: bool,
}

impl FieldSpec {
    /// The Arrow field this spec declares.
    pub fn field(&self) -> Field {
        // Only string fields are dictionaries (checked in `validate`).
        let kind = if self.dictionary { Kind::DictUtf8 } else { self.ty.kind() };
        Field::new(&self.name, kind.data_type(), self.nullable)
    }
}

/// The type of a column and how its text is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    /// The text as it is (utf8).
    String,
    /// A decimal integer (int64), surrounding spaces allowed.
    Int64,
    /// A decimal number, `inf` or `nan` (float64).
    Float64,
    /// `true`/`false`, `t`/`f`, `1`/`0` in any case.
    Boolean,
    /// `YYYY-MM-DD`, or a date-time taken as its UTC date (date32).
    Date,
    /// `YYYY-MM-DD[( |T)HH:MM:SS[.ffffff]][Z|±HH:MM]`: timestamp µs, UTC; a
    /// date-time without an offset is UTC.
    Timestamp,
}

fn yes() -> bool {
    true
}
fn comma() -> String {
    ",".into()
}
fn double_quote() -> String {
    "\"".into()
}
fn empty_is_null() -> Vec<String> {
    vec![String::new()]
}
fn default_sample_rows() -> usize {
    20_480
}
fn default_batch_rows() -> usize {
    16_384
}
fn default_max_record_bytes() -> usize {
    64 << 20
}

impl FieldSpec {
    /// The header name this field reads.
    pub fn column(&self) -> &str {
        self.column.as_deref().unwrap_or(&self.name)
    }
}

impl FieldType {
    pub fn data_type(self) -> DataType {
        self.kind().data_type()
    }

    /// The builder kind of a column of this type.
    pub fn kind(self) -> Kind {
        match self {
            FieldType::String => Kind::Utf8,
            FieldType::Int64 => Kind::Int64,
            FieldType::Float64 => Kind::Float64,
            FieldType::Boolean => Kind::Boolean,
            FieldType::Date => Kind::Date32,
            FieldType::Timestamp => Kind::Micros,
        }
    }

    /// The name `fields` gives the type.
    pub fn name(self) -> &'static str {
        match self {
            FieldType::String => "string",
            FieldType::Int64 => "int64",
            FieldType::Float64 => "float64",
            FieldType::Boolean => "boolean",
            FieldType::Date => "date",
            FieldType::Timestamp => "timestamp",
        }
    }

    /// The field type whose Arrow type is `ty` (what `configure` hands back).
    pub fn from_data_type(ty: &DataType) -> Option<FieldType> {
        Some(match ty {
            DataType::Utf8 => FieldType::String,
            t if *t == Kind::DictUtf8.data_type() => FieldType::String,
            DataType::Int64 => FieldType::Int64,
            DataType::Float64 => FieldType::Float64,
            DataType::Boolean => FieldType::Boolean,
            DataType::Date32 => FieldType::Date,
            DataType::Timestamp(TimeUnit::Microsecond, Some(_)) => FieldType::Timestamp,
            _ => return None,
        })
    }
}

/// The dialect as bytes, checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dialect {
    pub delimiter: u8,
    /// None: quoting off.
    pub quote: Option<u8>,
    pub escape: Option<u8>,
    /// A quote inside a quoted field is written twice (no `escape`).
    pub double_quote: bool,
}

impl Default for Dialect {
    fn default() -> Self {
        Dialect { delimiter: b',', quote: Some(b'"'), escape: None, double_quote: true }
    }
}

impl Dialect {
    /// The csv-core reader for this dialect.
    pub fn reader(&self) -> csv_core::Reader {
        let mut b = csv_core::ReaderBuilder::new();
        b.delimiter(self.delimiter)
            .quote(self.quote.unwrap_or(b'"'))
            .quoting(self.quote.is_some())
            .escape(self.escape)
            .double_quote(self.double_quote)
            .terminator(csv_core::Terminator::CRLF);
        b.build()
    }
}

fn one_byte(option: &str, value: &str, allow_empty: bool) -> Result<Option<u8>> {
    match value.as_bytes() {
        [] if allow_empty => Ok(None),
        [b] if b.is_ascii() && *b != b'\n' && *b != b'\r' => Ok(Some(*b)),
        _ => Err(Error::invalid_options(format!(
            "{option}: `{}` must be one ASCII character other than a newline{}",
            value.escape_debug(),
            if allow_empty { " (or \"\" for none)" } else { "" }
        ))),
    }
}

impl Options {
    /// Checks what serde cannot, and returns the dialect.
    pub fn validate(&self) -> Result<Dialect> {
        let delimiter = one_byte("delimiter", &self.delimiter, false)?.expect("not empty");
        let quote = one_byte("quote", &self.quote, true)?;
        let escape = match &self.escape {
            None => None,
            Some(e) => one_byte("escape", e, true)?,
        };
        if quote == Some(delimiter) {
            return Err(Error::invalid_options("quote: must differ from the delimiter"));
        }
        if escape == Some(delimiter) {
            return Err(Error::invalid_options("escape: must differ from the delimiter"));
        }
        if escape.is_some() && quote.is_none() {
            return Err(Error::invalid_options("escape: only applies inside quoted fields; set a quote"));
        }
        // An escape equal to the quote is RFC 4180's doubled quote.
        let escape = escape.filter(|e| Some(*e) != quote);
        let dialect = Dialect { delimiter, quote, escape, double_quote: escape.is_none() };
        if let Some(fields) = &self.fields {
            if fields.is_empty() {
                return Err(Error::invalid_options(
                    "fields: list at least one field, or omit it to infer them",
                ));
            }
            runtime_plugin_sdk::options::check_field_names(fields.iter().map(|f| f.name.as_str()))?;
            let mut columns = HashSet::new();
            for (i, f) in fields.iter().enumerate() {
                if !self.header && f.column.is_some() {
                    return Err(Error::invalid_options(format!(
                        "fields[{i}].column: with header = false fields are read by position; remove `column`"
                    )));
                }
                if f.dictionary && f.ty != FieldType::String {
                    return Err(Error::invalid_options(format!(
                        "fields[{i}].dictionary: only string fields can be dictionary-encoded; `{}` is {}",
                        f.name,
                        f.ty.name()
                    )));
                }
                if !columns.insert(f.column()) {
                    return Err(Error::invalid_options(format!(
                        "fields[{i}]: column `{}` is read by two fields; read it once",
                        f.column()
                    )));
                }
            }
        }
        if self.batch_rows == 0 {
            return Err(Error::invalid_options("batch_rows: must be at least 1"));
        }
        if self.sample_rows == 0 {
            return Err(Error::invalid_options("sample_rows: must be at least 1"));
        }
        if self.max_record_bytes < 16 {
            return Err(Error::invalid_options("max_record_bytes: must be at least 16"));
        }
        Ok(dialect)
    }

    /// The schema the `fields` option declares, if it is given.
    pub fn declared_schema(&self) -> Option<Schema> {
        let fields = self.fields.as_ref()?;
        Some(Schema::new(fields.iter().map(FieldSpec::field).collect::<Vec<_>>()))
    }

    /// The option reference shown by `runtime plugins inspect`.
    pub fn specs() -> Vec<OptionSpec> {
        vec![
            OptionSpec::new("header", "boolean", "The first record of each file names the columns.")
                .default_value("true"),
            OptionSpec::new("delimiter", "string", "One ASCII character between fields (\"\\t\" for TSV).")
                .default_value("\",\""),
            OptionSpec::new(
                "quote",
                "string",
                "One ASCII character quoting fields that hold delimiters, quotes or newlines; \"\" turns \
                 quoting off.",
            )
            .default_value("\"\\\"\""),
            OptionSpec::new(
                "escape",
                "string",
                "One ASCII character making the next character of a quoted field literal (such as \
                 \"\\\\\"); by default a quote inside a quoted field is doubled (RFC 4180).",
            ),
            OptionSpec::new(
                "null_strings",
                "list of string",
                "Field values read as null, quoted or not (as DuckDB's nullstr with its default \
                 allow_quoted_nulls); [] for none.",
            )
            .default_value("[\"\"]"),
            OptionSpec::new(
                "fields",
                "list of {name, column?, type, nullable?, dictionary?}",
                "Columns to read, in order. `type` is one of string, int64, float64, boolean, date, \
                 timestamp (µs UTC; no offset means UTC). With a header, `column` names the header's \
                 column (default: name); with header = false fields are read by position. \
                 `nullable = false` rejects records where the value is null. `dictionary = true` \
                 (string) produces dictionary<int32, utf8>, each distinct value once per batch: for \
                 values that repeat. Omitted: every column, types inferred from the first \
                 `sample_rows` records of the first input.",
            ),
            OptionSpec::new(
                "sample_rows",
                "integer",
                "Records sampled to infer types when `fields` is omitted.",
            )
            .default_value("20480"),
            OptionSpec::new("batch_rows", "integer", "Rows per emitted batch.").default_value("16384"),
            OptionSpec::new(
                "max_record_bytes",
                "integer",
                "Longest accepted record; longer ones are rejected and skipped.",
            )
            .default_value("67108864"),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<(Options, Dialect)> {
        let o: Options = runtime_plugin_sdk::options::parse(json)?;
        let d = o.validate()?;
        Ok((o, d))
    }

    #[test]
    fn defaults() {
        let (o, d) = parse("{}").unwrap();
        assert!(o.header && o.fields.is_none());
        assert_eq!(o.null_strings, vec![String::new()]);
        assert_eq!(d, Dialect::default());
    }

    #[test]
    fn dialect_checks() {
        let (_, d) = parse(r#"{"delimiter":"\t","quote":"'","escape":"\\"}"#).unwrap();
        assert_eq!(
            d,
            Dialect { delimiter: b'\t', quote: Some(b'\''), escape: Some(b'\\'), double_quote: false }
        );
        let (_, d) = parse(r#"{"escape":"\""}"#).unwrap();
        assert_eq!(d, Dialect::default(), "an escape equal to the quote is the doubled quote");
        let (_, d) = parse(r#"{"quote":""}"#).unwrap();
        assert_eq!(d.quote, None);
        for bad in
            [r#"{"delimiter":";;"}"#, r#"{"delimiter":""}"#, r#"{"quote":","}"#, r#"{"delimiter":"\n"}"#]
        {
            assert!(parse(bad).is_err(), "{bad}");
        }
        let e = parse(r#"{"delimiter":"é"}"#).unwrap_err();
        assert!(e.message.starts_with("delimiter: `é` must be one ASCII character"), "{}", e.message);
    }

    #[test]
    fn fields_checks() {
        let e = parse(r#"{"fields":[{"name":"a","type":"strnig"}]}"#).unwrap_err();
        assert!(e.message.starts_with("fields[0].type: unknown variant `strnig`"), "{}", e.message);
        let e =
            parse(r#"{"fields":[{"name":"a","type":"string"},{"name":"a","type":"int64"}]}"#).unwrap_err();
        assert!(e.message.contains("appears twice"), "{}", e.message);
        let e =
            parse(r#"{"header":false,"fields":[{"name":"a","column":"x","type":"string"}]}"#).unwrap_err();
        assert!(e.message.contains("by position"), "{}", e.message);
        let (o, _) =
            parse(r#"{"fields":[{"name":"d","column":"Day","type":"date","nullable":false}]}"#).unwrap();
        let s = o.declared_schema().unwrap();
        assert_eq!(s.field(0).data_type(), &DataType::Date32);
        assert!(!s.field(0).is_nullable());
        assert_eq!(o.fields.unwrap()[0].column(), "Day");
    }
}
