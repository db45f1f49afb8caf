//! The heap-on-node (HN): a node's data viewed as small allocations
//! addressed by heap ids (HIDs). Property contexts, tables and their B-trees
//! all live in heaps.
//!
//! A heap keeps its node's blocks (each at most 8 KiB; the caller bounds
//! their total) and resolves a HID to a slice after checking the page map
//! of its block: allocation bounds must be ordered and inside the block.

use crate::error::{Result, corrupt};

/// Signature byte of every heap (`bSig`).
const HEAP_SIG: u8 = 0xEC;

/// What a heap holds (`bClientSig`).
pub mod client {
    /// A table context.
    pub const TABLE: u8 = 0x7C;
    /// A property context.
    pub const PROPERTIES: u8 = 0xBC;
}

/// A heap-on-node.
pub struct Heap {
    blocks: Vec<Vec<u8>>,
    /// What the heap holds, see [`client`].
    pub client_sig: u8,
    /// The HID of the client's root structure.
    pub user_root: u32,
}

impl Heap {
    /// Opens a heap over the blocks of a node's data tree.
    pub fn new(blocks: Vec<Vec<u8>>) -> Result<Heap> {
        let Some(first) = blocks.first() else { corrupt!("empty heap") };
        if first.len() < 12 || first[2] != HEAP_SIG {
            corrupt!("not a heap: signature 0x{:02x}", first.get(2).copied().unwrap_or(0));
        }
        let client_sig = first[3];
        let user_root = u32::from_le_bytes(first[4..8].try_into().expect("4"));
        Ok(Heap { blocks, client_sig, user_root })
    }

    /// The bytes of allocation `hid`. HID 0 is the empty value.
    pub fn get(&self, hid: u32) -> Result<&[u8]> {
        if hid == 0 {
            return Ok(&[]);
        }
        if hid & 0x1F != 0 {
            corrupt!("0x{hid:x} is not a heap id");
        }
        let index = ((hid >> 5) & 0x7FF) as usize;
        let block_index = (hid >> 16) as usize;
        let Some(block) = self.blocks.get(block_index) else {
            corrupt!("heap id 0x{hid:x} points at block {block_index} of {}", self.blocks.len());
        };
        if block.len() < 2 {
            corrupt!("heap block {block_index} is too short");
        }
        let map = u16::from_le_bytes([block[0], block[1]]) as usize;
        if map + 4 > block.len() {
            corrupt!("heap block {block_index}: page map at {map} lies outside the block");
        }
        let count = u16::from_le_bytes([block[map], block[map + 1]]) as usize;
        if index == 0 || index > count {
            corrupt!("heap id 0x{hid:x}: allocation {index} of {count}");
        }
        let offsets = map + 4;
        if offsets + 2 * (count + 1) > block.len() {
            corrupt!("heap block {block_index}: page map of {count} allocations does not fit");
        }
        let at = |i: usize| u16::from_le_bytes([block[offsets + 2 * i], block[offsets + 2 * i + 1]]) as usize;
        let (start, end) = (at(index - 1), at(index));
        if start > end || end > map {
            corrupt!("heap id 0x{hid:x}: allocation {start}..{end} is invalid");
        }
        Ok(&block[start..end])
    }

    /// Total bytes of the heap's blocks.
    pub fn len(&self) -> usize {
        self.blocks.iter().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A one-block heap with the given allocations.
    pub(crate) fn heap_with(allocs: &[&[u8]], client_sig: u8, user_root: u32) -> Heap {
        let mut b = vec![0u8; 12];
        b[2] = HEAP_SIG;
        b[3] = client_sig;
        b[4..8].copy_from_slice(&user_root.to_le_bytes());
        let mut offsets = vec![12u16];
        for a in allocs {
            b.extend_from_slice(a);
            offsets.push(b.len() as u16);
        }
        let map = b.len() as u16;
        b[0..2].copy_from_slice(&map.to_le_bytes());
        b.extend_from_slice(&(allocs.len() as u16).to_le_bytes());
        b.extend_from_slice(&0u16.to_le_bytes());
        for o in offsets {
            b.extend_from_slice(&o.to_le_bytes());
        }
        Heap::new(vec![b]).unwrap()
    }

    #[test]
    fn resolves_allocations() {
        let h = heap_with(&[b"abc", b"", b"defg"], client::PROPERTIES, 0x20);
        assert_eq!(h.get(0x20).unwrap(), b"abc");
        assert_eq!(h.get(0x40).unwrap(), b"");
        assert_eq!(h.get(0x60).unwrap(), b"defg");
        assert_eq!(h.get(0).unwrap(), b"");
        assert_eq!(h.user_root, 0x20);
    }

    #[test]
    fn rejects_bad_ids() {
        let h = heap_with(&[b"abc"], client::PROPERTIES, 0x20);
        assert!(h.get(0x40).is_err(), "allocation past the count");
        assert!(h.get(0x10021).is_err(), "not a HID");
        assert!(h.get(0x10020).is_err(), "block out of range");
        assert!(Heap::new(vec![vec![0; 4]]).is_err());
        assert!(Heap::new(vec![]).is_err());
    }

    #[test]
    fn rejects_inverted_allocation() {
        let mut h = heap_with(&[b"abc"], client::PROPERTIES, 0x20);
        let map = u16::from_le_bytes([h.blocks[0][0], h.blocks[0][1]]) as usize;
        // Make the end offset smaller than the start.
        h.blocks[0][map + 6] = 1;
        h.blocks[0][map + 7] = 0;
        assert!(h.get(0x20).is_err());
    }
}
