//! Parsing one raw labels value (the JSON text of a field, as the reader hands
//! it over) into a [`LabelSet`]: a map from label key to string value, sorted
//! by key.
//!
//! Accepted forms, after trimming JSON whitespace:
//!
//! | text | labels |
//! |---|---|
//! | `{"app": "web"}` (an object) | its members |
//! | `"{\"app\": \"web\"}"` (a string holding an object's text) | the inner object's members |
//! | SQL null, `null`, `""`, the empty text, a string holding `null` | `{}` |
//!
//! Inside an object a duplicate key keeps its last value (as Python's
//! `json.loads` does). Values that are not strings are stringified: `true` and
//! `false` become `"true"` and `"false"`, a number keeps its JSON text as
//! written (`1.50` stays `"1.50"`), and `null` removes the key from that
//! object (so a lower-precedence source may supply it). Arrays and nested
//! objects as values are invalid, as is anything else.

use crate::canonical::write_pair;
use serde::de::{self, DeserializeSeed, MapAccess, Visitor};
use serde_json::value::RawValue;
use std::fmt;

/// A set of labels: unique keys in ascending byte order (= code point order),
/// each with its canonical JSON fragment `"key":"value"`, computed once here
/// so that merging never escapes a string again.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSet {
    pairs: Vec<(Box<str>, Box<str>)>,
    fragments: Vec<Box<str>>,
}

impl LabelSet {
    /// The empty set, `{}`.
    pub fn empty() -> Self {
        LabelSet::default()
    }

    /// Builds a set from pairs in any order; of duplicate keys the last wins.
    pub fn from_pairs<K: Into<Box<str>>, V: Into<Box<str>>>(pairs: impl IntoIterator<Item = (K, V)>) -> Self {
        let pairs = pairs.into_iter().map(|(k, v)| (k.into(), Some(v.into()))).collect();
        Self::from_entries(pairs)
    }

    /// Sorts by key, keeps the last entry of each key and drops keys whose
    /// last value is `None` (a JSON `null`).
    fn from_entries(mut entries: Vec<(Box<str>, Option<Box<str>>)>) -> Self {
        // Stable sort: entries of one key stay in input order, so the last is
        // the one written last.
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        let mut pairs: Vec<(Box<str>, Box<str>)> = Vec::with_capacity(entries.len());
        let mut iter = entries.into_iter().peekable();
        while let Some((key, value)) = iter.next() {
            if iter.peek().is_some_and(|(next, _)| *next == key) {
                continue;
            }
            if let Some(value) = value {
                pairs.push((key, value));
            }
        }
        let mut text = String::new();
        let fragments = pairs
            .iter()
            .map(|(k, v)| {
                text.clear();
                write_pair(k, v, &mut text);
                text.as_str().into()
            })
            .collect();
        LabelSet { pairs, fragments }
    }

    /// The pairs, sorted by key.
    pub fn pairs(&self) -> &[(Box<str>, Box<str>)] {
        &self.pairs
    }

    /// The canonical JSON fragment of pair `i`: `"key":"value"`.
    pub fn fragment(&self, i: usize) -> &str {
        &self.fragments[i]
    }

    /// The fragments, in key order.
    pub fn fragments(&self) -> impl Iterator<Item = &str> {
        self.fragments.iter().map(|f| &**f)
    }

    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    pub fn len(&self) -> usize {
        self.pairs.len()
    }
}

/// Parses a raw labels value; `None` is SQL null. The error says what is
/// wrong with the text, without naming the row (the caller does that).
pub fn parse_labels(raw: Option<&str>) -> Result<LabelSet, String> {
    let Some(raw) = raw else { return Ok(LabelSet::empty()) };
    let text = trim_json_ws(raw);
    match text.as_bytes().first() {
        None => Ok(LabelSet::empty()),
        Some(b'{') => parse_object(text),
        Some(b'"') => {
            let inner: String = serde_json::from_str(text)
                .map_err(|e| format!("invalid JSON string: {}", strip_position(&e)))?;
            let inner_text = trim_json_ws(&inner);
            match inner_text.as_bytes().first() {
                None => Ok(LabelSet::empty()),
                Some(b'{') => parse_object(inner_text).map_err(|e| format!("in the string's content: {e}")),
                _ if inner_text == "null" => Ok(LabelSet::empty()),
                _ => Err(format!("the string does not hold a JSON object: {}", excerpt(&inner))),
            }
        }
        _ if text == "null" => Ok(LabelSet::empty()),
        _ => Err(format!("expected a JSON object, a string holding one, null or \"\": {}", excerpt(text))),
    }
}

/// Parses the text of one JSON object of labels.
fn parse_object(text: &str) -> Result<LabelSet, String> {
    let mut de = serde_json::Deserializer::from_str(text);
    let entries = ObjectSeed.deserialize(&mut de).map_err(|e| strip_position(&e))?;
    de.end().map_err(|e| format!("trailing characters after the object: {}", strip_position(&e)))?;
    Ok(LabelSet::from_entries(entries))
}

/// Deserializes a JSON object into (key, value) entries in input order.
struct ObjectSeed;

impl<'de> DeserializeSeed<'de> for ObjectSeed {
    type Value = Vec<(Box<str>, Option<Box<str>>)>;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ObjectSeed {
    type Value = Vec<(Box<str>, Option<Box<str>>)>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object of labels")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(8));
        while let Some(key) = map.next_key::<String>()? {
            let raw: &RawValue = map.next_value()?;
            let value = scalar_text(raw.get()).map_err(|what| {
                de::Error::custom(format!("label `{key}` has {what} as its value; expected a string"))
            })?;
            entries.push((key.into_boxed_str(), value));
        }
        Ok(entries)
    }
}

/// The string form of a scalar JSON value: `Ok(None)` for `null`, the
/// string's content for a string, the text as written for numbers and
/// booleans. `Err` names the kind of a non-scalar value.
fn scalar_text(raw: &str) -> Result<Option<Box<str>>, &'static str> {
    match raw.as_bytes().first() {
        Some(b'"') => {
            // RawValue only holds valid JSON, so this cannot fail.
            let s: String = serde_json::from_str(raw).map_err(|_| "an invalid string")?;
            Ok(Some(s.into_boxed_str()))
        }
        Some(b'n') => Ok(None),
        Some(b'{') => Err("an object"),
        Some(b'[') => Err("an array"),
        Some(_) => Ok(Some(raw.into())),
        None => Err("nothing"),
    }
}

fn trim_json_ws(s: &str) -> &str {
    s.trim_matches(|c| matches!(c, ' ' | '\t' | '\n' | '\r'))
}

/// serde_json's message without " at line 1 column 7" (useful) kept as
/// "at column 7".
fn strip_position(e: &serde_json::Error) -> String {
    let message = e.to_string();
    match message.rfind(" at line ") {
        Some(i) if e.line() == 1 => format!("{} at column {}", &message[..i], e.column()),
        _ => message,
    }
}

/// The start of a value, for error messages.
fn excerpt(s: &str) -> String {
    const MAX: usize = 60;
    if s.len() <= MAX {
        return format!("`{s}`");
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("`{}…`", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(set: &LabelSet) -> Vec<(&str, &str)> {
        set.pairs().iter().map(|(k, v)| (&**k, &**v)).collect()
    }

    #[test]
    fn fragments_are_canonical_pairs() {
        let set = parse_labels(Some(r#"{"b": "q\"", "a": "é"}"#)).unwrap();
        assert_eq!(set.fragments().collect::<Vec<_>>(), [r#""a":"é""#, r#""b":"q\"""#]);
        assert_eq!(set.fragment(1), r#""b":"q\"""#);
    }

    #[test]
    fn string_form_is_parsed_twice() {
        let set = parse_labels(Some(r#""{\"env\": \"pod-env\", \"app\": \"a\"}""#)).unwrap();
        assert_eq!(pairs(&set), [("app", "a"), ("env", "pod-env")]);
    }

    #[test]
    fn nested_object_form() {
        let set = parse_labels(Some(r#"{"app": "a", "env": "pod-env"}"#)).unwrap();
        assert_eq!(pairs(&set), [("app", "a"), ("env", "pod-env")]);
    }

    #[test]
    fn null_empty_and_missing_are_empty() {
        for raw in [None, Some("null"), Some(r#""""#), Some(""), Some("  "), Some(r#""null""#), Some("{}")] {
            assert!(parse_labels(raw).unwrap().is_empty(), "{raw:?}");
        }
        assert!(parse_labels(Some(r#""{}""#)).unwrap().is_empty());
    }

    #[test]
    fn escapes_and_non_ascii_are_decoded() {
        let set = parse_labels(Some(r#"{"x": "q\"uote\\back/slash é", "y": "\u00e9\/"}"#)).unwrap();
        assert_eq!(pairs(&set), [("x", "q\"uote\\back/slash é"), ("y", "é/")]);
    }

    #[test]
    fn keys_sort_by_code_point() {
        let set = parse_labels(Some(r#"{"zone": "1", "Zed": "2", "é": "3", "a": "4"}"#)).unwrap();
        let keys: Vec<&str> = set.pairs().iter().map(|(k, _)| &**k).collect();
        assert_eq!(keys, ["Zed", "a", "zone", "é"]);
    }

    #[test]
    fn duplicate_keys_keep_the_last_value() {
        let set = parse_labels(Some(r#"{"a": "1", "b": "x", "a": "2"}"#)).unwrap();
        assert_eq!(pairs(&set), [("a", "2"), ("b", "x")]);
        let set = parse_labels(Some(r#"{"a": "1", "a": null}"#)).unwrap();
        assert!(set.is_empty());
        let set = parse_labels(Some(r#"{"a": null, "a": "3"}"#)).unwrap();
        assert_eq!(pairs(&set), [("a", "3")]);
    }

    #[test]
    fn scalars_are_stringified_and_null_drops_the_key() {
        let set = parse_labels(Some(r#"{"n": 1.50, "i": -7, "t": true, "f": false, "z": null, "e": 1e3}"#))
            .unwrap();
        assert_eq!(pairs(&set), [("e", "1e3"), ("f", "false"), ("i", "-7"), ("n", "1.50"), ("t", "true")]);
    }

    #[test]
    fn invalid_values() {
        let cases = [
            (r#"{"a": "1""#, "EOF while parsing"),
            (r#"{"a": [1]}"#, "label `a` has an array as its value"),
            (r#"{"a": {"b": "c"}}"#, "label `a` has an object as its value"),
            (r#"{"a": "1"} x"#, "trailing characters"),
            (r#""{\"a\": 1"#, "invalid JSON string"),
            (r#""{\"a\": [1]}""#, "in the string's content: label `a` has an array"),
            (r#""[1, 2]""#, "the string does not hold a JSON object"),
            ("[1, 2]", "expected a JSON object"),
            ("42", "expected a JSON object"),
            ("nul", "expected a JSON object"),
        ];
        for (raw, expected) in cases {
            let err = parse_labels(Some(raw)).unwrap_err();
            assert!(err.contains(expected), "{raw}: {err}");
        }
    }
}
