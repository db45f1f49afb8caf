//! Configuration errors that point at the file, line, column and key, and
//! say how to fix the problem.
//!
//! Validation collects every problem it finds into [`ConfigErrors`] rather
//! than stopping at the first, so one `runtime validate` shows them all.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// Where in a file something is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
}

/// One problem with a pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub location: Option<Location>,
    /// Dotted path of the offending key, such as `source.max_split_bytes`.
    pub key: String,
    pub message: String,
    pub hint: Option<String>,
}

impl ConfigError {
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError { location: None, key: key.into(), message: message.into(), hint: None }
    }
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
    pub fn at(mut self, location: Option<Location>) -> Self {
        self.location = location;
        self
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(l) = &self.location {
            write!(f, "{}:{}:{}: ", l.file.display(), l.line, l.column)?;
        }
        if self.key.is_empty() {
            write!(f, "{}", self.message)?;
        } else {
            write!(f, "`{}`: {}", self.key, self.message)?;
        }
        if let Some(h) = &self.hint {
            write!(f, "\n  hint: {h}")?;
        }
        Ok(())
    }
}

/// Every problem found in a pipeline.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl ConfigErrors {
    pub fn push(&mut self, e: ConfigError) {
        self.0.push(e);
    }
    pub fn into_result<T>(self, value: T) -> Result<T, ConfigErrors> {
        if self.0.is_empty() { Ok(value) } else { Err(self) }
    }
}

impl From<ConfigError> for ConfigErrors {
    fn from(e: ConfigError) -> Self {
        ConfigErrors(vec![e])
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "error: {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// Turns byte offsets of a file's text into line/column locations.
#[derive(Debug, Clone)]
pub struct SourceMap {
    pub file: PathBuf,
    text: String,
}

impl SourceMap {
    pub fn new(file: &Path, text: &str) -> Self {
        SourceMap { file: file.to_path_buf(), text: text.to_string() }
    }

    /// The whole text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The 1-based line and column of a byte offset.
    pub fn locate(&self, offset: usize) -> Location {
        let offset = offset.min(self.text.len());
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = self.text[line_start..offset].chars().count() + 1;
        Location { file: self.file.clone(), line, column }
    }

    pub fn span(&self, span: Range<usize>) -> Option<Location> {
        Some(self.locate(span.start))
    }
}

/// The closest candidate to `word`, if it is close enough to be a likely typo.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(word, c), c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 4) && *d < c.len())
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locate_lines_and_columns() {
        let m = SourceMap::new(Path::new("p.toml"), "a = 1\nbé = 2\n");
        assert_eq!(m.locate(0).line, 1);
        let l = m.locate(10); // "=" on line 2, after "bé " (é is two bytes)
        assert_eq!((l.line, l.column), (2, 4));
    }

    #[test]
    fn suggestions() {
        let keys = ["max_split_bytes", "inputs", "plugin", "options"];
        assert_eq!(did_you_mean("max_split_byte", keys), Some("max_split_bytes"));
        assert_eq!(did_you_mean("input", keys), Some("inputs"));
        assert_eq!(did_you_mean("zzz", keys), None);
    }

    #[test]
    fn display_with_location_and_hint() {
        let e = ConfigError::new("source.plugin", "no plugin named `ndjsn`")
            .hint("did you mean `ndjson`?")
            .at(Some(Location { file: "p.toml".into(), line: 3, column: 10 }));
        assert_eq!(
            e.to_string(),
            "p.toml:3:10: `source.plugin`: no plugin named `ndjsn`\n  hint: did you mean `ndjson`?"
        );
    }
}
