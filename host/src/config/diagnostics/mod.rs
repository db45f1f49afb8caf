//! Configuration diagnostics: every problem with a pipeline points at the
//! file, line, column and key, and says how to fix it.
//!
//! - this module: the error types and their rendering (rustc-style text,
//!   one line, or JSON);
//! - [`spans`]: byte offsets to lines and columns, and finding where in
//!   the file a key, an option or a glob is written;
//! - [`wording`]: serde's messages (about the file, or about a plugin's
//!   options) read into a [`wording::Problem`] and put in a user's words.
//!
//! Validation collects every problem it finds into [`ConfigErrors`] rather
//! than stopping at the first, so one `runtime validate` shows them all.

pub mod spans;
pub mod wording;

pub use spans::SourceMap;
use std::fmt;
use std::path::PathBuf;

/// Where in a file something is, with the text of that line so errors can
/// show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: PathBuf,
    /// 1-based line and column (in characters).
    pub line: usize,
    pub column: usize,
    /// How many characters of the line the offending text covers (at least 1).
    pub width: usize,
    /// The whole line, without its newline.
    pub source_line: String,
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

    /// The error as a JSON object (for `--log-format json`).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "level": "error",
            "file": self.location.as_ref().map(|l| l.file.display().to_string()),
            "line": self.location.as_ref().map(|l| l.line),
            "column": self.location.as_ref().map(|l| l.column),
            "key": self.key,
            "message": self.message,
            "hint": self.hint,
        })
    }

    /// Renders the error the way rustc and cargo do: a headline, the place
    /// (`--> file:line:column`), the line itself with the offending text
    /// underlined, and the hint. `color` adds ANSI colors.
    pub fn render(&self, color: bool) -> String {
        let paint = |code: &str, text: &str| {
            if color { format!("\x1b[{code}m{text}\x1b[0m") } else { text.to_string() }
        };
        let mut out = paint("1;31", "error");
        out.push_str(&paint("1", ": "));
        let headline = if self.key.is_empty() {
            self.message.clone()
        } else {
            format!("`{}`: {}", self.key, self.message)
        };
        out.push_str(&paint("1", &headline));
        out.push('\n');
        if let Some(l) = &self.location {
            let number = l.line.to_string();
            let pad = " ".repeat(number.len());
            let gutter = |s: &str| paint("1;34", s);
            out.push_str(&format!("{pad}{} {}:{}:{}\n", gutter("-->"), l.file.display(), l.line, l.column));
            out.push_str(&format!("{pad} {}\n", gutter("|")));
            let shown = l.source_line.replace('\t', " ");
            out.push_str(&format!("{} {} {}\n", gutter(&number), gutter("|"), shown.trim_end()));
            let carets = "^".repeat(l.width.max(1));
            let indent = " ".repeat(l.column.saturating_sub(1));
            out.push_str(&format!("{pad} {} {indent}{}\n", gutter("|"), paint("1;31", &carets)));
        }
        if let Some(h) = &self.hint {
            let pad = self.location.as_ref().map_or(0, |l| l.line.to_string().len());
            let mut lines = h.lines();
            let first = lines.next().unwrap_or("");
            out.push_str(&format!("{} {} {first}\n", " ".repeat(pad), paint("1;36", "= hint:")));
            for more in lines {
                out.push_str(&format!("{}         {more}\n", " ".repeat(pad)));
            }
        }
        out
    }
}

/// The compact, one-line form: `file:line:column: `key`: message`, then
/// the hint on its own line.
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

    /// Every error rendered with [`ConfigError::render`], a blank line
    /// between two, sorted by file position (errors without a place last,
    /// in the order found).
    pub fn render(&self, color: bool) -> String {
        let mut sorted: Vec<&ConfigError> = self.0.iter().collect();
        sorted.sort_by_key(|e| e.location.as_ref().map_or((usize::MAX, 0), |l| (l.line, l.column)));
        sorted.iter().map(|e| e.render(color)).collect::<Vec<_>>().join("\n")
    }
}

impl From<ConfigError> for ConfigErrors {
    fn from(e: ConfigError) -> Self {
        ConfigErrors(vec![e])
    }
}

/// The compact form of every error, one `error: ...` each.
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
    use std::path::Path;

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
            .at(SourceMap::new(Path::new("p.toml"), "version = 1\n[source]\nplugin = \"ndjsn\"\n")
                .span(30..37));
        assert_eq!(
            e.to_string(),
            "p.toml:3:10: `source.plugin`: no plugin named `ndjsn`\n  hint: did you mean `ndjson`?"
        );
        assert_eq!(
            e.render(false),
            "error: `source.plugin`: no plugin named `ndjsn`\n \
             --> p.toml:3:10\n  |\n3 | plugin = \"ndjsn\"\n  |          ^^^^^^^\n  = hint: did you mean `ndjson`?\n"
        );
        assert!(e.render(true).contains("\x1b[1;31merror\x1b[0m"));
    }
}
