//! Trees of blocks: data trees (XBLOCK/XXBLOCK, a node's data split over many
//! blocks) and subnode trees (SLBLOCK/SIBLOCK, the private nodes of a message
//! such as its recipient table and attachments).
//!
//! A data tree is listed as the ordered identifiers of its leaf blocks, so
//! large values (attachments) can be read block by block without holding
//! them whole. Its declared total size is checked against the caller's limit
//! before any leaf is read. Subnode trees are read into a map; the depth of
//! both tree kinds is fixed by the format and enforced here.

use super::Ndb;
use super::header::Format;
use crate::error::{PstError, Result, corrupt};
use crate::source::ReadAt;
use std::collections::HashMap;

/// A subnode: where its data and its own subnodes live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subnode {
    pub bid_data: u64,
    pub bid_sub: u64,
}

/// The subnodes of one node, by node id.
pub type Subnodes = HashMap<u32, Subnode>;

fn id_at(b: &[u8], at: usize, format: Format) -> u64 {
    match format {
        Format::Ansi => u32::from_le_bytes(b[at..at + 4].try_into().expect("4")) as u64,
        Format::Unicode => u64::from_le_bytes(b[at..at + 8].try_into().expect("8")),
    }
}

/// A data tree, listed: its leaf blocks in order and its declared size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataTree {
    pub leaves: Vec<u64>,
    /// Total bytes as declared by the tree; `None` for a single block, whose
    /// size is only known once read.
    pub declared: Option<u64>,
}

impl<R: ReadAt> Ndb<R> {
    /// Lists the leaf blocks of the data tree rooted at `bid`. Fails with a
    /// limit error when the tree declares more than `max_bytes`.
    pub fn data_tree(&mut self, bid: u64, max_bytes: u64) -> Result<DataTree> {
        if bid & 2 == 0 {
            return Ok(DataTree { leaves: vec![bid], declared: None });
        }
        let (level, total, ids) = self.xblock(bid)?;
        if total > max_bytes {
            return Err(PstError::limit(format!(
                "data tree 0x{bid:x} holds {total} bytes, over the limit of {max_bytes}"
            )));
        }
        if total > self.file_size().saturating_mul(2) {
            corrupt!("data tree 0x{bid:x} claims {total} bytes in a file of {}", self.file_size());
        }
        let mut leaves = Vec::new();
        match level {
            1 => leaves = ids,
            2 => {
                for child in ids {
                    if child & 2 == 0 {
                        corrupt!("data tree 0x{bid:x}: entry 0x{child:x} of an XXBLOCK is not an XBLOCK");
                    }
                    let (l, _, sub) = self.xblock(child)?;
                    if l != 1 {
                        corrupt!("data tree 0x{bid:x}: child 0x{child:x} has level {l}, expected 1");
                    }
                    leaves.extend(sub);
                    // Each leaf holds at least one byte.
                    if leaves.len() as u64 > total {
                        corrupt!("data tree 0x{bid:x} has more blocks than its {total} bytes allow");
                    }
                }
            }
            l => corrupt!("data tree 0x{bid:x} has level {l}"),
        }
        if let Some(bad) = leaves.iter().find(|&&b| b & 2 != 0) {
            corrupt!("data tree 0x{bid:x}: leaf 0x{bad:x} is not a data block");
        }
        Ok(DataTree { leaves, declared: Some(total) })
    }

    /// Reads an XBLOCK or XXBLOCK: (level, declared total, child ids).
    fn xblock(&mut self, bid: u64) -> Result<(u8, u64, Vec<u64>)> {
        let format = self.format();
        let b = self.read_block(bid)?;
        if b.len() < 8 || b[0] != 0x01 {
            corrupt!("block 0x{bid:x} is not a data tree block");
        }
        let level = b[1];
        let count = u16::from_le_bytes([b[2], b[3]]) as usize;
        let total = u32::from_le_bytes(b[4..8].try_into().expect("4")) as u64;
        let id = format.id_size();
        if 8 + count * id > b.len() {
            corrupt!("data tree block 0x{bid:x} lists {count} entries that do not fit in {} bytes", b.len());
        }
        let ids = (0..count).map(|i| id_at(&b, 8 + i * id, format)).collect();
        Ok((level, total, ids))
    }

    /// Reads the whole data tree at `bid` as its list of blocks, refusing
    /// trees larger than `max_bytes`. For heaps and other structures that are
    /// addressed block by block.
    pub fn read_data_blocks(&mut self, bid: u64, max_bytes: u64) -> Result<Vec<Vec<u8>>> {
        let tree = self.data_tree(bid, max_bytes)?;
        let mut blocks = Vec::with_capacity(tree.leaves.len());
        let mut total = 0u64;
        for leaf in tree.leaves {
            let block = self.read_block(leaf)?;
            total += block.len() as u64;
            if total > max_bytes {
                return Err(PstError::limit(format!(
                    "data tree 0x{bid:x} exceeds the limit of {max_bytes} bytes"
                )));
            }
            blocks.push(block);
        }
        if let Some(declared) = tree.declared
            && declared != total
        {
            corrupt!("data tree 0x{bid:x} declares {declared} bytes but its blocks hold {total}");
        }
        Ok(blocks)
    }

    /// Reads the whole data tree at `bid` as one buffer (see
    /// [`Ndb::read_data_blocks`]).
    pub fn read_data(&mut self, bid: u64, max_bytes: u64) -> Result<Vec<u8>> {
        let blocks = self.read_data_blocks(bid, max_bytes)?;
        if blocks.len() == 1 {
            return Ok(blocks.into_iter().next().expect("one block"));
        }
        Ok(blocks.concat())
    }

    /// Reads the subnode tree rooted at `bid_sub` (0 means no subnodes).
    pub fn subnodes(&mut self, bid_sub: u64) -> Result<Subnodes> {
        let mut map = Subnodes::new();
        if bid_sub != 0 {
            self.subnode_block(bid_sub, None, &mut map)?;
        }
        Ok(map)
    }

    fn subnode_block(&mut self, bid: u64, expect_level: Option<u8>, map: &mut Subnodes) -> Result<()> {
        let format = self.format();
        if bid & 2 == 0 {
            corrupt!("subnode tree block 0x{bid:x} is a data block");
        }
        let b = self.read_block(bid)?;
        if b.len() < 4 || b[0] != 0x02 {
            corrupt!("block 0x{bid:x} is not a subnode tree block");
        }
        let level = b[1];
        if expect_level.is_some_and(|l| l != level) || level > 1 {
            corrupt!("subnode tree block 0x{bid:x} has level {level}");
        }
        let count = u16::from_le_bytes([b[2], b[3]]) as usize;
        let id = format.id_size();
        let head = match format {
            Format::Ansi => 4,
            Format::Unicode => 8,
        };
        let stride = if level == 0 { 3 * id } else { 2 * id };
        if head + count * stride > b.len() {
            corrupt!(
                "subnode tree block 0x{bid:x} lists {count} entries that do not fit in {} bytes",
                b.len()
            );
        }
        for i in 0..count {
            let at = head + i * stride;
            let nid = id_at(&b, at, format) as u32;
            if level == 0 {
                let bid_data = id_at(&b, at + id, format);
                let bid_sub = id_at(&b, at + 2 * id, format);
                map.insert(nid, Subnode { bid_data, bid_sub });
            } else {
                let child = id_at(&b, at + id, format);
                self.subnode_block(child, Some(0), map)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::test_support::open_fixture;

    #[test]
    fn message_subnodes_hold_recipients_and_attachments() {
        let mut ndb = open_fixture("sample1.pst");
        // The message of sample1 is node 0x200024 (libpff's identifier).
        let node = ndb.node(0x200024).unwrap();
        let subs = ndb.subnodes(node.bid_sub).unwrap();
        assert!(subs.contains_key(&0x692), "recipient table");
        assert!(subs.contains_key(&0x671), "attachment table");
    }

    #[test]
    fn single_block_tree() {
        let mut ndb = open_fixture("sample2.pst");
        let node = ndb.node(0x122).unwrap();
        let tree = ndb.data_tree(node.bid_data, 1 << 20).unwrap();
        assert_eq!(tree.leaves, vec![node.bid_data]);
        let data = ndb.read_data(node.bid_data, 1 << 20).unwrap();
        assert!(!data.is_empty());
        assert_eq!(ndb.read_data(node.bid_data, 10).unwrap_err().kind, crate::error::ErrorKind::Limit);
    }
}
