//! The node database (NDB) layer of a PST: the header, the node and block
//! B-trees, and the blocks they point to.
//!
//! [`Ndb`] answers three questions, each by reading only the pages and
//! blocks involved: where does node N live ([`Ndb::find_node`]), what are
//! the bytes of block B ([`Ndb::read_block`]), and what are the leaf blocks
//! of a data tree or the entries of a subnode tree (`block`). Every offset and
//! length taken from the file is checked against the file size first.

pub mod block;
pub mod btree;
pub mod header;

use crate::crypt::{crc32, decode_cyclic, decode_permute};
use crate::error::{PstError, Result, corrupt};
use crate::source::{CachedSource, ReadAt};
use btree::{BlockEntry, MAX_LEVEL, NodeEntry, PAGE_SIZE, Page, Tree};
use header::{BRef, Crypt, Format, HEADER_SIZE, Header};
use std::collections::{HashMap, HashSet};

/// Most page offsets remembered as verified (512 KiB of memory).
const MAX_VERIFIED_PAGES: usize = 65536;

/// Read access to a PST's node database.
pub struct Ndb<R> {
    src: CachedSource<R>,
    pub header: Header,
    verify_crc: bool,
    /// Offsets of B-tree pages whose checksum was already verified: the file
    /// does not change, so each page needs checking once.
    verified_pages: HashSet<u64>,
    /// Counters for measurements and tests.
    pub stats: Stats,
}

/// How much work the reader did.
#[derive(Debug, Default, Clone, Copy)]
pub struct Stats {
    pub pages: u64,
    pub blocks: u64,
    /// Bytes of blocks read, counted against [`Ndb::budget`].
    pub block_bytes: u64,
}

/// Bytes of blocks a reader may read per byte of file, plus a fixed
/// allowance. A well-formed file reads each block about once; a hostile one
/// can make many objects share the same large blocks, and this bound keeps
/// such amplification from turning a small file into hours of work.
const READ_AMPLIFICATION: u64 = 32;
const READ_ALLOWANCE: u64 = 256 << 20;

impl<R: ReadAt> Ndb<R> {
    /// Opens a PST: reads and checks the header. `verify_crc` makes every
    /// page and block checksum mandatory.
    pub fn open(src: R, verify_crc: bool) -> Result<Self> {
        let mut src = CachedSource::new(src);
        let size = src.size();
        if size == 0 {
            corrupt!("the file is empty");
        }
        let head = src.read_vec(0, HEADER_SIZE.min(size as usize))?;
        let header = Header::parse(&head, size)?;
        Ok(Ndb { src, header, verify_crc, verified_pages: HashSet::new(), stats: Stats::default() })
    }

    /// Most block bytes this file may make the reader read.
    pub fn budget(&self) -> u64 {
        self.src.size().saturating_mul(READ_AMPLIFICATION).saturating_add(READ_ALLOWANCE)
    }

    /// True once the read budget is spent: every further block read fails.
    pub fn exhausted(&self) -> bool {
        self.stats.block_bytes > self.budget()
    }

    pub fn format(&self) -> Format {
        self.header.format
    }

    /// Size of the file in bytes.
    pub fn file_size(&self) -> u64 {
        self.src.size()
    }

    /// Number of reads sent to the underlying input.
    pub fn fetches(&self) -> u64 {
        self.src.fetches
    }

    /// Descends `tree` from its root to the leaf page that would hold `key`.
    /// Calls `leaf` with that page, or returns `None` when no subtree covers
    /// the key.
    fn descend<T>(
        &mut self,
        tree: Tree,
        key: u64,
        leaf: impl Fn(&Page, u64) -> Option<T>,
    ) -> Result<Option<T>> {
        let root = match tree {
            Tree::Node => self.header.node_btree,
            Tree::Block => self.header.block_btree,
        };
        let mut at = root;
        let mut expect_level: Option<u8> = None;
        let mut buf = [0u8; PAGE_SIZE];
        for _ in 0..=MAX_LEVEL {
            if at.ib.checked_add(PAGE_SIZE as u64).is_none_or(|end| end > self.src.size()) {
                corrupt!("B-tree page 0x{:x} at offset {} lies outside the file", at.bid, at.ib);
            }
            self.src.read_exact_at(at.ib, &mut buf)?;
            self.stats.pages += 1;
            let check = self.verify_crc && !self.verified_pages.contains(&at.ib);
            let page = Page::parse(&buf, self.header.format, tree, at.bid, at.ib, check)?;
            if check {
                if self.verified_pages.len() >= MAX_VERIFIED_PAGES {
                    self.verified_pages.clear();
                }
                self.verified_pages.insert(at.ib);
            }
            if let Some(level) = expect_level
                && page.level != level
            {
                corrupt!("B-tree page 0x{:x} has level {}, its parent expects {level}", at.bid, page.level);
            }
            if page.level == 0 {
                return Ok(leaf(&page, key));
            }
            let Some(i) = page.child_for(key) else { return Ok(None) };
            let (bid, ib) = page.child(i);
            expect_level = Some(page.level - 1);
            at = BRef { bid, ib };
        }
        corrupt!("B-tree deeper than {MAX_LEVEL} levels")
    }

    /// Visits every leaf page of `tree` in key order (for planning splits
    /// inside one file). Checks what a descent checks, plus that the keys
    /// rise strictly from one entry to the next across the whole tree, and
    /// reads at most as many pages as the file can hold, so a damaged tree
    /// (a cycle, keys out of order) fails instead of misleading the plan.
    pub fn scan_leaves(&mut self, tree: Tree, visit: &mut dyn FnMut(&Page) -> Result<()>) -> Result<()> {
        let root = match tree {
            Tree::Node => self.header.node_btree,
            Tree::Block => self.header.block_btree,
        };
        let max_pages = self.src.size() / PAGE_SIZE as u64 + 1;
        let mut pages = 0u64;
        let mut last_key: Option<u64> = None;
        // Depth first, children pushed in reverse so they pop in key order.
        let mut stack: Vec<(BRef, Option<u8>)> = vec![(root, None)];
        let mut buf = [0u8; PAGE_SIZE];
        while let Some((at, expect_level)) = stack.pop() {
            pages += 1;
            if pages > max_pages {
                corrupt!("the {} B-tree has more pages than the file can hold (a cycle?)", tree.name());
            }
            if at.ib.checked_add(PAGE_SIZE as u64).is_none_or(|end| end > self.src.size()) {
                corrupt!("B-tree page 0x{:x} at offset {} lies outside the file", at.bid, at.ib);
            }
            self.src.read_exact_at(at.ib, &mut buf)?;
            self.stats.pages += 1;
            let page = Page::parse(&buf, self.header.format, tree, at.bid, at.ib, self.verify_crc)?;
            if let Some(level) = expect_level
                && page.level != level
            {
                corrupt!("B-tree page 0x{:x} has level {}, its parent expects {level}", at.bid, page.level);
            }
            if page.level == 0 {
                for i in 0..page.count {
                    let key = page.key(i);
                    if last_key.is_some_and(|k| key <= k) {
                        corrupt!(
                            "{} B-tree keys are out of order at 0x{key:x} (page 0x{:x})",
                            tree.name(),
                            at.bid
                        );
                    }
                    last_key = Some(key);
                }
                visit(&page)?;
                continue;
            }
            for i in (0..page.count).rev() {
                let (bid, ib) = page.child(i);
                stack.push((BRef { bid, ib }, Some(page.level - 1)));
            }
        }
        Ok(())
    }

    /// Every node entry recovery can trust, in node-id order, and the
    /// damage that made it look past the tree: the node B-tree's own leaves
    /// when the whole tree reads cleanly; otherwise the leaves of every
    /// page of the file that checks out as a node B-tree leaf on its own
    /// (page type twice, its own id in the trailer, level 0, checksum, and
    /// entries that fit). Where two pages hold the same node (an older copy
    /// of a page left in free space), the entry of the newer page (the
    /// higher page id) wins. The scan reads the whole file, once.
    pub fn recoverable_nodes(&mut self) -> (Vec<NodeEntry>, Option<PstError>) {
        let mut entries = Vec::new();
        let damage = match self.scan_leaves(Tree::Node, &mut |page| {
            entries.extend((0..page.count).map(|i| page.node_entry(i)));
            Ok(())
        }) {
            Ok(()) => return (entries, None),
            Err(e) => e,
        };
        // Pages are 512-byte aligned and start after the header's first
        // allocation map page (0x4400 in both formats).
        let format = self.header.format;
        let mut newest: HashMap<u32, (u64, NodeEntry)> = HashMap::new();
        let mut buf = [0u8; PAGE_SIZE];
        let mut ib = 0x4400u64;
        while ib + PAGE_SIZE as u64 <= self.src.size() {
            if self.src.read_exact_at(ib, &mut buf).is_err() {
                break;
            }
            let page_bid = Page::own_id(&buf, format);
            if let Ok(page) = Page::parse(&buf, format, Tree::Node, page_bid, ib, true)
                && page.level == 0
            {
                for i in 0..page.count {
                    let e = page.node_entry(i);
                    if newest.get(&e.nid).is_none_or(|(bid, _)| *bid < page_bid) {
                        newest.insert(e.nid, (page_bid, e));
                    }
                }
            }
            ib += PAGE_SIZE as u64;
        }
        let mut entries: Vec<NodeEntry> = newest.into_values().map(|(_, e)| e).collect();
        entries.sort_unstable_by_key(|e| e.nid);
        (entries, Some(damage))
    }

    /// Looks a node up in the node B-tree.
    pub fn find_node(&mut self, nid: u32) -> Result<Option<NodeEntry>> {
        self.descend(Tree::Node, nid as u64, |page, key| page.leaf_for(key).map(|i| page.node_entry(i)))
    }

    /// Looks a node up, failing when it is missing.
    pub fn node(&mut self, nid: u32) -> Result<NodeEntry> {
        self.find_node(nid)?
            .ok_or_else(|| PstError::corrupt(format!("node 0x{nid:x} is missing from the node B-tree")))
    }

    /// Looks a block up in the block B-tree.
    pub fn find_block(&mut self, bid: u64) -> Result<BlockEntry> {
        // The lowest bit of a block id is reserved and ignored for lookups.
        let key = bid & !1;
        let found =
            self.descend(Tree::Block, key, |page, key| page.leaf_for(key).map(|i| page.block_entry(i)))?;
        found.ok_or_else(|| PstError::corrupt(format!("block 0x{bid:x} is missing from the block B-tree")))
    }

    /// Reads block `bid`: checks its trailer (size, identifier, checksum) and
    /// decodes it if it is an external (data) block.
    pub fn read_block(&mut self, bid: u64) -> Result<Vec<u8>> {
        let format = self.header.format;
        let entry = self.find_block(bid)?;
        let cb = entry.cb as usize;
        if cb > format.max_block_data() {
            corrupt!("block 0x{bid:x} claims {cb} bytes, more than a block can hold");
        }
        let trailer = format.block_trailer_size();
        let total = (cb + trailer).div_ceil(64) * 64;
        if entry.ib.checked_add(total as u64).is_none_or(|end| end > self.src.size()) {
            corrupt!("block 0x{bid:x} at offset {} ({total} bytes) lies outside the file", entry.ib);
        }
        self.stats.block_bytes += cb as u64;
        if self.exhausted() {
            return Err(PstError::limit(format!(
                "read budget exhausted: {} bytes of blocks read from a file of {} bytes (blocks shared in a loop?)",
                self.stats.block_bytes,
                self.src.size()
            )));
        }
        let mut raw = self.src.read_vec(entry.ib, total)?;
        self.stats.blocks += 1;
        let t = &raw[total - trailer..];
        let t_cb = u16::from_le_bytes([t[0], t[1]]) as usize;
        let (t_bid, t_crc) = match format {
            Format::Ansi => (
                u32::from_le_bytes(t[4..8].try_into().expect("4")) as u64,
                u32::from_le_bytes(t[8..12].try_into().expect("4")),
            ),
            Format::Unicode => (
                u64::from_le_bytes(t[8..16].try_into().expect("8")),
                u32::from_le_bytes(t[4..8].try_into().expect("4")),
            ),
        };
        if t_cb != cb || t_bid & !1 != bid & !1 {
            corrupt!(
                "block 0x{bid:x} at offset {}: trailer says block 0x{t_bid:x} of {t_cb} bytes, expected {cb}",
                entry.ib
            );
        }
        raw.truncate(cb);
        if self.verify_crc && crc32(&raw) != t_crc {
            corrupt!("block 0x{bid:x} at offset {} fails its checksum", entry.ib);
        }
        // Internal blocks (bid bit 1: XBLOCKs, SLBLOCKs) are never encoded.
        if bid & 2 == 0 {
            match self.header.crypt {
                Crypt::None => {}
                Crypt::Permute => decode_permute(&mut raw),
                Crypt::Cyclic => decode_cyclic(bid, &mut raw),
            }
        }
        Ok(raw)
    }
}

#[cfg(test)]
mod tests {
    use crate::test_support::open_fixture;

    #[test]
    fn finds_root_folder_in_every_fixture() {
        for name in crate::test_support::FIXTURES {
            let mut ndb = open_fixture(name);
            let root = ndb.node(0x122).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(root.nid, 0x122);
            assert_eq!(root.nid_parent, 0x122, "{name}: the root folder is its own parent");
            let data = ndb.read_block(root.bid_data).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(!data.is_empty());
        }
    }

    #[test]
    fn read_budget_stops_reading() {
        let mut ndb = open_fixture("sample1.pst");
        let root = ndb.node(0x122).unwrap();
        ndb.stats.block_bytes = ndb.budget();
        let e = ndb.read_block(root.bid_data).unwrap_err();
        assert_eq!(e.kind, crate::error::ErrorKind::Limit);
        assert!(ndb.exhausted());
    }

    #[test]
    fn missing_node_is_none() {
        let mut ndb = open_fixture("sample1.pst");
        assert_eq!(ndb.find_node(0x7fff_ffe2).unwrap(), None);
        assert!(ndb.find_block(0x7fff_fff0).is_err());
    }
}
