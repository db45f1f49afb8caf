//! The B-tree-on-heap (BTH): sorted key/value records inside a heap, used
//! for the properties of a property context and the row index of a table.
//!
//! Records are enumerated in full (these trees are small: one heap).
//! The walk checks record sizes against their allocations, follows at most
//! the declared number of index levels, and refuses to visit any
//! allocation twice, so shared or cyclic subtrees cannot multiply work.

use super::heap::Heap;
use crate::error::{Result, corrupt};
use std::collections::HashSet;

/// Most index levels accepted.
const MAX_LEVELS: u8 = 8;

/// The header of a BTH (`BTHHEADER`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bth {
    pub key_size: usize,
    pub value_size: usize,
    levels: u8,
    root: u32,
}

impl Bth {
    /// Reads the BTH header at `hid`.
    pub fn open(heap: &Heap, hid: u32) -> Result<Bth> {
        let h = heap.get(hid)?;
        if h.len() < 8 || h[0] != 0xB5 {
            corrupt!("heap allocation 0x{hid:x} is not a B-tree-on-heap header");
        }
        let (key_size, value_size, levels) = (h[1] as usize, h[2] as usize, h[3]);
        if !matches!(key_size, 2 | 4 | 8 | 16) || value_size == 0 || value_size > 32 || levels > MAX_LEVELS {
            corrupt!(
                "B-tree-on-heap 0x{hid:x}: key size {key_size}, value size {value_size}, {levels} levels"
            );
        }
        let root = u32::from_le_bytes(h[4..8].try_into().expect("4"));
        Ok(Bth { key_size, value_size, levels, root })
    }

    /// Every leaf record as (key, value) slices, in tree order.
    pub fn records<'h>(&self, heap: &'h Heap) -> Result<Vec<(&'h [u8], &'h [u8])>> {
        let mut out = Vec::new();
        if self.root == 0 {
            return Ok(out);
        }
        let mut seen = HashSet::new();
        self.walk(heap, self.root, self.levels, &mut seen, &mut out)?;
        Ok(out)
    }

    fn walk<'h>(
        &self,
        heap: &'h Heap,
        hid: u32,
        level: u8,
        seen: &mut HashSet<u32>,
        out: &mut Vec<(&'h [u8], &'h [u8])>,
    ) -> Result<()> {
        if !seen.insert(hid) {
            corrupt!("B-tree-on-heap visits allocation 0x{hid:x} twice");
        }
        let data = heap.get(hid)?;
        let stride = self.key_size + if level == 0 { self.value_size } else { 4 };
        if data.len() % stride != 0 {
            corrupt!(
                "B-tree-on-heap allocation 0x{hid:x} of {} bytes is not a whole number of records",
                data.len()
            );
        }
        for record in data.chunks_exact(stride) {
            let (key, rest) = record.split_at(self.key_size);
            if level == 0 {
                out.push((key, rest));
            } else {
                let child = u32::from_le_bytes(rest[..4].try_into().expect("4"));
                self.walk(heap, child, level - 1, seen, out)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ltp::heap::client;
    use crate::ltp::heap::tests::heap_with;

    fn header(key: u8, value: u8, levels: u8, root: u32) -> Vec<u8> {
        let mut h = vec![0xB5, key, value, levels];
        h.extend_from_slice(&root.to_le_bytes());
        h
    }

    #[test]
    fn one_level_records() {
        // allocation 1 (0x20): header; allocation 2 (0x40): two records.
        let records = [1u8, 0, 9, 9, 9, 9, 2, 0, 8, 8, 8, 8];
        let heap = heap_with(&[&header(2, 4, 0, 0x40), &records], client::PROPERTIES, 0x20);
        let bth = Bth::open(&heap, 0x20).unwrap();
        let r = bth.records(&heap).unwrap();
        assert_eq!(r, vec![(&[1u8, 0][..], &[9u8, 9, 9, 9][..]), (&[2u8, 0][..], &[8u8, 8, 8, 8][..])]);
    }

    #[test]
    fn two_levels_and_cycles() {
        let leaf = [5u8, 0, 1, 2];
        let index = [5u8, 0, 0x60, 0, 0, 0];
        let heap = heap_with(&[&header(2, 2, 1, 0x40), &index, &leaf], client::PROPERTIES, 0x20);
        let bth = Bth::open(&heap, 0x20).unwrap();
        assert_eq!(bth.records(&heap).unwrap().len(), 1);

        // An index that points at itself is refused, not followed.
        let cyclic = [5u8, 0, 0x40, 0, 0, 0];
        let heap = heap_with(&[&header(2, 2, 2, 0x40), &cyclic], client::PROPERTIES, 0x20);
        let bth = Bth::open(&heap, 0x20).unwrap();
        assert!(bth.records(&heap).is_err());
    }

    #[test]
    fn bad_headers() {
        let heap = heap_with(&[&header(3, 4, 0, 0)], client::PROPERTIES, 0x20);
        assert!(Bth::open(&heap, 0x20).is_err());
        let heap = heap_with(&[&header(2, 4, 99, 0)], client::PROPERTIES, 0x20);
        assert!(Bth::open(&heap, 0x20).is_err());
        let heap = heap_with(&[b"xx"], client::PROPERTIES, 0x20);
        assert!(Bth::open(&heap, 0x20).is_err());
    }
}
