//! Text a plugin hands the host (error messages, reasons, log lines, split
//! ids, names in `describe`), made safe to put in a report, a log line, a
//! TSV file or on a terminal: bounded in length, with the cut marked, and
//! with control characters escaped, so a plugin can neither flood the
//! host's outputs nor forge lines or terminal escape sequences in them.
//!
//! Every path by which plugin text enters the host goes through
//! [`untrusted`]; the limits are documented in SECURITY.md.

use std::fmt::Write as _;

/// Longest error message, reason or description kept, in bytes.
pub const MAX_MESSAGE: usize = 4096;
/// Longest name kept (a split id, an output or option name), in bytes.
pub const MAX_NAME: usize = 512;
/// Longest reject location or reason kept, in bytes.
pub const MAX_REJECT: usize = 512;

/// `text` with control characters escaped (`\n`, `\t`, `\r`, and `\u{..}`
/// for the other C0 and C1 controls, DEL and the Unicode bidirectional
/// overrides), cut to at most `max` bytes plus a marker that says how much
/// was cut.
pub fn untrusted(text: &str, max: usize) -> String {
    let clean = text.chars().all(|c| !needs_escape(c));
    if clean && text.len() <= max {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len().min(max) + 32);
    let mut taken = 0;
    for c in text.chars() {
        let before = out.len();
        match c {
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if needs_escape(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
        if out.len() > max {
            out.truncate(before);
            break;
        }
        taken += c.len_utf8();
    }
    if taken < text.len() {
        let _ = write!(out, "… ({} more bytes cut)", text.len() - taken);
    }
    out
}

fn needs_escape(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_short_text_is_kept() {
        assert_eq!(untrusted("line 7: bad \"value\" ✓", 100), "line 7: bad \"value\" ✓");
    }

    #[test]
    fn control_characters_cannot_forge_lines_or_escape_sequences() {
        assert_eq!(untrusted("a\nb\tc\rd", 100), "a\\nb\\tc\\rd");
        assert_eq!(untrusted("\x1b[31mred\x1b[0m\0", 100), "\\u{1b}[31mred\\u{1b}[0m\\u{0}");
        assert_eq!(untrusted("x\u{202e}y\u{7f}", 100), "x\\u{202e}y\\u{7f}");
    }

    #[test]
    fn long_text_is_cut_with_a_marker() {
        let long = "é".repeat(10_000);
        let cut = untrusted(&long, 101);
        assert!(cut.starts_with("éé"));
        assert!(cut.ends_with("… (19900 more bytes cut)"), "{}", &cut[cut.len() - 40..]);
        assert!(cut.len() <= 101 + "… (19900 more bytes cut)".len());
        // Escapes count against the limit and are never split.
        let cut = untrusted(&"\n".repeat(100), 11);
        assert_eq!(cut, "\\n\\n\\n\\n\\n… (95 more bytes cut)");
    }
}
