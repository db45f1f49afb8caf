//! Parsing a stage's options (JSON from `pipeline.toml`) into the plugin's
//! options struct, with errors that name the offending option.

use crate::error::{Error, Result};
use serde::de::DeserializeOwned;

/// Parses the options object. Errors name the option path, such as
/// `fields[2].type: unknown variant "strnig", expected one of ...`, so the
/// host can point at the right key of `pipeline.toml`.
pub fn parse<T: DeserializeOwned>(json: &str) -> Result<T> {
    let json = if json.trim().is_empty() { "{}" } else { json };
    let mut de = serde_json::Deserializer::from_str(json);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = strip_position(&e.inner().to_string());
        if path.is_empty() || path == "." {
            Error::invalid_options(inner)
        } else {
            Error::invalid_options(format!("{path}: {inner}"))
        }
    })
}

/// serde_json appends " at line 1 column 42" to its messages; that position
/// is in the JSON the host made, not in the user's file, so drop it.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) if message[i..].contains(" column ") => message[..i].to_string(),
        _ => message.to_string(),
    }
}

/// Checks the names of a reader's declared columns (`fields[i].name`, in
/// order): none empty, none twice. The text readers (`ndjson`, `csv`) share
/// it, so the same mistake reads the same in both.
pub fn check_field_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<()> {
    let mut seen = std::collections::HashSet::new();
    for (i, name) in names.into_iter().enumerate() {
        if name.is_empty() {
            return Err(Error::invalid_options(format!("fields[{i}].name: must not be empty")));
        }
        if !seen.insert(name) {
            return Err(Error::invalid_options(format!(
                "fields[{i}].name: `{name}` appears twice; column names must be unique"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Opts {
        fields: Vec<Field>,
        #[serde(default)]
        batch_rows: Option<u32>,
    }

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Field {
        name: String,
        #[serde(rename = "type")]
        ty: String,
    }

    #[test]
    fn unknown_key_names_path() {
        let err = parse::<Opts>(r#"{"fields":[{"name":"a","type":"string","typo":1}]}"#).unwrap_err();
        assert_eq!(err.kind, crate::error::ErrorKind::InvalidOptions);
        assert_eq!(err.message, "fields[0].typo: unknown field `typo`, expected `name` or `type`");
        assert!(!err.message.contains("line 1"), "{}", err.message);
    }

    #[test]
    fn wrong_type_names_path() {
        let err = parse::<Opts>(r#"{"fields":[],"batch_rows":"many"}"#).unwrap_err();
        assert!(err.message.starts_with("batch_rows: invalid type"), "{}", err.message);
    }

    #[test]
    fn missing_required() {
        let err = parse::<Opts>("{}").unwrap_err();
        assert_eq!(err.message, "missing field `fields`");
    }
}
