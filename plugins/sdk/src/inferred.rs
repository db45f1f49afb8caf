//! Telling the user which columns a reader inferred from its inputs.
//!
//! A reader that infers its columns in `discover` (`ndjson` or `csv`
//! without `fields`) returns the schema with one schema-level metadata
//! entry, [`INFERRED_FIELDS_KEY`], holding the `fields = [...]` options that
//! declare exactly those columns, as TOML. The host takes the entry off the
//! schema (it is a message, not data) and prints it in `runtime validate`
//! and `runtime plan`, so the user can paste it into the pipeline and fix
//! the schema.

use arrow_schema::Schema;

/// The metadata key (the host reads the same one).
pub const INFERRED_FIELDS_KEY: &str = "runtime.inferred-fields";

/// One inferred column as its `fields` entry writes it.
pub struct FieldEntry<'a> {
    pub name: &'a str,
    /// Extra keys of the entry after `name` (`path`, `column`), as TOML
    /// values already: `("path", "[\"a.b\"]")`.
    pub extra: Vec<(&'static str, String)>,
    /// The `type` text.
    pub ty: String,
}

/// A string as a TOML basic string (a JSON string is one: the same escapes).
pub fn toml_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// The entries as `fields = [...]`, one inline table per line.
pub fn fields_toml(entries: &[FieldEntry]) -> String {
    let mut out = String::from("fields = [\n");
    for e in entries {
        out.push_str(&format!("  {{ name = {}", toml_string(e.name)));
        for (key, value) in &e.extra {
            out.push_str(&format!(", {key} = {value}"));
        }
        out.push_str(&format!(", type = {} }},\n", toml_string(&e.ty)));
    }
    out.push(']');
    out
}

/// `schema` carrying the note for the host.
pub fn with_note(schema: Schema, entries: &[FieldEntry]) -> Schema {
    let mut metadata = schema.metadata().clone();
    metadata.insert(INFERRED_FIELDS_KEY.into(), fields_toml(entries));
    schema.with_metadata(metadata)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_toml_inline_tables() {
        let entries = [
            FieldEntry { name: "a", extra: vec![], ty: "int64".into() },
            FieldEntry {
                name: "b\"c",
                extra: vec![("path", "[\"b.c\"]".into())],
                ty: "struct<\"x y\": json>".into(),
            },
        ];
        assert_eq!(
            fields_toml(&entries),
            "fields = [\n  { name = \"a\", type = \"int64\" },\n  { name = \"b\\\"c\", path = [\"b.c\"], type = \"struct<\\\"x y\\\": json>\" },\n]"
        );
        let s = with_note(Schema::empty(), &entries);
        assert!(s.metadata()[INFERRED_FIELDS_KEY].starts_with("fields = ["));
    }
}
