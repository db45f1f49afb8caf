//! The PST file header: format (ANSI or Unicode), encryption method and the
//! roots of the node and block B-trees.
//!
//! Only the fields a reader needs are decoded. Every value read here is
//! checked against the real file size before anything trusts it.

use crate::error::{PstError, Result, corrupt};

/// On-disk layout variant, from the header's `wVer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Outlook 97-2002: 32-bit identifiers and offsets.
    Ansi,
    /// Outlook 2003 and later: 64-bit identifiers and offsets.
    Unicode,
}

impl Format {
    /// Size of a block or page identifier and of a file offset.
    pub fn id_size(self) -> usize {
        match self {
            Format::Ansi => 4,
            Format::Unicode => 8,
        }
    }
    /// Size of the trailer at the end of every block.
    pub fn block_trailer_size(self) -> usize {
        match self {
            Format::Ansi => 12,
            Format::Unicode => 16,
        }
    }
    /// Largest payload a single data block may hold.
    pub fn max_block_data(self) -> usize {
        8192 - self.block_trailer_size()
    }
}

/// How external data blocks are encoded (`bCryptMethod`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Crypt {
    None,
    /// `NDB_CRYPT_PERMUTE`, "compressible encryption": a byte substitution.
    Permute,
    /// `NDB_CRYPT_CYCLIC`, "high encryption".
    Cyclic,
}

/// A reference to a page or block: its identifier and file offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BRef {
    pub bid: u64,
    pub ib: u64,
}

/// The decoded header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub format: Format,
    pub crypt: Crypt,
    /// `SM` for a PST, `SO` for an OST.
    pub is_ost: bool,
    pub node_btree: BRef,
    pub block_btree: BRef,
    /// End of file as the header records it (`ibFileEof`).
    pub file_eof: u64,
}

/// Bytes needed to decode either header variant.
pub const HEADER_SIZE: usize = 564;

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}
fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}
fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

impl Header {
    /// Decodes the header from the first bytes of the file (`bytes` may be
    /// shorter than [`HEADER_SIZE`] for a truncated file) and checks it
    /// against the actual `file_size`.
    pub fn parse(bytes: &[u8], file_size: u64) -> Result<Header> {
        if bytes.len() < 4 || &bytes[..4] != b"!BDN" {
            corrupt!("not a PST file: the magic number !BDN is missing");
        }
        if bytes.len() < 16 {
            corrupt!("truncated header ({} bytes)", bytes.len());
        }
        let client = &bytes[8..10];
        let is_ost = match client {
            b"SM" => false,
            b"SO" => true,
            _ => corrupt!("unknown client magic {:02x}{:02x}", client[0], client[1]),
        };
        let ver = u16_at(bytes, 10);
        let format = match ver {
            14 | 15 => Format::Ansi,
            23 => Format::Unicode,
            36 => {
                return Err(PstError::unsupported(
                    "PST/OST with 4 KiB pages (wVer 36, Outlook 2013 OST) is not supported",
                ));
            }
            v => corrupt!("unknown file format version wVer={v}"),
        };
        let (root, crypt_at) = match format {
            Format::Ansi => (164, 461),
            Format::Unicode => (180, 513),
        };
        if bytes.len() <= crypt_at {
            corrupt!("truncated header ({} bytes)", bytes.len());
        }
        let (file_eof, nbt, bbt) = match format {
            Format::Ansi => (
                u32_at(bytes, root + 4) as u64,
                BRef { bid: u32_at(bytes, root + 20) as u64, ib: u32_at(bytes, root + 24) as u64 },
                BRef { bid: u32_at(bytes, root + 28) as u64, ib: u32_at(bytes, root + 32) as u64 },
            ),
            Format::Unicode => (
                u64_at(bytes, root + 4),
                BRef { bid: u64_at(bytes, root + 36), ib: u64_at(bytes, root + 44) },
                BRef { bid: u64_at(bytes, root + 52), ib: u64_at(bytes, root + 60) },
            ),
        };
        let crypt = match bytes[crypt_at] {
            0 => Crypt::None,
            1 => Crypt::Permute,
            2 => Crypt::Cyclic,
            0x10 => {
                return Err(PstError::unsupported(
                    "the file is protected by Windows Information Protection (bCryptMethod 0x10)",
                ));
            }
            m => corrupt!("unknown encryption method bCryptMethod={m}"),
        };
        for (name, r) in [("node", nbt), ("block", bbt)] {
            if r.ib.checked_add(512).is_none_or(|end| end > file_size) {
                corrupt!(
                    "the {name} B-tree root at offset {} lies outside the file ({file_size} bytes): \
                     the file is truncated or damaged",
                    r.ib
                );
            }
        }
        Ok(Header { format, crypt, is_ost, node_btree: nbt, block_btree: bbt, file_eof })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture_header(name: &str) -> (Vec<u8>, u64) {
        let path = crate::test_support::fixture(name);
        let bytes = std::fs::read(path).unwrap();
        let size = bytes.len() as u64;
        (bytes[..HEADER_SIZE].to_vec(), size)
    }

    #[test]
    fn unicode_header() {
        let (b, size) = fixture_header("sample1.pst");
        let h = Header::parse(&b, size).unwrap();
        assert_eq!(h.format, Format::Unicode);
        assert_eq!(h.crypt, Crypt::Permute);
        assert_eq!(h.file_eof, size);
        assert_eq!(h.node_btree, BRef { bid: 0x4db, ib: 0x9a00 });
        assert_eq!(h.block_btree, BRef { bid: 0x4de, ib: 0x7400 });
    }

    #[test]
    fn ansi_header() {
        let (b, size) = fixture_header("sample2.pst");
        let h = Header::parse(&b, size).unwrap();
        assert_eq!(h.format, Format::Ansi);
        assert_eq!(h.file_eof, size);
        assert_eq!(h.node_btree, BRef { bid: 0x3e7, ib: 0x8800 });
        assert_eq!(h.block_btree, BRef { bid: 0x3ea, ib: 0x7000 });
    }

    #[test]
    fn rejects_garbage_and_truncation() {
        assert!(Header::parse(b"", 0).is_err());
        assert!(Header::parse(b"PK\x03\x04", 4).is_err());
        let (b, size) = fixture_header("sample1.pst");
        for cut in [4, 10, 100, 300] {
            assert_eq!(Header::parse(&b[..cut], size).unwrap_err().kind, crate::error::ErrorKind::Corrupt);
        }
        // The B-tree roots must lie inside the file.
        assert!(Header::parse(&b, 0x9a00).is_err());
    }
}
