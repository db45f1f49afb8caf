//! Table contexts (TC): rows of properties with a fixed column layout, as
//! used by folder hierarchy and contents tables and by a message's recipient
//! and attachment tables.
//!
//! [`Table::row_ids`] lists the rows' ids from the row index alone (all a
//! folder walk needs), without reading the row matrix, which for a large
//! folder may be megabytes. [`Table::rows`] reads the matrix, bounded by a
//! byte limit, for the small tables whose cells are needed (recipients).

use super::bth::Bth;
use super::heap::{Heap, client};
use super::{Hnid, ptype, read_hnid};
use crate::error::{PstError, Result, corrupt};
use crate::ndb::Ndb;
use crate::ndb::block::Subnodes;
use crate::source::ReadAt;

/// Largest table heap accepted.
const MAX_HEAP_BYTES: u64 = 64 << 20;

/// One column of a table (`TCOLDESC`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    pub ptype: u16,
    pub id: u16,
    offset: usize,
    size: usize,
    bit: usize,
}

/// A table context's layout and heap.
pub struct Table {
    heap: Heap,
    pub columns: Vec<Column>,
    row_size: usize,
    ceb: usize,
    row_index: u32,
    rows_hnid: u32,
}

/// The row matrix of a table.
pub struct Rows {
    blocks: Vec<Vec<u8>>,
    row_size: usize,
}

impl Rows {
    /// Every row, in matrix order.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> {
        let size = self.row_size;
        self.blocks.iter().flat_map(move |b| b.chunks_exact(size))
    }

    pub fn len(&self) -> usize {
        self.blocks.iter().map(|b| b.len() / self.row_size).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Table {
    /// Reads the table context stored in the data tree at `bid_data`.
    pub fn read<R: ReadAt>(ndb: &mut Ndb<R>, bid_data: u64) -> Result<Table> {
        let blocks = ndb.read_data_blocks(bid_data, MAX_HEAP_BYTES)?;
        Table::from_heap(Heap::new(blocks)?)
    }

    /// Interprets a heap as a table context.
    pub fn from_heap(heap: Heap) -> Result<Table> {
        if heap.client_sig != client::TABLE {
            corrupt!("expected a table context, found heap client 0x{:02x}", heap.client_sig);
        }
        let info = heap.get(heap.user_root)?;
        if info.len() < 22 || info[0] != 0x7C {
            corrupt!("table context header is invalid");
        }
        let count = info[1] as usize;
        let ib = |i: usize| u16::from_le_bytes([info[2 + 2 * i], info[3 + 2 * i]]) as usize;
        let (ceb, row_size) = (ib(2), ib(3));
        if 22 + 8 * count > info.len() {
            corrupt!("table context lists {count} columns that do not fit");
        }
        if ceb + count.div_ceil(8) > row_size || row_size == 0 {
            corrupt!("table context row layout is invalid (bitmap at {ceb}, rows of {row_size} bytes)");
        }
        let mut columns = Vec::with_capacity(count);
        for i in 0..count {
            let d = &info[22 + 8 * i..30 + 8 * i];
            let tag = u32::from_le_bytes(d[..4].try_into().expect("4"));
            let col = Column {
                ptype: tag as u16,
                id: (tag >> 16) as u16,
                offset: u16::from_le_bytes([d[4], d[5]]) as usize,
                size: d[6] as usize,
                bit: d[7] as usize,
            };
            if col.offset + col.size > ceb
                || col.bit >= count.max(1) * 8
                || !matches!(col.size, 1 | 2 | 4 | 8)
            {
                corrupt!("table column 0x{:04x} has an invalid layout", col.id);
            }
            columns.push(col);
        }
        let row_index = u32::from_le_bytes(info[10..14].try_into().expect("4"));
        let rows_hnid = u32::from_le_bytes(info[14..18].try_into().expect("4"));
        Ok(Table { heap, columns, row_size, ceb, row_index, rows_hnid })
    }

    /// The row ids from the row index, ordered by row position.
    pub fn index_row_ids(&self) -> Result<Vec<u32>> {
        if self.row_index == 0 {
            return Ok(Vec::new());
        }
        let bth = Bth::open(&self.heap, self.row_index)?;
        if bth.key_size != 4 || !matches!(bth.value_size, 2 | 4) {
            corrupt!("table row index has {}-byte keys and {}-byte values", bth.key_size, bth.value_size);
        }
        let mut rows: Vec<(u32, u32)> = bth
            .records(&self.heap)?
            .into_iter()
            .map(|(k, v)| {
                let id = u32::from_le_bytes(k.try_into().expect("4"));
                let index = if v.len() == 2 {
                    u16::from_le_bytes([v[0], v[1]]) as u32
                } else {
                    u32::from_le_bytes(v.try_into().expect("4"))
                };
                (index, id)
            })
            .collect();
        rows.sort_unstable();
        Ok(rows.into_iter().map(|(_, id)| id).collect())
    }

    /// The row ids (for folder tables: node ids of the child folders or
    /// messages): those of the row matrix in matrix order, followed by any
    /// the row index lists and the matrix lacks, so that damage to either
    /// structure loses no row. Only the id column of the matrix is kept:
    /// it is read one block at a time.
    pub fn row_ids<R: ReadAt>(&self, ndb: &mut Ndb<R>, subnodes: &Subnodes) -> Result<Vec<u32>> {
        let index = self.index_row_ids()?;
        let has_id_column = self.columns.iter().any(|c| c.id == 0x67F2 && c.offset == 0 && c.size == 4);
        if !has_id_column {
            return Ok(index);
        }
        let mut ids = self.matrix_row_ids(ndb, subnodes)?;
        let known: std::collections::HashSet<u32> = ids.iter().copied().collect();
        ids.extend(index.into_iter().filter(|id| !known.contains(id)));
        Ok(ids)
    }

    fn matrix_row_ids<R: ReadAt>(&self, ndb: &mut Ndb<R>, subnodes: &Subnodes) -> Result<Vec<u32>> {
        let size = self.row_size;
        let ids_of = |block: &[u8], out: &mut Vec<u32>| {
            out.extend(block.chunks_exact(size).map(|r| u32::from_le_bytes(r[..4].try_into().expect("4"))));
        };
        let mut ids = Vec::new();
        match Hnid::from_raw(self.rows_hnid) {
            Hnid::Heap(0) => {}
            Hnid::Heap(hid) => ids_of(self.heap.get(hid)?, &mut ids),
            Hnid::Subnode(nid) => {
                let sub = subnodes.get(&nid).ok_or_else(|| {
                    PstError::corrupt(format!("table row matrix subnode 0x{nid:x} is missing"))
                })?;
                let tree = ndb.data_tree(sub.bid_data, u64::MAX)?;
                for leaf in tree.leaves {
                    ids_of(&ndb.read_block(leaf)?, &mut ids);
                }
            }
        }
        Ok(ids)
    }

    /// Reads the row matrix; `subnodes` are the table node's own subnodes.
    pub fn rows<R: ReadAt>(&self, ndb: &mut Ndb<R>, subnodes: &Subnodes, max: u64) -> Result<Rows> {
        let blocks = match Hnid::from_raw(self.rows_hnid) {
            Hnid::Heap(0) => Vec::new(),
            Hnid::Heap(hid) => vec![self.heap.get(hid)?.to_vec()],
            Hnid::Subnode(nid) => {
                let sub = subnodes.get(&nid).ok_or_else(|| {
                    PstError::corrupt(format!("table row matrix subnode 0x{nid:x} is missing"))
                })?;
                ndb.read_data_blocks(sub.bid_data, max)?
            }
        };
        Ok(Rows { blocks, row_size: self.row_size })
    }

    fn cell<'r>(&self, row: &'r [u8], id: u16) -> Option<(Column, &'r [u8])> {
        let col = *self.columns.iter().find(|c| c.id == id)?;
        let present = row.get(self.ceb + col.bit / 8)? & (0x80 >> (col.bit % 8)) != 0;
        if !present {
            return None;
        }
        Some((col, row.get(col.offset..col.offset + col.size)?))
    }

    /// An integer or boolean cell.
    pub fn int(&self, row: &[u8], id: u16) -> Option<i64> {
        let (col, b) = self.cell(row, id)?;
        let v = match b.len() {
            1 => b[0] as i64,
            2 => i16::from_le_bytes([b[0], b[1]]) as i64,
            4 => i32::from_le_bytes(b.try_into().ok()?) as i64,
            8 => i64::from_le_bytes(b.try_into().ok()?),
            _ => return None,
        };
        match col.ptype {
            ptype::BOOLEAN => Some((v & 0xFF != 0) as i64),
            ptype::INT16 | ptype::INT32 | ptype::INT64 | ptype::CURRENCY => Some(v),
            _ => None,
        }
    }

    /// The bytes of a variable-size cell (string, binary), at most `max`.
    pub fn bytes<R: ReadAt>(
        &self,
        row: &[u8],
        id: u16,
        ndb: &mut Ndb<R>,
        subnodes: &Subnodes,
        max: u64,
    ) -> Result<Option<(u16, Vec<u8>)>> {
        let Some((col, b)) = self.cell(row, id) else { return Ok(None) };
        if !matches!(col.ptype, ptype::STRING | ptype::STRING8 | ptype::BINARY | ptype::GUID) || b.len() != 4
        {
            return Ok(None);
        }
        let raw = u32::from_le_bytes(b.try_into().expect("4"));
        Ok(Some((col.ptype, read_hnid(&self.heap, raw, ndb, subnodes, max)?)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::open_fixture;

    #[test]
    fn root_hierarchy_lists_top_folders() {
        let mut ndb = open_fixture("sample1.pst");
        // Hierarchy table of the root folder: NID 0x122 with type 0x0D.
        let node = ndb.node(0x12D).unwrap();
        let table = Table::read(&mut ndb, node.bid_data).unwrap();
        let subs = ndb.subnodes(node.bid_sub).unwrap();
        let ids = table.row_ids(&mut ndb, &subs).unwrap();
        assert!(ids.len() >= 2, "{ids:x?}");
        assert!(ids.iter().all(|id| id & 0x1F == 0x02 || id & 0x1F == 0x03), "{ids:x?}");
        let mut from_index = table.index_row_ids().unwrap();
        let mut sorted = ids.clone();
        from_index.sort();
        sorted.sort();
        assert_eq!(from_index, sorted, "row index and row matrix agree");
        let rows = table.rows(&mut ndb, &subs, 1 << 20).unwrap();
        assert_eq!(rows.len(), ids.len());
    }

    #[test]
    fn recipient_rows() {
        let mut ndb = open_fixture("sample2.pst");
        let msg = ndb.node(0x200024).unwrap();
        let subs = ndb.subnodes(msg.bid_sub).unwrap();
        let rt = subs[&0x692];
        let table = Table::read(&mut ndb, rt.bid_data).unwrap();
        let rt_subs = ndb.subnodes(rt.bid_sub).unwrap();
        let rows = table.rows(&mut ndb, &rt_subs, 1 << 20).unwrap();
        assert_eq!(rows.len(), 1);
        let row = rows.iter().next().unwrap();
        assert_eq!(table.int(row, 0x0C15), Some(1), "recipient type To");
        let (t, name) = table.bytes(row, 0x3001, &mut ndb, &rt_subs, 1 << 20).unwrap().unwrap();
        assert_eq!(t, ptype::STRING8);
        assert_eq!(name, b"Terry Mahaffey");
    }
}
