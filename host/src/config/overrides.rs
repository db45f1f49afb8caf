//! `--set dotted.key=value`: overrides applied to the pipeline file's text
//! before it is parsed, keeping its layout so error locations stay
//! meaningful.

use super::{ConfigError, ConfigErrors};

/// One `--set key=value` override.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Override {
    pub key: String,
    pub value: String,
}

impl std::str::FromStr for Override {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (key, value) =
            s.split_once('=').ok_or_else(|| format!("`{s}` is not key=value (e.g. run.workers=4)"))?;
        if key.trim().is_empty() {
            return Err(format!("`{s}` has an empty key"));
        }
        Ok(Override { key: key.trim().to_string(), value: value.trim().to_string() })
    }
}

/// Applies `--set dotted.key=value` to the document, keeping its layout so
/// error locations stay meaningful. Values are TOML (`4`, `"text"`, `true`);
/// anything that does not parse as TOML is taken as a string.
pub fn apply_overrides(text: &str, overrides: &[Override]) -> Result<String, ConfigErrors> {
    if overrides.is_empty() {
        return Ok(text.to_string());
    }
    let mut doc: toml_edit::DocumentMut = text
        .parse()
        .map_err(|e: toml_edit::TomlError| ConfigError::new("", format!("invalid TOML: {}", e.message())))?;
    for o in overrides {
        let value: toml_edit::Value =
            o.value.parse().unwrap_or_else(|_| toml_edit::Value::from(o.value.as_str()));
        let parts: Vec<&str> = o.key.split('.').collect();
        let mut item = doc.as_item_mut();
        for (i, part) in parts.iter().enumerate() {
            let last = i == parts.len() - 1;
            let table = item.as_table_like_mut().ok_or_else(|| {
                ConfigError::new(
                    &o.key,
                    format!("cannot set `{}`: `{}` is not a table", o.key, parts[..i].join(".")),
                )
                .hint("--set only reaches keys inside tables, not inside arrays")
            })?;
            if last {
                table.insert(part, toml_edit::Item::Value(value.clone()));
                break;
            }
            if table.get(part).is_none() {
                table.insert(part, toml_edit::Item::Table(toml_edit::Table::new()));
            }
            item = table.get_mut(part).expect("inserted above");
        }
    }
    Ok(doc.to_string())
}
