//! `{{name}}`: reads `key = value` lines into rows of (`source_path`, `key`,
//! `value`). Blank lines and lines starting with `#` are skipped; a line
//! without `=` is rejected (reported with its line number) and the split
//! goes on.
//!
//! This is the starting point `runtime new-plugin` wrote: edit `read` (and
//! the schema in `new`) for your format. The lifecycle of a reader, in the
//! order the host calls it:
//!
//! 1. `describe` — static facts, also shown by `runtime plugins inspect`.
//! 2. `new` — once per sandbox instance (one per worker), with the stage's
//!    `options` table deserialized into [`Options`]. Unknown keys are errors.
//! 3. `output_schemas` — the schema of every output. (Readers whose schema
//!    depends on the data implement `discover` instead; see the SDK docs.)
//! 4. `read` — once per split. With `Planning::Delimited(b'\n')` the host cuts
//!    big files at newlines into byte ranges, so several workers read one file
//!    at once and `input` is a view of this split's lines only.
//!
//! A plugin sees only the bytes it is handed, under the memory and time
//! limits of the pipeline: it cannot open files or the network.

use arrow_array::builder::StringBuilder;
use runtime_plugin_sdk::prelude::*;
use std::io::BufRead;

/// The stage's `options` table.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    /// The separator between key and value (default `=`).
    #[serde(default = "default_separator")]
    separator: String,
}

fn default_separator() -> String {
    "=".to_string()
}

/// Rows are emitted in batches of this many.
const BATCH_ROWS: usize = 8192;

pub struct Plugin {
    separator: String,
    schema: SchemaRef,
}

impl Reader for Plugin {
    type Options = Options;

    fn describe() -> PluginInfo {
        PluginInfo::reader("{{name}}", env!("CARGO_PKG_VERSION"), "Reads `key = value` lines, one row per line")
            .output("rows")
            .option(OptionSpec::new("separator", "string", "Between key and value").default_value("\"=\""))
            .planning(Planning::Delimited(b'\n'))
    }

    fn new(options: Options) -> Result<Self> {
        if options.separator.is_empty() {
            return Err(Error::invalid_options("separator: must not be empty"));
        }
        let schema = Arc::new(Schema::new(vec![
            Field::new("source_path", DataType::Utf8, false),
            Field::new("key", DataType::Utf8, false),
            Field::new("value", DataType::Utf8, false),
        ]));
        Ok(Plugin { separator: options.separator, schema })
    }

    fn output_schemas(&self) -> Result<Vec<(String, SchemaRef)>> {
        Ok(vec![("rows".to_string(), self.schema.clone())])
    }

    fn read(
        &mut self,
        _split: &Split,
        file: Option<&InputFile>,
        input: Option<Input>,
        out: &mut Output,
    ) -> Result<Outcome> {
        let input = input.ok_or_else(|| Error::invalid_options("this reader needs input files"))?;
        let path = file.map_or("", |f| f.path.as_str());
        let mut rows = Rows::default();
        for (number, line) in std::io::BufReader::new(input.reader(1 << 20)).split(b'\n').enumerate() {
            let line = line.map_err(|e| Error::io(e.to_string()))?;
            let parsed = match std::str::from_utf8(&line) {
                Ok(text) => parse(text, &self.separator),
                Err(_) => Parsed::Bad("not UTF-8 text"),
            };
            match parsed {
                Parsed::Skip => {}
                // "line N" counts from the start of this split; the host
                // turns it into the line number in the file.
                Parsed::Bad(reason) => out.reject(&format!("line {}", number + 1), reason),
                Parsed::Pair(key, value) => {
                    rows.push(path, key, value);
                    if rows.len >= BATCH_ROWS {
                        out.emit("rows", &rows.finish(&self.schema)?)?;
                    }
                }
            }
        }
        if rows.len > 0 {
            out.emit("rows", &rows.finish(&self.schema)?)?;
        }
        Ok(Outcome::complete())
    }
}

/// What one line holds.
#[derive(Debug, PartialEq)]
enum Parsed<'a> {
    Skip,
    Bad(&'static str),
    Pair(&'a str, &'a str),
}

fn parse<'a>(line: &'a str, separator: &str) -> Parsed<'a> {
    let line = line.trim_end_matches('\r').trim();
    if line.is_empty() || line.starts_with('#') {
        return Parsed::Skip;
    }
    match line.split_once(separator) {
        Some((key, value)) if !key.trim().is_empty() => Parsed::Pair(key.trim(), value.trim()),
        Some(_) => Parsed::Bad("no key before the separator"),
        None => Parsed::Bad("no separator in the line"),
    }
}

/// Column builders for one batch.
#[derive(Default)]
struct Rows {
    path: StringBuilder,
    key: StringBuilder,
    value: StringBuilder,
    len: usize,
}

impl Rows {
    fn push(&mut self, path: &str, key: &str, value: &str) {
        self.path.append_value(path);
        self.key.append_value(key);
        self.value.append_value(value);
        self.len += 1;
    }

    fn finish(&mut self, schema: &SchemaRef) -> Result<RecordBatch> {
        self.len = 0;
        let columns: Vec<ArrayRef> =
            vec![Arc::new(self.path.finish()), Arc::new(self.key.finish()), Arc::new(self.value.finish())];
        Ok(RecordBatch::try_new(schema.clone(), columns)?)
    }
}

runtime_plugin_sdk::export_reader!(Plugin);

// Unit tests run natively: `cargo test` (no wasm needed).
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_pairs_and_skips_comments() {
        assert_eq!(parse("  name = Ada  ", "="), Parsed::Pair("name", "Ada"));
        assert_eq!(parse("url=http://x/?a=b", "="), Parsed::Pair("url", "http://x/?a=b"));
        assert_eq!(parse("# a comment", "="), Parsed::Skip);
        assert_eq!(parse("\r", "="), Parsed::Skip);
    }

    #[test]
    fn rejects_lines_without_a_pair() {
        assert_eq!(parse("just words", "="), Parsed::Bad("no separator in the line"));
        assert_eq!(parse(" = value", "="), Parsed::Bad("no key before the separator"));
    }

    #[test]
    fn builds_a_batch_of_the_declared_schema() {
        let plugin = Plugin::new(Options { separator: "=".into() }).unwrap();
        let mut rows = Rows::default();
        rows.push("a.txt", "k", "v");
        let batch = rows.finish(&plugin.schema).unwrap();
        assert_eq!(batch.num_rows(), 1);
        assert_eq!(batch.schema(), plugin.schema);
    }
}
