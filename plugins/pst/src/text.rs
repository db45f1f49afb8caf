//! Turning stored strings into Rust strings: UTF-16 for Unicode properties,
//! Windows code pages for 8-bit ones (`PtypString8`, HTML bodies stored as
//! binary), and the small clean-ups MAPI text needs (subject prefixes,
//! trailing NULs).

use crate::ltp::ptype;
use encoding_rs::Encoding;

/// The encoding for a Windows code page number; Windows-1252 for unknown
/// ones (what Outlook assumes for Western mailboxes).
pub fn encoding_for(codepage: u32) -> &'static Encoding {
    let label: &[u8] = match codepage {
        65001 => b"utf-8",
        1200 => b"utf-16le",
        1201 => b"utf-16be",
        874 => b"windows-874",
        932 => b"shift_jis",
        936 => b"gbk",
        949 => b"euc-kr",
        950 => b"big5",
        866 => b"ibm866",
        1250 => b"windows-1250",
        1251 => b"windows-1251",
        1253 => b"windows-1253",
        1254 => b"windows-1254",
        1255 => b"windows-1255",
        1256 => b"windows-1256",
        1257 => b"windows-1257",
        1258 => b"windows-1258",
        10000 => b"macintosh",
        20866 => b"koi8-r",
        21866 => b"koi8-u",
        28592 => b"iso-8859-2",
        28593 => b"iso-8859-3",
        28594 => b"iso-8859-4",
        28595 => b"iso-8859-5",
        28596 => b"iso-8859-6",
        28597 => b"iso-8859-7",
        28598 => b"iso-8859-8",
        28599 => b"iso-8859-9",
        28603 => b"iso-8859-13",
        28605 => b"iso-8859-15",
        50220..=50222 => b"iso-2022-jp",
        51932 => b"euc-jp",
        51936 => b"gbk",
        51949 => b"euc-kr",
        54936 => b"gb18030",
        _ => b"windows-1252",
    };
    Encoding::for_label(label).unwrap_or(encoding_rs::WINDOWS_1252)
}

/// Decodes a string property value of type `t` (`PtypString`,
/// `PtypString8`, or binary text such as an HTML body) using `codepage` for
/// 8-bit text. Invalid sequences become U+FFFD; trailing NULs are dropped.
pub fn decode(t: u16, bytes: &[u8], codepage: u32) -> String {
    let mut s = if t == ptype::STRING {
        let units = bytes.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]]));
        char::decode_utf16(units).map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER)).collect()
    } else {
        let (text, _, _) = encoding_for(codepage).decode(bytes);
        text.into_owned()
    };
    while s.ends_with('\0') {
        s.pop();
    }
    s
}

/// Drops the normalized-subject marker MAPI stores at the start of a
/// subject: a U+0001 followed by one character giving the prefix length.
pub fn strip_subject_marker(subject: String) -> String {
    let mut chars = subject.chars();
    if chars.next() == Some('\u{1}') {
        chars.next();
        return chars.as_str().to_string();
    }
    subject
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf16_and_codepages() {
        let utf16: Vec<u8> = "héllo\0".encode_utf16().flat_map(u16::to_le_bytes).collect();
        assert_eq!(decode(ptype::STRING, &utf16, 0), "héllo");
        assert_eq!(decode(ptype::STRING8, b"caf\xe9", 1252), "café");
        assert_eq!(decode(ptype::STRING8, b"\xcf\xf0\xe8", 1251), "При");
        assert_eq!(decode(ptype::BINARY, "ok ✓".as_bytes(), 65001), "ok ✓");
        // Odd trailing byte and unpaired surrogates do not panic.
        assert_eq!(decode(ptype::STRING, &[0x00, 0xD8, 0x41], 0), "\u{FFFD}");
    }

    #[test]
    fn subject_marker() {
        assert_eq!(strip_subject_marker("\u{1}\u{4}RE: hi".into()), "RE: hi");
        assert_eq!(strip_subject_marker("\u{1}\u{1}Post".into()), "Post");
        assert_eq!(strip_subject_marker("plain".into()), "plain");
        assert_eq!(strip_subject_marker("\u{1}".into()), "");
    }
}
