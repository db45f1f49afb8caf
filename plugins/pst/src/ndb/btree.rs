//! The node and block B-trees (NBT and BBT): parsing and validating one
//! 512-byte B-tree page, and the entry types their leaves hold.
//!
//! Pages are read one at a time while descending from the root (see
//! `Ndb::find_node` and `Ndb::find_block`), never the whole tree. Each page
//! is checked before use: page type, the identifier in its trailer, its
//! checksum, entry count and size against the page's capacity, and its
//! level, which must drop by exactly one per step so a damaged tree cannot
//! send a descent round in circles.

use super::header::Format;
use crate::crypt::crc32;
use crate::error::{Result, corrupt};

/// Size of every B-tree page.
pub const PAGE_SIZE: usize = 512;
/// Deepest B-tree accepted (real files rarely exceed 4 levels).
pub const MAX_LEVEL: u8 = 12;

/// Which B-tree a page belongs to (`ptype`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tree {
    /// Block B-tree, `ptypeBBT` (0x80).
    Block,
    /// Node B-tree, `ptypeNBT` (0x81).
    Node,
}

impl Tree {
    fn ptype(self) -> u8 {
        match self {
            Tree::Block => 0x80,
            Tree::Node => 0x81,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Tree::Block => "block",
            Tree::Node => "node",
        }
    }
}

/// A leaf entry of the node B-tree: where a node's data and subnodes live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeEntry {
    pub nid: u32,
    pub bid_data: u64,
    pub bid_sub: u64,
    pub nid_parent: u32,
}

/// A leaf entry of the block B-tree: where a block is and how big it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockEntry {
    pub bid: u64,
    pub ib: u64,
    pub cb: u16,
}

/// A validated B-tree page.
pub struct Page<'a> {
    bytes: &'a [u8],
    format: Format,
    pub level: u8,
    pub count: usize,
    stride: usize,
}

fn read_id(b: &[u8], format: Format) -> u64 {
    match format {
        Format::Ansi => u32::from_le_bytes(b[..4].try_into().expect("4")) as u64,
        Format::Unicode => u64::from_le_bytes(b[..8].try_into().expect("8")),
    }
}

/// Where a page's entry metadata and its trailer start.
fn layout(format: Format) -> (usize, usize) {
    match format {
        Format::Ansi => (496, 500),
        Format::Unicode => (488, 496),
    }
}

impl<'a> Page<'a> {
    /// The page id a page's own trailer gives (what [`Page::parse`] checks
    /// against the id its reference names; a scan of the file has no
    /// reference and takes this one).
    pub fn own_id(bytes: &[u8], format: Format) -> u64 {
        let t = &bytes[layout(format).1..];
        match format {
            Format::Ansi => read_id(&t[4..], format),
            Format::Unicode => read_id(&t[8..], format),
        }
    }

    /// Validates `bytes` (one page read at `ib`) as a page of `tree` whose
    /// reference named it `bid`.
    pub fn parse(
        bytes: &'a [u8],
        format: Format,
        tree: Tree,
        bid: u64,
        ib: u64,
        verify_crc: bool,
    ) -> Result<Self> {
        debug_assert_eq!(bytes.len(), PAGE_SIZE);
        let (meta, trailer) = layout(format);
        let t = &bytes[trailer..];
        let (ptype, repeat) = (t[0], t[1]);
        let page_bid = Self::own_id(bytes, format);
        let crc = match format {
            Format::Ansi => u32::from_le_bytes(t[8..12].try_into().expect("4")),
            Format::Unicode => u32::from_le_bytes(t[4..8].try_into().expect("4")),
        };
        let what = tree.name();
        if ptype != tree.ptype() || repeat != ptype {
            corrupt!(
                "expected a {what} B-tree page at offset {ib}, found page type 0x{ptype:02x}/0x{repeat:02x}"
            );
        }
        if page_bid != bid {
            corrupt!("{what} B-tree page at offset {ib} is page 0x{page_bid:x}, expected 0x{bid:x}");
        }
        if verify_crc && crc32(&bytes[..trailer]) != crc {
            corrupt!("{what} B-tree page 0x{bid:x} at offset {ib} fails its checksum");
        }
        let count = bytes[meta] as usize;
        let stride = bytes[meta + 2] as usize;
        let level = bytes[meta + 3];
        if level > MAX_LEVEL {
            corrupt!("{what} B-tree page 0x{bid:x} claims level {level}");
        }
        let id = format.id_size();
        let min = match (level, tree) {
            (0, Tree::Node) => 4 * id,
            (0, Tree::Block) => 2 * id + 4,
            _ => 3 * id,
        };
        if stride < min || count * stride > meta {
            corrupt!("{what} B-tree page 0x{bid:x} has {count} entries of {stride} bytes, which do not fit");
        }
        Ok(Page { bytes, format, level, count, stride })
    }

    fn entry(&self, i: usize) -> &'a [u8] {
        &self.bytes[i * self.stride..(i + 1) * self.stride]
    }

    /// Key of entry `i` (the first field of every entry kind).
    pub fn key(&self, i: usize) -> u64 {
        read_id(self.entry(i), self.format)
    }

    /// Child reference of intermediate entry `i`: (bid, ib).
    pub fn child(&self, i: usize) -> (u64, u64) {
        let e = self.entry(i);
        let id = self.format.id_size();
        (read_id(&e[id..], self.format), read_id(&e[2 * id..], self.format))
    }

    /// Leaf entry `i` of a node B-tree page.
    pub fn node_entry(&self, i: usize) -> NodeEntry {
        let e = self.entry(i);
        let id = self.format.id_size();
        NodeEntry {
            nid: read_id(e, self.format) as u32,
            bid_data: read_id(&e[id..], self.format),
            bid_sub: read_id(&e[2 * id..], self.format),
            nid_parent: u32::from_le_bytes(e[3 * id..3 * id + 4].try_into().expect("4")),
        }
    }

    /// Leaf entry `i` of a block B-tree page.
    pub fn block_entry(&self, i: usize) -> BlockEntry {
        let e = self.entry(i);
        let id = self.format.id_size();
        BlockEntry {
            bid: read_id(e, self.format),
            ib: read_id(&e[id..], self.format),
            cb: u16::from_le_bytes([e[2 * id], e[2 * id + 1]]),
        }
    }

    /// Index of the entry whose key range holds `key` in an intermediate
    /// page (the last entry with a key not above it), if any.
    pub fn child_for(&self, key: u64) -> Option<usize> {
        // Keys are sorted in a valid page; a damaged page may not be, which
        // only makes the lookup miss.
        let mut found = None;
        for i in 0..self.count {
            if self.key(i) <= key {
                found = Some(i);
            } else {
                break;
            }
        }
        found
    }

    /// Index of the leaf entry with exactly `key`, if any.
    pub fn leaf_for(&self, key: u64) -> Option<usize> {
        (0..self.count).find(|&i| self.key(i) == key)
    }
}
