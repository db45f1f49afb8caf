//! Where things are in a pipeline file: byte offsets as lines and columns
//! ([`SourceMap`]), the whole `key = value` entry behind a serde error (so
//! parsing can blank it and go on to find the next problem), and where a
//! key, a plugin option or a glob named by an error is written.

use super::Location;
use std::ops::Range;
use std::path::{Path, PathBuf};

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

/// The last segment of the key of the `key = value` entry at `range`.
pub(crate) fn key_name(text: &str, range: std::ops::Range<usize>) -> String {
    let entry = &text[range];
    let key = entry.split('=').next().unwrap_or("").trim();
    key.rsplit('.').next().unwrap_or(key).trim_matches(['"', '\'']).to_string()
}

/// The byte range of the whole `key = value` entry whose key or value is at
/// `span` (with a comma that separates it from a neighbour in an inline
/// table), or `None` when the span is not one entry (a `[table]`, a
/// syntax error).
pub(crate) fn entry_range(text: &str, span: std::ops::Range<usize>) -> Option<std::ops::Range<usize>> {
    let doc = toml_edit::Document::parse(text).ok()?;
    let (start, end) = find_entry(doc.as_table(), &span)?;
    // Back over the leading segments of a dotted key (`limits.memory`).
    let bytes = text.as_bytes();
    let mut start = start;
    while start > 0 && !matches!(bytes[start - 1], b' ' | b'\t' | b'\n' | b'\r' | b'{' | b',') {
        start -= 1;
    }
    let mut end = end;
    let mut after = end;
    while after < bytes.len() && matches!(bytes[after], b' ' | b'\t') {
        after += 1;
    }
    if after < bytes.len() && bytes[after] == b',' {
        end = after + 1;
    } else {
        let mut before = start;
        while before > 0 && matches!(bytes[before - 1], b' ' | b'\t') {
            before -= 1;
        }
        if before > 0 && bytes[before - 1] == b',' {
            start = before - 1;
        }
    }
    Some(start..end)
}

fn find_entry(table: &dyn toml_edit::TableLike, span: &std::ops::Range<usize>) -> Option<(usize, usize)> {
    for (name, item) in table.iter() {
        let key_span = table.key(name).and_then(|k| k.span());
        let value_span = match item {
            toml_edit::Item::Value(v) => v.span(),
            _ => None,
        };
        if key_span.as_ref() == Some(span) || value_span.as_ref() == Some(span) {
            // Whole tables are not blanked: too much could depend on them.
            return match (key_span, value_span) {
                (Some(k), Some(v)) => Some((k.start, v.end)),
                _ => None,
            };
        }
        let found = match item {
            toml_edit::Item::Table(t) => find_entry(t, span),
            toml_edit::Item::ArrayOfTables(a) => a.iter().find_map(|t| find_entry(t, span)),
            toml_edit::Item::Value(v) => find_in_value(v, span),
            toml_edit::Item::None => None,
        };
        if found.is_some() {
            return found;
        }
    }
    None
}

fn find_in_value(v: &toml_edit::Value, span: &std::ops::Range<usize>) -> Option<(usize, usize)> {
    match v {
        toml_edit::Value::InlineTable(t) => find_entry(t, span),
        toml_edit::Value::Array(a) => a.iter().find_map(|v| find_in_value(v, span)),
        _ => None,
    }
}

/// The dotted key path at a byte offset, from the enclosing `[table]` header
/// and the key on that line (best effort, for error messages).
pub(crate) fn key_at(map: &SourceMap, offset: usize) -> String {
    let text = map.text();
    let before = &text[..offset.min(text.len())];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = &text[line_start..];
    let line = &line[..line.find('\n').unwrap_or(line.len())];
    let header = before[..line_start]
        .lines()
        .rev()
        .find_map(|l| {
            let l = l.trim();
            l.strip_prefix("[[")
                .and_then(|r| r.strip_suffix("]]"))
                .or_else(|| l.strip_prefix('[').and_then(|r| r.strip_suffix(']')))
                .map(str::trim)
        })
        .unwrap_or("");
    let t = line.trim();
    if t.starts_with('[') {
        return t.trim_matches(|c| c == '[' || c == ']').trim().to_string();
    }
    let key = t.split('=').next().unwrap_or("").trim();
    match (header.is_empty(), key.is_empty()) {
        (true, _) => key.to_string(),
        (false, true) => header.to_string(),
        (false, false) => format!("{header}.{key}"),
    }
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
pub(crate) fn option_span(doc: &toml_edit::Document<String>, key: &str, key_wanted: bool) -> Option<Span> {
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
pub(crate) fn glob_span(doc: &toml_edit::Document<String>, key: &str, glob: &str) -> Option<Span> {
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
    fn spans_stop_at_the_end_of_their_line() {
        let m = SourceMap::new(Path::new("p.toml"), "a = [\n  1,\n]\n");
        let l = m.span(4..13).unwrap();
        assert_eq!((l.line, l.column, l.width), (1, 5, 1));
        assert_eq!(l.source_line, "a = [");
    }
}
