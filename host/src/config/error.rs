//! Configuration errors that point at the file, line, column and key, and
//! say how to fix the problem.
//!
//! Validation collects every problem it finds into [`ConfigErrors`] rather
//! than stopping at the first, so one `runtime validate` shows them all.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

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
        self.locate_span(offset, offset + 1)
    }

    fn locate_span(&self, start: usize, end: usize) -> Location {
        let mut start = start.min(self.text.len());
        while !self.text.is_char_boundary(start) {
            start -= 1;
        }
        let before = &self.text[..start];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let line_end = self.text[line_start..].find('\n').map_or(self.text.len(), |i| line_start + i);
        let column = self.text[line_start..start].chars().count() + 1;
        let mut end = end.clamp(start, line_end);
        while !self.text.is_char_boundary(end) {
            end -= 1;
        }
        let width = self.text[start..end].chars().count().max(1);
        let source_line = self.text[line_start..line_end].trim_end_matches('\r').to_string();
        Location { file: self.file.clone(), line, column, width, source_line }
    }

    /// The location of a byte range; the underline stops at the end of
    /// the range's first line.
    pub fn span(&self, span: Range<usize>) -> Option<Location> {
        Some(self.locate_span(span.start, span.end))
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

/// Makes the problems found while preparing as clear as the file allows:
/// plugin option errors (serde's words, at the stage's `options`) become
/// `unknown option` / `missing option` / `unknown value` with a suggestion,
/// pointing at the option itself; a glob that matches nothing points at
/// that glob; and a stream missing only because its transform already has
/// an error is not reported a second time.
pub fn polish(errors: ConfigErrors, file: &Path, text: Option<&str>) -> ConfigErrors {
    let doc = text.and_then(|t| toml_edit::Document::parse(t.to_string()).ok());
    let map = text.map(|t| SourceMap::new(file, t));
    let broken: Vec<String> = errors
        .0
        .iter()
        .filter_map(|e| e.key.strip_prefix("transforms."))
        .filter_map(|k| k.split('.').next())
        .map(|n| format!("no stream named `{n}`"))
        .collect();
    let mut out = ConfigErrors::default();
    for mut e in errors.0 {
        if e.key.ends_with(".input") && broken.contains(&e.message) {
            continue;
        }
        if let Some(options_at) = e.key.find(".options") {
            let path = e.key[options_at + ".options".len()..].trim_start_matches('.').to_string();
            let word = if path.contains(['.', '[']) { "key" } else { "option" };
            let m = e.message.clone();
            if let Some(rest) = m.strip_prefix("unknown field `") {
                let (field, expected) = rest.split_once('`').unwrap_or((rest, ""));
                let known: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
                e.message = format!("unknown {word} `{field}`");
                let hint = match did_you_mean(field, known.iter().copied()) {
                    Some(k) => format!("did you mean `{k}`?"),
                    None if known.is_empty() => e.hint.clone().unwrap_or_default(),
                    None => format!("{word}s here: {}", known.join(", ")),
                };
                e.hint = Some(hint);
            } else if let Some(rest) = m.strip_prefix("missing field `") {
                let field = rest.split('`').next().unwrap_or(rest);
                e.message = format!("missing {word} `{field}`");
                e.key = if path.is_empty() { format!("{}.{field}", e.key) } else { e.key.clone() };
            } else if let Some(rest) = m.strip_prefix("unknown variant `") {
                let (value, expected) = rest.split_once('`').unwrap_or((rest, ""));
                let known: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
                e.message = format!("unknown value `{value}`");
                e.hint = Some(match did_you_mean(value, known.iter().copied()) {
                    Some(k) => format!("did you mean `{k}`?"),
                    None => format!("one of: {}", known.join(", ")),
                });
            } else if let Some(rest) = m.strip_prefix("invalid type: ")
                && let Some((found, expected)) = rest.rsplit_once(", expected ")
            {
                e.message = format!(
                    "expected {}, found {}",
                    super::expected_words(expected),
                    super::found_words(found)
                );
            }
            let key_wanted = e.message.starts_with("unknown option") || e.message.starts_with("unknown key");
            if let (Some(doc), Some(map)) = (&doc, &map)
                && let Some(span) = option_span(doc, &e.key, key_wanted)
            {
                e.location = map.span(span);
            }
        } else if e.key.ends_with(".inputs")
            && let Some(glob) = e.message.strip_prefix('`').and_then(|r| r.split('`').next())
            && let (Some(doc), Some(map)) = (&doc, &map)
            && let Some(span) = glob_span(doc, &e.key, glob)
        {
            e.location = map.span(span);
        }
        out.push(e);
    }
    out
}

/// A place in a parsed pipeline file: a table entry, an array element, or
/// one table of an array of tables (`[[transforms]]`).
#[derive(Clone, Copy)]
enum Node<'a> {
    Item(&'a toml_edit::Item),
    Value(&'a toml_edit::Value),
    Table(&'a toml_edit::Table),
}

type Span = std::ops::Range<usize>;

impl<'a> Node<'a> {
    fn span(self) -> Option<Span> {
        match self {
            Node::Item(i) => i.span(),
            Node::Value(v) => v.span(),
            Node::Table(t) => t.span(),
        }
    }
    /// The entry `key`, and the span of the key itself.
    fn get(self, key: &str) -> Option<(Node<'a>, Option<Span>)> {
        match self {
            Node::Item(i) => {
                let t = i.as_table_like()?;
                Some((Node::Item(t.get(key)?), t.key(key).and_then(|k| k.span())))
            }
            Node::Table(t) => Some((Node::Item(t.get(key)?), t.key(key).and_then(|k| k.span()))),
            Node::Value(v) => {
                let t = v.as_inline_table()?;
                Some((Node::Value(t.get(key)?), t.key(key).and_then(|k| k.span())))
            }
        }
    }
    fn index(self, i: usize) -> Option<Node<'a>> {
        match self {
            Node::Item(item) => item.as_array().and_then(|a| a.get(i)).map(Node::Value),
            Node::Value(v) => v.as_array().and_then(|a| a.get(i)).map(Node::Value),
            Node::Table(_) => None,
        }
    }
    fn elements(self) -> Vec<Node<'a>> {
        match self {
            Node::Item(item) => item.as_array().map_or(vec![self], |a| a.iter().map(Node::Value).collect()),
            Node::Value(v) => v.as_array().map_or(vec![self], |a| a.iter().map(Node::Value).collect()),
            Node::Table(_) => Vec::new(),
        }
    }
    fn as_str(self) -> Option<&'a str> {
        match self {
            Node::Item(i) => i.as_str(),
            Node::Value(v) => v.as_str(),
            Node::Table(_) => None,
        }
    }
}

/// The table of the stage a key such as `transforms.labels.options.x`
/// belongs to, and the rest of the key (`options.x`).
fn stage_node<'a, 'k>(doc: &'a toml_edit::Document<String>, key: &'k str) -> Option<(Node<'a>, &'k str)> {
    let root = doc.as_table();
    if let Some(rest) = key.strip_prefix("source.") {
        return Some((Node::Item(root.get("source")?), rest));
    }
    if let Some(rest) = key.strip_prefix("side_tables.") {
        let (name, rest) = rest.split_once('.')?;
        return Some((Node::Item(root.get("side_tables")?.get(name)?), rest));
    }
    let (name, rest) = key.strip_prefix("transforms.")?.split_once('.')?;
    let tables = root.get("transforms")?.as_array_of_tables()?;
    let table = tables.iter().find(|t| t.get("name").and_then(|n| n.as_str()) == Some(name))?;
    Some((Node::Table(table), rest))
}

/// Where the option named by an error key is written: the key itself
/// (`key_wanted`, for unknown options) or its value, as deep as the file
/// has it.
fn option_span(doc: &toml_edit::Document<String>, key: &str, key_wanted: bool) -> Option<Span> {
    let (mut node, rest) = stage_node(doc, key)?;
    let mut best = None;
    let mut last_key = None;
    let mut resolved = true;
    'path: for part in rest.split('.') {
        let (name, mut indexes) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        match node.get(name) {
            Some((n, k)) => {
                node = n;
                last_key = k.clone();
                best = n.span().or(k).or(best);
            }
            None => {
                resolved = false;
                break;
            }
        }
        while let Some(r) = indexes.strip_prefix('[') {
            let Some((i, more)) = r.split_once(']') else { break };
            match i.parse().ok().and_then(|i| node.index(i)) {
                Some(n) => {
                    node = n;
                    last_key = None;
                    best = n.span().or(best);
                }
                None => {
                    resolved = false;
                    break 'path;
                }
            }
            indexes = more;
        }
    }
    if key_wanted && resolved { last_key.or(best) } else { best }
}

/// Where a glob of `key` (`source.inputs`) is written.
fn glob_span(doc: &toml_edit::Document<String>, key: &str, glob: &str) -> Option<Span> {
    let (node, rest) = stage_node(doc, key)?;
    let (inputs, _) = node.get(rest)?;
    inputs.elements().into_iter().find(|e| e.as_str() == Some(glob)).and_then(|e| e.span())
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

    #[test]
    fn spans_stop_at_the_end_of_their_line() {
        let m = SourceMap::new(Path::new("p.toml"), "a = [\n  1,\n]\n");
        let l = m.span(4..13).unwrap();
        assert_eq!((l.line, l.column, l.width), (1, 5, 1));
        assert_eq!(l.source_line, "a = [");
    }
}
