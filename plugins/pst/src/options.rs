//! The `pst` reader's options (`[source.options]` in `pipeline.toml`):
//! what to extract, how large batches are, and the bounds that keep memory
//! use predictable on huge or hostile mailboxes.

use crate::mailbox::Settings;
use runtime_plugin_sdk::error::{Error, Result};
use runtime_plugin_sdk::info::OptionSpec;
use serde::Deserialize;

/// Options as written under `[source.options]`. Every option has a default.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Options {
    /// Put attachment bytes in the `content` column (otherwise null; size
    /// and SHA-256 are always filled).
    pub attachment_content: bool,
    /// Largest attachment whose bytes are kept; larger ones get a null
    /// `content` but are still sized and hashed (streamed).
    pub max_attachment_bytes: u64,
    /// Read HTML bodies into `body_html`.
    pub body_html: bool,
    /// Largest text value (body, HTML body, headers) read; larger values are
    /// left null and a warning is logged.
    pub max_value_bytes: u64,
    /// Messages per `messages` batch (and attachments per `attachments`
    /// batch).
    pub batch_rows: usize,
    /// Approximate bytes per batch: a batch is sent once its buffered rows
    /// reach this size.
    pub batch_bytes: u64,
    /// Check the checksum of every page and block; a mismatch is damage.
    pub verify_checksums: bool,
    /// Windows code page for 8-bit strings of messages that name none.
    pub default_codepage: u32,
    /// After the walk, look for messages the folder tree no longer reaches
    /// (see `Mailbox::recover`), and add a `recovered` column.
    pub recover: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            attachment_content: true,
            max_attachment_bytes: 64 << 20,
            body_html: true,
            max_value_bytes: 64 << 20,
            batch_rows: 1000,
            batch_bytes: 16 << 20,
            verify_checksums: true,
            default_codepage: 1252,
            recover: false,
        }
    }
}

const MAX_VALUE_LIMIT: u64 = 1 << 30;

impl Options {
    /// Checks ranges; every problem is reported, not just the first.
    pub fn validate(&self) -> Result<()> {
        let mut problems = Vec::new();
        if self.batch_rows == 0 || self.batch_rows > 1_000_000 {
            problems.push(format!("batch_rows: {} is outside 1..=1000000", self.batch_rows));
        }
        if !(64 << 10..=MAX_VALUE_LIMIT).contains(&self.batch_bytes) {
            problems.push(format!("batch_bytes: {} is outside 65536..=1073741824", self.batch_bytes));
        }
        if self.max_attachment_bytes > MAX_VALUE_LIMIT {
            problems.push(format!("max_attachment_bytes: {} is above 1073741824", self.max_attachment_bytes));
        }
        if self.max_value_bytes == 0 || self.max_value_bytes > MAX_VALUE_LIMIT {
            problems.push(format!("max_value_bytes: {} is outside 1..=1073741824", self.max_value_bytes));
        }
        if problems.is_empty() { Ok(()) } else { Err(Error::invalid_options(problems.join("; "))) }
    }

    /// The walk settings these options imply.
    pub fn settings(&self) -> Settings {
        Settings {
            max_value_bytes: self.max_value_bytes,
            attachment_content: self.attachment_content,
            max_attachment_bytes: self.max_attachment_bytes,
            body_html: self.body_html,
            default_codepage: self.default_codepage,
            recover: self.recover,
            ..Settings::default()
        }
    }

    /// Documentation of every option, for `describe()`.
    pub fn specs() -> Vec<OptionSpec> {
        let d = Options::default();
        vec![
            OptionSpec::new(
                "attachment_content",
                "boolean",
                "Put attachment bytes in the `content` column of `attachments`; when false it is null \
                 (size and sha256 are always filled)",
            )
            .default_value(&d.attachment_content.to_string()),
            OptionSpec::new(
                "max_attachment_bytes",
                "integer",
                "Largest attachment whose bytes are kept in `content`; larger ones are streamed through \
                 SHA-256 and get a null `content`",
            )
            .default_value(&d.max_attachment_bytes.to_string()),
            OptionSpec::new("body_html", "boolean", "Read HTML bodies into `body_html`")
                .default_value(&d.body_html.to_string()),
            OptionSpec::new(
                "max_value_bytes",
                "integer",
                "Largest body or header value read; larger values are left null and a warning is logged",
            )
            .default_value(&d.max_value_bytes.to_string()),
            OptionSpec::new("batch_rows", "integer", "Rows per emitted batch, for both outputs")
                .default_value(&d.batch_rows.to_string()),
            OptionSpec::new(
                "batch_bytes",
                "integer",
                "Approximate bytes per emitted batch; a batch is sent when its rows reach this size",
            )
            .default_value(&d.batch_bytes.to_string()),
            OptionSpec::new(
                "verify_checksums",
                "boolean",
                "Check the CRC of every page and block; a mismatch is treated as damage",
            )
            .default_value(&d.verify_checksums.to_string()),
            OptionSpec::new(
                "default_codepage",
                "integer",
                "Windows code page for 8-bit strings of messages that do not name one (ANSI PSTs)",
            )
            .default_value(&d.default_codepage.to_string()),
            OptionSpec::new(
                "recover",
                "boolean",
                "After the walk, read every message node the folder tree no longer reaches (a damaged \
                 contents or hierarchy table, a damaged node B-tree: then every page of the file is \
                 scanned for intact node B-tree leaves); such rows have `recovered` = true, a column \
                 added with this option. Every recovered message passes the same checks as the others",
            )
            .default_value(&d.recover.to_string()),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use runtime_plugin_sdk::options::parse;

    #[test]
    fn defaults_from_empty_object() {
        let o: Options = parse("{}").unwrap();
        assert_eq!(o, Options::default());
        o.validate().unwrap();
    }

    #[test]
    fn unknown_option_is_an_error() {
        let e = parse::<Options>(r#"{"attachment_contents": false}"#).unwrap_err();
        assert!(e.message.contains("unknown field `attachment_contents`"), "{}", e.message);
    }

    #[test]
    fn ranges_are_checked_together() {
        let o: Options = parse(r#"{"batch_rows": 0, "batch_bytes": 10}"#).unwrap();
        let e = o.validate().unwrap_err();
        assert!(e.message.contains("batch_rows") && e.message.contains("batch_bytes"), "{}", e.message);
    }

    #[test]
    fn specs_name_every_option() {
        let names: Vec<String> = Options::specs().into_iter().map(|s| s.name).collect();
        for field in [
            "attachment_content",
            "max_attachment_bytes",
            "body_html",
            "max_value_bytes",
            "batch_rows",
            "batch_bytes",
            "verify_checksums",
            "default_codepage",
        ] {
            assert!(names.contains(&field.to_string()), "{field}");
            // Each documented option is accepted by the parser.
            let value =
                if field.starts_with("max") || field.starts_with("batch") || field.ends_with("codepage") {
                    "65536"
                } else {
                    "true"
                };
            parse::<Options>(&format!("{{\"{field}\": {value}}}")).unwrap();
        }
    }
}
