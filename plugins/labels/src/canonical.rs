//! Canonical JSON of a label map (SPEC §2.5): keys in ascending code-point
//! order, no whitespace, and strings escaped exactly as Python's
//! `json.dumps(M, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`
//! escapes them:
//!
//! * `"` → `\"` and `\` → `\\`;
//! * `\n`, `\r`, `\t`, `\b` (U+0008) and `\f` (U+000C) use their short escapes;
//! * the other characters below U+0020 become `\u00XX` (lowercase hex);
//! * everything else, including `/`, DEL and non-ASCII, is written raw.
//!
//! The caller supplies pairs already sorted by key (byte order of UTF-8 is
//! code-point order). Label sets keep each member's fragment (`"k":"v"`,
//! [`write_pair`]) so that merged objects are joined with
//! [`write_fragments`] without escaping again.

/// Appends `{"k1":"v1","k2":"v2"}` for pairs sorted by key.
pub fn write_object<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>, out: &mut String) {
    out.push('{');
    for (i, (key, value)) in pairs.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_pair(key, value, out);
    }
    out.push('}');
}

/// Appends one member, `"key":"value"`.
pub fn write_pair(key: &str, value: &str, out: &mut String) {
    write_string(key, out);
    out.push(':');
    write_string(value, out);
}

/// Appends an object from members already written by [`write_pair`], in
/// key order.
pub fn write_fragments<'a>(fragments: impl IntoIterator<Item = &'a str>, out: &mut String) {
    out.push('{');
    for (i, fragment) in fragments.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(fragment);
    }
    out.push('}');
}

/// Appends one JSON string literal, quotes included.
pub fn write_string(s: &str, out: &mut String) {
    out.push('"');
    let bytes = s.as_bytes();
    // Fast path (nearly every label): nothing to escape, one copy.
    if bytes.iter().all(|&b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push_str(s);
        out.push('"');
        return;
    }
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &str = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0x00..=0x1f => "",
            _ => continue,
        };
        // Every byte matched above is ASCII, so `i` is a char boundary.
        out.push_str(&s[start..i]);
        if escape.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push_str("\\u00");
            out.push(HEX[usize::from(b >> 4)] as char);
            out.push(HEX[usize::from(b & 0xf)] as char);
        } else {
            out.push_str(escape);
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(pairs: &[(&str, &str)]) -> String {
        let mut out = String::new();
        write_object(pairs.iter().copied(), &mut out);
        out
    }

    fn string(s: &str) -> String {
        let mut out = String::new();
        write_string(s, &mut out);
        out
    }

    #[test]
    fn compact_object() {
        assert_eq!(object(&[]), "{}");
        assert_eq!(object(&[("a", "1")]), r#"{"a":"1"}"#);
        assert_eq!(object(&[("Zed", "1"), ("zone", "")]), r#"{"Zed":"1","zone":""}"#);
    }

    #[test]
    fn fragments_join_like_pairs() {
        let pairs = [("k", "v\n"), ("z", "")];
        let mut a = String::new();
        write_object(pairs, &mut a);
        let fragments: Vec<String> = pairs
            .iter()
            .map(|(k, v)| {
                let mut f = String::new();
                write_pair(k, v, &mut f);
                f
            })
            .collect();
        let mut b = String::new();
        write_fragments(fragments.iter().map(String::as_str), &mut b);
        assert_eq!(a, b);
        assert_eq!(a, r#"{"k":"v\n","z":""}"#);
    }

    #[test]
    fn edge_fixture_value() {
        // The `edge/` fixture's label: quote, backslash, slash and non-ASCII.
        assert_eq!(object(&[("x", "q\"uote\\back/slash é")]), r#"{"x":"q\"uote\\back/slash é"}"#);
    }

    #[test]
    fn control_characters() {
        assert_eq!(string("\n\r\t\u{8}\u{c}"), r#""\n\r\t\b\f""#);
        assert_eq!(string("a\u{0}b\u{1f}c\u{1}"), r#""a\u0000b\u001fc\u0001""#);
        assert_eq!(string("\u{7f}\u{2028}€𝄞/"), "\"\u{7f}\u{2028}€𝄞/\"");
    }

    #[test]
    fn matches_python_json_dumps() {
        // Computed with CPython 3.11:
        // json.dumps({"k\"ey": "v\\a\x1b\x0bl/ü"}, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert_eq!(object(&[("k\"ey", "v\\a\u{1b}\u{b}l/ü")]), r#"{"k\"ey":"v\\a\u001b\u000bl/ü"}"#);
    }
}
